//! Real `capstan server` processes: a single replica over TLS, crash recovery of a three-replica
//! cluster under write load, and membership changes under load (grow, shrink, replace).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{local_keys, wait_cluster, wait_converged, Server};
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use parking_lot::Mutex;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_replica_serves_tls_keeps_its_data_and_stops_cleanly() {
    let root = tempfile::tempdir().unwrap();
    let mut s = Server::first(root.path(), "solo");
    let mode = std::fs::metadata(&s.data_dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "data dir is private");
    for f in ["pki/ca.key", "pki/admin.key", "pki/token"] {
        let mode = std::fs::metadata(s.data_dir.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{f} is private");
    }
    let mut c = s.client().await;
    c.put("a", "1", None).await.unwrap();
    let st = c.status().await.unwrap();
    assert_eq!(st.leader(), s.member_id);
    assert!(st.raft_term() >= 1);
    let header = c.get("a", None).await.unwrap();
    assert_eq!(header.header().unwrap().member_id(), s.member_id);
    assert!(header.header().unwrap().raft_term() >= 1);

    // Without a client certificate the API refuses the connection.
    let pki = s.data_dir.join("pki");
    let ca = std::fs::read_to_string(pki.join("ca.crt")).unwrap();
    let anon = ConnectOptions::new()
        .with_tls(TlsOptions::new().ca_certificate(Certificate::from_pem(ca)))
        .with_timeout(Duration::from_secs(2));
    let refused = match Client::connect([s.client_url.as_str()], Some(anon)).await {
        Ok(mut c) => c.get("a", None).await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a client without a certificate is refused");

    assert!(s.terminate(), "SIGTERM exits 0: {}", s.log());
    s.restart();
    let mut c = s.client().await;
    let r = c.get("a", None).await.unwrap();
    assert_eq!(r.kvs()[0].value(), b"1", "data survives a restart");
}

/// Puts `w/<n>` through rotating replicas until stopped; records what was acknowledged.
struct Writer {
    acked: Arc<Mutex<BTreeSet<String>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(endpoints: Vec<(String, std::path::PathBuf)>) -> Writer {
        let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (a, st) = (acked.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut n = 0u64;
            while !st.load(Ordering::SeqCst) {
                let (url, pki) = &endpoints[(n as usize) % endpoints.len()];
                n += 1;
                let read = |f: &str| std::fs::read_to_string(pki.join(f)).unwrap_or_default();
                let opts = ConnectOptions::new()
                    .with_tls(
                        TlsOptions::new()
                            .ca_certificate(Certificate::from_pem(read("ca.crt")))
                            .identity(Identity::from_pem(read("admin.crt"), read("admin.key"))),
                    )
                    .with_connect_timeout(Duration::from_millis(300))
                    .with_timeout(Duration::from_secs(3));
                let Ok(mut c) = Client::connect([url.as_str()], Some(opts)).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                for _ in 0..20 {
                    let key = format!("w/{n:08}");
                    n += 1;
                    match c.put(key.clone(), "v", None).await {
                        Ok(_) => {
                            a.lock().insert(key);
                        }
                        Err(_) => break,
                    }
                }
            }
        });
        Writer { acked, stop, task }
    }

    /// Waits until `more` writes beyond those acknowledged so far are acknowledged: the load
    /// makes progress (the deadline only catches a load that stopped).
    async fn wait_acked(&self, more: usize) {
        let want = self.acked.lock().len() + more;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let have = self.acked.lock().len();
            if have >= want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the load stalled: {have} writes acknowledged, waiting for {want}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) -> BTreeSet<String> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        let acked = self.acked.lock().clone();
        acked
    }
}

fn endpoints(servers: &[&Server]) -> Vec<(String, std::path::PathBuf)> {
    servers
        .iter()
        .map(|s| (s.client_url.clone(), s.data_dir.join("pki")))
        .collect()
}

async fn assert_all_present(servers: &[&Server], acked: &BTreeSet<String>) {
    for s in servers {
        let have = local_keys(s, "w/").await;
        let missing: Vec<_> = acked.difference(&have).take(5).collect();
        assert!(
            missing.is_empty(),
            "{} lost acknowledged writes, e.g. {missing:?} (of {})",
            s.name,
            acked.len()
        );
    }
}

/// kill -9 of `servers[i]`, `down` of downtime, restart, and wait for the three to agree again.
async fn crash_and_restart(servers: &mut [Server], i: usize, down: Duration) {
    servers[i].kill();
    tokio::time::sleep(down).await;
    servers[i].restart();
    wait_cluster(
        &servers.iter().collect::<Vec<_>>(),
        3,
        Duration::from_secs(60),
    )
    .await;
}

