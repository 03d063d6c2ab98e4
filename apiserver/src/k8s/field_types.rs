//! The shape of every served type as field ownership needs it, compiled once from the OpenAPI
//! schemas: which objects have declared fields (structs), which are maps of data (labels,
//! resource lists), which are atomic (label selectors, references), and for each list field
//! how its elements are identified (by key fields, as a set, or not at all: an atomic list).
//! Walking an object then costs one hash lookup per field rather than a schema search.

use std::collections::HashMap;

use serde_json::Value;

use super::strategic_merge::{SchemaIndex, SchemaNode};

/// Struct types Kubernetes marks atomic (`x-kubernetes-map-type: atomic`): one field, owned
/// and replaced as a whole.
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.SecretReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.TypedObjectReference",
];

/// The key fields of a list's elements, with the default a key field has when a client
/// leaves it out.
pub type ListKeys = &'static [(&'static str, Option<&'static str>)];

const PORT_KEYS: ListKeys = &[("containerPort", None), ("protocol", Some("TCP"))];

/// Lists keyed by more fields than their strategic-merge key (`x-kubernetes-list-map-keys`).
const MULTI_KEY_LISTS: &[(&str, &str, ListKeys)] = &[
    ("io.k8s.api.core.v1.Container", "ports", PORT_KEYS),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", PORT_KEYS),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        &[("port", None), ("protocol", Some("TCP"))],
    ),
];

/// How a list's elements are identified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Not at all: the list is one field, replaced and owned as a whole.
    Atomic,
    /// By value: primitive elements, each its own member.
    Set,
    /// By one key field.
    Keyed(String),
    /// By several key fields.
    MultiKeyed(ListKeys),
}

/// An index into [`FieldTypes`].
pub type TypeId = usize;

/// The type of a field: its value's type and, if it holds a list, the list's rule.
#[derive(Clone, Debug)]
pub struct FieldType {
    pub ty: TypeId,
    pub list: ListKind,
}

/// One type.
#[derive(Clone, Debug)]
pub enum TypeInfo {
    /// A value owned as one field: scalars, atomic structs, anything without a schema.
    Leaf,
    /// An object with declared fields.
    Struct(HashMap<String, FieldType>),
    /// An object whose keys are data, with the type of its values.
    Map(FieldType),
    /// A list, with the type of its elements.
    Array(TypeId),
}

/// Every type reachable from the served kinds.
pub struct FieldTypes {
    types: Vec<TypeInfo>,
    roots: HashMap<String, TypeId>,
}

/// The id of the type nothing is known about.
pub const LEAF: TypeId = 0;

const ATOMIC_FIELD: FieldType = FieldType {
    ty: LEAF,
    list: ListKind::Atomic,
};

impl FieldTypes {
    /// Compiles the types of the definitions named in `roots` and all they reach.
    pub fn build<'a>(schema: SchemaIndex<'a>, roots: impl IntoIterator<Item = &'a str>) -> Self {
        let mut c = Compiler {
            schema,
            types: vec![TypeInfo::Leaf],
            seen: HashMap::new(),
        };
        let mut ids = HashMap::new();
        for name in roots {
            let id = c.compile(schema.definition_node(name));
            ids.insert(name.to_string(), id);
        }
        FieldTypes {
            types: c.types,
            roots: ids,
        }
    }

    /// The type of definition `name` (a leaf if it was not compiled).
    pub fn root(&self, name: &str) -> TypeId {
        self.roots.get(name).copied().unwrap_or(LEAF)
    }

    pub fn info(&self, ty: TypeId) -> &TypeInfo {
        self.types.get(ty).unwrap_or(&TypeInfo::Leaf)
    }

    /// The type of field `name` of an object of type `ty`.
    pub fn field(&self, ty: TypeId, name: &str) -> &FieldType {
        match self.info(ty) {
            TypeInfo::Struct(fields) => fields.get(name).unwrap_or(&ATOMIC_FIELD),
            TypeInfo::Map(values) => values,
            _ => &ATOMIC_FIELD,
        }
    }

    /// The type of the elements of a list of type `ty`.
    pub fn items(&self, ty: TypeId) -> TypeId {
        match self.info(ty) {
            TypeInfo::Array(items) => *items,
            _ => ty,
        }
    }
}

struct Compiler<'a> {
    schema: SchemaIndex<'a>,
    types: Vec<TypeInfo>,
    /// Compiled schemas, by address (stable while the definitions are borrowed).
    seen: HashMap<usize, TypeId>,
}

impl<'a> Compiler<'a> {
    fn compile(&mut self, node: SchemaNode<'a>) -> TypeId {
        let Some(schema) = node.schema else {
            return LEAF;
        };
        if node.definition.is_some_and(|d| ATOMIC_STRUCTS.contains(&d)) {
            return LEAF;
        }
        let addr = schema as *const Value as usize;
        if let Some(id) = self.seen.get(&addr) {
            return *id;
        }
        let id = self.types.len();
        self.types.push(TypeInfo::Leaf);
        self.seen.insert(addr, id);
        let info = if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            let mut fields = HashMap::with_capacity(props.len());
            for name in props.keys() {
                let (child, strategy) = self.schema.field(node, name);
                let list = node
                    .definition
                    .and_then(|def| {
                        MULTI_KEY_LISTS
                            .iter()
                            .find(|(d, f, _)| *d == def && f == name)
                    })
                    .map(|(_, _, keys)| ListKind::MultiKeyed(keys))
                    .unwrap_or(match (strategy.merge, strategy.merge_key) {
                        (true, Some(key)) => ListKind::Keyed(key.to_string()),
                        (true, None) => ListKind::Set,
                        _ => ListKind::Atomic,
                    });
                let ty = self.compile(child);
                fields.insert(name.clone(), FieldType { ty, list });
            }
            TypeInfo::Struct(fields)
        } else if schema
            .get("additionalProperties")
            .is_some_and(Value::is_object)
        {
            let (child, _) = self.schema.field(node, "");
            TypeInfo::Map(FieldType {
                ty: self.compile(child),
                list: ListKind::Atomic,
            })
        } else if is_array(schema) {
            let items = self.schema.items(node);
            TypeInfo::Array(self.compile(items))
        } else {
            TypeInfo::Leaf
        };
        self.types[id] = info;
        id
    }
}

fn is_array(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(kind)) => kind == "array",
        Some(Value::Array(kinds)) => kinds.iter().any(|k| k.as_str() == Some("array")),
        _ => false,
    }
}
