//! Linearizability of the register keys ("linearizable-registers"). Every read, write and
//! compare-and-set of one key is checked on its own (linearizability is compositional) with a
//! Wing–Gong–Lowe search in the style of Porcupine: the operations' invocations and returns form
//! one time-ordered doubly linked list; the search walks it, linearizing (lifting out) any
//! invoked operation the register model accepts, and backtracks when it meets the return of an
//! operation it has not linearized yet. A cache of (linearized operations, model state) prunes
//! states already explored. The model is the key's value and, when known, its mod revision:
//! acknowledged puts carry their revision, reads teach or confirm it, and revisions only grow.
//! Failed operations never happened and are dropped; indeterminate (`Info`) writes and
//! compare-and-sets may take effect at any moment after their invocation or never, so they have
//! no return entry and the search succeeds once every acknowledged operation is linearized. To
//! keep those from multiplying the search, acknowledged operations are tried first, a state that
//! differs from an explored one only by more consumed indeterminate operations is pruned, and
//! indeterminate writes of values no read saw count as interchangeable.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::history::{describe, Call, Op, Outcome, Seen, Verdict};

const CHECKER: &str = "linearizable-registers";
/// How many search steps run between two looks at the clock.
const CLOCK_EVERY: u64 = 1024;
/// How many ops of the linearized prefix an excerpt shows.
const EXCERPT_PREFIX: usize = 6;
/// How many not-linearizable candidates an excerpt shows.
const EXCERPT_STUCK: usize = 10;
/// How many ops an excerpt shows at least among those that could not go next (the
/// acknowledged ones come first; indeterminate ones fill up to this).
const EXCERPT_STUCK_INFO: usize = 4;
/// How many explored states the search keeps before it gives up (bounds its memory).
const MAX_STATES: usize = 2_000_000;
/// Marks the end of the entry list.
const NIL: usize = usize::MAX;
/// The list's sentinel head node.
const HEAD: usize = 0;

/// Checks that every register key's reads, writes and compare-and-sets are linearizable.
pub fn check_registers(ops: &[Op], budget: Duration) -> Verdict {
    let deadline = Instant::now() + budget;
    let mut by_key: BTreeMap<&str, Vec<RegOp>> = BTreeMap::new();
    for op in ops {
        if let Some((key, reg)) = RegOp::from_op(op) {
            by_key.entry(key).or_default().push(reg);
        }
    }
    let checked: usize = by_key.values().map(Vec::len).sum();
    let mut invalid: Vec<(&str, Failure)> = Vec::new();
    let mut gave_up: Option<(&str, &str)> = None;
    for (key, key_ops) in &mut by_key {
        let facts = KeyFacts::learn(key_ops);
        match search(key_ops, &facts, deadline) {
            SearchResult::Linearizable => {}
            SearchResult::NotLinearizable(failure) => invalid.push((key, failure)),
            SearchResult::GaveUp(reason) => {
                gave_up = Some((key, reason));
                break;
            }
        }
    }
    if let Some((key, failure)) = invalid.first() {
        let others: Vec<String> = invalid
            .iter()
            .skip(1)
            .map(|(k, _)| format!("{k:?}"))
            .collect();
        let mut explanation = format!(
            "key {key:?}: its {} register operations have no linearization; the longest \
             linearizable prefix has {} operations, after which the register holds {}, and none \
             of the operations that could come next is possible from there",
            by_key.get(key).map_or(0, Vec::len),
            failure.prefix_len,
            failure.holds,
        );
        if !others.is_empty() {
            explanation.push_str(&format!("; also not linearizable: {}", others.join(", ")));
        }
        if let Some((stopped, reason)) = gave_up {
            explanation.push_str(&format!("; gave up at key {stopped:?}: {reason}"));
        }
        return Verdict::invalid(CHECKER, checked, explanation, failure.excerpt.clone());
    }
    if let Some((key, reason)) = gave_up {
        return Verdict::unknown(
            CHECKER,
            checked,
            format!(
                "gave up searching key {key:?} for a linearization: {reason} (budget \
                 {budget:?}); keys checked before it were linearizable"
            ),
        );
    }
    Verdict::valid(
        CHECKER,
        checked,
        format!(
            "{checked} read/write/cas operations over {} keys are linearizable (failed ops \
             dropped, indeterminate writes allowed to take effect any time after invocation or \
             never)",
            by_key.len()
        ),
    )
}

