//! The storage conformance suite: one async function per rule of etcd's KV model, each run against
//! any `Kv` (the in-memory model, the RocksDB store, and the raft-backed store). Use
//! [`conformance_tests!`](crate::conformance_tests) to instantiate every test for a factory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::any::Any;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use capstan_proto::store::{
    compare, event, range_request, request_op, response_op, watch_request, Compare,
    DeleteRangeRequest, Event, KeyValue, PutRequest, RangeRequest, RangeResponse, RequestOp,
    TxnRequest, TxnResponse, WatchRequest, WatchResponse,
};

use crate::{Kv, KvError, StoreConfig, WatchHubConfig, Watcher};

/// A store under test and whatever must live as long as it (a temp dir, a cluster).
pub struct Harness {
    pub kv: Arc<dyn Kv>,
    pub guard: Box<dyn Any + Send + Sync>,
}

/// Store settings for tests: small watch buffers (so slow-watcher paths run), 1 s minimum lease
/// TTL, fast progress ticks.
pub fn test_config() -> StoreConfig {
    StoreConfig {
        watch: WatchHubConfig {
            buffer: 4,
            progress_interval: Duration::from_millis(200),
            page_events: 50,
        },
        min_lease_ttl: 1,
        expire_leases: true,
        lease_check_interval: Duration::from_millis(50),
        sync_writes: false,
    }
}

/// A fresh in-memory store.
pub async fn mem_harness() -> Harness {
    Harness {
        kv: Arc::new(crate::Store::new(crate::MemBackend::new(), test_config()).unwrap()),
        guard: Box::new(()),
    }
}

/// A fresh RocksDB store in a temp dir.
#[cfg(feature = "rocks")]
pub async fn rocks_harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let backend = crate::RocksBackend::open(dir.path()).unwrap();
    Harness {
        kv: Arc::new(crate::Store::new(backend, test_config()).unwrap()),
        guard: Box::new(dir),
    }
}

// ---- helpers ----

pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub async fn put(kv: &dyn Kv, k: &str, v: &str) -> i64 {
    kv.put(PutRequest {
        key: b(k),
        value: b(v),
        ..Default::default()
    })
    .await
    .unwrap()
    .revision
}

pub async fn get(kv: &dyn Kv, k: &str) -> Option<KeyValue> {
    kv.range(RangeRequest {
        key: b(k),
        ..Default::default()
    })
    .await
    .unwrap()
    .kvs
    .into_iter()
    .next()
}

pub async fn list(kv: &dyn Kv, start: &str, end: &str) -> RangeResponse {
    kv.range(RangeRequest {
        key: b(start),
        range_end: b(end),
        ..Default::default()
    })
    .await
    .unwrap()
}

pub async fn revision(kv: &dyn Kv) -> i64 {
    kv.status().await.unwrap().revision
}

pub async fn hash(kv: &dyn Kv) -> u32 {
    kv.hash_kv(0).await.unwrap().hash
}

pub fn put_op(k: &str, v: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::Put(PutRequest {
            key: b(k),
            value: b(v),
            ..Default::default()
        })),
    }
}

pub fn del_op(k: &str, end: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
            key: b(k),
            range_end: b(end),
            prev_kv: false,
        })),
    }
}

pub fn range_op(k: &str, end: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::Range(RangeRequest {
            key: b(k),
            range_end: b(end),
            ..Default::default()
        })),
    }
}

pub fn txn_op(t: TxnRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::Txn(t)),
    }
}

pub fn cmp(
    k: &str,
    target: compare::CompareTarget,
    result: compare::CompareResult,
    u: compare::TargetUnion,
) -> Compare {
    Compare {
        key: b(k),
        target: target as i32,
        result: result as i32,
        target_union: Some(u),
        range_end: Bytes::new(),
    }
}

pub fn watch_req(k: &str, end: &str, start: i64) -> WatchRequest {
    WatchRequest {
        key: b(k),
        range_end: b(end),
        start_revision: start,
        ..Default::default()
    }
}

/// The next response, failing the test after 10 s.
pub async fn next(w: &mut Watcher) -> WatchResponse {
    tokio::time::timeout(Duration::from_secs(10), w.recv())
        .await
        .expect("watch response in time")
        .expect("watch still open")
}

/// Reads events until one at or past `rev` arrives; returns all events read (progress skipped).
pub async fn events_until(w: &mut Watcher, rev: i64) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        let r = next(w).await;
        assert!(!r.canceled, "unexpected cancel: {r:?}");
        let last = r
            .events
            .last()
            .and_then(|e| e.kv.as_ref())
            .map(|kv| kv.mod_revision);
        out.extend(r.events);
        if last.is_some_and(|l| l >= rev) {
            return out;
        }
    }
}

fn txn_resp_range(t: &TxnResponse, i: usize) -> &RangeResponse {
    match &t.responses[i].response {
        Some(response_op::Response::Range(r)) => r,
        other => panic!("expected range response, got {other:?}"),
    }
}

// ---- the rules ----

pub async fn fresh_store_is_at_revision_one(kv: &dyn Kv) {
    assert_eq!(revision(kv).await, 1);
    assert_eq!(put(kv, "a", "1").await, 2);
}

