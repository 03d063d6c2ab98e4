//! The crash-log checker (Jepsen etcd's crash pattern): scans every replica's stderr for panics,
//! aborts and storage corruption. An abort at a crash point the nemesis armed is expected and
//! allowed; anything else is an anomaly.

use std::path::Path;

use crate::history::Verdict;

/// Lines that mean a replica died or found its data damaged.
const BAD: &[&str] = &[
    "panicked at",
    "FATAL",
    "Corruption:",
    "fatal runtime error",
    "stack overflow",
];
/// The line an armed crash point writes before it aborts.
const INJECTED: &str = "crash point";
/// The line a replica logs when it caught up by snapshot (counted, to show the fault worked).
const SNAPSHOT_INSTALLED: &str = "installed a raft snapshot";

/// Checks `<node dir>/stderr.log` of each replica under `nodes`.
pub fn check_logs(nodes: &Path) -> Verdict {
    const NAME: &str = "crash-logs";
    let Ok(dirs) = std::fs::read_dir(nodes) else {
        return Verdict::unknown(
            NAME,
            0,
            format!("no replica logs under {}", nodes.display()),
        );
    };
    let mut bad = Vec::new();
    let mut injected = 0;
    let mut installs = 0;
    let mut lines = 0;
    let mut paths: Vec<_> = dirs.flatten().map(|d| d.path()).collect();
    paths.sort();
    for dir in paths {
        let node = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(dir.join("stderr.log")) else {
            continue;
        };
        for line in text.lines() {
            lines += 1;
            if line.contains(SNAPSHOT_INSTALLED) {
                installs += 1;
            }
            if line.contains(INJECTED) {
                injected += 1;
            } else if BAD.iter().any(|b| line.contains(b)) {
                bad.push(format!(
                    "{node}: {}",
                    line.chars().take(300).collect::<String>()
                ));
            }
        }
    }
    if bad.is_empty() {
        Verdict::valid(
            NAME,
            lines,
            format!("{lines} log lines, no panic or corruption; {injected} injected crash(es); {installs} snapshot install(s) by lagging replicas"),
        )
    } else {
        let n = bad.len();
        bad.truncate(20);
        Verdict::invalid(
            NAME,
            lines,
            format!("{n} line(s) show a panic, abort or corruption that no fault injected"),
            bad,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::history::Validity;

    #[test]
    fn panics_are_caught_and_injected_crashes_allowed() {
        let dir = std::env::temp_dir().join(format!("capstan-logs-{}", std::process::id()));
        let n1 = dir.join("n1");
        std::fs::create_dir_all(&n1).unwrap();
        std::fs::write(
            n1.join("stderr.log"),
            "ok\ncapstan: crash point raft.apply reached: aborting\n",
        )
        .unwrap();
        assert_eq!(check_logs(&dir).valid, Validity::Valid);
        std::fs::write(n1.join("stderr.log"), "thread 'x' panicked at src/a.rs:1\n").unwrap();
        let v = check_logs(&dir);
        assert_eq!(v.valid, Validity::Invalid);
        assert!(v.excerpt[0].contains("n1: thread 'x' panicked"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
