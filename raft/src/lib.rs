//! capstan's replication: openraft over the store. The control-plane replicas form one raft group;
//! its log and vote live on RocksDB ([`RaftLogStore`]), its state machine is the store itself
//! ([`StateMachine`] over `RocksKv`), replicas talk gRPC over mutual TLS, and [`ReplicatedKv`]
//! exposes the whole group through the store's own `Kv` trait, so the API facades cannot tell a
//! replicated store from a local one.
//!
//! openraft is pinned to 0.9.25, the stable line: 0.10 is still alpha (its storage and network
//! traits change between alphas) and offers nothing we cannot build on 0.9 — the one 0.10
//! feature we would use, leader transfer, is done here with a `TimeoutNow` call of our own.
//!
//! This crate must not depend on HTTP (axum) or Kubernetes types; it knows the store only through
//! its public API.

// openraft's own error types (StorageError, RPCError) are large; the trait signatures fix them.
#![allow(clippy::result_large_err)]

mod batcher;
pub mod codec;
mod election;
mod error;
mod forwarder;
mod log_store;
mod log_tail;
mod network;
mod node;
pub mod pki;
mod random;
mod replicated;
mod service;
mod state_machine;
mod types;

pub use error::RaftError;
pub use log_store::RaftLogStore;
pub use network::{PeerError, PeerTls, Peers};
pub use node::{RaftNode, RaftNodeConfig};
pub use replicated::{Leadership, ReplicatedKv};
pub use service::{JoinAuth, RaftService};
pub use state_machine::{decode_applied, SnapshotBuilder, StateMachine};
pub use types::{
    ApplyReply, Entry, LogId, Member, Membership, NodeId, Raft, SnapshotMeta, StorageError,
    StoredMembership, TypeConfig, Vote,
};

use std::path::Path;
use std::sync::Arc;

use capstan_store::{KvResult, RocksBackend, RocksKv, Store, StoreConfig};

/// Opens the state machine's store in `dir` with `config`, lease expiry turned off (the raft
/// leader decides expiry and proposes revokes) and without fsync per apply (the log is durable).
pub fn open_state_store(dir: &Path, config: StoreConfig) -> KvResult<Arc<RocksKv>> {
    let config = StoreConfig {
        expire_leases: false,
        sync_writes: false,
        ..config
    };
    Ok(Arc::new(Store::new(RocksBackend::open(dir)?, config)?))
}
