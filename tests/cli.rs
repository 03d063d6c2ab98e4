//! The `capstan` binary's commands, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use bytes::Bytes;
use capstan_store::proto::PutRequest;
use capstan_store::{Kv, MemKv};

#[tokio::test]
async fn snapshot_verify_accepts_a_good_file_and_refuses_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let kv = MemKv::in_memory().unwrap();
    for i in 0..10 {
        kv.put(PutRequest {
            key: Bytes::from(format!("k{i}")),
            value: Bytes::from_static(b"v"),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let file = dir.path().join("s.snap");
    let info = kv.snapshot(&file).await.unwrap();

    let ok = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["snapshot", "verify"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.contains(&format!("revision {}", info.revision)) && out.contains(&info.sha256),
        "{out}"
    );

    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(["snapshot", "verify"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).starts_with("error: "),
        "one readable line, no backtrace"
    );
}
