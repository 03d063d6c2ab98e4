//! The history of a run: every client operation (invoke and completion), every fault, and every
//! watch message, with times from one monotonic clock. Checkers read it; `history.jsonl` and
//! `watch-<lane>.jsonl` hold it on disk, one JSON object per line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How an operation ended. Exactly one of these, as Jepsen classifies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The server answered success (a Txn whose compares failed is `Ok` with `succeeded: false`).
    Ok,
    /// Definitely not applied (the server refused it before it could take effect).
    Fail,
    /// Unknown: a timeout, a lost connection, "no leader", any error after which it may or may
    /// not have taken effect. Its effect may appear at any time after its invocation.
    Info,
}

/// A key's value as one read saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub value: i64,
    pub mod_rev: i64,
}

/// One micro-operation of a list-append transaction (Elle's `[:append k v]` / `[:r k list]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum Mop {
    Append {
        key: String,
        value: i64,
    },
    /// `list` is `None` until the read completes; `Some(vec![])` for an absent key.
    Read {
        key: String,
        list: Option<Vec<i64>>,
    },
}

/// What an operation asked, and (once complete) what it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum Call {
    /// Linearizable get of a register key. `seen` is `None` for an absent key.
    Read { key: String, seen: Option<Seen> },
    /// Blind put of a unique value.
    Write { key: String, value: i64 },
    /// Put `value` if the key's mod revision is `expect_mod_rev` (0 = absent), as one Txn.
    /// `succeeded` is the Txn's answer once ok.
    Cas {
        key: String,
        expect_mod_rev: i64,
        value: i64,
        succeeded: Option<bool>,
    },
    /// A list-append transaction: read phase and guarded write phase (read-only txns have no
    /// appends). `Fail` means its guard failed, so nothing of it applied.
    Txn { mops: Vec<Mop> },
    /// Grant a lease and put `key` on it.
    LeasePut {
        key: String,
        lease: i64,
        ttl: i64,
        value: i64,
    },
    /// One keep-alive of `lease`; `ttl` is the remaining TTL the server answered (≤ 0: gone).
    KeepAlive {
        key: String,
        lease: i64,
        ttl: Option<i64>,
    },
    /// Revoke `lease` (its key goes with it).
    Revoke { key: String, lease: i64 },
    /// Delete `key` (a Kubernetes object by name in the REST workloads).
    Delete { key: String },
    /// A fault: `name` is the nemesis, `phase` "start" or "stop", `detail` what exactly.
    Nemesis {
        name: String,
        phase: String,
        detail: String,
    },
    /// An administrative step the harness took (compaction, member change…), for the timeline.
    Admin { what: String, detail: String },
}

impl Call {
    /// The key this call touches, if it touches exactly one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Call::Read { key, .. }
            | Call::Write { key, .. }
            | Call::Cas { key, .. }
            | Call::LeasePut { key, .. }
            | Call::KeepAlive { key, .. }
            | Call::Revoke { key, .. }
            | Call::Delete { key } => Some(key),
            _ => None,
        }
    }

    /// Short name of the function, as the history shows it.
    pub fn f(&self) -> &'static str {
        match self {
            Call::Read { .. } => "read",
            Call::Write { .. } => "write",
            Call::Cas { .. } => "cas",
            Call::Txn { .. } => "txn",
            Call::LeasePut { .. } => "lease-put",
            Call::KeepAlive { .. } => "keep-alive",
            Call::Revoke { .. } => "revoke",
            Call::Delete { .. } => "delete",
            Call::Nemesis { .. } => "nemesis",
            Call::Admin { .. } => "admin",
        }
    }

    /// Whether this call may change the keyspace.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Call::Read { .. } | Call::KeepAlive { .. } | Call::Nemesis { .. } | Call::Admin { .. }
        ) && !matches!(self, Call::Txn { mops } if mops.iter().all(|m| matches!(m, Mop::Read { .. })))
    }
}