/// kill -9 the leader, then a follower, under write load, and restart them: every acknowledged
/// write is on every replica and HashKV agrees. Rounds: CAPSTAN_CLUSTER_CRASHES (default 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_leader_and_follower_under_load_loses_nothing() {
    let rounds = env_usize("CAPSTAN_CLUSTER_CRASHES", 2);
    let root = tempfile::tempdir().unwrap();
    let a = Server::first(root.path(), "a");
    let b = Server::joining(root.path(), "b", &a);
    let c = Server::joining(root.path(), "c", &a);
    let mut servers = [a, b, c];
    wait_cluster(
        &servers.iter().collect::<Vec<_>>(),
        3,
        Duration::from_secs(60),
    )
    .await;
    let writer = Writer::start(endpoints(&servers.iter().collect::<Vec<_>>()));

    for round in 0..rounds {
        // Writes are being acknowledged when the leader is killed.
        writer.wait_acked(20).await;
        let leader = {
            let mut c = servers[0].client().await;
            c.status().await.unwrap().leader()
        };
        let li = servers.iter().position(|s| s.member_id == leader).unwrap();
        crash_and_restart(&mut servers, li, Duration::from_millis(1500)).await;
        let fi = (li + 1 + round % 2) % servers.len();
        crash_and_restart(&mut servers, fi, Duration::from_millis(700)).await;
    }
    // And after the last restart.
    writer.wait_acked(51).await;
    let acked = writer.finish().await;
    assert!(
        acked.len() > 50,
        "the load made progress: {} acked",
        acked.len()
    );
    let refs: Vec<&Server> = servers.iter().collect();
    wait_converged(&refs, Duration::from_secs(60)).await;
    assert_all_present(&refs, &acked).await;
}

/// Replicas joining one right after the other, and at the same moment: a join that arrives
/// while another membership change (a join, or a learner's promotion to voter) is being
/// committed waits for it instead of being refused, so every replica becomes a voter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_joining_back_to_back_all_become_voters() {
    let root = tempfile::tempdir().unwrap();
    let a = Server::first(root.path(), "a");
    let mut all = vec![a];
    for name in ["b", "c", "d", "e"] {
        let next = Server::joining(root.path(), name, &all[0]);
        all.push(next);
    }
    let refs: Vec<&Server> = all.iter().collect();
    wait_cluster(&refs, 5, Duration::from_secs(60)).await;
    let more: Vec<Server> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["f", "g"]
            .into_iter()
            .map(|name| {
                let (root, via) = (root.path(), &all[0]);
                scope.spawn(move || Server::joining(root, name, via))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(more.len(), 2, "both joined as learners");
}

/// Grow 1 → 3 → 5 by joining, shrink 5 → 3, then replace a member whose data dir was deleted,
/// all under write load: nothing acknowledged is lost and the replicas agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grow_shrink_and_replace_under_load_lose_nothing() {
    let root = tempfile::tempdir().unwrap();
    let a = Server::first(root.path(), "a");
    let writer = Writer::start(endpoints(&[&a]));
    let b = Server::joining(root.path(), "b", &a);
    let c = Server::joining(root.path(), "c", &b);
    wait_cluster(&[&a, &b, &c], 3, Duration::from_secs(60)).await;
    let d = Server::joining(root.path(), "d", &a);
    let e = Server::joining(root.path(), "e", &c);
    wait_cluster(&[&a, &b, &c, &d, &e], 5, Duration::from_secs(60)).await;

    // Shrink: remove d and e through the etcd Cluster API and the CLI.
    let mut ca = a.client().await;
    ca.member_remove(d.member_id).await.unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["member", "remove", &format!("{:x}", e.member_id)])
        .arg("--data-dir")
        .arg(&b.data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "member remove: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(d);
    drop(e);
    wait_cluster(&[&a, &b, &c], 3, Duration::from_secs(60)).await;

    // Replace c: its data dir is lost; a new replica joins under the same name.
    let mut c = c;
    c.kill();
    std::fs::remove_dir_all(&c.data_dir).unwrap();
    let c2 = Server::joining(root.path(), "c", &a);
    wait_cluster(&[&a, &b, &c2], 3, Duration::from_secs(60)).await;
    let members = a.client().await.member_list().await.unwrap();
    let names: Vec<_> = members
        .members()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "the old c was replaced, not kept: {names:?}"
    );
    assert!(members.members().iter().any(|m| m.id() == c2.member_id));

    // Writes still go through after the changes.
    writer.wait_acked(51).await;
    let acked = writer.finish().await;
    assert!(
        acked.len() > 50,
        "the load made progress: {} acked",
        acked.len()
    );
    wait_converged(&[&a, &b, &c2], Duration::from_secs(60)).await;
    assert_all_present(&[&a, &b, &c2], &acked).await;
}

