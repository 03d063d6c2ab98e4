//! A replica's metrics and health, as the API serves them on `/metrics`, `/healthz`, `/livez` and
//! `/readyz`: etcd's names for what etcd operators already chart (leader, leader changes, WAL
//! fsync latency, database size, revisions, watchers), raft's term and indexes, lease counts; and
//! readiness that holds only while the replica knows a leader and has applied what was committed
//! when it started.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capstan_apiserver::k8s::{Check, Health, Telemetry};
use capstan_raft::RaftNode;
use capstan_store::Backend;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::leader_terms::TermCounts;

/// The gauges refreshed before each scrape.
#[derive(Default)]
struct Gauges {
    has_leader: Gauge,
    is_leader: Gauge,
    term: Gauge,
    committed: Gauge,
    applied: Gauge,
    last_log_index: Gauge,
    db_size: Gauge,
    revision: Gauge,
    compact_revision: Gauge,
    watchers: Gauge,
    slow_watchers: Gauge,
    leases: Gauge,
}

impl Gauges {
    fn register(&self, r: &mut Registry) {
        let g = |r: &mut Registry, name: &str, help: &str, m: &Gauge| {
            r.register(name, help, m.clone());
        };
        g(
            r,
            "etcd_server_has_leader",
            "Whether or not a leader exists. 1 is existence, 0 is not.",
            &self.has_leader,
        );
        g(
            r,
            "etcd_server_is_leader",
            "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            &self.is_leader,
        );
        g(
            r,
            "capstan_raft_term",
            "The raft term this replica is in.",
            &self.term,
        );
        g(
            r,
            "capstan_raft_committed_index",
            "The highest raft log index this replica knows to be committed.",
            &self.committed,
        );
        g(
            r,
            "capstan_raft_applied_index",
            "The raft log index this replica has applied to its store.",
            &self.applied,
        );
        g(
            r,
            "capstan_raft_last_log_index",
            "The last raft log index this replica holds.",
            &self.last_log_index,
        );
        g(
            r,
            "etcd_server_proposals_committed_total",
            "The total number of consensus proposals committed.",
            &self.committed,
        );
        g(
            r,
            "etcd_server_proposals_applied_total",
            "The total number of consensus proposals applied.",
            &self.applied,
        );
        g(
            r,
            "etcd_mvcc_db_total_size_in_bytes",
            "Total size of the underlying database physically allocated in bytes.",
            &self.db_size,
        );
        g(
            r,
            "etcd_debugging_mvcc_current_revision",
            "The current revision of store.",
            &self.revision,
        );
        g(
            r,
            "etcd_debugging_mvcc_compact_revision",
            "The revision of the last compaction in store.",
            &self.compact_revision,
        );
        g(
            r,
            "etcd_debugging_mvcc_watcher_total",
            "Total number of watchers.",
            &self.watchers,
        );
        g(
            r,
            "etcd_debugging_mvcc_slow_watcher_total",
            "Total number of unsynced slow watchers.",
            &self.slow_watchers,
        );
        g(
            r,
            "capstan_store_leases",
            "Leases held in the store.",
            &self.leases,
        );
    }

    fn refresh(&self, node: &RaftNode) {
        let m = node.raft().metrics().borrow().clone();
        let leadership = *node.kv().leadership().borrow();
        self.has_leader.set(i64::from(leadership.leader.is_some()));
        self.is_leader.set(i64::from(leadership.is_leader));
        self.term.set(m.current_term as i64);
        self.committed.set(node.committed_index() as i64);
        self.applied
            .set(m.last_applied.map_or(0, |l| l.index) as i64);
        self.last_log_index
            .set(m.last_log_index.unwrap_or(0) as i64);
        let store = node.kv().local();
        let backend = store.backend();
        self.db_size.set(backend.db_size());
        let revs = backend.revisions();
        self.revision.set(revs.current);
        self.compact_revision.set(revs.compact);
        let (synced, unsynced) = store.hub().counts();
        self.watchers.set((synced + unsynced) as i64);
        self.slow_watchers.set(unsynced as i64);
        if let Ok(leases) = backend.leases() {
            self.leases.set(leases.len() as i64);
        }
    }
}

