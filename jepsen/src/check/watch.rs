//! Watch guarantees, one verdict each, as etcd's robustness tests and Jepsen's watch workload
//! state them: every watcher lane's messages are walked in order (across its reopenings) to check
//! what needs no ground truth — events fall under the prefix (filter), revisions never go back
//! (ordered), no (revision, key) twice (unique), a revision never split over two responses
//! (atomic), progress bookmarks never behind delivered events nor followed by older events
//! (bookmarkable) — and then compared with the replicas' agreed [`Truth`]: a resumed watch starts
//! at the first true event at or after its start revision (resumable), between the first and last
//! revision a lane observed it got exactly the true events under its prefix, compaction and
//! from-now holes aside (reliable), and every prev_kv and create flag matches the true state one
//! revision earlier (prev-kv). Events at or below the compacted revision cannot be compared with
//! the truth and are only counted. Lanes that did not reach the final revision make the run's
//! convergence unknown, not invalid.

use std::collections::{BTreeSet, HashMap};

use super::agreement::{describe_event, same_event};
use crate::history::{EventKind, KvEvent, PrevKv, Truth, Verdict, WatchLog, WatchMsg};

const MAX_EXCERPT: usize = 20;
/// Events shown from one message in an excerpt.
const MAX_SHOWN: usize = 6;

// The guarantees, indexing `GUARANTEES` and the tallies.
const FILTER: usize = 0;
const ORDERED: usize = 1;
const UNIQUE: usize = 2;
const ATOMIC: usize = 3;
const BOOKMARKABLE: usize = 4;
const RESUMABLE: usize = 5;
const RELIABLE: usize = 6;
const PREV_KV: usize = 7;
const CONVERGED: usize = 8;

/// Each guarantee's verdict name and what it asserts, in verdict order.
const GUARANTEES: [(&str, &str); 9] = [
    (
        "watch-filter",
        "every event's key starts with its lane's prefix",
    ),
    (
        "watch-ordered",
        "event revisions never decrease in a lane, and go on increasing across reopenings",
    ),
    (
        "watch-unique",
        "no (revision, key) is delivered twice in a lane",
    ),
    (
        "watch-atomic",
        "all events of a revision arrive in one response",
    ),
    (
        "watch-bookmarkable",
        "progress revisions are never behind a delivered event nor go back, and no event \
         arrives at or below a notified progress revision",
    ),
    (
        "watch-resumable",
        "the first event after reopening at start_rev S is the first true event at or after S",
    ),
    (
        "watch-reliable",
        "between its first and last observed revision each lane got exactly the true events \
         under its prefix (compacted and from-now stretches excepted)",
    ),
    (
        "watch-prev-kv",
        "each prev_kv equals the key's true state one revision earlier (watchers always ask \
         prev_kv), and create_rev == mod_rev exactly when the key was absent",
    ),
    (
        "watch-converged",
        "every lane's last delivered revision reaches the final revision",
    ),
];

#[derive(Default)]
struct Tally {
    violations: usize,
    lanes: BTreeSet<String>,
    first: Option<(String, Vec<String>)>,
    checked: usize,
}

struct Checker<'t> {
    truth: &'t Truth,
    by_rev_key: HashMap<(i64, &'t str), &'t KvEvent>,
    /// Each key's states in revision order from the base at compact_rev on (`None`: absent).
    history: HashMap<&'t str, Vec<(i64, Option<PrevKv>)>>,
    /// One per guarantee, indexed like `GUARANTEES`.
    tallies: [Tally; GUARANTEES.len()],
    /// Delivered events at or below truth's compact_rev (not comparable with the truth).
    unchecked: usize,
    /// Delivered events in all.
    events: usize,
}

fn prev_of(e: &KvEvent) -> Option<PrevKv> {
    (e.kind == EventKind::Put).then(|| PrevKv {
        value: e.value.clone(),
        mod_rev: e.mod_rev,
        create_rev: e.create_rev,
        version: e.version,
    })
}

fn describe_prev(key: &str, p: Option<&PrevKv>) -> String {
    match p {
        Some(p) => format!(
            "{key}={:?}@{} create={} ver={}",
            p.value, p.mod_rev, p.create_rev, p.version
        ),
        None => format!("{key} absent"),
    }
}

/// Selects the events of a message to show.
type Pick<'a> = &'a dyn Fn(&KvEvent) -> bool;