/// Found by `capstan jepsen --nemesis disk-eio` (lease-fencing invalid: a lease expired 0.8 s
/// before the deadline a keep-alive had promised). openraft restarts a replica that was leader
/// as leader of its old term at once, and it counted as leader here before any quorum had
/// acknowledged it, so a keep-alive sent to it renewed only its own lease clock while the real
/// leader's ran on. Here the other two are paused while the old leader restarts, which holds
/// that moment open; a keep-alive must then fail rather than be answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_restarted_into_a_stale_term_does_not_renew_leases() {
    let root = tempfile::tempdir().unwrap();
    let slow = ["--election-timeout-ms".to_string(), "6000".to_string()];
    let a = Server::start(root.path(), "a", &slow);
    let join = |name: &str| {
        let mut args = slow.to_vec();
        args.extend([
            "--join".into(),
            a.peer_url.clone(),
            "--token".into(),
            a.token(),
        ]);
        Server::start(root.path(), name, &args)
    };
    let b = join("b");
    let c = join("c");
    let mut servers = [a, b, c];
    let leader = wait_cluster(
        &servers.iter().collect::<Vec<_>>(),
        3,
        Duration::from_secs(60),
    )
    .await;
    let li = servers.iter().position(|s| s.member_id == leader).unwrap();
    let lease = servers[li]
        .client()
        .await
        .lease_grant(10, None)
        .await
        .unwrap()
        .id();
    servers[li].kill();
    let others: Vec<usize> = (0..3).filter(|i| *i != li).collect();
    wait_cluster(
        &others.iter().map(|i| &servers[*i]).collect::<Vec<_>>(),
        3,
        Duration::from_secs(60),
    )
    .await;
    // The new leader's clock for the lease runs from its election: let some of it pass.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let signal = |sig: &str, pid: u32| {
        std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
    };
    // Connected before the pause, so that the check at the end is a single call.
    let mut judge = servers[others[0]].client().await;
    for i in &others {
        signal("-STOP", servers[*i].pid());
    }
    servers[li].restart();
    let mut kc = servers[li].client().await;
    let started = Instant::now();
    let mut resumed = false;
    let sent = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no keep-alive succeeded"
        );
        // The pause holds the stale leader's moment open for a while (deliberately, not to
        // wait for anything), then the real leader comes back.
        if !resumed && started.elapsed() > Duration::from_millis(1500) {
            for i in &others {
                signal("-CONT", servers[*i].pid());
            }
            resumed = true;
        }
        if let Ok(Ok((mut keeper, mut stream))) =
            tokio::time::timeout(Duration::from_secs(1), kc.lease_keep_alive(lease)).await
        {
            let sent = Instant::now();
            if keeper.keep_alive().await.is_ok() {
                if let Ok(Ok(Some(r))) =
                    tokio::time::timeout(Duration::from_secs(1), stream.message()).await
                {
                    if r.ttl() > 0 {
                        break sent;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if !resumed {
        for i in &others {
            signal("-CONT", servers[*i].pid());
        }
    }
    // The answer promised 10 s: the real leader must hold that deadline. Had it renewed the
    // lease, it did so after the keep-alive was sent, so at least 10 s less the time since then
    // are left (rounded up to whole seconds), however slow the machine is.
    let ttl = judge.lease_time_to_live(lease, None).await.unwrap().ttl();
    let since = sent.elapsed();
    assert!(
        ttl as f64 >= 10.0 - since.as_secs_f64(),
        "a keep-alive was answered {:?} after the restart, yet {since:?} after it was sent the \
         leader's lease has only {ttl} s left",
        sent.duration_since(started)
    );
}

/// Found by `capstan jepsen --nemesis member-replace`: a replica that lost its data dir and
/// re-joins under its name *at its old address* (the usual case: the same host, rebuilt) was
/// refused as "a running member", because the liveness probe of the old member reached the
/// newcomer itself listening there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_after_data_loss_at_the_same_address() {
    let root = tempfile::tempdir().unwrap();
    let a = Server::first(root.path(), "a");
    let b = Server::joining(root.path(), "b", &a);
    let mut c = Server::joining(root.path(), "c", &a);
    wait_cluster(&[&a, &b, &c], 3, Duration::from_secs(60)).await;
    let old_id = c.member_id;
    let client = c.client_url.clone();
    let peer = c.peer_url.trim_start_matches("https://").to_string();
    c.kill();
    std::fs::remove_dir_all(&c.data_dir).unwrap();
    let c2 = Server::start_on(
        root.path(),
        "c",
        &client,
        &peer,
        &[
            "--join".into(),
            a.peer_url.clone(),
            "--token".into(),
            a.token(),
        ],
    );
    wait_cluster(&[&a, &b, &c2], 3, Duration::from_secs(60)).await;
    let members = a.client().await.member_list().await.unwrap();
    let ids: Vec<u64> = members.members().iter().map(|m| m.id()).collect();
    assert!(
        ids.contains(&c2.member_id) && !ids.contains(&old_id),
        "{ids:x?}"
    );
}

/// `--initial-cluster` with a shared `--pki-dir`: three replicas started at once form one
/// cluster with one CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_bootstrap_of_three_replicas() {
    let root = tempfile::tempdir().unwrap();
    let servers = common::start_static(root.path(), "s", 3).await;
    let pki = root.path().join("pki");
    let mut c0 = servers[0].client_with_pki(&pki).await;
    c0.put("static", "yes", None).await.unwrap();
    let mut c2 = servers[2].client_with_pki(&pki).await;
    assert_eq!(
        c2.get("static", None).await.unwrap().kvs()[0].value(),
        b"yes"
    );
    let ids: BTreeSet<u64> = c2
        .member_list()
        .await
        .unwrap()
        .members()
        .iter()
        .map(|m| m.id())
        .collect();
    assert_eq!(ids, servers.iter().map(|s| s.member_id).collect());
}

/// SIGTERM on the leader: it hands leadership over and exits 0; writes resume on the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_the_leader_hands_over_and_writes_resume() {
    let root = tempfile::tempdir().unwrap();
    let a = Server::first(root.path(), "a");
    let b = Server::joining(root.path(), "b", &a);
    let c = Server::joining(root.path(), "c", &a);
    let mut servers = [a, b, c];
    let leader = wait_cluster(
        &servers.iter().collect::<Vec<_>>(),
        3,
        Duration::from_secs(60),
    )
    .await;
    let li = servers.iter().position(|s| s.member_id == leader).unwrap();
    assert!(
        servers[li].terminate(),
        "the leader exits 0 on SIGTERM: {}",
        servers[li].log()
    );
    assert!(
        servers[li].log().contains("handed leadership over"),
        "{}",
        servers[li].log()
    );
    let rest: Vec<&Server> = servers.iter().filter(|s| s.is_running()).collect();
    let new_leader = wait_cluster(&rest, 3, Duration::from_secs(60)).await;
    assert_ne!(new_leader, leader);
    let mut cl = rest[0].client().await;
    cl.put("after", "handover", None).await.unwrap();
    assert_eq!(
        rest[1]
            .client()
            .await
            .get("after", None)
            .await
            .unwrap()
            .kvs()[0]
            .value(),
        b"handover"
    );
}

