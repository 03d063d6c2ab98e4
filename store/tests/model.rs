//! Model test: random sequences of batched commands, ranges, watches, lease operations and
//! compactions give identical results on the in-memory model and on RocksDB. Watches on both are
//! checked against the complete event log. `PROPTEST_CASES` sets the number of cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use capstan_store::proto::{
    command, compare, request_op, Command, CompactionRequest, Compare, DeleteRangeRequest, Event,
    LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
    WatchRequest,
};
use capstan_store::testing::test_config;
use capstan_store::{Backend, MemBackend, RocksBackend, Store, Watcher};
use common::Image;
use proptest::prelude::*;

fn key(i: u8) -> Bytes {
    Bytes::from(format!(
        "{}{}",
        if i.is_multiple_of(2) { "a/" } else { "b/" },
        i % 8
    ))
}

fn range_end(start: u8, kind: u8) -> (Bytes, Bytes) {
    match kind % 4 {
        0 => (key(start), Bytes::new()),
        1 => (Bytes::from_static(b"a/"), Bytes::from_static(b"a0")),
        2 => (key(start), Bytes::from_static(b"\0")),
        _ => (Bytes::from_static(b"\0"), Bytes::from_static(b"\0")),
    }
}

fn put_req() -> impl Strategy<Value = PutRequest> {
    (any::<u8>(), any::<u8>(), 0u8..6, any::<bool>()).prop_map(|(k, v, lease, prev)| PutRequest {
        key: key(k),
        value: Bytes::from(format!("v{v}")),
        lease: if lease < 4 { 0 } else { i64::from(lease) - 3 },
        prev_kv: prev,
        ..Default::default()
    })
}

fn op() -> impl Strategy<Value = RequestOp> {
    prop_oneof![
        3 => put_req().prop_map(|p| RequestOp { request: Some(request_op::Request::Put(p)) }),
        1 => (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(s, kind, prev)| {
            let (key, range_end) = range_end(s, kind);
            RequestOp { request: Some(request_op::Request::DeleteRange(DeleteRangeRequest { key, range_end, prev_kv: prev })) }
        }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(s, kind)| {
            let (key, range_end) = range_end(s, kind);
            RequestOp { request: Some(request_op::Request::Range(RangeRequest { key, range_end, ..Default::default() })) }
        }),
    ]
}

fn compare() -> impl Strategy<Value = Compare> {
    (any::<u8>(), 0i32..5, 0i32..4, 0i64..6).prop_map(|(k, target, result, n)| Compare {
        key: key(k),
        target,
        result,
        target_union: Some(match target {
            0 => compare::TargetUnion::Version(n),
            1 => compare::TargetUnion::CreateRevision(n * 4),
            2 => compare::TargetUnion::ModRevision(n * 4),
            3 => compare::TargetUnion::Value(Bytes::from(format!("v{}", n * 40))),
            _ => compare::TargetUnion::Lease(n.min(2)),
        }),
        range_end: Bytes::new(),
    })
}

fn command() -> impl Strategy<Value = Command> {
    let txn = (
        prop::collection::vec(compare(), 0..3),
        prop::collection::vec(op(), 0..4),
        prop::collection::vec(op(), 0..3),
    )
        .prop_map(|(compare, success, failure)| {
            command::Command::Txn(TxnRequest {
                compare,
                success,
                failure,
            })
        });
    prop_oneof![
        6 => txn,
        1 => (1i64..4, 1i64..100).prop_map(|(id, ttl)| command::Command::LeaseGrant(LeaseGrantRequest { id, ttl })),
        1 => (1i64..4).prop_map(|id| command::Command::LeaseRevoke(LeaseRevokeRequest { id })),
        1 => (0i64..12).prop_map(|back| command::Command::Compact(CompactionRequest { revision: -back })),
    ]
    .prop_map(|c| Command { command: Some(c) })
}