/// Lines for message `idx` of a lane, with only the events `pick` selects.
fn show(log: &WatchLog, idx: usize, pick: Pick) -> Vec<String> {
    let Some(msg) = log.msgs.get(idx) else {
        return Vec::new();
    };
    let at = format!("{}[{idx}] {:.3}s", log.lane, msg.time_ns() as f64 / 1e9);
    match msg {
        WatchMsg::Open {
            node,
            start_rev,
            prefix,
            ..
        } => {
            vec![format!(
                "{at} open node={node} start_rev={start_rev} prefix={prefix}"
            )]
        }
        WatchMsg::Events {
            header_rev, events, ..
        } => {
            let shown: Vec<&KvEvent> = events.iter().filter(|e| pick(e)).collect();
            let mut lines = vec![format!(
                "{at} events header_rev={header_rev} ({} events)",
                events.len()
            )];
            lines.extend(
                shown
                    .iter()
                    .take(MAX_SHOWN)
                    .map(|e| format!("    {}", describe_event(e))),
            );
            if shown.len() > MAX_SHOWN {
                lines.push(format!("    … {} more", shown.len() - MAX_SHOWN));
            }
            lines
        }
        WatchMsg::Progress { header_rev, .. } => {
            vec![format!("{at} progress header_rev={header_rev}")]
        }
        WatchMsg::Compacted { compact_rev, .. } => {
            vec![format!("{at} compacted compact_rev={compact_rev}")]
        }
        WatchMsg::Broken { error, .. } => vec![format!("{at} broken: {error}")],
    }
}

/// Two messages (once if they are the same), each with the events its predicate selects.
fn two(log: &WatchLog, a: (usize, Pick), b: (usize, Pick)) -> Vec<String> {
    if a.0 == b.0 {
        return show(log, a.0, &|e| a.1(e) || b.1(e));
    }
    let mut lines = show(log, a.0, a.1);
    lines.extend(show(log, b.0, b.1));
    lines
}

/// Where the walk of one lane stands.
#[derive(Default)]
struct Walk<'l> {
    /// The highest event revision so far and the response that held it.
    last_ev: i64,
    last_ev_msg: usize,
    /// The highest progress revision so far and its message.
    progress: i64,
    progress_msg: usize,
    /// The highest revision observed (events or progress).
    last_obs: i64,
    /// Each (revision, key) delivered, with the response it first came in.
    seen: HashMap<(i64, &'l str), usize>,
    /// The current stream's previous response: (index, its last event's revision).
    prev_events: Option<(usize, i64)>,
    /// No event yet since the last Open.
    reopened: bool,
    /// (Open's index, start_rev) until the stream's first event.
    resume: Option<(usize, i64)>,
    stream_start: i64,
    /// Revisions a lane is not expected to have seen: before its first watch, from a from-now
    /// reopen to its next observation, starts past last + 1, compacted starts.
    holes: Vec<(i64, i64)>,
    /// An open hole, closed by the next observation.
    hole_from: Option<i64>,
    delivered: Vec<(usize, &'l KvEvent)>,
}

impl Walk<'_> {
    fn open(&mut self, i: usize, s: i64) {
        (self.prev_events, self.reopened, self.stream_start) = (None, true, s);
        if s > 0 {
            self.resume = Some((i, s));
            let from = self.hole_from.take().unwrap_or(self.last_obs + 1);
            if s > from {
                self.holes.push((from, s - 1));
            }
        } else {
            self.resume = None;
            self.hole_from.get_or_insert(self.last_obs + 1);
        }
    }

    /// An observation covers everything up to `upto`: an open hole ends there (one below its
    /// start tells nothing, and an event closes it anyway).
    fn close_hole(&mut self, upto: i64, event: bool) {
        if let Some(h) = self.hole_from.filter(|h| upto >= *h) {
            self.holes.push((h, upto));
            self.hole_from = None;
        }
        if event {
            self.hole_from = None;
        }
    }
}

