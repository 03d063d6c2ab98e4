//! The sandbox runtime's helper processes (the binary's hidden `capstan sandbox-init`), what
//! runc and the pause image are to containerd:
//!
//! - `pause HOSTNAME` holds a pod's network, IPC and UTS namespaces (`unshare` made them)
//!   and sets the pod's hostname; it sleeps until killed.
//! - `container SPEC` runs in the pod's namespaces and a new mount namespace, with a new PID
//!   namespace for its children (`nsenter` and `unshare` put it there). It mounts the
//!   container's root (an overlay over the image, or over the host's `/` for a container with
//!   no image), `/dev`, `/sys`, `/etc/hosts` and the volumes, then starts `exec` as the first
//!   process of the new PID namespace, waits for it and exits as it exited (the same code, or
//!   killed by the same signal), so the runtime sees the container's own status.
//! - `exec SPEC`, that first process: joins the container's cgroups, mounts `/proc`, pivots
//!   into the root, becomes the container's user and executes the container's command.
//!
//! - `dial PORT` runs in a pod's network namespace for `kubectl port-forward`: connects to
//!   the pod's localhost and relays between the connection and its stdin and stdout, after
//!   one byte saying it connected.
//!
//! `container` and `exec` report on the start FIFO: `pid N` (the container's host PID), then `ok` or
//! `error MESSAGE` (an unknown program, a failed mount), before the command runs.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use serde::{Deserialize, Serialize};

use super::super::host_exec;
use super::super::DEFAULT_PATH;

/// A bind mount into the container.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BindMount {
    pub source: PathBuf,
    /// Where, inside the container.
    pub target: PathBuf,
    pub read_only: bool,
}

/// Everything `container` and `exec` need, written by the runtime as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitSpec {
    /// The overlay's lower directories, topmost first (`/` for a container with no image).
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the root is assembled.
    pub root: PathBuf,
    pub mounts: Vec<BindMount>,
    /// The `cgroup.procs` files the command joins.
    pub cgroups: Vec<PathBuf>,
    /// The start FIFO.
    pub report: PathBuf,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// The byte `dial` writes first once connected.
pub const DIAL_CONNECTED: u8 = 1;

/// `dial PORT`: relays between the pod's `localhost:PORT` and stdin/stdout.
pub fn dial(port: u16) -> i32 {
    let conn = std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port))
        .or_else(|_| std::net::TcpStream::connect((std::net::Ipv6Addr::LOCALHOST, port)));
    let conn = match conn {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dial tcp 127.0.0.1:{port}: connect: {e}");
            return 1;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&[DIAL_CONNECTED])
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return 1;
    }
    let Ok(mut upstream) = conn.try_clone() else {
        return 1;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut upstream);
        // The client finished sending: half-close towards the pod.
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let mut down = conn;
    let _ = std::io::copy(&mut down, &mut stdout);
    let _ = stdout.flush();
    0
}

/// The pause process: sets the hostname of the UTS namespace it was started in, then sleeps.
pub fn pause(hostname: &str) -> i32 {
    if let Err(e) = rustix::system::sethostname(hostname.as_bytes()) {
        eprintln!("sethostname {hostname:?}: {e}");
        return 1;
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn read_spec(path: &Path) -> Result<InitSpec, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("parsing {}: {e}", path.display()))
}

fn report(path: &Path, line: &str) {
    // Lines shorter than PIPE_BUF are written whole; the runtime holds the FIFO open.
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

fn in_root(root: &Path, inside: &Path) -> PathBuf {
    root.join(inside.strip_prefix("/").unwrap_or(inside))
}

/// Makes `target` (inside the new root) a place `source` can be mounted on: a directory, or
/// an empty file when `source` is a file.
fn mount_point(source: &Path, target: &Path) -> Result<(), String> {
    let is_dir = std::fs::metadata(source)
        .map(|m| m.is_dir())
        .unwrap_or(true);
    if is_dir {
        std::fs::create_dir_all(target)
    } else {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        if target.exists() {
            return Ok(());
        }
        std::fs::File::create(target).map(drop)
    }
    .map_err(|e| format!("creating mount point {}: {e}", target.display()))
}

fn bind(source: &Path, target: &Path, read_only: bool) -> Result<(), String> {
    mount_point(source, target)?;
    rustix::mount::mount_bind_recursive(source, target)
        .map_err(|e| format!("mounting {} on {}: {e}", source.display(), target.display()))?;
    if read_only {
        rustix::mount::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "")
            .map_err(|e| format!("making {} read-only: {e}", target.display()))?;
    }
    Ok(())
}

fn mount_fs(fstype: &str, target: &Path, flags: MountFlags, options: &str) -> Result<(), String> {
    std::fs::create_dir_all(target).map_err(|e| format!("creating {}: {e}", target.display()))?;
    let data = std::ffi::CString::new(options).map_err(|e| format!("{fstype} options: {e}"))?;
    rustix::mount::mount(fstype, target, fstype, flags, data.as_c_str())
        .map_err(|e| format!("mounting {fstype} on {}: {e}", target.display()))
}