/// What a compare-and-set answered.
#[derive(Clone, Copy, Debug)]
enum CasResult {
    /// Applied; the write's revision when known.
    Succeeded(Option<i64>),
    Failed,
    /// Indeterminate: it may have applied (or not, which is the same as skipping it); the
    /// revision it would have, when a read revealed it.
    Unknown(Option<i64>),
}

/// A put's value as the model keeps it: `None` for a value no read saw, since to every later
/// operation all such values look alike.
type Value = Option<i64>;

#[derive(Clone, Debug)]
enum Action {
    Read(Option<Seen>),
    /// A put; the write's revision when known.
    Write {
        value: Value,
        rev: Option<i64>,
    },
    Cas {
        expect_mod_rev: i64,
        value: Value,
        result: CasResult,
    },
}

/// One register operation as the search sees it.
#[derive(Clone, Debug)]
struct RegOp<'a> {
    op: &'a Op,
    action: Action,
    /// Must be linearized (acknowledged); otherwise it may be skipped and has no return.
    required: bool,
    /// An indeterminate write of a value no read saw, at an unknown revision: once invoked,
    /// every such op is as good as any other, so the search tries only one of them per state.
    interchangeable: bool,
}

impl<'a> RegOp<'a> {
    /// The key and the search's view of `op`, or `None` if the search ignores it.
    fn from_op(op: &'a Op) -> Option<(&'a str, RegOp<'a>)> {
        if op.outcome == Outcome::Fail || op.is_nemesis() {
            return None;
        }
        let known_rev = (op.rev > 0).then_some(op.rev);
        let info = op.outcome == Outcome::Info;
        let (key, action, required) = match &op.call {
            Call::Read { key, seen } => {
                if info {
                    return None;
                }
                (key, Action::Read(seen.clone()), true)
            }
            Call::Write { key, value } => {
                let rev = if info { None } else { known_rev };
                (
                    key,
                    Action::Write {
                        value: Some(*value),
                        rev,
                    },
                    !info,
                )
            }
            Call::Cas {
                key,
                expect_mod_rev,
                value,
                succeeded,
            } => {
                let result = match (info, succeeded) {
                    (false, Some(true)) => CasResult::Succeeded(known_rev),
                    (false, Some(false)) => CasResult::Failed,
                    // No answer, or an ok without one: it may or may not have applied.
                    _ => CasResult::Unknown(None),
                };
                let required = !matches!(result, CasResult::Unknown(_));
                let action = Action::Cas {
                    expect_mod_rev: *expect_mod_rev,
                    value: Some(*value),
                    result,
                };
                (key, action, required)
            }
            _ => return None,
        };
        Some((
            key.as_str(),
            RegOp {
                op,
                action,
                required,
                interchangeable: false,
            },
        ))
    }
}

/// What the whole history of one key tells about revisions. Every put has its own revision,
/// so a put whose value no read saw has none of the revisions other puts reported or reads saw;
/// and where exactly one put wrote a value, a read of that value reveals the put's revision.
struct KeyFacts {
    /// Revisions known to belong to some put: acknowledged puts' and those reads saw.
    known_revs: HashSet<i64>,
}

