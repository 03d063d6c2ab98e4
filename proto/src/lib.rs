//! capstan's protobuf schemas and the Rust types prost generates from them: the store's data
//! model and commands (what the raft log carries), the records the store writes to disk, and,
//! under the `grpc` feature, etcd's v3 API with its tonic services and clients. This crate holds
//! schemas only; it must not depend on the store, raft or RocksDB, and only its `grpc` feature
//! brings in tonic, so the store can use it without seeing gRPC.

/// The store's requests, responses, commands and on-disk records (`capstan.store.v1`).
pub mod store {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/capstan.store.v1.rs"));
}

/// etcd's key-value records (`mvccpb`), wire-compatible with etcd v3.
#[cfg(feature = "grpc")]
pub mod mvccpb {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/mvccpb.rs"));
}

/// etcd's v3 API (`etcdserverpb`): messages, tonic servers and clients.
#[cfg(feature = "grpc")]
pub mod etcdserverpb {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.rs"));
}

/// capstan's replication: raft log records and the transport between replicas (`capstan.raft.v1`).
#[cfg(feature = "grpc")]
pub mod raft {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/capstan.raft.v1.rs"));
}
