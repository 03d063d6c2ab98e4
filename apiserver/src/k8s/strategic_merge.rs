//! Strategic merge patch (`application/strategic-merge-patch+json`) for the built-in types,
//! applied to `serde_json::Value` documents with the same semantics kube-apiserver uses:
//! objects merge recursively and `null` deletes a key; lists whose field has the `merge`
//! strategy are merged element by element (by merge key, or as a set for primitives); other
//! lists are replaced; and the patch directives `$patch`, `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are honoured and never
//! appear in the result. Field strategies come from [`super::patch_meta`] (keyed by OpenAPI
//! definition name) or from `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`
//! extensions on the schema; where the schema says nothing, JSON merge patch rules apply.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::patch_meta::{field_patch, ListPatch};

/// The `$patch` directive key.
const PATCH_DIRECTIVE: &str = "$patch";
/// The `$retainKeys` directive key.
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
/// The prefix of `$setElementOrder/<field>` keys (without the slash).
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";
/// The prefix of `$deleteFromPrimitiveList/<field>` keys (without the slash).
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
/// How many `$ref`/composition hops schema resolution follows before giving up.
const MAX_SCHEMA_HOPS: usize = 32;

/// A read-only index over a set of JSON-schema definitions (name → schema), used to find the
/// type of each field while patching.
///
/// `$ref` strings with the prefixes `#/$defs/`, `#/definitions/` and `#/components/schemas/`
/// are all resolved against the same map. Because schema generators often inline the root type
/// instead of listing it among the definitions, a root schema can be registered under its
/// definition name (tests take it from a whole generated document with
/// `SchemaIndex::from_root_schema`); it is consulted before the definitions map. The server
/// registers every served kind among the definitions, so it needs no root.
#[derive(Clone, Copy, Debug)]
pub struct SchemaIndex<'a> {
    /// The definitions, by OpenAPI name (e.g. `io.k8s.api.core.v1.PodSpec`).
    definitions: Option<&'a Map<String, Value>>,
    /// An extra definition (name, schema) that is not in `definitions`, typically the root.
    root: Option<(&'a str, &'a Value)>,
}

/// A strategic merge patch that cannot be applied. Each message follows the wording of
/// kube-apiserver's for the same failure.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch (or the original document) is not a JSON object.
    #[error("json: cannot unmarshal {found} into Go value of type map[string]interface {{}}")]
    NotAnObject {
        /// The JSON kind that was found instead ("array", "string", "number", "bool").
        found: &'static str,
    },
    /// A `$patch` directive with a value other than `replace` or `delete` (or `merge` in a list).
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownPatchDirective {
        /// The directive value, formatted.
        directive: String,
        /// The map that carried it, formatted.
        map: String,
    },
    /// `$patch: merge` used as a list element.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// An element of a merged list lacks the list's merge key.
    #[error("map: {map} does not contain declared merge key: {merge_key}")]
    MissingMergeKey {
        /// The element, formatted.
        map: String,
        /// The merge key of the list.
        merge_key: String,
    },
    /// A value had the wrong JSON type for its place in the patch.
    #[error("expected a {expected}, but received a {found}")]
    WrongType {
        /// The expected Go type name.
        expected: &'static str,
        /// The Go type name of the value found.
        found: &'static str,
    },
    /// The elements of a merged list (original plus patch) are not all of one JSON type.
    #[error("list element types are not identical: {lists}")]
    MixedListElements {
        /// The original and patch lists, formatted.
        lists: String,
    },
    /// A merged list whose elements are themselves lists.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// A list of objects has the merge strategy but no merge key.
    #[error("cannot merge lists without merge key for {field}")]
    NoMergeKey {
        /// The field holding the list.
        field: String,
    },
    /// A malformed `$retainKeys` directive, or patch keys missing from it.
    #[error("invalid patch format of retainKeys")]
    InvalidRetainKeys,
    /// A malformed `$setElementOrder/<field>` directive.
    #[error("invalid patch format of setElementOrder list")]
    InvalidSetElementOrder,
    /// A `$setElementOrder/<field>` list whose order contradicts the patch list.
    #[error("The order in patch list:\n{patch_list}\n doesn't match $setElementOrder list:\n{order_list}\n")]
    SetElementOrderMismatch {
        /// The patch list, formatted.
        patch_list: String,
        /// The `$setElementOrder` list, formatted.
        order_list: String,
    },
    /// A malformed `$deleteFromPrimitiveList/<field>` directive.
    #[error("invalid patch format of primitive list")]
    InvalidPrimitiveList,
}

/// Applies a strategic merge patch `patch` to `original`, whose type is the definition
/// `root_def` (for example `io.k8s.api.apps.v1.Deployment`), and returns the patched object.
///
/// A `null` original is treated as an empty object. Fields the schema does not describe are
/// patched with JSON merge patch rules.
pub fn strategic_merge(
    schema: &SchemaIndex<'_>,
    root_def: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    merge_objects(schema, root_def, original, patch, false)
}

/// Merges a server-side apply configuration into the live object, as structured-merge-diff
/// does: keyed list items match on every key of the list (ports by port and protocol), live
/// items keep their order and new ones follow in the configuration's order.
pub fn apply_merge(
    schema: &SchemaIndex<'_>,
    root_def: &str,
    live: &Value,
    config: &Value,
) -> Result<Value, PatchError> {
    merge_objects(schema, root_def, live, config, true)
}

/// The shared walk of both merges (`apply`: server-side apply's rules).
fn merge_objects(
    schema: &SchemaIndex<'_>,
    root_def: &str,
    original: &Value,
    patch: &Value,
    apply: bool,
) -> Result<Value, PatchError> {
    let patch = patch.as_object().ok_or(PatchError::NotAnObject {
        found: json_kind_name(patch),
    })?;
    let original = match original {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(PatchError::NotAnObject {
                found: json_kind_name(other),
            })
        }
    };
    let node = schema.definition_node(root_def);
    let patcher = Patcher { schema, apply };
    patcher.merge_map(original, patch, node).map(Value::Object)
}