impl KeyFacts {
    /// Learns the facts of one key's ops and rewrites the ops with them: revisions reads
    /// reveal are filled in, and values no read saw become `None`.
    fn learn(ops: &mut [RegOp]) -> KeyFacts {
        let mut writers: HashMap<i64, usize> = HashMap::new();
        let mut read_rev: HashMap<i64, i64> = HashMap::new();
        let mut known_revs = HashSet::new();
        for reg in ops.iter() {
            match &reg.action {
                Action::Read(Some(seen)) => {
                    read_rev.entry(seen.value).or_insert(seen.mod_rev);
                    known_revs.insert(seen.mod_rev);
                }
                Action::Read(None) => {}
                Action::Write { value, rev }
                | Action::Cas {
                    value,
                    result: CasResult::Succeeded(rev),
                    ..
                } => {
                    *writers.entry(value.unwrap_or_default()).or_default() += 1;
                    known_revs.extend(*rev);
                }
                Action::Cas { value, .. } => {
                    *writers.entry(value.unwrap_or_default()).or_default() += 1;
                }
            }
        }
        for reg in ops.iter_mut() {
            let (value, rev) = match &mut reg.action {
                Action::Write { value, rev }
                | Action::Cas {
                    value,
                    result: CasResult::Succeeded(rev) | CasResult::Unknown(rev),
                    ..
                } => (value, rev),
                _ => continue,
            };
            let written = value.unwrap_or_default();
            match read_rev.get(&written) {
                Some(&seen) if rev.is_none() && writers.get(&written) == Some(&1) => {
                    *rev = Some(seen)
                }
                Some(_) => {}
                None => *value = None,
            }
            reg.interchangeable = !reg.required
                && value.is_none()
                && rev.is_none()
                && matches!(reg.action, Action::Write { .. });
        }
        KeyFacts { known_revs }
    }
}

/// The register as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RegState {
    /// `None`: the key is absent. Otherwise its value and, if known, its mod revision.
    current: Option<(Value, Option<i64>)>,
    /// The highest mod revision this key is known to have had; every later one is above it.
    floor: i64,
}

impl std::fmt::Display for RegState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some((value, rev)) = self.current else {
            return write!(f, "nothing (key absent)");
        };
        match value {
            Some(value) => write!(f, "value {value}")?,
            None => write!(f, "a value no read saw")?,
        }
        match rev {
            Some(rev) => write!(f, " at mod_rev {rev}"),
            None => write!(f, " at an unknown mod_rev above {}", self.floor),
        }
    }
}

impl RegState {
    const ABSENT: RegState = RegState {
        current: None,
        floor: 0,
    };

    /// Whether the key's mod revision equals `expect` (0 = absent); `None` if it cannot tell.
    fn rev_matches(&self, expect: i64, facts: &KeyFacts) -> Option<bool> {
        match self.current {
            None => Some(expect == 0),
            Some((_, Some(rev))) => Some(rev == expect),
            // The unknown revision is above the floor, and not one that belongs to another put.
            Some((_, None)) if expect <= self.floor => Some(false),
            Some((None, None)) if facts.known_revs.contains(&expect) => Some(false),
            Some((_, None)) => None,
        }
    }

    /// The state after a put of `value` at revision `rev` (if known), or `None` if `rev` does
    /// not come after the revisions this key already had (and `after`, the one a
    /// compare-and-set replaced).
    fn put(&self, value: Value, rev: Option<i64>, after: i64) -> Option<RegState> {
        match rev {
            Some(rev) if rev <= self.floor.max(after) => None,
            Some(rev) => Some(RegState {
                current: Some((value, Some(rev))),
                floor: rev,
            }),
            None => Some(RegState {
                current: Some((value, None)),
                floor: self.floor.max(after),
            }),
        }
    }

    /// The state after `action` takes effect, or `None` if it cannot take effect now.
    fn step(&self, action: &Action, facts: &KeyFacts) -> Option<RegState> {
        match action {
            Action::Read(None) => self.current.is_none().then(|| self.clone()),
            Action::Read(Some(seen)) => match self.current {
                Some((Some(value), Some(rev))) if value == seen.value && rev == seen.mod_rev => {
                    Some(self.clone())
                }
                Some((Some(value), None)) if value == seen.value && seen.mod_rev > self.floor => {
                    let current = Some((Some(value), Some(seen.mod_rev)));
                    Some(RegState {
                        current,
                        floor: seen.mod_rev,
                    })
                }
                _ => None,
            },
            Action::Write { value, rev } => self.put(*value, *rev, 0),
            Action::Cas {
                expect_mod_rev,
                value,
                result,
            } => {
                let matches = self.rev_matches(*expect_mod_rev, facts);
                match result {
                    CasResult::Succeeded(rev) | CasResult::Unknown(rev)
                        if matches != Some(false) =>
                    {
                        self.put(*value, *rev, *expect_mod_rev)
                    }
                    CasResult::Failed if matches != Some(true) => Some(self.clone()),
                    _ => None,
                }
            }
        }
    }
}

