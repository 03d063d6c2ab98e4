//! Field ownership (`metadata.managedFields`) and server-side apply, with kube-apiserver's
//! rules: every create, update and patch records, under its field manager, the fields it
//! changed, and takes them away from the other managers; an apply records exactly the fields
//! its configuration names, refuses (409, `FieldManagerConflict` causes) to change a field
//! another manager owns unless forced, and removes the fields it named before and names no
//! more when nobody else owns them. Paths follow the types' schemas: objects by field, lists
//! with a merge key by their key fields, primitive lists with the merge strategy as sets, other
//! lists and atomic structs (label selectors, references) as one field.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::field_set::{
    display_path, field_element, index_element, key_element, value_element, FieldSet,
};
use super::field_types::{FieldTypes, ListKeys, ListKind, TypeId, TypeInfo};
use super::resources::Resource;
use super::status::{ApiError, ApiResult};

/// How many `Update` entries an object keeps; older ones are merged into one.
const MAX_UPDATE_MANAGERS: usize = 10;
/// The manager the merged oldest `Update` entries are recorded under.
const ANCIENT_CHANGES: &str = "ancient-changes";
/// The longest field manager name kube-apiserver accepts, in bytes.
const MAX_MANAGER_LEN: usize = 128;

/// Fields whose Go types are struct values (never absent in a Go object), so a write that
/// fills them in owns their fields but not the struct itself, as kube-apiserver records it.
const VALUE_STRUCTS: &[&str] = &[
    "jobTemplate",
    "metadata",
    "spec",
    "status",
    "strategy",
    "template",
    "updateStrategy",
];

/// Metadata fields the server sets, which nobody owns.
const SERVER_METADATA: &[&str] = &[
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "generation",
    "managedFields",
    "name",
    "namespace",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// How a write is recorded.
#[derive(Clone, Copy, Debug)]
pub enum Tracking<'a> {
    /// Not recorded: the server's own writes (binding).
    Untracked,
    /// A create, update or non-apply patch by `manager`, through `subresource`.
    Update {
        manager: &'a str,
        subresource: Option<&'a str>,
    },
    /// A server-side apply by `manager` of a configuration naming `set`.
    Apply {
        manager: &'a str,
        subresource: Option<&'a str>,
        set: &'a FieldSet,
        force: bool,
    },
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    manager: String,
    /// `Apply` or `Update`.
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: String,
    fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource.unwrap_or("")
    }

    fn from_json(v: &Value) -> Option<Entry> {
        let m = v.as_object()?;
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let operation = text("operation");
        if operation != "Apply" && operation != "Update" {
            return None;
        }
        let fields = match m.get("fieldsV1") {
            Some(f) if text("fieldsType") == "FieldsV1" => FieldSet::from_fields_v1(f)?,
            Some(_) => return None,
            None => FieldSet::default(),
        };
        Some(Entry {
            manager: text("manager"),
            operation,
            api_version: text("apiVersion"),
            time: m.get("time").and_then(Value::as_str).map(String::from),
            subresource: text("subresource"),
            fields,
        })
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m)
    }

    /// The manager as conflict messages name it.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// The entries of `metadata.managedFields`; `None` when they are malformed.
fn decode(obj: &Value) -> Option<Vec<Entry>> {
    match obj.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(Entry::from_json).collect(),
        Some(_) => None,
    }
}

/// Whether a client asked to clear the managed fields: an empty list, or one empty entry.
fn is_reset(obj: &Value) -> bool {
    match obj.pointer("/metadata/managedFields") {
        Some(Value::Array(items)) => match items.as_slice() {
            [] => true,
            [only] => only.as_object().is_some_and(Map::is_empty),
            _ => false,
        },
        _ => false,
    }
}