/// The keys beyond a list's strategic merge key that server-side apply also matches items on,
/// with the value a missing one defaults to: a port is its number and its protocol.
fn extra_apply_keys(merge_key: &str) -> &'static [(&'static str, &'static str)] {
    match merge_key {
        "port" | "containerPort" => &[("protocol", "TCP")],
        _ => &[],
    }
}

impl<'a> SchemaIndex<'a> {
    /// An index over `defs`, a map of definition name → schema.
    pub fn new(defs: &'a Map<String, Value>) -> Self {
        Self {
            definitions: Some(defs),
            root: None,
        }
    }

    /// An index over a whole generated schema document: its `$defs` (or `definitions`) map,
    /// plus the document itself as the root definition named by its `title`, if it has one.
    #[cfg(test)]
    pub fn from_root_schema(root_schema: &'a Value) -> Self {
        let definitions = root_schema
            .get("$defs")
            .or_else(|| root_schema.get("definitions"))
            .and_then(Value::as_object);
        let root = root_schema
            .get("title")
            .and_then(Value::as_str)
            .map(|title| (title, root_schema));
        Self { definitions, root }
    }

    /// The definition `name` with its name borrowed from the index.
    fn lookup(&self, name: &str) -> Option<(&'a str, &'a Value)> {
        if let Some((root_name, root_schema)) = self.root {
            if root_name == name {
                return Some((root_name, root_schema));
            }
        }
        self.definitions
            .and_then(|defs| defs.get_key_value(name))
            .map(|(key, schema)| (key.as_str(), schema))
    }

    /// The node for the definition `name`; unknown names give a node without a schema (but
    /// still carry the name, so the built-in patch table applies).
    pub(super) fn definition_node<'n>(&self, name: &'n str) -> SchemaNode<'n>
    where
        'a: 'n,
    {
        match self.lookup(name) {
            Some((def_name, schema)) => self.resolve(schema).named_if_anonymous(def_name),
            None => SchemaNode {
                definition: Some(name),
                schema: None,
            },
        }
    }

    /// Follows `$ref`s and single-branch compositions (`allOf` with one entry, `anyOf` /
    /// `oneOf` with one non-null entry) down to a concrete schema.
    fn resolve(&self, schema: &'a Value) -> SchemaNode<'a> {
        let mut current = schema;
        let mut definition = None;
        for _ in 0..MAX_SCHEMA_HOPS {
            if let Some(reference) = current.get("$ref").and_then(Value::as_str) {
                let name = strip_ref_prefix(reference);
                match self.lookup(name) {
                    Some((def_name, target)) => {
                        definition = Some(def_name);
                        current = target;
                        continue;
                    }
                    None => {
                        return SchemaNode {
                            definition: Some(name),
                            schema: None,
                        }
                    }
                }
            }
            match single_branch(current) {
                Some(branch) => current = branch,
                None => break,
            }
        }
        SchemaNode {
            definition,
            schema: Some(current),
        }
    }

    /// The schema of property `key` of an object node and the field's patch strategy.
    pub(super) fn field(
        &self,
        node: SchemaNode<'a>,
        key: &str,
    ) -> (SchemaNode<'a>, FieldStrategy<'a>) {
        let from_table = node
            .definition
            .and_then(|def| field_patch(def, key))
            .map(FieldStrategy::from);
        let Some(schema) = node.schema else {
            return (SchemaNode::default(), from_table.unwrap_or_default());
        };
        if let Some(property) = schema.get("properties").and_then(|props| props.get(key)) {
            let strategy = from_table
                .or_else(|| FieldStrategy::from_extensions(property))
                .unwrap_or_default();
            return (self.resolve(property), strategy);
        }
        let child = schema
            .get("additionalProperties")
            .filter(|value| value.is_object())
            .map(|value| self.resolve(value))
            .unwrap_or_default();
        (child, from_table.unwrap_or_default())
    }

    /// The schema of the elements of a list field. Some OpenAPI documents describe a list
    /// field by a `$ref` to its element type rather than as an array; such a node is its own
    /// element schema.
    pub(super) fn items(&self, node: SchemaNode<'a>) -> SchemaNode<'a> {
        let Some(schema) = node.schema else {
            return SchemaNode::default();
        };
        if let Some(items) = schema.get("items").filter(|items| items.is_object()) {
            return self.resolve(items);
        }
        let declared_array = match schema.get("type") {
            Some(Value::String(kind)) => kind == "array",
            Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind.as_str() == Some("array")),
            _ => false,
        };
        if declared_array {
            SchemaNode::default()
        } else {
            node
        }
    }
}

/// A position in the schema: the definition it belongs to (if it is a named definition) and
/// its resolved schema (if known).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SchemaNode<'a> {
    /// The OpenAPI definition name of this node, used to consult the built-in patch table.
    pub(super) definition: Option<&'a str>,
    /// The resolved schema, if any.
    pub(super) schema: Option<&'a Value>,
}

impl<'a> SchemaNode<'a> {
    /// This node, named `name` when resolution did not already find a definition name.
    fn named_if_anonymous(self, name: &'a str) -> Self {
        Self {
            definition: self.definition.or(Some(name)),
            schema: self.schema,
        }
    }
}

/// The patch behaviour of one field.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FieldStrategy<'a> {
    /// Lists are merged rather than replaced.
    pub(super) merge: bool,
    /// Objects are replaced rather than merged.
    pub(super) replace: bool,
    /// The merge key of a list of objects.
    pub(super) merge_key: Option<&'a str>,
}

