//! Nemeses: one fault class per run, injected again and again during the fault window, each
//! injection a start/stop pair in the history. The schedule (targets, durations, gaps) comes
//! from the run's seed, so `--seed` replays it; the system's timing does not replay.

mod clock;
mod disk;
mod failpoint;
mod member;
mod partition;
mod process;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Mutex;

use crate::cluster::Cluster;
use crate::history::Outcome;
use crate::recorder::Recorder;

/// Every fault `capstan jepsen` knows, by the name `--nemesis` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// No fault: the baseline.
    None,
    PartitionOne,
    PartitionLeader,
    PartitionHalves,
    PartitionRing,
    PartitionOneway,
    PartitionClient,
    KillLeader,
    KillRandom,
    KillAll,
    PauseLeader,
    PauseFollower,
    PauseLong,
    Delay,
    Loss,
    ClockBump,
    ClockStrobe,
    SnapshotCatchup,
    Compaction,
    MemberGrow,
    MemberShrink,
    MemberReplace,
    DiskEio,
    DiskSlow,
    CrashAppend,
    CrashApply,
    CrashSnapshot,
    CrashCompact,
}

/// Name, fault, and what it does (for `--help` and the report).
pub const FAULTS: &[(&str, Fault, &str)] = &[
    ("none", Fault::None, "no fault (baseline)"),
    ("partition-one", Fault::PartitionOne, "cut every link of one random replica"),
    ("partition-leader", Fault::PartitionLeader, "cut every link of the leader"),
    ("partition-halves", Fault::PartitionHalves, "split into a minority and a majority"),
    ("partition-ring", Fault::PartitionRing, "Jepsen's majorities ring: each replica hears only a majority window around itself (one-way cuts)"),
    ("partition-oneway", Fault::PartitionOneway, "cut one direction of one link (often the leader's)"),
    ("partition-client", Fault::PartitionClient, "cut the clients from the leader (the replicas still talk)"),
    ("kill-leader", Fault::KillLeader, "kill -9 the leader, restart it"),
    ("kill-random", Fault::KillRandom, "kill -9 a random replica, restart it"),
    ("kill-all", Fault::KillAll, "kill -9 every replica, restart them all"),
    ("pause-leader", Fault::PauseLeader, "SIGSTOP the leader past the election timeout, then SIGCONT"),
    ("pause-follower", Fault::PauseFollower, "SIGSTOP a follower, then SIGCONT"),
    ("pause-long", Fault::PauseLong, "SIGSTOP the leader for 5 s (a new leader serves meanwhile)"),
    ("delay", Fault::Delay, "50-200 ms (+ jitter) on every link of one replica"),
    ("loss", Fault::Loss, "10-50% of chunks late by a retransmission on one replica's links"),
    ("clock-bump", Fault::ClockBump, "jump wall clocks of some replicas by 4 ms..262 s (libfaketime; monotonic time untouched)"),
    ("clock-strobe", Fault::ClockStrobe, "flip wall clocks back and forth quickly (libfaketime)"),
    ("snapshot-catchup", Fault::SnapshotCatchup, "keep a follower cut off until the leader's log moved past it, so it catches up by snapshot"),
    ("compaction", Fault::Compaction, "compact the store every 100-500 ms during the watches"),
    ("member-grow", Fault::MemberGrow, "add a replica (join as learner, promoted), later remove it"),
    ("member-shrink", Fault::MemberShrink, "remove a follower from the group, later re-join it with an empty data dir"),
    ("member-replace", Fault::MemberReplace, "kill a replica and lose its data dir, re-join it under its name"),
    ("disk-eio", Fault::DiskEio, "fsync fails with EIO on one replica (strace -e inject); expected: fail-stop, nothing unsynced acknowledged"),
    ("disk-slow", Fault::DiskSlow, "every fsync of one replica takes 100 ms (strace -e inject)"),
    ("crash-append", Fault::CrashAppend, "abort at the raft log append crash point (test builds)"),
    ("crash-apply", Fault::CrashApply, "abort at the state machine apply crash point (test builds)"),
    ("crash-snapshot", Fault::CrashSnapshot, "abort while building a raft snapshot (test builds)"),
    ("crash-compact", Fault::CrashCompact, "abort in the middle of physical compaction (test builds)"),
];