/// `--listen-client http://…` serves the etcd API in plaintext, as etcd allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_client_url_serves_without_tls() {
    let root = tempfile::tempdir().unwrap();
    let s = Server::start_on(
        root.path(),
        "plain",
        "http://127.0.0.1:0",
        "127.0.0.1:0",
        &[],
    );
    assert!(s.client_url.starts_with("http://"));
    let mut c = Client::connect([s.client_url.as_str()], None)
        .await
        .unwrap();
    c.put("p", "1", None).await.unwrap();
    assert_eq!(c.get("p", None).await.unwrap().kvs()[0].value(), b"1");
}

/// `capstan member add --learner URL`, then a replica started there with `--join` takes that
/// place and stays a learner until `capstan member promote`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_add_then_join_then_promote() {
    let root = tempfile::tempdir().unwrap();
    let a = Server::first(root.path(), "a");
    let port = common::free_port();
    let url = format!("https://127.0.0.1:{port}");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(common::BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&a.data_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "capstan {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let added = cli(&["member", "add", "--learner", &url]);
    let id = added
        .lines()
        .find_map(|l| l.strip_prefix("added "))
        .unwrap()
        .trim()
        .to_string();
    let b = Server::start_on(
        root.path(),
        "b",
        "https://127.0.0.1:0",
        &format!("127.0.0.1:{port}"),
        &[
            "--join".into(),
            a.peer_url.clone(),
            "--token".into(),
            a.token(),
        ],
    );
    assert_eq!(
        format!("{:x}", b.member_id),
        id,
        "the joiner took the announced place"
    );
    // It catches up but stays a learner. Had it been taken for a joiner, which the leader
    // promotes once caught up (it looks every 500 ms), a second later it would be a voter.
    wait_converged(&[&a, &b], Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let list = cli(&["member", "list"]);
    assert!(list.contains(&format!("{id}, learner, b, {url}")), "{list}");
    cli(&["member", "promote", &id]);
    wait_cluster(&[&a, &b], 2, Duration::from_secs(60)).await;
    let mut cb = b.client().await;
    cb.put("promoted", "1", None).await.unwrap();
    let list = cli(&["member", "list"]);
    assert!(list.contains(&format!("{id}, voter, b, {url}")), "{list}");
}

/// A replica whose store was lost (as after a crash in the middle of installing a snapshot: the
/// store's restore leaves it empty) while its raft log was already compacted comes back from its
/// own snapshot and catches up, instead of failing to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_an_empty_store_and_a_compacted_log_recovers_from_its_snapshot() {
    let root = tempfile::tempdir().unwrap();
    let small = ["--snapshot-count".to_string(), "50".to_string()];
    let a = Server::start(root.path(), "a", &small);
    let mut join = small.to_vec();
    join.extend([
        "--join".into(),
        a.peer_url.clone(),
        "--token".into(),
        a.token(),
    ]);
    let mut b = Server::start(root.path(), "b", &join);
    let c = Server::start(root.path(), "c", &join);
    wait_cluster(&[&a, &b, &c], 3, Duration::from_secs(60)).await;
    let mut cl = a.client().await;
    for i in 0..300 {
        cl.put(format!("w/{i:04}"), "v", None).await.unwrap();
    }
    wait_converged(&[&a, &b, &c], Duration::from_secs(60)).await;
    let snaps = b.data_dir.join("replica/snapshots");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !snaps.join("current.meta").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "b never took a snapshot"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.kill();
    std::fs::remove_dir_all(b.data_dir.join("replica/store")).unwrap();
    for i in 300..350 {
        cl.put(format!("w/{i:04}"), "v", None).await.unwrap();
    }
    b.restart();
    wait_cluster(&[&a, &b, &c], 3, Duration::from_secs(60)).await;
    wait_converged(&[&a, &b, &c], Duration::from_secs(60)).await;
    assert_eq!(local_keys(&b, "w/").await.len(), 350);
    assert!(
        b.log().contains("restoring the current raft snapshot"),
        "{}",
        b.log()
    );
}

