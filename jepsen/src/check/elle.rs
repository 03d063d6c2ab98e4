//! Strict serializability of the list-append transactions ("strict-serializable-append"), a
//! subset of Elle. Every key is a list that transactions append unique values to and read whole,
//! so each read reveals a prefix of the key's version order: the longest read is taken as that
//! order and every other read must be a prefix of it. Reads are first checked on their own:
//! values nobody appended (garbage), duplicates, values of failed transactions (G1a, aborted
//! read), values a transaction later overwrote with more appends (G1b, intermediate read), and a
//! transaction's reads of its own appends (internal consistency). Then the committed transactions
//! (ok ones, plus indeterminate ones whose appends were observed) become a dependency graph with
//! write-write, write-read and read-write (anti-dependency) edges inferred from the version
//! orders, and real-time edges from completion-before-invocation (linked through a frontier of
//! latest completions, so the graph stays near-linear). Strongly connected components (petgraph's
//! Tarjan) locate cycles; a shortest cycle is found by breadth-first search, trying the strongest
//! anomaly first, and named G0 (ww only), G1c (ww and wr), G-single (one rw) or G2 (more rw),
//! with "-realtime" when it needs a real-time edge.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::history::{describe, Call, Mop, Op, Outcome, Verdict};

const CHECKER: &str = "strict-serializable-append";
/// How many instances of one anomaly kind the excerpt shows.
const SHOWN_PER_KIND: usize = 2;
/// How many BFS steps run between two looks at the clock.
const CLOCK_EVERY: u64 = 256;

const WW: u8 = 1;
const WR: u8 = 2;
const RW: u8 = 4;
const RT: u8 = 8;
/// Edge kinds in the order a cycle's edge is labelled when it has several.
const LABEL_ORDER: [u8; 4] = [WW, WR, RT, RW];

/// Checks the list-append transactions for Elle's anomalies up to strict serializability.
pub fn check_append(ops: &[Op], budget: Duration) -> Verdict {
    let deadline = Instant::now() + budget;
    let txns: Vec<Txn> = ops
        .iter()
        .filter_map(|op| match &op.call {
            Call::Txn { mops } => Some(Txn { op, mops }),
            _ => None,
        })
        .collect();
    let checked = txns.len();
    let mut anomalies = Anomalies::default();
    let scope = match find_anomalies(&txns, deadline, &mut anomalies) {
        Ok(scope) => scope,
        Err(OutOfTime) => {
            let ran_out = format!(
                "time budget of {budget:?} ran out before the search for dependency cycles \
                 among {checked} transactions finished"
            );
            if anomalies.is_empty() {
                return Verdict::unknown(CHECKER, checked, ran_out);
            }
            // What was found before stays found.
            ran_out
        }
    };
    if anomalies.is_empty() {
        return Verdict::valid(
            CHECKER,
            checked,
            format!(
                "{scope}: reads agree on one version order per key and the ww/wr/rw/real-time \
                 dependency graph is acyclic"
            ),
        );
    }
    Verdict::invalid(
        CHECKER,
        checked,
        format!("{scope}: found {}", anomalies.summary()),
        anomalies.excerpt(),
    )
}

/// Runs every check, recording what it finds; returns what was checked, in words.
fn find_anomalies(
    txns: &[Txn],
    deadline: Instant,
    anomalies: &mut Anomalies,
) -> Result<String, OutOfTime> {
    let mut history = History::new(txns);
    let orders = history.version_orders(anomalies);
    history.check_reads(&orders.scan, anomalies);
    history.mark_observed(&orders.scan);
    history.check_internal(anomalies);
    out_of_time(deadline)?;
    let graph = history.dependency_graph(&orders.lists);
    if let Some(cycle) = graph.find_cycle(deadline)? {
        anomalies.add(
            graph.classify(&cycle),
            graph.explain_cycle(&history, &cycle),
        );
    }
    Ok(format!(
        "{} transactions over {} keys ({} committed: ok, or indeterminate with observed appends)",
        txns.len(),
        history.keys.len(),
        history.committed.iter().filter(|&&c| c).count()
    ))
}

fn out_of_time(deadline: Instant) -> Result<(), OutOfTime> {
    if Instant::now() >= deadline {
        Err(OutOfTime)
    } else {
        Ok(())
    }
}

/// Per key the version order (the longest read), and per read whether its elements need
/// checking one by one (a prefix of the longest read holds nothing the longest does not).
struct VersionOrders<'a> {
    lists: Vec<&'a [i64]>,
    scan: Vec<bool>,
}

