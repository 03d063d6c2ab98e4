//! `ForwardBatcher`: a follower's writes travel to the leader in batches.
//!
//! Sending each forwarded write in its own call cost the leader about as much CPU as serving the
//! client request itself (one HTTP/2 stream, one TLS record, one task each way). Like
//! `ProposalBatcher` on the leader, the writes that queue while earlier calls are in flight go
//! together in the next call; the leader proposes them in order, so they mostly share its entries.

use std::sync::Arc;

use capstan_proto::raft as pb;
use capstan_store::{KvError, KvResult};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::network::Peers;
use crate::replicated::{never_reached, status_to_kv, with_timeout};

/// Most proposals in one call.
const MAX_BATCH: usize = 512;
/// Most bytes of proposals in one call (below the peer message limit).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Calls in flight at once.
const IN_FLIGHT: usize = 4;

struct Pending {
    leader: String,
    proposal: pb::Proposal,
    reply: oneshot::Sender<KvResult<pb::Forwarded>>,
}

/// Batches this replica's forwarded proposals into calls to the leader.
pub(crate) struct ForwardBatcher {
    tx: mpsc::Sender<Pending>,
}

impl ForwardBatcher {
    pub(crate) fn start(peers: Peers) -> (ForwardBatcher, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Pending>(16 * MAX_BATCH);
        let task = tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(IN_FLIGHT));
            // A proposal for another leader than the batch being gathered starts the next one.
            let mut held: Option<Pending> = None;
            loop {
                let first = match held.take() {
                    Some(p) => p,
                    None => match rx.recv().await {
                        Some(p) => p,
                        None => return,
                    },
                };
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let leader = first.leader.clone();
                let mut bytes = prost::Message::encoded_len(&first.proposal);
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(p) if p.leader == leader => {
                            bytes += prost::Message::encoded_len(&p.proposal);
                            batch.push(p);
                        }
                        Ok(p) => {
                            held = Some(p);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let peers = peers.clone();
                tokio::spawn(async move {
                    send(&peers, &leader, batch).await;
                    drop(permit);
                });
            }
        });
        (ForwardBatcher { tx }, task)
    }

    /// Sends `proposal` to the leader at `leader` (its peer URL) with the next batch; the
    /// leader's answer for it.
    pub(crate) async fn forward(
        &self,
        leader: &str,
        proposal: pb::Proposal,
    ) -> KvResult<pb::Forwarded> {
        let (reply, rx) = oneshot::channel();
        let stopped = || KvError::Unavailable("replica is shutting down".into());
        self.tx
            .send(Pending {
                leader: leader.to_string(),
                proposal,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn send(peers: &Peers, leader: &str, batch: Vec<Pending>) {
    let (proposals, replies): (Vec<_>, Vec<_>) =
        batch.into_iter().map(|p| (p.proposal, p.reply)).unzip();
    let n = proposals.len();
    let answer = match peers.client(leader) {
        Ok(mut client) => match client
            .forward(with_timeout(pb::ForwardRequest { proposals }))
            .await
        {
            Ok(r) => Ok(r.into_inner().results),
            // Not the leader (any more), or gone (a leader that has just handed over and
            // stopped refuses the connection, before any follower has seen the next leader): it
            // proposed none of them, so each may be sent again.
            Err(s) if s.code() == tonic::Code::FailedPrecondition || never_reached(&s) => Ok((0
                ..n)
                .map(|_| pb::Forwarded {
                    not_leader: true,
                    ..Default::default()
                })
                .collect()),
            Err(s) => Err(status_to_kv(s)),
        },
        Err(e) => Err(KvError::Unavailable(e.to_string())),
    };
    match answer {
        Ok(results) => {
            let mut results = results.into_iter();
            for reply in replies {
                let r = results.next().ok_or_else(|| {
                    KvError::Storage(format!("the leader answered fewer than {n} proposals"))
                });
                let _ = reply.send(r);
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
