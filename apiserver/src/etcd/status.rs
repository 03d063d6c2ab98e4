//! Store errors as the gRPC status etcd gives for the same case (code and message), so clients
//! that match on them (etcdctl, client-go, the Kubernetes API server) behave as with etcd.

use capstan_store::KvError;
use tonic::{Code, Status};

/// The gRPC status for a store error.
pub fn to_status(e: &KvError) -> Status {
    let msg = e.to_string();
    match e {
        KvError::InvalidArgument(_)
        | KvError::DuplicateKey
        | KvError::TooManyOps
        | KvError::EmptyWatchRange
        | KvError::RequestTooLarge
        | KvError::KeyNotFound => Status::new(Code::InvalidArgument, msg),
        // etcd prefixes the storage layer's messages: "etcdserver: mvcc: ...".
        KvError::Compacted { .. } | KvError::FutureRevision => {
            Status::new(Code::OutOfRange, format!("etcdserver: {msg}"))
        }
        KvError::LeaseTtlTooLarge => Status::new(Code::OutOfRange, msg),
        KvError::LeaseNotFound => Status::new(Code::NotFound, msg),
        KvError::LeaseExists => Status::new(Code::FailedPrecondition, msg),
        KvError::Fenced { .. } => Status::new(Code::FailedPrecondition, msg),
        KvError::Unavailable(_) => Status::new(Code::Unavailable, msg),
        KvError::Corrupt(_) => Status::new(Code::DataLoss, msg),
        KvError::Storage(_) => Status::new(Code::Internal, msg),
    }
}
