//! Group commit and read-index coalescing.
//!
//! openraft 0.9 appends (and fsyncs) each `client_write` on its own, so `ProposalBatcher` puts the
//! proposals that arrive while earlier entries are in flight into one log entry: many clients
//! share one fsync, one network round and one state machine batch. `ReadCoalescer` does the same
//! for linearizable reads: every read that arrives while a read index is being confirmed waits for
//! the next confirmation, which starts after it arrived (so each read still sees every write
//! acknowledged before it), and one quorum round serves them all.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use capstan_proto::raft as pb;
use capstan_store::{CommandResponse, KvError, KvResult};
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::codec::log_id_to_pb;
use crate::types::{Member, NodeId, Raft};

/// Most proposals in one entry.
const MAX_BATCH: usize = 512;
/// Most bytes of proposals in one entry (each proposal is at most 1.5 MiB).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Entries in flight at once: one being applied while the next is written.
const IN_FLIGHT: usize = 2;

/// Why a proposal made on this replica did not run.
#[derive(Debug, Clone)]
pub(crate) enum ProposeError {
    NotLeader(Option<(NodeId, Member)>),
    Failed(KvError),
}

/// A proposal's outcome: the log id of the entry that carried it and its result.
pub(crate) type Proposed = Result<(pb::LogId, KvResult<CommandResponse>), ProposeError>;

struct Pending {
    proposal: pb::Proposal,
    reply: oneshot::Sender<Proposed>,
}

/// Batches proposals into log entries on this replica (used while it leads).
pub(crate) struct ProposalBatcher {
    tx: mpsc::Sender<Pending>,
}

impl ProposalBatcher {
    pub(crate) fn start(
        raft: Raft,
        timeout: std::time::Duration,
    ) -> (ProposalBatcher, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Pending>(16 * MAX_BATCH);
        let task = tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(IN_FLIGHT));
            while let Some(first) = rx.recv().await {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                // Everything that queued while we waited for a slot rides along.
                let mut bytes = prost::Message::encoded_len(&first.proposal);
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(p) => {
                            bytes += prost::Message::encoded_len(&p.proposal);
                            batch.push(p);
                        }
                        Err(_) => break,
                    }
                }
                let raft = raft.clone();
                tokio::spawn(async move {
                    let (proposals, replies): (Vec<_>, Vec<_>) =
                        batch.into_iter().map(|p| (p.proposal, p.reply)).unzip();
                    let n = proposals.len();
                    let written = tokio::time::timeout(
                        timeout,
                        raft.client_write(pb::ProposalBatch { proposals }),
                    )
                    .await;
                    drop(permit);
                    let outcome: Result<(pb::LogId, Vec<KvResult<CommandResponse>>), ProposeError> =
                        match written {
                            Ok(Ok(resp)) => Ok((log_id_to_pb(&resp.log_id), resp.data.results)),
                            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                                Err(ProposeError::NotLeader(f.leader_id.zip(f.leader_node)))
                            }
                            Ok(Err(e)) => {
                                Err(ProposeError::Failed(KvError::Unavailable(e.to_string())))
                            }
                            Err(_) => Err(ProposeError::Failed(KvError::Unavailable(
                                "request timed out".into(),
                            ))),
                        };
                    match outcome {
                        Ok((log_id, results)) => {
                            let mut results = results.into_iter();
                            for reply in replies {
                                let r = results.next().unwrap_or_else(|| {
                                    Err(KvError::Storage(format!(
                                        "apply answered fewer than {n} proposals"
                                    )))
                                });
                                let _ = reply.send(Ok((log_id, r)));
                            }
                        }
                        Err(e) => {
                            for reply in replies {
                                let _ = reply.send(Err(e.clone()));
                            }
                        }
                    }
                });
            }
        });
        (ProposalBatcher { tx }, task)
    }

    pub(crate) async fn propose(&self, proposal: pb::Proposal) -> Proposed {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Pending { proposal, reply })
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Proposes each of `proposals` in order (consecutive ones share entries) and answers each,
    /// in the same order: a follower's forwarded batch.
    pub(crate) async fn propose_all(&self, proposals: Vec<pb::Proposal>) -> Vec<Proposed> {
        let mut waiting = Vec::with_capacity(proposals.len());
        for proposal in proposals {
            let (reply, rx) = oneshot::channel();
            let sent = self.tx.send(Pending { proposal, reply }).await;
            waiting.push(sent.ok().map(|()| rx));
        }
        let mut answers = Vec::with_capacity(waiting.len());
        for rx in waiting {
            answers.push(match rx {
                Some(rx) => rx.await.unwrap_or_else(|_| Err(stopped())),
                None => Err(stopped()),
            });
        }
        answers
    }
}

fn stopped() -> ProposeError {
    ProposeError::Failed(KvError::Unavailable("replica is shutting down".into()))
}

/// How a coalescer confirms a read index, given the context of the first read in the batch.
pub(crate) type Fetch<C> = fn(C) -> Pin<Box<dyn Future<Output = KvResult<u64>> + Send>>;

type Waiting<C> = (C, oneshot::Sender<KvResult<u64>>);

/// Shares one read-index confirmation among the reads waiting for one.
pub(crate) struct ReadCoalescer<C> {
    tx: mpsc::Sender<Waiting<C>>,
}

impl<C: Send + 'static> ReadCoalescer<C> {
    pub(crate) fn start(fetch: Fetch<C>) -> (ReadCoalescer<C>, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Waiting<C>>(4096);
        let task = tokio::spawn(async move {
            while let Some((ctx, first)) = rx.recv().await {
                let mut waiting = vec![first];
                while let Ok((_, w)) = rx.try_recv() {
                    waiting.push(w);
                }
                // Started after every waiting read arrived: valid for all of them.
                let r = fetch(ctx).await;
                for w in waiting {
                    let _ = w.send(r.clone());
                }
            }
        });
        (ReadCoalescer { tx }, task)
    }

    pub(crate) async fn read_index(&self, ctx: C) -> KvResult<u64> {
        let (tx, rx) = oneshot::channel();
        let stopped = || KvError::Unavailable("replica is shutting down".into());
        self.tx.send((ctx, tx)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}