#[derive(Debug, Clone)]
enum Step {
    Batch(Vec<Command>),
    Range {
        start: u8,
        kind: u8,
        back: i64,
        limit: i64,
        sort: (i32, i32),
        keys_only: bool,
        count_only: bool,
    },
    Watch {
        start: u8,
        kind: u8,
        back: i64,
        prev_kv: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(command(), 1..5).prop_map(Step::Batch),
        2 => (any::<u8>(), any::<u8>(), 0i64..8, 0i64..4, (0i32..3, 0i32..5), any::<bool>(), any::<bool>())
            .prop_map(|(start, kind, back, limit, sort, keys_only, count_only)| Step::Range { start, kind, back, limit, sort, keys_only, count_only }),
        1 => (any::<u8>(), any::<u8>(), 0i64..8, any::<bool>()).prop_map(|(start, kind, back, prev_kv)| Step::Watch { start, kind, back, prev_kv }),
    ]
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A compaction's revision is given relative to the current one (so it is usually valid).
fn resolve(cmd: &Command, current: i64) -> Command {
    match &cmd.command {
        Some(command::Command::Compact(c)) if c.revision <= 0 => Command {
            command: Some(command::Command::Compact(CompactionRequest {
                revision: current + c.revision,
            })),
        },
        _ => cmd.clone(),
    }
}

struct WatchCase {
    req: WatchRequest,
    start: i64,
    mem: Watcher,
    rocks: Watcher,
}

/// What a watcher got: its events, and the compact revision it was cancelled with, if it was.
fn drain(w: &mut Watcher, want_through: i64) -> (Vec<Event>, Option<i64>) {
    runtime().block_on(async {
        let mut events: Vec<Event> = Vec::new();
        loop {
            let seen = events
                .last()
                .and_then(|e| e.kv.as_ref())
                .map_or(0, |kv| kv.mod_revision);
            if seen >= want_through {
                return (events, None);
            }
            match tokio::time::timeout(Duration::from_secs(60), w.recv()).await {
                Ok(Some(r)) if r.canceled => return (events, Some(r.compact_revision)),
                Ok(Some(r)) => events.extend(r.events),
                Ok(None) => panic!("watch closed without a cancel"),
                Err(_) => panic!("watch stalled at {seen}, wanted {want_through}"),
            }
        }
    })
}

fn check_watch(case: &mut WatchCase, log: &[Event], compact: i64) {
    let range = capstan_store::KeyRange::from_request(&case.req.key, &case.req.range_end).unwrap();
    let expected: Vec<Event> = log
        .iter()
        .filter(|e| {
            e.kv.as_ref()
                .is_some_and(|kv| kv.mod_revision >= case.start && range.contains(&kv.key))
        })
        .map(|e| {
            let mut e = e.clone();
            if !case.req.prev_kv {
                e.prev_kv = None;
            }
            e
        })
        .collect();
    let through = expected
        .last()
        .and_then(|e| e.kv.as_ref())
        .map_or(0, |kv| kv.mod_revision);
    for (name, w) in [("mem", &mut case.mem), ("rocks", &mut case.rocks)] {
        let (got, cancelled) = drain(w, through);
        assert!(
            got.len() <= expected.len(),
            "{name} watcher {:?} got more than the log holds",
            case.req
        );
        for (g, e) in got.iter().zip(&expected) {
            // A change replayed from history after the revision before it was compacted has no
            // prev_kv (as etcd): the read it would take is refused.
            let rev = e.kv.as_ref().map_or(0, |kv| kv.mod_revision);
            let same = g == e
                || (g.prev_kv.is_none()
                    && rev - 1 < compact
                    && Event {
                        prev_kv: None,
                        ..e.clone()
                    } == *g);
            assert!(same, "{name} watcher {:?}: got {g:?}, want {e:?}", case.req);
        }
        match cancelled {
            None => assert_eq!(
                got.len(),
                expected.len(),
                "{name} watcher {:?} missed events",
                case.req
            ),
            Some(at) => {
                let next = expected
                    .get(got.len())
                    .and_then(|e| e.kv.as_ref())
                    .map_or(i64::MAX, |kv| kv.mod_revision);
                let resume = got
                    .last()
                    .and_then(|e| e.kv.as_ref())
                    .map_or(case.start, |kv| kv.mod_revision + 1);
                assert!(
                    at > resume.min(next),
                    "{name}: cancelled at {at}, but could resume at {resume}"
                );
            }
        }
    }
}

fn run_case(steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    // Lease expiry is a wall-clock matter: keep it out of a comparison of two stores.
    let mut cfg = test_config();
    cfg.expire_leases = false;
    let mem = Store::new(MemBackend::new(), cfg.clone()).unwrap();
    let rocks = Store::new(RocksBackend::open(dir.path()).unwrap(), cfg).unwrap();
    let mut log: Vec<Event> = Vec::new();
    let mut watches: Vec<WatchCase> = Vec::new();
    for (i, s) in steps.into_iter().enumerate() {
        let current = mem.backend().revisions().current;
        match s {
            Step::Batch(cmds) => {
                let cmds: Vec<Command> = cmds.iter().map(|c| resolve(c, current)).collect();
                let pos = (i as u64).to_be_bytes();
                let a = mem.apply(&cmds, Some(&pos), false).unwrap();
                let b = rocks.apply(&cmds, Some(&pos), i % 2 == 0).unwrap();
                assert_eq!(a, b, "apply results differ for {cmds:?}");
                for applied in a {
                    log.extend(applied.events);
                }
            }
            Step::Range {
                start,
                kind,
                back,
                limit,
                sort,
                keys_only,
                count_only,
            } => {
                let (key, range_end) = range_end(start, kind);
                let req = RangeRequest {
                    key,
                    range_end,
                    revision: if back == 0 {
                        0
                    } else {
                        (current - back).max(1)
                    },
                    limit,
                    sort_order: sort.0,
                    sort_target: sort.1,
                    keys_only,
                    count_only,
                    ..Default::default()
                };
                assert_eq!(
                    mem.backend().range(&req),
                    rocks.backend().range(&req),
                    "range {req:?}"
                );
            }
            Step::Watch {
                start,
                kind,
                back,
                prev_kv,
            } => {
                let (key, range_end) = range_end(start, kind);
                let start_revision = (current + 1 - back).max(1);
                let req = WatchRequest {
                    key,
                    range_end,
                    start_revision,
                    prev_kv,
                    ..Default::default()
                };
                let mem_w = mem.hub().watch(&req).unwrap();
                let rocks_w = rocks.hub().watch(&req).unwrap();
                watches.push(WatchCase {
                    req,
                    start: start_revision,
                    mem: mem_w,
                    rocks: rocks_w,
                });
            }
        }
    }
    let (mut a, mut b) = (Image::default(), Image::default());
    mem.backend().export(&mut a).unwrap();
    rocks.backend().export(&mut b).unwrap();
    assert_eq!(a, b, "images differ");
    assert_eq!(
        mem.backend().applied().unwrap(),
        rocks.backend().applied().unwrap()
    );
    assert_eq!(
        mem.backend().leases().unwrap(),
        rocks.backend().leases().unwrap()
    );
    let revs = mem.backend().revisions();
    assert_eq!(revs, rocks.backend().revisions());
    assert_eq!(
        mem.backend().events_since(revs.compact, 7),
        rocks.backend().events_since(revs.compact, 7)
    );
    for w in &mut watches {
        check_watch(w, &log, revs.compact);
    }
}

/// `PROPTEST_CASES` (default 256: CI; the long run before a release uses 10,000).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn rocksdb_store_behaves_like_the_model(steps in prop::collection::vec(step(), 1..60)) {
        run_case(steps);
    }
}