/// The peer port speaks raft only with replica certificates: the admin certificate, from the
/// same CA, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_calls_need_a_replica_certificate() {
    use capstan_proto::raft::raft_client::RaftClient;
    use capstan_proto::raft::ReadIndexRequest;
    use tonic::transport::{Certificate as Ca, ClientTlsConfig, Endpoint, Identity as Id};

    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "peer");
    let read = |f: &str| std::fs::read_to_string(f).unwrap();
    let pki = s.pki_dir();
    let ca = read(pki.join("ca.crt").to_str().unwrap());
    let call = |cert: String, key: String| {
        let (ca, url) = (ca.clone(), s.peer_url.clone());
        async move {
            let ch = Endpoint::from_shared(url)
                .unwrap()
                .tls_config(
                    ClientTlsConfig::new()
                        .ca_certificate(Ca::from_pem(ca))
                        .identity(Id::from_pem(cert, key)),
                )
                .unwrap()
                .connect()
                .await
                .unwrap();
            RaftClient::new(ch).read_index(ReadIndexRequest {}).await
        }
    };
    let admin = call(
        read(pki.join("admin.crt").to_str().unwrap()),
        read(pki.join("admin.key").to_str().unwrap()),
    )
    .await;
    assert_eq!(
        admin.unwrap_err().code(),
        tonic::Code::PermissionDenied,
        "the admin certificate spoke raft"
    );
    let tls = s.data_dir.join("tls");
    let replica = call(
        read(tls.join("node.crt").to_str().unwrap()),
        read(tls.join("node.key").to_str().unwrap()),
    )
    .await;
    assert!(replica.is_ok(), "{replica:?}");
}
