//! `LogTail`: the newest raft log entries, kept in memory beside the RocksDB log. Every
//! replica reads each committed entry back to apply it, and the leader reads each new entry back
//! once per follower to replicate it; those reads are of the last few hundred entries, so they
//! are answered here instead of by a RocksDB iterator and a protobuf decode per entry.
//!
//! Invariant: the tail is a contiguous run of entries ending at the log's last entry (or empty).
//! `RaftLogStore` keeps it by changing the tail and RocksDB together under one lock (append) or
//! the tail first (truncate, purge), so the tail never holds an entry RocksDB lacks.

use std::collections::VecDeque;

use crate::types::Entry;

/// At most this many entries are kept…
const TAIL_ENTRIES: usize = 1024;
/// …and at most this many encoded bytes of them.
const TAIL_BYTES: usize = 64 << 20;

#[derive(Default)]
pub struct LogTail {
    /// Each entry with its encoded size.
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

impl LogTail {
    /// Appends the entry after the last one (anything else starts a new run).
    pub fn push(&mut self, entry: Entry, size: usize) {
        if self
            .last_index()
            .is_some_and(|last| last.checked_add(1) != Some(entry.log_id.index))
        {
            self.clear();
        }
        self.bytes += size;
        self.entries.push_back((entry, size));
        while self.entries.len() > TAIL_ENTRIES || self.bytes > TAIL_BYTES {
            match self.entries.pop_front() {
                Some((_, s)) => self.bytes -= s,
                None => break,
            }
        }
    }

    /// Drops the entries from `index` on (raft truncated a conflicting suffix).
    pub fn truncate(&mut self, index: u64) {
        while self
            .entries
            .back()
            .is_some_and(|(e, _)| e.log_id.index >= index)
        {
            if let Some((_, s)) = self.entries.pop_back() {
                self.bytes -= s;
            }
        }
    }

    /// Drops the entries up to and including `index` (purged after a snapshot).
    pub fn purge(&mut self, index: u64) {
        while self
            .entries
            .front()
            .is_some_and(|(e, _)| e.log_id.index <= index)
        {
            if let Some((_, s)) = self.entries.pop_front() {
                self.bytes -= s;
            }
        }
    }

    /// The entries in [start, end) (end `None`: to the last), or `None` when the tail does
    /// not hold `start` and the caller must read the log itself.
    pub fn get(&self, start: u64, end: Option<u64>) -> Option<Vec<Entry>> {
        let first = self.entries.front()?.0.log_id.index;
        let last = self.last_index()?;
        if start < first {
            return None;
        }
        // Nothing exists past the tail's last entry: it is the log's last.
        let end = end.unwrap_or(u64::MAX).min(last.saturating_add(1));
        if start >= end {
            return Some(Vec::new());
        }
        let (from, to) = (
            usize::try_from(start - first).ok()?,
            usize::try_from(end - first).ok()?,
        );
        Some(
            self.entries
                .range(from..to)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }

    fn last_index(&self) -> Option<u64> {
        self.entries.back().map(|(e, _)| e.log_id.index)
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::LogId;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn indexes(v: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        v.map(|v| v.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn answers_only_what_it_holds() {
        let mut t = LogTail::default();
        assert_eq!(indexes(t.get(1, None)), None);
        for i in 5..=9 {
            t.push(entry(i), 10);
        }
        assert_eq!(indexes(t.get(4, Some(6))), None, "starts before the tail");
        assert_eq!(indexes(t.get(5, Some(7))), Some(vec![5, 6]));
        assert_eq!(indexes(t.get(8, None)), Some(vec![8, 9]));
        assert_eq!(indexes(t.get(8, Some(100))), Some(vec![8, 9]));
        assert_eq!(
            indexes(t.get(10, None)),
            Some(vec![]),
            "past the last entry"
        );
        t.truncate(8);
        assert_eq!(indexes(t.get(5, None)), Some(vec![5, 6, 7]));
        t.purge(6);
        assert_eq!(indexes(t.get(6, None)), None);
        assert_eq!(indexes(t.get(7, None)), Some(vec![7]));
        t.push(entry(20), 10);
        assert_eq!(indexes(t.get(7, None)), None, "a gap starts a new run");
        assert_eq!(indexes(t.get(20, None)), Some(vec![20]));
    }

    #[test]
    fn keeps_a_bounded_number_of_entries_and_bytes() {
        let mut t = LogTail::default();
        for i in 1..=(TAIL_ENTRIES as u64 + 10) {
            t.push(entry(i), 1);
        }
        assert_eq!(indexes(t.get(10, Some(11))), None);
        assert_eq!(indexes(t.get(11, Some(12))), Some(vec![11]));
        t.push(entry(TAIL_ENTRIES as u64 + 11), TAIL_BYTES);
        assert_eq!(
            t.entries.len(),
            1,
            "an entry as large as the budget pushes out the rest"
        );
    }
}
