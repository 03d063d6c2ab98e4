//! `RaftNode`: one replica — log, state machine, openraft, the peer service and `ReplicatedKv` —
//! with its background tasks (leadership publishing, lease expiry, learner promotion) and a clean
//! shutdown that hands leadership over first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_proto::raft as pb;
use capstan_proto::raft::raft_server::RaftServer;
use capstan_store::{KvError, StoreConfig};
use openraft::{ChangeMembers, Config, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::batcher::{ProposalBatcher, ReadCoalescer};
use crate::election::ElectionTimer;
use crate::forwarder::ForwardBatcher;
use crate::log_store::RaftLogStore;
use crate::network::{PeerNetwork, PeerTls, Peers, MAX_PEER_MESSAGE};
use crate::replicated::{Leadership, ReplicatedKv, Shared, REQUEST_TIMEOUT};
use crate::service::{JoinAuth, RaftService};
use crate::state_machine::StateMachine;
use crate::types::{Member, NodeId, Raft};
use crate::{open_state_store, RaftError};

/// How a replica runs.
#[derive(Clone, Debug)]
pub struct RaftNodeConfig {
    pub id: NodeId,
    pub member: Member,
    /// Holds `raft/` (log and vote), `store/` (the state machine) and `snapshots/`.
    pub dir: PathBuf,
    /// Mutual TLS between replicas (`None` only in tests).
    pub tls: Option<PeerTls>,
    pub store: StoreConfig,
    pub heartbeat: Duration,
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
    /// Build a raft snapshot after this many entries since the last one.
    pub snapshot_after: u64,
    /// Entries kept in the log behind a snapshot (followers within this lag catch up from the
    /// log, further behind by snapshot install).
    pub keep_after_snapshot: u64,
    pub cluster_id: u64,
    /// Accept `Join` calls with this secret (and hand out this CA).
    pub join: Option<JoinAuth>,
}

impl RaftNodeConfig {
    /// Defaults for a replica on a LAN: 50 ms heartbeats, 200–400 ms election timeout.
    pub fn new(id: NodeId, member: Member, dir: PathBuf) -> RaftNodeConfig {
        RaftNodeConfig {
            id,
            member,
            dir,
            tls: None,
            store: StoreConfig::default(),
            heartbeat: Duration::from_millis(50),
            election_timeout_min: Duration::from_millis(200),
            election_timeout_max: Duration::from_millis(400),
            snapshot_after: 10_000,
            keep_after_snapshot: 1_000,
            cluster_id: 0,
            join: None,
        }
    }
}

/// A running replica.
pub struct RaftNode {
    config: RaftNodeConfig,
    raft: Raft,
    kv: ReplicatedKv,
    peers: Peers,
    tasks: Vec<JoinHandle<()>>,
    wal_fsync_seconds: prometheus_client::metrics::histogram::Histogram,
    committed: Arc<std::sync::atomic::AtomicU64>,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl RaftNode {
    /// Opens the replica's storage and starts raft. A fresh replica waits to be initialized
    /// (`initialize`) or added by a leader; one restarted on its data dir carries on.
    pub async fn start(config: RaftNodeConfig) -> Result<RaftNode, RaftError> {
        std::fs::create_dir_all(&config.dir)?;
        let log = RaftLogStore::open(&config.dir.join("raft"))?;
        let wal_fsync_seconds = log.fsync_seconds();
        let committed = log.committed();
        let store = open_state_store(&config.dir.join("store"), config.store.clone())?;
        let sm = StateMachine::open(store.clone(), &config.dir.join("snapshots")).await?;
        let applied = sm.applied_index();
        let raft_config = Config {
            cluster_name: format!("capstan-{:016x}", config.cluster_id),
            heartbeat_interval: ms(config.heartbeat),
            election_timeout_min: ms(config.election_timeout_min),
            election_timeout_max: ms(config.election_timeout_max),
            install_snapshot_timeout: 30_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_after),
            max_in_snapshot_log_to_keep: config.keep_after_snapshot,
            snapshot_max_chunk_size: 4 * 1024 * 1024,
            max_payload_entries: 256,
            ..Config::default()
        }
        .validate()
        .map_err(|e| RaftError::Config(e.to_string()))?;
        let peers = Peers::new(config.tls.clone());
        let election = ElectionTimer::new(
            config.heartbeat,
            config.election_timeout_max,
            config.election_timeout_min / 2,
        );
        let network = PeerNetwork {
            peers: peers.clone(),
            election: election.clone(),
        };
        let raft = Raft::new(config.id, Arc::new(raft_config), network, log, sm)
            .await
            .map_err(|e| RaftError::Raft(e.to_string()))?;

        let (lead_tx, lead_rx) = watch::channel(Leadership::default());
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(publish_leadership(
            raft.clone(),
            lead_tx,
            config.heartbeat,
            config.election_timeout_max,
        )));
        let (proposals, batch_task) = ProposalBatcher::start(raft.clone(), REQUEST_TIMEOUT);
        let (forwarder, fwd_task) = ForwardBatcher::start(peers.clone());
        let (leader_reads, lr_task) = ReadCoalescer::start(|kv: ReplicatedKv| {
            Box::pin(async move { kv.read_index_here().await })
        });
        let (follower_reads, fr_task) = ReadCoalescer::start(|kv: ReplicatedKv| {
            Box::pin(async move { kv.read_index_from_leader().await })
        });
        tasks.extend([batch_task, fwd_task, lr_task, fr_task]);
        let kv = ReplicatedKv::new(Arc::new(Shared {
            proposals,
            forwarder,
            leader_reads,
            follower_reads,
            id: config.id,
            raft: raft.clone(),
            store,
            applied,
            peers: peers.clone(),
            leadership: lead_rx,
            election_timeout: config.election_timeout_max,
            min_lease_ttl: config.store.min_lease_ttl,
            election: election.clone(),
        }));
        tasks.push(tokio::spawn(election.run(raft.clone())));
        tasks.push(tokio::spawn(kv.clone().run_lease_expiry()));
        tasks.push(tokio::spawn(promote_caught_up_learners(raft.clone())));
        Ok(RaftNode {
            config,
            raft,
            kv,
            peers,
            tasks,
            wal_fsync_seconds,
            committed,
        })
    }

    /// How long each fsync of the raft log took.
    pub fn wal_fsync_seconds(&self) -> &prometheus_client::metrics::histogram::Histogram {
        &self.wal_fsync_seconds
    }

    /// The highest log index this replica knows to be committed.
    pub fn committed_index(&self) -> u64 {
        self.committed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The replicated store.
    pub fn kv(&self) -> &ReplicatedKv {
        &self.kv
    }

    /// Resolves if raft stops on a fatal error (storage failure or a panic in its core), with
    /// the error; pends forever on a healthy replica, and ends with `None` at shutdown.
    pub async fn fatal_error(&self) -> Option<String> {
        let mut m = self.raft().metrics();
        loop {
            if let Err(
                fatal
                @ (openraft::error::Fatal::StorageError(_) | openraft::error::Fatal::Panicked),
            ) = &m.borrow().running_state
            {
                return Some(fatal.to_string());
            }
            if m.changed().await.is_err() {
                return None;
            }
        }
    }

    /// The raft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Clients to the other replicas.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// Runs a membership call on the leader (which may be this replica), through the peer
    /// service so that it takes the same path from every replica.
    pub async fn member_change(
        &self,
        req: pb::MemberChangeRequest,
    ) -> Result<pb::MemberChangeResponse, tonic::Status> {
        let m = self.raft.metrics().borrow().clone();
        let target = match m.current_leader {
            Some(l) => l,
            None if req.action == pb::member_change_request::Action::List as i32 => self.config.id,
            None => return Err(tonic::Status::unavailable("etcdserver: no leader")),
        };
        let node = m
            .membership_config
            .membership()
            .get_node(&target)
            .cloned()
            .unwrap_or_else(|| self.config.member.clone());
        let mut c = self
            .peers
            .client(&node.peer_url)
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut req = tonic::Request::new(req);
        req.set_timeout(Duration::from_secs(30));
        Ok(c.member_change(req).await?.into_inner())
    }

    /// Whether this replica has ever been part of a cluster (it has a log or a vote).
    pub async fn is_initialized(&self) -> Result<bool, RaftError> {
        self.raft
            .is_initialized()
            .await
            .map_err(|e| RaftError::Raft(e.to_string()))
    }

    /// Bootstraps a new cluster whose voters are `members` (call on one replica, or on each
    /// with the same set: openraft accepts the same initial membership from all).
    pub async fn initialize(&self, members: BTreeMap<NodeId, Member>) -> Result<(), RaftError> {
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(openraft::error::RaftError::APIError(
                openraft::error::InitializeError::NotAllowed(_),
            )) => Ok(()),
            Err(e) => Err(RaftError::Raft(e.to_string())),
        }
    }

    /// The peer gRPC service, to serve on the peer listener.
    pub fn service(&self) -> RaftServer<RaftService> {
        let svc = RaftService::new(
            self.kv.clone(),
            self.config.tls.is_some(),
            self.config.tls.as_ref().map(|t| t.ca_cert.clone()),
            self.config.join.clone(),
            self.config.cluster_id,
        );
        RaftServer::new(svc)
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE)
    }

    /// Serves the peer service on `listener` (mutual TLS if configured) until `shutdown` fires.
    pub fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<JoinHandle<()>, RaftError> {
        let mut builder = Server::builder().tcp_nodelay(true);
        if let Some(tls) = &self.config.tls {
            let cfg = ServerTlsConfig::new()
                // The chain includes the CA, so a joiner can pin it by the token's hash.
                .identity(Identity::from_pem(
                    format!("{}{}", tls.identity.cert, tls.ca_cert),
                    &tls.identity.key,
                ))
                .client_ca_root(Certificate::from_pem(&tls.ca_cert))
                // Joiners call `Ca` and `Join` before they have a certificate; every other call
                // checks that one was presented (and TLS checked it against the CA).
                .client_auth_optional(true);
            builder = builder
                .tls_config(cfg)
                .map_err(|e| RaftError::Tls(e.to_string()))?;
        }
        let router = builder.add_service(self.service());
        let incoming = incoming(listener);
        Ok(tokio::spawn(async move {
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
            {
                tracing::error!(error = %e, "peer server failed");
            }
        }))
    }

    /// Stops the replica. A leader first hands leadership to its most up-to-date voter.
    pub async fn shutdown(&self) {
        if self.kv.leadership().borrow().is_leader {
            self.hand_over().await;
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Leader hand-off: stop heartbeats so the followers' leader leases run out, then tell the
    /// most up-to-date voter to campaign at once (the `TimeoutNow` of the raft thesis, §3.10).
    async fn hand_over(&self) {
        let m = self.raft.metrics().borrow().clone();
        let Some(repl) = m.replication.as_ref() else {
            return;
        };
        let best = m
            .membership_config
            .membership()
            .voter_ids()
            .filter(|v| *v != self.config.id)
            .max_by_key(|v| repl.get(v).cloned().flatten().map(|l| l.index));
        let Some(best) = best else { return };
        let ok = self.campaign_for(best).await.is_ok();
        tracing::info!(to = best, ok, "handed leadership over");
    }

    /// Moves leadership to voter `target` (etcd's MoveLeader): this replica must lead. Returns
    /// once `target` leads, or an error (leadership then stays or returns here).
    pub async fn transfer_leadership(&self, target: NodeId) -> Result<(), String> {
        let m = self.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            return Err("etcdserver: not leader".into());
        }
        if target == self.config.id {
            return Ok(());
        }
        if !m
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == target)
        {
            return Err("etcdserver: bad leader transferee".into());
        }
        let r = self.campaign_for(target).await;
        // If the target did not win, this replica goes on leading.
        self.raft.runtime_config().heartbeat(true);
        r?;
        let mut metrics = self.raft.metrics();
        let deadline = Instant::now() + self.config.election_timeout_max * 4;
        loop {
            if metrics.borrow_and_update().current_leader == Some(target) {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("etcdserver: leader transfer timed out".into());
            }
            let _ = tokio::time::timeout(left, metrics.changed()).await;
        }
    }

    /// Stops heartbeats until the followers' leases lapse, then asks `target` to campaign.
    async fn campaign_for(&self, target: NodeId) -> Result<(), String> {
        let node = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&target)
            .cloned()
            .ok_or_else(|| "etcdserver: bad leader transferee".to_string())?;
        self.raft.runtime_config().heartbeat(false);
        tokio::time::sleep(self.config.election_timeout_max + self.config.heartbeat).await;
        let mut c = self
            .peers
            .client(&node.peer_url)
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(
            Duration::from_secs(1),
            c.timeout_now(pb::TimeoutNowRequest {}),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(s)) => Err(format!("etcdserver: transferee refused: {}", s.message())),
            Err(_) => Err("etcdserver: transferee did not answer".into()),
        }
    }
}

