//! The real etcdctl 3.4 (Debian's etcd-client) and the `etcd-client` crate, unchanged, against
//! `capstan server` over TLS with client certificates: one replica, and three replicas reached
//! through a follower (so writes are forwarded and linearizable reads use the read index).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::etcdctl::Etcdctl;
use common::{wait_cluster, Server};
use etcd_client::{
    Compare, CompareOp, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
};

struct Cluster {
    _root: tempfile::TempDir,
    servers: Vec<Server>,
}

async fn cluster(n: usize) -> Cluster {
    let root = tempfile::tempdir().unwrap();
    let mut servers = vec![Server::first(root.path(), "n0")];
    for i in 1..n {
        let s = Server::joining(root.path(), &format!("n{i}"), &servers[0]);
        servers.push(s);
    }
    wait_cluster(
        &servers.iter().collect::<Vec<_>>(),
        n,
        Duration::from_secs(60),
    )
    .await;
    Cluster {
        _root: root,
        servers,
    }
}

impl Cluster {
    /// A follower if there is one, else the only replica.
    async fn entry(&self) -> &Server {
        let leader = self.servers[0]
            .client()
            .await
            .status()
            .await
            .unwrap()
            .leader();
        self.servers
            .iter()
            .find(|s| s.member_id != leader)
            .unwrap_or(&self.servers[0])
    }
}

