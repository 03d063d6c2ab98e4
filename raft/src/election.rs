//! `ElectionTimer`: a follower stands for election as soon as the silent leader can be replaced.
//!
//! openraft 0.9 lets a follower stand only after the leader lease (the maximum election timeout)
//! *plus* its own election timeout, drawn once per process, checked on a tick of 1.5 heartbeats;
//! a candidate that learns of a longer log waits twice the maximum more. Measured, a killed
//! leader was replaced after 650–870 ms, and after 1–1.9 s whenever the first candidate had the
//! shorter log (common under writes: the leader dies with an entry on one follower only).
//!
//! The earliest a candidate can win is when the other voters' leases lapse: they refuse votes
//! until a lease has passed since they last heard from the leader. So this timer stands at
//! `last heard + lease + 2 heartbeats + jitter(0..1 heartbeat)`: the two heartbeats leave a
//! leadership transfer (which stops heartbeats, waits a lease and one heartbeat, then tells its
//! target to stand) to its target. A voter that refuses a candidate for its shorter log while
//! the leader is silent stands at once itself (it holds the longer log, so it is the one that
//! can win), at a term above that candidate's; a candidate refused for its shorter log backs off a lease to let it. Retries are
//! half a minimum election timeout apart, jittered. openraft's own timer stays on underneath as a fallback.
//!
//! Safety does not rest on any of this: raft is safe whenever anyone stands. What it changes is
//! only how soon someone does.

use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::random::random_u64;
use crate::types::Raft;

/// When this replica last heard from a leader, and when it may stand next.
pub struct ElectionTimer {
    state: Mutex<TimerState>,
    nudge: Notify,
    lease: Duration,
    heartbeat: Duration,
    retry: Duration,
}

struct TimerState {
    last_heard: Instant,
    not_before: Instant,
    /// Drawn anew after each attempt, so that two followers rarely stand at the same moment.
    jitter: Duration,
    /// The term of the last candidate refused for its shorter log: standing at it would tie
    /// with that candidate, and a tie goes to the greater node id.
    refused_term: u64,
    /// Vote requests being decided here now: standing meanwhile could follow a vote just
    /// granted, and depose the candidate it went to the moment it wins.
    deciding: u32,
}

/// Held while this replica decides a vote request (see `ElectionTimer::deciding_vote`).
pub struct DecidingVote<'a>(&'a ElectionTimer);

impl Drop for DecidingVote<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock();
        s.deciding = s.deciding.saturating_sub(1);
    }
}

impl ElectionTimer {
    /// `lease` is openraft's leader lease (its maximum election timeout), `retry` the pause
    /// between two attempts of this replica.
    pub fn new(heartbeat: Duration, lease: Duration, retry: Duration) -> Arc<ElectionTimer> {
        let now = Instant::now();
        Arc::new(ElectionTimer {
            state: Mutex::new(TimerState {
                last_heard: now,
                not_before: now,
                jitter: jitter(heartbeat),
                refused_term: 0,
                deciding: 0,
            }),
            nudge: Notify::new(),
            lease,
            heartbeat,
            retry,
        })
    }

    /// A leader's append or snapshot was accepted, or this replica granted a vote (the
    /// candidate gets its chance to establish itself), or this replica was leading.
    pub fn heard_from_leader(&self) {
        self.state.lock().last_heard = Instant::now();
    }

