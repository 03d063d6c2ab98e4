//! The real etcdctl 3.4 (Debian's etcd-client) against the etcd facade over an in-memory store,
//! on loopback: every command a user types works and prints what etcd would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capstan_apiserver::etcd::{EtcdApi, EtcdIdentity};
use capstan_store::testing::test_config;
use capstan_store::{MemBackend, Store};

struct Server {
    endpoint: String,
}

async fn start() -> Server {
    let kv = Arc::new(Store::new(MemBackend::new(), test_config()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = EtcdIdentity {
        cluster_id: 0x1234,
        member_id: 0xabcd,
        name: "capstan-test".into(),
        client_urls: vec![format!("http://{addr}")],
        peer_urls: vec!["http://127.0.0.1:2380".into()],
    };
    let api = EtcdApi::new(kv, identity);
    tokio::spawn(async move { api.serve(listener).await });
    Server {
        endpoint: addr.to_string(),
    }
}

impl Server {
    /// Runs etcdctl; returns (success, stdout, stderr).
    fn ctl(&self, args: &[&str]) -> (bool, String, String) {
        self.ctl_stdin(args, "")
    }

    fn ctl_stdin(&self, args: &[&str], input: &str) -> (bool, String, String) {
        let mut child = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint))
            .arg("--command-timeout=10s")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("etcdctl is installed (Debian's etcd-client)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.ctl(args);
        assert!(ok, "etcdctl {args:?} failed: {err}");
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_put_get_delete_and_prefixes() {
    let s = start().await;
    tokio::task::spawn_blocking(move || {
        assert_eq!(s.ok(&["put", "/registry/pods/a", "one"]).trim(), "OK");
        s.ok(&["put", "/registry/pods/b", "two"]);
        s.ok(&["put", "/registry/svc/c", "three"]);
        assert_eq!(
            s.ok(&["get", "/registry/pods/a"]),
            "/registry/pods/a\none\n"
        );
        assert_eq!(
            s.ok(&["get", "/registry/pods/", "--prefix", "--keys-only"]),
            "/registry/pods/a\n\n/registry/pods/b\n\n"
        );
        assert_eq!(
            s.ok(&[
                "get",
                "/registry/",
                "--prefix",
                "--keys-only",
                "--write-out=fields"
            ])
            .lines()
            .find(|l| l.starts_with("\"Count\""))
            .unwrap(),
            "\"Count\" : 3"
        );
        assert_eq!(
            s.ok(&[
                "get",
                "/registry/",
                "--prefix",
                "--limit=1",
                "--sort-by=KEY",
                "--order=DESCEND"
            ]),
            "/registry/svc/c\nthree\n"
        );
        let json = s.ok(&["get", "/registry/pods/a", "-w", "json"]);
        assert!(
            json.contains("\"cluster_id\":4660") && json.contains("\"member_id\":43981"),
            "{json}"
        );
        assert_eq!(s.ok(&["del", "/registry/pods/", "--prefix"]).trim(), "2");
        assert_eq!(s.ok(&["get", "/registry/pods/", "--prefix"]), "");
        assert_eq!(
            s.ok(&["put", "/registry/svc/c", "four", "--prev-kv"]),
            "OK\n/registry/svc/c\nthree\n"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_txn_and_compaction_errors() {
    let s = start().await;
    tokio::task::spawn_blocking(move || {
        s.ok(&["put", "k", "v1"]);
        let (ok, out, err) = s.ctl_stdin(
            &["txn"],
            "value(\"k\") = \"v1\"\n\nput k v2\nput other x\n\nput k nope\n\n",
        );
        assert!(ok, "{err}");
        assert_eq!(out, "SUCCESS\n\nOK\n\nOK\n");
        assert_eq!(s.ok(&["get", "k", "--print-value-only"]), "v2\n");
        let rev: i64 = s
            .ok(&["get", "k", "-w", "fields"])
            .lines()
            .find(|l| l.starts_with("\"ModRevision\""))
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        s.ok(&["put", "k", "v3"]);
        assert_eq!(
            s.ok(&["get", "k", &format!("--rev={rev}"), "--print-value-only"]),
            "v2\n"
        );
        assert_eq!(
            s.ok(&["compaction", &(rev + 1).to_string()]).trim(),
            format!("compacted revision {}", rev + 1)
        );
        let (ok, _, err) = s.ctl(&["get", "k", &format!("--rev={rev}")]);
        assert!(!ok);
        assert!(
            err.contains("etcdserver: mvcc: required revision has been compacted"),
            "{err}"
        );
        let (ok, _, err) = s.ctl(&["get", "k", "--rev=999"]);
        assert!(
            !ok && err.contains("required revision is a future revision"),
            "{err}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_leases() {
    let s = start().await;
    tokio::task::spawn_blocking(move || {
        let out = s.ok(&["lease", "grant", "60"]);
        // "lease 694d77aa9e38260f granted with TTL(60s)"
        let id = out.split_whitespace().nth(1).unwrap().to_string();
        assert!(out.contains("granted with TTL(60s)"), "{out}");
        s.ok(&["put", "eph", "x", &format!("--lease={id}")]);
        let ttl = s.ok(&["lease", "timetolive", &id, "--keys"]);
        assert!(
            ttl.contains("granted with TTL(60s)") && ttl.contains("attached keys([eph])"),
            "{ttl}"
        );
        assert!(s.ok(&["lease", "list"]).contains(&id));
        assert!(s
            .ok(&["lease", "keep-alive", "--once", &id])
            .contains("keepalived with TTL(60)"));
        assert!(s.ok(&["lease", "revoke", &id]).contains("revoked"));
        assert_eq!(s.ok(&["get", "eph"]), "");
        assert!(s
            .ok(&["lease", "timetolive", &id])
            .contains("already expired"));
        let (ok, _, err) = s.ctl(&["lease", "revoke", &id]);
        assert!(
            !ok && err.contains("etcdserver: requested lease not found"),
            "{err}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_watch_from_a_past_revision_then_live() {
    let s = start().await;
    let endpoint = s.endpoint.clone();
    tokio::task::spawn_blocking(move || {
        s.ok(&["put", "w/1", "a"]);
        s.ok(&["put", "w/2", "b"]);
        let mut watch = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                format!("--endpoints={endpoint}").as_str(),
                "watch",
                "w/",
                "--prefix",
                "--rev=2",
                "--prev-kv",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = watch.stdout.take().unwrap();
        let collected = Arc::new(Mutex::new(Vec::new()));
        let sink = collected.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let output = || String::from_utf8_lossy(&collected.lock().unwrap()).into_owned();
        // Waits (with a generous guard) until the watch has printed `want`.
        let wait_for = |want: &str| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while output().len() < want.len() {
                assert!(
                    Instant::now() < deadline,
                    "the watch printed only {:?}",
                    output()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        // etcdctl prints each event's type, then the previous pair (with --prev-kv), then the pair.
        let history = "PUT\nw/1\na\nPUT\nw/2\nb\n";
        let all = "PUT\nw/1\na\nPUT\nw/2\nb\nPUT\nw/1\na\nw/1\nc\nDELETE\nw/2\nb\nw/2\n\n";
        // The history has arrived, so the watch is running: what comes next is live.
        wait_for(history);
        s.ok(&["put", "w/1", "c"]);
        s.ok(&["del", "w/2"]);
        wait_for(all);
        watch.kill().unwrap();
        watch.wait().unwrap();
        reader.join().unwrap();
        assert_eq!(output(), all, "history then live, with prev values");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_maintenance_and_members() {
    let s = start().await;
    tokio::task::spawn_blocking(move || {
        s.ok(&["put", "a", "1"]);
        let status = s.ok(&["endpoint", "status", "-w", "fields"]);
        assert!(
            status.contains("\"Version\" : \"3.5.0\"") && status.contains("\"Revision\" : 2"),
            "{status}"
        );
        let hash = s.ok(&["endpoint", "hashkv", "-w", "fields"]);
        assert!(hash.contains("\"Hash\""), "{hash}");
        let members = s.ok(&["member", "list"]);
        assert!(
            members.contains("capstan-test") && members.contains("started"),
            "{members}"
        );
        assert!(s.ok(&["defrag"]).contains("Finished defragmenting"));
        assert_eq!(s.ok(&["alarm", "list"]), "");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("snap.db");
        let out = s.ok(&["snapshot", "save", file.to_str().unwrap()]);
        assert!(out.contains("Snapshot saved"), "{out}");
        assert!(
            capstan_store::verify_snapshot(&file).is_ok(),
            "the saved file is a capstan snapshot"
        );
        let (ok, _, err) = s.ctl(&["member", "add", "n2", "--peer-urls=http://127.0.0.1:2390"]);
        assert!(
            !ok && err.contains("membership changes need a replicated capstan server"),
            "{err}"
        );
    })
    .await
    .unwrap();
}