/// A complete operation: invocation and completion paired. Operations of one `process` never
/// overlap; after an `Info` the lane continues under a fresh process id (Jepsen's rule), so an
/// indeterminate operation stays open to the end of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history (order of invocation).
    pub index: usize,
    /// The logical client; `u64::MAX` for the nemesis and admin steps.
    pub process: u64,
    /// The client lane ("register-0", "append-1", "nemesis"…).
    pub lane: String,
    /// The replica it was sent to ("n1"…), empty for the nemesis.
    pub node: String,
    pub call: Call,
    pub outcome: Outcome,
    /// Nanoseconds since the run's start, on a monotonic clock.
    pub invoke_ns: u64,
    /// When the answer came; for `Info` when the client gave up (the effect may come later).
    pub complete_ns: u64,
    /// The store revision in the answer's header (or of the write), 0 when unknown.
    pub rev: i64,
    /// The error text for `Fail` and `Info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The process id the nemesis and admin steps use.
pub const NEMESIS: u64 = u64::MAX;

impl Op {
    pub fn is_nemesis(&self) -> bool {
        self.process == NEMESIS
    }
}

/// One event a watch delivered (or the ground truth holds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEvent {
    /// "put" or "delete".
    pub kind: EventKind,
    pub key: String,
    /// The value's bytes as a string (registers and lists are decimal text).
    pub value: String,
    /// The key's mod revision: the revision of this event.
    pub mod_rev: i64,
    pub create_rev: i64,
    pub version: i64,
    pub lease: i64,
    /// The previous value, when the watch asked for prev_kv and the server had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<PrevKv>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Put,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrevKv {
    pub value: String,
    pub mod_rev: i64,
    pub create_rev: i64,
    pub version: i64,
}

/// One message a watcher received, or a step it took, in `watch-<lane>.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum WatchMsg {
    /// A watch was (re)opened on `node` asking for events from `start_rev` on (0 = from now).
    Open {
        time_ns: u64,
        node: String,
        start_rev: i64,
        prefix: String,
    },
    /// A response with events (all of one revision never split over two responses).
    Events {
        time_ns: u64,
        header_rev: i64,
        events: Vec<KvEvent>,
    },
    /// A progress notification: no events, the header revision is a bookmark.
    Progress { time_ns: u64, header_rev: i64 },
    /// The server cancelled the watch because `start_rev` is compacted.
    Compacted { time_ns: u64, compact_rev: i64 },
    /// The stream broke (error text); the watcher reopens from its last revision + 1.
    Broken { time_ns: u64, error: String },
}

impl WatchMsg {
    pub fn time_ns(&self) -> u64 {
        match self {
            WatchMsg::Open { time_ns, .. }
            | WatchMsg::Events { time_ns, .. }
            | WatchMsg::Progress { time_ns, .. }
            | WatchMsg::Compacted { time_ns, .. }
            | WatchMsg::Broken { time_ns, .. } => *time_ns,
        }
    }
}

/// Everything one watcher lane saw, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchLog {
    pub lane: String,
    /// The key prefix watched (every event must fall under it).
    pub prefix: String,
    pub msgs: Vec<WatchMsg>,
}

/// A key-value pair in a replica's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvState {
    pub value: String,
    pub mod_rev: i64,
    pub create_rev: i64,
    pub version: i64,
    pub lease: i64,
}

/// What one replica holds at the end of a run, read from its own store after healing (the
/// ground truth the checkers compare clients against). `events` are read back through the
/// store's history (a watch from `compact_rev + 1` served from disk, not the live path), and
/// `base` is the state at `compact_rev` (empty when nothing was compacted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaDump {
    pub node: String,
    /// The store's compacted revision (0 = none).
    pub compact_rev: i64,
    /// The keyspace at `compact_rev` under the run's prefix.
    pub base: BTreeMap<String, KvState>,
    /// Every change after `compact_rev`, in revision order.
    pub events: Vec<KvEvent>,
    /// Revisions after `compact_rev` whose changes are all outside the run's prefix: the
    /// server's own writes (the Kubernetes API's bootstrap objects), which take revisions too.
    #[serde(default)]
    pub foreign_revs: Vec<i64>,
    /// The replica's revision when dumped.
    pub revision: i64,
    /// The keyspace at `revision` (a range read), to compare with `base` + `events` replayed.
    pub state: BTreeMap<String, KvState>,
    /// etcd's HashKV at `revision`.
    pub hash: u32,
    pub raft_term: u64,
    pub raft_applied_index: u64,
}