struct Txn<'a> {
    op: &'a Op,
    mops: &'a [Mop],
}

/// The budget ran out.
struct OutOfTime;

/// Anomalies found, by kind, with the lines of the first few instances.
#[derive(Default)]
struct Anomalies {
    by_kind: BTreeMap<String, (usize, Vec<String>)>,
}

impl Anomalies {
    fn add(&mut self, kind: impl Into<String>, lines: Vec<String>) {
        let entry = self.by_kind.entry(kind.into()).or_default();
        entry.0 += 1;
        if entry.0 <= SHOWN_PER_KIND {
            entry.1.extend(lines);
        }
    }

    fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }

    fn summary(&self) -> String {
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(kind, (count, _))| format!("{kind} ×{count}"))
            .collect();
        kinds.join(", ")
    }

    fn excerpt(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (kind, (count, shown)) in &self.by_kind {
            lines.push(format!("{kind} ({count} found):"));
            lines.extend(shown.iter().map(|l| format!("  {l}")));
        }
        lines
    }
}

/// Who appended a value to a key.
#[derive(Clone, Copy)]
struct Appender {
    txn: usize,
    /// It was that transaction's last append to the key.
    last: bool,
}

/// One read of a committed (ok) transaction.
struct ReadObs<'a> {
    txn: usize,
    key: usize,
    list: &'a [i64],
}

/// The transactions with keys interned and appends indexed.
struct History<'a> {
    txns: &'a [Txn<'a>],
    keys: Vec<&'a str>,
    key_ids: HashMap<&'a str, usize>,
    appenders: HashMap<(usize, i64), Appender>,
    reads: Vec<ReadObs<'a>>,
    /// Per transaction: it took effect (ok, or indeterminate with an observed append).
    committed: Vec<bool>,
}