/// The field manager of a write: `fieldManager`, or the start of the User-Agent (up to its
/// first `/`), as kube-apiserver derives it. Names over 128 bytes or with unprintable
/// characters are refused as kube-apiserver refuses them.
pub fn manager_name(
    query: Option<&str>,
    user_agent: Option<&str>,
    options_kind: &str,
) -> ApiResult<String> {
    let name = match query {
        Some(m) => m.to_string(),
        None => {
            let ua = user_agent.unwrap_or("");
            let prefix = ua.split('/').next().unwrap_or("");
            prefix.chars().take(MAX_MANAGER_LEN).collect()
        }
    };
    let invalid = |detail: String| {
        ApiError::new(
            422,
            "Invalid",
            format!("{options_kind}.meta.k8s.io \"\" is invalid: fieldManager: {detail}"),
        )
    };
    if name.len() > MAX_MANAGER_LEN {
        return Err(invalid(format!(
            "Too long: may not be more than {MAX_MANAGER_LEN} bytes"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "Invalid value: {name:?}: must be printable characters"
        )));
    }
    Ok(name)
}

/// Whether an object takes part in field tracking (events.k8s.io events are stored as core
/// events, in another shape than their schema).
fn tracked(r: &Resource) -> bool {
    r.group != "events.k8s.io"
}

/// How a value is walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// One member.
    Leaf,
    /// An object with declared fields.
    Struct,
    /// An object whose keys are data (labels, annotations, resource lists).
    Map,
    /// A list of set or keyed elements.
    List,
}

/// The field paths of objects, walked along their compiled types.
struct Fields<'t> {
    types: &'t FieldTypes,
}

impl<'t> Fields<'t> {
    fn shape(&self, v: &Value, ty: TypeId, list: &ListKind) -> Shape {
        match (v, self.types.info(ty)) {
            (Value::Object(_), TypeInfo::Struct(_)) => Shape::Struct,
            (Value::Object(_), TypeInfo::Map(_)) => Shape::Map,
            (Value::Array(_), _) if *list != ListKind::Atomic => Shape::List,
            _ => Shape::Leaf,
        }
    }

