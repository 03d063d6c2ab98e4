//! CrashLoopBackOff, as the kubelet's per-container back-off (client-go's
//! `flowcontrol.Backoff`): the first restart after an exit is immediate; each later one waits
//! 10 s, then 20 s, 40 s … up to 5 minutes, counted from the exit. A container that ran longer
//! than twice the maximum (10 minutes) since the last back-off starts over.

use std::time::{Duration, Instant};

/// The kubelet's initial container back-off.
pub const INITIAL: Duration = Duration::from_secs(10);
/// `MaxContainerBackOff`.
pub const MAX: Duration = Duration::from_secs(300);

/// One container's back-off.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    /// The delay now in force and the exit it was set at.
    entry: Option<(Duration, Instant)>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(INITIAL, MAX)
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            entry: None,
        }
    }

    fn expired(&self, exited: Instant, last: Instant) -> bool {
        exited.saturating_duration_since(last) > self.max * 2
    }

    /// When a container that exited at `exited` may start again (`None`: now), upstream's
    /// `IsInBackOffSince`.
    pub fn restart_at(&self, exited: Instant) -> Option<Instant> {
        let (delay, last) = self.entry?;
        if self.expired(exited, last) {
            return None;
        }
        Some(exited + delay)
    }

    /// The delay a restart now in back-off shows in its message.
    pub fn delay(&self) -> Duration {
        self.entry.map_or(self.initial, |(d, _)| d)
    }

    /// Records a restart of the container that exited at `exited` (upstream's `Next`).
    pub fn restarted(&mut self, exited: Instant) {
        let next = match self.entry {
            Some((d, last)) if !self.expired(exited, last) => (d * 2).min(self.max),
            _ => self.initial,
        };
        self.entry = Some((next, exited));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_wait_zero_then_ten_twenty_forty_up_to_five_minutes() {
        let mut b = Backoff::default();
        let t = Instant::now();
        assert_eq!(b.restart_at(t), None, "the first restart is immediate");
        b.restarted(t);
        let mut waits = Vec::new();
        let mut exit = t;
        for _ in 0..8 {
            exit += Duration::from_secs(1);
            let at = b.restart_at(exit).unwrap_or(exit);
            waits.push((at - exit).as_secs());
            b.restarted(exit);
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn ten_quiet_minutes_start_the_back_off_over() {
        let mut b = Backoff::default();
        let t = Instant::now();
        b.restarted(t);
        b.restarted(t + Duration::from_secs(1));
        let late = t + Duration::from_secs(1) + Duration::from_secs(601);
        assert_eq!(b.restart_at(late), None);
        b.restarted(late);
        assert_eq!(b.delay(), INITIAL);
    }
}
