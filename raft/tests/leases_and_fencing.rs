//! Leases survive a leader change (the new leader extends every deadline by an election timeout)
//! and still expire afterwards; fenced writes apply only in the term they were started in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use capstan_store::proto::{PutRequest, RangeRequest};
use capstan_store::{Kv, KvError};
use common::TestCluster;

fn put(k: &str, lease: i64) -> PutRequest {
    PutRequest {
        key: Bytes::from(k.to_string()),
        value: Bytes::from_static(b"v"),
        lease,
        ..Default::default()
    }
}

async fn exists(kv: &dyn Kv, k: &str) -> bool {
    let r = kv
        .range(RangeRequest {
            key: Bytes::from(k.to_string()),
            serializable: true,
            ..Default::default()
        })
        .await
        .unwrap();
    !r.kvs.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_change_does_not_expire_leases_and_expiry_resumes_after_it() {
    let c = TestCluster::start_proxied(3, |_| {}).await;
    let leader = c.wait_leader(Duration::from_secs(60)).await;
    let kv = c.kv(leader);
    let ttl = 2;
    let lease = kv.lease_grant(ttl, 0).await.unwrap().id;
    let granted = Instant::now();
    kv.put(put("eph", lease)).await.unwrap();
    // Let most of the TTL pass without keep-alives, then take the leader away.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let isolated = Instant::now();
    c.isolate(leader);
    let new_leader = c.wait_new_leader(leader, Duration::from_secs(60)).await;
    let nkv = c.kv(new_leader);
    // The followers' deadlines said "expire at granted + 2 s"; the new leader extended them to a
    // full TTL (and more) from its election, which came after the isolation. So the lease may
    // only be gone in an answer that came a TTL after the isolation, which a slow machine can
    // reach, never before.
    let may_be_gone = isolated + Duration::from_secs(ttl as u64);
    let until = granted + Duration::from_millis(2600);
    while Instant::now() < until {
        let alive = exists(&nkv, "eph").await;
        assert!(
            alive || Instant::now() >= may_be_gone,
            "lease expired because leadership moved"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ttl_now = nkv.lease_time_to_live(lease, false).await.unwrap();
    assert!(
        ttl_now.ttl > 0 || Instant::now() >= may_be_gone,
        "still alive after the change: {ttl_now:?}"
    );
    // Without keep-alives it does expire on the new leader (the deadline only catches a lease
    // that never expires).
    let deadline = Instant::now() + Duration::from_secs(60);
    while exists(&nkv, "eph").await {
        assert!(
            Instant::now() < deadline,
            "the lease never expired on the new leader"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        nkv.lease_time_to_live(lease, false).await.unwrap().ttl,
        -1,
        "the expired lease is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fenced_writes_apply_only_in_their_term() {
    let c = TestCluster::start_proxied(3, |_| {}).await;
    let leader = c.wait_leader(Duration::from_secs(60)).await;
    let follower = c.follower().await;
    let term = c.kv(leader).leadership().borrow().term;
    assert!(term >= 1);

    // The current term: applies, from the leader and through a follower.
    c.kv(leader).fenced(term).put(put("a", 0)).await.unwrap();
    c.kv(follower).fenced(term).put(put("b", 0)).await.unwrap();
    // Another term: refused, nothing changed.
    let before = c.kv(leader).status().await.unwrap().revision;
    let e = c
        .kv(follower)
        .fenced(term + 1)
        .put(put("c", 0))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        KvError::Fenced {
            expected: term + 1,
            actual: term
        }
    );
    assert_eq!(c.kv(leader).status().await.unwrap().revision, before);

    // After a new leader is elected, work fenced to the old term can no longer write anywhere.
    c.isolate(leader);
    let new_leader = c.wait_new_leader(leader, Duration::from_secs(60)).await;
    let new_term = c.kv(new_leader).leadership().borrow().term;
    assert!(new_term > term);
    let e = c
        .kv(new_leader)
        .fenced(term)
        .put(put("d", 0))
        .await
        .unwrap_err();
    assert!(
        matches!(e, KvError::Fenced { expected, .. } if expected == term),
        "{e:?}"
    );
    assert!(!exists(&c.kv(new_leader), "d").await);
    c.kv(new_leader)
        .fenced(new_term)
        .put(put("e", 0))
        .await
        .unwrap();
    c.heal();
    c.wait_converged(Duration::from_secs(60)).await;
    for r in &c.replicas {
        assert!(!exists(&c.kv(r.id), "d").await && !exists(&c.kv(r.id), "c").await);
        assert!(exists(&c.kv(r.id), "e").await);
    }
}