impl<'t> Checker<'t> {
    fn new(truth: &'t Truth) -> Checker<'t> {
        let mut history: HashMap<&str, Vec<(i64, Option<PrevKv>)>> = HashMap::new();
        for (k, kv) in &truth.base {
            let p = PrevKv {
                value: kv.value.clone(),
                mod_rev: kv.mod_rev,
                create_rev: kv.create_rev,
                version: kv.version,
            };
            history
                .entry(k.as_str())
                .or_default()
                .push((truth.compact_rev, Some(p)));
        }
        let mut by_rev_key = HashMap::new();
        for e in &truth.events {
            history
                .entry(e.key.as_str())
                .or_default()
                .push((e.mod_rev, prev_of(e)));
            by_rev_key.insert((e.mod_rev, e.key.as_str()), e);
        }
        Checker {
            truth,
            by_rev_key,
            history,
            tallies: std::array::from_fn(|_| Tally::default()),
            unchecked: 0,
            events: 0,
        }
    }

    fn tally(&mut self, g: usize) -> &mut Tally {
        &mut self.tallies[g]
    }

    fn flag(&mut self, g: usize, lane: &str, n: usize, text: String, excerpt: Vec<String>) {
        let t = self.tally(g);
        t.violations += n;
        t.lanes.insert(lane.to_string());
        if t.first.is_none() {
            let mut excerpt = excerpt;
            excerpt.truncate(MAX_EXCERPT);
            t.first = Some((text, excerpt));
        }
    }

    /// The key's true state at `rev` (≥ truth's compact_rev), as a prev_kv.
    fn state_at(&self, key: &str, rev: i64) -> Option<&PrevKv> {
        let h = self.history.get(key)?;
        let i = h.partition_point(|(r, _)| *r <= rev);
        h.get(i.checked_sub(1)?)?.1.as_ref()
    }

    /// Walks one lane; returns the last revision it observed (events or progress).
    fn check_log(&mut self, log: &WatchLog) -> i64 {
        let under: Vec<&KvEvent> = self
            .truth
            .events
            .iter()
            .filter(|e| e.key.starts_with(&log.prefix))
            .collect();
        let mut w = Walk {
            hole_from: Some(0),
            ..Walk::default()
        };
        for (i, msg) in log.msgs.iter().enumerate() {
            match msg {
                WatchMsg::Open { start_rev, .. } => w.open(i, *start_rev),
                WatchMsg::Compacted { compact_rev, .. } => {
                    w.resume = None;
                    let from = if w.stream_start > 0 {
                        w.stream_start.min(w.last_obs + 1)
                    } else {
                        w.last_obs + 1
                    };
                    w.holes.push((from, *compact_rev));
                }
                WatchMsg::Broken { .. } => w.prev_events = None,
                WatchMsg::Progress { header_rev, .. } => {
                    self.on_progress(log, &mut w, i, *header_rev)
                }
                WatchMsg::Events { events, .. } => {
                    let Some(first) = events.first() else {
                        continue;
                    };
                    w.close_hole(first.mod_rev - 1, true);
                    if let Some((pi, r)) = w.prev_events.filter(|(_, r)| *r == first.mod_rev) {
                        let mut ex = two(log, (pi, &|e| e.mod_rev == r), (i, &|e| e.mod_rev == r));
                        let truth = under.iter().filter(|e| e.mod_rev == r).take(MAX_SHOWN);
                        ex.extend(truth.map(|e| format!("truth: {}", describe_event(e))));
                        let text = format!(
                            "{}: revision {r} split over responses {pi} and {i}",
                            log.lane
                        );
                        self.flag(ATOMIC, &log.lane, 1, text, ex);
                    }
                    if let Some((oi, s)) = w.resume.take() {
                        self.check_resume(log, &under, oi, s, i, first);
                    }
                    for e in events {
                        self.on_event(log, &mut w, i, e);
                    }
                    w.prev_events = events.last().map(|e| (i, e.mod_rev));
                    w.last_obs = w.last_obs.max(w.last_ev);
                }
            }
        }
        self.check_prev_kv(log, &w.delivered);
        self.check_reliable(log, &under, &w.delivered, &w.holes, w.last_obs);
        w.last_obs
    }

    fn on_progress(&mut self, log: &WatchLog, w: &mut Walk, i: usize, p: i64) {
        let last_ev = w.last_ev;
        if p < last_ev {
            let ex = two(
                log,
                (w.last_ev_msg, &|e| e.mod_rev == last_ev),
                (i, &|_| true),
            );
            let text = format!(
                "{}: progress at revision {p} after an event at revision {last_ev}",
                log.lane
            );
            self.flag(BOOKMARKABLE, &log.lane, 1, text, ex);
        } else if p < w.progress {
            let ex = two(log, (w.progress_msg, &|_| true), (i, &|_| true));
            let text = format!(
                "{}: progress went back from revision {} to {p}",
                log.lane, w.progress
            );
            self.flag(BOOKMARKABLE, &log.lane, 1, text, ex);
        }
        if p >= w.progress {
            (w.progress, w.progress_msg) = (p, i);
        }
        w.close_hole(p, false);
        w.last_obs = w.last_obs.max(p);
    }

    /// One delivered event (of response `i`): filter, order, uniqueness, bookmarks.
    fn on_event<'l>(&mut self, log: &WatchLog, w: &mut Walk<'l>, i: usize, e: &'l KvEvent) {
        let (lane, last_ev) = (log.lane.as_str(), w.last_ev);
        self.events += 1;
        let this = |x: &KvEvent| std::ptr::eq(x, e);
        if !e.key.starts_with(&log.prefix) {
            let mut ex = show(log, i, &this);
            ex.push(format!("prefix: {}", log.prefix));
            let text = format!(
                "{lane}: key {} at revision {} is outside prefix {}",
                e.key, e.mod_rev, log.prefix
            );
            self.flag(FILTER, lane, 1, text, ex);
        }
        // A watcher resumes from its last revision + 1: the same revision again is a step back.
        let again = w.reopened && last_ev > 0 && e.mod_rev == last_ev;
        if e.mod_rev < last_ev || again {
            let ex = two(log, (w.last_ev_msg, &|x| x.mod_rev == last_ev), (i, &this));
            let how = if again {
                "after reopening, revision"
            } else {
                "revision"
            };
            let text = format!("{lane}: {how} {} after revision {last_ev}", e.mod_rev);
            self.flag(ORDERED, lane, 1, text, ex);
        }
        w.reopened = false;
        if let Some(&at) = w.seen.get(&(e.mod_rev, e.key.as_str())) {
            let same = |x: &KvEvent| x.mod_rev == e.mod_rev && x.key == e.key;
            let ex = two(log, (at, &same), (i, &same));
            let text = format!(
                "{lane}: {} at revision {} delivered twice",
                e.key, e.mod_rev
            );
            self.flag(UNIQUE, lane, 1, text, ex);
        } else {
            w.seen.insert((e.mod_rev, e.key.as_str()), i);
        }
        if w.progress > 0 && e.mod_rev <= w.progress {
            let ex = two(log, (w.progress_msg, &|_| true), (i, &this));
            let text = format!(
                "{lane}: event at revision {} after progress at revision {}",
                e.mod_rev, w.progress
            );
            self.flag(BOOKMARKABLE, lane, 1, text, ex);
        }
        w.delivered.push((i, e));
        if e.mod_rev >= last_ev {
            (w.last_ev, w.last_ev_msg) = (e.mod_rev, i);
        }
    }

