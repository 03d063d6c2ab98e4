//! One run: start a cluster, warm up, inject one fault class during the window while the
//! clients run, heal, let the clients run on through recovery, stop them, wait for the
//! replicas to converge and the watchers to catch up, read every replica's store back, stop the
//! cluster, check, and write the run directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Mutex;

use crate::check::check_all;
use crate::cluster::{Cluster, ClusterSpec};
use crate::dump::dump;
use crate::history::{Op, Outcome, ReplicaDump, Verdict, WatchLog};
use crate::nemesis::{self, Ctx, Fault};
use crate::recorder::{Lane, Recorder};
use crate::report::{self, RunInfo, RunResults};
use crate::workload::kube_run::{KubeArtifacts, KubeRun};
use crate::workload::watch::WatchEnd;
use crate::workload::{append, lease, register, watch, Pace, Workload};
use crate::JepsenError;

const WARMUP: Duration = Duration::from_secs(3);
const RECOVERY: Duration = Duration::from_secs(4);
/// Fewer ok operations than this in the warm-up makes the run unknown (etcd's MinimalQPS).
const MIN_WARMUP_OKS: usize = 20;

/// What one run needs to know.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub workload: Workload,
    pub fault: Fault,
    pub replicas: usize,
    pub seed: u64,
    pub window: Duration,
    pub dir: PathBuf,
    pub exe: PathBuf,
    pub host: std::net::Ipv4Addr,
    pub gap: Duration,
    pub ops_per_key: u64,
    pub registers: usize,
    pub append_keys: usize,
    pub snapshot_count: u64,
    pub election_timeout_ms: u64,
    pub heartbeat_ms: u64,
    pub budget: Duration,
    pub keep_data: bool,
    pub unsafe_stale_reads: bool,
    pub faketime: Option<PathBuf>,
    pub command: String,
}

/// Reports a run's phase (for the progress bar).
pub type Phase<'a> = &'a (dyn Fn(&str) + Sync);

fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A run directory name: time, workload (unless etcd's), fault, size, seed.
pub fn run_name(workload: Workload, fault: Fault, replicas: usize, seed: u64) -> String {
    let t: String = rfc3339_now()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let w = if workload.is_kube() {
        format!("{}-", workload.name())
    } else {
        String::new()
    };
    format!("{t}-{w}{}-{replicas}r-s{seed}", fault.name())
}

/// Runs one fault test and writes its directory; returns its results.
pub async fn run_one(spec: &RunSpec, phase: Phase<'_>) -> Result<RunResults, JepsenError> {
    let started = Instant::now();
    let started_at = rfc3339_now();
    std::fs::create_dir_all(&spec.dir)?;
    let rec = Recorder::new();
    phase("starting replicas");
    let mut cluster = Cluster::start(ClusterSpec {
        replicas: spec.replicas,
        host: spec.host,
        run_dir: spec.dir.clone(),
        exe: spec.exe.clone(),
        heartbeat_ms: spec.heartbeat_ms,
        election_timeout_ms: spec.election_timeout_ms,
        snapshot_count: spec.snapshot_count,
        faketime: if spec.fault.needs_faketime() {
            spec.faketime.clone()
        } else {
            None
        },
    })
    .await?;
    if spec.unsafe_stale_reads {
        for i in 0..cluster.len() {
            cluster.kill(i);
            cluster.replicas[i].env.insert(
                "CAPSTAN_FAILPOINTS".into(),
                "raft.unsafe_stale_reads=return".into(),
            );
            cluster.spawn(i)?;
        }
    }
    let mut notes: Vec<Verdict> = Vec::new();
    cluster.wait_healthy(Duration::from_secs(30), false).await?;
    let cluster = Arc::new(Mutex::new(cluster));

    // Clients.
    phase("warm-up");
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let lane_rng =
        |k: u64| ChaCha8Rng::seed_from_u64(spec.seed.wrapping_mul(1_000_003).wrapping_add(k));
    let pace = Pace::new(spec.gap);
    let values = Arc::new(AtomicI64::new(1));
    let regs = Arc::new(register::Registers::new(
        spec.registers,
        spec.ops_per_key,
        values.clone(),
    ));
    let end = WatchEnd::new();
    let mut lanes = Vec::new();
    let mut watchers = Vec::new();
    let mut kube_run = None;
    if spec.workload.is_kube() {
        let c = cluster.lock().await;
        let mut k = KubeRun::start(
            spec.workload,
            &c,
            rec.clone(),
            pace.clone(),
            spec.seed,
            regs.clone(),
            values.clone(),
        )
        .await?;
        lanes.append(&mut k.lanes);
        kube_run = Some(k);
    } else {
        let c = cluster.lock().await;
        let n = c.len();
        for i in 0..n {
            let node = c.replicas[i].name.clone();
            let lane = Lane::new(&format!("register-{i}"), &node, c.client(i)?, rec.clone());
            lanes.push(tokio::spawn(register::lane(
                lane,
                regs.clone(),
                lane_rng(i as u64),
                pace.clone(),
            )));
            watchers.push(tokio::spawn(watch::watcher(
                format!("watch-{node}"),
                node.clone(),
                c.client(i)?,
                rec.clone(),
                end.clone(),
            )));
        }
        for k in 0..2 {
            let i = k % n;
            let lane = Lane::new(
                &format!("append-{k}"),
                &c.replicas[i].name,
                c.client(i)?,
                rec.clone(),
            );
            lanes.push(tokio::spawn(append::lane(
                lane,
                spec.append_keys,
                values.clone(),
                lane_rng(100 + k as u64),
                pace.clone(),
            )));
        }
        let i = 2 % n;
        let lane = Lane::new("lease-0", &c.replicas[i].name, c.client(i)?, rec.clone());
        lanes.push(tokio::spawn(lease::lane(
            lane,
            values.clone(),
            lane_rng(200),
            pace.clone(),
        )));
    }
    tokio::time::sleep(WARMUP).await;
    let warm_oks = rec
        .ops()
        .iter()
        .filter(|o| o.outcome == Outcome::Ok && !o.is_nemesis())
        .count();
    // The controllers workload changes its Deployment about once a second: its load is the
    // controllers', not the client's.
    if warm_oks < MIN_WARMUP_OKS && spec.workload != Workload::Controllers {
        notes.push(Verdict::unknown(
            "throughput-gate",
            warm_oks,
            format!("only {warm_oks} ok operations in the warm-up (< {MIN_WARMUP_OKS}): the run says little"),
        ));
    }

    // Faults.
    phase("fault window");
    let storm = if spec.fault.compacts() {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(nemesis::compaction_storm(
            cluster.clone(),
            rec.clone(),
            ChaCha8Rng::seed_from_u64(spec.seed ^ 0x5eed),
            stop.clone(),
        ));
        rec.nemesis("compaction", "start", "compaction every 100-500 ms");
        Some((task, stop))
    } else {
        None
    };
    let mut ctx = Ctx {
        cluster: cluster.clone(),
        rec: rec.clone(),
        rng: ChaCha8Rng::seed_from_u64(rand::Rng::gen(&mut rng)),
        election_ms: spec.election_timeout_ms,
    };
    nemesis::run(spec.fault, &mut ctx, spec.window).await;
    if let Some((task, stop)) = storm {
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = task.await;
        rec.nemesis("compaction", "stop", "compaction stopped");
    }
    nemesis::heal_all(&mut ctx).await;

    phase("recovery");
    tokio::time::sleep(RECOVERY).await;
    pace.stop();
    for l in lanes {
        let _ = tokio::time::timeout(Duration::from_secs(10), l).await;
    }

    phase("convergence");
    // A replica that died after the heal (a crash the logs checker will judge) is restarted
    // once more, as a supervisor would, before the cluster is declared unrecoverable.
    let mut healthy = cluster
        .lock()
        .await
        .wait_healthy(Duration::from_secs(15), true)
        .await;
    if healthy.is_err() {
        nemesis::restart_crashed(&mut ctx).await;
        healthy = cluster
            .lock()
            .await
            .wait_healthy(Duration::from_secs(15), true)
            .await;
    }
    if let Err(e) = &healthy {
        notes.push(Verdict::unknown(
            "recovery",
            0,
            format!("the cluster did not converge within 30 s after healing: {e}"),
        ));
    }
    let max_rev = rec
        .ops()
        .iter()
        .filter(|o| o.outcome == Outcome::Ok)
        .map(|o| o.rev)
        .max()
        .unwrap_or(0);
    end.finish(max_rev, Duration::from_secs(20));
    for w in watchers {
        let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
    }
    let kube = match kube_run {
        Some(k) => {
            phase("informers catching up");
            Some(k.finish(&cluster).await)
        }
        None => None,
    };

    phase("reading replicas back");
    std::fs::create_dir_all(spec.dir.join("ground-truth"))?;
    // Leases left by the workload expire on their own and change the keyspace: wait for them,
    // then read every replica; if one moved on meanwhile, read them all again.
    if !spec.workload.is_kube() {
        wait_leases_gone(&cluster, Duration::from_secs(20)).await;
    }
    let mut dumps = Vec::new();
    let mut dump_errors = Vec::new();
    for _attempt in 0..5 {
        dumps.clear();
        dump_errors.clear();
        let c = cluster.lock().await;
        for i in c.members() {
            let name = c.replicas[i].name.clone();
            let d = match c.direct(i) {
                Ok(client) => dump(&name, &client).await,
                Err(e) => Err(e.to_string()),
            };
            match d {
                Ok(d) => dumps.push(d),
                Err(e) => dump_errors.push(format!("{name}: {e}")),
            }
        }
        drop(c);
        if dump_errors.is_empty() && dumps.windows(2).all(|w| w[0].revision == w[1].revision) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for e in dump_errors {
        notes.push(Verdict::unknown("ground-truth-dump", 0, e));
    }
    for d in &dumps {
        write_json(
            &spec
                .dir
                .join("ground-truth")
                .join(format!("{}.json", d.node)),
            d,
        )?;
    }
    let total = started.elapsed();
    {
        // The dumps are taken: kill -9 is enough (and is what the data must survive anyway).
        let mut c = cluster.lock().await;
        c.heal_links();
        for i in 0..c.len() {
            c.kill(i);
        }
    }
    drop(ctx);
    let ops = rec.ops();
    let watches = rec.watches();

    phase("checking");
    let results = check_and_report(
        &spec.dir,
        RunInfo {
            name: spec
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            seed: spec.seed,
            nemesis: spec.fault.name().to_string(),
            workload: workload_label(spec.workload),
            replicas: spec.replicas,
            started: started_at,
            duration_s: total.as_secs_f64(),
            command: spec.command.clone(),
            capstan_version: env!("CARGO_PKG_VERSION").to_string(),
        },
        ops,
        watches,
        dumps,
        notes,
        spec.budget,
        kube.as_ref(),
    )
    .await?;
    if results.valid == crate::history::Validity::Valid && !spec.keep_data {
        if let Ok(c) = Arc::try_unwrap(cluster) {
            let c = c.into_inner();
            for i in 0..c.len() {
                let _ = std::fs::remove_dir_all(c.replicas[i].data_dir());
            }
        }
    }
    Ok(results)
}

/// Waits until no lease is left (they expire by themselves once the lease lane stopped).
async fn wait_leases_gone(cluster: &Mutex<Cluster>, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let client = {
            let c = cluster.lock().await;
            c.members().first().and_then(|i| c.direct(*i).ok())
        };
        if let Some(client) = client {
            let leases = crate::client::timed(
                client
                    .lease()
                    .lease_leases(capstan_proto::etcdserverpb::LeaseLeasesRequest {}),
            )
            .await;
            if leases.is_ok_and(|l| l.leases.is_empty()) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The workload as a run's results name it.
fn workload_label(w: Workload) -> String {
    match w {
        Workload::Etcd => "register+append+lease+watch".into(),
        other => other.name().into(),
    }
}

/// Checks a history and writes history.jsonl, watch-*.jsonl, kube.json (Kubernetes REST
/// workloads), results.json and index.html.
#[allow(clippy::too_many_arguments)]
pub async fn check_and_report(
    dir: &Path,
    info: RunInfo,
    ops: Vec<Op>,
    watches: Vec<WatchLog>,
    dumps: Vec<ReplicaDump>,
    notes: Vec<Verdict>,
    budget: Duration,
    kube: Option<&KubeArtifacts>,
) -> Result<RunResults, JepsenError> {
    write_lines(&dir.join("history.jsonl"), &ops)?;
    let workload = Workload::parse(&info.workload).unwrap_or(Workload::Etcd);
    if let Some(k) = kube {
        write_json(&dir.join("kube.json"), k)?;
    }
    let kube = kube.cloned();
    let informer_events: usize = kube
        .iter()
        .flat_map(|k| &k.informers)
        .flat_map(|l| &l.msgs)
        .filter(|m| matches!(m, crate::workload::informer::InformerMsg::Event { .. }))
        .count();
    for w in &watches {
        write_lines(&dir.join(format!("{}.jsonl", w.lane)), &w.msgs)?;
    }
    let nodes = dir.join("nodes");
    let (ops, watches, verdicts) = tokio::task::spawn_blocking(move || {
        let mut v = notes;
        match &kube {
            Some(k) if workload.is_kube() => v.extend(crate::check::check_kube(
                workload, &ops, k, &dumps, &nodes, budget,
            )),
            _ => v.extend(check_all(&ops, &watches, &dumps, &nodes, budget)),
        }
        (ops, watches, v)
    })
    .await
    .map_err(|e| JepsenError::Config(format!("checker task: {e}")))?;
    let client_ops: Vec<&Op> = ops.iter().filter(|o| !o.is_nemesis()).collect();
    let results = RunResults {
        valid: RunResults::overall(&verdicts),
        ops: client_ops.len(),
        ok: client_ops.iter().filter(|o| o.outcome == Outcome::Ok).count(),
        fail: client_ops.iter().filter(|o| o.outcome == Outcome::Fail).count(),
        indeterminate: client_ops.iter().filter(|o| o.outcome == Outcome::Info).count(),
        watch_events: watches
            .iter()
            .flat_map(|w| &w.msgs)
            .map(|m| match m {
                crate::history::WatchMsg::Events { events, .. } => events.len(),
                _ => 0,
            })
            .sum::<usize>()
            + informer_events,
        faults: ops
            .iter()
            .filter(|o| matches!(&o.call, crate::history::Call::Nemesis { phase, .. } if phase == "start"))
            .count(),
        info,
        verdicts,
    };
    write_json(&dir.join("results.json"), &results)?;
    std::fs::write(
        dir.join("index.html"),
        report::html::run_page(&results, &ops, &watches),
    )?;
    Ok(results)
}

/// Re-checks a saved run directory.
pub async fn replay(dir: &Path, budget: Duration) -> Result<RunResults, JepsenError> {
    let old: RunResults = read_json(&dir.join("results.json"))?;
    let ops: Vec<Op> = read_lines(&dir.join("history.jsonl"))?;
    let mut watches = Vec::new();
    let mut dumps = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(lane) = name
            .strip_prefix("watch-")
            .and_then(|n| n.strip_suffix(".jsonl"))
        {
            watches.push(WatchLog {
                lane: format!("watch-{lane}"),
                prefix: watch::PREFIX.to_string(),
                msgs: read_lines(&entry.path())?,
            });
        }
    }
    watches.sort_by(|a, b| a.lane.cmp(&b.lane));
    if let Ok(entries) = std::fs::read_dir(dir.join("ground-truth")) {
        for entry in entries.flatten() {
            dumps.push(read_json::<ReplicaDump>(&entry.path())?);
        }
    }
    dumps.sort_by(|a, b| a.node.cmp(&b.node));
    let notes = old
        .verdicts
        .into_iter()
        .filter(|v| {
            ["throughput-gate", "recovery", "ground-truth-dump"].contains(&v.checker.as_str())
        })
        .collect();
    let kube: Option<KubeArtifacts> = if dir.join("kube.json").exists() {
        Some(read_json(&dir.join("kube.json"))?)
    } else {
        None
    };
    check_and_report(
        dir,
        old.info,
        ops,
        watches,
        dumps,
        notes,
        budget,
        kube.as_ref(),
    )
    .await
}

fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> Result<(), JepsenError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| JepsenError::Config(e.to_string()))?;
    std::fs::write(path, text)?;
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, JepsenError> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| JepsenError::Config(format!("{}: {e}", path.display())))
}

fn write_lines<T: serde::Serialize>(path: &Path, items: &[T]) -> Result<(), JepsenError> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for item in items {
        let line = serde_json::to_string(item).map_err(|e| JepsenError::Config(e.to_string()))?;
        writeln!(f, "{line}")?;
    }
    f.flush()?;
    Ok(())
}

fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, JepsenError> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| JepsenError::Config(format!("{}: {e}", path.display())))
        })
        .collect()
}