impl Fault {
    pub fn name(self) -> &'static str {
        FAULTS
            .iter()
            .find(|(_, f, _)| *f == self)
            .map(|(n, _, _)| *n)
            .unwrap_or("none")
    }

    pub fn parse(s: &str) -> Option<Fault> {
        FAULTS.iter().find(|(n, _, _)| *n == s).map(|(_, f, _)| *f)
    }

    /// Every fault but the baseline.
    pub fn all() -> Vec<Fault> {
        FAULTS
            .iter()
            .map(|(_, f, _)| *f)
            .filter(|f| *f != Fault::None)
            .collect()
    }

    /// Whether this fault needs a build with the `fault-injection` feature.
    pub fn needs_failpoints(self) -> bool {
        matches!(
            self,
            Fault::CrashAppend | Fault::CrashApply | Fault::CrashSnapshot | Fault::CrashCompact
        )
    }

    /// Whether replicas must start under libfaketime.
    pub fn needs_faketime(self) -> bool {
        matches!(self, Fault::ClockBump | Fault::ClockStrobe)
    }

    /// Whether the run also compacts the store (the fault is about compaction).
    pub fn compacts(self) -> bool {
        matches!(self, Fault::Compaction | Fault::CrashCompact)
    }
}

/// What a started fault holds until it is stopped.
pub enum Held {
    Nothing,
    Paused(Vec<usize>),
    Killed(Vec<usize>),
    Clock(
        Vec<usize>,
        Option<(tokio::task::JoinHandle<()>, Arc<AtomicBool>)>,
    ),
    Strace(usize, std::process::Child),
    Member(usize),
    Crash(usize),
}

/// Everything a fault acts on.
pub struct Ctx {
    pub cluster: Arc<Mutex<Cluster>>,
    pub rec: Arc<Recorder>,
    pub rng: ChaCha8Rng,
    pub election_ms: u64,
}

impl Ctx {
    /// A random member index.
    async fn random_member(&mut self) -> usize {
        let members = self.cluster.lock().await.members();
        members.choose(&mut self.rng).copied().unwrap_or(0)
    }

    /// The leader, or a random member if none is known.
    async fn leader_or_random(&mut self) -> usize {
        let leader = self.cluster.lock().await.leader().await;
        match leader {
            Some(l) => l,
            None => self.random_member().await,
        }
    }

    /// A member that is not the leader.
    async fn follower(&mut self) -> usize {
        let c = self.cluster.lock().await;
        let leader = c.leader().await;
        let others: Vec<usize> = c
            .members()
            .into_iter()
            .filter(|i| Some(*i) != leader)
            .collect();
        drop(c);
        others.choose(&mut self.rng).copied().unwrap_or(0)
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.rng.gen_range(lo..=hi))
    }
}

/// How long one injection lasts.
fn hold(fault: Fault, ctx: &mut Ctx) -> Duration {
    let e = ctx.election_ms;
    match fault {
        Fault::PauseLong => Duration::from_secs(5),
        Fault::PauseLeader | Fault::PauseFollower => ctx.millis(e * 2, e * 6),
        Fault::KillLeader | Fault::KillRandom | Fault::KillAll => ctx.millis(200, 2000),
        Fault::SnapshotCatchup => ctx.millis(4000, 6000),
        Fault::CrashAppend | Fault::CrashApply | Fault::CrashSnapshot | Fault::CrashCompact => {
            ctx.millis(2500, 4000)
        }
        Fault::MemberGrow | Fault::MemberShrink | Fault::MemberReplace => ctx.millis(2000, 4000),
        _ => ctx.millis(1500, 3500),
    }
}

/// Injects `fault` repeatedly for `window`, then heals everything.
pub async fn run(fault: Fault, ctx: &mut Ctx, window: Duration) {
    let end = Instant::now() + window;
    if fault == Fault::None {
        tokio::time::sleep(window).await;
        return;
    }
    loop {
        let gap = ctx.millis(500, 1500);
        tokio::time::sleep(gap).await;
        restart_crashed(ctx).await;
        if Instant::now() + Duration::from_millis(500) >= end {
            break;
        }
        let held = start(fault, ctx).await;
        let hold = hold(fault, ctx).min(end.saturating_duration_since(Instant::now()));
        tokio::time::sleep(hold).await;
        stop(fault, ctx, held).await;
    }
}

