//! `Expectations`: client-go's ControllerExpectations. Before a controller creates or deletes
//! objects for a key it records how many it expects to see; the informer's events count them
//! down; until they are all seen (or the expectation is five minutes old, for events lost to a
//! re-list) the controller does not act on the key again. A cache that lags the store therefore
//! never makes a controller create or delete twice.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long an unmet expectation holds a key back (client-go's ExpectationsTimeout).
const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Expected {
    adds: i64,
    dels: i64,
    set: Instant,
}

/// Outstanding creates and deletes per controller key.
#[derive(Debug, Default)]
pub struct Expectations {
    by_key: Mutex<HashMap<String, Expected>>,
}

impl Expectations {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Expected>> {
        self.by_key.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the controller may act on `key`: nothing outstanding, or it waited too long.
    pub fn satisfied(&self, key: &str) -> bool {
        match self.map().get(key) {
            None => true,
            Some(e) => (e.adds <= 0 && e.dels <= 0) || e.set.elapsed() > EXPECTATIONS_TIMEOUT,
        }
    }

    /// About to create `adds` and delete `dels` objects for `key`.
    pub fn expect(&self, key: &str, adds: i64, dels: i64) {
        self.map().insert(
            key.to_string(),
            Expected {
                adds,
                dels,
                set: Instant::now(),
            },
        );
    }

    /// One expected create was seen (or will never happen: it failed).
    pub fn created(&self, key: &str) {
        if let Some(e) = self.map().get_mut(key) {
            e.adds -= 1;
        }
    }

    /// One expected delete was seen (or will never happen).
    pub fn deleted(&self, key: &str) {
        if let Some(e) = self.map().get_mut(key) {
            e.dels -= 1;
        }
    }

    /// The key's owner is gone.
    pub fn forget(&self, key: &str) {
        self.map().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_waits_until_every_expected_event_is_seen() {
        let e = Expectations::default();
        assert!(e.satisfied("rs"));
        e.expect("rs", 2, 1);
        assert!(!e.satisfied("rs"));
        e.created("rs");
        e.deleted("rs");
        assert!(!e.satisfied("rs"));
        e.created("rs");
        assert!(e.satisfied("rs"));
        e.expect("other", 1, 0);
        e.forget("other");
        assert!(e.satisfied("other"));
    }
}
