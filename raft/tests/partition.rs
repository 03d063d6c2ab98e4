//! Partitions through loopback proxies: the majority elects a leader and keeps serving; the
//! minority refuses writes and linearizable reads with "no leader" and still serves serializable
//! reads; after healing every replica converges to the same state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::time::Duration;

use bytes::Bytes;
use capstan_store::proto::{PutRequest, RangeRequest};
use capstan_store::{Kv, KvError};
use common::TestCluster;

fn put(k: &str, v: &str) -> PutRequest {
    PutRequest {
        key: Bytes::from(k.to_string()),
        value: Bytes::from(v.to_string()),
        ..Default::default()
    }
}

fn get(k: &str, serializable: bool) -> RangeRequest {
    RangeRequest {
        key: Bytes::from(k.to_string()),
        serializable,
        ..Default::default()
    }
}

fn assert_no_leader(r: Result<impl std::fmt::Debug, KvError>, what: &str) {
    match r {
        Err(KvError::Unavailable(m)) if m.contains("no leader") => {}
        other => panic!("{what}: expected \"no leader\", got {other:?}"),
    }
}

async fn minority_refuses_and_majority_serves(isolate_leader: bool) {
    let c = TestCluster::start_proxied(3, |_| {}).await;
    let leader = c.wait_leader(Duration::from_secs(60)).await;
    let victim = if isolate_leader {
        leader
    } else {
        c.follower().await
    };
    c.kv(leader).put(put("before", "1")).await.unwrap();
    c.wait_converged(Duration::from_secs(60)).await;

    c.isolate(victim);
    let new_leader = if isolate_leader {
        c.wait_new_leader(victim, Duration::from_secs(60)).await
    } else {
        leader
    };
    let majority: Vec<_> = c
        .replicas
        .iter()
        .map(|r| r.id)
        .filter(|id| *id != victim)
        .collect();
    // The majority serves writes and linearizable reads, on the leader and through a follower.
    for (i, id) in majority.iter().enumerate() {
        c.kv(*id)
            .put(put(&format!("during/{i}"), "x"))
            .await
            .unwrap();
        let r = c.kv(*id).range(get("during/0", false)).await.unwrap();
        assert_eq!(r.kvs.len(), 1, "majority replica {id} reads its writes");
    }
    assert!(c.kv(new_leader).leadership().borrow().is_leader);

    // The minority refuses what needs a quorum, with a clear error, and changes nothing. An
    // isolated leader first has to notice it lost its quorum (as etcd's CheckQuorum does);
    // until then a write to it times out rather than being refused.
    let kv = c.kv(victim);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while kv.leadership().borrow().is_leader {
        assert!(
            std::time::Instant::now() < deadline,
            "the isolated leader never stepped down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_no_leader(kv.put(put("minority", "x")).await, "write in the minority");
    assert_no_leader(
        kv.range(get("before", false)).await,
        "linearizable read in the minority",
    );
    let r = kv.range(get("before", true)).await.unwrap();
    assert_eq!(
        r.kvs.len(),
        1,
        "serializable reads are served from local state"
    );
    let r = kv.range(get("during/0", true)).await.unwrap();
    assert!(
        r.kvs.is_empty(),
        "the minority never saw the majority's writes"
    );

    c.heal();
    let hash = c.wait_converged(Duration::from_secs(60)).await;
    for r in &c.replicas {
        let kv = c.kv(r.id);
        let got = kv.range(get("minority", true)).await.unwrap();
        assert!(got.kvs.is_empty(), "a refused write never appears");
        let got = kv.range(get("during/1", false)).await.unwrap();
        assert_eq!(
            got.kvs.len(),
            1,
            "replica {} has the majority's writes",
            r.id
        );
    }
    assert_ne!(hash, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_refuses_and_the_majority_elects_and_serves() {
    minority_refuses_and_majority_serves(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_follower_refuses_and_the_majority_serves() {
    minority_refuses_and_majority_serves(false).await;
}

/// A follower cut off while the leader compacts its log past the follower's position catches up
/// by snapshot install.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_a_compacted_log_catches_up_by_snapshot() {
    let c = TestCluster::start_proxied(3, |cfg| {
        cfg.snapshot_after = 50;
        cfg.keep_after_snapshot = 5;
    })
    .await;
    let leader = c.wait_leader(Duration::from_secs(60)).await;
    let lagger = c.follower().await;
    c.isolate(lagger);
    let behind = c
        .node(lagger)
        .raft()
        .metrics()
        .borrow()
        .last_log_index
        .unwrap_or(0);
    for i in 0..400 {
        c.kv(leader)
            .put(put(&format!("k/{i:04}"), &i.to_string()))
            .await
            .unwrap();
    }
    // Wait for the leader to purge its log past where the lagger stopped.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let purged = c
            .node(leader)
            .raft()
            .metrics()
            .borrow()
            .purged
            .map(|l| l.index)
            .unwrap_or(0);
        if purged > behind + 10 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the leader never purged its log"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.heal();
    c.wait_converged(Duration::from_secs(60)).await;
    let m = c.node(lagger).raft().metrics().borrow().clone();
    assert!(m.snapshot.is_some(), "the lagger holds a snapshot: {m:?}");
    let r = c
        .kv(lagger)
        .range(RangeRequest {
            key: Bytes::from_static(b"k/"),
            range_end: Bytes::from_static(b"k0"),
            serializable: true,
            count_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.count, 400);
}
