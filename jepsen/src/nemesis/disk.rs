//! Disk faults by `strace -e inject` attached to a running replica: fsync and fdatasync fail
//! with EIO, or each takes 100 ms. The expected behaviour under EIO is fail-stop: the replica
//! stops making progress (or exits) and never acknowledges a write that was not made durable;
//! after the fault the harness restarts it, as an operator would.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Ctx, Fault, Held};
use crate::history::Outcome;

pub async fn start(fault: Fault, ctx: &mut Ctx) -> Held {
    let node = ctx.random_member().await;
    let c = ctx.cluster.lock().await;
    let name = c.replicas[node].name.clone();
    let Some(pid) = c.replicas[node].pid() else {
        drop(c);
        ctx.rec.nemesis(
            fault.name(),
            "start",
            format!("{name} not running: skipped"),
        );
        return Held::Nothing;
    };
    let inject = match fault {
        Fault::DiskEio => "fsync,fdatasync:error=EIO",
        _ => "fsync,fdatasync:delay_enter=100000",
    };
    let child = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=fsync,fdatasync",
        ])
        .arg("-e")
        .arg(format!("inject={inject}"))
        .arg("-p")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    drop(c);
    match child {
        Ok(child) => {
            ctx.rec
                .nemesis(fault.name(), "start", format!("{name}: inject {inject}"));
            Held::Strace(node, child)
        }
        Err(e) => {
            ctx.rec.nemesis(
                fault.name(),
                "start",
                format!("strace unavailable ({e}): skipped"),
            );
            Held::Nothing
        }
    }
}

pub async fn stop(ctx: &mut Ctx, name: &str, node: usize, mut child: std::process::Child) {
    // SIGINT makes strace detach cleanly.
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status();
    for _ in 0..50 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut c = ctx.cluster.lock().await;
    let replica = c.replicas[node].name.clone();
    if name == Fault::DiskEio.name() {
        // A store that saw a failed fsync may not trust its files: fail-stop, then restart.
        let exited = c.reap_exited().into_iter().any(|(i, _)| i == node);
        c.kill(node);
        let r = c.spawn(node);
        drop(c);
        ctx.rec.admin(
            "restart",
            format!("{replica} after EIO (had exited by itself: {exited}): {r:?}"),
            if r.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Fail
            },
        );
    } else {
        drop(c);
    }
    ctx.rec
        .nemesis(name, "stop", format!("{replica}: strace detached"));
}
