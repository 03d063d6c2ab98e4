//! The conformance suite against the in-memory model.
capstan_store::conformance_tests!(capstan_store::testing::mem_harness);