/// Publishes (term, is-leader, leader) whenever it changes. A leader that has not heard from a
/// quorum for an election timeout does not count as leader (openraft 0.9 has no check-quorum
/// step-down): a leader cut off in a minority refuses requests with "no leader" instead of
/// accepting writes it can never commit.
async fn publish_leadership(
    raft: Raft,
    tx: watch::Sender<Leadership>,
    heartbeat: Duration,
    election_timeout: Duration,
) {
    let mut metrics = raft.metrics();
    let mut tick = tokio::time::interval(heartbeat);
    let mut last_ack: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let l = {
            let m = metrics.borrow_and_update();
            let leading = m.state == ServerState::Leader;
            if leading {
                if let Some(ms) = m.millis_since_quorum_ack {
                    let at = now.checked_sub(Duration::from_millis(ms)).unwrap_or(now);
                    last_ack = Some(last_ack.map_or(at, |prev| prev.max(at)));
                }
            } else {
                last_ack = None;
            }
            let single_voter = m.membership_config.membership().voter_ids().count() <= 1;
            // Only a quorum's acknowledgement in this term makes a leader: openraft restarts a
            // former leader as leader of its old term at once, before any peer has answered
            // (found by `capstan jepsen --nemesis disk-eio`).
            let fresh = single_voter
                || last_ack
                    .is_some_and(|heard| now.saturating_duration_since(heard) <= election_timeout);
            Leadership {
                term: m.current_term,
                is_leader: leading && fresh,
                leader: if leading && !fresh {
                    None
                } else {
                    m.current_leader
                },
            }
        };
        tx.send_if_modified(|cur| {
            let changed = *cur != l;
            *cur = l;
            changed
        });
        tokio::select! {
            r = metrics.changed() => if r.is_err() { return },
            _ = tick.tick() => {}
        }
    }
}

