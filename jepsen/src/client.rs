//! `Etcd`: the harness's etcd v3 client (tonic, plaintext on loopback), with no retries of its
//! own, a deadline on every call, and the one place where an error becomes an outcome.
//!
//! Classification (exact, as Jepsen's): an answer is `Ok`; an error the server gives before it
//! could have proposed anything (`InvalidArgument`, `FailedPrecondition`, `OutOfRange`,
//! `NotFound`, `AlreadyExists`, `PermissionDenied`, `Unauthenticated`) is `Fail`; everything
//! else — deadline, lost connection, `Unavailable` ("no leader"), `Unknown`, `Internal` — is
//! `Info`, because the write may still be (or already have been) applied.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use capstan_proto::etcdserverpb::cluster_client::ClusterClient;
use capstan_proto::etcdserverpb::kv_client::KvClient;
use capstan_proto::etcdserverpb::lease_client::LeaseClient;
use capstan_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use capstan_proto::etcdserverpb::watch_client::WatchClient;
use capstan_proto::etcdserverpb::{StatusRequest, StatusResponse};
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::history::Outcome;
use crate::JepsenError;

/// How long one KV call may take before its outcome is unknown.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(1500);

/// A client to one address (a replica, or the proxy in front of it).
#[derive(Clone)]
pub struct Etcd {
    channel: Channel,
}

/// A failed call, classified.
#[derive(Clone, Debug)]
pub struct CallError {
    pub outcome: Outcome,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The outcome a gRPC error means for a call that may write.
pub fn classify(status: &tonic::Status) -> Outcome {
    match status.code() {
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::Unauthenticated => Outcome::Fail,
        _ => Outcome::Info,
    }
}

impl From<tonic::Status> for CallError {
    fn from(s: tonic::Status) -> CallError {
        CallError {
            outcome: classify(&s),
            message: format!("{:?}: {}", s.code(), s.message()),
        }
    }
}

/// Runs a unary call with the call deadline; a timeout is `Info`.
pub async fn timed<T, F>(fut: F) -> Result<T, CallError>
where
    F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    within_deadline(async { fut.await.map(tonic::Response::into_inner) }).await
}

/// Runs any call (a stream exchange too) with the call deadline; a timeout is `Info`.
pub async fn within_deadline<T, F>(fut: F) -> Result<T, CallError>
where
    F: std::future::Future<Output = Result<T, tonic::Status>>,
{
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(s)) => Err(s.into()),
        Err(_) => Err(CallError {
            outcome: Outcome::Info,
            message: "timeout".into(),
        }),
    }
}

impl Etcd {
    /// A lazily connecting client to `addr` (connections are made on first use and remade
    /// after a failure; HTTP/2 keep-alives notice a silent peer within two seconds).
    pub fn connect(addr: SocketAddr) -> Result<Etcd, JepsenError> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| JepsenError::Config(e.to_string()))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(1))
            .keep_alive_timeout(Duration::from_secs(1))
            .keep_alive_while_idle(true)
            .connect_lazy();
        Ok(Etcd { channel })
    }

    pub fn kv(&self) -> KvClient<Channel> {
        KvClient::new(self.channel.clone())
    }

    pub fn watch(&self) -> WatchClient<Channel> {
        WatchClient::new(self.channel.clone())
    }

    pub fn lease(&self) -> LeaseClient<Channel> {
        LeaseClient::new(self.channel.clone())
    }

    pub fn maintenance(&self) -> MaintenanceClient<Channel> {
        MaintenanceClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }

    pub fn cluster(&self) -> ClusterClient<Channel> {
        ClusterClient::new(self.channel.clone())
    }

    /// The replica's status (leader, term, revision), within the call deadline.
    pub async fn status(&self) -> Result<StatusResponse, CallError> {
        timed(self.maintenance().status(StatusRequest {})).await
    }
}

/// Key bytes.
pub fn key(k: &str) -> Bytes {
    Bytes::copy_from_slice(k.as_bytes())
}

/// The end of the range of keys starting with `prefix` (etcd's prefix rule).
pub fn prefix_end(prefix: &str) -> Bytes {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Bytes::from(end);
        }
    }
    Bytes::from_static(&[0])
}

/// A value's text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
