//! Leader-only work scoped by raft term. When this replica becomes leader of term T, and a
//! quorum has acknowledged it, each piece of leader-only work starts with a cancellation token
//! for T; when T ends (leadership lost, a newer term, shutdown) the token is cancelled and every
//! piece is awaited before anything else happens (the next term's work, or the leadership
//! handover of a shutdown). A term starts its work at most once, and `is_leader` flickering
//! within the term (a lease refreshed late, a quorum out of reach for a while) neither stops it
//! nor starts a second copy. Writes of the work go through the store fenced at T, so even
//! a deposed leader's work that has not noticed yet changes nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use capstan_raft::{Leadership, RaftNode};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One term this replica leads, as leader-only work sees it.
#[derive(Clone, Debug)]
pub struct LeaderTerm {
    /// The raft term: the fence every write of the work carries.
    pub term: u64,
    /// Cancelled when the term ends for this replica.
    pub ended: CancellationToken,
}

/// A piece of leader-only work: started once per led term, it must return soon after
/// `ended` is cancelled.
pub type TermWork =
    Arc<dyn Fn(LeaderTerm) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How a term is confirmed before its work starts: true once a quorum has acknowledged this
/// replica as leader of it (a read index round), false if it could not be.
pub type ConfirmTerm = Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// How long a new term's read-index round may take before it is asked again.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// The confirmation the server uses: a read-index round of `node`'s raft (a quorum still
/// follows this leader), and the term unchanged after it.
pub fn confirm_by_read_index(node: Arc<RaftNode>) -> ConfirmTerm {
    Arc::new(move |term| {
        let node = node.clone();
        Box::pin(async move {
            let round = node.kv().raft().ensure_linearizable();
            matches!(
                tokio::time::timeout(CONFIRM_TIMEOUT, round).await,
                Ok(Ok(_))
            ) && node.kv().leadership().borrow().term == term
        })
    })
}

/// What happened to terms, for metrics and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TermCounts {
    /// Terms whose work was started here.
    pub gained: u64,
    /// Terms whose work was stopped here (leadership lost, a newer term, or shutdown).
    pub lost: u64,
}

/// How long a term's work may take to stop once the term has ended.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// How long to wait before asking a quorum again when a confirmation failed while this
/// replica still believes it leads the term.
const CONFIRM_RETRY: Duration = Duration::from_millis(100);

