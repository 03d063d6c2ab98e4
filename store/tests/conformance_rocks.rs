//! The conformance suite against the RocksDB store.
capstan_store::conformance_tests!(capstan_store::testing::rocks_harness);