impl From<ListPatch> for FieldStrategy<'_> {
    fn from(patch: ListPatch) -> Self {
        Self {
            merge: patch.merges(),
            replace: patch.replaces(),
            merge_key: patch.merge_key,
        }
    }
}

impl<'a> FieldStrategy<'a> {
    /// The strategy declared by `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`
    /// on a property schema, if any.
    fn from_extensions(property: &'a Value) -> Option<Self> {
        let strategy = property
            .get("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)?;
        let has = |wanted: &str| strategy.split(',').any(|part| part.trim() == wanted);
        Some(Self {
            merge: has("merge"),
            replace: has("replace"),
            merge_key: property
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
                .filter(|key| !key.is_empty()),
        })
    }
}

/// The patch algorithm, holding the schema it consults.
struct Patcher<'s, 'a> {
    /// The schema definitions.
    schema: &'s SchemaIndex<'a>,
    /// Server-side apply's merge (`apply_merge`) rather than a strategic merge patch.
    apply: bool,
}

impl<'a> Patcher<'_, 'a> {
    /// Merges the patch object `patch` into `original` (an object of schema `node`).
    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        patch: &Map<String, Value>,
        node: SchemaNode<'a>,
    ) -> Result<Map<String, Value>, PatchError> {
        if let Some(directive) = patch.get(PATCH_DIRECTIVE) {
            return match directive.as_str() {
                Some("replace") => Ok(clean_map(patch)),
                Some("delete") => Ok(Map::new()),
                _ => Err(unknown_directive(directive, patch)),
            };
        }

        apply_retain_keys(&mut original, patch)?;
        let ordered_fields = self.apply_element_orders(&mut original, patch, node)?;

        for (patch_key, patch_value) in patch {
            if patch_key == RETAIN_KEYS_DIRECTIVE
                || is_directive_key(patch_key, SET_ELEMENT_ORDER_PREFIX)
            {
                continue;
            }
            let (key, is_delete_list) =
                if is_directive_key(patch_key, DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
                    let field = directive_field(patch_key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)
                        .ok_or(PatchError::InvalidPrimitiveList)?;
                    (field, true)
                } else {
                    (patch_key.as_str(), false)
                };
            if !is_delete_list && ordered_fields.iter().any(|field| field == key) {
                continue;
            }
            if patch_value.is_null() {
                remove_key(&mut original, key);
                continue;
            }
            let Some(slot) = original.get_mut(key) else {
                if !is_delete_list {
                    if let Some(value) = clean_value(patch_value) {
                        original.insert(key.to_owned(), value);
                    }
                }
                continue;
            };
            let merged = if json_kind(slot) != json_kind(patch_value) {
                if is_delete_list {
                    continue;
                }
                clean_value(patch_value)
            } else {
                let original_value = std::mem::take(slot);
                self.merge_field(original_value, patch_value, node, key, is_delete_list)?
            };
            match merged {
                Some(value) => {
                    original.insert(key.to_owned(), value);
                }
                None => remove_key(&mut original, key),
            }
        }
        Ok(original)
    }

    /// Merges one field's patch value into its original value of the same JSON type; `None`
    /// means the field is to be removed.
    fn merge_field(
        &self,
        original_value: Value,
        patch_value: &Value,
        node: SchemaNode<'a>,
        key: &str,
        is_delete_list: bool,
    ) -> Result<Option<Value>, PatchError> {
        let (child, strategy) = self.schema.field(node, key);
        let merged = match (original_value, patch_value) {
            (Value::Object(original_map), Value::Object(patch_map)) => {
                if strategy.replace {
                    Some(Value::Object(clean_map(patch_map)))
                } else {
                    Some(Value::Object(self.merge_map(
                        original_map,
                        patch_map,
                        child,
                    )?))
                }
            }
            (Value::Array(original_list), Value::Array(patch_list)) => {
                if strategy.merge || is_delete_list {
                    let items = self.schema.items(child);
                    let merged = self.merge_list(
                        original_list,
                        patch_list,
                        items,
                        strategy.merge_key,
                        is_delete_list,
                        key,
                    )?;
                    Some(Value::Array(merged.elements))
                } else {
                    clean_value(patch_value)
                }
            }
            (_, scalar) => clean_value(scalar),
        };
        Ok(merged)
    }

    /// Handles every `$setElementOrder/<field>` in `patch`: merges the field's patch list
    /// into `original` and puts the result in the requested order. Returns the fields done.
    fn apply_element_orders(
        &self,
        original: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        node: SchemaNode<'a>,
    ) -> Result<Vec<String>, PatchError> {
        let mut done = Vec::new();
        for (patch_key, order_value) in patch {
            if !is_directive_key(patch_key, SET_ELEMENT_ORDER_PREFIX) {
                continue;
            }
            let field = directive_field(patch_key, SET_ELEMENT_ORDER_PREFIX)
                .ok_or(PatchError::InvalidSetElementOrder)?;
            let order = expect_list(order_value)?;
            let original_list = match original.get(field) {
                Some(value) => Some(expect_list(value)?.clone()),
                None => None,
            };
            let patch_list = match patch.get(field) {
                Some(value) => Some(expect_list(value)?),
                None => None,
            };
            let (child, strategy) = self.schema.field(node, field);
            let merge_key = strategy.merge_key;
            if let Some(patch_list) = patch_list {
                validate_element_order(patch_list, order, merge_key)?;
            }
            let original_list = original_list.unwrap_or_default();
            let mut server_order = original_list.clone();
            let merged = match (original.contains_key(field), patch_list) {
                (false, None) => continue,
                (true, None) => original_list,
                (false, Some(patch_list)) => clean_list(patch_list),
                (true, Some(patch_list)) => {
                    if strategy.merge {
                        let items = self.schema.items(child);
                        let merged = self.merge_list(
                            original_list,
                            patch_list,
                            items,
                            merge_key,
                            false,
                            field,
                        )?;
                        if let Some(order) = merged.server_order_after_deletions {
                            server_order = order;
                        }
                        merged.elements
                    } else {
                        clean_list(patch_list)
                    }
                }
            };
            let ordered = order_merged_list(merged, order, &server_order, merge_key)?;
            original.insert(field.to_owned(), Value::Array(ordered));
            done.push(field.to_owned());
        }
        Ok(done)
    }

    /// Merges the patch list into the original list of a field with the merge strategy (or a
    /// `$deleteFromPrimitiveList` list when `is_delete_list`).
    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: &[Value],
        items: SchemaNode<'a>,
        merge_key: Option<&str>,
        is_delete_list: bool,
        field: &str,
    ) -> Result<MergedList, PatchError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(MergedList::plain(original));
        }
        let element_kind = common_element_kind(&original, patch)?;

        if element_kind != JsonKind::Object {
            if is_delete_list {
                return Ok(MergedList::plain(
                    original
                        .into_iter()
                        .filter(|value| !patch.iter().any(|doomed| json_eq(value, doomed)))
                        .collect(),
                ));
            }
            let mut union: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for value in original.iter().chain(patch) {
                if !union.iter().any(|seen| json_eq(seen, value)) {
                    union.push(value.clone());
                }
            }
            if self.apply {
                return Ok(MergedList::plain(union));
            }
            return order_merged_list(union, patch, &original, None).map(MergedList::plain);
        }

        let merge_key = merge_key.ok_or_else(|| PatchError::NoMergeKey {
            field: field.to_owned(),
        })?;

        // Directive elements first: deletions and a whole-list replacement.
        let original_len = original.len();
        let mut original = original;
        let mut replace_all = false;
        let mut plain_patch: Vec<&Map<String, Value>> = Vec::with_capacity(patch.len());
        for element in patch {
            let element = expect_map(element)?;
            let Some(directive) = element.get(PATCH_DIRECTIVE) else {
                plain_patch.push(element);
                continue;
            };
            match directive.as_str() {
                Some("delete") => {
                    let key_value = element
                        .get(merge_key)
                        .ok_or_else(|| missing_merge_key(element, merge_key))?;
                    original.retain(|item| {
                        !item
                            .get(merge_key)
                            .is_some_and(|candidate| json_eq(candidate, key_value))
                    });
                }
                Some("replace") => replace_all = true,
                Some("merge") => return Err(PatchError::MergeDirectiveInList),
                _ => return Err(unknown_directive(directive, element)),
            }
        }
        let deleted = if replace_all {
            original = plain_patch
                .iter()
                .map(|element| Value::Object(clean_map(element)))
                .collect();
            plain_patch.clear();
            0
        } else {
            original_len - original.len()
        };

        // Then merge each remaining patch element into its match, or append it.
        let server_order = original.clone();
        let mut merged = original;
        let extra_keys = if self.apply {
            extra_apply_keys(merge_key)
        } else {
            &[]
        };
        for element in &plain_patch {
            let key_value = element
                .get(merge_key)
                .ok_or_else(|| missing_merge_key(element, merge_key))?;
            let position = merged.iter().position(|item| {
                item.get(merge_key)
                    .is_some_and(|candidate| json_eq(candidate, key_value))
                    && extra_keys.iter().all(|(k, default)| {
                        let of = |m: Option<&Value>| {
                            m.and_then(Value::as_str).unwrap_or(default).to_string()
                        };
                        of(item.get(*k)) == of(element.get(*k))
                    })
            });
            match position {
                Some(index) => {
                    let current = std::mem::take(&mut merged[index]);
                    let current = match current {
                        Value::Object(map) => map,
                        other => {
                            return Err(PatchError::WrongType {
                                expected: GO_MAP,
                                found: json_kind_name(&other),
                            })
                        }
                    };
                    merged[index] = Value::Object(self.merge_map(current, element, items)?);
                }
                None => merged.push(Value::Object(clean_map(element))),
            }
        }
        if self.apply {
            return Ok(MergedList::plain(merged));
        }
        // kube-apiserver's `$setElementOrder` handling orders server-only elements by the
        // original list as it looks after deletions shifted it in place and new elements were
        // appended into the freed slots; reproduce that view so the orders agree.
        let server_order_after_deletions = (deleted > 0).then(|| {
            let appended = merged.len().saturating_sub(server_order.len());
            let mut view = server_order.clone();
            view.extend(
                merged
                    .iter()
                    .skip(server_order.len())
                    .take(deleted.min(appended))
                    .cloned(),
            );
            view
        });
        let patch_order: Vec<Value> = plain_patch
            .iter()
            .map(|element| Value::Object((*element).clone()))
            .collect();
        let elements = order_merged_list(merged, &patch_order, &server_order, Some(merge_key))?;
        Ok(MergedList {
            elements,
            server_order_after_deletions,
        })
    }
}