    /// The path element of each element of a list.
    fn elements<'v>(&self, items: &'v [Value], list: &ListKind) -> Vec<(String, &'v Value)> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let element = match list {
                    ListKind::Set => Some(value_element(item)),
                    ListKind::Keyed(key) => item.get(key).map(|k| key_element(&[(key, k)])),
                    ListKind::MultiKeyed(keys) => multi_key(item, keys),
                    ListKind::Atomic => None,
                };
                (element.unwrap_or_else(|| index_element(i)), item)
            })
            .collect()
    }

    /// The paths a value sets, walked along its type: leaves, list elements, empty objects and
    /// map entries (structured-merge-diff's `ToFieldSet`, for an applied configuration). With
    /// `own_new_objects`, the objects themselves too, except Go struct values (by field `name`)
    /// as kube-apiserver records a value that is new with everything below it (a create).
    fn value_set(
        &self,
        v: &Value,
        ty: TypeId,
        list: &ListKind,
        name: &str,
        own_new_objects: bool,
        out: &mut FieldSet,
    ) {
        match self.shape(v, ty, list) {
            Shape::Leaf => out.member = true,
            shape @ (Shape::Struct | Shape::Map) => {
                let m = v.as_object().map(|m| m.iter()).into_iter().flatten();
                let mut any = false;
                for (k, cv) in m {
                    any = true;
                    let f = self.types.field(ty, k);
                    let mut c = FieldSet::default();
                    self.value_set(cv, f.ty, &f.list, k, own_new_objects, &mut c);
                    if shape == Shape::Map {
                        c.member = true;
                    }
                    out.insert_child(field_element(k), c);
                }
                let owned =
                    own_new_objects && (shape == Shape::Map || !VALUE_STRUCTS.contains(&name));
                if !any || owned {
                    out.member = true;
                }
            }
            Shape::List => {
                let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
                if items.is_empty() {
                    out.member = true;
                }
                let item_ty = self.types.items(ty);
                for (element, item) in self.elements(items, list) {
                    let mut c = FieldSet::default();
                    self.value_set(
                        item,
                        item_ty,
                        &ListKind::Atomic,
                        "",
                        own_new_objects,
                        &mut c,
                    );
                    c.member = true;
                    out.insert_child(element, c);
                }
            }
        }
    }

    /// The paths whose values differ between `old` and `new` (either absent): added or
    /// modified ones into `changed`, removed ones into `removed`.
    #[allow(clippy::too_many_arguments)]
    fn changes(
        &self,
        old: Option<&Value>,
        new: Option<&Value>,
        ty: TypeId,
        list: &ListKind,
        name: &str,
        changed: &mut FieldSet,
        removed: &mut FieldSet,
    ) {
        if old == new {
            return;
        }
        let Some(old) = old else {
            // New with everything below it (a create, an added field or list element).
            if let Some(v) = new {
                self.value_set(v, ty, list, name, true, changed);
            }
            return;
        };
        let old_shape = self.shape(old, ty, list);
        let shape = match new.map(|v| self.shape(v, ty, list)) {
            None => old_shape,
            Some(b) if b == old_shape => b,
            Some(_) => Shape::Leaf,
        };
        if shape == Shape::Leaf {
            match new {
                Some(_) => changed.member = true,
                None => removed.member = true,
            }
            // A field that changed shape (an object became a string) loses what was below it.
            if old_shape != Shape::Leaf {
                let mut below = FieldSet::default();
                self.changes(
                    Some(old),
                    None,
                    ty,
                    list,
                    name,
                    &mut FieldSet::default(),
                    &mut below,
                );
                below.member = false;
                removed.union_with(&below);
            }
            return;
        }
        match shape {
            Shape::Struct | Shape::Map => {
                let none = Map::new();
                let om = old.as_object().unwrap_or(&none);
                let nm = new.and_then(Value::as_object).unwrap_or(&none);
                for (k, nv) in nm {
                    self.field_changes(ty, k, om.get(k), Some(nv), shape, changed, removed);
                }
                for (k, ov) in om {
                    if !nm.contains_key(k) {
                        self.field_changes(ty, k, Some(ov), None, shape, changed, removed);
                    }
                }
            }
            _ => {
                let no_items = Vec::new();
                let oi = old.as_array().unwrap_or(&no_items);
                let ni = new.and_then(Value::as_array).unwrap_or(&no_items);
                let before: BTreeMap<String, &Value> =
                    self.elements(oi, list).into_iter().collect();
                let after = self.elements(ni, list);
                let item_ty = self.types.items(ty);
                for (element, nv) in &after {
                    let mut c = FieldSet::default();
                    let mut r = FieldSet::default();
                    let ov = before.get(element).copied();
                    self.changes(ov, Some(nv), item_ty, &ListKind::Atomic, "", &mut c, &mut r);
                    changed.insert_child(element.clone(), c);
                    removed.insert_child(element.clone(), r);
                }
                for (element, ov) in &before {
                    if !after.iter().any(|(e, _)| e == element) {
                        let mut r = FieldSet::default();
                        self.changes(
                            Some(ov),
                            None,
                            item_ty,
                            &ListKind::Atomic,
                            "",
                            &mut FieldSet::default(),
                            &mut r,
                        );
                        r.member = true;
                        removed.insert_child(element.clone(), r);
                    }
                }
            }
        }
        if new.is_none() {
            removed.member = true;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn field_changes(
        &self,
        ty: TypeId,
        k: &str,
        old: Option<&Value>,
        new: Option<&Value>,
        shape: Shape,
        changed: &mut FieldSet,
        removed: &mut FieldSet,
    ) {
        let f = self.types.field(ty, k);
        let mut c = FieldSet::default();
        let mut r = FieldSet::default();
        self.changes(old, new, f.ty, &f.list, k, &mut c, &mut r);
        if shape == Shape::Map {
            // A map entry is one field even when its value is an object.
            if !c.is_empty() {
                c.member = true;
            }
            if !r.is_empty() && new.is_none() {
                r.member = true;
            }
        }
        changed.insert_child(field_element(k), c);
        removed.insert_child(field_element(k), r);
    }

    /// Removes from `v` the paths of `remove` that nobody in `keep` owns (neither the path nor
    /// anything below it).
    fn remove(
        &self,
        v: &mut Value,
        ty: TypeId,
        list: &ListKind,
        remove: &FieldSet,
        keep: Option<&FieldSet>,
    ) {
        let kept = |e: &str| keep.and_then(|k| k.children.get(e));
        match v {
            Value::Object(m) => {
                for (element, sub) in &remove.children {
                    let Some(name) = element.strip_prefix("f:") else {
                        continue;
                    };
                    let k = kept(element);
                    if sub.member && k.is_none_or(FieldSet::is_empty) {
                        m.remove(name);
                    } else if let Some(cv) = m.get_mut(name) {
                        let f = self.types.field(ty, name);
                        self.remove(cv, f.ty, &f.list, sub, k);
                        // Emptied lists and maps are left out, as Go's omitempty drops them.
                        let emptied = match cv {
                            Value::Array(a) => a.is_empty(),
                            Value::Object(o) => o.is_empty(),
                            _ => false,
                        };
                        if emptied {
                            m.remove(name);
                        }
                    }
                }
            }
            Value::Array(items) => {
                let names: Vec<String> = self
                    .elements(items, list)
                    .into_iter()
                    .map(|(e, _)| e)
                    .collect();
                let item_ty = self.types.items(ty);
                let mut drop = vec![false; items.len()];
                for (i, item) in items.iter_mut().enumerate() {
                    let Some(sub) = remove.children.get(&names[i]) else {
                        continue;
                    };
                    let k = kept(&names[i]);
                    if sub.member && k.is_none_or(FieldSet::is_empty) {
                        drop[i] = true;
                    } else {
                        self.remove(item, item_ty, &ListKind::Atomic, sub, k);
                    }
                }
                let mut i = 0;
                items.retain(|_| {
                    i += 1;
                    !drop[i - 1]
                });
            }
            _ => {}
        }
    }
}

/// The key element of an element of a list keyed by several fields.
fn multi_key(item: &Value, keys: ListKeys) -> Option<String> {
    let defaults: Vec<Value> = keys
        .iter()
        .map(|(_, d)| d.map(|d| json!(d)).unwrap_or(Value::Null))
        .collect();
    let mut parts: Vec<(&str, &Value)> = Vec::with_capacity(keys.len());
    for ((k, default), dv) in keys.iter().zip(&defaults) {
        match item.get(*k) {
            Some(v) => parts.push((k, v)),
            None if default.is_some() => parts.push((k, dv)),
            None => return None,
        }
    }
    Some(key_element(&parts))
}

/// Drops the paths nobody owns: apiVersion, kind and the server's metadata; the status of a
/// resource with a status subresource when written through the main resource, and everything
/// but the status when written through `/status`.
fn filter(set: &mut FieldSet, r: &Resource, subresource: Option<&str>) {
    set.remove_subtree("f:apiVersion");
    set.remove_subtree("f:kind");
    if let Some(meta) = set.children.get_mut("f:metadata") {
        meta.member = false;
        for f in SERVER_METADATA {
            meta.remove_subtree(&field_element(f));
        }
        if meta.is_empty() {
            set.remove_subtree("f:metadata");
        }
    }
    match subresource {
        Some("status") => set.keep_only("f:status"),
        Some("finalize") => {
            set.keep_only("f:spec");
            if let Some(spec) = set.children.get_mut("f:spec") {
                spec.keep_only("f:finalizers");
            }
        }
        None if r.has_subresource("status") => set.remove_subtree("f:status"),
        _ => {}
    }
}

/// The paths a server-side apply configuration names, as recorded for its manager.
pub fn applied_set(
    types: &FieldTypes,
    r: &Resource,
    subresource: Option<&str>,
    config: &Value,
) -> FieldSet {
    let fields = Fields { types };
    let mut set = FieldSet::default();
    fields.value_set(
        config,
        types.root(r.definition),
        &ListKind::Atomic,
        "",
        false,
        &mut set,
    );
    filter(&mut set, r, subresource);
    set.member = false;
    set
}

/// Server-side apply's removal step: the fields `manager` applied last time and no longer
/// names go from `merged`, unless another manager owns them (or something below them).
pub fn prune(
    types: &FieldTypes,
    r: &Resource,
    tracking: &Tracking<'_>,
    live: &Value,
    merged: &mut Value,
) {
    let Tracking::Apply {
        manager,
        subresource,
        set,
        ..
    } = *tracking
    else {
        return;
    };
    let entries = decode(live).unwrap_or_default();
    let Some(last) = entries.iter().find(|e| e.is(manager, "Apply", subresource)) else {
        return;
    };
    let mut gone = last.fields.clone();
    gone.subtract(set);
    if gone.is_empty() {
        return;
    }
    let mut keep = set.clone();
    for e in entries
        .iter()
        .filter(|e| !e.is(manager, "Apply", subresource))
    {
        keep.union_with(&e.fields);
    }
    let fields = Fields { types };
    fields.remove(
        merged,
        types.root(r.definition),
        &ListKind::Atomic,
        &gone,
        Some(&keep),
    );
}

/// Records in `new`'s `metadata.managedFields` who owns what after the write of `new` over
/// `old` (`None` for a create). An apply that would change fields other managers own, and is
/// not forced, fails with 409 Conflict and one `FieldManagerConflict` cause per field.
pub fn track(
    types: &FieldTypes,
    r: &Resource,
    tracking: &Tracking<'_>,
    old: Option<&Value>,
    new: &mut Value,
    now: &str,
) -> ApiResult<()> {
    if !tracked(r) {
        return Ok(());
    }
    let (manager, subresource) = match *tracking {
        Tracking::Untracked => return Ok(()),
        Tracking::Update {
            manager,
            subresource,
        }
        | Tracking::Apply {
            manager,
            subresource,
            ..
        } => (manager, subresource),
    };
    let stored = old.and_then(decode).unwrap_or_default();
    // An update may set the managed fields itself (kubectl's migration from client-side
    // apply does); leaving them out keeps the stored ones.
    let supplied = match tracking {
        Tracking::Update { .. } if subresource.is_none() => {
            if is_reset(new) {
                Some(Vec::new())
            } else {
                decode(new).filter(|e| !e.is_empty() && *e != stored)
            }
        }
        _ => None,
    };
    let from_client = supplied.is_some();
    let mut entries = supplied.unwrap_or(stored);
    let fields = Fields { types };
    let mut changed = FieldSet::default();
    let mut removed = FieldSet::default();
    fields.changes(
        old,
        Some(new),
        types.root(r.definition),
        &ListKind::Atomic,
        "",
        &mut changed,
        &mut removed,
    );
    filter(&mut changed, r, subresource);
    filter(&mut removed, r, subresource);
    changed.member = false;
    removed.member = false;
    let api_version = r.api_version();
    match *tracking {
        Tracking::Apply { set, force, .. } => {
            let mine = |e: &Entry| e.is(manager, "Apply", subresource);
            let mut conflicts: Vec<(String, Vec<String>)> = Vec::new();
            for e in entries.iter_mut().filter(|e| !mine(e)) {
                let clash = e.fields.intersection(&changed);
                if !clash.is_empty() {
                    for path in clash.paths() {
                        conflicts.push((e.describe(), path));
                    }
                    if force {
                        e.fields.subtract(&clash);
                    }
                }
                e.fields.subtract(&removed);
            }
            if !conflicts.is_empty() && !force {
                return Err(conflict_error(conflicts));
            }
            match entries.iter_mut().find(|e| mine(e)) {
                Some(e) => {
                    if e.fields != *set {
                        e.fields = set.clone();
                        e.time = Some(now.to_string());
                    }
                }
                None => entries.push(Entry {
                    manager: manager.to_string(),
                    operation: "Apply".into(),
                    api_version,
                    time: Some(now.to_string()),
                    subresource: subresource.unwrap_or("").to_string(),
                    fields: set.clone(),
                }),
            }
        }
        _ => {
            if changed.is_empty() && removed.is_empty() && !from_client && old.is_some() {
                keep_managed_fields(old, new, &entries);
                return Ok(());
            }
            let mine = |e: &Entry| e.is(manager, "Update", subresource);
            for e in entries.iter_mut().filter(|e| !mine(e)) {
                e.fields.subtract(&changed);
                e.fields.subtract(&removed);
            }
            match entries.iter_mut().find(|e| mine(e)) {
                Some(e) => {
                    let mut fields = e.fields.clone();
                    fields.subtract(&removed);
                    fields.union_with(&changed);
                    if fields != e.fields {
                        e.fields = fields;
                        e.time = Some(now.to_string());
                        e.api_version = api_version;
                    }
                }
                None if !changed.is_empty() => entries.push(Entry {
                    manager: manager.to_string(),
                    operation: "Update".into(),
                    api_version,
                    time: Some(now.to_string()),
                    subresource: subresource.unwrap_or("").to_string(),
                    fields: changed,
                }),
                None => {}
            }
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    cap_update_managers(&mut entries);
    write(new, &entries);
    Ok(())
}

/// Leaves an unchanged write with the stored object's managed fields exactly as they were.
fn keep_managed_fields(old: Option<&Value>, new: &mut Value, entries: &[Entry]) {
    match old.and_then(|o| o.pointer("/metadata/managedFields")) {
        Some(v) => {
            if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("managedFields".into(), v.clone());
            }
        }
        None => write(new, entries),
    }
}

/// Merges the oldest `Update` entries into one `ancient-changes` entry while there are more
/// than kube-apiserver keeps.
fn cap_update_managers(entries: &mut Vec<Entry>) {
    loop {
        let mut updates: Vec<usize> = (0..entries.len())
            .filter(|&i| entries[i].operation == "Update" && entries[i].manager != ANCIENT_CHANGES)
            .collect();
        let ancient = entries.iter().position(|e| e.manager == ANCIENT_CHANGES);
        if updates.len() + usize::from(ancient.is_some()) <= MAX_UPDATE_MANAGERS {
            return;
        }
        updates.sort_by(|&a, &b| entries[a].time.cmp(&entries[b].time));
        let oldest = updates[0];
        let taken = entries.remove(oldest);
        match entries.iter_mut().find(|e| e.manager == ANCIENT_CHANGES) {
            Some(a) => a.fields.union_with(&taken.fields),
            None => entries.push(Entry {
                manager: ANCIENT_CHANGES.into(),
                ..taken
            }),
        }
    }
}

/// Writes `entries` into the object's metadata, in kube-apiserver's order (Apply before
/// Update, then by time and manager).
fn write(obj: &mut Value, entries: &[Entry]) {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if sorted.is_empty() {
        m.remove("managedFields");
    } else {
        m.insert(
            "managedFields".into(),
            Value::Array(sorted.into_iter().map(Entry::to_json).collect()),
        );
    }
}

/// 409 Conflict as kube-apiserver words an apply conflict.
fn conflict_error(mut conflicts: Vec<(String, Vec<String>)>) -> ApiError {
    conflicts.sort();
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, p)| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with {m}"), "field": display_path(p)})
        })
        .collect();
    let message = match conflicts.as_slice() {
        [(m, p)] => format!(
            "Apply failed with 1 conflict: conflict with {m}: {}",
            display_path(p)
        ),
        all => {
            let mut lines = Vec::new();
            let mut last: Option<&str> = None;
            for (m, p) in all {
                if last != Some(m.as_str()) {
                    lines.push(format!("conflicts with {m}:"));
                    last = Some(m);
                }
                lines.push(format!("- {}", display_path(p)));
            }
            format!(
                "Apply failed with {} conflicts: {}",
                all.len(),
                lines.join("\n")
            )
        }
    };
    ApiError::new(409, "Conflict", message).with_details(json!({"causes": causes}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::openapi::Schemas;
    use crate::k8s::resources;

    fn deployments() -> &'static Resource {
        resources::find("apps", "v1", "deployments").expect("deployments are served")
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image,
                        "ports": [{"containerPort": 80}]}]}
                }
            }
        })
    }

    fn applying<'a>(manager: &'a str, set: &'a FieldSet, force: bool) -> Tracking<'a> {
        Tracking::Apply {
            manager,
            subresource: None,
            set,
            force,
        }
    }

    fn updating<'a>(manager: &'a str, subresource: Option<&'a str>) -> Tracking<'a> {
        Tracking::Update {
            manager,
            subresource,
        }
    }

    fn fields_of(obj: &Value) -> Vec<Value> {
        obj.pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_create_owns_what_it_set_with_kube_apiserver_paths() {
        let schemas = Schemas::build();
        let r = deployments();
        let mut obj = deployment(2, "nginx");
        let t = updating("kubectl-create", None);
        track(
            &schemas.field_types,
            r,
            &t,
            None,
            &mut obj,
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let entries = fields_of(&obj);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["manager"], "kubectl-create");
        assert_eq!(entries[0]["operation"], "Update");
        assert_eq!(entries[0]["apiVersion"], "apps/v1");
        let f = &entries[0]["fieldsV1"];
        assert_eq!(f["f:metadata"], json!({"f:labels": {".": {}, "f:app": {}}}));
        assert_eq!(f["f:spec"]["f:selector"], json!({}));
        assert_eq!(f["f:spec"]["f:replicas"], json!({}));
        let c = &f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
        assert_eq!(c["."], json!({}));
        assert_eq!(c["f:image"], json!({}));
        assert_eq!(
            c["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"],
            json!({".": {}, "f:containerPort": {}})
        );
        assert!(f.get("f:apiVersion").is_none() && f.get("f:status").is_none());
    }

    #[test]
    fn an_update_takes_the_fields_it_changes_from_other_managers() {
        let schemas = Schemas::build();
        let r = deployments();
        let t = updating("creator", None);
        let mut old = deployment(2, "nginx");
        track(&schemas.field_types, r, &t, None, &mut old, "t1").unwrap();
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        let t = updating("scaler", None);
        track(&schemas.field_types, r, &t, Some(&old), &mut new, "t2").unwrap();
        let entries = fields_of(&new);
        assert_eq!(entries.len(), 2);
        let creator = entries.iter().find(|e| e["manager"] == "creator").unwrap();
        let scaler = entries.iter().find(|e| e["manager"] == "scaler").unwrap();
        assert!(creator["fieldsV1"]["f:spec"].get("f:replicas").is_none());
        assert_eq!(scaler["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(creator["time"], "t1");
        // Writing the same object again changes nothing.
        let mut again = new.clone();
        track(&schemas.field_types, r, &t, Some(&new), &mut again, "t3").unwrap();
        assert_eq!(again, new);
    }

    #[test]
    fn apply_conflicts_unless_forced_and_prunes_what_it_stopped_naming() {
        let schemas = Schemas::build();
        let idx = &schemas.field_types;
        let r = deployments();
        let config = deployment(2, "nginx");
        let set = applied_set(idx, r, None, &config);
        let apply = applying("me", &set, false);
        let mut live = config.clone();
        track(idx, r, &apply, None, &mut live, "t1").unwrap();
        // Someone else scales.
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(7);
        let other = updating("kubectl-scale", Some("scale"));
        track(idx, r, &other, Some(&live), &mut scaled, "t2").unwrap();
        // Applying replicas 2 again conflicts.
        let mut again = scaled.clone();
        again["spec"]["replicas"] = json!(2);
        let e = track(idx, r, &apply, Some(&scaled), &mut again, "t3").unwrap_err();
        assert_eq!(e.code, 409);
        assert_eq!(
            e.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-scale\" with subresource \"scale\" using apps/v1: .spec.replicas"
        );
        let causes = &e.details.as_ref().unwrap()["causes"];
        assert_eq!(causes[0]["reason"], "FieldManagerConflict");
        assert_eq!(causes[0]["field"], ".spec.replicas");
        // Forced, the applier takes the field.
        let forced = applying("me", &set, true);
        track(idx, r, &forced, Some(&scaled), &mut again, "t3").unwrap();
        assert!(fields_of(&again)
            .iter()
            .all(|e| e["manager"] != "kubectl-scale"));
        // A configuration without the label and the ports: both go, as nobody else owns them.
        let mut smaller = deployment(2, "nginx");
        smaller["metadata"]["labels"] = json!({});
        smaller["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        smaller["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("ports");
        let set2 = applied_set(idx, r, None, &smaller);
        let apply2 = applying("me", &set2, false);
        let mut merged = again.clone();
        prune(idx, r, &apply2, &again, &mut merged);
        assert!(merged.pointer("/metadata/labels/app").is_none());
        assert!(merged
            .pointer("/spec/template/spec/containers/0/ports")
            .is_none());
        assert_eq!(merged.pointer("/spec/replicas"), Some(&json!(2)));
    }

    #[test]
    fn prune_keeps_fields_another_manager_owns() {
        let schemas = Schemas::build();
        let idx = &schemas.field_types;
        let r = deployments();
        let config = deployment(2, "nginx");
        let set = applied_set(idx, r, None, &config);
        let apply = applying("me", &set, false);
        let mut live = config.clone();
        track(idx, r, &apply, None, &mut live, "t1").unwrap();
        // Another applier names the same label with the same value: shared ownership.
        let shared = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}}});
        let set_b = applied_set(idx, r, None, &shared);
        let apply_b = applying("other", &set_b, false);
        let mut both = live.clone();
        track(idx, r, &apply_b, Some(&live), &mut both, "t2").unwrap();
        let mut without = deployment(2, "nginx");
        without["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        let set2 = applied_set(idx, r, None, &without);
        let apply2 = applying("me", &set2, false);
        let mut merged = both.clone();
        prune(idx, r, &apply2, &both, &mut merged);
        assert_eq!(merged.pointer("/metadata/labels/app"), Some(&json!("web")));
    }

    #[test]
    fn supplied_managed_fields_replace_the_stored_ones_and_an_empty_list_resets() {
        let schemas = Schemas::build();
        let idx = &schemas.field_types;
        let r = deployments();
        let t = updating("creator", None);
        let mut old = deployment(2, "nginx");
        track(idx, r, &t, None, &mut old, "t1").unwrap();
        let mut new = old.clone();
        new["metadata"]["managedFields"] = json!([{"manager": "migrated", "operation": "Apply",
            "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        track(idx, r, &t, Some(&old), &mut new, "t2").unwrap();
        let entries = fields_of(&new);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["manager"], "migrated");
        let mut reset = old.clone();
        reset["metadata"]["managedFields"] = json!([]);
        track(idx, r, &t, Some(&old), &mut reset, "t3").unwrap();
        assert!(reset.pointer("/metadata/managedFields").is_none());
    }

    #[test]
    fn manager_names_come_from_the_user_agent_and_are_bounded() {
        assert_eq!(
            manager_name(None, Some("kubectl/v1.33.0 (linux/amd64)"), "CreateOptions").unwrap(),
            "kubectl"
        );
        assert_eq!(
            manager_name(Some("me"), Some("x/1"), "CreateOptions").unwrap(),
            "me"
        );
        let e = manager_name(Some(&"x".repeat(129)), None, "PatchOptions").unwrap_err();
        assert_eq!(e.code, 422);
        assert!(e
            .message
            .starts_with("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long"));
    }
}
