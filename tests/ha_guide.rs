//! The HA install guide (docs/ha.md), every step, on loopback: `scripts/ha-guide.sh` with this
//! build's binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn every_step_of_the_ha_guide_works_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ha-guide.sh"))
        .arg(dir.path())
        .env("CAPSTAN", env!("CARGO_BIN_EXE_capstan"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("HA guide: every step passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