/// Why one key has no linearization.
struct Failure {
    prefix_len: usize,
    /// What the register holds after the longest linearizable prefix, in words.
    holds: String,
    excerpt: Vec<String>,
}

enum SearchResult {
    Linearizable,
    NotLinearizable(Failure),
    /// Stopped undecided, for this reason.
    GaveUp(&'static str),
}

/// A fixed-size set of operation indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(len: usize) -> BitSet {
        BitSet(vec![0; len.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        if let Some(word) = self.0.get_mut(i / 64) {
            *word |= 1 << (i % 64);
        }
    }
    fn clear(&mut self, i: usize) {
        if let Some(word) = self.0.get_mut(i / 64) {
            *word &= !(1 << (i % 64));
        }
    }
    fn is_subset(&self, other: &BitSet) -> bool {
        self.0
            .iter()
            .zip(&other.0)
            .all(|(mine, theirs)| mine & !theirs == 0)
    }
    fn contains(&self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }
}

/// The time-ordered list of call and return entries, as index-linked nodes: node 0 is the head,
/// the others are the entries in time order (only required ops have a return entry).
struct EntryList {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// For each node: the op it belongs to, and whether it is the call.
    node_op: Vec<(usize, bool)>,
    /// For each op: its call node and, if required, its return node.
    call_node: Vec<usize>,
    return_node: Vec<Option<usize>>,
}

impl EntryList {
    fn new(ops: &[RegOp]) -> EntryList {
        // (time, returns sort after calls at the same time, op, is_call): closed intervals.
        let mut events: Vec<(u64, u8, usize, bool)> = Vec::with_capacity(2 * ops.len());
        for (i, reg) in ops.iter().enumerate() {
            events.push((reg.op.invoke_ns, 0, i, true));
            if reg.required {
                events.push((reg.op.complete_ns.max(reg.op.invoke_ns), 1, i, false));
            }
        }
        events.sort_unstable();
        let nodes = events.len() + 1;
        let mut list = EntryList {
            next: vec![NIL; nodes],
            prev: vec![NIL; nodes],
            node_op: vec![(0, false); nodes],
            call_node: vec![0; ops.len()],
            return_node: vec![None; ops.len()],
        };
        for (pos, &(_, _, op, is_call)) in events.iter().enumerate() {
            let node = pos + 1;
            list.node_op[node] = (op, is_call);
            list.prev[node] = node - 1;
            list.next[node - 1] = node;
            if is_call {
                list.call_node[op] = node;
            } else {
                list.return_node[op] = Some(node);
            }
        }
        list
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != NIL {
            self.prev[n] = node;
        }
    }

    /// Takes op `i`'s call and return out of the list.
    fn lift(&mut self, i: usize) {
        self.unlink(self.call_node[i]);
        if let Some(ret) = self.return_node[i] {
            self.unlink(ret);
        }
    }

