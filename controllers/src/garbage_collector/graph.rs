//! The garbage collector's ownership graph (upstream's GraphBuilder's uidToNode): every object
//! the watches have seen, by uid, with its ownerReferences and the uids of its dependents.
//! An owner referenced before it has been seen is a virtual node, to be checked against the
//! API. Each change returns the work it makes: uids to look at for deletion (dependents whose
//! owner went, owners waiting on their dependents) and owners whose dependents are to be
//! orphaned.

use std::collections::{HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// Which object a node is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

#[derive(Debug)]
pub struct Node {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    pub dependents: HashSet<String>,
    /// Referenced as an owner but never seen by a watch.
    pub is_virtual: bool,
    /// Being deleted in the foreground: it waits for its blocking dependents.
    pub deleting_dependents: bool,
}

/// What a change asks of the collector's workers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Uids to look at in attemptToDelete.
    pub delete: Vec<String>,
    /// Owners whose dependents are to be orphaned.
    pub orphan: Vec<String>,
}

#[derive(Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
}

impl Graph {
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The dependents of `uid`, each with its reference to it.
    pub fn dependents(&self, uid: &str) -> Vec<(Identity, OwnerReference)> {
        let Some(n) = self.nodes.get(uid) else {
            return Vec::new();
        };
        n.dependents
            .iter()
            .filter_map(|d| self.nodes.get(d))
            .filter_map(|d| {
                let r = d.owners.iter().find(|o| o.uid == uid)?;
                Some((d.identity.clone(), r.clone()))
            })
            .collect()
    }

    /// An object seen (added or changed) by a watch. `namespaced` says whether an owner's
    /// kind is namespaced (its virtual node then lives in the dependent's namespace).
    pub fn observe(
        &mut self,
        id: Identity,
        owners: Vec<OwnerReference>,
        deleting: bool,
        finalizers: &[String],
        namespaced: impl Fn(&OwnerReference) -> bool,
    ) -> Work {
        let mut work = Work::default();
        let uid = id.uid.clone();
        let old_owners = match self.nodes.get_mut(&uid) {
            Some(n) => {
                n.identity = id.clone();
                n.is_virtual = false;
                std::mem::take(&mut n.owners)
            }
            None => {
                self.nodes.insert(
                    uid.clone(),
                    Node {
                        identity: id.clone(),
                        owners: Vec::new(),
                        dependents: HashSet::new(),
                        is_virtual: false,
                        deleting_dependents: false,
                    },
                );
                Vec::new()
            }
        };
        // Owners no longer referenced: a foreground deletion waiting on this one may go on.
        for gone in old_owners
            .iter()
            .filter(|o| !owners.iter().any(|n| n.uid == o.uid))
        {
            if let Some(o) = self.nodes.get_mut(&gone.uid) {
                o.dependents.remove(&uid);
                if o.deleting_dependents {
                    work.delete.push(gone.uid.clone());
                }
            }
        }
        for r in &owners {
            let before = old_owners.iter().find(|o| o.uid == r.uid);
            match self.nodes.get_mut(&r.uid) {
                Some(o) => {
                    o.dependents.insert(uid.clone());
                    if o.deleting_dependents {
                        match before {
                            // A reference that stopped blocking: the owner may go on.
                            Some(b) if b.block_owner_deletion != r.block_owner_deletion => {
                                work.delete.push(r.uid.clone())
                            }
                            Some(_) => {}
                            // A new dependent of an owner being deleted in the foreground.
                            None => work.delete.push(uid.clone()),
                        }
                    }
                }
                None => {
                    // Never seen: a virtual owner, checked against the API.
                    self.nodes.insert(
                        r.uid.clone(),
                        Node {
                            identity: Identity {
                                api_version: r.api_version.clone(),
                                kind: r.kind.clone(),
                                namespace: if namespaced(r) {
                                    id.namespace.clone()
                                } else {
                                    None
                                },
                                name: r.name.clone(),
                                uid: r.uid.clone(),
                            },
                            owners: Vec::new(),
                            dependents: HashSet::from([uid.clone()]),
                            is_virtual: true,
                            deleting_dependents: false,
                        },
                    );
                    work.delete.push(r.uid.clone());
                }
            }
        }
        let has = |f: &str| finalizers.iter().any(|x| x == f);
        let Some(node) = self.nodes.get_mut(&uid) else {
            return work;
        };
        node.owners = owners;
        if deleting && has(ORPHAN) {
            work.orphan.push(uid.clone());
        }
        if deleting && has(FOREGROUND) {
            node.deleting_dependents = true;
            work.delete.extend(node.dependents.iter().cloned());
            work.delete.push(uid);
        } else {
            node.deleting_dependents = false;
        }
        work
    }

