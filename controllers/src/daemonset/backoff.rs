//! `FailedPodsBackoff`: client-go's flowcontrol.Backoff as the daemonset controller uses it for
//! failed daemon pods, per DaemonSet generation and node: the first failed pod is deleted at
//! once, the next ones only after 1 s, 2 s, 4 s, … up to 15 minutes since the last, so a node
//! whose kubelet keeps rejecting the pod is not hot-looped. An entry idle for twice the maximum
//! starts again from the first delay.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The first delay (kube-controller-manager's daemonset failedPodsBackoff).
const INITIAL: Duration = Duration::from_secs(1);
/// The longest.
const MAX: Duration = Duration::from_secs(15 * 60);

struct Entry {
    backoff: Duration,
    last_update: Instant,
}

/// Back-off entries by key.
#[derive(Default)]
pub struct FailedPodsBackoff {
    entries: Mutex<HashMap<String, Entry>>,
}

fn expired(now: Instant, last: Instant) -> bool {
    now.duration_since(last) > 2 * MAX
}

impl FailedPodsBackoff {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The delay still to wait at `now` if `key` is backing off (since its last update).
    pub fn waiting(&self, key: &str, now: Instant) -> Option<Duration> {
        let entries = self.entries();
        let e = entries.get(key)?;
        let since = now.duration_since(e.last_update);
        (!expired(now, e.last_update) && since < e.backoff).then_some(e.backoff)
    }

    /// Records an action for `key` at `now`: its next delay doubles (or starts at 1 s).
    pub fn next(&self, key: &str, now: Instant) {
        let mut entries = self.entries();
        // Forget what has long expired, as upstream's periodic GC does.
        entries.retain(|_, e| !expired(now, e.last_update));
        let backoff = match entries.get(key) {
            Some(e) => (e.backoff * 2).min(MAX),
            None => INITIAL,
        };
        entries.insert(
            key.to_string(),
            Entry {
                backoff,
                last_update: now,
            },
        );
    }
}

/// The key: the DaemonSet's uid and observed generation and the node (a new generation starts
/// afresh).
pub fn key(uid: &str, observed_generation: i64, node: &str) -> String {
    format!("{uid}/{observed_generation}/{node}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_one_second_and_only_hold_since_the_last_update() {
        let b = FailedPodsBackoff::default();
        let t0 = Instant::now();
        assert_eq!(b.waiting("k", t0), None);
        b.next("k", t0);
        assert_eq!(b.waiting("k", t0), Some(INITIAL));
        assert_eq!(b.waiting("k", t0 + Duration::from_secs(1)), None);
        let t1 = t0 + Duration::from_secs(1);
        b.next("k", t1);
        assert_eq!(
            b.waiting("k", t1 + Duration::from_millis(1500)),
            Some(INITIAL * 2)
        );
        // Idle for long, it starts over.
        let late = t1 + 3 * MAX;
        assert_eq!(b.waiting("k", late), None);
        b.next("k", late);
        assert_eq!(b.waiting("k", late), Some(INITIAL));
    }
}