/// The result of merging one list.
struct MergedList {
    /// The merged, ordered elements.
    elements: Vec<Value>,
    /// When elements were deleted by merge key: the order kube-apiserver then uses for
    /// server-only elements under `$setElementOrder` (see [`Patcher::merge_list`]).
    server_order_after_deletions: Option<Vec<Value>>,
}

impl MergedList {
    /// A merged list with no deletion side effects.
    fn plain(elements: Vec<Value>) -> Self {
        Self {
            elements,
            server_order_after_deletions: None,
        }
    }
}

/// Removes `key` from `map`, keeping the order of the other entries.
fn remove_key(map: &mut Map<String, Value>, key: &str) {
    map.retain(|existing, _| existing != key);
}

/// Applies a `$retainKeys` directive of `patch` to `original`: checks that every key the patch
/// sets is listed, then drops the keys of `original` that are not listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.get(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let retained = retain.as_array().ok_or(PatchError::InvalidRetainKeys)?;
    let is_retained = |key: &str| retained.iter().any(|value| value.as_str() == Some(key));
    for (key, value) in patch {
        if value.is_null()
            || key == RETAIN_KEYS_DIRECTIVE
            || is_directive_key(key, SET_ELEMENT_ORDER_PREFIX)
            || is_directive_key(key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)
        {
            continue;
        }
        if !is_retained(key) {
            return Err(PatchError::InvalidRetainKeys);
        }
    }
    original.retain(|key, _| is_retained(key));
    Ok(())
}