    /// The first event after an Open at `s` > 0 must be truth's first event at or after `s`.
    fn check_resume(
        &mut self,
        log: &WatchLog,
        under: &[&KvEvent],
        oi: usize,
        s: i64,
        i: usize,
        first: &KvEvent,
    ) {
        if s <= self.truth.compact_rev {
            return; // truth does not know what followed s
        }
        self.tally(RESUMABLE).checked += 1;
        let expected = under.get(under.partition_point(|e| e.mod_rev < s)).copied();
        if expected.is_some_and(|x| same_event(x, first)) {
            return;
        }
        let mut ex = show(log, oi, &|_| false);
        ex.extend(show(log, i, &|x| std::ptr::eq(x, first)));
        ex.push(match expected {
            Some(x) => format!("truth: {}", describe_event(x)),
            None => format!(
                "truth: no event under {} at or after revision {s}",
                log.prefix
            ),
        });
        let text = format!(
            "{}: reopened at revision {s}, first got revision {}{}",
            log.lane,
            first.mod_rev,
            expected
                .map(|x| format!(" where the truth's first is revision {}", x.mod_rev))
                .unwrap_or_default()
        );
        self.flag(RESUMABLE, &log.lane, 1, text, ex);
    }

    /// Each prev_kv and create flag above compact_rev against the truth one revision earlier.
    fn check_prev_kv(&mut self, log: &WatchLog, delivered: &[(usize, &KvEvent)]) {
        for &(i, e) in delivered {
            if e.mod_rev <= self.truth.compact_rev {
                self.unchecked += 1;
                continue;
            }
            self.tally(PREV_KV).checked += 1;
            let expected = self.state_at(&e.key, e.mod_rev - 1).cloned();
            let mut why = match (&e.prev, &expected) {
                (Some(p), Some(x)) if p != x => Some("a prev_kv that is not the key's true state"),
                (Some(_), None) => Some("a prev_kv for a key that was absent"),
                // Above compact_rev the server had the previous value, and watchers ask for it.
                (None, Some(_)) => Some("no prev_kv for a key that existed"),
                _ => None,
            };
            if e.kind == EventKind::Put && (e.create_rev == e.mod_rev) != expected.is_none() {
                why = Some(if expected.is_none() {
                    "create_rev != mod_rev for a key that was absent (a create)"
                } else {
                    "create_rev == mod_rev for a key that existed (not a create)"
                });
            }
            if let Some(why) = why {
                let mut ex = show(log, i, &|x| std::ptr::eq(x, e));
                ex.push(format!(
                    "truth at {}: {}",
                    e.mod_rev - 1,
                    describe_prev(&e.key, expected.as_ref())
                ));
                let text = format!(
                    "{}: {} at revision {} has {why}",
                    log.lane, e.key, e.mod_rev
                );
                self.flag(PREV_KV, &log.lane, 1, text, ex);
            }
        }
    }

