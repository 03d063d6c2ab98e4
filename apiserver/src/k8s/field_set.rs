//! A set of field paths in an object, the unit of server-side apply's ownership, with its wire
//! form `FieldsV1` (the `fieldsV1` of a `managedFields` entry). A path is a sequence of
//! elements, each spelt as Kubernetes spells them: `f:<field>` (a field of an object),
//! `k:<json>` (an element of a list keyed by its key fields), `v:<json>` (an element of a set)
//! and `i:<index>` (an element of a list without keys). The set is a tree: every node may
//! itself be a member, and `FieldsV1` marks a member that also has children with `"."`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The key `FieldsV1` uses for "this node is itself a member".
const SELF: &str = ".";

/// A set of paths, as a tree keyed by path element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// Whether the path that leads here is in the set.
    pub member: bool,
    /// The longer paths, by their next element.
    pub children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    /// No paths at all.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Adds `sub` under `element`, unless it is empty.
    pub fn insert_child(&mut self, element: String, sub: FieldSet) {
        if sub.is_empty() {
            return;
        }
        match self.children.get_mut(&element) {
            Some(existing) => existing.union_with(&sub),
            None => {
                self.children.insert(element, sub);
            }
        }
    }

    /// Adds every path of `other`.
    pub fn union_with(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, sub) in &other.children {
            match self.children.get_mut(k) {
                Some(mine) => mine.union_with(sub),
                None => {
                    self.children.insert(k.clone(), sub.clone());
                }
            }
        }
    }

    /// Removes every path of `other` (paths below a removed one stay unless `other` names
    /// them too, as in structured-merge-diff's `Difference`).
    pub fn subtract(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (k, sub) in &other.children {
            if let Some(mine) = self.children.get_mut(k) {
                mine.subtract(sub);
                if mine.is_empty() {
                    self.children.remove(k);
                }
            }
        }
    }

    /// The paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, sub) in &self.children {
            if let Some(theirs) = other.children.get(k) {
                out.insert_child(k.clone(), sub.intersection(theirs));
            }
        }
        out
    }

    /// Removes everything under `element` (the path and all longer ones).
    pub fn remove_subtree(&mut self, element: &str) {
        self.children.remove(element);
    }

    /// Keeps only the subtree under `element`.
    pub fn keep_only(&mut self, element: &str) {
        self.member = false;
        self.children.retain(|k, _| k == element);
    }

    /// Every member path, in order, as its elements.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_paths(&mut prefix, &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (k, sub) in &self.children {
            prefix.push(k.clone());
            sub.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The set in its `FieldsV1` form.
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(SELF.into(), Value::Object(Map::new()));
        }
        for (k, sub) in &self.children {
            m.insert(k.clone(), sub.to_fields_v1());
        }
        Value::Object(m)
    }

    /// A set from its `FieldsV1` form; `None` if it is not one.
    pub fn from_fields_v1(v: &Value) -> Option<FieldSet> {
        let mut set = Self::node_from_fields_v1(v)?;
        // The root is never a member of its own set.
        set.member = false;
        Some(set)
    }

    fn node_from_fields_v1(v: &Value) -> Option<FieldSet> {
        let m = v.as_object()?;
        let mut set = FieldSet {
            member: m.is_empty(),
            children: BTreeMap::new(),
        };
        for (k, sub) in m {
            if k == SELF {
                set.member = true;
                continue;
            }
            if !valid_element(k) {
                return None;
            }
            set.children
                .insert(k.clone(), Self::node_from_fields_v1(sub)?);
        }
        Some(set)
    }
}

/// Whether `element` is spelt as one of the four path element kinds.
fn valid_element(element: &str) -> bool {
    match element.split_at_checked(2) {
        Some(("f:", _)) => true,
        Some(("k:", json)) => serde_json::from_str::<Map<String, Value>>(json).is_ok(),
        Some(("v:", json)) => serde_json::from_str::<Value>(json).is_ok(),
        Some(("i:", n)) => n.parse::<usize>().is_ok(),
        _ => false,
    }
}

