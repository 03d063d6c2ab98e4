//! An index of the snapshot's pods kept across scheduling cycles, so InterPodAffinity and
//! PodTopologySpread look only at nodes that can hold a pod a selector matches instead of at
//! every pod of the cluster each cycle. It narrows, never decides: the plugins still read each
//! candidate node's pods with their exact rules.
//!
//! A refresh compares each snapshot position's `NodeInfo` with the one indexed there (a
//! pointer comparison: the cache replaces a node's `Arc` whenever its pods or labels change)
//! and re-indexes only the nodes that changed, so a cycle costs one pass of pointer
//! comparisons plus the changed nodes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::PodAffinityTerm;

use crate::node_info::NodeInfo;
use crate::plugins::inter_pod_affinity::{
    preferred_affinity, preferred_anti_affinity, required_affinity, required_anti_affinity,
};
use crate::plugins::label_selector::{Op, Selector};
use crate::pod_info::PodInfo;

/// label key → value → node position → how many there.
type Postings = HashMap<String, HashMap<String, HashMap<usize, u32>>>;

/// Per topology key, each value with its number of nodes.
pub type Domains = Arc<Vec<Arc<HashMap<String, usize>>>>;

fn bump(p: &mut Postings, key: &str, value: &str, pos: usize, up: bool) {
    if up {
        let values = match p.get_mut(key) {
            Some(v) => v,
            None => p.entry(key.to_string()).or_default(),
        };
        let nodes = match values.get_mut(value) {
            Some(n) => n,
            None => values.entry(value.to_string()).or_default(),
        };
        *nodes.entry(pos).or_insert(0) += 1;
        return;
    }
    let Some(values) = p.get_mut(key) else {
        return;
    };
    if let Some(nodes) = values.get_mut(value) {
        if let Some(n) = nodes.get_mut(&pos) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                nodes.remove(&pos);
            }
        }
        if nodes.is_empty() {
            values.remove(value);
        }
    }
    if values.is_empty() {
        p.remove(key);
    }
}

fn bump_pos(m: &mut HashMap<usize, u32>, pos: usize, up: bool) {
    if up {
        *m.entry(pos).or_insert(0) += 1;
    } else if let Some(n) = m.get_mut(&pos) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            m.remove(&pos);
        }
    }
}

