//! `Lessor`: lease deadlines. Deadlines are wall-clock matters and live only in memory, outside
//! apply; when one passes, the owner of the lessor (the local store, or the raft leader) proposes a
//! revoke, and the revoke is what apply sees. After a restart or a leader change every lease gets a
//! fresh deadline, so no lease expires because of the change (as etcd does).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

#[derive(Clone, Copy, Debug)]
struct Deadline {
    ttl: i64,
    at: Instant,
}

/// Lease deadlines by lease id.
#[derive(Default)]
pub struct Lessor {
    leases: Mutex<HashMap<i64, Deadline>>,
}

impl Lessor {
    /// Starts tracking a granted lease.
    pub fn granted(&self, id: i64, ttl: i64) {
        self.leases.lock().insert(
            id,
            Deadline {
                ttl,
                at: Instant::now() + secs(ttl),
            },
        );
    }

    /// Stops tracking a revoked lease.
    pub fn revoked(&self, id: i64) {
        self.leases.lock().remove(&id);
    }

    /// Pushes a lease's deadline to a full TTL from now; returns the TTL, `None` if unknown.
    pub fn renew(&self, id: i64) -> Option<i64> {
        let mut leases = self.leases.lock();
        let d = leases.get_mut(&id)?;
        d.at = Instant::now() + secs(d.ttl);
        Some(d.ttl)
    }

    /// Seconds left (rounded up) and the granted TTL; `None` if unknown.
    pub fn remaining(&self, id: i64) -> Option<(i64, i64)> {
        let leases = self.leases.lock();
        let d = leases.get(&id)?;
        let left = d.at.saturating_duration_since(Instant::now());
        let secs_left = left.as_millis().div_ceil(1000) as i64;
        Some((secs_left, d.ttl))
    }

    /// Leases whose deadline has passed, in id order.
    pub fn expired(&self) -> Vec<i64> {
        let now = Instant::now();
        let mut ids: Vec<i64> = self
            .leases
            .lock()
            .iter()
            .filter(|(_, d)| d.at <= now)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Gives every lease a full TTL plus `extra` from now: a new raft leader does this, so no
    /// lease expires because leadership moved (etcd's `Promote(extend)`).
    pub fn promote(&self, extra: Duration) {
        let now = Instant::now();
        for d in self.leases.lock().values_mut() {
            d.at = now + secs(d.ttl) + extra;
        }
    }

    /// Replaces every deadline: each lease gets its full TTL from now.
    pub fn reset(&self, leases: impl IntoIterator<Item = (i64, i64)>) {
        let now = Instant::now();
        let mut map = self.leases.lock();
        map.clear();
        for (id, ttl) in leases {
            map.insert(
                id,
                Deadline {
                    ttl,
                    at: now + secs(ttl),
                },
            );
        }
    }
}

fn secs(ttl: i64) -> Duration {
    Duration::from_secs(ttl.max(0) as u64)
}