/// The container's own `/dev`, as runc makes it: a tmpfs with the host's harmless devices
/// bound in, a private devpts and `/dev/shm`, and the usual links.
fn make_dev(dev: &Path) -> Result<(), String> {
    mount_fs("tmpfs", dev, MountFlags::NOSUID, "mode=755,size=65536k")?;
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        bind(&Path::new("/dev").join(node), &dev.join(node), false)?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        std::os::unix::fs::symlink(to, dev.join(link))
            .map_err(|e| format!("linking /dev/{link}: {e}"))?;
    }
    mount_fs(
        "devpts",
        &dev.join("pts"),
        MountFlags::NOSUID | MountFlags::NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620",
    )?;
    // The pod's own POSIX shared memory, not the host's.
    mount_fs(
        "tmpfs",
        &dev.join("shm"),
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        "mode=1777,size=65536k",
    )
}

/// Builds the container's root in this (new, private) mount namespace.
fn assemble_root(spec: &InitSpec) -> Result<(), String> {
    // Nothing mounted here may reach the host's mount table.
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(|e| format!("making mounts private: {e}"))?;
    for d in [&spec.root, &spec.upper, &spec.work] {
        std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    let lower = spec
        .lower
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let options = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        spec.upper.display(),
        spec.work.display()
    );
    mount_fs("overlay", &spec.root, MountFlags::empty(), &options)?;
    bind(
        Path::new("/sys"),
        &in_root(&spec.root, Path::new("/sys")),
        false,
    )?;
    make_dev(&in_root(&spec.root, Path::new("/dev")))?;
    for m in &spec.mounts {
        bind(&m.source, &in_root(&spec.root, &m.target), m.read_only)?;
    }
    Ok(())
}

/// `capstan sandbox-init container SPEC`: returns the process's exit code.
pub fn container(spec_path: &Path) -> i32 {
    let spec = match read_spec(spec_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 128;
        }
    };
    if let Err(e) = assemble_root(&spec) {
        report(&spec.report, &format!("error {e}"));
        return 128;
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            report(&spec.report, &format!("error locating the helper: {e}"));
            return 128;
        }
    };
    let mut child = match std::process::Command::new(exe)
        .args(["sandbox-init", "exec"])
        .arg(spec_path)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            report(&spec.report, &format!("error starting the container: {e}"));
            return 128;
        }
    };
    report(&spec.report, &format!("pid {}", child.id()));
    match child.wait() {
        Ok(status) => {
            if let Some(sig) = status.signal() {
                // Ends this process by the same signal, so the runtime sees what the
                // container saw; a signal this process ignores falls through to 128 + N.
                if let Some(s) = rustix::process::Signal::from_named_raw(sig) {
                    let _ = rustix::process::kill_process(rustix::process::getpid(), s);
                    std::thread::sleep(Duration::from_millis(100));
                }
                128 + sig
            } else {
                status.code().unwrap_or(255)
            }
        }
        Err(_) => 255,
    }
}

/// The container's first process: never returns when the command starts.
pub fn exec(spec_path: &Path) -> i32 {
    let spec = match read_spec(spec_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 128;
        }
    };
    // Opened before the root changes (the FIFO is outside it); closed by the exec.
    let mut fifo = match std::fs::OpenOptions::new().write(true).open(&spec.report) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("opening {}: {e}", spec.report.display());
            return 128;
        }
    };
    let error = start(&spec, &mut fifo);
    let _ = fifo.write_all(format!("error {error}\n").as_bytes());
    128
}

fn start(spec: &InitSpec, fifo: &mut std::fs::File) -> String {
    for procs in &spec.cgroups {
        if let Err(e) = std::fs::write(procs, b"0") {
            return format!("joining the cgroup {}: {e}", procs.display());
        }
    }
    // This process leads the new PID namespace: its /proc shows the container's processes.
    if let Err(e) = mount_fs(
        "proc",
        &in_root(&spec.root, Path::new("/proc")),
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        "",
    ) {
        return e;
    }
    // pivot_root, as runc does: the old root is stacked under the new one and detached, so
    // nothing of the host's tree stays reachable.
    if let Err(e) = std::env::set_current_dir(&spec.root) {
        return format!("entering {}: {e}", spec.root.display());
    }
    if let Err(e) = rustix::process::pivot_root(".", ".") {
        return format!("pivot_root: {e}");
    }
    if let Err(e) = rustix::mount::unmount(".", UnmountFlags::DETACH) {
        return format!("detaching the old root: {e}");
    }
    let dir = spec.working_dir.as_deref().unwrap_or("/");
    // containerd makes a missing working directory.
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::env::set_current_dir(dir)) {
        return format!("chdir to cwd ({dir:?}) set in config.json failed: {e}");
    }
    let Some((program, args)) = spec.argv.split_first() else {
        return "no command specified".into();
    };
    let resolved = match host_exec::resolve(program, host_exec::path_of(&spec.env)) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut cmd = std::process::Command::new(&resolved);
    cmd.arg0(program).args(args).env_clear();
    if !spec.env.iter().any(|(k, _)| k == "PATH") {
        cmd.env("PATH", DEFAULT_PATH);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(gid) = spec.gid.or(spec.uid.map(|_| 0)) {
        cmd.gid(gid);
    }
    if let Some(uid) = spec.uid {
        cmd.uid(uid);
    }
    if let Err(e) = fifo.write_all(b"ok\n") {
        return format!("reporting the start: {e}");
    }
    let e = cmd.exec();
    format!("exec: {program:?}: {e}")
}
