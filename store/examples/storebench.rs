//! Store benchmarks (issue targets in README's Performance section). Run through
//! `bench/store.sh`, or `cargo run --release -p capstan-store --example storebench -- [NAME...]`
//! with NAME in put, range, prefix, watch, compact, rss (default: all). Each prints one markdown
//! table row per measurement. `BENCH_DIR` picks the data directory's parent (default: temp).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use capstan_store::proto::{
    command, request_op, Command, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchRequest,
};
use capstan_store::{Backend, Kv, RocksBackend, Store, StoreConfig, WatchBatch, WatchHubConfig};

fn put_cmd(key: String, value: Bytes) -> Command {
    Command {
        command: Some(command::Command::Txn(TxnRequest {
            success: vec![RequestOp {
                request: Some(request_op::Request::Put(PutRequest {
                    key: Bytes::from(key),
                    value,
                    ..Default::default()
                })),
            }],
            ..Default::default()
        })),
    }
}

struct Rng(u64);
impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn bytes(&mut self, n: usize) -> Bytes {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        Bytes::from(v)
    }
}

fn config() -> StoreConfig {
    StoreConfig {
        expire_leases: false,
        sync_writes: false,
        watch: WatchHubConfig::default(),
        ..StoreConfig::default()
    }
}

fn open(dir: &std::path::Path) -> Result<Store<RocksBackend>> {
    Ok(Store::new(RocksBackend::open(dir)?, config())?)
}

fn tempdir() -> Result<tempfile::TempDir> {
    Ok(match std::env::var("BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d)?,
        Err(_) => tempfile::tempdir()?,
    })
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}

/// Puts slower than 5 ms.
fn over(lat: &[Duration]) -> usize {
    lat.iter().filter(|d| d.as_millis() >= 5).count()
}

fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Loads `n` puts of `value_len` bytes to keys `prefix{i % distinct}` in batches of 128.
fn load(
    store: &Store<RocksBackend>,
    prefix: &str,
    n: u64,
    distinct: u64,
    value_len: usize,
    rng: &mut Rng,
) -> Result<()> {
    let mut i = 0;
    while i < n {
        let batch: Vec<Command> = (i..(i + 128).min(n))
            .map(|j| put_cmd(format!("{prefix}{:08}", j % distinct), rng.bytes(value_len)))
            .collect();
        i += batch.len() as u64;
        store.apply(&batch, None, false)?;
    }
    Ok(())
}

fn bench_put(syncs: &[bool], batches: &[usize]) -> Result<()> {
    for &sync in syncs {
        for &batch in batches {
            let dir = tempdir()?;
            let store = open(dir.path())?;
            let mut rng = Rng(batch as u64);
            let total: usize = match (sync, batch) {
                (false, 1) => 100_000,
                (false, _) => 500_000,
                (true, 1) => 3_000,
                (true, 16) => 32_000,
                (true, _) => 128_000,
            };
            let cmds: Vec<Vec<Command>> = (0..total / batch)
                .map(|_| {
                    (0..batch)
                        .map(|_| {
                            put_cmd(
                                format!("bench/{:08}", rng.next_u64() % 100_000),
                                rng.bytes(256),
                            )
                        })
                        .collect()
                })
                .collect();
            let start = Instant::now();
            for b in &cmds {
                store.apply(b, None, sync)?;
            }
            let secs = start.elapsed().as_secs_f64();
            println!("| put, 256 B values, batch {batch}, fsync {} | {:.0} puts/s | {} puts in {:.2} s |", if sync { "on" } else { "off" }, total as f64 / secs, total, secs);
        }
    }
    Ok(())
}

fn bench_range() -> Result<()> {
    let dir = tempdir()?;
    let store = open(dir.path())?;
    let mut rng = Rng(7);
    load(&store, "range/", 100_000, 100_000, 256, &mut rng)?;
    let backend = store.backend();
    let mut lat = Vec::with_capacity(200_000);
    for _ in 0..200_000 {
        let req = RangeRequest {
            key: Bytes::from(format!("range/{:08}", rng.next_u64() % 100_000)),
            ..Default::default()
        };
        let t = Instant::now();
        let r = backend.range(&req)?;
        lat.push(t.elapsed());
        if r.kvs.len() != 1 {
            anyhow::bail!("missing key");
        }
    }
    lat.sort();
    println!("| single-key range, 100k keys | p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs | 200,000 gets |", pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 0.999));
    Ok(())
}