    /// Puts op `i` back, undoing the matching `lift` (lifts and unlifts nest).
    fn unlift(&mut self, i: usize) {
        if let Some(ret) = self.return_node[i] {
            self.relink(ret);
        }
        self.relink(self.call_node[i]);
    }
}

/// States already explored, as (required ops linearized, model state) → the sets of optional
/// ops linearized with it. A state whose optional set contains an explored one's is dominated:
/// an optional op still open never blocks, so having consumed more of them cannot help.
#[derive(Default)]
struct Cache {
    seen: HashMap<(BitSet, RegState), Vec<BitSet>>,
    entries: usize,
}

impl Cache {
    /// Records the state; false if it (or a state dominating it) was explored already.
    fn insert(&mut self, required: &BitSet, optional: &BitSet, state: &RegState) -> bool {
        let sets = self
            .seen
            .entry((required.clone(), state.clone()))
            .or_default();
        if sets.iter().any(|seen| seen.is_subset(optional)) {
            return false;
        }
        sets.push(optional.clone());
        self.entries += 1;
        true
    }
}

/// Which ops a walk over the open calls tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// The acknowledged ones (first, so the dominance pruning of [`Cache`] works).
    Required,
    /// Then the indeterminate ones, of the interchangeable ones only the first.
    Optional { tried_interchangeable: bool },
}

/// Searches one key's operations for a linearization. From each state it tries the open
/// acknowledged ops first and the open indeterminate ones after, so the dominance pruning of
/// [`Cache`] cuts the branches where an indeterminate op changed nothing that mattered.
fn search(ops: &[RegOp], facts: &KeyFacts, deadline: Instant) -> SearchResult {
    // Each op's bit in the set of its class (required or optional).
    let mut slot = Vec::with_capacity(ops.len());
    let (mut required_total, mut optional_total) = (0, 0);
    for reg in ops {
        let counter = if reg.required {
            &mut required_total
        } else {
            &mut optional_total
        };
        slot.push(*counter);
        *counter += 1;
    }
    let mut list = EntryList::new(ops);
    let mut required = BitSet::new(required_total);
    let mut optional = BitSet::new(optional_total);
    let mut cache = Cache::default();
    let mut state = RegState::ABSENT;
    // (op, state before it, the pass that tried it)
    let mut stack: Vec<(usize, RegState, Pass)> = Vec::new();
    // The linearization that got furthest through the acknowledged ops, and its end state.
    let mut longest: (Vec<usize>, RegState) = (Vec::new(), RegState::ABSENT);
    let mut longest_required = 0;
    let mut entry = list.next[HEAD];
    let mut pass = Pass::Required;
    let mut required_done = 0;
    let mut steps: u64 = 0;
    loop {
        if required_done == required_total {
            return SearchResult::Linearizable;
        }
        steps += 1;
        if steps.is_multiple_of(CLOCK_EVERY) {
            if Instant::now() >= deadline {
                return SearchResult::GaveUp("the time budget ran out");
            }
            if cache.entries > MAX_STATES {
                return SearchResult::GaveUp("the search space grew past its memory limit");
            }
        }
        if entry != NIL && list.node_op[entry].1 {
            let i = list.node_op[entry].0;
            let try_it = match pass {
                Pass::Required => ops[i].required,
                Pass::Optional {
                    tried_interchangeable,
                } => !(ops[i].required || ops[i].interchangeable && tried_interchangeable),
            };
            if try_it {
                if ops[i].interchangeable {
                    pass = Pass::Optional {
                        tried_interchangeable: true,
                    };
                }
                if let Some(next_state) = state.step(&ops[i].action, facts) {
                    let set = if ops[i].required {
                        &mut required
                    } else {
                        &mut optional
                    };
                    set.set(slot[i]);
                    if cache.insert(&required, &optional, &next_state) {
                        stack.push((i, std::mem::replace(&mut state, next_state), pass));
                        list.lift(i);
                        required_done += usize::from(ops[i].required);
                        if required_done > longest_required {
                            longest_required = required_done;
                            longest = (stack.iter().map(|(op, _, _)| *op).collect(), state.clone());
                        }
                        entry = list.next[HEAD];
                        pass = Pass::Required;
                        continue;
                    }
                    let set = if ops[i].required {
                        &mut required
                    } else {
                        &mut optional
                    };
                    set.clear(slot[i]);
                }
            }
            entry = list.next[entry];
        } else if pass == Pass::Required {
            // Every open acknowledged op was tried; now the open indeterminate ones.
            pass = Pass::Optional {
                tried_interchangeable: false,
            };
            entry = list.next[HEAD];
        } else {
            // A return (or the end) whose op is not linearized: undo the newest choice.
            let Some((i, previous, tried_in)) = stack.pop() else {
                return SearchResult::NotLinearizable(explain_failure(ops, &longest.0, longest.1));
            };
            let set = if ops[i].required {
                &mut required
            } else {
                &mut optional
            };
            set.clear(slot[i]);
            state = previous;
            list.unlift(i);
            required_done -= usize::from(ops[i].required);
            entry = list.next[list.call_node[i]];
            pass = tried_in;
        }
    }
}

