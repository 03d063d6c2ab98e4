//! What RocksDB alone can do for three possible put layouts, on this machine: the floor under the
//! store's put throughput (README, Performance). 500,000 puts of 256-byte values to 100,000 random
//! keys, 128 per WriteBatch, WAL on, no fsync, default RocksDB options.
//!
//! `cargo run --release -p capstan-store --example rawbench`

use std::time::Instant;

use anyhow::{Context, Result};
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};

const PUTS: u64 = 500_000;
const BATCH: u64 = 128;

struct Keys(u64);

impl Keys {
    fn next_key(&mut self) -> String {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        format!("bench/{:08}", (self.0 >> 33) % 100_000)
    }
}

/// Runs `PUTS` puts through `one` (which adds one put to the batch) and returns puts/s.
fn run(db: &DB, mut one: impl FnMut(&DB, &mut WriteBatch, u64) -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    let mut rev = 0;
    for _ in 0..PUTS / BATCH {
        let mut wb = WriteBatch::default();
        for _ in 0..BATCH {
            rev += 1;
            one(db, &mut wb, rev)?;
        }
        db.write_opt(wb, &WriteOptions::default())?;
    }
    Ok(PUTS as f64 / start.elapsed().as_secs_f64())
}

fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let cfs = ["default", "latest", "history", "events"]
        .map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
    let db = DB::open_cf_descriptors(&opts, dir.path(), cfs)?;
    let value = vec![7u8; 300];
    let mut keys = Keys(1);
    let cf = |name: &str| db.cf_handle(name).context("column family");
    let (latest, history, events) = (cf("latest")?, cf("history")?, cf("events")?);

    // capstan's layout: read the current version, write latest, history (by key) and events.
    let ours = run(&db, |db, wb, rev| {
        let k = keys.next_key();
        db.get_pinned_cf(latest, k.as_bytes())?;
        wb.put_cf(latest, k.as_bytes(), &value);
        let mut hk = k.as_bytes().to_vec();
        hk.extend_from_slice(&rev.to_be_bytes());
        wb.put_cf(history, hk, &value);
        wb.put_cf(events, rev.to_be_bytes(), k.as_bytes());
        Ok(())
    })?;
    // History by revision only (prev pointers instead of a by-key history): read, latest, log.
    let chain = run(&db, |db, wb, rev| {
        let k = keys.next_key();
        db.get_pinned_cf(latest, k.as_bytes())?;
        wb.put_cf(latest, k.as_bytes(), &value);
        wb.put_cf(events, rev.to_be_bytes(), [k.as_bytes(), &value].concat());
        Ok(())
    })?;
    // etcd's layout: one record per revision; the key index lives in memory (not modelled here).
    let etcd = run(&db, |_, wb, rev| {
        let k = keys.next_key();
        wb.put_cf(events, rev.to_be_bytes(), [k.as_bytes(), &value].concat());
        Ok(())
    })?;
    println!("| RocksDB alone: read + 3 records per put (capstan's layout) | {ours:.0} puts/s |");
    println!("| RocksDB alone: read + latest + revision log (2 records) | {chain:.0} puts/s |");
    println!("| RocksDB alone: 1 record per revision, no read (etcd's layout, index in memory) | {etcd:.0} puts/s |");
    Ok(())
}
