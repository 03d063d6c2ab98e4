//! The conformance suite against the RocksDB store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
capstan_store::conformance_tests!(capstan_store::testing::rocks_harness);
