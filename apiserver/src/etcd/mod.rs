//! The etcd v3 gRPC API over any `Kv`: KV, Watch, Lease, Maintenance and Cluster, with etcd's
//! response headers and error codes.

mod cluster;
mod cluster_view;
mod convert;
mod kv;
mod lease;
mod maintenance;
mod status;
mod watch;

use std::sync::Arc;

use capstan_proto::etcdserverpb::cluster_server::ClusterServer;
use capstan_proto::etcdserverpb::kv_server::KvServer;
use capstan_proto::etcdserverpb::lease_server::LeaseServer;
use capstan_proto::etcdserverpb::maintenance_server::MaintenanceServer;
use capstan_proto::etcdserverpb::watch_server::WatchServer;
use capstan_proto::etcdserverpb::{Member, ResponseHeader};
use capstan_store::Kv;
use tokio::net::TcpListener;
use tonic::transport::ServerTlsConfig;

pub use cluster_view::{ClusterView, RaftStatus, SingleMember};
pub use status::to_status;

/// Who answers: the ids and addresses etcd puts in every response header and member list.
#[derive(Clone, Debug)]
pub struct EtcdIdentity {
    pub cluster_id: u64,
    pub member_id: u64,
    pub name: String,
    pub client_urls: Vec<String>,
    pub peer_urls: Vec<String>,
}

/// State shared by the services.
#[derive(Clone)]
pub struct EtcdApi {
    kv: Arc<dyn Kv>,
    identity: Arc<EtcdIdentity>,
    cluster: Arc<dyn ClusterView>,
}

impl EtcdApi {
    /// The API over `kv`, answering as `identity`.
    pub fn new(kv: Arc<dyn Kv>, identity: EtcdIdentity) -> EtcdApi {
        let single = SingleMember {
            member: Member {
                id: identity.member_id,
                name: identity.name.clone(),
                peer_ur_ls: identity.peer_urls.clone(),
                client_ur_ls: identity.client_urls.clone(),
                is_learner: false,
            },
        };
        EtcdApi {
            kv,
            identity: Arc::new(identity),
            cluster: Arc::new(single),
        }
    }

    /// The same API with membership and raft positions from `cluster`.
    pub fn with_cluster(mut self, cluster: Arc<dyn ClusterView>) -> EtcdApi {
        self.cluster = cluster;
        self
    }

    fn header(&self, revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: self.identity.cluster_id,
            member_id: self.identity.member_id,
            revision,
            raft_term: self.cluster.raft_status().term,
        })
    }

    async fn current_header(&self) -> Result<Option<ResponseHeader>, tonic::Status> {
        let rev = self.kv.status().await.map_err(|e| to_status(&e))?.revision;
        Ok(self.header(rev))
    }

    /// The tonic router with every etcd service.
    pub fn router(&self) -> tonic::transport::server::Router {
        tonic::transport::Server::builder()
            .add_service(KvServer::new(self.clone()))
            .add_service(WatchServer::new(self.clone()))
            .add_service(LeaseServer::new(self.clone()))
            .add_service(MaintenanceServer::new(self.clone()))
            .add_service(ClusterServer::new(self.clone()))
    }

    /// Serves plaintext gRPC on an already bound listener until the future is dropped.
    pub async fn serve(&self, listener: TcpListener) -> Result<(), tonic::transport::Error> {
        self.router().serve_with_incoming(incoming(listener)).await
    }

    /// Serves on `listener` until `shutdown` completes: TLS with required client certificates
    /// from `client_ca` when `tls` is given (etcd's `--client-cert-auth`), plaintext otherwise.
    pub async fn serve_with(
        &self,
        listener: TcpListener,
        tls: Option<ServerTlsConfig>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), tonic::transport::Error> {
        let mut builder = tonic::transport::Server::builder().tcp_nodelay(true);
        if let Some(tls) = tls {
            builder = builder.tls_config(tls)?;
        }
        builder
            .add_service(KvServer::new(self.clone()))
            .add_service(WatchServer::new(self.clone()))
            .add_service(LeaseServer::new(self.clone()))
            .add_service(MaintenanceServer::new(self.clone()))
            .add_service(ClusterServer::new(self.clone()))
            .serve_with_incoming_shutdown(incoming(listener), shutdown)
            .await
    }
}

/// Accepted connections with TCP_NODELAY set (tonic ignores the builder's `tcp_nodelay` for
/// listeners passed in; without it small responses wait ~40 ms for Nagle and delayed ACKs).
fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}