fn bench_prefix() -> Result<()> {
    let dir = tempdir()?;
    let store = open(dir.path())?;
    let mut rng = Rng(8);
    load(&store, "p/", 100_000, 100_000, 256, &mut rng)?;
    let mut lat = Vec::new();
    for i in 0..2_000u64 {
        let block = (i * 37) % 100;
        let req = RangeRequest {
            key: Bytes::from(format!("p/{:05}", block)),
            range_end: Bytes::from(format!("p/{:05}", block + 1)),
            ..Default::default()
        };
        let t = Instant::now();
        let r = store.backend().range(&req)?;
        lat.push(t.elapsed());
        if r.kvs.len() != 1000 {
            anyhow::bail!("prefix range returned {} keys", r.kvs.len());
        }
    }
    lat.sort();
    println!(
        "| 1,000-key prefix range (of 100k keys) | p50 {:.0} µs, p99 {:.0} µs | 2,000 ranges |",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
    Ok(())
}

fn bench_watch() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let dir = tempdir()?;
        let store = Arc::new(open(dir.path())?);
        let origin = Instant::now();
        let watchers = 1000;
        let mut tasks = Vec::new();
        for _ in 0..watchers {
            let mut w = store.watch(WatchRequest { key: Bytes::from_static(b"w/"), range_end: Bytes::from_static(b"w0"), ..Default::default() }).await?;
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut seen = 0u64;
                while let Some(b) = w.recv_batch().await {
                    let now = origin.elapsed();
                    let WatchBatch::Events(events) = b else { continue };
                    for (e, _) in events.iter() {
                        let v = e.kv.as_ref().map(|kv| &kv.value[..]).unwrap_or_default();
                        let sent = u64::from_le_bytes(v.get(..8).and_then(|s| s.try_into().ok()).unwrap_or([0; 8]));
                        if sent == u64::MAX {
                            return (lat, seen);
                        }
                        seen += 1;
                        lat.push(now.saturating_sub(Duration::from_nanos(sent)));
                    }
                }
                (lat, seen)
            }));
        }
        let secs = 10u64;
        let rate = 1000u64;
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        // The writer is a task on the runtime, as openraft's state machine is: two worker threads
        // on two cores, nothing else competing for them.
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                let mut apply_lat = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
                for i in 0..secs * rate {
                    tick.tick().await;
                    let sent = origin.elapsed().as_nanos() as u64;
                    let mut value = sent.to_le_bytes().to_vec();
                    value.resize(256, 0);
                    let cmd = put_cmd(format!("w/{:04}", i % 1000), Bytes::from(value));
                    let t = Instant::now();
                    store.apply(&[cmd], None, false)?;
                    apply_lat.push(t.elapsed());
                }
                anyhow::Ok(apply_lat)
            })
        };
        let mut apply_lat = writer.await??;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let mut end = u64::MAX.to_le_bytes().to_vec();
        end.resize(8, 0);
        store.apply(&[put_cmd("w/end".into(), Bytes::from(end))], None, false)?;
        let mut all = Vec::new();
        let mut total = 0;
        for t in tasks {
            let (lat, seen) = t.await?;
            total += seen;
            all.extend(lat);
        }
        all.sort();
        apply_lat.sort();
        eprintln!(
            "put apply (with fan-out) p50 {:.0} µs p99 {:.0} µs max {:.0} µs; delivery p90 {:.0} µs p95 {:.0} µs p99.9 {:.0} µs; watchers fell behind {} times",
            pct(&apply_lat, 0.5), pct(&apply_lat, 0.99), pct(&apply_lat, 1.0), pct(&all, 0.9), pct(&all, 0.95), pct(&all, 0.999), store.hub().fell_behind_total()
        );
        let expected = watchers as u64 * secs * rate;
        println!(
            "| watch fan-out: 1,000 watchers, 1,000 puts/s for {secs} s | delivery p50 {:.0} µs, p99 {:.0} µs, max {:.1} ms; {:.2} cores | {total} of {expected} events delivered |",
            pct(&all, 0.5), pct(&all, 0.99), all.last().map_or(0.0, |d| d.as_secs_f64() * 1e3), cpu / wall
        );
        anyhow::Ok(())
    })
}