/// The replica's metrics registry, with the API's request metrics and the gauges above; `terms`
/// counts the terms whose leader-only work started and stopped here.
pub fn telemetry(
    node: Arc<RaftNode>,
    terms: watch::Receiver<TermCounts>,
    refused: crate::fenced_kv::RefusedWrites,
) -> Telemetry {
    let mut registry = Registry::default();
    let gauges = Arc::new(Gauges::default());
    gauges.register(&mut registry);
    registry.register(
        "etcd_disk_wal_fsync_duration_seconds",
        "The latency distributions of fsync called by WAL.",
        node.wal_fsync_seconds().clone(),
    );
    let leader_changes = Counter::<u64, AtomicU64>::default();
    registry.register(
        "etcd_server_leader_changes_seen",
        "The number of leader changes seen.",
        leader_changes.clone(),
    );
    tokio::spawn(count_leader_changes(node.clone(), leader_changes));
    let gained = Counter::<u64, AtomicU64>::default();
    let lost = Counter::<u64, AtomicU64>::default();
    registry.register(
        "capstan_leader_terms_gained",
        "Raft terms whose leader-only work (controllers, scheduled backups) started on this replica.",
        gained.clone(),
    );
    registry.register(
        "capstan_leader_terms_lost",
        "Raft terms whose leader-only work stopped on this replica (leadership lost, a newer term, shutdown).",
        lost.clone(),
    );
    tokio::spawn(count_terms(terms, gained, lost));
    registry.register(
        "capstan_fenced_writes_refused",
        "Writes of leader-only work (controllers, the kubernetes endpoints) refused because their raft term had ended.",
        refused,
    );
    capstan_controllers::workqueue_metrics::WorkqueueMetrics::global().register(&mut registry);
    capstan_scheduler::metrics::SchedulerMetrics::global().register(&mut registry);
    Telemetry::new(
        registry,
        Some(Box::new(move || {
            let (gauges, node) = (gauges.clone(), node.clone());
            Box::pin(async move { gauges.refresh(&node) })
        })),
    )
}

async fn count_terms(
    mut terms: watch::Receiver<TermCounts>,
    gained: Counter<u64, AtomicU64>,
    lost: Counter<u64, AtomicU64>,
) {
    let mut seen = TermCounts::default();
    loop {
        let now = terms.borrow_and_update().clone();
        gained.inc_by(now.gained.saturating_sub(seen.gained));
        lost.inc_by(now.lost.saturating_sub(seen.lost));
        seen = now;
        if terms.changed().await.is_err() {
            return;
        }
    }
}

async fn count_leader_changes(node: Arc<RaftNode>, changes: Counter<u64, AtomicU64>) {
    let mut rx = node.kv().leadership();
    let mut last = None;
    loop {
        let leader = rx.borrow_and_update().leader;
        if leader.is_some() && leader != last {
            changes.inc();
            last = leader;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Readiness and liveness from the raft replica.
pub struct ReplicaHealth {
    node: Arc<RaftNode>,
    caught_up: Arc<AtomicBool>,
    /// Since when this replica has known no leader, as its readiness checks saw it.
    leaderless_since: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How long a replica may know no leader and still be ready: a leadership handover or an
/// election takes a few hundred milliseconds at most (400 ms election timeout by default), and a
/// load balancer must not drop every replica during one.
const LEADERLESS_GRACE: Duration = Duration::from_secs(1);

impl ReplicaHealth {
    /// Starts watching for the replica to catch up: it is ready once it has applied everything
    /// committed when it started (a read barrier: the leader's commit index, applied locally).
    pub fn start(node: Arc<RaftNode>) -> ReplicaHealth {
        let caught_up = Arc::new(AtomicBool::new(false));
        let (flag, n) = (caught_up.clone(), node.clone());
        tokio::spawn(async move {
            loop {
                if n.kv().read_barrier().await.is_ok() {
                    flag.store(true, Ordering::SeqCst);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        ReplicaHealth {
            node,
            caught_up,
            leaderless_since: std::sync::Mutex::new(None),
        }
    }
}

impl Health for ReplicaHealth {
    fn live(&self) -> Vec<Check> {
        let running = match &self.node.raft().metrics().borrow().running_state {
            Ok(()) => Ok(()),
            Err(e) => Err(format!("raft stopped: {e}")),
        };
        vec![Check::new("raft", running)]
    }

    fn ready(&self) -> Vec<Check> {
        let leadership = *self.node.kv().leadership().borrow();
        let leaderless_for = match self.leaderless_since.lock() {
            Ok(mut since) => match leadership.leader {
                Some(_) => {
                    *since = None;
                    Duration::ZERO
                }
                None => since.get_or_insert_with(std::time::Instant::now).elapsed(),
            },
            Err(_) => Duration::MAX,
        };
        let leader = if leadership.leader.is_some() || leaderless_for < LEADERLESS_GRACE {
            Ok(())
        } else {
            Err("no leader known (this replica cannot reach a quorum)".to_string())
        };
        let caught_up = if self.caught_up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err("still applying the log committed when this replica started".to_string())
        };
        vec![
            Check::new("leader", leader),
            Check::new("log-applied", caught_up),
        ]
    }
}