async fn start(fault: Fault, ctx: &mut Ctx) -> Held {
    match fault {
        Fault::None => Held::Nothing,
        Fault::PartitionOne
        | Fault::PartitionLeader
        | Fault::PartitionHalves
        | Fault::PartitionRing
        | Fault::PartitionOneway
        | Fault::PartitionClient
        | Fault::SnapshotCatchup
        | Fault::Delay
        | Fault::Loss => partition::start(fault, ctx).await,
        Fault::KillLeader | Fault::KillRandom | Fault::KillAll => process::kill(fault, ctx).await,
        Fault::PauseLeader | Fault::PauseFollower | Fault::PauseLong => {
            process::pause(fault, ctx).await
        }
        Fault::ClockBump | Fault::ClockStrobe => clock::start(fault, ctx).await,
        Fault::Compaction => Held::Nothing,
        Fault::MemberGrow | Fault::MemberShrink | Fault::MemberReplace => {
            member::start(fault, ctx).await
        }
        Fault::DiskEio | Fault::DiskSlow => disk::start(fault, ctx).await,
        Fault::CrashAppend | Fault::CrashApply | Fault::CrashSnapshot | Fault::CrashCompact => {
            failpoint::start(fault, ctx).await
        }
    }
}

async fn stop(fault: Fault, ctx: &mut Ctx, held: Held) {
    let name = fault.name();
    match held {
        Held::Nothing => {
            if fault != Fault::Compaction && fault != Fault::None {
                ctx.cluster.lock().await.heal_links();
                ctx.rec.nemesis(name, "stop", "links healed");
            }
        }
        Held::Paused(nodes) => process::resume(ctx, name, nodes).await,
        Held::Killed(nodes) => process::restart(ctx, name, nodes).await,
        Held::Clock(nodes, strobe) => clock::stop(ctx, name, nodes, strobe).await,
        Held::Strace(node, child) => disk::stop(ctx, name, node, child).await,
        Held::Member(node) => member::stop(fault, ctx, node).await,
        Held::Crash(node) => failpoint::stop(ctx, name, node).await,
    }
}

/// Restarts any member whose process ended by itself, recording it (a crash the fault did not
/// ask for shows in the crash-log checker).
pub async fn restart_crashed(ctx: &mut Ctx) {
    let mut c = ctx.cluster.lock().await;
    for (i, status) in c.reap_exited() {
        let name = c.replicas[i].name.clone();
        ctx.rec.admin(
            "process-exited",
            format!("{name} exited: {status}"),
            Outcome::Info,
        );
        c.replicas[i].env.clear();
        if !c.replicas[i].removed {
            let r = c.spawn(i);
            let detail = match r {
                Ok(()) => format!("{name} restarted"),
                Err(e) => format!("{name} restart failed: {e}"),
            };
            ctx.rec.admin("restart", detail, Outcome::Ok);
        }
    }
}

/// Undoes every fault: links pass, paused replicas continue, clocks are true again, every
/// member runs.
pub async fn heal_all(ctx: &mut Ctx) {
    {
        let mut c = ctx.cluster.lock().await;
        c.heal_links();
        for i in 0..c.replicas.len() {
            if c.replicas[i].is_paused() {
                c.resume(i);
            }
            let clock = c.replicas[i].clock_file();
            if clock.exists() {
                let _ = std::fs::write(&clock, "+0\n");
            }
        }
    }
    restart_crashed(ctx).await;
    let mut c = ctx.cluster.lock().await;
    for i in c.members() {
        if !c.replicas[i].is_running() {
            c.replicas[i].env.clear();
            let _ = c.spawn(i);
        }
    }
    ctx.rec.admin(
        "heal",
        "all links pass, all members running, clocks true",
        Outcome::Ok,
    );
}

/// Compacts the store every 100-500 ms until `stop`, a few revisions behind the newest.
pub async fn compaction_storm(
    cluster: Arc<Mutex<Cluster>>,
    rec: Arc<Recorder>,
    mut rng: ChaCha8Rng,
    stop: Arc<AtomicBool>,
) {
    use capstan_proto::etcdserverpb::CompactionRequest;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..=500))).await;
        let client = {
            let c = cluster.lock().await;
            let members = c.members();
            let Some(i) = members.choose(&mut rng).copied() else {
                continue;
            };
            c.direct(i)
        };
        let Ok(client) = client else { continue };
        let Ok(s) = client.status().await else {
            continue;
        };
        let rev = s.header.map(|h| h.revision).unwrap_or(0) - rng.gen_range(0..20);
        if rev <= 1 {
            continue;
        }
        let r = crate::client::timed(client.kv().compact(CompactionRequest {
            revision: rev,
            physical: false,
        }))
        .await;
        let outcome = if r.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Fail
        };
        rec.admin("compact", format!("revision {rev}"), outcome);
    }
}
