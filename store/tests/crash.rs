//! Crash test: a child process applies a deterministic stream of batches to a RocksDB store and is
//! killed with SIGKILL at random moments. After each kill the store must reopen exactly at a batch
//! boundary: its state equals the model's after the batches up to the applied position it reports,
//! and that position is at least the last one the child saw acknowledged.
//! `CAPSTAN_CRASH_KILLS` sets the number of kills (default 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use capstan_store::proto::{
    command, compare, request_op, Command, CompactionRequest, Compare, DeleteRangeRequest,
    LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RequestOp, TxnRequest,
};
use capstan_store::testing::test_config;
use capstan_store::{Backend, MemBackend, RocksBackend, Store, StoreConfig};
use common::{Image, Rng};

const SEED: u64 = 0xC0FFEE;

/// Batch `i` of the stream: the same on every run.
fn batch(i: u64) -> Vec<Command> {
    let mut rng = Rng(SEED ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let n = 1 + rng.below(8);
    (0..n)
        .map(|_| {
            let key = Bytes::from(format!("k/{:02}", rng.below(40)));
            let c = match rng.below(20) {
                0 => command::Command::LeaseGrant(LeaseGrantRequest {
                    id: 1 + rng.below(5) as i64,
                    ttl: 60,
                }),
                1 => command::Command::LeaseRevoke(LeaseRevokeRequest {
                    id: 1 + rng.below(5) as i64,
                }),
                2 => command::Command::Compact(CompactionRequest {
                    revision: (i as i64 * 3).saturating_sub(rng.below(50) as i64),
                }),
                3 | 4 => command::Command::Txn(TxnRequest {
                    success: vec![RequestOp {
                        request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
                            key: key.clone(),
                            range_end: Bytes::from(format!("k/{:02}", 40)),
                            prev_kv: false,
                        })),
                    }],
                    ..Default::default()
                }),
                _ => {
                    let value =
                        Bytes::from(vec![b'a' + rng.below(26) as u8; rng.below(300) as usize]);
                    let lease = if rng.below(4) == 0 {
                        1 + rng.below(5) as i64
                    } else {
                        0
                    };
                    let put = RequestOp {
                        request: Some(request_op::Request::Put(PutRequest {
                            key: key.clone(),
                            value,
                            lease,
                            ..Default::default()
                        })),
                    };
                    let cmp = Compare {
                        key,
                        target: compare::CompareTarget::Version as i32,
                        result: compare::CompareResult::Less as i32,
                        target_union: Some(compare::TargetUnion::Version(rng.below(6) as i64)),
                        range_end: Bytes::new(),
                    };
                    command::Command::Txn(TxnRequest {
                        compare: vec![cmp],
                        success: vec![put],
                        failure: vec![],
                    })
                }
            };
            Command { command: Some(c) }
        })
        .collect()
}

fn config() -> StoreConfig {
    StoreConfig {
        expire_leases: false,
        ..test_config()
    }
}

fn applied_of(b: &impl Backend) -> Option<u64> {
    b.applied()
        .unwrap()
        .map(|p| u64::from_be_bytes(p.as_ref().try_into().unwrap()))
}

/// The child: resumes after the applied position and applies batches until killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("CAPSTAN_CRASH_CHILD_DIR") else {
        return;
    };
    let store = Store::new(RocksBackend::open(Path::new(&dir)).unwrap(), config()).unwrap();
    let mut i = applied_of(store.backend()).map_or(0, |p| p + 1);
    loop {
        store
            .apply(&batch(i), Some(&i.to_be_bytes()), i.is_multiple_of(4))
            .unwrap();
        println!("applied {i}");
        i += 1;
    }
}

fn model_image(through: Option<u64>) -> Image {
    let mem = MemBackend::new();
    if let Some(p) = through {
        for i in 0..=p {
            mem.apply_batch(&batch(i), Some(&i.to_be_bytes()), false)
                .unwrap();
        }
    }
    let mut img = Image::default();
    mem.export(&mut img).unwrap();
    img
}

#[test]
fn a_store_killed_at_random_moments_reopens_at_a_batch_boundary() {
    let kills: u64 = std::env::var("CAPSTAN_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(SEED);
    for kill in 0..kills {
        let mut child = Process::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("CAPSTAN_CRASH_CHILD_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let last_ack = Arc::new(AtomicI64::new(-1));
        let out = child.stdout.take().unwrap();
        let ack = last_ack.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("applied ") {
                    ack.store(n.trim().parse().unwrap(), Ordering::SeqCst);
                }
            }
        });
        std::thread::sleep(Duration::from_millis(150 + rng.below(600)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let acked = last_ack.load(Ordering::SeqCst);
        let backend = RocksBackend::open(dir.path()).unwrap();
        let applied = applied_of(&backend);
        assert!(
            applied.map_or(-1, |p| p as i64) >= acked,
            "kill {kill}: acknowledged batch {acked} lost (store at {applied:?})"
        );
        let mut img = Image::default();
        backend.export(&mut img).unwrap();
        assert_eq!(
            img,
            model_image(applied),
            "kill {kill}: state after reopening differs from the model at {applied:?}"
        );
        eprintln!("kill {kill}: reopened at batch {applied:?}, last acknowledged {acked}");
    }
}