/// Checks that the (non-deleting) elements of a patch list appear in the same relative order
/// as in its `$setElementOrder` list.
fn validate_element_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    if patch_list.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut kept: Vec<&Value> = Vec::with_capacity(patch_list.len());
    for element in patch_list {
        if merge_key.is_some() {
            let map = expect_map(element)?;
            if map.get(PATCH_DIRECTIVE).and_then(Value::as_str) == Some("delete") {
                continue;
            }
        }
        kept.push(element);
    }
    let (mut patch_index, mut order_index) = (0, 0);
    while patch_index < kept.len() && order_index < order.len() {
        let element = kept[patch_index];
        if element.get(PATCH_DIRECTIVE).is_some() {
            patch_index += 1;
            continue;
        }
        let same = match merge_key {
            None => json_eq(element, &order[order_index]),
            Some(key) => {
                let left = expect_map(element)?;
                let right = expect_map(&order[order_index])?;
                let left_value = left.get(key).ok_or_else(|| missing_merge_key(left, key))?;
                let right_value = right
                    .get(key)
                    .ok_or_else(|| missing_merge_key(right, key))?;
                json_eq(left_value, right_value)
            }
        };
        if same {
            patch_index += 1;
        }
        order_index += 1;
    }
    if patch_index < kept.len() {
        return Err(PatchError::SetElementOrderMismatch {
            patch_list: go_format_list(patch_list),
            order_list: go_format_list(order),
        });
    }
    Ok(())
}

/// Orders a merged list the way kube-apiserver does: the elements named in `patch_order`
/// follow that order, the other ("server-only") elements keep their order in `server_order`,
/// and a server-only element goes before a patch element when it came first in `server_order`.
fn order_merged_list(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    if let Some(key) = merge_key {
        for element in merged.iter().chain(patch_order).chain(server_order) {
            let map = expect_map(element)?;
            if !map.contains_key(key) {
                return Err(missing_merge_key(map, key));
            }
        }
    }
    let identity = |element: &'_ Value| -> Option<Value> {
        match merge_key {
            Some(key) => element.get(key).cloned(),
            None => Some(element.clone()),
        }
    };
    let position_in = |list: &[Value], element: &Value| -> Option<usize> {
        let wanted = identity(element);
        list.iter()
            .position(|candidate| match (&identity(candidate), &wanted) {
                (Some(left), Some(right)) => json_eq(left, right),
                _ => false,
            })
    };

    let (mut from_patch, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|element| position_in(patch_order, element).is_some());
    from_patch.sort_by_key(|element| position_in(patch_order, element).unwrap_or(usize::MAX));
    server_only.sort_by_key(|element| position_in(server_order, element).unwrap_or(usize::MAX));

    let mut ordered = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut server_iter = server_only.into_iter().peekable();
    let mut patch_iter = from_patch.into_iter().peekable();
    loop {
        let take_server = match (server_iter.peek(), patch_iter.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(server), Some(patched)) => {
                match (
                    position_in(server_order, server),
                    position_in(server_order, patched),
                ) {
                    (Some(server_position), Some(patch_position)) => {
                        server_position.cmp(&patch_position) == Ordering::Less
                    }
                    _ => false,
                }
            }
        };
        let next = if take_server {
            server_iter.next()
        } else {
            patch_iter.next()
        };
        if let Some(element) = next {
            ordered.push(element);
        }
    }
    Ok(ordered)
}

/// The JSON type of a value, with all numbers alike (as in Go's decoding to `float64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonKind {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool,
    /// Any number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// The [`JsonKind`] of `value`.
fn json_kind(value: &Value) -> JsonKind {
    match value {
        Value::Null => JsonKind::Null,
        Value::Bool(_) => JsonKind::Bool,
        Value::Number(_) => JsonKind::Number,
        Value::String(_) => JsonKind::String,
        Value::Array(_) => JsonKind::Array,
        Value::Object(_) => JsonKind::Object,
    }
}

/// Go's name for a decoded map.
const GO_MAP: &str = "map[string]interface {}";
/// Go's name for a decoded list.
const GO_LIST: &str = "[]interface {}";

/// Go's type name for the decoded form of `value`, as used in kube-apiserver's messages.
fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => GO_LIST,
        Value::Object(_) => GO_MAP,
    }
}

/// The JSON kind name of `value` as Go's JSON decoder reports it.
fn json_kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The one element kind shared by both lists, or an error if they mix kinds or hold lists.
fn common_element_kind(original: &[Value], patch: &[Value]) -> Result<JsonKind, PatchError> {
    let mut kind = None;
    for value in original.iter().chain(patch) {
        let current = json_kind(value);
        match kind {
            None if current == JsonKind::Array => return Err(PatchError::ListOfLists),
            None => kind = Some(current),
            Some(seen) if seen != current => {
                return Err(PatchError::MixedListElements {
                    lists: format!("[{} {}]", go_format_list(original), go_format_list(patch)),
                })
            }
            Some(_) => {}
        }
    }
    Ok(kind.unwrap_or(JsonKind::Null))
}

