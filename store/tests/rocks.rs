//! RocksDB-specific behaviour: physical compaction, reopening, interrupted restores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use capstan_store::proto::{
    command, request_op, Command, CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest,
    RequestOp, SnapshotHeader, TxnRequest,
};
use capstan_store::testing::test_config;
use capstan_store::{Backend, ImportItem, KvError, RocksBackend, Store};
use common::Image;

fn txn(op: request_op::Request) -> Command {
    Command {
        command: Some(command::Command::Txn(TxnRequest {
            success: vec![RequestOp { request: Some(op) }],
            ..Default::default()
        })),
    }
}

fn put(k: &str, v: &str) -> Command {
    txn(request_op::Request::Put(PutRequest {
        key: Bytes::from(k.to_string()),
        value: Bytes::from(v.to_string()),
        ..Default::default()
    }))
}

fn del(k: &str) -> Command {
    txn(request_op::Request::DeleteRange(DeleteRangeRequest {
        key: Bytes::from(k.to_string()),
        ..Default::default()
    }))
}

fn all_at(b: &RocksBackend, rev: i64) -> Vec<capstan_store::proto::KeyValue> {
    b.range(&RangeRequest {
        key: Bytes::from_static(b"\0"),
        range_end: Bytes::from_static(b"\0"),
        revision: rev,
        ..Default::default()
    })
    .unwrap()
    .kvs
}

#[test]
fn physical_compaction_removes_superseded_history_and_keeps_every_readable_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(RocksBackend::open(dir.path()).unwrap(), test_config()).unwrap();
    for i in 0..500 {
        let k = format!("k{}", i % 10);
        let cmd = if i % 13 == 0 {
            del(&k)
        } else {
            put(&k, &i.to_string())
        };
        store.apply(&[cmd], None, false).unwrap();
    }
    let b = store.backend();
    let current = b.revisions().current;
    let compact = current - 40;
    let before: Vec<_> = (compact..=current).map(|r| all_at(b, r)).collect();
    let versions_before = b.history_len().unwrap();
    store
        .apply(
            &[Command {
                command: Some(command::Command::Compact(CompactionRequest {
                    revision: compact,
                })),
            }],
            None,
            false,
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.compacted_through().unwrap() < compact {
        assert!(
            Instant::now() < deadline,
            "physical compaction did not finish"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let after: Vec<_> = (compact..=current).map(|r| all_at(b, r)).collect();
    assert_eq!(
        before, after,
        "every revision at or above the compact revision reads the same"
    );
    let mut image = Image::default();
    b.export(&mut image).unwrap();
    assert_eq!(
        b.history_len().unwrap(),
        image.versions.len() as u64,
        "only what a read can see is left"
    );
    assert!(
        b.history_len().unwrap() < versions_before / 5,
        "{} of {versions_before} versions left",
        b.history_len().unwrap()
    );
    assert!(matches!(
        b.range(&RangeRequest {
            key: Bytes::from_static(b"k1"),
            revision: compact - 1,
            ..Default::default()
        }),
        Err(KvError::Compacted { .. })
    ));
}

#[test]
fn a_reopened_store_keeps_its_state_applied_position_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let image = {
        let store = Store::new(RocksBackend::open(dir.path()).unwrap(), test_config()).unwrap();
        for i in 0..50u64 {
            store
                .apply(
                    &[put(&format!("k{}", i % 7), "v")],
                    Some(&i.to_be_bytes()),
                    i % 2 == 0,
                )
                .unwrap();
        }
        store
            .apply(
                &[Command {
                    command: Some(command::Command::Compact(CompactionRequest {
                        revision: 20,
                    })),
                }],
                None,
                true,
            )
            .unwrap();
        let mut image = Image::default();
        store.backend().export(&mut image).unwrap();
        image
    };
    let b = RocksBackend::open(dir.path()).unwrap();
    let mut again = Image::default();
    b.export(&mut again).unwrap();
    assert_eq!(image, again);
    assert_eq!(
        b.applied().unwrap(),
        Some(Bytes::copy_from_slice(&49u64.to_be_bytes()))
    );
    assert_eq!(b.revisions().compact, 20);
}

#[test]
fn an_interrupted_restore_leaves_an_empty_store_not_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    {
        let b = RocksBackend::open(dir.path()).unwrap();
        b.apply_batch(&[put("old", "state")], Some(b"pos"), true)
            .unwrap();
        let header = SnapshotHeader {
            format_version: capstan_store::keys::FORMAT_VERSION,
            revision: 10,
            ..Default::default()
        };
        let mut items = vec![
            Ok(ImportItem::Version(
                Bytes::from_static(b"new"),
                capstan_store::proto::StoredVersion {
                    create_revision: 5,
                    mod_revision: 5,
                    version: 1,
                    value: Bytes::from_static(b"x"),
                    ..Default::default()
                },
            )),
            Err(KvError::Corrupt("the snapshot source failed".into())),
        ]
        .into_iter();
        assert!(b.import(&header, &mut items).is_err());
    }
    let b = RocksBackend::open(dir.path()).unwrap();
    assert_eq!(
        b.revisions().current,
        1,
        "a half-restored store starts empty"
    );
    assert!(all_at(&b, 0).is_empty());
    assert_eq!(b.applied().unwrap(), None);
}

#[test]
fn the_same_commands_in_the_same_order_give_byte_identical_stores() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (sa, sb) = (
        RocksBackend::open(a.path()).unwrap(),
        RocksBackend::open(b.path()).unwrap(),
    );
    for i in 0..300 {
        let k = format!("k{}", i % 17);
        let cmds = vec![
            put(&k, &format!("v{i}")),
            if i % 5 == 0 {
                del(&format!("k{}", (i + 3) % 17))
            } else {
                put("other", "x")
            },
        ];
        // Different batching and fsync choices must not matter either.
        assert_eq!(sa.apply_batch(&cmds, None, i % 2 == 0).unwrap(), {
            let mut out = sb.apply_batch(&cmds[..1], None, false).unwrap();
            out.extend(sb.apply_batch(&cmds[1..], None, true).unwrap());
            out
        });
    }
    let (mut ia, mut ib) = (Image::default(), Image::default());
    sa.export(&mut ia).unwrap();
    sb.export(&mut ib).unwrap();
    assert_eq!(ia, ib);
    let (mut ha, mut hb) = (
        capstan_store::HashSink::new(i64::MAX),
        capstan_store::HashSink::new(i64::MAX),
    );
    sa.export(&mut ha).unwrap();
    sb.export(&mut hb).unwrap();
    assert_eq!(ha.hash(), hb.hash());
}
