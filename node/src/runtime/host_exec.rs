//! Running a command for `kubectl exec` as a host process: with pipes, or on a new
//! pseudo-terminal when a TTY is asked for (the process leads its own session with the
//! terminal as its controlling one, through util-linux's `setsid --ctty`, so job control and
//! `^C` work). The command resolves against the container's `PATH`, so a missing program is
//! reported before anything starts, as containerd reports it.

use std::future::Future;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::DEFAULT_PATH;

/// A command to run in a container.
#[derive(Clone, Debug)]
pub struct ExecCommand {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    /// The terminal's size (width, height) before the command starts, when known.
    pub size: Option<(u16, u16)>,
}

/// The terminal of a TTY exec, for resizing it.
#[derive(Clone)]
pub struct Terminal(Arc<OwnedFd>);

impl Terminal {
    pub fn resize(&self, width: u16, height: u16) {
        let size = rustix::termios::Winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // A terminal whose process has gone cannot be resized, and need not be.
        let _ = rustix::termios::tcsetwinsize(&*self.0, size);
    }
}

pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// A running exec: its streams and its exit code (128 + N when killed by signal N).
pub struct ExecProcess {
    pub stdin: Option<Writer>,
    pub stdout: Reader,
    /// `None` with a TTY, whose output is all on stdout.
    pub stderr: Option<Reader>,
    pub terminal: Option<Terminal>,
    pub exit: Pin<Box<dyn Future<Output = i32> + Send>>,
}

/// The `PATH` of an environment (its last setting), or containerd's default.
pub fn path_of(env: &[(String, String)]) -> &str {
    env.iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str())
}

/// Where `program` is found on `path` (a `PATH` value), or why not, in containerd's words.
pub fn resolve(program: &str, path: &str) -> Result<PathBuf, String> {
    resolve_under(Path::new("/"), program, path)
}

/// As [`resolve`], in the filesystem whose root the host sees at `root` (a container's
/// `/proc/<pid>/root`); the path returned is the one inside it. Symbolic links are followed
/// on the host's side, so an absolute link inside the container is only approximated.
pub fn resolve_under(root: &Path, program: &str, path: &str) -> Result<PathBuf, String> {
    let runnable = |p: &Path| {
        root.join(p.strip_prefix("/").unwrap_or(p))
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return if runnable(&p) {
            Ok(p)
        } else {
            Err(format!(
                "exec: {program:?}: stat {program}: no such file or directory"
            ))
        };
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| runnable(p))
        .ok_or_else(|| format!("exec: {program:?}: executable file not found in $PATH"))
}

/// Starts `cmd` on the host.
pub fn spawn(cmd: &ExecCommand) -> Result<ExecProcess, String> {
    let Some((program, args)) = cmd.argv.split_first() else {
        return Err("no command given".into());
    };
    let resolved = resolve(program, path_of(&cmd.env))?;
    let mut command = if cmd.tty {
        let mut c = tokio::process::Command::new("setsid");
        c.arg("--ctty").arg(&resolved);
        c
    } else {
        tokio::process::Command::new(&resolved)
    };
    command
        .args(args)
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&cmd.dir)
        .kill_on_drop(false);
    if !cmd.env.iter().any(|(k, _)| k == "PATH") {
        command.env("PATH", DEFAULT_PATH);
    }
    if cmd.tty {
        if !cmd.env.iter().any(|(k, _)| k == "TERM") {
            command.env("TERM", "xterm");
        }
        spawn_on_terminal(command, cmd.stdin, cmd.size)
    } else {
        spawn_with_pipes(command, cmd.stdin)
    }
}

fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    match status {
        Ok(s) => s
            .code()
            .or_else(|| s.signal().map(|sig| 128 + sig))
            .unwrap_or(255),
        Err(_) => 255,
    }
}

fn spawn_with_pipes(
    mut command: tokio::process::Command,
    stdin: bool,
) -> Result<ExecProcess, String> {
    command
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let stdin: Option<Writer> = child.stdin.take().map(|s| Box::new(s) as Writer);
    let stdout: Reader = match child.stdout.take() {
        Some(s) => Box::new(s),
        None => Box::new(tokio::io::empty()),
    };
    let stderr: Option<Reader> = child.stderr.take().map(|s| Box::new(s) as Reader);
    Ok(ExecProcess {
        stdin,
        stdout,
        stderr,
        terminal: None,
        exit: Box::pin(async move { exit_code(child.wait().await) }),
    })
}