/// Runs `works` once per term this replica leads until `stop` is cancelled; returns after the
/// last term's work has stopped. `counts` is updated as terms are gained and lost.
pub async fn run(
    mut leadership: watch::Receiver<Leadership>,
    confirm: ConfirmTerm,
    works: Vec<TermWork>,
    stop: CancellationToken,
    counts: watch::Sender<TermCounts>,
) {
    let mut last_started = 0u64;
    loop {
        let leads_new_term = |l: &Leadership| l.is_leader && l.term > last_started;
        let term = tokio::select! {
            _ = stop.cancelled() => return,
            l = leadership.wait_for(leads_new_term) => match l {
                Ok(l) => l.term,
                // The raft node is gone: nothing will lead here again.
                Err(_) => return,
            },
        };
        let confirmed = tokio::select! {
            _ = stop.cancelled() => return,
            ok = confirm(term) => ok,
        };
        let still = {
            let l = *leadership.borrow();
            l.is_leader && l.term == term
        };
        if !confirmed || !still {
            tracing::info!(
                term,
                confirmed,
                still,
                "leading a new term not confirmed by a quorum yet; asking again"
            );
            if still {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(CONFIRM_RETRY) => {}
                }
            }
            continue;
        }
        last_started = term;
        let ended = stop.child_token();
        let mut running = JoinSet::new();
        for work in &works {
            running.spawn(work(LeaderTerm {
                term,
                ended: ended.clone(),
            }));
        }
        counts.send_modify(|c| c.gained += 1);
        tracing::info!(term, "leading: leader-only work started");
        // The term ends for this replica when a newer term begins or another replica is known
        // to lead it. Not hearing from a quorum for a while (`is_leader` false, no leader
        // known: a partition that may heal before anyone else is elected) neither stops the
        // work nor starts a second copy: its writes are fenced by the term, and stopping it
        // would leave the term, which can start its work only once, without controllers.
        let me = leadership.borrow().leader;
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = leadership.wait_for(|l| l.term != term || (l.leader.is_some() && l.leader != me)) => {}
        }
        ended.cancel();
        // Work that has not stopped by the deadline (a bug) is aborted rather than keeping
        // this replica from ever leading again; what it might still write is fenced by `term`.
        let stopping = async {
            while let Some(done) = running.join_next().await {
                if let Err(e) = done {
                    tracing::error!(term, error = %e, "leader-only work failed");
                }
            }
        };
        if tokio::time::timeout(STOP_DEADLINE, stopping).await.is_err() {
            tracing::error!(term, "leader-only work did not stop with its term; aborted");
            running.shutdown().await;
        }
        counts.send_modify(|c| c.lost += 1);
        tracing::info!(term, "leader-only work of the term stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::sync::Mutex;

    /// A leadership channel the test drives, and a log of what the work did.
    struct Harness {
        lead: watch::Sender<Leadership>,
        log: Arc<Mutex<Vec<String>>>,
        counts: watch::Receiver<TermCounts>,
        stop: CancellationToken,
        task: Option<tokio::task::JoinHandle<()>>,
        /// How many times a term's confirmation was asked for.
        confirms: watch::Receiver<u64>,
    }

    fn leader(term: u64) -> Leadership {
        Leadership {
            term,
            is_leader: true,
            leader: Some(1),
        }
    }

    /// This replica, still the known leader, whose lease is not fresh (`is_leader` false).
    fn stale_leader(term: u64) -> Leadership {
        Leadership {
            term,
            is_leader: false,
            leader: Some(1),
        }
    }

    /// This replica, leader of `term` in raft, cut off from its quorum: no leader is known.
    fn cut_off(term: u64) -> Leadership {
        Leadership {
            term,
            is_leader: false,
            leader: None,
        }
    }

    fn follower(term: u64) -> Leadership {
        Leadership {
            term,
            is_leader: false,
            leader: Some(2),
        }
    }

    fn start() -> Harness {
        start_with(true)
    }

    /// A harness whose quorum answers every confirmation with `confirmed`.
    fn start_with(confirmed: bool) -> Harness {
        let (lead, rx) = watch::channel(Leadership::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (asked, confirms) = watch::channel(0u64);
        let confirm: ConfirmTerm = Arc::new(move |_| {
            asked.send_modify(|n| *n += 1);
            Box::pin(async move { confirmed })
        });
        let work_log = log.clone();
        // The work records its start, and its stop only after a pause, so a next term that
        // started before the previous one stopped would show in the log's order.
        let work: TermWork = Arc::new(move |t: LeaderTerm| {
            let log = work_log.clone();
            Box::pin(async move {
                log.lock().await.push(format!("start {}", t.term));
                t.ended.cancelled().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                log.lock().await.push(format!("stop {}", t.term));
            })
        });
        let (counts_tx, counts) = watch::channel(TermCounts::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(rx, confirm, vec![work], stop.clone(), counts_tx));
        Harness {
            lead,
            log,
            counts,
            stop,
            task: Some(task),
            confirms,
        }
    }

    impl Harness {
        async fn counts_reach(&mut self, gained: u64, lost: u64) {
            self.counts
                .wait_for(|c| c.gained >= gained && c.lost >= lost)
                .await
                .unwrap();
        }

        /// Shuts down and waits for `run` to return.
        async fn stop(&mut self) {
            self.stop.cancel();
            if let Some(t) = self.task.take() {
                t.await.unwrap();
            }
        }

        async fn log(&self) -> Vec<String> {
            self.log.lock().await.clone()
        }
    }

    #[tokio::test]
    async fn work_starts_once_per_led_term_and_stops_before_the_next_starts() {
        let mut h = start();
        h.lead.send_replace(leader(3));
        h.counts_reach(1, 0).await;
        // `is_leader` flickering within term 3 while still the known leader: nothing stops or
        // starts.
        h.lead.send_replace(stale_leader(3));
        h.lead.send_replace(leader(3));
        h.lead.send_replace(stale_leader(3));
        h.lead.send_replace(leader(3));
        // Another replica is known to lead term 3: the work stops, and never starts again
        // for term 3 even if this replica looks like its leader once more.
        h.lead.send_replace(follower(3));
        h.counts_reach(1, 1).await;
        h.lead.send_replace(leader(3));
        h.lead.send_replace(follower(3));
        h.lead.send_replace(leader(3));
        // A newer term led here: its work starts only after term 3's has stopped.
        h.lead.send_replace(leader(5));
        h.counts_reach(2, 1).await;
        h.lead.send_replace(leader(6));
        h.counts_reach(3, 2).await;
        h.stop().await;
        assert_eq!(
            h.log().await,
            ["start 3", "stop 3", "start 5", "stop 5", "start 6", "stop 6"]
        );
        assert_eq!(*h.counts.borrow(), TermCounts { gained: 3, lost: 3 });
    }

    #[tokio::test]
    async fn a_leader_cut_off_for_a_while_keeps_its_work_running() {
        let mut h = start();
        h.lead.send_replace(leader(4));
        h.counts_reach(1, 0).await;
        // A partition the leader outlives (healed before an election): the work runs on.
        h.lead.send_replace(cut_off(4));
        tokio::time::sleep(Duration::from_millis(50)).await;
        h.lead.send_replace(leader(4));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*h.counts.borrow(), TermCounts { gained: 1, lost: 0 });
        // Deposed for real: a newer term.
        h.lead.send_replace(follower(5));
        h.counts_reach(1, 1).await;
        h.stop().await;
        assert_eq!(h.log().await, ["start 4", "stop 4"]);
    }

    #[tokio::test]
    async fn shutdown_waits_for_the_work_to_stop() {
        let mut h = start();
        h.lead.send_replace(leader(1));
        h.counts_reach(1, 0).await;
        h.stop().await;
        // `run` returned only after the work recorded its stop.
        assert_eq!(h.log().await, ["start 1", "stop 1"]);
    }

    #[tokio::test]
    async fn a_term_a_quorum_does_not_confirm_starts_nothing() {
        let mut h = start_with(false);
        h.lead.send_replace(leader(2));
        // It keeps asking while it believes it leads, and starts nothing.
        h.confirms.wait_for(|n| *n >= 3).await.unwrap();
        h.lead.send_replace(follower(4));
        h.stop().await;
        assert!(h.log().await.is_empty());
        assert_eq!(*h.counts.borrow(), TermCounts::default());
    }

    #[tokio::test]
    async fn the_confirmation_is_asked_for_each_new_term() {
        let mut h = start();
        h.lead.send_replace(leader(7));
        h.counts_reach(1, 0).await;
        h.lead.send_replace(leader(8));
        h.counts_reach(2, 1).await;
        h.stop().await;
        assert_eq!(*h.confirms.borrow(), 2);
    }

    #[tokio::test]
    async fn work_that_never_stops_is_aborted_and_the_next_term_still_starts() {
        let (lead, rx) = watch::channel(Leadership::default());
        let confirm: ConfirmTerm = Arc::new(|_| Box::pin(async { true }));
        let (started_tx, mut started) = watch::channel(Vec::<u64>::new());
        // Work that ignores its term's end (a bug in a controller, a request that hangs).
        let work: TermWork = Arc::new(move |t: LeaderTerm| {
            started_tx.send_modify(|s| s.push(t.term));
            Box::pin(std::future::pending())
        });
        let (counts_tx, mut counts) = watch::channel(TermCounts::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(rx, confirm, vec![work], stop.clone(), counts_tx));
        lead.send_replace(leader(1));
        started.wait_for(|s| s == &[1]).await.unwrap();
        lead.send_replace(leader(2));
        // Term 1's work is given up on after the deadline (10 s); term 2's starts.
        started.wait_for(|s| s == &[1, 2]).await.unwrap();
        counts.wait_for(|c| c.lost == 1).await.unwrap();
        stop.cancel();
        task.await.unwrap();
        assert_eq!(*counts.borrow(), TermCounts { gained: 2, lost: 2 });
    }
}