impl<'a> History<'a> {
    fn new(txns: &'a [Txn<'a>]) -> History<'a> {
        let mut history = History {
            txns,
            keys: Vec::new(),
            key_ids: HashMap::new(),
            appenders: HashMap::new(),
            reads: Vec::new(),
            committed: txns.iter().map(|t| t.op.outcome == Outcome::Ok).collect(),
        };
        for (t, txn) in txns.iter().enumerate() {
            let mut last_append: HashMap<usize, i64> = HashMap::new();
            for mop in txn.mops {
                match mop {
                    Mop::Append { key, value } => {
                        let key = history.intern(key);
                        history.appenders.entry((key, *value)).or_insert(Appender {
                            txn: t,
                            last: false,
                        });
                        last_append.insert(key, *value);
                    }
                    Mop::Read {
                        key,
                        list: Some(list),
                    } if txn.op.outcome == Outcome::Ok => {
                        let key = history.intern(key);
                        history.reads.push(ReadObs { txn: t, key, list });
                    }
                    Mop::Read { .. } => {}
                }
            }
            for (key, value) in last_append {
                if let Some(appender) = history.appenders.get_mut(&(key, value)) {
                    if appender.txn == t {
                        appender.last = true;
                    }
                }
            }
        }
        history
    }

    /// Indeterminate transactions take effect when a read (one that needed a scan; the others
    /// are prefixes of those) observed one of their appends.
    fn mark_observed(&mut self, scan: &[bool]) {
        for (read, _) in self.reads.iter().zip(scan).filter(|(_, &scan)| scan) {
            for value in read.list {
                if let Some(appender) = self.appenders.get(&(read.key, *value)) {
                    if self.txns[appender.txn].op.outcome == Outcome::Info {
                        self.committed[appender.txn] = true;
                    }
                }
            }
        }
    }

    fn intern(&mut self, key: &'a str) -> usize {
        let next = self.keys.len();
        let id = *self.key_ids.entry(key).or_insert(next);
        if id == next {
            self.keys.push(key);
        }
        id
    }

    fn name(&self, t: usize) -> String {
        format!("T#{}", self.txns[t].op.index)
    }

    fn show(&self, t: usize) -> String {
        format!("{} = {}", self.name(t), describe(self.txns[t].op))
    }

    /// Records one anomaly: its summary, then the transactions involved.
    fn report(&self, anomalies: &mut Anomalies, kind: &str, summary: String, txns: &[usize]) {
        let mut lines = vec![summary];
        lines.extend(txns.iter().map(|&t| self.show(t)));
        anomalies.add(kind, lines);
    }

    /// Garbage, duplicates, aborted (G1a) and intermediate (G1b) reads.
    fn check_reads(&self, scan: &[bool], anomalies: &mut Anomalies) {
        for (read, &scan) in self.reads.iter().zip(scan) {
            let (reader, key) = (self.name(read.txn), self.keys[read.key]);
            let mut seen = HashSet::new();
            for &value in read.list.iter().filter(|_| scan) {
                let as_read = format!("{reader} read key {key:?} as {:?}", read.list);
                if !seen.insert(value) {
                    let summary = format!("{as_read}: {value} appears twice");
                    self.report(anomalies, "duplicate", summary, &[read.txn]);
                }
                match self.appenders.get(&(read.key, value)) {
                    None => {
                        let summary = format!("{as_read}: nobody appended {value}");
                        self.report(anomalies, "garbage", summary, &[read.txn]);
                    }
                    Some(a) if self.txns[a.txn].op.outcome == Outcome::Fail => {
                        let summary = format!(
                            "aborted read: {as_read}, but {value} was appended by {}, which failed",
                            self.name(a.txn)
                        );
                        self.report(anomalies, "G1a", summary, &[a.txn, read.txn]);
                    }
                    Some(_) => {}
                }
            }
            let last = read.list.last();
            if let Some(a) = last.and_then(|last| self.appenders.get(&(read.key, *last))) {
                if a.txn != read.txn && !a.last {
                    let summary = format!(
                        "intermediate read: {reader} read key {key:?} ending with {}, which {} \
                         later followed with another append",
                        last.copied().unwrap_or_default(),
                        self.name(a.txn)
                    );
                    self.report(anomalies, "G1b", summary, &[a.txn, read.txn]);
                }
            }
        }
    }

    /// A transaction's reads must agree with its own earlier reads and appends.
    fn check_internal(&self, anomalies: &mut Anomalies) {
        for (t, txn) in self.txns.iter().enumerate() {
            if txn.op.outcome != Outcome::Ok {
                continue;
            }
            // Per key: the list as this transaction last knew it (if it read it), and its appends.
            let mut known: HashMap<&str, (Option<Vec<i64>>, Vec<i64>)> = HashMap::new();
            for mop in txn.mops {
                match mop {
                    Mop::Append { key, value } => {
                        let (list, appended) = known.entry(key).or_default();
                        if let Some(list) = list {
                            list.push(*value);
                        }
                        appended.push(*value);
                    }
                    Mop::Read {
                        key,
                        list: Some(read),
                    } => {
                        let (list, appended) = known.entry(key).or_default();
                        let consistent = match list {
                            Some(expected) => expected == read,
                            None => read.ends_with(appended),
                        };
                        if !consistent {
                            let expected = match list {
                                Some(expected) => format!("{expected:?}"),
                                None => format!("a list ending with {appended:?}"),
                            };
                            let summary = format!(
                                "{} read key {key:?} as {read:?} but its own earlier reads and \
                                 appends imply {expected}",
                                self.name(t)
                            );
                            self.report(anomalies, "internal", summary, &[t]);
                        }
                        *list = Some(read.clone());
                    }
                    Mop::Read { .. } => {}
                }
            }
        }
    }

    /// Per key, the longest read; reports reads that are not a prefix of it.
    fn version_orders(&self, anomalies: &mut Anomalies) -> VersionOrders<'a> {
        let mut longest: Vec<Option<&ReadObs>> = (0..self.keys.len()).map(|_| None).collect();
        for read in &self.reads {
            let slot = &mut longest[read.key];
            if slot.is_none_or(|l| read.list.len() > l.list.len()) {
                *slot = Some(read);
            }
        }
        let mut reported = vec![false; self.keys.len()];
        let mut scan = vec![false; self.reads.len()];
        for (i, read) in self.reads.iter().enumerate() {
            let Some(order) = longest[read.key] else {
                continue;
            };
            if std::ptr::eq(order, read) {
                scan[i] = true;
            } else if !order.list.starts_with(read.list) {
                scan[i] = true;
                if reported[read.key] {
                    continue;
                }
                reported[read.key] = true;
                let summary = format!(
                    "key {:?}: {} read {:?} but {} read {:?}; neither is a prefix of the other",
                    self.keys[read.key],
                    self.name(read.txn),
                    read.list,
                    self.name(order.txn),
                    order.list
                );
                self.report(
                    anomalies,
                    "incompatible-order",
                    summary,
                    &[read.txn, order.txn],
                );
            }
        }
        let lists = longest
            .into_iter()
            .map(|l| l.map_or(&[][..], |r| r.list))
            .collect();
        VersionOrders { lists, scan }
    }

    /// The committed appender of `value` on `key`, if any.
    fn committed_appender(&self, key: usize, value: i64) -> Option<usize> {
        self.appenders
            .get(&(key, value))
            .map(|a| a.txn)
            .filter(|&t| self.committed[t])
    }

    fn dependency_graph(&self, orders: &[&[i64]]) -> Graph {
        let mut graph = Graph {
            nodes: self.txns.len(),
            edges: BTreeMap::new(),
        };
        let mut position: HashMap<(usize, i64), usize> = HashMap::new();
        for (key, order) in orders.iter().enumerate() {
            for (pos, &value) in order.iter().enumerate() {
                position.entry((key, value)).or_insert(pos);
            }
            for pair in order.windows(2) {
                if let [prev, next] = *pair {
                    if let (Some(a), Some(b)) = (
                        self.committed_appender(key, prev),
                        self.committed_appender(key, next),
                    ) {
                        graph.add(a, b, WW, Why::Ww { key, prev, next });
                    }
                }
            }
        }
        for read in &self.reads {
            let key = read.key;
            if let Some(&last) = read.list.last() {
                if let Some(writer) = self.committed_appender(key, last) {
                    graph.add(writer, read.txn, WR, Why::Wr { key, value: last });
                }
            }
            let order = orders[key];
            let next_pos = match read.list.last() {
                None => Some(0),
                Some(&last) => position.get(&(key, last)).map(|p| p + 1),
            };
            if let Some(&next) = next_pos.and_then(|p| order.get(p)) {
                if let Some(writer) = self.committed_appender(key, next) {
                    graph.add(
                        read.txn,
                        writer,
                        RW,
                        Why::Rw {
                            key,
                            last: read.list.last().copied(),
                            next,
                        },
                    );
                }
            }
        }
        self.realtime_edges(&mut graph);
        graph
    }

    /// T1 -rt-> T2 when T1 completed before T2 was invoked, linked only from the frontier: the
    /// completed transactions no later completed transaction is known to follow.
    fn realtime_edges(&self, graph: &mut Graph) {
        // (time, invocations before completions at the same time, txn): closed intervals.
        let mut events: Vec<(u64, u8, usize)> = Vec::new();
        for (t, txn) in self
            .txns
            .iter()
            .enumerate()
            .filter(|&(t, _)| self.committed[t])
        {
            events.push((txn.op.invoke_ns, 0, t));
            if txn.op.outcome == Outcome::Ok {
                events.push((txn.op.complete_ns.max(txn.op.invoke_ns), 1, t));
            }
        }
        events.sort_unstable();
        let mut frontier: BTreeSet<usize> = BTreeSet::new();
        let mut preds: HashMap<usize, Vec<usize>> = HashMap::new();
        for (_, kind, t) in events {
            if kind == 0 {
                for &p in &frontier {
                    graph.add(p, t, RT, Why::Rt);
                }
                preds.insert(t, frontier.iter().copied().collect());
            } else {
                for p in preds.remove(&t).unwrap_or_default() {
                    frontier.remove(&p);
                }
                frontier.insert(t);
            }
        }
    }
}