/// The element naming field `name` of an object.
pub fn field_element(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push_str("f:");
    s.push_str(name);
    s
}

/// The element naming the list element whose key fields are `keys` (name, value), in the
/// order Kubernetes writes them (sorted by name).
pub fn key_element(keys: &[(&str, &Value)]) -> String {
    let mut sorted: Vec<&(&str, &Value)> = keys.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::from("k:{");
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String((*name).to_string()).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    out
}

/// The element naming the set element `value`.
pub fn value_element(value: &Value) -> String {
    format!("v:{value}")
}

/// The element naming the list element at `index`.
pub fn index_element(index: usize) -> String {
    format!("i:{index}")
}

/// A path as kube-apiserver prints it in conflict messages: `.spec.replicas`,
/// `.spec.containers[name="web"].image`, `.metadata.finalizers[="a"]`, `.args[0]`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        match element.split_at_checked(2) {
            Some(("f:", name)) => {
                out.push('.');
                out.push_str(name);
            }
            Some(("k:", json)) => {
                let keys: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push('[');
                out.push_str(&parts.join(","));
                out.push(']');
            }
            Some(("v:", json)) => {
                out.push_str("[=");
                out.push_str(json);
                out.push(']');
            }
            Some(("i:", n)) => {
                out.push('[');
                out.push_str(n);
                out.push(']');
            }
            _ => out.push_str(element),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(v: Value) -> FieldSet {
        FieldSet::from_fields_v1(&v).expect("a FieldsV1 document")
    }

    #[test]
    fn fields_v1_round_trips_with_self_markers() {
        let doc = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}
        });
        let s = set(doc.clone());
        assert!(!s.member);
        assert!(s.children["f:metadata"].children["f:labels"].member);
        assert!(!s.children["f:metadata"].member);
        assert_eq!(s.to_fields_v1(), doc);
    }

    #[test]
    fn malformed_fields_v1_is_refused() {
        assert!(FieldSet::from_fields_v1(&json!({"spec": {}})).is_none());
        assert!(FieldSet::from_fields_v1(&json!({"k:{bad": {}})).is_none());
        assert!(FieldSet::from_fields_v1(&json!({"i:x": {}})).is_none());
        assert!(FieldSet::from_fields_v1(&json!(["f:a"])).is_none());
    }

    #[test]
    fn union_subtract_and_intersection() {
        let mut a = set(json!({"f:spec": {"f:replicas": {}, "f:paused": {}}}));
        let b = set(json!({"f:spec": {"f:replicas": {}, "f:minReadySeconds": {}}}));
        let both = a.intersection(&b);
        assert_eq!(both.to_fields_v1(), json!({"f:spec": {"f:replicas": {}}}));
        a.subtract(&b);
        assert_eq!(a.to_fields_v1(), json!({"f:spec": {"f:paused": {}}}));
        a.union_with(&b);
        assert_eq!(a.paths().len(), 3);
        a.subtract(&a.clone());
        assert!(a.is_empty());
    }

    #[test]
    fn paths_print_as_kube_apiserver_prints_them() {
        let name = json!("web");
        let path = vec![
            field_element("spec"),
            field_element("containers"),
            key_element(&[("name", &name)]),
            field_element("image"),
        ];
        assert_eq!(display_path(&path), ".spec.containers[name=\"web\"].image");
        let port = json!(80);
        let tcp = json!("TCP");
        assert_eq!(
            key_element(&[("protocol", &tcp), ("containerPort", &port)]),
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"
        );
        let set_path = vec![field_element("finalizers"), value_element(&json!("a"))];
        assert_eq!(display_path(&set_path), ".finalizers[=\"a\"]");
        assert_eq!(
            display_path(&[field_element("args"), index_element(0)]),
            ".args[0]"
        );
    }
}
