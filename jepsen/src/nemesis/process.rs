//! Process faults: kill -9 (the leader, a random replica, all of them) and restart; SIGSTOP and
//! SIGCONT (the leader, a follower, the leader for long).

use super::{Ctx, Fault, Held};

pub async fn kill(fault: Fault, ctx: &mut Ctx) -> Held {
    let nodes = match fault {
        Fault::KillAll => ctx.cluster.lock().await.members(),
        Fault::KillLeader => vec![ctx.leader_or_random().await],
        _ => vec![ctx.random_member().await],
    };
    let mut c = ctx.cluster.lock().await;
    let mut names = Vec::new();
    for &i in &nodes {
        c.kill(i);
        names.push(c.replicas[i].name.clone());
    }
    ctx.rec.nemesis(
        fault.name(),
        "start",
        format!("kill -9 {}", names.join(" ")),
    );
    Held::Killed(nodes)
}

pub async fn restart(ctx: &mut Ctx, name: &str, nodes: Vec<usize>) {
    let mut c = ctx.cluster.lock().await;
    let mut done = Vec::new();
    for i in nodes {
        if !c.replicas[i].is_running() {
            match c.spawn(i) {
                Ok(()) => done.push(c.replicas[i].name.clone()),
                Err(e) => done.push(format!("{} (failed: {e})", c.replicas[i].name)),
            }
        }
    }
    ctx.rec
        .nemesis(name, "stop", format!("restarted {}", done.join(" ")));
}

pub async fn pause(fault: Fault, ctx: &mut Ctx) -> Held {
    let node = match fault {
        Fault::PauseFollower => ctx.follower().await,
        _ => ctx.leader_or_random().await,
    };
    let mut c = ctx.cluster.lock().await;
    c.pause(node);
    let detail = format!("SIGSTOP {}", c.replicas[node].name);
    drop(c);
    ctx.rec.nemesis(fault.name(), "start", detail);
    Held::Paused(vec![node])
}

pub async fn resume(ctx: &mut Ctx, name: &str, nodes: Vec<usize>) {
    let mut c = ctx.cluster.lock().await;
    let mut names = Vec::new();
    for i in nodes {
        c.resume(i);
        names.push(c.replicas[i].name.clone());
    }
    ctx.rec
        .nemesis(name, "stop", format!("SIGCONT {}", names.join(" ")));
}