fn bench_compact() -> Result<()> {
    let dir = tempdir()?;
    let store = Arc::new(open(dir.path())?);
    let mut rng = Rng(9);
    // 1M revisions: one put per revision, over 10k keys.
    let mut i = 0u64;
    while i < 1_000_000 {
        for j in 0..128u64 {
            store.apply(
                &[put_cmd(
                    format!("c/{:06}", (i + j) % 10_000),
                    rng.bytes(256),
                )],
                None,
                false,
            )?;
        }
        i += 128;
    }
    let target = store.backend().revisions().current;
    let measure = |store: &Arc<Store<RocksBackend>>,
                   during: &AtomicBool,
                   rng: &mut Rng,
                   limit: Duration|
     -> Result<(Vec<Duration>, f64)> {
        let mut lat = Vec::new();
        let t0 = Instant::now();
        while t0.elapsed() < limit && during.load(Ordering::SeqCst) {
            let cmd = put_cmd(format!("c/{:06}", rng.next_u64() % 10_000), rng.bytes(256));
            let t = Instant::now();
            store.apply(&[cmd], None, false)?;
            lat.push(t.elapsed());
        }
        Ok((lat, t0.elapsed().as_secs_f64()))
    };
    let always = AtomicBool::new(true);
    let (mut base, _) = measure(&store, &always, &mut rng, Duration::from_secs(15))?;
    base.sort();
    let running = Arc::new(AtomicBool::new(true));
    let t0 = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(store.compact(target))?;
    let watcher = {
        let store = store.clone();
        let running = running.clone();
        std::thread::spawn(move || {
            while store.backend().compacted_through().unwrap_or(0) < target {
                std::thread::sleep(Duration::from_millis(5));
            }
            running.store(false, Ordering::SeqCst);
            t0.elapsed()
        })
    };
    let (mut during, _) = measure(&store, &running, &mut rng, Duration::from_secs(600))?;
    let took = watcher
        .join()
        .map_err(|_| anyhow::anyhow!("watcher thread"))?;
    if std::env::var("BENCH_ROCKS_STATS").is_ok() {
        eprintln!("{}", store.backend().rocksdb_stats());
    }
    during.sort();
    println!(
        "| compaction of 1M revisions (10k keys) while puts run | longest put {:.2} ms, p99.9 {:.0} µs, {} puts over 5 ms; without compaction: longest {:.2} ms, p99.9 {:.0} µs, {} over 5 ms | compaction took {:.1} s, {} puts meanwhile |",
        during.last().map_or(0.0, |d| d.as_secs_f64() * 1e3), pct(&during, 0.999), over(&during),
        base.last().map_or(0.0, |d| d.as_secs_f64() * 1e3), pct(&base, 0.999), over(&base),
        took.as_secs_f64(), during.len()
    );
    Ok(())
}

fn bench_rss() -> Result<()> {
    let dir = tempdir()?;
    let store = open(dir.path())?;
    let mut rng = Rng(10);
    let t0 = Instant::now();
    load(&store, "rss/", 1_000_000, 1_000_000, 1024, &mut rng)?;
    let load_secs = t0.elapsed().as_secs_f64();
    for _ in 0..100_000 {
        store.backend().range(&RangeRequest {
            key: Bytes::from(format!("rss/{:08}", rng.next_u64() % 1_000_000)),
            ..Default::default()
        })?;
    }
    println!(
        "| RSS with 1M keys of 1 KiB | {:.0} MiB (peak {:.0} MiB) | loaded in {load_secs:.1} s, then 100k random gets; db {:.0} MiB on disk |",
        rss_mib("VmRSS:"), rss_mib("VmHWM:"), store.backend().db_size() as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = ["put", "range", "prefix", "watch", "compact", "rss"];
    let names: Vec<&str> = if args.is_empty() {
        all.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    println!("| benchmark | result | detail |\n|---|---|---|");
    for n in names {
        match n {
            "put" => bench_put(&[false, true], &[1, 16, 128])?,
            "put128" => bench_put(&[false], &[128])?,
            "range" => bench_range()?,
            "prefix" => bench_prefix()?,
            "watch" => bench_watch()?,
            "compact" => bench_compact()?,
            "rss" => bench_rss()?,
            other => anyhow::bail!("unknown benchmark {other}; known: {all:?}"),
        }
    }
    Ok(())
}