/// The excerpt around where the longest partial linearization got stuck: its last few ops, the
/// model state after it, and the ops that were open then (none of which could go next).
fn explain_failure(ops: &[RegOp], prefix: &[usize], state: RegState) -> Failure {
    let mut done = BitSet::new(ops.len());
    for &i in prefix {
        done.set(i);
    }
    // The first acknowledged op still missing: something had to be linearized before it returned.
    let deadline_ns = (0..ops.len())
        .filter(|&i| ops[i].required && !done.contains(i))
        .map(|i| ops[i].op.complete_ns)
        .min()
        .unwrap_or(u64::MAX);
    let mut stuck: Vec<usize> = (0..ops.len())
        .filter(|&i| !done.contains(i) && ops[i].op.invoke_ns <= deadline_ns)
        .collect();
    stuck.sort_by_key(|&i| (!ops[i].required, ops[i].op.invoke_ns, ops[i].op.index));
    let shown = prefix.len().saturating_sub(EXCERPT_PREFIX);
    let mut excerpt = vec![format!(
        "linearized so far ({} ops, last {} shown):",
        prefix.len(),
        prefix.len() - shown
    )];
    excerpt.extend(
        prefix[shown..]
            .iter()
            .map(|&i| format!("  {}", describe(ops[i].op))),
    );
    let holds = describe_state(ops, prefix, &state);
    excerpt.push(format!(
        "register then holds {holds}; none of these can take effect next:"
    ));
    // The acknowledged ops first, then a few of the open indeterminate ones.
    let acknowledged = stuck.iter().filter(|&&i| ops[i].required).count();
    let shown_stuck = acknowledged.clamp(EXCERPT_STUCK_INFO, EXCERPT_STUCK);
    excerpt.extend(
        stuck
            .iter()
            .take(shown_stuck)
            .map(|&i| format!("  {}", describe(ops[i].op))),
    );
    if stuck.len() > shown_stuck {
        excerpt.push(format!("  … and {} more", stuck.len() - shown_stuck));
    }
    Failure {
        prefix_len: prefix.len(),
        holds,
        excerpt,
    }
}