/// A command running in the background (`etcdctl watch`), its stdout collected as it comes.
struct Background {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Background {
    fn spawn(mut cmd: Command) -> Background {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Background { child, out, reader }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits until the output so far satisfies `done`; `None` if it does not within `within`.
    fn wait_for(&self, within: Duration, done: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let out = self.output();
            if done(&out) {
                return Some(out);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills it; everything it printed.
    fn stop(self) -> String {
        let Background {
            mut child,
            out,
            reader,
        } = self;
        let _ = child.kill();
        let _ = child.wait();
        reader.join().unwrap();
        let out = out.lock().unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn etcdctl_session(c: &Cluster, s: &Server) {
    let e = Etcdctl::for_server(s);
    assert_eq!(e.ok(&["put", "/registry/pods/a", "one"]).trim(), "OK");
    e.ok(&["put", "/registry/pods/b", "two"]);
    assert_eq!(
        e.ok(&["get", "/registry/pods/a"]),
        "/registry/pods/a\none\n"
    );
    assert_eq!(
        e.ok(&["get", "/registry/pods/", "--prefix", "--keys-only"]),
        "/registry/pods/a\n\n/registry/pods/b\n\n"
    );
    assert_eq!(
        e.ok(&[
            "get",
            "/registry/pods/a",
            "--consistency=s",
            "--print-value-only"
        ]),
        "one\n"
    );
    let mut txn = e
        .command(&["txn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    txn.stdin
        .take()
        .unwrap()
        .write_all(b"value(\"/registry/pods/a\") = \"one\"\n\nput k v2\n\nput k2 x\n\n")
        .unwrap();
    let out = txn.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SUCCESS\n\nOK\n");
    assert_eq!(e.ok(&["del", "/registry/pods/", "--prefix"]).trim(), "2");

    let rev: i64 = e
        .ok(&["get", "k", "-w", "fields"])
        .lines()
        .find(|l| l.starts_with("\"Revision\""))
        .and_then(|l| l.split(':').nth(1))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    e.ok(&["put", "k", "v3"]);
    e.ok(&["compaction", &rev.to_string()]);
    e.fails_with(
        &["get", "k", &format!("--rev={}", rev - 1)],
        "etcdserver: mvcc: required revision has been compacted",
    );

    let out = e.ok(&["lease", "grant", "60"]);
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    e.ok(&["put", "eph", "x", &format!("--lease={id}")]);
    assert!(e
        .ok(&["lease", "timetolive", &id, "--keys"])
        .contains("attached keys([eph])"));
    assert!(e
        .ok(&["lease", "keep-alive", "--once", &id])
        .contains("keepalived with TTL(60)"));
    assert!(e.ok(&["lease", "list"]).contains(&id));
    assert!(e.ok(&["lease", "revoke", &id]).contains("revoked"));
    assert_eq!(e.ok(&["get", "eph"]), "");
    e.fails_with(
        &["lease", "revoke", &id],
        "etcdserver: requested lease not found",
    );

    let watch = Background::spawn(e.command(&["watch", "w/", "--prefix", "--prev-kv"]));
    // The watch is established once it shows a put made after it started: put a marker until
    // one shows up. What follows the marker's event is what the test is about.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 0;
    let skip = loop {
        n += 1;
        let marker = format!("w/0\nm{n}\n");
        e.ok(&["put", "w/0", &format!("m{n}")]);
        if let Some(out) = watch.wait_for(Duration::from_millis(200), |o| o.contains(&marker)) {
            break out.find(&marker).unwrap() + marker.len();
        }
        assert!(
            Instant::now() < deadline,
            "the watch never started: {:?}",
            watch.output()
        );
    };
    e.ok(&["put", "w/1", "a"]);
    e.ok(&["put", "w/1", "b"]);
    e.ok(&["del", "w/1"]);
    let want = "PUT\nw/1\na\nPUT\nw/1\na\nw/1\nb\nDELETE\nw/1\nb\nw/1\n\n";
    let got = |o: &str| o.get(skip..).unwrap_or("").to_string();
    let seen = watch.wait_for(Duration::from_secs(60), |o| got(o).len() >= want.len());
    let out = watch.stop();
    assert!(seen.is_some(), "the watch stopped short: {:?}", got(&out));
    assert_eq!(got(&out), want);

    let eps: Vec<String> = c.servers.iter().map(|s| s.client_url.clone()).collect();
    let all = e.to(&eps);
    let status = all.ok(&["endpoint", "status", "-w", "fields"]);
    assert_eq!(
        status.matches("\"Version\" : \"3.5.0\"").count(),
        c.servers.len(),
        "{status}"
    );
    let hashes = all.ok(&["endpoint", "hashkv"]);
    assert_eq!(hashes.lines().count(), c.servers.len(), "{hashes}");
    let members = e.ok(&["member", "list"]);
    for s in &c.servers {
        assert!(
            members.contains(&s.name) && members.contains(&s.peer_url),
            "{members}"
        );
    }
    if c.servers.len() > 1 {
        // move-leader finds the leader among the endpoints and moves leadership to `s`.
        let out = all.ok(&["move-leader", &format!("{:x}", s.member_id)]);
        assert!(out.contains("Leadership transferred"), "{out}");
        let status = all.ok(&["endpoint", "status", "-w", "fields"]);
        assert_eq!(
            status
                .matches(&format!("\"Leader\" : {}", s.member_id))
                .count(),
            c.servers.len(),
            "{status}"
        );
    }
    assert!(e.ok(&["defrag"]).contains("Finished defragmenting"));
    assert_eq!(e.ok(&["alarm", "list"]), "");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.db");
    assert!(e
        .ok(&["snapshot", "save", file.to_str().unwrap()])
        .contains("Snapshot saved"));
    assert!(capstan_store::verify_snapshot(&file).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_against_one_replica() {
    let c = cluster(1).await;
    let s = c.entry().await;
    let (c2, s2) = (&c, s);
    tokio::task::block_in_place(|| etcdctl_session(c2, s2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_against_a_follower_of_three() {
    let c = cluster(3).await;
    let s = c.entry().await;
    tokio::task::block_in_place(|| etcdctl_session(&c, s));
}

async fn etcd_client_session(c: &Cluster, s: &Server) {
    let mut cl = s.client().await;
    let r = cl
        .put("k", "v1", Some(PutOptions::new().with_prev_key()))
        .await
        .unwrap();
    assert!(r.prev_key().is_none());
    let h = r.header().unwrap();
    assert_ne!(h.cluster_id(), 0);
    assert_eq!(h.member_id(), s.member_id);
    assert!(h.raft_term() >= 1);
    let first = h.revision();
    let r = cl
        .put("k", "v2", Some(PutOptions::new().with_prev_key()))
        .await
        .unwrap();
    assert_eq!(r.prev_key().unwrap().value(), b"v1");
    let r = cl.get("k", None).await.unwrap();
    assert_eq!(r.kvs()[0].value(), b"v2");
    assert_eq!(r.kvs()[0].version(), 2);
    let r = cl
        .get("k", Some(GetOptions::new().with_revision(first)))
        .await
        .unwrap();
    assert_eq!(r.kvs()[0].value(), b"v1");

    // Txn: compare-and-swap on the mod revision, as kube-apiserver does.
    let modrev = cl.get("k", None).await.unwrap().kvs()[0].mod_revision();
    let t = Txn::new()
        .when([Compare::mod_revision("k", CompareOp::Equal, modrev)])
        .and_then([TxnOp::put("k", "v3", None)])
        .or_else([TxnOp::get("k", None)]);
    assert!(cl.txn(t.clone()).await.unwrap().succeeded());
    assert!(!cl.txn(t).await.unwrap().succeeded(), "a stale CAS fails");

    // Watch from a past revision with prev_kv, then live; progress; cancel.
    let mut stream = cl
        .watch(
            "k",
            Some(
                WatchOptions::new()
                    .with_start_revision(first)
                    .with_prev_key(),
            ),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let resp = tokio::time::timeout(Duration::from_secs(60), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        for ev in resp.events() {
            seen.push(String::from_utf8_lossy(ev.kv().unwrap().value()).to_string());
        }
    }
    assert_eq!(seen, ["v1", "v2", "v3"]);
    cl.delete("k", None).await.unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(60), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(resp.events()[0].event_type(), EventType::Delete);
    assert_eq!(resp.events()[0].prev_kv().unwrap().value(), b"v3");
    stream.request_progress().await.unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(60), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        resp.events().is_empty(),
        "a progress notification carries no events"
    );
    let id = resp.watch_id();
    stream.cancel(id).await.unwrap();

    // Fragments: one revision whose events exceed the request limit arrives in pieces.
    for i in 0..4 {
        cl.put(format!("frag/{i}"), vec![b'x'; 700 * 1024], None)
            .await
            .unwrap();
    }
    let mut stream = cl
        .watch(
            "frag/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_prev_key()
                    .with_fragment(),
            ),
        )
        .await
        .unwrap();
    // A watch from now starts when the server has created it (its first answer), not when the
    // call returns: only a delete after that is sure to come after its start.
    let created = tokio::time::timeout(Duration::from_secs(60), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(created.created(), "{created:?}");
    cl.delete(
        "frag/",
        Some(etcd_client::DeleteOptions::new().with_prefix()),
    )
    .await
    .unwrap();
    let mut revisions = Vec::new();
    let mut events = 0;
    while events < 4 {
        let resp = tokio::time::timeout(Duration::from_secs(60), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        events += resp.events().len();
        revisions.push(resp.events()[0].kv().unwrap().mod_revision());
    }
    assert!(
        revisions.len() >= 2,
        "a 2.8 MB revision comes in fragments: {revisions:?}"
    );
    assert!(
        revisions.windows(2).all(|w| w[0] == w[1]),
        "one revision: {revisions:?}"
    );
    assert_eq!(events, 4);

    // Compaction: reads and watches below it get etcd's error / cancel.
    let now = cl
        .get("k", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    cl.compact(now, None).await.unwrap();
    let e = cl
        .get("k", Some(GetOptions::new().with_revision(first)))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("etcdserver: mvcc: required revision has been compacted"),
        "{e}"
    );
    let mut stream = cl
        .watch("k", Some(WatchOptions::new().with_start_revision(first)))
        .await
        .unwrap();
    let resp = loop {
        let resp = tokio::time::timeout(Duration::from_secs(60), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        // etcd answers "created" first, then cancels the watch with the compact revision.
        if resp.canceled() || !resp.created() {
            break resp;
        }
    };
    assert!(resp.canceled());
    assert_eq!(resp.compact_revision(), now);

    // Leases: grant, attach, keep alive, time to live, list, revoke.
    let l = cl.lease_grant(30, None).await.unwrap();
    cl.put("eph", "x", Some(PutOptions::new().with_lease(l.id())))
        .await
        .unwrap();
    let (mut keeper, mut ka) = cl.lease_keep_alive(l.id()).await.unwrap();
    keeper.keep_alive().await.unwrap();
    let ka = tokio::time::timeout(Duration::from_secs(60), ka.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ka.ttl(), 30);
    let ttl = cl
        .lease_time_to_live(
            l.id(),
            Some(etcd_client::LeaseTimeToLiveOptions::new().with_keys()),
        )
        .await
        .unwrap();
    assert_eq!(ttl.granted_ttl(), 30);
    assert_eq!(ttl.keys(), [b"eph".to_vec()]);
    assert!(cl
        .leases()
        .await
        .unwrap()
        .leases()
        .iter()
        .any(|x| x.id() == l.id()));
    cl.lease_revoke(l.id()).await.unwrap();
    assert!(cl.get("eph", None).await.unwrap().kvs().is_empty());
    let e = cl.lease_revoke(l.id()).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("etcdserver: requested lease not found"),
        "{e}"
    );

    // Bad input: a request over 1.5 MiB is refused and changes nothing.
    let e = cl
        .put("big", vec![0u8; 2 * 1024 * 1024], None)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("request is too large")
            || e.to_string().contains("message length too large"),
        "{e}"
    );
    assert!(cl.get("big", None).await.unwrap().kvs().is_empty());

    // Maintenance and cluster.
    let st = cl.status().await.unwrap();
    assert_eq!(st.version(), "3.5.0");
    assert_ne!(st.leader(), 0);
    assert!(st.raft_index() >= st.raft_applied_index() || st.raft_applied_index() > 0);
    let hk = cl.hash_kv(0).await.unwrap();
    assert_ne!(hk.hash(), 0);
    cl.defragment().await.unwrap();
    let alarms = cl
        .alarm(
            etcd_client::AlarmAction::Get,
            etcd_client::AlarmType::None,
            None,
        )
        .await
        .unwrap();
    assert!(alarms.alarms().is_empty());
    let mut snap = cl.snapshot().await.unwrap();
    let mut bytes = 0;
    while let Some(chunk) = snap.message().await.unwrap() {
        bytes += chunk.blob().len();
    }
    assert!(bytes > 0);
    let members = cl.member_list().await.unwrap();
    assert_eq!(members.members().len(), c.servers.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_client_crate_against_one_replica() {
    let c = cluster(1).await;
    let s = c.entry().await;
    etcd_client_session(&c, s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_client_crate_against_a_follower_of_three() {
    let c = cluster(3).await;
    let s = c.entry().await;
    etcd_client_session(&c, s).await;
}
