//! capstan's Jepsen-style fault tests, shipped as `capstan jepsen`: real `capstan server`
//! processes on loopback, faults injected while clients run, every operation recorded, the
//! history checked, and a report a person can read. It drives the servers from outside through
//! their public APIs (the etcd v3 gRPC API, the command line, signals, files) and must not
//! depend on the store, raft or apiserver crates; its only link to the server is the wire
//! schema in `capstan-proto`.
//!
//! It follows `../shared/research/jepsen-design.md`, with these deviations:
//! - Ground truth is each replica's own store read back after healing (a watch from the
//!   compacted revision, served from the store's history on disk, and range reads), rather than
//!   the raft log as etcd's robustness suite reads the WAL: the raft log is purged after every
//!   snapshot (`--snapshot-count 100`), the store's history is not until compacted.
//! - The history file holds completed operations (invocation and completion paired, one line
//!   each) rather than separate invoke and complete events; open operations are `info`.
//! - Loss is modelled above TCP (a chunk late by a retransmission timeout), since a userspace
//!   proxy cannot drop packets inside a TCP stream without breaking it.
//! - Fencing is checked through its observable effect, leases: a lease must never vanish before
//!   the deadline the leader promised (a deposed leader's unfenced revoke would break that).
//!   Writes carry no term a client can see, so "no write from a stale term" is otherwise only
//!   covered by replica agreement and the lost-write and phantom checks.
//! - Nemeses run one fault class per run (etcd's pattern); the "admin" compaction runs as its
//!   own fault class and with the compaction crash point, not alongside every fault.
//! - Clients use the replicas' plaintext client URL (`--listen-client http://`), which keeps the
//!   two cores for the servers; the links between replicas stay mutual TLS through the proxies.
//! - No LazyFS: a kill -9 leaves the page cache intact, so "acknowledged before fsync" cannot be
//!   caught by killing; the deliberately broken build is the stale-read one instead, and fsync
//!   failures are injected directly (`disk-eio`).
//! - The Kubernetes REST workloads (`--workload kube-cas|kube-informer|controllers`) reach each
//!   replica's HTTPS API directly (not through the client link proxies) as the admin, and their
//!   ground truth is the store's own history of the namespace read through the etcd API: a
//!   resourceVersion is the store revision. A compacted history makes their truth checks unknown.

pub mod check;
pub mod client;
pub mod cluster;
pub mod dump;
pub mod history;
pub mod nemesis;
pub mod options;
pub mod proxy;
pub mod recorder;
pub mod report;
pub mod run;
pub mod suite;
pub mod workload;

pub use options::JepsenArgs;
pub use suite::run_suite;

/// What can stop a run from happening (as opposed to a checker's verdict).
#[derive(Debug, thiserror::Error)]
pub enum JepsenError {
    #[error("{0}")]
    Config(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("the cluster never became healthy: {0}")]
    Unhealthy(String),
}
