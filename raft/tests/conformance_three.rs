//! The store's conformance suite against `ReplicatedKv` on three replicas, served through a
//! follower: every write is forwarded to the leader, every linearizable read asks it for a read
//! index.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

async fn three() -> capstan_store::testing::Harness {
    common::harness(3).await
}

capstan_store::conformance_tests!(three, without_restore);