    /// Marks a vote request as being decided until the guard drops (after which a granted
    /// vote counts as hearing from a leader).
    pub fn deciding_vote(&self) -> DecidingVote<'_> {
        self.state.lock().deciding += 1;
        DecidingVote(self)
    }

    /// A voter refused this replica's candidacy for a shorter log: leave the next attempt to
    /// the voter holding the longer one.
    pub fn saw_longer_log(&self) {
        let mut s = self.state.lock();
        s.not_before = s.not_before.max(Instant::now() + self.lease);
    }

    /// This replica refused a candidate of `term` for its shorter log: if the leader has been
    /// silent for a lease, stand now, above that term. (Raft proper moves a voter to a
    /// candidate's term even when it refuses it; openraft 0.9 does not, so this replica would
    /// otherwise stand at the very term of the candidate it refused.)
    pub fn refused_shorter_log(&self, term: u64) {
        if self.leader_silent(Instant::now()) {
            let mut s = self.state.lock();
            s.refused_term = s.refused_term.max(term);
            drop(s);
            self.nudge.notify_one();
        }
    }

    fn leader_silent(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.state.lock().last_heard) > self.lease
    }

    /// When to stand next, if nothing is heard before.
    fn due(&self) -> Instant {
        let s = self.state.lock();
        (s.last_heard + self.lease + self.heartbeat * 2 + s.jitter).max(s.not_before)
    }

    /// Stands whenever due, until raft shuts down.
    pub async fn run(self: Arc<Self>, raft: Raft) {
        let mut metrics = raft.metrics();
        let mut was_leader = false;
        loop {
            let due = self.due();
            let mut nudged = false;
            tokio::select! {
                r = metrics.changed() => if r.is_err() { return },
                _ = tokio::time::sleep_until(due) => {}
                _ = self.nudge.notified() => nudged = true,
            }
            let (leading, may_stand, term) = {
                let m = metrics.borrow_and_update();
                let membership = m.membership_config.membership();
                let voter = membership.voter_ids().any(|v| v == m.id);
                let others = membership.voter_ids().count() > 1;
                let running = m.running_state.is_ok();
                (
                    m.state == ServerState::Leader,
                    voter && others && running && m.state != ServerState::Shutdown,
                    m.current_term,
                )
            };
            // A deposed leader gives the new one a full term before standing against it.
            if leading || was_leader {
                self.heard_from_leader();
            }
            was_leader = leading;
            let now = Instant::now();
            let stand = if nudged {
                self.leader_silent(now) && now >= self.state.lock().not_before
            } else {
                now >= self.due()
            };
            if leading || !may_stand || !stand {
                continue;
            }
            {
                let mut s = self.state.lock();
                if s.deciding > 0 {
                    // Look again shortly: the request may be a vote this replica grants.
                    s.not_before = s.not_before.max(now + self.heartbeat / 5);
                    continue;
                }
            }
            tracing::info!(
                silent_ms = now
                    .saturating_duration_since(self.state.lock().last_heard)
                    .as_millis() as u64,
                nudged,
                "standing for election"
            );
            let refused = std::mem::take(&mut self.state.lock().refused_term);
            for _ in 0..elections_to_pass(refused, term) {
                if raft.trigger().elect().await.is_err() {
                    return;
                }
            }
            let mut s = self.state.lock();
            s.jitter = jitter(self.heartbeat);
            s.not_before = s.not_before.max(Instant::now() + self.retry + s.jitter);
        }
    }
}

/// How many elections take this replica, now at `term`, past a refused candidate's term: each
/// election stands at the term after the current one. At least one; at most three, so that a
/// stale record cannot run the terms up.
fn elections_to_pass(refused_term: u64, term: u64) -> u64 {
    (refused_term + 1).saturating_sub(term).clamp(1, 3)
}

/// A random duration in `0..max`.
fn jitter(max: Duration) -> Duration {
    Duration::from_nanos(random_u64() % (max.as_nanos().max(1) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> Arc<ElectionTimer> {
        ElectionTimer::new(
            Duration::from_millis(50),
            Duration::from_millis(400),
            Duration::from_millis(200),
        )
    }

    #[test]
    fn a_silent_leader_makes_the_timer_due_after_lease_and_two_heartbeats() {
        let t = timer();
        let heard = t.state.lock().last_heard;
        let due = t.due();
        assert!(
            due >= heard + Duration::from_millis(500),
            "{:?}",
            due - heard
        );
        assert!(
            due < heard + Duration::from_millis(550),
            "{:?}",
            due - heard
        );
        assert!(!t.leader_silent(heard + Duration::from_millis(400)));
        assert!(t.leader_silent(heard + Duration::from_millis(401)));
    }

    #[test]
    fn hearing_from_the_leader_pushes_the_election_back() {
        let t = timer();
        let long_ago = Instant::now() - Duration::from_secs(5);
        t.state.lock().last_heard = long_ago;
        assert!(t.due() < Instant::now());
        t.heard_from_leader();
        assert!(t.due() >= Instant::now() + Duration::from_millis(450));
    }

    #[test]
    fn a_replica_that_refused_a_candidate_stands_above_its_term() {
        // At term 5, having refused a candidate of term 6: a single election would stand at 6
        // and tie; two reach 7.
        assert_eq!(elections_to_pass(6, 5), 2);
        assert_eq!(elections_to_pass(0, 5), 1);
        assert_eq!(elections_to_pass(5, 5), 1);
        assert_eq!(elections_to_pass(50, 5), 3);
    }

    #[test]
    fn a_longer_log_elsewhere_defers_this_replica_by_a_lease() {
        let t = timer();
        t.state.lock().last_heard = Instant::now() - Duration::from_secs(5);
        t.saw_longer_log();
        assert!(t.due() >= Instant::now() + Duration::from_millis(350));
    }
}