/// Why an edge exists (the first reason found for each kind).
#[derive(Clone, Copy)]
enum Why {
    Ww {
        key: usize,
        prev: i64,
        next: i64,
    },
    Wr {
        key: usize,
        value: i64,
    },
    Rw {
        key: usize,
        last: Option<i64>,
        next: i64,
    },
    Rt,
}

#[derive(Default)]
struct Edge {
    kinds: u8,
    why: Vec<(u8, Why)>,
}

/// A dependency cycle: its transactions in order (each has an edge to the next, the last to
/// the first), and the edge kinds of the search stage that found it.
struct Cycle {
    nodes: Vec<usize>,
    mask: u8,
}

struct Graph {
    nodes: usize,
    edges: BTreeMap<(usize, usize), Edge>,
}

impl Graph {
    fn add(&mut self, from: usize, to: usize, kind: u8, why: Why) {
        if from == to {
            return;
        }
        let edge = self.edges.entry((from, to)).or_default();
        if edge.kinds & kind == 0 {
            edge.kinds |= kind;
            edge.why.push((kind, why));
        }
    }

    /// The kinds of edge `from -> to` within `mask`.
    fn kinds(&self, from: usize, to: usize, mask: u8) -> u8 {
        self.edges.get(&(from, to)).map_or(0, |e| e.kinds & mask)
    }