    /// An object gone (a watch saw it deleted, or the API says a node's object is no more):
    /// its dependents are looked at, and owners waiting on it may go on.
    pub fn remove(&mut self, uid: &str) -> Work {
        let mut work = Work::default();
        let Some(n) = self.nodes.remove(uid) else {
            return work;
        };
        work.delete.extend(n.dependents.iter().cloned());
        for o in &n.owners {
            if let Some(owner) = self.nodes.get_mut(&o.uid) {
                owner.dependents.remove(uid);
                if owner.deleting_dependents {
                    work.delete.push(o.uid.clone());
                }
                // A virtual owner nobody references any more is forgotten.
                if owner.is_virtual && owner.dependents.is_empty() {
                    self.nodes.remove(&o.uid);
                }
            }
        }
        work
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, name: &str, uid: &str) -> Identity {
        Identity {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: name.into(),
            uid: uid.into(),
        }
    }

    fn owner(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: format!("cm-{uid}"),
            uid: uid.into(),
            controller: None,
            block_owner_deletion: Some(block),
        }
    }

    #[test]
    fn an_owner_not_yet_seen_is_a_virtual_node_to_check() {
        let mut g = Graph::default();
        let w = g.observe(
            id("Pod", "p", "p1"),
            vec![owner("o1", true)],
            false,
            &[],
            |_| true,
        );
        assert_eq!(w.delete, ["o1"]);
        let o = g.get("o1").unwrap();
        assert!(o.is_virtual);
        assert_eq!(o.identity.namespace.as_deref(), Some("ns"));
        // Seen later, it is real and keeps its dependent.
        let w = g.observe(id("ConfigMap", "cm-o1", "o1"), vec![], false, &[], |_| true);
        assert_eq!(w, Work::default());
        assert!(!g.get("o1").unwrap().is_virtual);
        assert_eq!(g.dependents("o1").len(), 1);
    }

    #[test]
    fn an_owner_gone_sends_its_dependents_to_be_looked_at() {
        let mut g = Graph::default();
        g.observe(id("ConfigMap", "cm-o1", "o1"), vec![], false, &[], |_| true);
        g.observe(
            id("Pod", "p", "p1"),
            vec![owner("o1", true)],
            false,
            &[],
            |_| true,
        );
        assert_eq!(g.remove("o1").delete, ["p1"]);
    }

    #[test]
    fn a_foreground_deletion_looks_at_every_dependent_and_waits_for_them() {
        let mut g = Graph::default();
        g.observe(id("ConfigMap", "cm-o1", "o1"), vec![], false, &[], |_| true);
        g.observe(
            id("Pod", "p", "p1"),
            vec![owner("o1", true)],
            false,
            &[],
            |_| true,
        );
        let w = g.observe(
            id("ConfigMap", "cm-o1", "o1"),
            vec![],
            true,
            &[FOREGROUND.to_string()],
            |_| true,
        );
        assert_eq!(w.delete, ["p1", "o1"]);
        // The dependent gone: the owner is looked at again.
        assert_eq!(g.remove("p1").delete, ["o1"]);
    }

    #[test]
    fn an_orphaning_deletion_asks_for_its_dependents_to_be_orphaned() {
        let mut g = Graph::default();
        let w = g.observe(
            id("ConfigMap", "cm-o1", "o1"),
            vec![],
            true,
            &[ORPHAN.to_string()],
            |_| true,
        );
        assert_eq!(w.orphan, ["o1"]);
    }
}