/// Equality of decoded JSON values, treating numbers by value (`1` equals `1.0`).
fn json_eq(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => match (left.as_f64(), right.as_f64()) {
            (Some(left), Some(right)) => left == right,
            _ => left == right,
        },
        _ => left == right,
    }
}

/// Whether `key` is the directive `prefix` followed by anything (well-formed or not).
fn is_directive_key(key: &str, prefix: &str) -> bool {
    key.starts_with(prefix)
}

/// The field named by a `<prefix>/<field>` directive key, if well formed.
fn directive_field<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Some(field),
        _ => None,
    }
}

/// `value` as a list, or a type error.
fn expect_list(value: &Value) -> Result<&Vec<Value>, PatchError> {
    value.as_array().ok_or(PatchError::WrongType {
        expected: GO_LIST,
        found: go_type_name(value),
    })
}

/// `value` as a map, or a type error.
fn expect_map(value: &Value) -> Result<&Map<String, Value>, PatchError> {
    value.as_object().ok_or(PatchError::WrongType {
        expected: GO_MAP,
        found: go_type_name(value),
    })
}

/// The error for a list element lacking its merge key.
fn missing_merge_key(map: &Map<String, Value>, merge_key: &str) -> PatchError {
    PatchError::MissingMergeKey {
        map: go_format_map(map),
        merge_key: merge_key.to_owned(),
    }
}

/// The error for an unknown `$patch` value.
fn unknown_directive(directive: &Value, map: &Map<String, Value>) -> PatchError {
    PatchError::UnknownPatchDirective {
        directive: go_format(directive),
        map: go_format_map(map),
    }
}

/// A patch value as it goes into the result when nothing is merged: `null` map entries are
/// dropped, as are directive keys, and maps carrying `$patch` vanish (`None`).
fn clean_value(value: &Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(PATCH_DIRECTIVE) {
                None
            } else {
                Some(Value::Object(clean_map(map)))
            }
        }
        Value::Array(list) => Some(Value::Array(clean_list(list))),
        other => Some(other.clone()),
    }
}

/// The entries of a patch map without `$patch`, other directive keys and `null` values, with
/// nested values cleaned by [`clean_value`].
fn clean_map(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(key, value)| {
            !value.is_null()
                && key.as_str() != PATCH_DIRECTIVE
                && key.as_str() != RETAIN_KEYS_DIRECTIVE
                && !is_directive_key(key, SET_ELEMENT_ORDER_PREFIX)
                && !is_directive_key(key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)
        })
        .filter_map(|(key, value)| clean_value(value).map(|value| (key.clone(), value)))
        .collect()
}

/// A patch list with its elements cleaned by [`clean_value`] (directive elements dropped).
fn clean_list(list: &[Value]) -> Vec<Value> {
    list.iter().filter_map(clean_value).collect()
}

/// Formats a JSON value the way Go's `%v` prints its decoded form.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(list) => go_format_list(list),
        Value::Object(map) => go_format_map(map),
    }
}

/// Formats a list like Go's `%v` (`[a b]`).
fn go_format_list(list: &[Value]) -> String {
    let parts: Vec<String> = list.iter().map(go_format).collect();
    format!("[{}]", parts.join(" "))
}

/// Formats a map like Go's `%v` (`map[k:v k2:v2]`, keys sorted).
fn go_format_map(map: &Map<String, Value>) -> String {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|left, right| left.0.cmp(right.0));
    let parts: Vec<String> = entries
        .into_iter()
        .map(|(key, value)| format!("{key}:{}", go_format(value)))
        .collect();
    format!("map[{}]", parts.join(" "))
}

/// The definition name in a `$ref` string, without its `#/$defs/`, `#/definitions/` or
/// `#/components/schemas/` prefix.
fn strip_ref_prefix(reference: &str) -> &str {
    ["#/$defs/", "#/definitions/", "#/components/schemas/"]
        .iter()
        .find_map(|prefix| reference.strip_prefix(prefix))
        .unwrap_or(reference)
}

