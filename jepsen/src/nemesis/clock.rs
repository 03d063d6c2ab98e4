//! Clock faults through libfaketime: each replica reads its wall clock through its own offset
//! file (`FAKETIME_TIMESTAMP_FILE`, re-read every second), so a bump or a strobe changes
//! `SystemTime` for that replica only. Monotonic time is left alone
//! (`FAKETIME_DONT_FAKE_MONOTONIC=1`), as NTP steps leave it alone on a real machine: raft
//! timers and lease deadlines run on it and must not care.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;

use super::{Ctx, Fault, Held};

/// An offset in libfaketime's relative syntax (seconds, signed).
fn offset(ms: i64) -> String {
    format!(
        "{}{:.3}\n",
        if ms < 0 { "-" } else { "+" },
        ms.unsigned_abs() as f64 / 1000.0
    )
}

pub async fn start(fault: Fault, ctx: &mut Ctx) -> Held {
    let mut members = ctx.cluster.lock().await.members();
    members.shuffle(&mut ctx.rng);
    let count = ctx.rng.gen_range(1..=members.len().max(1));
    let nodes: Vec<usize> = members.into_iter().take(count).collect();
    // Jepsen's bump sizes: 2^2 .. 2^18 ms, either direction.
    let magnitude = 1i64 << ctx.rng.gen_range(2..=18);
    let ms = if ctx.rng.gen_bool(0.5) {
        magnitude
    } else {
        -magnitude
    };
    let c = ctx.cluster.lock().await;
    let files: Vec<_> = nodes.iter().map(|i| c.replicas[*i].clock_file()).collect();
    let names: Vec<String> = nodes.iter().map(|i| c.replicas[*i].name.clone()).collect();
    drop(c);
    let strobe = if fault == Fault::ClockStrobe {
        let stop = Arc::new(AtomicBool::new(false));
        let period = Duration::from_millis(ctx.rng.gen_range(1000..=2000));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut on = false;
            while !flag.load(Ordering::SeqCst) {
                on = !on;
                for f in &files {
                    let _ = std::fs::write(f, offset(if on { ms } else { 0 }));
                }
                tokio::time::sleep(period).await;
            }
        });
        ctx.rec.nemesis(
            fault.name(),
            "start",
            format!(
                "strobe {} between 0 and {ms} ms every {period:?}",
                names.join(" ")
            ),
        );
        Some((task, stop))
    } else {
        for f in &files {
            let _ = std::fs::write(f, offset(ms));
        }
        ctx.rec.nemesis(
            fault.name(),
            "start",
            format!("bump {} by {ms} ms", names.join(" ")),
        );
        None
    };
    Held::Clock(nodes, strobe)
}

pub async fn stop(
    ctx: &mut Ctx,
    name: &str,
    nodes: Vec<usize>,
    strobe: Option<(tokio::task::JoinHandle<()>, Arc<AtomicBool>)>,
) {
    if let Some((task, stop)) = strobe {
        stop.store(true, Ordering::SeqCst);
        let _ = task.await;
    }
    let c = ctx.cluster.lock().await;
    for i in &nodes {
        let _ = std::fs::write(c.replicas[*i].clock_file(), offset(0));
    }
    ctx.rec.nemesis(name, "stop", "clocks reset");
}
