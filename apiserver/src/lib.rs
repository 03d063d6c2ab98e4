//! The client-facing APIs of capstan, over the store's `Kv` trait only: the Kubernetes REST API
//! (`k8s`), so kubectl and client libraries work unchanged, and the etcd v3 gRPC facade (`etcd`),
//! so etcdctl and etcd client libraries do too.
//!
//! This crate must not depend on the raft layer, RocksDB or openraft: it sees storage through
//! `capstan_store::Kv` (built without its RocksDB feature) and its tests run on the in-memory
//! store. CI checks that with `cargo tree`.

pub mod etcd;
pub mod k8s;
