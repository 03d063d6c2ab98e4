//! The store's conformance suite against `ReplicatedKv` on a single replica.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

async fn one() -> capstan_store::testing::Harness {
    common::harness(1).await
}

capstan_store::conformance_tests!(one, without_restore);
