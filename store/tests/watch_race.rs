//! Watches created while several writers run, from the present or from recent revisions, each
//! see exactly the log of changes from their start on: no gap and no duplicate where history
//! catch-up meets live delivery, and none when a watcher falls behind and catches up again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use capstan_store::proto::{Event, PutRequest, WatchRequest};
use capstan_store::testing::test_config;
use capstan_store::{Backend, Kv, MemBackend, RocksBackend, Store, Watcher};

async fn run<B: Backend>(store: Arc<Store<B>>) {
    let mut writers = Vec::new();
    for w in 0..4 {
        let s = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..400 {
                s.put(PutRequest {
                    key: Bytes::from(format!("r/{w}/{}", i % 10)),
                    value: Bytes::from(i.to_string()),
                    ..Default::default()
                })
                .await
                .unwrap();
            }
        }));
    }
    // (start asked, revision just before and just after the watch was made, watcher)
    let mut watchers: Vec<(i64, i64, i64, Watcher)> = Vec::new();
    for n in 0..40i64 {
        let current = store.backend().revisions().current;
        let start = match n % 3 {
            0 => 0,
            1 => (current - n).max(2),
            _ => current + 1,
        };
        let w = store
            .watch(WatchRequest {
                key: Bytes::from_static(b"r/"),
                range_end: Bytes::from_static(b"r0"),
                start_revision: start,
                ..Default::default()
            })
            .await
            .unwrap();
        let after = store.backend().revisions().current;
        watchers.push((start, current, after, w));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let last = store.backend().revisions().current;
    let log: Vec<Event> = store.backend().events_since(2, usize::MAX).unwrap().events;
    assert_eq!(log.len(), 1600);
    for (start, before, after, mut w) in watchers {
        // Read until a progress notification vouches for everything up to `last`.
        let mut got: Vec<Event> = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "watcher from {start} never caught up"
            );
            match tokio::time::timeout(Duration::from_millis(50), w.recv()).await {
                Ok(Some(r)) if r.events.is_empty() && r.revision >= last => break,
                Ok(Some(r)) => {
                    assert!(!r.canceled);
                    got.extend(r.events);
                }
                Ok(None) => panic!("watch closed"),
                Err(_) => w.request_progress(),
            }
        }
        let first = if start == 0 {
            got.first()
                .and_then(|e| e.kv.as_ref())
                .map_or(last + 1, |kv| kv.mod_revision)
        } else {
            start
        };
        if start == 0 {
            // A watch from "now" starts right after the revision current when it was made.
            assert!(
                first > before && first <= after + 1 || got.is_empty() && after == last,
                "watch from now started at {first}, made between {before} and {after}"
            );
        }
        let want: Vec<Event> = log
            .iter()
            .filter(|e| e.kv.as_ref().is_some_and(|kv| kv.mod_revision >= first))
            .map(|e| Event {
                prev_kv: None,
                ..e.clone()
            })
            .collect();
        assert_eq!(got, want, "watcher from {start}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_started_during_concurrent_writes_see_every_change_once_in_memory() {
    run(Arc::new(
        Store::new(MemBackend::new(), test_config()).unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_started_during_concurrent_writes_see_every_change_once_on_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    run(Arc::new(
        Store::new(RocksBackend::open(dir.path()).unwrap(), test_config()).unwrap(),
    ))
    .await;
}