    /// Between the lane's first and last observed revision, outside holes and above compact_rev,
    /// the distinct events delivered must be exactly the truth's under the prefix.
    fn check_reliable(
        &mut self,
        log: &WatchLog,
        under: &[&KvEvent],
        delivered: &[(usize, &KvEvent)],
        holes: &[(i64, i64)],
        hi: i64,
    ) {
        let c = self.truth.compact_rev;
        let mut got: HashMap<(i64, &str), (usize, &KvEvent)> = HashMap::new();
        for &(i, e) in delivered.iter().filter(|(_, e)| e.mod_rev > c) {
            got.entry((e.mod_rev, e.key.as_str())).or_insert((i, e));
        }
        let in_hole = |r: i64| holes.iter().any(|&(a, b)| a <= r && r <= b);
        let (mut missing, mut wrong) = (Vec::new(), Vec::new());
        for &x in under
            .iter()
            .filter(|x| x.mod_rev > c && x.mod_rev <= hi && !in_hole(x.mod_rev))
        {
            self.tally(RELIABLE).checked += 1;
            match got.get(&(x.mod_rev, x.key.as_str())) {
                None => missing.push(x),
                Some(&(i, e)) if !same_event(e, x) => wrong.push((i, e, x)),
                Some(_) => {}
            }
        }
        let extra: Vec<(usize, &KvEvent)> = delivered
            .iter()
            .filter(|(_, e)| {
                e.mod_rev > c && !self.by_rev_key.contains_key(&(e.mod_rev, e.key.as_str()))
            })
            .copied()
            .collect();
        let n = missing.len() + wrong.len() + extra.len();
        if n == 0 {
            return;
        }
        let mut parts = Vec::new();
        let ex = if let Some(&x) = missing.first() {
            parts.push(format!(
                "{} true event(s) under {} never delivered, first at revision {}",
                missing.len(),
                log.prefix,
                x.mod_rev
            ));
            // The delivered neighbours around the gap, then what the gap should have held.
            let before = delivered
                .iter()
                .filter(|(_, e)| e.mod_rev < x.mod_rev)
                .max_by_key(|(_, e)| e.mod_rev);
            let after = delivered
                .iter()
                .filter(|(_, e)| e.mod_rev > x.mod_rev)
                .min_by_key(|(_, e)| e.mod_rev);
            let upto = after.map_or(i64::MAX, |(_, e)| e.mod_rev);
            let mut ex = Vec::new();
            if let Some(&(i, b)) = before {
                ex.extend(show(log, i, &|e| e.mod_rev == b.mod_rev));
            }
            if let Some(&(i, a)) = after {
                ex.extend(show(log, i, &|e| e.mod_rev == a.mod_rev));
            }
            for m in missing.iter().filter(|m| m.mod_rev < upto).take(8) {
                ex.push(format!("missing (truth): {}", describe_event(m)));
            }
            ex
        } else if let Some(&(i, e, x)) = wrong.first() {
            let mut ex = show(log, i, &|y| std::ptr::eq(y, e));
            ex.push(format!("truth: {}", describe_event(x)));
            ex
        } else if let Some(&(i, e)) = extra.first() {
            let mut ex = show(log, i, &|y| std::ptr::eq(y, e));
            ex.push(format!(
                "truth: no event for {} at revision {}",
                e.key, e.mod_rev
            ));
            ex
        } else {
            Vec::new()
        };
        if let Some(&(_, e, _)) = wrong.first() {
            parts.push(format!(
                "{} delivered with other content than the truth, first at revision {}",
                wrong.len(),
                e.mod_rev
            ));
        }
        if let Some(&(_, e)) = extra.first() {
            parts.push(format!(
                "{} delivered that the truth does not hold, first at revision {}",
                extra.len(),
                e.mod_rev
            ));
        }
        let text = format!("{}: {}", log.lane, parts.join("; "));
        self.flag(RELIABLE, &log.lane, n, text, ex);
    }
}

