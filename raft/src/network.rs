//! `Peers`: gRPC clients to the other replicas (one lazily connected channel per peer URL, mutual
//! TLS with the cluster CA), and `PeerNetwork`, openraft's network over them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use capstan_proto::raft as pb;
use capstan_proto::raft::raft_client::RaftClient;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::Mutex;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::codec::{
    entry_to_pb, log_id_from_pb, opt_log_id_from_pb, opt_log_id_to_pb, required_vote,
    snapshot_meta_to_pb, vote_from_pb, vote_to_pb,
};
use crate::election::ElectionTimer;
use crate::pki::CertPair;
use crate::types::{Member, NodeId, TypeConfig};

/// Largest gRPC message between replicas (entries are batched up to `max_payload_entries`, each
/// at most etcd's 1.5 MiB request limit).
pub const MAX_PEER_MESSAGE: usize = 512 * 1024 * 1024;

/// The TLS material of a replica: the cluster CA and its own certificate, used as server and as
/// client certificate.
#[derive(Clone, Debug)]
pub struct PeerTls {
    pub ca_cert: String,
    pub identity: CertPair,
}

/// Clients to other replicas, by peer URL.
#[derive(Clone)]
pub struct Peers {
    tls: Option<PeerTls>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// Dial another address for a peer URL (a fault-injection proxy in tests).
    routes: Arc<Mutex<HashMap<String, String>>>,
}

/// Why a peer could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("peer {url}: {reason}")]
pub struct PeerError {
    pub url: String,
    pub reason: String,
}

impl Peers {
    /// Clients using `tls` (`None` only in tests that run without TLS).
    pub fn new(tls: Option<PeerTls>) -> Peers {
        Peers {
            tls,
            channels: Arc::new(Mutex::new(HashMap::new())),
            routes: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Reaches the peer at `url` through `via` instead (same TLS identity checks: `via` must
    /// forward to the peer, as a loopback proxy does). Takes effect for new connections.
    pub fn route_via(&self, url: &str, via: &str) {
        self.routes.lock().insert(url.to_string(), via.to_string());
        self.channels.lock().remove(url);
    }

    /// A client to the replica at `url`.
    pub fn client(&self, url: &str) -> Result<RaftClient<Channel>, PeerError> {
        let err = |reason: String| PeerError {
            url: url.to_string(),
            reason,
        };
        if let Some(ch) = self.channels.lock().get(url) {
            return Ok(client(ch.clone()));
        }
        let dial = self
            .routes
            .lock()
            .get(url)
            .cloned()
            .unwrap_or_else(|| url.to_string());
        let mut ep = Endpoint::from_shared(dial)
            .map_err(|e| err(e.to_string()))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        if let Some(tls) = &self.tls {
            let cfg = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&tls.ca_cert))
                .identity(Identity::from_pem(&tls.identity.cert, &tls.identity.key));
            ep = ep.tls_config(cfg).map_err(|e| err(e.to_string()))?;
        }
        let ch = ep.connect_lazy();
        self.channels.lock().insert(url.to_string(), ch.clone());
        Ok(client(ch))
    }
}

fn client(ch: Channel) -> RaftClient<Channel> {
    RaftClient::new(ch)
        .max_decoding_message_size(MAX_PEER_MESSAGE)
        .max_encoding_message_size(MAX_PEER_MESSAGE)
}

/// openraft's network factory over `Peers`.
#[derive(Clone)]
pub struct PeerNetwork {
    pub peers: Peers,
    pub election: Arc<ElectionTimer>,
}

/// A connection to one peer.
pub struct PeerConnection {
    target: NodeId,
    url: String,
    peers: Peers,
    election: Arc<ElectionTimer>,
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> PeerConnection {
        PeerConnection {
            target,
            url: node.peer_url.clone(),
            peers: self.peers.clone(),
            election: self.election.clone(),
        }
    }
}

type RpcErr<E = openraft::error::Infallible> = RPCError<NodeId, Member, RaftError<NodeId, E>>;

fn status_err<E: std::error::Error>(target: NodeId, s: tonic::Status) -> RpcErr<E> {
    tracing::trace!(target, status = %s, "peer rpc failed");
    match s.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            RPCError::Unreachable(Unreachable::new(&s))
        }
        _ => RPCError::Network(NetworkError::new(&s)),
    }
}

fn decode_err<E: std::error::Error>(e: impl std::error::Error + 'static) -> RpcErr<E> {
    RPCError::Network(NetworkError::new(&e))
}

impl PeerConnection {
    fn client<E: std::error::Error>(&self) -> Result<RaftClient<Channel>, RpcErr<E>> {
        self.peers
            .client(&self.url)
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))
    }
}

fn with_deadline<T>(msg: T, option: &RPCOption) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(option.hard_ttl());
    req
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        let msg = pb::AppendEntriesRequest {
            vote: Some(vote_to_pb(&rpc.vote)),
            prev_log_id: opt_log_id_to_pb(rpc.prev_log_id.as_ref()),
            entries: rpc.entries.iter().map(entry_to_pb).collect(),
            leader_commit: opt_log_id_to_pb(rpc.leader_commit.as_ref()),
        };
        // No deadline of our own (`_option` unused): openraft already bounds the call by its
        // heartbeat interval and reports an expiry as a timeout, which it simply retries. A gRPC
        // deadline would fire first and read as an unreachable peer, which openraft answers with
        // 500 ms of silence towards that follower: under a burst of writes that stalled commits
        // for half a second.
        let resp = self
            .client()?
            .append_entries(tonic::Request::new(msg))
            .await
            .map_err(|s| status_err(self.target, s))?
            .into_inner();
        use pb::append_entries_response::Result as R;
        match resp.result {
            Some(R::Success(_)) => Ok(AppendEntriesResponse::Success),
            Some(R::PartialSuccess(p)) => Ok(AppendEntriesResponse::PartialSuccess(
                opt_log_id_from_pb(p.matching.as_ref()),
            )),
            Some(R::Conflict(_)) => Ok(AppendEntriesResponse::Conflict),
            Some(R::HigherVote(v)) => Ok(AppendEntriesResponse::HigherVote(vote_from_pb(&v))),
            None => Err(decode_err(crate::codec::DecodeError(
                "empty append-entries response".into(),
            ))),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        let msg = pb::InstallSnapshotRequest {
            vote: Some(vote_to_pb(&rpc.vote)),
            meta: Some(snapshot_meta_to_pb(&rpc.meta)),
            offset: rpc.offset,
            data: rpc.data.into(),
            done: rpc.done,
        };
        let resp = self
            .client()?
            .install_snapshot(with_deadline(msg, &option))
            .await
            .map_err(|s| status_err(self.target, s))?
            .into_inner();
        let vote = required_vote(resp.vote.as_ref()).map_err(decode_err)?;
        Ok(InstallSnapshotResponse { vote })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr> {
        let msg = pb::VoteRequest {
            vote: Some(vote_to_pb(&rpc.vote)),
            last_log_id: opt_log_id_to_pb(rpc.last_log_id.as_ref()),
        };
        let resp = self
            .client()?
            .request_vote(with_deadline(msg, &option))
            .await
            .map_err(|s| status_err(self.target, s))?
            .into_inner();
        let vote = required_vote(resp.vote.as_ref()).map_err(decode_err)?;
        let resp = VoteResponse {
            vote,
            vote_granted: resp.vote_granted,
            last_log_id: resp.last_log_id.as_ref().map(log_id_from_pb),
        };
        if !resp.vote_granted && resp.last_log_id > rpc.last_log_id {
            self.election.saw_longer_log();
        }
        Ok(resp)
    }
}
