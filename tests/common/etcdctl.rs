//! The real etcdctl 3.4 (Debian's etcd-client) pointed at one endpoint: a capstan replica with
//! the admin certificate, or a plain etcd.

use std::io::Write;
use std::process::{Command, Stdio};

use super::Server;

/// etcdctl with the flags that reach one endpoint.
pub struct Etcdctl {
    args: Vec<String>,
}

/// What one etcdctl run printed.
#[derive(Debug, PartialEq, Eq)]
pub struct Printed {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Etcdctl {
    /// A capstan replica, over TLS with the cluster's admin certificate.
    pub fn for_server(s: &Server) -> Etcdctl {
        let pki = s.pki_dir();
        Etcdctl {
            args: vec![
                format!("--endpoints={}", s.client_url),
                format!("--cacert={}", pki.join("ca.crt").display()),
                format!("--cert={}", pki.join("admin.crt").display()),
                format!("--key={}", pki.join("admin.key").display()),
                "--command-timeout=10s".into(),
            ],
        }
    }

    /// A plaintext endpoint (a test's own etcd).
    pub fn plain(url: &str) -> Etcdctl {
        Etcdctl {
            args: vec![format!("--endpoints={url}"), "--command-timeout=10s".into()],
        }
    }

    /// The same client, talking to `endpoints` instead.
    pub fn to(&self, endpoints: &[String]) -> Etcdctl {
        let mut args = self.args.clone();
        args[0] = format!("--endpoints={}", endpoints.join(","));
        Etcdctl { args }
    }

    /// The command, to run or spawn as the caller needs.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("etcdctl");
        c.env("ETCDCTL_API", "3").args(&self.args).args(args);
        c
    }

    /// Runs it with `stdin` as input (an interactive txn). `timeout` ends a run that would hang
    /// (a watch the server never cancels) as a failure rather than hanging the test.
    pub fn run_with_input(&self, args: &[&str], stdin: &str) -> Printed {
        let mut child = Command::new("timeout")
            .args(["60", "etcdctl"])
            .env("ETCDCTL_API", "3")
            .args(&self.args)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("etcdctl (Debian's etcd-client) is installed");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        Printed {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs it: whether it succeeded, its stdout and its stderr.
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let p = self.run_with_input(args, "");
        (p.ok, p.stdout, p.stderr)
    }

    /// Runs it, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "etcdctl {args:?} failed: {err}");
        out
    }

    /// Runs it, which must fail with `message` on stderr.
    pub fn fails_with(&self, args: &[&str], message: &str) {
        let (ok, _, err) = self.run(args);
        assert!(
            !ok && err.contains(message),
            "etcdctl {args:?}: want {message:?}, got {err}"
        );
    }
}