    /// A cycle as its nodes (each has an edge to the next, the last to the first), trying G0,
    /// then G1c, then G-single and G2, then the same with real-time edges. Each stage only runs
    /// when the graphs of the earlier ones were acyclic, so a cycle needs its stage's new kind.
    fn find_cycle(&self, deadline: Instant) -> Result<Option<Cycle>, OutOfTime> {
        for mask in [WW, WW | WR, WW | WR | RW, WW | WR | RT, WW | WR | RW | RT] {
            if let Some(nodes) = self.find_cycle_within(mask, deadline)? {
                return Ok(Some(Cycle { nodes, mask }));
            }
        }
        Ok(None)
    }

    fn find_cycle_within(
        &self,
        mask: u8,
        deadline: Instant,
    ) -> Result<Option<Vec<usize>>, OutOfTime> {
        out_of_time(deadline)?;
        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(self.nodes, self.edges.len());
        for _ in 0..self.nodes {
            graph.add_node(());
        }
        let mut adjacency: Vec<Vec<(usize, u8)>> = vec![Vec::new(); self.nodes];
        for (&(from, to), edge) in &self.edges {
            if edge.kinds & mask != 0 {
                graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
                adjacency[from].push((to, edge.kinds & mask));
            }
        }
        let sccs: Vec<Vec<NodeIndex>> = tarjan_scc(&graph)
            .into_iter()
            .filter(|scc| scc.len() > 1)
            .collect();
        let mut component = vec![usize::MAX; self.nodes];
        for (id, scc) in sccs.iter().enumerate() {
            for node in scc {
                component[node.index()] = id;
            }
        }
        let mut search = Bfs::new(self.nodes, deadline);
        if mask & RW != 0 {
            // Prefer a cycle with a single anti-dependency (G-single) over G2.
            for (id, scc) in sccs.iter().enumerate() {
                for node in scc {
                    let from = node.index();
                    for &(to, kinds) in &adjacency[from] {
                        if kinds & RW != 0 && component[to] == id {
                            if let Some(path) =
                                search.path(&adjacency, &component, to, from, mask & !RW)?
                            {
                                let mut cycle = vec![from];
                                cycle.extend_from_slice(&path[..path.len() - 1]);
                                return Ok(Some(cycle));
                            }
                        }
                    }
                }
            }
        }
        for scc in &sccs {
            let start = scc[0].index();
            if let Some(mut path) = search.path(&adjacency, &component, start, start, mask)? {
                path.pop();
                return Ok(Some(path));
            }
        }
        Ok(None)
    }

    /// The kind each edge of `cycle` is labelled with (the strongest it has in the cycle's
    /// stage).
    fn labels(&self, cycle: &Cycle) -> Vec<u8> {
        let nodes = &cycle.nodes;
        (0..nodes.len())
            .map(|i| {
                let kinds = self.kinds(nodes[i], nodes[(i + 1) % nodes.len()], cycle.mask);
                LABEL_ORDER
                    .into_iter()
                    .find(|k| kinds & k != 0)
                    .unwrap_or(RT)
            })
            .collect()
    }

    fn classify(&self, cycle: &Cycle) -> String {
        let labels = self.labels(cycle);
        let rw = labels.iter().filter(|&&k| k == RW).count();
        let realtime = labels.contains(&RT);
        let base = match rw {
            0 if labels.iter().all(|&k| k == WW || k == RT) => "G0",
            0 => "G1c",
            1 => "G-single",
            _ => "G2",
        };
        if realtime {
            format!("{base}-realtime")
        } else {
            base.to_string()
        }
    }

    fn explain_cycle(&self, history: &History, cycle: &Cycle) -> Vec<String> {
        let labels = self.labels(cycle);
        let cycle = &cycle.nodes;
        let mut lines = Vec::new();
        let mut chain = history.name(cycle[0]);
        for (i, label) in labels.iter().enumerate() {
            chain.push_str(&format!(
                " -{}-> {}",
                kind_name(*label),
                history.name(cycle[(i + 1) % cycle.len()])
            ));
        }
        lines.push(format!("cycle: {chain}"));
        lines.extend(cycle.iter().map(|&t| history.show(t)));
        for (i, &label) in labels.iter().enumerate() {
            let (a, b) = (cycle[i], cycle[(i + 1) % cycle.len()]);
            let why = self
                .edges
                .get(&(a, b))
                .and_then(|e| e.why.iter().find(|(k, _)| *k == label))
                .map_or(Why::Rt, |(_, why)| *why);
            lines.push(because(history, a, b, label, why));
        }
        lines
    }
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        _ => "realtime",
    }
}

