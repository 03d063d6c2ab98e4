//! The store's errors: a small closed set, each with the message etcd gives for the same case, so
//! the API facades can translate them one to one (gRPC status, HTTP `metav1.Status`).

use thiserror::Error;

/// Everything that can go wrong in a `Kv` call. A failed compare in a txn is not an error (it is
/// `TxnResponse::succeeded == false`); errors are for requests that were refused or could not run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KvError {
    /// The request is malformed (empty key, range end before key, negative revision, unknown enum
    /// value, ...). Nothing was changed.
    #[error("etcdserver: {0}")]
    InvalidArgument(String),
    /// A watch whose range end is at or before its key (etcd refuses it; reads of such a range
    /// are merely empty).
    #[error("mvcc: watcher range is empty")]
    EmptyWatchRange,
    /// Two operations of one txn branch touch the same key.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// More operations in one txn than allowed.
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// The encoded request is larger than the limit (1.5 MiB, as etcd).
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// The requested revision is below the compaction point.
    #[error("mvcc: required revision has been compacted")]
    Compacted {
        /// The store's compact revision at the time of the request.
        compact_revision: i64,
    },
    /// The requested revision is above the current revision.
    #[error("mvcc: required revision is a future revision")]
    FutureRevision,
    /// `ignore_value`/`ignore_lease` on a key that does not exist.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// The lease does not exist (or has been revoked).
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// A lease with this id already exists.
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    /// The lease TTL is above the maximum.
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// The command carried a fence term (leader-only work) other than the term of the log entry
    /// that carried it: a newer leader exists, so the command changed nothing.
    #[error("capstan: fenced: command of term {expected} reached the log in term {actual}")]
    Fenced {
        /// The term the proposer's work started in.
        expected: u64,
        /// The term of the entry that carried it.
        actual: u64,
    },
    /// The store (or the replicated layer above it) cannot serve the request now; retry later.
    #[error("etcdserver: {0}")]
    Unavailable(String),
    /// A snapshot or on-disk record failed its checks. Nothing was written.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// An I/O or storage-engine failure. The store refuses further writes after one (fail-stop).
    #[error("storage failure: {0}")]
    Storage(String),
}

impl KvError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        KvError::InvalidArgument(msg.into())
    }
}

#[cfg(feature = "rocks")]
impl From<rocksdb::Error> for KvError {
    fn from(e: rocksdb::Error) -> Self {
        KvError::Storage(e.into_string())
    }
}

impl From<prost::DecodeError> for KvError {
    fn from(e: prost::DecodeError) -> Self {
        KvError::Corrupt(format!("undecodable record: {e}"))
    }
}

impl From<std::io::Error> for KvError {
    fn from(e: std::io::Error) -> Self {
        KvError::Storage(e.to_string())
    }
}

/// Shorthand for results of store operations.
pub type KvResult<T> = Result<T, KvError>;
