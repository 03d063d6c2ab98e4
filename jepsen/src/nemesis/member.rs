//! Membership faults through the public paths an operator uses: a new replica joins with the
//! cluster's join token (learner, promoted when caught up) and is later removed; a follower is
//! removed (etcd's MemberRemove) and later re-joins with an empty data dir; a replica loses its
//! data dir and re-joins under its own name, replacing its old self.

use capstan_proto::etcdserverpb::{MemberListRequest, MemberRemoveRequest};

use super::{Ctx, Fault, Held};
use crate::client::timed;
use crate::history::Outcome;

/// Removes the member named `name` through any running member; the error text if it failed.
async fn remove(ctx: &mut Ctx, name: &str) -> Result<(), String> {
    let c = ctx.cluster.lock().await;
    let mut last = String::from("no member answered");
    for i in c.members() {
        if c.replicas[i].name == name || !c.replicas[i].is_running() {
            continue;
        }
        let Ok(client) = c.direct(i) else { continue };
        let list = match timed(
            client
                .cluster()
                .member_list(MemberListRequest { linearizable: true }),
        )
        .await
        {
            Ok(l) => l,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let Some(id) = list.members.iter().find(|m| m.name == name).map(|m| m.id) else {
            return Err(format!("{name} is not a member"));
        };
        match timed(client.cluster().member_remove(MemberRemoveRequest { id })).await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Waits (up to `within`) until the previous change has finished: every member answers and
/// is a voter. A three-replica group tolerates one failure; starting the next change while a
/// replacement is still a learner would be a second one, which no quorum system survives.
async fn wait_settled(ctx: &mut Ctx, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        let c = ctx.cluster.lock().await;
        let members = c.members();
        let client = members.first().and_then(|i| c.direct(*i).ok());
        drop(c);
        if let Some(client) = client {
            let list = timed(
                client
                    .cluster()
                    .member_list(MemberListRequest { linearizable: true }),
            )
            .await;
            if let Ok(list) = list {
                if list.members.len() == members.len() && list.members.iter().all(|m| !m.is_learner)
                {
                    return true;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}

/// Removes member `node` from the group and, once removed, stops its process; the outcome as
/// the history records it.
async fn remove_and_stop(ctx: &mut Ctx, node: usize) -> String {
    let name = ctx.cluster.lock().await.replicas[node].name.clone();
    let r = remove(ctx, &name).await;
    if r.is_ok() {
        let mut c = ctx.cluster.lock().await;
        c.replicas[node].removed = true;
        c.terminate(node, std::time::Duration::from_secs(2));
    }
    format!("remove {name}: {r:?}")
}

pub async fn start(fault: Fault, ctx: &mut Ctx) -> Held {
    if !wait_settled(ctx, std::time::Duration::from_secs(15)).await {
        ctx.rec.nemesis(
            fault.name(),
            "start",
            "skipped: the previous change has not settled",
        );
        return Held::Nothing;
    }
    match fault {
        Fault::MemberGrow => {
            let mut c = ctx.cluster.lock().await;
            let r = c.add_replica().and_then(|i| c.spawn(i).map(|()| i));
            drop(c);
            match r {
                Ok(i) => {
                    let name = ctx.cluster.lock().await.replicas[i].name.clone();
                    ctx.rec
                        .nemesis(fault.name(), "start", format!("{name} joins"));
                    Held::Member(i)
                }
                Err(e) => {
                    ctx.rec
                        .nemesis(fault.name(), "start", format!("grow failed: {e}"));
                    Held::Nothing
                }
            }
        }
        Fault::MemberShrink => {
            let node = ctx.follower().await;
            let detail = remove_and_stop(ctx, node).await;
            ctx.rec.nemesis(fault.name(), "start", detail);
            Held::Member(node)
        }
        _ => {
            let node = ctx.follower().await;
            let mut c = ctx.cluster.lock().await;
            c.kill(node);
            let wiped = c.wipe(node);
            let name = c.replicas[node].name.clone();
            drop(c);
            ctx.rec.nemesis(
                fault.name(),
                "start",
                format!("kill -9 {name} and delete its data dir: {wiped:?}"),
            );
            Held::Member(node)
        }
    }
}

pub async fn stop(fault: Fault, ctx: &mut Ctx, node: usize) {
    let name = ctx.cluster.lock().await.replicas[node].name.clone();
    match fault {
        Fault::MemberGrow => {
            let detail = remove_and_stop(ctx, node).await;
            ctx.rec.nemesis(fault.name(), "stop", detail);
        }
        _ => {
            let mut c = ctx.cluster.lock().await;
            c.kill(node);
            let r = c.wipe(node).and_then(|()| {
                c.replicas[node].joined = true;
                c.replicas[node].removed = false;
                c.spawn(node)
            });
            drop(c);
            ctx.rec.admin(
                "rejoin",
                format!("{name}: {r:?}"),
                if r.is_ok() {
                    Outcome::Ok
                } else {
                    Outcome::Fail
                },
            );
            ctx.rec.nemesis(
                fault.name(),
                "stop",
                format!("{name} re-joins with an empty data dir"),
            );
        }
    }
}