fn because(history: &History, a: usize, b: usize, kind: u8, why: Why) -> String {
    let (ta, tb) = (history.name(a), history.name(b));
    let head = format!("{ta} -{}-> {tb} because", kind_name(kind));
    let key = |k: usize| history.keys.get(k).copied().unwrap_or("?");
    match why {
        Why::Ww { key: k, prev, next } => {
            format!(
                "{head} {ta} appended {prev} to key {:?} directly before {tb} appended {next}",
                key(k)
            )
        }
        Why::Wr { key: k, value } => {
            format!(
                "{head} {tb} read key {:?} ending with {value} which {ta} appended",
                key(k)
            )
        }
        Why::Rw { key: k, last, next } => {
            let read = match last {
                Some(last) => format!("ending with {last}"),
                None => "as empty".to_string(),
            };
            format!(
                "{head} {ta} read key {:?} {read} and {tb} appended the next element {next}",
                key(k)
            )
        }
        Why::Rt => {
            let (opa, opb) = (history.txns[a].op, history.txns[b].op);
            format!(
                "{head} {ta} completed at {:.6}s before {tb} was invoked at {:.6}s",
                opa.complete_ns as f64 / 1e9,
                opb.invoke_ns as f64 / 1e9
            )
        }
    }
}

/// Breadth-first search for shortest paths, reusing its buffers.
struct Bfs {
    parent: Vec<usize>,
    touched: Vec<usize>,
    queue: VecDeque<usize>,
    steps: u64,
    deadline: Instant,
}

impl Bfs {
    fn new(nodes: usize, deadline: Instant) -> Bfs {
        Bfs {
            parent: vec![usize::MAX; nodes],
            touched: Vec::new(),
            queue: VecDeque::new(),
            steps: 0,
            deadline,
        }
    }

