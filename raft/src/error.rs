//! The raft crate's errors.

use capstan_store::KvError;

/// Why a replica could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    #[error("store: {0}")]
    Store(KvError),
    #[error("raft log: {0}")]
    Log(#[from] rocksdb::Error),
    #[error("raft: {0}")]
    Raft(String),
    #[error("raft configuration: {0}")]
    Config(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