pub async fn each_changing_txn_adds_exactly_one_revision(kv: &dyn Kv) {
    let r0 = revision(kv).await;
    let t = kv
        .txn(TxnRequest {
            success: vec![put_op("a", "1"), put_op("b", "2"), put_op("c", "3")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(t.revision, r0 + 1);
    for k in ["a", "b", "c"] {
        assert_eq!(
            get(kv, k).await.unwrap().mod_revision,
            r0 + 1,
            "all effects of a txn at one revision"
        );
    }
    assert_eq!(put(kv, "a", "x").await, r0 + 2);
}

pub async fn txn_that_changes_nothing_keeps_the_revision(kv: &dyn Kv) {
    put(kv, "a", "1").await;
    let r0 = revision(kv).await;
    let t = kv
        .txn(TxnRequest {
            success: vec![range_op("a", ""), del_op("missing", "")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(t.revision, r0);
    let d = kv
        .delete_range(DeleteRangeRequest {
            key: b("nope"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(d.deleted, 0);
    assert_eq!(revision(kv).await, r0);
}

pub async fn put_sets_create_and_mod_revision_and_version(kv: &dyn Kv) {
    let r1 = put(kv, "k", "v1").await;
    let kv1 = get(kv, "k").await.unwrap();
    assert_eq!(
        (kv1.create_revision, kv1.mod_revision, kv1.version),
        (r1, r1, 1)
    );
    let r2 = put(kv, "k", "v2").await;
    let kv2 = get(kv, "k").await.unwrap();
    assert_eq!(
        (
            kv2.create_revision,
            kv2.mod_revision,
            kv2.version,
            kv2.value
        ),
        (r1, r2, 2, b("v2"))
    );
}

pub async fn delete_resets_version(kv: &dyn Kv) {
    put(kv, "k", "1").await;
    put(kv, "k", "2").await;
    kv.delete_range(DeleteRangeRequest {
        key: b("k"),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(get(kv, "k").await.is_none());
    let r = put(kv, "k", "3").await;
    let again = get(kv, "k").await.unwrap();
    assert_eq!(
        (again.version, again.create_revision, again.mod_revision),
        (1, r, r)
    );
}

pub async fn compares_on_value_version_create_mod_and_lease(kv: &dyn Kv) {
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    let r = put(kv, "k", "v").await;
    let cases = vec![
        (cmp("k", T::Value, R::Equal, U::Value(b("v"))), true),
        (cmp("k", T::Value, R::Greater, U::Value(b("u"))), true),
        (cmp("k", T::Value, R::Less, U::Value(b("u"))), false),
        (cmp("k", T::Version, R::Equal, U::Version(1)), true),
        (cmp("k", T::Version, R::NotEqual, U::Version(1)), false),
        (cmp("k", T::Create, R::Equal, U::CreateRevision(r)), true),
        (cmp("k", T::Mod, R::Less, U::ModRevision(r + 1)), true),
        (cmp("k", T::Mod, R::Greater, U::ModRevision(r)), false),
        (cmp("k", T::Lease, R::Equal, U::Lease(0)), true),
        // A value compare without a value compares with the empty value.
        (
            Compare {
                target_union: None,
                ..cmp("k", T::Value, R::Greater, U::Value(b("")))
            },
            true,
        ),
    ];
    for (c, want) in cases {
        let t = kv
            .txn(TxnRequest {
                compare: vec![c.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(t.succeeded, want, "{c:?}");
    }
}

pub async fn compare_on_a_missing_key_sees_version_zero_and_value_compares_fail(kv: &dyn Kv) {
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    let t = kv
        .txn(TxnRequest {
            compare: vec![cmp("none", T::Version, R::Equal, U::Version(0))],
            success: vec![put_op("none", "x")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(t.succeeded, "create-if-absent idiom");
    let t = kv
        .txn(TxnRequest {
            compare: vec![cmp("absent", T::Value, R::NotEqual, U::Value(b("x")))],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!t.succeeded, "a value compare on a missing key fails");
}

pub async fn compare_over_a_range_must_hold_for_every_key(kv: &dyn Kv) {
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    put(kv, "p/a", "1").await;
    put(kv, "p/b", "1").await;
    let mut c = cmp("p/", T::Value, R::Equal, U::Value(b("1")));
    c.range_end = b("p0");
    assert!(
        kv.txn(TxnRequest {
            compare: vec![c.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .succeeded
    );
    put(kv, "p/c", "2").await;
    assert!(
        !kv.txn(TxnRequest {
            compare: vec![c],
            ..Default::default()
        })
        .await
        .unwrap()
        .succeeded
    );
}

pub async fn failed_compare_runs_the_failure_branch(kv: &dyn Kv) {
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    put(kv, "k", "v").await;
    let t = kv
        .txn(TxnRequest {
            compare: vec![cmp("k", T::Value, R::Equal, U::Value(b("other")))],
            success: vec![put_op("s", "1")],
            failure: vec![put_op("f", "1"), range_op("k", "")],
        })
        .await
        .unwrap();
    assert!(!t.succeeded);
    assert!(get(kv, "s").await.is_none());
    assert!(get(kv, "f").await.is_some());
    assert_eq!(txn_resp_range(&t, 1).kvs[0].value, b("v"));
}

pub async fn nested_txn_compares_see_the_state_before_the_txn(kv: &dyn Kv) {
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    let inner = TxnRequest {
        compare: vec![cmp("x", T::Version, R::Equal, U::Version(0))],
        success: vec![put_op("y", "absent-before")],
        failure: vec![put_op("y", "present-before")],
    };
    kv.txn(TxnRequest {
        success: vec![put_op("x", "1"), txn_op(inner)],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(get(kv, "y").await.unwrap().value, b("absent-before"));
}

pub async fn range_inside_a_txn_sees_the_txns_earlier_writes(kv: &dyn Kv) {
    let r0 = revision(kv).await;
    let t = kv
        .txn(TxnRequest {
            success: vec![put_op("a", "1"), range_op("a", "")],
            ..Default::default()
        })
        .await
        .unwrap();
    let r = txn_resp_range(&t, 1);
    assert_eq!(r.kvs[0].value, b("1"));
    assert_eq!(r.kvs[0].mod_revision, r0 + 1);
}

pub async fn duplicate_keys_in_one_txn_branch_are_refused(kv: &dyn Kv) {
    let r0 = revision(kv).await;
    let e = kv
        .txn(TxnRequest {
            success: vec![put_op("a", "1"), put_op("a", "2")],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e, KvError::DuplicateKey);
    let e = kv
        .txn(TxnRequest {
            success: vec![put_op("b/1", "1"), del_op("b/", "b0")],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e, KvError::DuplicateKey);
    let nested = TxnRequest {
        success: vec![put_op("c", "1")],
        ..Default::default()
    };
    let e = kv
        .txn(TxnRequest {
            success: vec![put_op("c", "0"), txn_op(nested)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e, KvError::DuplicateKey);
    // A put in one nested txn and a delete of it in a later sibling: refused as well.
    let put_then = TxnRequest {
        success: vec![put_op("e", "1")],
        ..Default::default()
    };
    let del_later = TxnRequest {
        success: vec![del_op("e", "")],
        ..Default::default()
    };
    let e = kv
        .txn(TxnRequest {
            success: vec![txn_op(put_then), txn_op(del_later)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e, KvError::DuplicateKey);
    // The same key in a nested txn's two branches is fine: only one runs.
    let nested = TxnRequest {
        success: vec![put_op("d", "1")],
        failure: vec![put_op("d", "2")],
        ..Default::default()
    };
    kv.txn(TxnRequest {
        success: vec![txn_op(nested)],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(revision(kv).await, r0 + 1);
}

pub async fn range_end_rules_single_key_prefix_and_from_key(kv: &dyn Kv) {
    for k in ["a", "ab", "abc", "b", "c\u{0}", "d"] {
        put(kv, k, "v").await;
    }
    let keys = |r: RangeResponse| {
        r.kvs
            .into_iter()
            .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(list(kv, "ab", "").await), vec!["ab"]);
    let end = String::from_utf8(crate::keys::prefix_end(b"ab").unwrap()).unwrap();
    assert_eq!(keys(list(kv, "ab", &end).await), vec!["ab", "abc"]);
    assert_eq!(keys(list(kv, "b", "\u{0}").await), vec!["b", "c\u{0}", "d"]);
    assert_eq!(
        keys(list(kv, "\u{0}", "\u{0}").await).len(),
        6,
        "\\0..\\0 is every key"
    );
    assert_eq!(keys(list(kv, "b", "b").await), Vec::<String>::new());
}

pub async fn limit_reports_count_and_more(kv: &dyn Kv) {
    for i in 0..10 {
        put(kv, &format!("k{i}"), "v").await;
    }
    let r = kv
        .range(RangeRequest {
            key: b("k"),
            range_end: b("l"),
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((r.kvs.len(), r.count, r.more), (3, 10, true));
    assert_eq!(r.kvs[0].key, b("k0"));
    let r = kv
        .range(RangeRequest {
            key: b("k"),
            range_end: b("l"),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((r.kvs.len(), r.count, r.more), (10, 10, false));
}

/// `skip_count` (a capstan extension for paging) stops at the limit: the same keys and `more`,
/// without counting the rest of the range, at the current and at an older revision.
pub async fn skip_count_pages_without_counting_the_whole_range(kv: &dyn Kv) {
    let keys = |r: RangeResponse| -> Vec<String> {
        r.kvs
            .iter()
            .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
            .collect()
    };
    for i in 0..10 {
        put(kv, &format!("k{i}"), "v").await;
    }
    let old = revision(kv).await;
    put(kv, "k5", "again").await;
    for rev in [0, old] {
        let page = |limit| RangeRequest {
            key: b("k"),
            range_end: b("l"),
            limit,
            revision: rev,
            skip_count: true,
            ..Default::default()
        };
        let r = kv.range(page(3)).await.unwrap();
        assert_eq!(keys(r.clone()), vec!["k0", "k1", "k2"]);
        assert!(r.more);
        assert!(r.count < 10, "counted the whole range: {}", r.count);
        let r = kv.range(page(10)).await.unwrap();
        assert_eq!((r.kvs.len(), r.more), (10, false));
        let r = kv.range(page(0)).await.unwrap();
        assert_eq!((r.kvs.len(), r.count, r.more), (10, 10, false));
    }
}

pub async fn keys_only_and_count_only(kv: &dyn Kv) {
    put(kv, "a", "value").await;
    put(kv, "b", "value").await;
    let r = kv
        .range(RangeRequest {
            key: b("a"),
            range_end: b("c"),
            keys_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.kvs.iter().all(|kv| kv.value.is_empty()) && r.kvs.len() == 2);
    assert_eq!(r.kvs[1].version, 1);
    let r = kv
        .range(RangeRequest {
            key: b("a"),
            range_end: b("c"),
            count_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.kvs.is_empty());
    assert_eq!(r.count, 2);
}

pub async fn sort_by_each_target_and_order(kv: &dyn Kv) {
    use range_request::{SortOrder as O, SortTarget as T};
    put(kv, "s/a", "3").await;
    put(kv, "s/b", "1").await;
    put(kv, "s/c", "2").await;
    put(kv, "s/b", "1").await;
    let keys = |r: RangeResponse| {
        r.kvs
            .into_iter()
            .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
            .collect::<Vec<_>>()
    };
    let q = |o: O, t: T, limit| RangeRequest {
        key: b("s/"),
        range_end: b("s0"),
        sort_order: o as i32,
        sort_target: t as i32,
        limit,
        ..Default::default()
    };
    assert_eq!(
        keys(kv.range(q(O::Descend, T::Key, 0)).await.unwrap()),
        vec!["s/c", "s/b", "s/a"]
    );
    assert_eq!(
        keys(kv.range(q(O::Ascend, T::Value, 0)).await.unwrap()),
        vec!["s/b", "s/c", "s/a"]
    );
    assert_eq!(
        keys(kv.range(q(O::Descend, T::Mod, 0)).await.unwrap()),
        vec!["s/b", "s/c", "s/a"]
    );
    assert_eq!(
        keys(kv.range(q(O::Descend, T::Version, 1)).await.unwrap()),
        vec!["s/b"]
    );
    assert_eq!(
        keys(kv.range(q(O::None, T::Create, 0)).await.unwrap()),
        vec!["s/a", "s/b", "s/c"],
        "NONE with a target sorts ascending"
    );
    // NONE with a limit sorts only the first limit + 1 keys it reads in key order, as etcd
    // does; an explicit order sorts the whole range.
    put(kv, "n/a", "9").await;
    put(kv, "n/b", "8").await;
    put(kv, "n/c", "1").await;
    let n = |o: O| RangeRequest {
        key: b("n/"),
        range_end: b("n0"),
        sort_order: o as i32,
        sort_target: T::Value as i32,
        limit: 1,
        ..Default::default()
    };
    let r = kv.range(n(O::None)).await.unwrap();
    assert_eq!(
        (keys(r.clone()), r.more, r.count),
        (vec!["n/b".to_string()], true, 3)
    );
    assert_eq!(keys(kv.range(n(O::Ascend)).await.unwrap()), vec!["n/c"]);
    let r = kv.range(q(O::Descend, T::Key, 2)).await.unwrap();
    assert_eq!(
        (keys(r.clone()), r.more, r.count),
        (vec!["s/c".to_string(), "s/b".to_string()], true, 3)
    );
    // Keys only: still sorted by the values, which are dropped afterwards.
    let r = kv
        .range(RangeRequest {
            keys_only: true,
            ..q(O::Ascend, T::Value, 0)
        })
        .await
        .unwrap();
    assert!(r.kvs.iter().all(|kv| kv.value.is_empty()));
    assert_eq!(keys(r), vec!["s/b", "s/c", "s/a"]);
}

pub async fn sorted_ties_keep_key_order_in_both_directions(kv: &dyn Kv) {
    use range_request::{SortOrder as O, SortTarget as T};
    // Values 3, 1, 2, 2 and versions 1, 1, 1, 2: ties among both.
    put(kv, "t/a", "3").await;
    put(kv, "t/b", "1").await;
    put(kv, "t/c", "2").await;
    put(kv, "t/d", "2").await;
    put(kv, "t/b", "1").await;
    let sorted = |o: O, t: T| async move {
        kv.range(RangeRequest {
            key: b("t/"),
            range_end: b("t0"),
            sort_order: o as i32,
            sort_target: t as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect::<Vec<_>>()
    };
    assert_eq!(
        sorted(O::Descend, T::Value).await,
        vec!["t/a", "t/c", "t/d", "t/b"]
    );
    assert_eq!(
        sorted(O::Ascend, T::Value).await,
        vec!["t/b", "t/c", "t/d", "t/a"]
    );
    assert_eq!(
        sorted(O::Descend, T::Version).await,
        vec!["t/b", "t/a", "t/c", "t/d"]
    );
    assert_eq!(
        sorted(O::Ascend, T::Version).await,
        vec!["t/a", "t/c", "t/d", "t/b"]
    );
}

pub async fn a_range_ending_before_its_key_is_empty_and_only_a_watch_refuses_it(kv: &dyn Kv) {
    put(kv, "a/a", "1").await;
    put(kv, "a/c", "2").await;
    let r0 = revision(kv).await;
    for (key, end) in [("a/c", "a/a"), ("a/c", "a/c")] {
        let r = kv
            .range(RangeRequest {
                key: b(key),
                range_end: b(end),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (r.kvs.len(), r.count, r.more, r.revision),
            (0, 0, false, r0)
        );
        let d = kv
            .delete_range(DeleteRangeRequest {
                key: b(key),
                range_end: b(end),
                prev_kv: true,
            })
            .await
            .unwrap();
        assert_eq!((d.deleted, d.prev_kvs.len(), d.revision), (0, 0, r0));
        // In a txn: a compare over no key sees version 0; the ops read and delete nothing.
        let t = kv
            .txn(TxnRequest {
                compare: vec![Compare {
                    key: b(key),
                    range_end: b(end),
                    target: compare::CompareTarget::Version as i32,
                    result: compare::CompareResult::Equal as i32,
                    target_union: Some(compare::TargetUnion::Version(0)),
                }],
                success: vec![
                    RequestOp {
                        request: Some(request_op::Request::Range(RangeRequest {
                            key: b(key),
                            range_end: b(end),
                            ..Default::default()
                        })),
                    },
                    RequestOp {
                        request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
                            key: b(key),
                            range_end: b(end),
                            ..Default::default()
                        })),
                    },
                ],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(t.succeeded);
        match (&t.responses[0].response, &t.responses[1].response) {
            (
                Some(response_op::Response::Range(r)),
                Some(response_op::Response::DeleteRange(d)),
            ) => assert_eq!((r.kvs.len(), r.count, d.deleted), (0, 0, 0)),
            other => panic!("unexpected txn responses {other:?}"),
        }
        let refused = kv.watch(watch_req(key, end, 0)).await.err();
        assert_eq!(refused, Some(KvError::EmptyWatchRange));
    }
    assert_eq!(revision(kv).await, r0);
    assert_eq!(list(kv, "a/", "a0").await.kvs.len(), 2);
}

pub async fn range_at_an_older_revision_sees_the_past(kv: &dyn Kv) {
    let r1 = put(kv, "k", "1").await;
    put(kv, "k", "2").await;
    let r3 = kv
        .delete_range(DeleteRangeRequest {
            key: b("k"),
            ..Default::default()
        })
        .await
        .unwrap()
        .revision;
    put(kv, "other", "x").await;
    let at = |rev| RangeRequest {
        key: b("k"),
        revision: rev,
        ..Default::default()
    };
    assert_eq!(kv.range(at(r1)).await.unwrap().kvs[0].value, b("1"));
    assert_eq!(kv.range(at(r1 + 1)).await.unwrap().kvs[0].value, b("2"));
    assert!(kv.range(at(r3)).await.unwrap().kvs.is_empty());
    assert!(kv.range(at(r1 - 1)).await.unwrap().kvs.is_empty());
    let all_then = kv
        .range(RangeRequest {
            key: b("\0"),
            range_end: b("\0"),
            revision: r1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all_then.kvs.len(), 1);
    assert_eq!(
        all_then.revision,
        revision(kv).await,
        "the header carries the current revision"
    );
}

pub async fn range_below_the_compact_revision_is_compacted_and_at_it_still_works(kv: &dyn Kv) {
    put(kv, "k", "1").await;
    let r2 = put(kv, "k", "2").await;
    put(kv, "k", "3").await;
    kv.compact(r2).await.unwrap();
    let e = kv
        .range(RangeRequest {
            key: b("k"),
            revision: r2 - 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e,
        KvError::Compacted {
            compact_revision: r2
        }
    );
    assert_eq!(
        kv.range(RangeRequest {
            key: b("k"),
            revision: r2,
            ..Default::default()
        })
        .await
        .unwrap()
        .kvs[0]
            .value,
        b("2")
    );
    assert_eq!(
        kv.compact(r2).await.unwrap_err(),
        KvError::Compacted {
            compact_revision: r2
        }
    );
    assert_eq!(kv.status().await.unwrap().compact_revision, r2);
}

pub async fn future_and_negative_revisions_are_refused(kv: &dyn Kv) {
    let r = put(kv, "k", "1").await;
    let e = kv
        .range(RangeRequest {
            key: b("k"),
            revision: r + 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e, KvError::FutureRevision);
    let e = kv
        .range(RangeRequest {
            key: b("k"),
            revision: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, KvError::InvalidArgument(_)));
    assert_eq!(
        kv.compact(r + 5).await.unwrap_err(),
        KvError::FutureRevision
    );
    assert!(matches!(
        kv.watch(watch_req("k", "", -3)).await,
        Err(KvError::InvalidArgument(_))
    ));
}

pub async fn put_and_delete_return_prev_kv_when_asked(kv: &dyn Kv) {
    put(kv, "k", "old").await;
    let p = kv
        .put(PutRequest {
            key: b("k"),
            value: b("new"),
            prev_kv: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(p.prev_kv.unwrap().value, b("old"));
    let p = kv
        .put(PutRequest {
            key: b("k2"),
            value: b("x"),
            prev_kv: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(p.prev_kv.is_none());
    let d = kv
        .delete_range(DeleteRangeRequest {
            key: b("k"),
            range_end: b("l"),
            prev_kv: true,
        })
        .await
        .unwrap();
    assert_eq!(d.deleted, 2);
    assert_eq!(
        d.prev_kvs
            .iter()
            .map(|kv| kv.value.clone())
            .collect::<Vec<_>>(),
        vec![b("new"), b("x")]
    );
}

pub async fn put_with_a_lease_attaches_and_a_put_without_detaches(kv: &dyn Kv) {
    let l = kv.lease_grant(60, 0).await.unwrap().id;
    kv.put(PutRequest {
        key: b("a"),
        value: b("1"),
        lease: l,
        ..Default::default()
    })
    .await
    .unwrap();
    kv.put(PutRequest {
        key: b("b"),
        value: b("1"),
        lease: l,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(get(kv, "a").await.unwrap().lease, l);
    put(kv, "b", "2").await;
    assert_eq!(get(kv, "b").await.unwrap().lease, 0);
    let ttl = kv.lease_time_to_live(l, true).await.unwrap();
    assert_eq!(ttl.keys, vec![b("a")]);
    kv.lease_revoke(l).await.unwrap();
    assert!(get(kv, "a").await.is_none());
    assert!(
        get(kv, "b").await.is_some(),
        "a detached key outlives the lease"
    );
}

pub async fn ignore_value_and_ignore_lease_keep_the_current_ones(kv: &dyn Kv) {
    let l = kv.lease_grant(60, 0).await.unwrap().id;
    kv.put(PutRequest {
        key: b("k"),
        value: b("v"),
        lease: l,
        ..Default::default()
    })
    .await
    .unwrap();
    kv.put(PutRequest {
        key: b("k"),
        ignore_value: true,
        ignore_lease: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let got = get(kv, "k").await.unwrap();
    assert_eq!((got.value, got.lease, got.version), (b("v"), l, 2));
    let e = kv
        .put(PutRequest {
            key: b("missing"),
            ignore_value: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e, KvError::KeyNotFound);
    let e = kv
        .put(PutRequest {
            key: b("k"),
            value: b("x"),
            ignore_value: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, KvError::InvalidArgument(_)));
}

pub async fn a_txn_naming_an_unknown_lease_is_refused_and_changes_nothing(kv: &dyn Kv) {
    let r0 = revision(kv).await;
    let h0 = hash(kv).await;
    let t = TxnRequest {
        success: vec![
            put_op("ok", "1"),
            RequestOp {
                request: Some(request_op::Request::Put(PutRequest {
                    key: b("bad"),
                    value: b("1"),
                    lease: 12345,
                    ..Default::default()
                })),
            },
        ],
        ..Default::default()
    };
    assert_eq!(kv.txn(t).await.unwrap_err(), KvError::LeaseNotFound);
    assert!(get(kv, "ok").await.is_none());
    assert_eq!((revision(kv).await, hash(kv).await), (r0, h0));
}

pub async fn lease_revoke_deletes_its_keys_in_one_revision(kv: &dyn Kv) {
    let l = kv.lease_grant(60, 0).await.unwrap().id;
    for k in ["l/1", "l/2", "l/3"] {
        kv.put(PutRequest {
            key: b(k),
            value: b("v"),
            lease: l,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let r0 = revision(kv).await;
    let mut w = kv.watch(watch_req("l/", "l0", 0)).await.unwrap();
    let r = kv.lease_revoke(l).await.unwrap().revision;
    assert_eq!(r, r0 + 1);
    let resp = next(&mut w).await;
    assert_eq!(
        resp.events.len(),
        3,
        "all deletes of the revoke arrive together"
    );
    assert!(resp
        .events
        .iter()
        .all(|e| e.r#type == event::EventType::Delete as i32
            && e.kv.as_ref().unwrap().mod_revision == r));
    assert_eq!(
        kv.lease_revoke(l).await.unwrap_err(),
        KvError::LeaseNotFound
    );
    assert!(!kv.lease_leases().await.unwrap().ids.contains(&l));
}

pub async fn lease_grant_keep_alive_time_to_live_and_list(kv: &dyn Kv) {
    let g = kv.lease_grant(30, 77).await.unwrap();
    assert_eq!((g.id, g.ttl), (77, 30));
    assert_eq!(
        kv.lease_grant(30, 77).await.unwrap_err(),
        KvError::LeaseExists
    );
    let ttl = kv.lease_time_to_live(77, false).await.unwrap();
    assert_eq!(ttl.granted_ttl, 30);
    assert!(ttl.ttl > 25 && ttl.ttl <= 30, "{ttl:?}");
    assert_eq!(kv.lease_keep_alive(77).await.unwrap().ttl, 30);
    assert_eq!(
        kv.lease_keep_alive(78).await.unwrap_err(),
        KvError::LeaseNotFound
    );
    assert_eq!(kv.lease_time_to_live(78, false).await.unwrap().ttl, -1);
    assert!(kv.lease_leases().await.unwrap().ids.contains(&77));
    assert_eq!(
        kv.lease_grant(crate::MAX_LEASE_TTL + 1, 0)
            .await
            .unwrap_err(),
        KvError::LeaseTtlTooLarge
    );
    let chosen = kv.lease_grant(10, 0).await.unwrap().id;
    assert!(chosen > 0);
    // The largest possible id works like any other.
    kv.lease_grant(30, i64::MAX).await.unwrap();
    kv.put(PutRequest {
        key: b("max"),
        value: b("v"),
        lease: i64::MAX,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        kv.lease_time_to_live(i64::MAX, true).await.unwrap().keys,
        vec![b("max")]
    );
    kv.lease_revoke(i64::MAX).await.unwrap();
    assert!(
        get(kv, "max").await.is_none(),
        "revoking the largest lease id deletes its keys"
    );
}

pub async fn an_expired_lease_is_revoked_and_its_keys_deleted(kv: &dyn Kv) {
    let l = kv.lease_grant(1, 0).await.unwrap().id;
    kv.put(PutRequest {
        key: b("ephemeral"),
        value: b("v"),
        lease: l,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut w = kv.watch(watch_req("ephemeral", "", 0)).await.unwrap();
    let resp = next(&mut w).await;
    assert_eq!(resp.events[0].r#type, event::EventType::Delete as i32);
    assert!(get(kv, "ephemeral").await.is_none());
    assert_eq!(kv.lease_time_to_live(l, false).await.unwrap().ttl, -1);
}

pub async fn bad_input_gets_a_typed_error_and_changes_nothing(kv: &dyn Kv) {
    put(kv, "k", "v").await;
    let r0 = revision(kv).await;
    let h0 = hash(kv).await;
    let huge = Bytes::from(vec![b'x'; crate::MAX_REQUEST_BYTES + 1]);
    let errors = vec![
        kv.put(PutRequest {
            key: Bytes::new(),
            value: b("v"),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        kv.range(RangeRequest {
            key: Bytes::new(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        kv.range(RangeRequest {
            key: b("k"),
            sort_order: 42,
            ..Default::default()
        })
        .await
        .unwrap_err(),
        kv.put(PutRequest {
            key: b("k"),
            value: huge,
            ..Default::default()
        })
        .await
        .unwrap_err(),
        kv.put(PutRequest {
            key: b("k"),
            value: b("v"),
            lease: 999,
            ..Default::default()
        })
        .await
        .unwrap_err(),
        kv.lease_revoke(999).await.unwrap_err(),
        kv.compact(-1).await.unwrap_err(),
        kv.txn(TxnRequest {
            success: vec![RequestOp { request: None }],
            ..Default::default()
        })
        .await
        .unwrap_err(),
        kv.txn(TxnRequest {
            success: (0..crate::MAX_TXN_OPS + 1)
                .map(|i| put_op(&format!("t{i}"), "v"))
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    ];
    assert!(matches!(errors[0], KvError::InvalidArgument(ref m) if m == "key is not provided"));
    assert!(matches!(errors[1], KvError::InvalidArgument(_)));
    assert!(matches!(errors[2], KvError::InvalidArgument(_)));
    assert_eq!(errors[3], KvError::RequestTooLarge);
    assert_eq!(errors[4], KvError::LeaseNotFound);
    assert_eq!(errors[5], KvError::LeaseNotFound);
    assert!(matches!(errors[6], KvError::InvalidArgument(_)));
    assert!(matches!(errors[7], KvError::InvalidArgument(_)));
    assert_eq!(errors[8], KvError::TooManyOps);
    // Nesting deeper than allowed (protobuf decoding stops at 100 levels; we refuse past 32).
    let mut deep = TxnRequest {
        success: vec![put_op("deep", "v")],
        ..Default::default()
    };
    for _ in 0..(crate::MAX_TXN_DEPTH + 2) {
        deep = TxnRequest {
            success: vec![txn_op(deep)],
            ..Default::default()
        };
    }
    let e = kv.txn(deep).await.unwrap_err();
    assert!(
        matches!(e, KvError::InvalidArgument(ref m) if m.contains("nested")),
        "{e:?}"
    );
    assert_eq!((revision(kv).await, hash(kv).await), (r0, h0));
    assert_eq!(get(kv, "k").await.unwrap().value, b("v"));
}

pub async fn watch_delivers_each_event_once_in_order_with_whole_revisions(kv: &dyn Kv) {
    let mut w = kv.watch(watch_req("w/", "w0", 0)).await.unwrap();
    let mut expect = Vec::new();
    for i in 0..20 {
        let t = kv
            .txn(TxnRequest {
                success: vec![
                    put_op(&format!("w/{i}a"), "1"),
                    put_op(&format!("w/{i}b"), "1"),
                    put_op("other", &i.to_string()),
                ],
                ..Default::default()
            })
            .await
            .unwrap();
        expect.push(t.revision);
    }
    let last = *expect.last().unwrap();
    let mut seen = Vec::new();
    while seen.last().is_none_or(|(r, _)| *r < last) {
        let resp = next(&mut w).await;
        let revs: Vec<i64> = resp
            .events
            .iter()
            .map(|e| e.kv.as_ref().unwrap().mod_revision)
            .collect();
        for rev in revs
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
        {
            seen.push((rev, revs.iter().filter(|r| **r == rev).count()));
        }
    }
    assert_eq!(seen.iter().map(|(r, _)| *r).collect::<Vec<_>>(), expect);
    assert!(
        seen.iter().all(|(_, n)| *n == 2),
        "both events of each revision, in one response: {seen:?}"
    );
}

pub async fn watch_from_a_past_revision_replays_history_then_continues_live(kv: &dyn Kv) {
    let first = put(kv, "h/k", "0").await;
    for i in 1..100 {
        put(kv, "h/k", &i.to_string()).await;
    }
    let mut w = kv.watch(watch_req("h/", "h0", first)).await.unwrap();
    let mut live = Vec::new();
    for i in 100..110 {
        live.push(put(kv, "h/k", &i.to_string()).await);
    }
    let events = events_until(&mut w, *live.last().unwrap()).await;
    let values: Vec<String> = events
        .iter()
        .map(|e| String::from_utf8_lossy(&e.kv.as_ref().unwrap().value).into_owned())
        .collect();
    assert_eq!(values, (0..110).map(|i| i.to_string()).collect::<Vec<_>>());
    let revs: Vec<i64> = events
        .iter()
        .map(|e| e.kv.as_ref().unwrap().mod_revision)
        .collect();
    assert!(
        revs.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing revisions"
    );
}

pub async fn watch_prev_kv_and_filters(kv: &dyn Kv) {
    put(kv, "f", "0").await;
    let mut with_prev = kv
        .watch(WatchRequest {
            prev_kv: true,
            ..watch_req("f", "", 0)
        })
        .await
        .unwrap();
    let mut no_put = kv
        .watch(WatchRequest {
            filters: vec![watch_request::FilterType::Noput as i32],
            ..watch_req("f", "", 0)
        })
        .await
        .unwrap();
    let mut no_delete = kv
        .watch(WatchRequest {
            filters: vec![watch_request::FilterType::Nodelete as i32],
            ..watch_req("f", "", 0)
        })
        .await
        .unwrap();
    put(kv, "f", "1").await;
    let d = kv
        .delete_range(DeleteRangeRequest {
            key: b("f"),
            ..Default::default()
        })
        .await
        .unwrap()
        .revision;
    let e = events_until(&mut with_prev, d).await;
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].prev_kv.as_ref().unwrap().value, b("0"));
    assert_eq!(e[1].prev_kv.as_ref().unwrap().value, b("1"));
    let e = events_until(&mut no_put, d).await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].r#type, event::EventType::Delete as i32);
    assert!(e[0].prev_kv.is_none(), "prev_kv only when asked");
    let r = put(kv, "f", "2").await;
    let e = events_until(&mut no_delete, r).await;
    assert!(e.iter().all(|e| e.r#type == event::EventType::Put as i32) && e.len() == 2);
}

pub async fn watch_from_a_compacted_revision_is_cancelled_with_the_compact_revision(kv: &dyn Kv) {
    let r1 = put(kv, "c", "1").await;
    let r2 = put(kv, "c", "2").await;
    kv.compact(r2).await.unwrap();
    let mut w = kv.watch(watch_req("c", "", r1)).await.unwrap();
    let resp = next(&mut w).await;
    assert!(resp.canceled);
    assert_eq!(resp.compact_revision, r2);
    assert!(resp.cancel_reason.contains("compacted"));
    assert!(w.recv().await.is_none());
    let mut ok = kv.watch(watch_req("c", "", r2)).await.unwrap();
    assert_eq!(
        next(&mut ok).await.events[0].kv.as_ref().unwrap().value,
        b("2"),
        "a watch from the compact revision itself works"
    );
}

pub async fn progress_notification_reports_the_current_revision(kv: &dyn Kv) {
    let w = kv.watch(watch_req("idle", "", 0)).await.unwrap();
    let mut w = w;
    let r = put(kv, "elsewhere", "x").await;
    // Requested progress.
    w.request_progress();
    let resp = next(&mut w).await;
    assert!(resp.events.is_empty() && !resp.canceled);
    assert_eq!(resp.revision, r);
    // Periodic progress for a watcher that asked for it.
    let mut p = kv
        .watch(WatchRequest {
            progress_notify: true,
            ..watch_req("idle2", "", 0)
        })
        .await
        .unwrap();
    let resp = next(&mut p).await;
    assert!(resp.events.is_empty());
    assert!(resp.revision >= r);
}

pub async fn a_slow_watcher_falls_behind_and_catches_up_without_losing_events(kv: &dyn Kv) {
    let mut slow = kv.watch(watch_req("s/", "s0", 0)).await.unwrap();
    let mut fast = kv.watch(watch_req("s/", "s0", 0)).await.unwrap();
    let mut last = 0;
    let mut fast_seen = Vec::new();
    // The slow watcher reads nothing while 300 revisions go by (its buffer holds 4): writes and
    // the other watcher must not wait for it.
    for i in 0..300 {
        last = put(kv, &format!("s/{}", i % 7), &i.to_string()).await;
        while let Some(r) = fast.try_recv() {
            fast_seen.extend(r.events.into_iter().map(|e| e.kv.unwrap().mod_revision));
        }
    }
    if fast_seen.last() != Some(&last) {
        fast_seen.extend(
            events_until(&mut fast, last)
                .await
                .into_iter()
                .map(|e| e.kv.unwrap().mod_revision),
        );
    }
    let slow_seen: Vec<i64> = events_until(&mut slow, last)
        .await
        .into_iter()
        .map(|e| e.kv.unwrap().mod_revision)
        .collect();
    let want: Vec<i64> = (last - 299..=last).collect();
    assert_eq!(
        slow_seen, want,
        "the slow watcher gets every revision exactly once, in order"
    );
    assert_eq!(fast_seen, want);
    // Back in sync: live events still arrive.
    let r = put(kv, "s/live", "x").await;
    assert_eq!(
        events_until(&mut slow, r)
            .await
            .last()
            .unwrap()
            .kv
            .as_ref()
            .unwrap()
            .mod_revision,
        r
    );
}

pub async fn a_slow_watcher_overtaken_by_compaction_is_cancelled_not_dropped(kv: &dyn Kv) {
    let mut slow = kv.watch(watch_req("o/", "o0", 0)).await.unwrap();
    let mut last = 0;
    for i in 0..200 {
        last = put(kv, "o/k", &i.to_string()).await;
    }
    kv.compact(last).await.unwrap();
    let mut got = Vec::new();
    loop {
        let r = next(&mut slow).await;
        if r.canceled {
            assert_eq!(r.compact_revision, last);
            assert!(r.cancel_reason.contains("compacted"));
            break;
        }
        got.extend(r.events.into_iter().map(|e| e.kv.unwrap().mod_revision));
    }
    assert!(
        got.windows(2).all(|w| w[1] == w[0] + 1),
        "what it did get is a gap-free prefix"
    );
    assert!(slow.recv().await.is_none());
}

pub async fn compaction_keeps_what_reads_at_the_compact_revision_see(kv: &dyn Kv) {
    for i in 0..50 {
        put(kv, &format!("c/{}", i % 5), &i.to_string()).await;
        if i % 7 == 0 {
            kv.delete_range(DeleteRangeRequest {
                key: b(&format!("c/{}", i % 5)),
                ..Default::default()
            })
            .await
            .unwrap();
        }
    }
    let at = revision(kv).await - 10;
    let before = kv
        .range(RangeRequest {
            key: b("c/"),
            range_end: b("c0"),
            revision: at,
            ..Default::default()
        })
        .await
        .unwrap();
    let now_before = list(kv, "c/", "c0").await;
    kv.compact(at).await.unwrap();
    let after = kv
        .range(RangeRequest {
            key: b("c/"),
            range_end: b("c0"),
            revision: at,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(before.kvs, after.kvs);
    assert_eq!(now_before.kvs, list(kv, "c/", "c0").await.kvs);
    for rev in at..=revision(kv).await {
        kv.range(RangeRequest {
            key: b("c/"),
            range_end: b("c0"),
            revision: rev,
            ..Default::default()
        })
        .await
        .unwrap();
    }
}

pub async fn hash_is_stable_and_changes_with_writes(kv: &dyn Kv) {
    let r = put(kv, "h", "1").await;
    let h1 = kv.hash_kv(r).await.unwrap();
    assert_eq!(kv.hash_kv(r).await.unwrap().hash, h1.hash);
    put(kv, "h", "2").await;
    assert_eq!(
        kv.hash_kv(r).await.unwrap().hash,
        h1.hash,
        "the hash at a past revision does not move"
    );
    assert_ne!(kv.hash_kv(0).await.unwrap().hash, h1.hash);
    assert_eq!(
        kv.hash_kv(r + 5).await.unwrap_err(),
        KvError::FutureRevision
    );
}

pub async fn snapshot_and_restore_give_a_store_with_the_same_hash(
    kv: &dyn Kv,
    fresh: &dyn Kv,
    dir: &Path,
) {
    let l = kv.lease_grant(100, 0).await.unwrap().id;
    for i in 0..100 {
        kv.put(PutRequest {
            key: b(&format!("snap/{i}")),
            value: b(&i.to_string()),
            lease: if i % 10 == 0 { l } else { 0 },
            ..Default::default()
        })
        .await
        .unwrap();
    }
    kv.delete_range(DeleteRangeRequest {
        key: b("snap/5"),
        range_end: b("snap/6"),
        ..Default::default()
    })
    .await
    .unwrap();
    let mid = revision(kv).await;
    put(kv, "snap/1", "changed").await;
    kv.compact(mid).await.unwrap();
    let file = dir.join("snap.db");
    let info = kv.snapshot(&file).await.unwrap();
    assert_eq!(info.revision, revision(kv).await);
    assert_eq!(info.sha256.len(), 64);
    let restored = fresh.restore(&file).await.unwrap();
    assert_eq!(restored.sha256, info.sha256);
    assert_eq!(hash(fresh).await, hash(kv).await);
    assert_eq!(
        fresh.hash_kv(mid).await.unwrap().hash,
        kv.hash_kv(mid).await.unwrap().hash
    );
    assert_eq!(list(fresh, "\0", "\0").await, list(kv, "\0", "\0").await);
    assert_eq!(fresh.status().await.unwrap().compact_revision, mid);
    let keys = fresh.lease_time_to_live(l, true).await.unwrap().keys;
    assert_eq!(
        keys.len(),
        9,
        "snap/0, snap/10, ... snap/90 less the deleted snap/50"
    );
    assert_eq!(keys, kv.lease_time_to_live(l, true).await.unwrap().keys);
    // The restored store carries on from the snapshot's revision.
    let r = put(fresh, "after", "x").await;
    assert_eq!(r, info.revision + 1);
}

pub async fn restoring_an_older_snapshot_cancels_watchers_that_saw_later_revisions(
    kv: &dyn Kv,
    _fresh: &dyn Kv,
    dir: &Path,
) {
    for i in 0..3 {
        put(kv, "r", &i.to_string()).await;
    }
    let file = dir.join("older.snap");
    let older = kv.snapshot(&file).await.unwrap();
    let mut behind = kv
        .watch(watch_req("r", "", older.revision + 1))
        .await
        .unwrap();
    for i in 3..6 {
        put(kv, "r", &i.to_string()).await;
    }
    let mut ahead = kv.watch(watch_req("r", "", 0)).await.unwrap();
    // `behind` has seen everything up to the current revision before the restore.
    let seen = events_until(&mut behind, revision(kv).await).await.len();
    assert_eq!(seen, 3);
    kv.restore(&file).await.unwrap();
    for w in [&mut ahead, &mut behind] {
        let r = next(w).await;
        assert!(
            r.canceled,
            "a watcher past the restored revision must re-list: {r:?}"
        );
        assert_eq!(r.compact_revision, older.revision);
    }
    let mut fresh_watch = kv.watch(watch_req("r", "", 0)).await.unwrap();
    let r = put(kv, "r", "after").await;
    assert_eq!(r, older.revision + 1);
    assert_eq!(events_until(&mut fresh_watch, r).await.len(), 1);
}

pub async fn a_corrupt_snapshot_is_refused_and_changes_nothing(
    kv: &dyn Kv,
    fresh: &dyn Kv,
    dir: &Path,
) {
    for i in 0..20 {
        put(kv, &format!("k{i}"), "v").await;
    }
    let file = dir.join("good.snap");
    kv.snapshot(&file).await.unwrap();
    let good = std::fs::read(&file).unwrap();
    put(fresh, "mine", "1").await;
    let h0 = hash(fresh).await;
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flipped", flipped),
        ("truncated", good[..good.len() - 7].to_vec()),
        ("empty", Vec::new()),
        ("wrong type", b"SQLite format 3\0 not a snapshot".to_vec()),
        (
            "trailing garbage",
            [good.clone(), b"junk".to_vec()].concat(),
        ),
    ];
    for (name, bytes) in cases {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = fresh.restore(&p).await.unwrap_err();
        assert!(matches!(e, KvError::Corrupt(_)), "{name}: {e:?}");
        assert_eq!(hash(fresh).await, h0, "{name} changed the store");
        assert_eq!(get(fresh, "mine").await.unwrap().value, b("1"));
    }
}

/// Instantiates every conformance test for `$factory`, an async fn returning a [`Harness`].
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::conformance_tests!($factory, without_restore);
        $crate::conformance_tests!(@pair $factory;
            snapshot_and_restore_give_a_store_with_the_same_hash,
            restoring_an_older_snapshot_cancels_watchers_that_saw_later_revisions,
            a_corrupt_snapshot_is_refused_and_changes_nothing
        );
    };
    // Stores that cannot be restored in place (a running raft group: restore builds a new
    // cluster instead) run every rule but the restore ones.
    ($factory:path, without_restore) => {
        $crate::conformance_tests!(@each $factory;
            fresh_store_is_at_revision_one,
            each_changing_txn_adds_exactly_one_revision,
            txn_that_changes_nothing_keeps_the_revision,
            put_sets_create_and_mod_revision_and_version,
            delete_resets_version,
            compares_on_value_version_create_mod_and_lease,
            compare_on_a_missing_key_sees_version_zero_and_value_compares_fail,
            compare_over_a_range_must_hold_for_every_key,
            failed_compare_runs_the_failure_branch,
            nested_txn_compares_see_the_state_before_the_txn,
            range_inside_a_txn_sees_the_txns_earlier_writes,
            duplicate_keys_in_one_txn_branch_are_refused,
            range_end_rules_single_key_prefix_and_from_key,
            limit_reports_count_and_more,
            skip_count_pages_without_counting_the_whole_range,
            keys_only_and_count_only,
            sort_by_each_target_and_order,
            sorted_ties_keep_key_order_in_both_directions,
            a_range_ending_before_its_key_is_empty_and_only_a_watch_refuses_it,
            range_at_an_older_revision_sees_the_past,
            range_below_the_compact_revision_is_compacted_and_at_it_still_works,
            future_and_negative_revisions_are_refused,
            put_and_delete_return_prev_kv_when_asked,
            put_with_a_lease_attaches_and_a_put_without_detaches,
            ignore_value_and_ignore_lease_keep_the_current_ones,
            a_txn_naming_an_unknown_lease_is_refused_and_changes_nothing,
            lease_revoke_deletes_its_keys_in_one_revision,
            lease_grant_keep_alive_time_to_live_and_list,
            an_expired_lease_is_revoked_and_its_keys_deleted,
            bad_input_gets_a_typed_error_and_changes_nothing,
            watch_delivers_each_event_once_in_order_with_whole_revisions,
            watch_from_a_past_revision_replays_history_then_continues_live,
            watch_prev_kv_and_filters,
            watch_from_a_compacted_revision_is_cancelled_with_the_compact_revision,
            progress_notification_reports_the_current_revision,
            a_slow_watcher_falls_behind_and_catches_up_without_losing_events,
            a_slow_watcher_overtaken_by_compaction_is_cancelled_not_dropped,
            compaction_keeps_what_reads_at_the_compact_revision_see,
            hash_is_stable_and_changes_with_writes
        );
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let h = $factory().await;
                $crate::testing::$name(&*h.kv).await;
            }
        )*
    };
    (@pair $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let a = $factory().await;
                let b = $factory().await;
                let dir = tempfile::tempdir().unwrap();
                $crate::testing::$name(&*a.kv, &*b.kv, dir.path()).await;
            }
        )*
    };
}