/// The single meaningful branch of an `allOf` / `anyOf` / `oneOf` schema, if it has exactly one.
fn single_branch(schema: &Value) -> Option<&Value> {
    if let Some(all_of) = schema.get("allOf").and_then(Value::as_array) {
        if let [only] = all_of.as_slice() {
            return Some(only);
        }
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
            let mut non_null = branches
                .iter()
                .filter(|branch| branch.get("type").and_then(Value::as_str) != Some("null"));
            if let (Some(only), None) = (non_null.next(), non_null.next()) {
                return Some(only);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Pod, Service};
    use serde_json::json;

    /// Applies `patch` to `original` as type `T`, using the schemars schema of k8s-openapi.
    fn patch_as<T: schemars::JsonSchema>(
        original: Value,
        patch: Value,
    ) -> Result<Value, PatchError> {
        let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
        let root = serde_json::to_value(generator.root_schema_for::<T>()).unwrap();
        let index = SchemaIndex::from_root_schema(&root);
        let root_name = root["title"].as_str().unwrap().to_owned();
        strategic_merge(&index, &root_name, &original, &patch)
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "labels": {"app": "web", "tier": "frontend"},
                "finalizers": ["a.example.com/one", "b.example.com/two"]
            },
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "nginx:1.24",
                                "args": ["--a", "--b"],
                                "ports": [{"containerPort": 8080, "name": "http"}],
                                "env": [{"name": "MODE", "value": "prod"}, {"name": "OLD", "value": "1"}]
                            },
                            {"name": "sidecar", "image": "envoy:1"}
                        ]
                    }
                }
            }
        })
    }

    /// The deployment with `edit` applied to its first container.
    fn deployment_with_app(edit: impl FnOnce(&mut Value)) -> Value {
        let mut expected = deployment();
        edit(&mut expected["spec"]["template"]["spec"]["containers"][0]);
        expected
    }

    #[test]
    fn kubectl_apply_image_change() {
        let patch = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"image": "nginx:1.25", "name": "app"}]
            }}}
        });
        let mut expected = deployment_with_app(|app| app["image"] = json!("nginx:1.25"));
        expected["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/last-applied-configuration": "{}"});
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn set_element_order_reorders_containers() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]
        }}}});
        let mut expected = deployment();
        let containers = expected["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap();
        containers.swap(0, 1);
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn env_vars_added_and_removed() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "app",
            "$setElementOrder/env": [{"name": "MODE"}, {"name": "NEW"}],
            "env": [{"name": "NEW", "value": "x"}, {"name": "OLD", "$patch": "delete"}]
        }]}}}});
        let expected = deployment_with_app(|app| {
            app["env"] = json!([{"name": "MODE", "value": "prod"}, {"name": "NEW", "value": "x"}]);
        });
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn replacing_a_container_keeps_server_only_ones_in_place() {
        let original = json!({"spec": {"containers": [
            {"name": "old", "image": "old"}, {"name": "injected", "image": "proxy"}
        ]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "new"}],
            "containers": [{"name": "new", "image": "new"}, {"name": "old", "$patch": "delete"}]
        }});
        let expected = json!({"spec": {"containers": [
            {"name": "injected", "image": "proxy"}, {"name": "new", "image": "new"}
        ]}});
        assert_eq!(patch_as::<Pod>(original, patch).unwrap(), expected);
    }

    #[test]
    fn container_deleted_with_patch_delete() {
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "sidecar", "$patch": "delete"}]
        }}}});
        let mut expected = deployment();
        expected["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .truncate(1);
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn container_ports_merge_by_container_port() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "app",
            "ports": [{"containerPort": 9090, "name": "metrics"}, {"containerPort": 8080, "protocol": "TCP"}]
        }]}}}});
        let expected = deployment_with_app(|app| {
            app["ports"] = json!([
                {"containerPort": 9090, "name": "metrics"},
                {"containerPort": 8080, "name": "http", "protocol": "TCP"}
            ]);
        });
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn new_elements_interleave_after_earlier_server_elements() {
        let original = json!({"spec": {"containers": [
            {"name": "a", "image": "a"}, {"name": "b", "image": "b"}, {"name": "c", "image": "c"}
        ]}});
        let patch = json!({"spec": {"containers": [{"name": "b", "image": "b2"}, {"name": "d", "image": "d"}]}});
        let expected = json!({"spec": {"containers": [
            {"name": "a", "image": "a"}, {"name": "b", "image": "b2"},
            {"name": "d", "image": "d"}, {"name": "c", "image": "c"}
        ]}});
        assert_eq!(patch_as::<Pod>(original, patch).unwrap(), expected);
    }

    #[test]
    fn container_args_are_replaced() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "args": ["--c"]}]}}}});
        let expected = deployment_with_app(|app| app["args"] = json!(["--c"]));
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn tolerations_are_replaced() {
        let original = json!({"spec": {"tolerations": [{"key": "a", "operator": "Exists"}]}});
        let patch = json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}});
        let expected = json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}});
        assert_eq!(patch_as::<Pod>(original, patch).unwrap(), expected);
    }

    #[test]
    fn service_ports_merge_by_port() {
        let original = json!({"spec": {"ports": [
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 8443}
        ]}});
        let patch = json!({"spec": {"ports": [{"port": 443, "targetPort": 9443}, {"name": "dns", "port": 53, "protocol": "UDP"}]}});
        let expected = json!({"spec": {"ports": [
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 9443},
            {"name": "dns", "port": 53, "protocol": "UDP"}
        ]}});
        assert_eq!(patch_as::<Service>(original, patch).unwrap(), expected);
    }

    #[test]
    fn labels_null_deletes_and_merges() {
        let patch =
            json!({"metadata": {"labels": {"tier": null, "track": "stable", "absent": null}}});
        let mut expected = deployment();
        expected["metadata"]["labels"] = json!({"app": "web", "track": "stable"});
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn retain_keys_switches_strategy_to_recreate() {
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        let mut expected = deployment();
        expected["spec"]["strategy"] = json!({"type": "Recreate"});
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn retain_keys_in_volume_elements() {
        let original = json!({"spec": {"volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}}
        ]}});
        let patch = json!({"spec": {"volumes": [
            {"name": "data", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}}
        ]}});
        let expected = json!({"spec": {"volumes": [
            {"name": "data", "configMap": {"name": "cfg"}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}}
        ]}});
        assert_eq!(patch_as::<Pod>(original, patch).unwrap(), expected);
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let patch =
            json!({"metadata": {"finalizers": ["b.example.com/two", "c.example.com/three"]}});
        let mut expected = deployment();
        expected["metadata"]["finalizers"] = json!([
            "a.example.com/one",
            "b.example.com/two",
            "c.example.com/three"
        ]);
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn delete_from_primitive_list_removes_finalizers() {
        let patch =
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/one"]}});
        let mut expected = deployment();
        expected["metadata"]["finalizers"] = json!(["b.example.com/two"]);
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn set_element_order_on_finalizers() {
        let patch = json!({"metadata": {
            "$setElementOrder/finalizers": ["b.example.com/two", "a.example.com/one"]
        }});
        let mut expected = deployment();
        expected["metadata"]["finalizers"] = json!(["b.example.com/two", "a.example.com/one"]);
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn owner_references_merge_by_uid() {
        let original = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1"}
        ]}});
        let patch = json!({"metadata": {"ownerReferences": [
            {"uid": "1", "controller": true},
            {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2"}
        ]}});
        let expected = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2"}
        ]}});
        assert_eq!(patch_as::<Pod>(original, patch).unwrap(), expected);
    }

    #[test]
    fn patch_replace_on_a_map() {
        let patch = json!({"metadata": {"labels": {"$patch": "replace", "only": "this"}}});
        let mut expected = deployment();
        expected["metadata"]["labels"] = json!({"only": "this"});
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn patch_delete_on_a_map_empties_it() {
        let patch = json!({"metadata": {"labels": {"$patch": "delete"}}, "spec": {"paused": true}});
        let mut expected = deployment();
        expected["metadata"]["labels"] = json!({});
        expected["spec"]["paused"] = json!(true);
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn patch_replace_on_a_list() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"$patch": "replace"},
            {"name": "only", "image": "busybox"}
        ]}}}});
        let mut expected = deployment();
        expected["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "only", "image": "busybox"}]);
        assert_eq!(
            patch_as::<Deployment>(deployment(), patch).unwrap(),
            expected
        );
    }

    #[test]
    fn new_fields_are_added_without_directives_or_nulls() {
        let original = json!({"spec": {"containers": [{"name": "a", "image": "a"}]}});
        let patch = json!({"spec": {
            "nodeSelector": {"disk": "ssd", "gone": null},
            "containers": [{"name": "b", "image": "b", "$setElementOrder/env": [{"name": "X"}], "env": [{"name": "X", "value": "1"}]}]
        }});
        // Without `$setElementOrder`, kube-apiserver puts new elements before server-only ones.
        let expected = json!({"spec": {
            "nodeSelector": {"disk": "ssd"},
            "containers": [
                {"name": "b", "image": "b", "env": [{"name": "X", "value": "1"}]},
                {"name": "a", "image": "a"}
            ]
        }});
        assert_eq!(patch_as::<Pod>(original, patch).unwrap(), expected);
    }

    #[test]
    fn unknown_fields_fall_back_to_json_merge() {
        let original = json!({"spec": {"extra": {"keep": 1, "list": [1, 2], "drop": true}}});
        let patch = json!({"spec": {"extra": {"list": [3], "drop": null, "new": "x"}}});
        let expected = json!({"spec": {"extra": {"keep": 1, "list": [3], "new": "x"}}});
        assert_eq!(patch_as::<Pod>(original, patch).unwrap(), expected);
    }

    #[test]
    fn definitions_prefix_and_extensions_are_honoured() {
        let defs = json!({
            "example.Thing": {"type": "object", "properties": {
                "items": {
                    "type": "array",
                    "items": {"$ref": "#/definitions/example.Item"},
                    "x-kubernetes-patch-strategy": "merge",
                    "x-kubernetes-patch-merge-key": "id"
                }
            }},
            "example.Item": {"type": "object"}
        });
        let defs = defs.as_object().unwrap();
        let index = SchemaIndex::new(defs);
        let original = json!({"items": [{"id": 1, "a": 1}]});
        let patch = json!({"items": [{"id": 1, "b": 2}]});
        let result = strategic_merge(&index, "example.Thing", &original, &patch).unwrap();
        assert_eq!(result, json!({"items": [{"id": 1, "a": 1, "b": 2}]}));
    }

    #[test]
    fn non_object_patch_is_rejected() {
        let error = patch_as::<Deployment>(deployment(), json!([1])).unwrap_err();
        assert!(matches!(error, PatchError::NotAnObject { found: "array" }));
        assert_eq!(
            error.to_string(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
    }

    #[test]
    fn merge_list_element_must_be_an_object() {
        let patch = json!({"spec": {"template": {"spec": {"containers": ["app"]}}}});
        let error = patch_as::<Deployment>(deployment(), patch).unwrap_err();
        assert!(matches!(error, PatchError::MixedListElements { .. }));

        let original = json!({"spec": {}});
        let patch =
            json!({"spec": {"containers": [{"name": "a"}], "$setElementOrder/containers": ["a"]}});
        let error = patch_as::<Pod>(original, patch).unwrap_err();
        assert_eq!(
            error.to_string(),
            "expected a map[string]interface {}, but received a string"
        );
    }

    #[test]
    fn merge_list_element_needs_merge_key() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let error = patch_as::<Deployment>(deployment(), patch).unwrap_err();
        assert_eq!(
            error.to_string(),
            "map: map[image:x] does not contain declared merge key: name"
        );
    }

    #[test]
    fn unknown_patch_directives_are_rejected() {
        let patch = json!({"metadata": {"labels": {"$patch": "shuffle"}}});
        let error = patch_as::<Deployment>(deployment(), patch).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown patch type: shuffle in map: map[$patch:shuffle]"
        );

        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "$patch": "merge"}]}}}});
        let error = patch_as::<Deployment>(deployment(), patch).unwrap_err();
        assert_eq!(
            error.to_string(),
            "merging lists cannot yet be specified in the patch"
        );
    }

    #[test]
    fn retain_keys_must_cover_the_patch() {
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2}}}});
        let error = patch_as::<Deployment>(deployment(), patch).unwrap_err();
        assert!(matches!(error, PatchError::InvalidRetainKeys));
        assert_eq!(error.to_string(), "invalid patch format of retainKeys");
    }

    #[test]
    fn set_element_order_must_agree_with_patch_list() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"name": "sidecar", "image": "envoy:2"}]
        }}}});
        let error = patch_as::<Deployment>(deployment(), patch).unwrap_err();
        assert_eq!(
            error.to_string(),
            "The order in patch list:\n[map[image:envoy:2 name:sidecar]]\n doesn't match $setElementOrder list:\n[map[name:app]]\n"
        );
    }
}
