//! `capstan backup` and `capstan restore` against real replicas: a backup taken during a write
//! load restores on three replicas into a healthy new cluster with the same keyspace hash, whose
//! revisions are bumped and history compacted so old watchers re-list; damaged files are refused
//! and write nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    initial_cluster, start_static, wait_api_ready, wait_cluster, wait_converged, Server, BIN,
};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

fn capstan(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "capstan failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a refusal ({why})");
    assert!(err.contains(why), "expected {why:?} in: {err}");
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap()
}

/// The revision `capstan backup verify` reports.
fn verified_revision(file: &Path) -> i64 {
    let out = ok(&capstan(&["backup", "verify", file.to_str().unwrap()]));
    let rest = out.split("revision ").nth(1).expect(&out);
    rest.split(',').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_on_three_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let old = start_static(&dir.path().join("old"), "b", 3).await;
    wait_api_ready(&old[0], Duration::from_secs(60)).await;
    let pods: Api<Pod> = Api::namespaced(old[0].kube().await, "default");
    for name in ["p1", "p2"] {
        pods.create(&PostParams::default(), &pod(name))
            .await
            .unwrap();
    }
    let old_rv = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    // Writes keep coming while the backup streams.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let mut writer = old[0].client().await;
    let load = {
        let (stop, acked) = (stop.clone(), acked.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                writer
                    .put(format!("/load/{i:06}"), vec![b'x'; 512], None)
                    .await
                    .unwrap();
                acked.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        })
    };
    let wait_acked = |more: u64| {
        let want = acked.load(Ordering::SeqCst) + more;
        let acked = acked.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked.load(Ordering::SeqCst) < want {
                assert!(Instant::now() < deadline, "the write load stalled");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_acked(20).await;
    let file = dir.path().join("cluster.backup");
    // Through a follower's data dir (its endpoints and the shared admin certificate).
    let out = ok(&capstan(&[
        "backup",
        file.to_str().unwrap(),
        "--data-dir",
        old[1].data_dir.to_str().unwrap(),
    ]));
    assert!(out.starts_with("backup "), "{out}");
    // And the writes carry on after it.
    wait_acked(20).await;
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    assert!(acked.load(Ordering::SeqCst) > 0);
    // Every replica has applied all of it (the backup's revision is read on old[2] below).
    wait_converged(&old.iter().collect::<Vec<_>>(), Duration::from_secs(60)).await;

    let rev = verified_revision(&file);
    // The source compacted at the backup's revision has the image the restore builds.
    let mut src = old[2].client().await;
    // With its history kept, a restore is the source at the backup's revision, history and all.
    let full_hash = src.hash_kv(rev).await.unwrap().hash();
    src.compact(rev, None).await.unwrap();
    let source_hash = src.hash_kv(rev).await.unwrap().hash();
    let old_cluster = src.status().await.unwrap().header().unwrap().cluster_id();

    // The same file restored on three new replicas.
    let root = dir.path().join("new");
    let (ports, spec) = initial_cluster("r", 3);
    let pki = root.join("pki");
    let mut restored = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let name = format!("r{i}");
        ok(&capstan(&[
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            root.join(&name).to_str().unwrap(),
            "--name",
            &name,
            "--initial-cluster",
            &spec,
        ]));
        restored.push(Server::start_on(
            &root,
            &name,
            "https://127.0.0.1:0",
            &format!("127.0.0.1:{p}"),
            &["--pki-dir".into(), pki.display().to_string()],
        ));
    }
    let refs: Vec<&Server> = restored.iter().collect();
    wait_cluster(&refs, 3, Duration::from_secs(60)).await;
    for (s, o) in restored.iter().zip(&old) {
        assert_ne!(
            s.member_id, o.member_id,
            "a restored member kept its old id"
        );
    }
    for s in &restored {
        let mut c = s.client().await;
        // At the restore point (the revision the restore compacted at): the restored replicas
        // write on their own from the start (their identity Leases, the controllers), so the
        // newest revision moves on.
        let restored_at = c.hash_kv(0).await.unwrap().compact_version();
        let h = c.hash_kv(restored_at).await.unwrap();
        assert_eq!(
            h.hash(),
            source_hash,
            "{} holds another keyspace than the backup",
            s.name
        );
        let header = h.header().unwrap();
        assert_ne!(header.cluster_id(), old_cluster, "the cluster id was kept");
        assert!(restored_at >= rev + 1_000_000_000, "revision not bumped");
        // Compacted at the restore point, which is where the restored history begins.
        assert!(header.revision() >= restored_at);
    }

    // An etcd watcher of the old cluster resuming on the new one is told it was compacted.
    let mut c = restored[1].client().await;
    let mut stream = c
        .watch(
            "/load/",
            Some(
                etcd_client::WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(rev),
            ),
        )
        .await
        .unwrap();
    let resp = loop {
        let resp = tokio::time::timeout(Duration::from_secs(60), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        // "created" first, then the cancel with the compact revision.
        if resp.canceled() || !resp.created() {
            break resp;
        }
    };
    assert!(resp.canceled() && resp.compact_revision() > rev, "{resp:?}");

    // A Kubernetes watcher resuming from its old resourceVersion gets 410 and re-lists.
    wait_api_ready(&restored[2], Duration::from_secs(60)).await;
    let new_pods: Api<Pod> = Api::namespaced(restored[2].kube().await, "default");
    let mut raw = new_pods
        .watch(&WatchParams::default(), &old_rv)
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(Duration::from_secs(60), raw.next())
        .await
        .unwrap()
    {
        Some(Ok(WatchEvent::Error(e))) => assert_eq!(e.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    let names: Vec<String> = new_pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(names, ["p1", "p2"]);
    // And the new cluster takes writes.
    new_pods
        .create(&PostParams::default(), &pod("p3"))
        .await
        .unwrap();

    // `--keep-history`: one replica whose HashKV at the backup's revision is the uncompacted
    // source's.
    let kept = dir.path().join("kept");
    ok(&capstan(&[
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        kept.join("k").to_str().unwrap(),
        "--name",
        "k",
        "--keep-history",
    ]));
    let k = Server::start(&kept, "k", &[]);
    let mut kc = k.client().await;
    assert_eq!(kc.hash_kv(rev).await.unwrap().hash(), full_hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_backups_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "one");
    let mut c = s.client().await;
    for i in 0..100 {
        c.put(format!("/k/{i}"), format!("v{i}"), None)
            .await
            .unwrap();
    }
    let good = dir.path().join("good.backup");
    let data_dir = s.data_dir.clone();
    let data = data_dir.to_str().unwrap();
    ok(&capstan(&[
        "backup",
        good.to_str().unwrap(),
        "--data-dir",
        data,
    ]));
    refused(
        &capstan(&["backup", good.to_str().unwrap(), "--data-dir", data]),
        "exists",
    );
    let bytes = std::fs::read(&good).unwrap();

    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    let cases = [
        ("flipped", flipped, "checksum mismatch"),
        (
            "truncated",
            bytes[..bytes.len() - 100].to_vec(),
            "truncated",
        ),
        (
            "wrong-type",
            b"apiVersion: v1\nkind: Config\n".repeat(50),
            "not a capstan backup",
        ),
    ];
    for (name, content, why) in cases {
        let f = dir.path().join(format!("{name}.backup"));
        std::fs::write(&f, content).unwrap();
        refused(&capstan(&["backup", "verify", f.to_str().unwrap()]), why);
        let target = dir.path().join(format!("restore-{name}"));
        refused(
            &capstan(&[
                "restore",
                f.to_str().unwrap(),
                "--data-dir",
                target.to_str().unwrap(),
            ]),
            why,
        );
        assert!(!target.exists(), "a refused restore wrote {target:?}");
    }

    // A data dir in use is refused without --force.
    refused(
        &capstan(&["restore", good.to_str().unwrap(), "--data-dir", data]),
        "not empty",
    );
    drop(c);
    drop(s);
    let out = ok(&capstan(&[
        "restore",
        good.to_str().unwrap(),
        "--data-dir",
        data,
        "--force",
    ]));
    assert!(out.contains("new cluster"), "{out}");
    let again = Server::start(dir.path(), "one", &[]);
    let mut c = again.client().await;
    let got = c.get("/k/42", None).await.unwrap();
    assert_eq!(got.kvs()[0].value(), b"v42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_keeps_scheduled_backups_within_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let servers = start_static(dir.path(), "s", 3).await;
    drop(servers);
    let flags = [
        "--snapshot-interval".to_string(),
        "1s".to_string(),
        "--snapshot-retention".to_string(),
        "2".to_string(),
    ];
    // Restarted with a schedule: only the leader writes backups, and keeps the newest two.
    let mut restarted = Vec::new();
    for i in 0..3 {
        let name = format!("s{i}");
        let peer = std::fs::read_to_string(dir.path().join(&name).join("endpoints.json"))
            .unwrap()
            .split("\"peer\":\"https://")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let mut extra = vec![
            "--pki-dir".to_string(),
            dir.path().join("pki").display().to_string(),
        ];
        extra.extend(flags.iter().cloned());
        restarted.push(Server::start_on(
            dir.path(),
            &name,
            "https://127.0.0.1:0",
            &peer,
            &extra,
        ));
    }
    let refs: Vec<&Server> = restarted.iter().collect();
    let leader = wait_cluster(&refs, 3, Duration::from_secs(60)).await;
    // Let the schedule run until the leader has written a third backup (so the retention has
    // dropped one), then stop every replica (followers first, so the leader stays the leader),
    // so that nothing is being written while the files are counted.
    let li = restarted
        .iter()
        .position(|s| s.member_id == leader)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while restarted[li]
        .log()
        .matches("scheduled backup written")
        .count()
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "the leader never wrote three scheduled backups: {}",
            restarted[li].log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in (0..restarted.len()).filter(|i| *i != li).chain([li]) {
        let s = &mut restarted[i];
        assert!(s.terminate(), "{} exits 0 on SIGTERM: {}", s.name, s.log());
    }
    let mut listed = 0;
    for s in &restarted {
        let out = ok(&capstan(&[
            "backup",
            "list",
            "--data-dir",
            s.data_dir.to_str().unwrap(),
        ]));
        let files: Vec<&str> = out.lines().collect();
        if s.member_id == leader {
            assert_eq!(files.len(), 2, "retention 2 on the leader: {out}");
            for line in files {
                let path = line.split(": ").next().unwrap();
                ok(&capstan(&["backup", "verify", path]));
            }
            listed += 1;
        } else {
            assert!(files.is_empty(), "a follower wrote backups: {out}");
        }
    }
    assert_eq!(listed, 1);
}
