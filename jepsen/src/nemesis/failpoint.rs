//! Crash points inside the server (test builds with the `fault-injection` feature): a replica
//! is restarted with `CAPSTAN_FAILPOINTS` arming one point to abort the process after a random
//! number of passes — in the log append, the state machine's apply, a snapshot build, or the
//! middle of physical compaction. After the fault it is restarted clean.

use rand::Rng;

use super::{Ctx, Fault, Held};

fn point(fault: Fault) -> (&'static str, u32, u32) {
    match fault {
        Fault::CrashAppend => ("raft.append", 5, 200),
        Fault::CrashApply => ("raft.apply", 5, 200),
        Fault::CrashSnapshot => ("raft.snapshot.build", 0, 2),
        _ => ("store.compact", 0, 4),
    }
}

pub async fn start(fault: Fault, ctx: &mut Ctx) -> Held {
    let node = if ctx.rng.gen_bool(0.5) {
        ctx.leader_or_random().await
    } else {
        ctx.random_member().await
    };
    let (name, lo, hi) = point(fault);
    let after = ctx.rng.gen_range(lo..=hi);
    let mut c = ctx.cluster.lock().await;
    c.kill(node);
    c.replicas[node].env.insert(
        "CAPSTAN_FAILPOINTS".into(),
        format!("{name}={after}*off->return"),
    );
    let r = c.spawn(node);
    let detail = format!(
        "{}: abort at {name} after {after} passes ({})",
        c.replicas[node].name,
        if r.is_ok() {
            "restarted armed"
        } else {
            "restart failed"
        }
    );
    drop(c);
    ctx.rec.nemesis(fault.name(), "start", detail);
    Held::Crash(node)
}

pub async fn stop(ctx: &mut Ctx, name: &str, node: usize) {
    let mut c = ctx.cluster.lock().await;
    let crashed = c.reap_exited().into_iter().find(|(i, _)| *i == node);
    c.kill(node);
    c.replicas[node].env.clear();
    let r = c.spawn(node);
    let detail = format!(
        "{}: {}; restarted clean{}",
        c.replicas[node].name,
        match crashed {
            Some((_, status)) => format!("crashed ({status})"),
            None => "point not reached".to_string(),
        },
        if r.is_ok() { "" } else { " (failed)" }
    );
    drop(c);
    ctx.rec.nemesis(name, "stop", detail);
}
