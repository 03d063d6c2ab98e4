//! A terminated container's `message`, as the kubelet reads it: the file at its
//! `terminationMessagePath` (at most 4096 bytes), or with `terminationMessagePolicy:
//! FallbackToLogsOnError` and an empty file after a failure, the last 80 lines of its log (at
//! most 2048 bytes).

use std::io::Read;
use std::path::PathBuf;

use crate::log_reader;

/// The kubelet's limit on a message read from the file.
const MAX_FILE_BYTES: u64 = 4096;
/// What `FallbackToLogsOnError` takes of the log.
const MAX_LOG_LINES: usize = 80;
const MAX_LOG_BYTES: usize = 2048;

/// Where one container instance's message comes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TerminationMessage {
    /// The host file mounted at `terminationMessagePath` (none in the process runtime).
    pub file: Option<PathBuf>,
    pub fallback_to_logs: bool,
    /// The instance's CRI log file.
    pub log: PathBuf,
}

impl TerminationMessage {
    /// The message of an instance that exited with `code`.
    pub fn read(&self, code: i32) -> Option<String> {
        let mut from_file = String::new();
        if let Some(f) = &self.file {
            if let Ok(file) = std::fs::File::open(f) {
                let mut bytes = Vec::new();
                let _ = file.take(MAX_FILE_BYTES).read_to_end(&mut bytes);
                from_file = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
        if !from_file.is_empty() || !self.fallback_to_logs || code == 0 {
            return Some(from_file).filter(|m| !m.is_empty());
        }
        let data = std::fs::read(&self.log).ok()?;
        let (lines, _) = log_reader::parse(&data);
        let lines = log_reader::tail(lines, Some(MAX_LOG_LINES));
        let mut text: Vec<u8> = lines.into_iter().flat_map(|l| l.text).collect();
        if text.len() > MAX_LOG_BYTES {
            text.drain(..text.len() - MAX_LOG_BYTES);
        }
        Some(String::from_utf8_lossy(&text).into_owned()).filter(|m| !m.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cri_log::record;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn the_file_wins_and_logs_stand_in_only_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("termination-log");
        let log = dir.path().join("0.log");
        let mut data = Vec::new();
        for i in 0..100 {
            data.extend(record(
                Timestamp::now(),
                "stdout",
                format!("line {i}\n").as_bytes(),
                true,
            ));
        }
        std::fs::write(&log, &data).unwrap();
        std::fs::write(&file, "").unwrap();
        let t = TerminationMessage {
            file: Some(file.clone()),
            fallback_to_logs: true,
            log: log.clone(),
        };
        let tail = t.read(1).unwrap();
        assert!(
            tail.starts_with("line 20\n") && tail.ends_with("line 99\n"),
            "{tail}"
        );
        assert_eq!(t.read(0), None);
        let plain = TerminationMessage {
            fallback_to_logs: false,
            ..t.clone()
        };
        assert_eq!(plain.read(1), None);
        std::fs::write(&file, "x".repeat(5000)).unwrap();
        assert_eq!(t.read(1).unwrap().len(), 4096);
    }
}
