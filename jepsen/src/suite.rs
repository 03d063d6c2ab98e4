//! The matrix: every chosen fault × cluster size × run, one after another, with a progress bar,
//! a line per finished run, and the index page over everything under `--out`.

use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::history::Validity;
use crate::nemesis::Fault;
use crate::options::JepsenArgs;
use crate::run::{replay, run_name, run_one, RunSpec};
use crate::workload::Workload;
use crate::JepsenError;

/// libfaketime as Debian installs it.
const FAKETIME: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
];

/// Runs what `args` asks; returns the exit status (0 valid, 1 invalid, 2 unknown).
/// `failpoints` tells whether this binary was built with the `fault-injection` feature.
pub async fn run_suite(args: JepsenArgs, failpoints: bool) -> Result<i32, JepsenError> {
    let budget = Duration::from_secs(args.check_budget);
    if let Some(dir) = &args.replay {
        let r = replay(dir, budget).await?;
        println!("{}: {:?} ({} ops)", dir.display(), r.valid, r.ops);
        crate::report::index::write_index(dir.parent().unwrap_or(dir))?;
        return Ok(exit_code(r.valid));
    }
    if args.summary {
        print!("{}", crate::report::index::matrix_markdown(&args.out)?);
        return Ok(0);
    }
    crate::cluster::require_loopback(std::net::IpAddr::V4(args.host))?;
    let mut faults = Vec::new();
    for n in &args.nemesis {
        if n == "all" {
            faults.extend(Fault::all());
        } else if let Some(f) = Fault::parse(n) {
            faults.push(f);
        }
    }
    faults.dedup();
    let wanted: Vec<&str> = faults
        .iter()
        .filter(|f| f.needs_failpoints())
        .map(|f| f.name())
        .chain(args.unsafe_stale_reads.then_some("--unsafe-stale-reads"))
        .collect();
    if !failpoints && !wanted.is_empty() {
        return Err(JepsenError::Config(format!(
            "{} need a capstan built with `--features fault-injection` (README's test command \
             builds one)",
            wanted.join(", ")
        )));
    }
    for r in &args.replicas {
        if ![1, 3, 5].contains(r) {
            return Err(JepsenError::Config(format!(
                "--replicas {r}: use 1, 3 or 5"
            )));
        }
    }
    let exe = match &args.capstan {
        Some(p) => p.clone(),
        None => std::env::current_exe()?,
    };
    let faketime = FAKETIME.iter().map(PathBuf::from).find(|p| p.exists());
    if faults.iter().any(|f| f.needs_faketime()) && faketime.is_none() {
        return Err(JepsenError::Config(
            "clock faults need libfaketime (apt-get install libfaketime)".into(),
        ));
    }
    let seed0 = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000_007)
            .unwrap_or(1)
    });
    let mut workloads: Vec<Workload> = args
        .workload
        .iter()
        .filter_map(|w| Workload::parse(w))
        .collect();
    workloads.dedup();
    let mut plan = Vec::new();
    for &w in &workloads {
        for &f in &faults {
            for &n in &args.replicas {
                for _ in 0..args.runs {
                    plan.push((w, f, n));
                }
            }
        }
    }
    std::fs::create_dir_all(&args.out)?;
    let bar = ProgressBar::new(plan.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let mut worst = 0;
    for (k, (workload, fault, replicas)) in plan.into_iter().enumerate() {
        let seed = seed0.wrapping_add(k as u64);
        let dir = args.out.join(run_name(workload, fault, replicas, seed));
        let spec = RunSpec {
            workload,
            fault,
            replicas,
            seed,
            window: Duration::from_secs(args.time),
            dir: dir.clone(),
            exe: exe.clone(),
            host: args.host,
            gap: Duration::from_millis(args.gap_ms),
            ops_per_key: args.ops_per_key,
            registers: args.registers,
            append_keys: args.append_keys,
            snapshot_count: args.snapshot_count,
            election_timeout_ms: args.election_timeout_ms,
            heartbeat_ms: args.heartbeat_ms,
            budget,
            keep_data: args.keep_data,
            unsafe_stale_reads: args.unsafe_stale_reads,
            faketime: faketime.clone(),
            command: format!(
                "capstan jepsen {}--nemesis {} --replicas {replicas} --seed {seed} --time {}{}",
                if workload.is_kube() {
                    format!("--workload {} ", workload.name())
                } else {
                    String::new()
                },
                fault.name(),
                args.time,
                if args.unsafe_stale_reads {
                    " --unsafe-stale-reads"
                } else {
                    ""
                }
            ),
        };
        let label = if workload.is_kube() {
            format!(
                "{} {} {replicas}r seed {seed}",
                workload.name(),
                fault.name()
            )
        } else {
            format!("{} {replicas}r seed {seed}", fault.name())
        };
        let phase = |p: &str| bar.set_message(format!("{label}: {p}"));
        let line = match run_one(&spec, &phase).await {
            Ok(r) => {
                let bad: Vec<String> = r
                    .verdicts
                    .iter()
                    .filter(|v| v.valid != Validity::Valid)
                    .map(|v| format!("{}={:?}", v.checker, v.valid))
                    .collect();
                worst = worst.max(exit_code(r.valid));
                format!(
                    "{:?} {label}: {} ops ({} ok, {} info), {} faults, {:.0} s{}  {}",
                    r.valid,
                    r.ops,
                    r.ok,
                    r.indeterminate,
                    r.faults,
                    r.info.duration_s,
                    if bad.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", bad.join(" "))
                    },
                    dir.display()
                )
            }
            Err(e) => {
                worst = worst.max(2);
                format!("Unknown {label}: the run failed: {e}  {}", dir.display())
            }
        };
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        bar.inc(1);
        crate::report::index::write_index(&args.out)?;
    }
    bar.finish_and_clear();
    eprintln!("index: {}", args.out.join("index.html").display());
    Ok(worst)
}

fn exit_code(v: Validity) -> i32 {
    match v {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        Validity::Unknown => 2,
    }
}
