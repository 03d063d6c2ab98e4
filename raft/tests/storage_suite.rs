//! openraft's own storage test suite against our RocksDB log store and our store-backed state
//! machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use capstan_raft::{open_state_store, RaftLogStore, StateMachine, StorageError, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{ErrorSubject, ErrorVerb};
use tempfile::TempDir;

struct RocksBuilder;

fn io(e: impl ToString) -> StorageError {
    StorageError::from_io_error(
        ErrorSubject::Store,
        ErrorVerb::Write,
        std::io::Error::other(e.to_string()),
    )
}

impl StoreBuilder<TypeConfig, RaftLogStore, StateMachine, TempDir> for RocksBuilder {
    async fn build(&self) -> Result<(TempDir, RaftLogStore, StateMachine), StorageError> {
        let dir = TempDir::new().map_err(io)?;
        let log = RaftLogStore::open(&dir.path().join("raft")).map_err(io)?;
        let store = open_state_store(&dir.path().join("store"), Default::default()).map_err(io)?;
        let sm = StateMachine::open(store, &dir.path().join("snapshots"))
            .await
            .map_err(io)?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(RocksBuilder).unwrap();
}