fn spawn_on_terminal(
    mut command: tokio::process::Command,
    stdin: bool,
    size: Option<(u16, u16)>,
) -> Result<ExecProcess, String> {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let fail = |what: &str, e: rustix::io::Errno| format!("{what}: {e}");
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(|e| fail("opening a pseudo-terminal", e))?;
    grantpt(&master).map_err(|e| fail("grantpt", e))?;
    unlockpt(&master).map_err(|e| fail("unlockpt", e))?;
    let name = ptsname(&master, Vec::new()).map_err(|e| fail("ptsname", e))?;
    let master = Arc::new(master);
    if let Some((width, height)) = size {
        Terminal(master.clone()).resize(width, height);
    }
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
        .open(name.to_string_lossy().as_ref())
        .map_err(|e| format!("opening {}: {e}", name.to_string_lossy()))?;
    let io = |f: &std::fs::File| f.try_clone().map(Stdio::from).map_err(|e| e.to_string());
    command
        .stdin(io(&slave)?)
        .stdout(io(&slave)?)
        .stderr(io(&slave)?);
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    // Only the child holds the terminal's slave side now: once it (and whatever it started)
    // has gone, reading the master ends.
    drop(slave);
    drop(command);
    let file = |fd: &OwnedFd| {
        fd.try_clone()
            .map(|fd| tokio::fs::File::from_std(std::fs::File::from(fd)))
            .map_err(|e| e.to_string())
    };
    let stdout: Reader = Box::new(TerminalReader(file(&master)?));
    let stdin: Option<Writer> = if stdin {
        Some(Box::new(file(&master)?))
    } else {
        None
    };
    Ok(ExecProcess {
        stdin,
        stdout,
        stderr: None,
        terminal: Some(Terminal(master)),
        exit: Box::pin(async move { exit_code(child.wait().await) }),
    })
}

/// A terminal's master side, read until the slave side is closed (which Linux reports as
/// EIO rather than end of file).
struct TerminalReader(tokio::fs::File);

impl AsyncRead for TerminalReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            std::task::Poll::Ready(Err(e)) if e.raw_os_error() == Some(5) => {
                std::task::Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn cmd(argv: &[&str], tty: bool) -> ExecCommand {
        ExecCommand {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![("GREETING".into(), "hi".into())],
            dir: std::env::temp_dir(),
            tty,
            stdin: true,
            size: None,
        }
    }

    #[test]
    fn programs_resolve_on_the_containers_path() {
        assert_eq!(
            resolve("sh", DEFAULT_PATH).unwrap(),
            PathBuf::from("/usr/bin/sh")
        );
        assert_eq!(
            resolve("nosuch", DEFAULT_PATH).unwrap_err(),
            "exec: \"nosuch\": executable file not found in $PATH"
        );
        assert!(resolve("/nonexistent/x", DEFAULT_PATH).is_err());
    }

    #[tokio::test]
    async fn pipes_carry_stdin_stdout_stderr_and_the_exit_code() {
        let mut p = spawn(&cmd(
            &[
                "sh",
                "-c",
                "read x; echo \"$GREETING $x\"; echo oops >&2; exit 3",
            ],
            false,
        ))
        .unwrap();
        let mut stdin = p.stdin.take().unwrap();
        stdin.write_all(b"there\n").await.unwrap();
        drop(stdin);
        let mut out = String::new();
        p.stdout.read_to_string(&mut out).await.unwrap();
        let mut err = String::new();
        p.stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .await
            .unwrap();
        assert_eq!((out.as_str(), err.as_str()), ("hi there\n", "oops\n"));
        assert_eq!(p.exit.await, 3);
    }

    #[tokio::test]
    async fn a_terminal_is_the_commands_controlling_tty_and_can_be_resized() {
        let mut p = spawn(&cmd(
            &["sh", "-c", "read x; stty size; tty -s && echo tty $x"],
            true,
        ))
        .unwrap();
        p.terminal.as_ref().unwrap().resize(100, 30);
        p.stdin.take().unwrap().write_all(b"yes\n").await.unwrap();
        let mut out = String::new();
        p.stdout.read_to_string(&mut out).await.unwrap();
        assert!(out.contains("30 100"), "{out:?}");
        assert!(out.contains("tty yes"), "{out:?}");
        assert_eq!(p.exit.await, 0);
    }
}
