//! `Recorder`: where every lane writes its operations and the nemesis its faults, against one
//! monotonic clock started with the run. `Lane` is one logical client: one operation at a time,
//! and after an indeterminate outcome it continues as a fresh process (Jepsen's rule), so the
//! open operation may take effect at any later time without breaking per-process order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::client::{CallError, Etcd};
use crate::history::{Call, Op, Outcome, WatchLog, NEMESIS};

/// The run's history being written.
pub struct Recorder {
    base: Instant,
    ops: Mutex<Vec<Op>>,
    next_process: AtomicU64,
    watches: Mutex<Vec<WatchLog>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            base: Instant::now(),
            ops: Mutex::new(Vec::new()),
            next_process: AtomicU64::new(0),
            watches: Mutex::new(Vec::new()),
        })
    }

    /// Nanoseconds since the run started.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn new_process(&self) -> u64 {
        self.next_process.fetch_add(1, Ordering::SeqCst)
    }

    /// Records an invocation; returns its index for `complete`. Until completed it counts as
    /// indeterminate.
    pub fn invoke(&self, process: u64, lane: &str, node: &str, call: Call) -> usize {
        let now = self.now_ns();
        let mut ops = lock(&self.ops);
        let index = ops.len();
        ops.push(Op {
            index,
            process,
            lane: lane.to_string(),
            node: node.to_string(),
            call,
            outcome: Outcome::Info,
            invoke_ns: now,
            complete_ns: u64::MAX,
            rev: 0,
            error: None,
        });
        index
    }

    /// Records the completion of operation `index`, with the call as answered.
    pub fn complete(
        &self,
        index: usize,
        outcome: Outcome,
        call: Call,
        rev: i64,
        error: Option<String>,
    ) {
        let now = self.now_ns();
        let mut ops = lock(&self.ops);
        if let Some(op) = ops.get_mut(index) {
            op.outcome = outcome;
            op.call = call;
            op.complete_ns = now;
            op.rev = rev;
            op.error = error;
        }
    }

    /// Records a fault's start or stop (an instant on the timeline).
    pub fn nemesis(&self, name: &str, phase: &str, detail: impl Into<String>) {
        let call = Call::Nemesis {
            name: name.to_string(),
            phase: phase.to_string(),
            detail: detail.into(),
        };
        let i = self.invoke(NEMESIS, "nemesis", "", call.clone());
        self.complete(i, Outcome::Ok, call, 0, None);
    }

    /// Records a step the harness took (compaction, member change).
    pub fn admin(&self, what: &str, detail: impl Into<String>, outcome: Outcome) {
        let call = Call::Admin {
            what: what.to_string(),
            detail: detail.into(),
        };
        let i = self.invoke(NEMESIS, "admin", "", call.clone());
        self.complete(i, outcome, call, 0, None);
    }

    /// The history so far; operations still open are indeterminate, completed "now".
    pub fn ops(&self) -> Vec<Op> {
        let now = self.now_ns();
        lock(&self.ops)
            .iter()
            .cloned()
            .map(|mut op| {
                if op.complete_ns == u64::MAX {
                    op.complete_ns = now;
                    op.error.get_or_insert_with(|| "never completed".into());
                }
                op
            })
            .collect()
    }

    /// Adds a finished watcher's log.
    pub fn add_watch(&self, log: WatchLog) {
        lock(&self.watches).push(log);
    }

    pub fn watches(&self) -> Vec<WatchLog> {
        let mut w = lock(&self.watches).clone();
        w.sort_by(|a, b| a.lane.cmp(&b.lane));
        w
    }
}

/// One logical client bound to one replica.
pub struct Lane {
    pub name: String,
    pub node: String,
    pub client: Etcd,
    pub rec: Arc<Recorder>,
    process: u64,
}

impl Lane {
    pub fn new(name: &str, node: &str, client: Etcd, rec: Arc<Recorder>) -> Lane {
        let process = rec.new_process();
        Lane {
            name: name.to_string(),
            node: node.to_string(),
            client,
            rec,
            process,
        }
    }

    /// Invokes `call`, runs `exec` and records its outcome. `exec` returns the call as
    /// answered and the revision, or a classified error. After `Info` the lane takes a new
    /// process id.
    pub async fn run<F, Fut>(&mut self, call: Call, exec: F) -> Result<(Call, i64), CallError>
    where
        F: FnOnce(Etcd, Call) -> Fut,
        Fut: std::future::Future<Output = Result<(Call, i64), CallError>>,
    {
        let index = self
            .rec
            .invoke(self.process, &self.name, &self.node, call.clone());
        let result = exec(self.client.clone(), call.clone()).await;
        match &result {
            Ok((answered, rev)) => {
                self.rec
                    .complete(index, Outcome::Ok, answered.clone(), *rev, None)
            }
            Err(e) => {
                self.rec
                    .complete(index, e.outcome, call, 0, Some(e.message.clone()));
                if e.outcome == Outcome::Info {
                    self.process = self.rec.new_process();
                }
            }
        }
        result
    }
}