/// One `(key, value)` every pod an affinity term selects must carry (from its matchLabels).
pub fn term_driver(t: &PodAffinityTerm) -> Option<(&str, &str)> {
    t.label_selector
        .as_ref()?
        .match_labels
        .as_ref()?
        .iter()
        .next()
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Whether the pod has terms that score other pods (required affinity, preferred terms).
fn scores_others(p: &PodInfo) -> bool {
    p.has_pod_affinity
        && (!required_affinity(p).is_empty()
            || !preferred_affinity(p).is_empty()
            || !preferred_anti_affinity(p).is_empty())
}

/// Which nodes a query must read.
pub enum Candidates {
    All,
    Some(Vec<usize>),
}

impl Candidates {
    /// The positions to read among `len` nodes.
    pub fn positions(self, len: usize) -> Vec<usize> {
        match self {
            Candidates::All => (0..len).collect(),
            Candidates::Some(mut v) => {
                v.retain(|p| *p < len);
                v
            }
        }
    }
}

#[derive(Default)]
pub struct PodIndex {
    indexed: Vec<Option<Arc<NodeInfo>>>,
    labels: Postings,
    /// Existing pods' required anti-affinity terms by their driver; `anti_unkeyed` those
    /// without one (positions).
    anti_keyed: Postings,
    anti_unkeyed: HashMap<usize, u32>,
    /// Positions with pods whose terms score other pods.
    scoring: HashMap<usize, u32>,
    /// Changes whenever a node comes, goes or changes labels.
    epoch: u64,
    /// Eligible domains by the topology keys a node must all have: per key, value → nodes.
    domains: HashMap<Vec<String>, (u64, Domains)>,
}

impl PodIndex {
    /// Brings the index up to date with `nodes`.
    pub fn refresh(&mut self, nodes: &[Arc<NodeInfo>]) {
        if self.indexed.len() > nodes.len() {
            let gone: Vec<(usize, Arc<NodeInfo>)> = self
                .indexed
                .drain(nodes.len()..)
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (nodes.len() + i, n)))
                .collect();
            for (pos, n) in gone {
                self.index(pos, &n, false);
            }
            self.epoch += 1;
        }
        self.indexed.resize_with(nodes.len(), || None);
        for (pos, n) in nodes.iter().enumerate() {
            let old = match &self.indexed[pos] {
                Some(old) if Arc::ptr_eq(old, n) => continue,
                other => other.clone(),
            };
            match &old {
                Some(old) => {
                    if !Arc::ptr_eq(&old.node, &n.node) && old.labels() != n.labels() {
                        self.epoch += 1;
                    }
                    self.index(pos, old, false);
                }
                None => self.epoch += 1,
            }
            self.index(pos, n, true);
            self.indexed[pos] = Some(n.clone());
        }
    }

    fn index(&mut self, pos: usize, n: &NodeInfo, up: bool) {
        for p in &n.pods {
            for (k, v) in &p.labels {
                bump(&mut self.labels, k, v, pos, up);
            }
            if p.has_required_anti_affinity {
                for t in required_anti_affinity(p) {
                    match term_driver(t) {
                        Some((k, v)) => bump(&mut self.anti_keyed, k, v, pos, up),
                        None => bump_pos(&mut self.anti_unkeyed, pos, up),
                    }
                }
            }
            if scores_others(p) {
                bump_pos(&mut self.scoring, pos, up);
            }
        }
    }

    /// Nodes with a pod carrying `key=value`.
    pub fn with_label(&self, key: &str, value: &str) -> Vec<usize> {
        self.labels
            .get(key)
            .and_then(|v| v.get(value))
            .map(|n| n.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Nodes that may hold a pod an affinity term selects.
    pub fn for_term(&self, t: &PodAffinityTerm) -> Candidates {
        match term_driver(t) {
            Some((k, v)) => Candidates::Some(self.with_label(k, v)),
            None => Candidates::All,
        }
    }

    /// Nodes that may hold a pod a compiled selector matches.
    pub fn for_selector(&self, s: &Selector) -> Candidates {
        let Selector::All(reqs) = s else {
            return Candidates::Some(Vec::new());
        };
        let Some(r) = reqs.iter().find(|r| r.op == Op::In) else {
            return Candidates::All;
        };
        let mut out: Vec<usize> = r
            .values
            .iter()
            .flat_map(|v| self.with_label(&r.key, v))
            .collect();
        out.sort_unstable();
        out.dedup();
        Candidates::Some(out)
    }

    /// Nodes with a pod whose required anti-affinity may select a pod with `labels`.
    pub fn anti_affinity_for(&self, labels: &BTreeMap<String, String>) -> Vec<usize> {
        let mut out: Vec<usize> = self.anti_unkeyed.keys().copied().collect();
        for (k, v) in labels {
            if let Some(n) = self.anti_keyed.get(k).and_then(|vs| vs.get(v)) {
                out.extend(n.keys());
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Nodes with pods whose terms score other pods.
    pub fn scoring_nodes(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.scoring.keys().copied().collect();
        out.sort_unstable();
        out
    }

    /// For nodes carrying every one of `keys`: per key, each value with its number of nodes.
    pub fn domains(&mut self, nodes: &[Arc<NodeInfo>], keys: &[String]) -> Domains {
        if let Some((epoch, d)) = self.domains.get(keys) {
            if *epoch == self.epoch {
                return d.clone();
            }
        }
        let mut per_key: Vec<HashMap<String, usize>> = vec![HashMap::new(); keys.len()];
        for n in nodes {
            let labels = n.labels();
            if !keys.iter().all(|k| labels.contains_key(k)) {
                continue;
            }
            for (k, d) in keys.iter().zip(per_key.iter_mut()) {
                if let Some(v) = labels.get(k) {
                    match d.get_mut(v) {
                        Some(c) => *c += 1,
                        None => {
                            d.insert(v.clone(), 1);
                        }
                    }
                }
            }
        }
        let d = Arc::new(per_key.into_iter().map(Arc::new).collect::<Vec<_>>());
        if self.domains.len() > 64 {
            self.domains.clear();
        }
        self.domains.insert(keys.to_vec(), (self.epoch, d.clone()));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    fn labelled(name: &str, zone: &str, apps: &[&str]) -> Arc<NodeInfo> {
        let mut n = node(json!({"metadata": {"name": name, "labels": {"zone": zone}}}));
        for (i, a) in apps.iter().enumerate() {
            let uid = format!("{name}-{i}");
            n.add_pod(pod(
                json!({"metadata": {"name": uid, "uid": uid, "labels": {"app": a}},
                "spec": {"nodeName": name}}),
            ));
        }
        Arc::new(n)
    }

    #[test]
    fn pod_index_follows_changed_nodes_only() {
        let mut nodes = vec![
            labelled("a", "z1", &["web"]),
            labelled("b", "z1", &[]),
            labelled("c", "z2", &["web", "db"]),
        ];
        let mut idx = PodIndex::default();
        idx.refresh(&nodes);
        let mut web = idx.with_label("app", "web");
        web.sort_unstable();
        assert_eq!(web, [0, 2]);
        let d = idx.domains(&nodes, &["zone".to_string()]);
        assert_eq!(d[0].get("z1"), Some(&2));
        // b gets a web pod, c loses its: only those two are re-indexed.
        nodes[1] = labelled("b", "z1", &["web"]);
        nodes[2] = labelled("c", "z2", &["db"]);
        idx.refresh(&nodes);
        let mut web = idx.with_label("app", "web");
        web.sort_unstable();
        assert_eq!(web, [0, 1]);
        assert_eq!(idx.with_label("app", "db"), [2]);
        // A node removed: its pods leave the index and domains are recounted.
        nodes.pop();
        idx.refresh(&nodes);
        assert!(idx.with_label("app", "db").is_empty());
        let d = idx.domains(&nodes, &["zone".to_string()]);
        assert_eq!(d[0].get("z2"), None);
    }
}
