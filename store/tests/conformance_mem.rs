//! The conformance suite against the in-memory model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
capstan_store::conformance_tests!(capstan_store::testing::mem_harness);