/// A checker's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    Valid,
    Invalid,
    /// Could not decide (time budget spent, or not enough information), never a pass.
    Unknown,
}

/// One checker's verdict with the evidence a person needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub checker: String,
    pub valid: Validity,
    /// One paragraph: what was checked and, if not valid, what went wrong.
    pub explanation: String,
    /// The smallest failing excerpt (ops, events) as text lines; empty when valid.
    #[serde(default)]
    pub excerpt: Vec<String>,
    /// How many operations or events the checker looked at.
    pub checked: usize,
}

impl Verdict {
    pub fn valid(checker: &str, checked: usize, explanation: impl Into<String>) -> Verdict {
        Verdict {
            checker: checker.to_string(),
            valid: Validity::Valid,
            explanation: explanation.into(),
            excerpt: Vec::new(),
            checked,
        }
    }

    pub fn invalid(
        checker: &str,
        checked: usize,
        explanation: impl Into<String>,
        excerpt: Vec<String>,
    ) -> Verdict {
        Verdict {
            checker: checker.to_string(),
            valid: Validity::Invalid,
            explanation: explanation.into(),
            excerpt,
            checked,
        }
    }

    pub fn unknown(checker: &str, checked: usize, explanation: impl Into<String>) -> Verdict {
        Verdict {
            checker: checker.to_string(),
            valid: Validity::Unknown,
            explanation: explanation.into(),
            excerpt: Vec::new(),
            checked,
        }
    }
}

/// A short human-readable line for an operation, for excerpts.
pub fn describe(op: &Op) -> String {
    let outcome = match op.outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    };
    format!(
        "#{} p{} {} {:.3}s..{:.3}s {} {} rev={}{}",
        op.index,
        if op.is_nemesis() {
            -1
        } else {
            op.process as i64
        },
        op.node,
        op.invoke_ns as f64 / 1e9,
        op.complete_ns as f64 / 1e9,
        outcome,
        serde_json::to_string(&op.call).unwrap_or_default(),
        op.rev,
        op.error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default(),
    )
}

/// The one history all replicas agree on (built from their dumps by the agreement checker): the
/// state at `compact_rev` and every change after it. Checkers compare clients against it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    pub compact_rev: i64,
    pub base: BTreeMap<String, KvState>,
    /// In revision order; one revision may hold several events (a Txn touching several keys).
    pub events: Vec<KvEvent>,
    /// The newest revision every replica reached.
    pub revision: i64,
}

impl Truth {
    /// The keyspace at `rev`, or `None` if `rev` is below the compacted revision (unknowable).
    pub fn state_at(&self, rev: i64) -> Option<BTreeMap<String, KvState>> {
        if rev < self.compact_rev {
            return None;
        }
        let mut state = self.base.clone();
        for e in self.events.iter().take_while(|e| e.mod_rev <= rev) {
            apply_event(&mut state, e);
        }
        Some(state)
    }

    /// The events of revision `rev` (empty if none or compacted).
    pub fn events_at(&self, rev: i64) -> &[KvEvent] {
        let lo = self.events.partition_point(|e| e.mod_rev < rev);
        let hi = self.events.partition_point(|e| e.mod_rev <= rev);
        &self.events[lo..hi]
    }
}

/// Applies one event to a keyspace.
pub fn apply_event(state: &mut BTreeMap<String, KvState>, e: &KvEvent) {
    match e.kind {
        EventKind::Put => {
            state.insert(
                e.key.clone(),
                KvState {
                    value: e.value.clone(),
                    mod_rev: e.mod_rev,
                    create_rev: e.create_rev,
                    version: e.version,
                    lease: e.lease,
                },
            );
        }
        EventKind::Delete => {
            state.remove(&e.key);
        }
    }
}