    /// A shortest path `from ..= to` of at least one edge, through `from`'s component only, over
    /// edges with a kind in `mask`.
    fn path(
        &mut self,
        adjacency: &[Vec<(usize, u8)>],
        component: &[usize],
        from: usize,
        to: usize,
        mask: u8,
    ) -> Result<Option<Vec<usize>>, OutOfTime> {
        for &t in &self.touched {
            self.parent[t] = usize::MAX;
        }
        self.touched.clear();
        self.queue.clear();
        self.queue.push_back(from);
        while let Some(node) = self.queue.pop_front() {
            self.steps += 1;
            if self.steps.is_multiple_of(CLOCK_EVERY) && Instant::now() >= self.deadline {
                return Err(OutOfTime);
            }
            for &(next, kinds) in &adjacency[node] {
                if kinds & mask == 0 || component[next] != component[from] {
                    continue;
                }
                if next == to {
                    let mut path = vec![to, node];
                    let mut at = node;
                    while at != from {
                        at = self.parent[at];
                        path.push(at);
                    }
                    path.reverse();
                    return Ok(Some(path));
                }
                if next != from && self.parent[next] == usize::MAX {
                    self.parent[next] = node;
                    self.touched.push(next);
                    self.queue.push_back(next);
                }
            }
        }
        Ok(None)
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

    fn a(key: &str, value: i64) -> Mop {
        Mop::Append {
            key: key.into(),
            value,
        }
    }

    fn r(key: &str, list: &[i64]) -> Mop {
        Mop::Read {
            key: key.into(),
            list: Some(list.to_vec()),
        }
    }

    /// Builds a history; `txn` returns the op index (shown as T#index).
    #[derive(Default)]
    struct H(Vec<Op>);

    impl H {
        fn txn(&mut self, mops: Vec<Mop>, outcome: Outcome, from_ms: u64, to_ms: u64) -> usize {
            let index = self.0.len();
            self.0.push(Op {
                index,
                process: index as u64,
                lane: "append-0".into(),
                node: "n1".into(),
                call: Call::Txn { mops },
                outcome,
                invoke_ns: from_ms * MS,
                complete_ns: to_ms * MS,
                rev: 0,
                error: None,
            });
            index
        }
        fn check(&self) -> Verdict {
            check_append(&self.0, PATIENT)
        }
    }

    fn assert_invalid(v: &Verdict, kind: &str, needles: &[&str]) {
        assert_eq!(v.valid, Validity::Invalid, "{v:#?}");
        assert!(
            v.explanation.contains(kind),
            "explanation lacks {kind}: {v:#?}"
        );
        assert!(
            v.excerpt
                .iter()
                .any(|l| l.starts_with(&format!("{kind} ("))),
            "{v:#?}"
        );
        for needle in needles {
            assert!(
                v.excerpt.iter().any(|l| l.contains(needle)),
                "excerpt lacks {needle:?}: {v:#?}"
            );
        }
    }

    #[test]
    fn serial_history_is_valid() {
        let mut h = H::default();
        h.txn(vec![r("x", &[]), a("x", 1)], Outcome::Ok, 0, 1);
        h.txn(
            vec![r("x", &[1]), a("x", 2), a("y", 1), r("x", &[1, 2])],
            Outcome::Ok,
            2,
            3,
        );
        h.txn(vec![a("x", 9)], Outcome::Fail, 3, 4);
        h.txn(vec![a("y", 2)], Outcome::Info, 4, 5);
        h.txn(vec![a("y", 3)], Outcome::Info, 4, 5);
        h.txn(vec![r("x", &[1, 2]), r("y", &[1, 2])], Outcome::Ok, 6, 7);
        let v = h.check();
        assert_eq!(v.valid, Validity::Valid, "{v:#?}");
        assert_eq!(v.checked, 6);
        // The indeterminate append of y 3 was never observed, so it did not commit.
        assert!(v.explanation.contains("4 committed"), "{v:#?}");
    }

    #[test]
    fn g0_write_cycle() {
        let mut h = H::default();
        let t1 = h.txn(vec![a("x", 1), a("y", 1)], Outcome::Ok, 0, 10);
        let t2 = h.txn(vec![a("x", 2), a("y", 2)], Outcome::Ok, 0, 10);
        h.txn(vec![r("x", &[1, 2]), r("y", &[2, 1])], Outcome::Ok, 20, 21);
        assert_invalid(
            &h.check(),
            "G0",
            &[
                &format!(
                    "T#{t1} -ww-> T#{t2} because T#{t1} appended 1 to key \"x\" directly before \
                     T#{t2} appended 2"
                ),
                &format!("T#{t2} -ww-> T#{t1}"),
            ],
        );
    }

    #[test]
    fn g1c_circular_information_flow() {
        let mut h = H::default();
        let t1 = h.txn(vec![a("x", 1), r("y", &[1])], Outcome::Ok, 0, 10);
        let t2 = h.txn(vec![a("y", 1), r("x", &[1])], Outcome::Ok, 0, 10);
        assert_invalid(
            &h.check(),
            "G1c",
            &[
                &format!(
                    "T#{t1} -wr-> T#{t2} because T#{t2} read key \"x\" ending with 1 which \
                     T#{t1} appended"
                ),
                &format!("T#{t2} -wr-> T#{t1}"),
            ],
        );
    }

    #[test]
    fn g_single_read_skew() {
        let mut h = H::default();
        let t1 = h.txn(vec![r("x", &[]), r("y", &[1])], Outcome::Ok, 0, 10);
        let t2 = h.txn(vec![a("x", 1), a("y", 1)], Outcome::Ok, 0, 10);
        h.txn(vec![r("x", &[1])], Outcome::Ok, 20, 21);
        let v = h.check();
        assert_invalid(
            &v,
            "G-single",
            &[
                &format!(
                    "T#{t1} -rw-> T#{t2} because T#{t1} read key \"x\" as empty and T#{t2} \
                     appended the next element 1"
                ),
                &format!("T#{t2} -wr-> T#{t1}"),
            ],
        );
        assert!(!v.explanation.contains("realtime"), "{v:#?}");
    }

    #[test]
    fn g2_write_skew() {
        let mut h = H::default();
        let t1 = h.txn(vec![r("x", &[]), a("y", 1)], Outcome::Ok, 0, 10);
        let t2 = h.txn(vec![r("y", &[]), a("x", 1)], Outcome::Ok, 0, 10);
        h.txn(vec![r("x", &[1]), r("y", &[1])], Outcome::Ok, 20, 21);
        assert_invalid(
            &h.check(),
            "G2",
            &[
                &format!("T#{t1} -rw-> T#{t2}"),
                &format!("T#{t2} -rw-> T#{t1}"),
            ],
        );
    }

    #[test]
    fn stale_read_is_g_single_realtime() {
        let mut h = H::default();
        let t1 = h.txn(vec![a("x", 1)], Outcome::Ok, 0, 1);
        let t2 = h.txn(vec![r("x", &[])], Outcome::Ok, 2, 3);
        h.txn(vec![r("x", &[1])], Outcome::Ok, 4, 5);
        assert_invalid(
            &h.check(),
            "G-single-realtime",
            &[
                &format!("T#{t1} -realtime-> T#{t2} because T#{t1} completed at 0.001000s"),
                &format!("T#{t2} -rw-> T#{t1}"),
            ],
        );
    }

    #[test]
    fn aborted_read_is_g1a() {
        let mut h = H::default();
        let t1 = h.txn(vec![a("x", 1)], Outcome::Fail, 0, 1);
        h.txn(vec![r("x", &[1])], Outcome::Ok, 2, 3);
        let expected = format!(
            "aborted read: T#1 read key \"x\" as [1], but 1 was appended by T#{t1}, which failed"
        );
        assert_invalid(&h.check(), "G1a", &[&expected]);
    }

    #[test]
    fn intermediate_read_is_g1b() {
        let mut h = H::default();
        h.txn(vec![a("x", 1), a("x", 2)], Outcome::Ok, 0, 10);
        h.txn(vec![r("x", &[1])], Outcome::Ok, 0, 10);
        assert_invalid(
            &h.check(),
            "G1b",
            &["intermediate read: T#1 read key \"x\" ending with 1"],
        );
    }

    #[test]
    fn internal_inconsistency() {
        let mut h = H::default();
        h.txn(vec![a("x", 1)], Outcome::Ok, 0, 1);
        h.txn(
            vec![r("x", &[1]), a("x", 2), r("x", &[1])],
            Outcome::Ok,
            2,
            3,
        );
        assert_invalid(
            &h.check(),
            "internal",
            &["T#1 read key \"x\" as [1] but its own earlier reads and appends imply [1, 2]"],
        );
    }

    #[test]
    fn incompatible_order() {
        let mut h = H::default();
        h.txn(vec![a("x", 1)], Outcome::Ok, 0, 10);
        h.txn(vec![a("x", 2)], Outcome::Ok, 0, 10);
        h.txn(vec![r("x", &[1, 2])], Outcome::Ok, 20, 21);
        h.txn(vec![r("x", &[2])], Outcome::Ok, 20, 21);
        assert_invalid(
            &h.check(),
            "incompatible-order",
            &["key \"x\": T#3 read [2] but T#2 read [1, 2]"],
        );
    }

    #[test]
    fn duplicate_element() {
        let mut h = H::default();
        h.txn(vec![a("x", 1)], Outcome::Ok, 0, 1);
        h.txn(vec![r("x", &[1, 1])], Outcome::Ok, 2, 3);
        assert_invalid(
            &h.check(),
            "duplicate",
            &["T#1 read key \"x\" as [1, 1]: 1 appears twice"],
        );
    }

    #[test]
    fn garbage_read() {
        let mut h = H::default();
        h.txn(vec![a("x", 1)], Outcome::Ok, 0, 1);
        h.txn(vec![r("x", &[1, 9])], Outcome::Ok, 2, 3);
        assert_invalid(&h.check(), "garbage", &["nobody appended 9"]);
    }

    #[test]
    fn zero_budget_is_unknown() {
        let mut h = H::default();
        let mut list = Vec::new();
        for i in 0..2000 {
            list.push(i);
            h.txn(
                vec![a("x", i), r("x", &list)],
                Outcome::Ok,
                i as u64,
                i as u64 + 3,
            );
        }
        let v = check_append(&h.0, Duration::ZERO);
        assert_eq!(v.valid, Validity::Unknown, "{v:#?}");
        assert!(v.explanation.contains("time budget"), "{v:#?}");
    }

    #[test]
    fn anomalies_found_before_the_budget_ran_out_stay_invalid() {
        let mut h = H::default();
        h.txn(vec![a("x", 1)], Outcome::Ok, 0, 1);
        h.txn(vec![r("x", &[1, 9])], Outcome::Ok, 2, 3);
        let v = check_append(&h.0, Duration::ZERO);
        assert_invalid(&v, "garbage", &["nobody appended 9"]);
        assert!(v.explanation.contains("time budget"), "{v:#?}");
    }

    /// How long this takes is `bench/checkers.sh`'s figure, not this test's.
    #[test]
    fn long_valid_history_is_valid() {
        let mut h = H::default();
        let mut list = Vec::new();
        for i in 0..2000 {
            list.push(i);
            h.txn(
                vec![a("x", i), r("x", &list), r("y", &[])],
                Outcome::Ok,
                i as u64 * 2,
                i as u64 * 2 + 3,
            );
        }
        let v = h.check();
        assert_eq!(v.valid, Validity::Valid, "{v:#?}");
    }
}