/// Checks every watcher lane against the guarantees and the truth; `max_rev` is the revision
/// every lane should have reached at the end. One verdict per guarantee, in a fixed order.
pub fn check_watches(logs: &[WatchLog], truth: &Truth, max_rev: i64) -> Vec<Verdict> {
    if logs.is_empty() {
        let none = "no watch logs: nothing was checked";
        return GUARANTEES
            .iter()
            .map(|(name, _)| Verdict::unknown(name, 0, none))
            .collect();
    }
    let mut ck = Checker::new(truth);
    let mut stopped = Vec::new();
    for log in logs {
        let last = ck.check_log(log);
        if last < max_rev {
            stopped.push(format!("{} at {last}", log.lane));
        }
    }
    let lanes = logs.len();
    let mut out = Vec::new();
    for (g, ((name, what), t)) in GUARANTEES.iter().zip(&ck.tallies).enumerate() {
        let against_truth = matches!(g, RESUMABLE | RELIABLE | PREV_KV);
        let checked = if against_truth { t.checked } else { ck.events };
        let note = if against_truth && ck.unchecked > 0 {
            format!(
                "; {} delivered event(s) at or below compact_rev {} could not be compared with \
                 the truth",
                ck.unchecked, truth.compact_rev
            )
        } else {
            String::new()
        };
        out.push(if g == CONVERGED && !stopped.is_empty() {
            let text = format!(
                "{what}: {} of {lanes} lanes stopped short of revision {max_rev} ({}), so what \
                 they would have seen is unknown",
                stopped.len(),
                stopped.join(", ")
            );
            Verdict::unknown(name, checked, text)
        } else if g == CONVERGED {
            let text = format!("{what}: all {lanes} lanes reached revision {max_rev}");
            Verdict::valid(name, checked, text)
        } else if let Some((first, ex)) = &t.first {
            let bad: Vec<&str> = t.lanes.iter().map(String::as_str).collect();
            let text = format!(
                "{} violation(s) in lane(s) {}; first: {first}. Checked: {what}{note}",
                t.violations,
                bad.join(", ")
            );
            Verdict::invalid(name, checked, text, ex.clone())
        } else {
            Verdict::valid(
                name,
                checked,
                format!("{what} ({checked} checked over {lanes} lanes){note}"),
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::history::{apply_event, KvState, Validity};

    const P: &str = "/w/";

    /// Revisions 2..=9 of one store; revision 4 is outside the watched prefix, 5 is a txn.
    fn truth_full() -> Truth {
        let steps: &[&[(&str, Option<&str>)]] = &[
            &[("/w/a", Some("1"))],                      // 2
            &[("/w/b", Some("1"))],                      // 3
            &[("/x/z", Some("1"))],                      // 4
            &[("/w/a", Some("2")), ("/w/b", Some("2"))], // 5
            &[("/w/a", None)],                           // 6
            &[("/w/a", Some("3"))],                      // 7
            &[("/w/b", Some("3"))],                      // 8
            &[("/w/a", Some("4"))],                      // 9
        ];
        let mut state: BTreeMap<String, KvState> = BTreeMap::new();
        let mut events = Vec::new();
        for (rev, ops) in (2..).zip(steps) {
            for (key, value) in ops.iter() {
                let before = state.get(*key).cloned();
                let e = KvEvent {
                    kind: if value.is_some() {
                        EventKind::Put
                    } else {
                        EventKind::Delete
                    },
                    key: key.to_string(),
                    value: value.unwrap_or("").to_string(),
                    mod_rev: rev,
                    create_rev: match (value, &before) {
                        (None, _) => 0,
                        (Some(_), Some(b)) => b.create_rev,
                        (Some(_), None) => rev,
                    },
                    version: if value.is_some() {
                        before.map_or(0, |b| b.version) + 1
                    } else {
                        0
                    },
                    lease: 0,
                    prev: None,
                };
                apply_event(&mut state, &e);
                events.push(e);
            }
        }
        Truth {
            compact_rev: 0,
            base: BTreeMap::new(),
            events,
            revision: 9,
        }
    }

    /// The same store compacted at `rev`.
    fn compacted(rev: i64) -> Truth {
        let full = truth_full();
        let base = full.state_at(rev).unwrap_or_default();
        let events = full
            .events
            .iter()
            .filter(|e| e.mod_rev > rev)
            .cloned()
            .collect();
        Truth {
            compact_rev: rev,
            base,
            events,
            revision: full.revision,
        }
    }

    /// What a prev_kv watch on any prefix delivers for `rev`, keys filtered by `pick`.
    fn watched_where(rev: i64, pick: impl Fn(&str) -> bool) -> Vec<KvEvent> {
        let t = truth_full();
        let before = t.state_at(rev - 1).unwrap_or_default();
        t.events_at(rev)
            .iter()
            .filter(|e| pick(&e.key))
            .map(|e| {
                let mut e = e.clone();
                e.prev = before.get(&e.key).map(|kv| PrevKv {
                    value: kv.value.clone(),
                    mod_rev: kv.mod_rev,
                    create_rev: kv.create_rev,
                    version: kv.version,
                });
                e
            })
            .collect()
    }

    fn evs(revs: &[i64]) -> WatchMsg {
        let events: Vec<KvEvent> = revs
            .iter()
            .flat_map(|&r| watched_where(r, |k| k.starts_with(P)))
            .collect();
        let header_rev = revs.iter().copied().max().unwrap_or(0);
        WatchMsg::Events {
            time_ns: 0,
            header_rev,
            events,
        }
    }

    fn open(node: &str, start_rev: i64) -> WatchMsg {
        WatchMsg::Open {
            time_ns: 0,
            node: node.into(),
            start_rev,
            prefix: P.into(),
        }
    }

    fn progress(header_rev: i64) -> WatchMsg {
        WatchMsg::Progress {
            time_ns: 0,
            header_rev,
        }
    }

    fn broken() -> WatchMsg {
        WatchMsg::Broken {
            time_ns: 0,
            error: "connection reset".into(),
        }
    }

    fn lane(name: &str, msgs: Vec<WatchMsg>) -> WatchLog {
        WatchLog {
            lane: name.into(),
            prefix: P.into(),
            msgs,
        }
    }

    /// A lane that sees everything: a resume on another node, progress bookmarks.
    fn good() -> Vec<WatchMsg> {
        vec![
            open("n1", 2),
            evs(&[2]),
            evs(&[3]),
            progress(4),
            evs(&[5]),
            broken(),
            open("n2", 6),
            evs(&[6]),
            evs(&[7]),
            progress(7),
            evs(&[8, 9]),
            progress(9),
        ]
    }

    /// Asserts the named verdicts' validity and that every other one is Valid.
    fn expect(vs: &[Verdict], want: &[(&str, Validity)]) {
        assert_eq!(vs.len(), GUARANTEES.len());
        for (v, (name, _)) in vs.iter().zip(GUARANTEES) {
            assert_eq!(v.checker, name);
            let w = want
                .iter()
                .find(|(n, _)| *n == v.checker)
                .map_or(Validity::Valid, |(_, w)| *w);
            assert_eq!(
                v.valid, w,
                "{}: {} {:#?}",
                v.checker, v.explanation, v.excerpt
            );
            assert!(v.excerpt.len() <= MAX_EXCERPT);
        }
    }

    fn find<'v>(vs: &'v [Verdict], name: &str) -> &'v Verdict {
        vs.iter().find(|v| v.checker == name).expect("verdict")
    }

    fn edit(f: impl FnOnce(&mut Vec<WatchMsg>)) -> Vec<Verdict> {
        let mut msgs = good();
        f(&mut msgs);
        check_watches(&[lane("watch-0", msgs)], &truth_full(), 9)
    }

    #[test]
    fn a_resumed_lane_with_progress_is_valid() {
        let vs = check_watches(&[lane("watch-0", good())], &truth_full(), 9);
        expect(&vs, &[]);
        assert_eq!(find(&vs, "watch-unique").checked, 8);
        assert_eq!(find(&vs, "watch-resumable").checked, 2);
        assert_eq!(find(&vs, "watch-reliable").checked, 8);
    }

    #[test]
    fn a_compacted_start_is_a_hole_and_old_events_are_unchecked() {
        let msgs = vec![
            open("n1", 2),
            evs(&[2]),
            evs(&[3]),
            broken(),
            open("n1", 4),
            WatchMsg::Compacted {
                time_ns: 0,
                compact_rev: 4,
            },
            open("n3", 5),
            evs(&[5]),
            evs(&[6, 7, 8, 9]),
            progress(9),
        ];
        let vs = check_watches(
            &[lane("watch-1", msgs), lane("watch-0", good())],
            &compacted(4),
            9,
        );
        expect(&vs, &[]);
        assert!(find(&vs, "watch-reliable")
            .explanation
            .contains("4 delivered event(s) at or below compact_rev 4"));
    }

    #[test]
    fn from_now_watches_only_owe_what_followed_their_first_observation() {
        let msgs = vec![
            open("n1", 0),
            evs(&[3]),
            broken(),
            open("n2", 0),
            progress(2), // below the hole: tells nothing, flagged as a step back
            evs(&[7]),
            evs(&[8, 9]),
        ];
        let vs = check_watches(&[lane("watch-2", msgs)], &truth_full(), 9);
        expect(&vs, &[("watch-bookmarkable", Validity::Invalid)]);
        assert_eq!(find(&vs, "watch-reliable").checked, 4);
    }

    #[test]
    fn a_duplicated_event_is_not_unique() {
        let vs = edit(|m| {
            if let WatchMsg::Events { events, .. } = &mut m[2] {
                let again = events[0].clone();
                events.push(again);
            }
        });
        expect(&vs, &[("watch-unique", Validity::Invalid)]);
        let v = find(&vs, "watch-unique");
        assert!(
            v.explanation.contains("/w/b at revision 3 delivered twice"),
            "{}",
            v.explanation
        );
        assert_eq!(
            v.excerpt
                .iter()
                .filter(|l| l.starts_with("    rev=3 put /w/b"))
                .count(),
            2
        );
    }

    #[test]
    fn an_out_of_order_event_is_not_ordered() {
        let vs = edit(|m| m[10] = evs(&[9, 8]));
        expect(&vs, &[("watch-ordered", Validity::Invalid)]);
        assert!(find(&vs, "watch-ordered")
            .explanation
            .contains("revision 8 after revision 9"));
    }

    #[test]
    fn repeating_the_last_revision_after_a_reopen_is_not_ordered() {
        let vs = edit(|m| m.insert(7, evs(&[5])));
        expect(
            &vs,
            &[
                ("watch-ordered", Validity::Invalid),
                ("watch-unique", Validity::Invalid),
                ("watch-resumable", Validity::Invalid),
            ],
        );
    }

    #[test]
    fn a_split_revision_is_not_atomic() {
        let vs = edit(|m| {
            let both = watched_where(5, |k| k.starts_with(P));
            m[4] = WatchMsg::Events {
                time_ns: 0,
                header_rev: 5,
                events: vec![both[0].clone()],
            };
            m.insert(
                5,
                WatchMsg::Events {
                    time_ns: 0,
                    header_rev: 5,
                    events: vec![both[1].clone()],
                },
            );
        });
        expect(&vs, &[("watch-atomic", Validity::Invalid)]);
        let v = find(&vs, "watch-atomic");
        assert!(
            v.explanation
                .contains("revision 5 split over responses 4 and 5"),
            "{}",
            v.explanation
        );
        assert_eq!(
            v.excerpt.iter().filter(|l| l.starts_with("truth:")).count(),
            2
        );
    }

    #[test]
    fn a_dropped_middle_event_is_not_reliable() {
        let vs = edit(|m| {
            m.remove(8); // revision 7
        });
        expect(&vs, &[("watch-reliable", Validity::Invalid)]);
        let v = find(&vs, "watch-reliable");
        assert!(
            v.explanation
                .contains("1 true event(s) under /w/ never delivered, first at revision 7"),
            "{}",
            v.explanation
        );
        assert!(
            v.excerpt
                .iter()
                .any(|l| l.starts_with("missing (truth): rev=7 put /w/a=\"3\"")),
            "{:?}",
            v.excerpt
        );
    }

    #[test]
    fn a_wrong_first_event_after_resume_is_not_resumable() {
        let vs = edit(|m| {
            m.remove(7); // revision 6, the first after reopening at 6
        });
        // Skipping it also loses an event, so reliability fails with it.
        expect(
            &vs,
            &[
                ("watch-resumable", Validity::Invalid),
                ("watch-reliable", Validity::Invalid),
            ],
        );
        let v = find(&vs, "watch-resumable");
        let want =
            "reopened at revision 6, first got revision 7 where the truth's first is revision 6";
        assert!(v.explanation.contains(want), "{}", v.explanation);
        assert!(v
            .excerpt
            .iter()
            .any(|l| l.starts_with("truth: rev=6 delete /w/a")));
    }

    #[test]
    fn a_progress_behind_the_last_event_is_not_bookmarkable() {
        let vs = edit(|m| m.swap(3, 4));
        expect(&vs, &[("watch-bookmarkable", Validity::Invalid)]);
        assert!(find(&vs, "watch-bookmarkable")
            .explanation
            .contains("progress at revision 4 after an event at revision 5"));
    }

    #[test]
    fn a_wrong_prev_kv_is_invalid() {
        let vs = edit(|m| {
            if let WatchMsg::Events { events, .. } = &mut m[10] {
                if let Some(p) = events[0].prev.as_mut() {
                    p.value = "7".into();
                }
            }
        });
        expect(&vs, &[("watch-prev-kv", Validity::Invalid)]);
        let v = find(&vs, "watch-prev-kv");
        assert!(
            v.explanation
                .contains("/w/b at revision 8 has a prev_kv that is not the key's true state"),
            "{}",
            v.explanation
        );
        assert!(
            v.excerpt
                .iter()
                .any(|l| l == "truth at 7: /w/b=\"2\"@5 create=3 ver=2"),
            "{:?}",
            v.excerpt
        );
    }

    #[test]
    fn a_create_that_claims_an_older_create_rev_is_invalid() {
        let vs = edit(|m| {
            if let WatchMsg::Events { events, .. } = &mut m[8] {
                events[0].create_rev = 2; // /w/a was deleted at 6: revision 7 is a create
            }
        });
        expect(
            &vs,
            &[
                ("watch-prev-kv", Validity::Invalid),
                ("watch-reliable", Validity::Invalid),
            ],
        );
        assert!(find(&vs, "watch-prev-kv")
            .explanation
            .contains("create_rev != mod_rev for a key that was absent"));
    }

    #[test]
    fn an_event_outside_the_prefix_is_filtered_wrongly() {
        let vs = edit(|m| {
            m.insert(
                3,
                WatchMsg::Events {
                    time_ns: 0,
                    header_rev: 4,
                    events: watched_where(4, |_| true),
                },
            );
        });
        expect(&vs, &[("watch-filter", Validity::Invalid)]);
        assert!(find(&vs, "watch-filter")
            .explanation
            .contains("key /x/z at revision 4 is outside prefix /w/"));
    }

    #[test]
    fn a_lane_that_stopped_early_leaves_convergence_unknown() {
        let short = lane("watch-1", vec![open("n3", 0), evs(&[3]), progress(4)]);
        let vs = check_watches(&[lane("watch-0", good()), short], &truth_full(), 9);
        expect(&vs, &[("watch-converged", Validity::Unknown)]);
        let v = find(&vs, "watch-converged");
        assert!(
            v.explanation
                .contains("1 of 2 lanes stopped short of revision 9 (watch-1 at 4)"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn no_lanes_decide_nothing() {
        let vs = check_watches(&[], &truth_full(), 9);
        assert!(vs.iter().all(|v| v.valid == Validity::Unknown));
    }
}