/// On the leader: promotes learners that joined with a token once they have caught up.
async fn promote_caught_up_learners(raft: Raft) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let m = raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            continue;
        }
        let Some(repl) = m.replication.as_ref() else {
            continue;
        };
        let last = m.last_log_index.unwrap_or(0);
        let membership = m.membership_config.membership();
        let ready: std::collections::BTreeSet<NodeId> = membership
            .learner_ids()
            .filter(|id| {
                membership.get_node(id).is_some_and(|n| n.auto_promote)
                    && repl
                        .get(id)
                        .cloned()
                        .flatten()
                        .is_some_and(|l| l.index + 100 >= last)
            })
            .collect();
        if ready.is_empty() {
            continue;
        }
        match raft
            .change_membership(ChangeMembers::AddVoterIds(ready.clone()), true)
            .await
        {
            Ok(_) => tracing::info!(?ready, "promoted learners to voters"),
            Err(e) => tracing::warn!(error = %e, "cannot promote learners"),
        }
    }
}

impl From<KvError> for RaftError {
    fn from(e: KvError) -> Self {
        RaftError::Store(e)
    }
}

/// Accepted connections with TCP_NODELAY set (tonic ignores the builder's `tcp_nodelay` for
/// listeners passed in; without it small responses wait ~40 ms for Nagle and delayed ACKs).
fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}