/// The register's content after `prefix` in words, naming a value no read saw by its writer.
fn describe_state(ops: &[RegOp], prefix: &[usize], state: &RegState) -> String {
    let shown = state.to_string();
    if !matches!(state.current, Some((None, _))) {
        return shown;
    }
    let last_put = prefix
        .iter()
        .rev()
        .find_map(|&i| match (&ops[i].action, &ops[i].op.call) {
            (Action::Write { .. }, Call::Write { value, .. })
            | (
                Action::Cas {
                    result: CasResult::Succeeded(_) | CasResult::Unknown(_),
                    ..
                },
                Call::Cas { value, .. },
            ) => Some((ops[i].op.index, *value)),
            _ => None,
        });
    match last_put {
        Some((index, value)) => format!("{shown} ({value}, written by #{index})"),
        None => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Validity;

    /// The search budget of these tests' checks: they are about verdicts, so no machine is slow
    /// enough to run out of it (a verdict of unknown is for real runs' budgets).
    const PATIENT: Duration = Duration::from_secs(600);

    const MS: u64 = 1_000_000;

    struct H(Vec<Op>);

    impl H {
        fn op(
            &mut self,
            call: Call,
            outcome: Outcome,
            from_ms: u64,
            to_ms: u64,
            rev: i64,
        ) -> &mut H {
            let index = self.0.len();
            self.0.push(Op {
                index,
                process: index as u64,
                lane: "register-0".into(),
                node: "n1".into(),
                call,
                outcome,
                invoke_ns: from_ms * MS,
                complete_ns: to_ms * MS,
                rev,
                error: None,
            });
            self
        }
        fn write(&mut self, value: i64, outcome: Outcome, from: u64, to: u64, rev: i64) -> &mut H {
            self.op(
                Call::Write {
                    key: "a".into(),
                    value,
                },
                outcome,
                from,
                to,
                rev,
            )
        }
        fn read(&mut self, seen: Option<(i64, i64)>, from: u64, to: u64) -> &mut H {
            let seen = seen.map(|(value, mod_rev)| Seen { value, mod_rev });
            self.op(
                Call::Read {
                    key: "a".into(),
                    seen,
                },
                Outcome::Ok,
                from,
                to,
                0,
            )
        }
        fn cas(
            &mut self,
            expect: i64,
            value: i64,
            ok: Option<bool>,
            from: u64,
            to: u64,
            rev: i64,
        ) -> &mut H {
            let call = Call::Cas {
                key: "a".into(),
                expect_mod_rev: expect,
                value,
                succeeded: ok,
            };
            let outcome = if ok.is_some() {
                Outcome::Ok
            } else {
                Outcome::Info
            };
            self.op(call, outcome, from, to, rev)
        }
        fn check(&self) -> Verdict {
            check_registers(&self.0, PATIENT)
        }
    }

    fn assert_invalid_naming(v: &Verdict, needle: &str) {
        assert_eq!(v.valid, Validity::Invalid, "{v:#?}");
        assert!(v.explanation.contains("key \"a\""), "{v:#?}");
        assert!(v.excerpt.len() <= 20, "{v:#?}");
        assert!(
            v.excerpt.iter().any(|l| l.contains(needle)),
            "excerpt lacks {needle}: {v:#?}"
        );
    }

    #[test]
    fn concurrent_history_is_valid() {
        let mut h = H(Vec::new());
        h.read(None, 0, 1)
            .write(1, Outcome::Ok, 2, 10, 2)
            .write(2, Outcome::Ok, 5, 15, 3)
            .read(Some((1, 2)), 6, 12)
            .read(Some((2, 3)), 7, 14)
            .cas(3, 3, Some(true), 16, 18, 4)
            .cas(3, 4, Some(false), 17, 19, 4)
            .read(Some((3, 4)), 20, 21)
            .op(
                Call::Nemesis {
                    name: "kill".into(),
                    phase: "start".into(),
                    detail: "n1".into(),
                },
                Outcome::Ok,
                3,
                3,
                0,
            );
        let v = h.check();
        assert_eq!(v.valid, Validity::Valid, "{v:#?}");
        assert_eq!(v.checked, 8);
        assert!(v.excerpt.is_empty());
    }

    #[test]
    fn stale_read_is_invalid() {
        let mut h = H(Vec::new());
        h.write(1, Outcome::Ok, 0, 1, 2)
            .write(2, Outcome::Ok, 2, 3, 3)
            .read(Some((1, 2)), 4, 5);
        let v = h.check();
        assert_invalid_naming(&v, "#2 ");
        assert!(
            v.excerpt
                .iter()
                .any(|l| l.contains("holds a value no read saw at mod_rev 3 (2, written by #1)")),
            "{v:#?}"
        );
    }

    #[test]
    fn lost_write_seen_as_old_value_is_invalid() {
        // Write 2 was acknowledged at revision 3, yet later a read and a CAS see write 1.
        let mut h = H(Vec::new());
        h.write(1, Outcome::Ok, 0, 1, 2)
            .write(2, Outcome::Ok, 2, 3, 3)
            .read(Some((1, 2)), 10, 11)
            .cas(2, 5, Some(true), 12, 13, 4)
            .read(Some((5, 4)), 14, 15);
        let v = h.check();
        assert_invalid_naming(&v, "\"seen\":{\"value\":1");
    }

    #[test]
    fn info_write_that_shows_up_later_is_valid() {
        let mut h = H(Vec::new());
        h.write(1, Outcome::Ok, 0, 1, 2)
            .write(2, Outcome::Info, 3, 4, 0)
            .read(Some((1, 2)), 5, 6)
            .read(Some((2, 3)), 10, 11)
            .cas(3, 7, Some(true), 12, 13, 4);
        let v = h.check();
        assert_eq!(v.valid, Validity::Valid, "{v:#?}");
    }

    #[test]
    fn info_write_never_seen_is_valid() {
        let mut h = H(Vec::new());
        h.write(1, Outcome::Ok, 0, 1, 2)
            .write(2, Outcome::Info, 3, 4, 0)
            .cas(2, 3, None, 4, 5, 0)
            .read(Some((1, 2)), 5, 6)
            .read(Some((1, 2)), 20, 21)
            .write(4, Outcome::Ok, 22, 23, 5)
            .read(Some((4, 5)), 24, 25)
            .write(9, Outcome::Fail, 26, 27, 0);
        let v = h.check();
        assert_eq!(v.valid, Validity::Valid, "{v:#?}");
    }

    #[test]
    fn failed_write_that_is_read_is_invalid() {
        let mut h = H(Vec::new());
        h.write(1, Outcome::Ok, 0, 1, 2)
            .write(2, Outcome::Fail, 2, 3, 0)
            .read(Some((2, 3)), 4, 5);
        assert_invalid_naming(&h.check(), "#2 ");
    }

    #[test]
    fn cas_against_wrong_mod_rev_is_invalid() {
        let mut h = H(Vec::new());
        h.write(1, Outcome::Ok, 0, 1, 2)
            .cas(7, 2, Some(true), 2, 3, 3);
        let v = h.check();
        assert_invalid_naming(&v, "\"expect_mod_rev\":7");
    }

    #[test]
    fn read_of_absent_key_after_write_is_invalid() {
        let mut h = H(Vec::new());
        h.write(1, Outcome::Ok, 0, 1, 2).read(None, 2, 3);
        assert_invalid_naming(&h.check(), "\"seen\":null");
    }

    #[test]
    fn keys_are_checked_separately() {
        let mut h = H(Vec::new());
        h.write(1, Outcome::Ok, 0, 10, 2)
            .op(
                Call::Write {
                    key: "b".into(),
                    value: 1,
                },
                Outcome::Ok,
                0,
                10,
                3,
            )
            .op(
                Call::Read {
                    key: "b".into(),
                    seen: Some(Seen {
                        value: 1,
                        mod_rev: 3,
                    }),
                },
                Outcome::Ok,
                11,
                12,
                3,
            )
            .read(Some((1, 2)), 11, 12);
        assert_eq!(h.check().valid, Validity::Valid);
    }

    /// How long this takes is `bench/checkers.sh`'s figure, not this test's.
    #[test]
    fn few_hundred_ops_are_valid() {
        let mut h = H(Vec::new());
        let mut rev = 1;
        for round in 0..100u64 {
            let t = round * 10;
            rev += 1;
            h.write(round as i64, Outcome::Ok, t, t + 6, rev)
                .read(Some((round as i64, rev)), t + 5, t + 9)
                .write(1000 + round as i64, Outcome::Info, t + 1, t + 2, 0)
                .read(Some((round as i64, rev)), t + 7, t + 8);
        }
        let v = h.check();
        assert_eq!(v.valid, Validity::Valid, "{v:#?}");
    }

    #[test]
    fn tiny_budget_gives_unknown() {
        // 24 concurrent writes of unknown revision and a read of a value nobody wrote: the search
        // has to try every order before it can say no.
        let mut h = H(Vec::new());
        for value in 0..24 {
            h.write(value, Outcome::Ok, 0, 100, 0);
        }
        h.read(Some((999, 50)), 0, 100);
        let v = check_registers(&h.0, Duration::from_millis(5));
        assert_eq!(v.valid, Validity::Unknown, "{v:#?}");
        assert!(v.explanation.contains("key \"a\""), "{v:#?}");
    }
}
