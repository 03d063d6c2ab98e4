//! Physical compaction: removes the history a compaction made unreadable, in the background, in
//! small batches, so writers and readers never wait for it. Correctness never depends on its
//! progress: reads below the compact revision are refused from the moment the compaction is
//! applied, and what it removes is exactly what no read at or above that revision can see.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rocksdb::{WriteBatch, WriteOptions, DB};

use super::source::{decode_version, Cf, DbSource, RawSource};
use crate::backend::survives_compaction;
use crate::error::KvResult;
use crate::keys;

/// Events examined per batch; small enough that one batch takes about a millisecond.
const CHUNK: usize = 256;

/// Shared between the backend and the compactor thread.
pub struct CompactorSignal {
    /// Compact revision applied and not yet physically done.
    pub target: Mutex<i64>,
    pub wake: Condvar,
    pub stop: AtomicBool,
    /// Held by each compaction step, and by a snapshot import for its whole duration.
    pub exclusive: Mutex<()>,
}

/// Runs until `signal.stop`. One run compacts up to the target it started with; each key's
/// history is pruned once per run (the first time one of its changes is met), so a run costs
/// one pass over the compacted revisions.
pub fn run(db: Arc<DB>, signal: Arc<CompactorSignal>) {
    let mut run_target = 0;
    let mut pruned: HashSet<Vec<u8>> = HashSet::new();
    loop {
        let done = match progress(&db) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read compaction progress");
                return;
            }
        };
        {
            let mut t = signal.target.lock();
            // A lower target means the state was replaced by a snapshot: start over.
            if done >= run_target || *t < run_target {
                while *t <= done && !signal.stop.load(Ordering::SeqCst) {
                    signal.wake.wait_for(&mut t, Duration::from_millis(500));
                }
                run_target = *t;
                pruned.clear();
            }
        }
        if signal.stop.load(Ordering::SeqCst) {
            return;
        }
        let _exclusive = signal.exclusive.lock();
        if *signal.target.lock() < run_target {
            continue;
        }
        let started = std::time::Instant::now();
        let result = step(&db, done, run_target, &mut pruned);
        drop(_exclusive);
        match result {
            // Background work at half duty: the other half of this core stays with writers.
            Ok(_) => std::thread::sleep(started.elapsed() * 3),
            Err(e) => {
                tracing::error!(error = %e, "physical compaction failed; will retry");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Revision below which history has been physically compacted.
pub fn progress(db: &DB) -> KvResult<i64> {
    let src = DbSource::new(db, None)?;
    match src.get(Cf::Meta, keys::COMPACT_PROGRESS_KEY)? {
        Some(raw) => keys::decode_u64_be(&raw),
        None => Ok(0),
    }
}

/// Processes one chunk of events in `[done, target)`; returns the new progress.
fn step(db: &DB, done: i64, target: i64, pruned: &mut HashSet<Vec<u8>>) -> KvResult<i64> {
    crate::crash_point!("store.compact");
    let src = DbSource::new(db, None)?;
    let mut events: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let lower = keys::event_key(done, 0);
    let upper = keys::event_key(target, 0);
    // Whole revisions only, so progress is a revision boundary.
    let mut next = target;
    let mut last_rev = -1;
    src.scan(Cf::Events, &lower, Some(&upper), &mut |k, v| {
        let (rev, _) = keys::decode_event_key(k)?;
        if events.len() >= CHUNK && rev != last_rev {
            next = rev;
            return Ok(false);
        }
        last_rev = rev;
        events.push((k.to_vec(), v.to_vec()));
        Ok(true)
    })?;
    let mut wb = WriteBatch::default();
    let touched: BTreeSet<Vec<u8>> = events.iter().map(|(_, key)| key.clone()).collect();
    for key in touched {
        if !pruned.contains(&key) {
            prune_key(&src, &key, target, &mut wb)?;
            pruned.insert(key);
        }
    }
    if let Some((last, _)) = events.last() {
        let (last_rev, _) = keys::decode_event_key(last)?;
        wb.delete_range_cf(
            src.cfs.get(Cf::Events),
            keys::event_key(done, 0),
            keys::event_key(last_rev + 1, 0),
        );
    }
    wb.put_cf(
        src.cfs.get(Cf::Meta),
        keys::COMPACT_PROGRESS_KEY,
        keys::u64_be(next),
    );
    // No fsync: losing this batch in a crash only means redoing it; what it deletes is already
    // unreadable.
    let mut wo = WriteOptions::default();
    wo.set_sync(false);
    db.write_opt(wb, &wo)?;
    Ok(next)
}

/// Deletes every version of `key` at or below `target` that does not survive compaction: all
/// versions older than the newest one at or below `target`, and that one too if it is a delete
/// below `target`. One range tombstone per key, found with two seeks, whatever the history length.
fn prune_key(src: &DbSource<'_>, key: &[u8], target: i64, wb: &mut WriteBatch) -> KvResult<()> {
    let prefix = keys::history_prefix(key);
    let Some((hk, raw)) =
        src.seek_for_prev(Cf::History, &prefix, &keys::history_key(key, target))?
    else {
        return Ok(());
    };
    let (_, newest) = keys::decode_history_key(&hk)?;
    let keep_from = if survives_compaction(&decode_version(&raw)?, true, target) {
        newest
    } else {
        newest + 1
    };
    let mut oldest = None;
    src.scan(
        Cf::History,
        &prefix,
        Some(&keys::history_key(key, keep_from)),
        &mut |k, _| {
            oldest = Some(k.to_vec());
            Ok(false)
        },
    )?;
    if oldest.is_some() {
        wb.delete_range_cf(
            src.cfs.get(Cf::History),
            keys::history_key(key, 0),
            keys::history_key(key, keep_from),
        );
    }
    Ok(())
}
