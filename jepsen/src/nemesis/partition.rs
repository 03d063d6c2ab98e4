//! Network faults through the link proxies: partitions (one replica, the leader, halves,
//! Jepsen's majorities ring, one-way cuts, clients cut from the leader), a follower kept away
//! until it must catch up by snapshot, and delay or loss on one replica's links.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::Rng;

use super::{Ctx, Fault, Held};
use crate::proxy::LinkMode;

/// Cuts both directions of every link between a replica in `a` and one outside it.
async fn isolate(ctx: &mut Ctx, a: &BTreeSet<usize>) -> String {
    let c = ctx.cluster.lock().await;
    let members = c.members();
    for &i in &members {
        for &j in &members {
            if i != j && a.contains(&i) != a.contains(&j) {
                c.set_link(i, j, LinkMode::Blackhole);
            }
        }
    }
    let side = |inside: bool| {
        members
            .iter()
            .filter(|i| a.contains(i) == inside)
            .map(|i| c.replicas[*i].name.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("{} | {}", side(true), side(false))
}

/// Sets every link touching `node` (both directions, and its client link) to `mode`.
async fn degrade(ctx: &mut Ctx, node: usize, mode: LinkMode) -> String {
    let c = ctx.cluster.lock().await;
    for j in c.members() {
        if j != node {
            c.set_link(node, j, mode);
            c.set_link(j, node, mode);
        }
    }
    if let Some(l) = c.client_links.get(node) {
        l.set(mode);
    }
    format!("{} links {mode:?}", c.replicas[node].name)
}

pub async fn start(fault: Fault, ctx: &mut Ctx) -> Held {
    let name = fault.name();
    let detail = match fault {
        Fault::PartitionOne => {
            let n = ctx.random_member().await;
            isolate(ctx, &BTreeSet::from([n])).await
        }
        Fault::PartitionLeader | Fault::SnapshotCatchup => {
            let n = if fault == Fault::SnapshotCatchup {
                ctx.follower().await
            } else {
                ctx.leader_or_random().await
            };
            isolate(ctx, &BTreeSet::from([n])).await
        }
        Fault::PartitionHalves => {
            let mut members = ctx.cluster.lock().await.members();
            members.shuffle(&mut ctx.rng);
            let minority: BTreeSet<usize> =
                members.iter().take(members.len() / 2).copied().collect();
            isolate(ctx, &minority).await
        }
        Fault::PartitionRing => ring(ctx).await,
        Fault::PartitionOneway => {
            let from = if ctx.rng.gen_bool(0.5) {
                ctx.leader_or_random().await
            } else {
                ctx.random_member().await
            };
            let c = ctx.cluster.lock().await;
            let others: Vec<usize> = c.members().into_iter().filter(|j| *j != from).collect();
            let to = others.choose(&mut ctx.rng).copied().unwrap_or(0);
            let (a, b) = if ctx.rng.gen_bool(0.5) {
                (from, to)
            } else {
                (to, from)
            };
            c.set_link(a, b, LinkMode::Blackhole);
            format!("{} -x-> {}", c.replicas[a].name, c.replicas[b].name)
        }
        Fault::PartitionClient => {
            let n = ctx.leader_or_random().await;
            let c = ctx.cluster.lock().await;
            if let Some(l) = c.client_links.get(n) {
                l.set(LinkMode::Blackhole);
            }
            format!("clients -x-> {}", c.replicas[n].name)
        }
        Fault::Delay => {
            let n = ctx.random_member().await;
            let ms = ctx.rng.gen_range(50..=200);
            degrade(
                ctx,
                n,
                LinkMode::Delay {
                    ms,
                    jitter_ms: ms / 2,
                },
            )
            .await
        }
        Fault::Loss => {
            let n = ctx.random_member().await;
            let p = ctx.rng.gen_range(0.1..0.5);
            degrade(ctx, n, LinkMode::Loss { p }).await
        }
        _ => String::new(),
    };
    ctx.rec.nemesis(name, "start", detail);
    Held::Nothing
}

/// Jepsen's majorities ring: replicas in a random ring; each hears only the majority window
/// around itself (links from outside its window into it are cut, one way).
async fn ring(ctx: &mut Ctx) -> String {
    let mut order = ctx.cluster.lock().await.members();
    order.shuffle(&mut ctx.rng);
    let n = order.len();
    let majority = n / 2 + 1;
    let before = (majority - 1) / 2;
    let c = ctx.cluster.lock().await;
    let mut cuts = Vec::new();
    for (pos, &node) in order.iter().enumerate() {
        let window: BTreeSet<usize> = (0..majority)
            .map(|d| order[(pos + n + d - before) % n])
            .collect();
        for &other in &order {
            if !window.contains(&other) {
                c.set_link(other, node, LinkMode::Blackhole);
                cuts.push(format!(
                    "{}-x->{}",
                    c.replicas[other].name, c.replicas[node].name
                ));
            }
        }
    }
    cuts.join(" ")
}
