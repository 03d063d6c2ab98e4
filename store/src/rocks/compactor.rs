//! Physical compaction: removes the history a compaction made unreadable, in the background, in
//! small batches, so writers and readers never wait for it. Correctness never depends on its
//! progress: reads below the compact revision are refused from the moment the compaction is
//! applied, and what it removes is exactly what no read at or above that revision can see.

use std::collections::BTreeSet;
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
}

/// Runs until `signal.stop`.
pub fn run(db: Arc<DB>, signal: Arc<CompactorSignal>) {
    loop {
        let done = match progress(&db) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read compaction progress");
                return;
            }
        };
        let target = {
            let mut t = signal.target.lock();
            while *t <= done && !signal.stop.load(Ordering::SeqCst) {
                signal.wake.wait_for(&mut t, Duration::from_millis(500));
            }
            *t
        };
        if signal.stop.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = step(&db, done, target) {
            {
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
fn step(db: &DB, done: i64, target: i64) -> KvResult<i64> {
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
        prune_key(&src, &key, target, &mut wb)?;
    }
    for (k, _) in &events {
        wb.delete_cf(src.cfs.get(Cf::Events), k);
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

/// Deletes every version of `key` at or below `target` that does not survive compaction.
fn prune_key(src: &DbSource<'_>, key: &[u8], target: i64, wb: &mut WriteBatch) -> KvResult<()> {
    let lower = keys::history_prefix(key);
    let upper = keys::history_key(key, target + 1);
    let mut versions = Vec::new();
    src.scan(Cf::History, &lower, Some(&upper), &mut |k, v| {
        versions.push((k.to_vec(), decode_version(v)?));
        Ok(true)
    })?;
    let newest = versions.len().checked_sub(1);
    for (i, (hk, v)) in versions.iter().enumerate() {
        if !survives_compaction(v, Some(i) == newest, target) {
            wb.delete_cf(src.cfs.get(Cf::History), hk);
        }
    }
    Ok(())
}
