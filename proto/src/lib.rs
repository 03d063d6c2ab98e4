//! capstan's protobuf schemas and the Rust types prost generates from them: the store's data
//! model and commands (what the raft log carries) and the records the store writes to disk.
//! This crate holds schemas only; it must not depend on the store, raft, RocksDB or any
//! server framework, so every other crate can use it.

/// The store's requests, responses, commands and on-disk records (`capstan.store.v1`).
pub mod store {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/capstan.store.v1.rs"));
}
