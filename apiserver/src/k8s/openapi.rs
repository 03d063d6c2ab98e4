//! OpenAPI for every served type, generated from the k8s-openapi types' JSON schemas
//! (schemars): `/openapi/v3` (an index with a content hash per group version) and
//! `/openapi/v3/<group-version>` documents with `x-kubernetes-group-version-kind` and the
//! strategic-merge-patch extensions, which `kubectl explain`, client-side validation and
//! server-side field validation detection read; `/openapi/v2` as one Swagger 2.0 JSON document,
//! and in protobuf the minimal document kubectl 1.27/1.28 insist on fetching first.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::field_types::FieldTypes;
use super::patch_meta;
use super::resources::{Resource, RESOURCES};
use super::status::ApiError;
use super::strategic_merge::SchemaIndex;

const REF_PREFIX: &str = "#/components/schemas/";

/// The generated schemas and documents, built once.
pub struct Schemas {
    /// Every definition, by OpenAPI name.
    pub definitions: Map<String, Value>,
    /// Per group-version path (`api/v1`, `apis/apps/v1`): the document's bytes and hash.
    documents: BTreeMap<String, (Vec<u8>, String)>,
    /// The whole API as one Swagger 2.0 document (`/openapi/v2` in JSON).
    swagger: Vec<u8>,
    /// The served kinds' types as field ownership walks them.
    pub field_types: FieldTypes,
}

impl Schemas {
    pub fn build() -> Schemas {
        let mut g = schemars::generate::SchemaSettings::openapi3().into_generator();
        for r in RESOURCES {
            let _ = (r.schema)(&mut g);
        }
        let mut definitions = g.take_definitions(true);
        annotate(&mut definitions);
        let mut by_gv: BTreeMap<String, Vec<&Resource>> = BTreeMap::new();
        for r in RESOURCES {
            let path = r.gv_path().trim_start_matches('/').to_string();
            by_gv.entry(path).or_default().push(r);
        }
        let documents = by_gv
            .into_iter()
            .map(|(path, rs)| {
                let doc = document(&definitions, &rs);
                let bytes = serde_json::to_vec(&doc).unwrap_or_default();
                let hash = format!("{:X}", Sha256::digest(&bytes));
                (path, (bytes, hash))
            })
            .collect();
        let swagger = serde_json::to_vec(&swagger(&definitions)).unwrap_or_default();
        let field_types = FieldTypes::build(
            SchemaIndex::new(&definitions),
            RESOURCES.iter().map(|r| r.definition),
        );
        Schemas {
            definitions,
            documents,
            swagger,
            field_types,
        }
    }

    /// The definitions as a strategic merge patch schema.
    pub fn index(&self) -> SchemaIndex<'_> {
        SchemaIndex::new(&self.definitions)
    }
}

/// Adds the extensions clients look for: the kind of each served type and the patch
/// strategies of list fields.
fn annotate(defs: &mut Map<String, Value>) {
    for r in RESOURCES {
        if let Some(Value::Object(d)) = defs.get_mut(r.definition) {
            d.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": r.group, "kind": r.kind, "version": r.version}]),
            );
        }
    }
    for (def, field, p) in patch_meta::all_field_patches() {
        if let Some(prop) = defs
            .get_mut(*def)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|ps| ps.get_mut(*field))
            .and_then(Value::as_object_mut)
        {
            prop.insert("x-kubernetes-patch-strategy".into(), json!(p.strategy));
            if let Some(k) = p.merge_key {
                prop.insert("x-kubernetes-patch-merge-key".into(), json!(k));
            }
        }
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                if let Some(name) = r.strip_prefix(REF_PREFIX) {
                    out.push(name.to_string());
                }
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{name}")})
}

fn operation(r: &Resource, action: &str, body: bool, with_validation: bool) -> Value {
    let mut params = vec![
        json!({"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}}),
        json!({"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}}),
    ];
    if with_validation {
        params.push(json!({"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}));
    }
    let mut op = json!({
        "operationId": format!("{action}{}", r.kind),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "kind": r.kind, "version": r.version},
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref(r.definition)}}}},
    });
    if body {
        op["parameters"] = json!(params);
        let content_types: &[&str] = if action == "patch" {
            &[
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ]
        } else {
            &[
                "application/json",
                "application/yaml",
                "application/vnd.kubernetes.protobuf",
            ]
        };
        let mut content = Map::new();
        for ct in content_types {
            let schema = if action == "patch" {
                schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
            } else {
                schema_ref(r.definition)
            };
            content.insert((*ct).into(), json!({"schema": schema}));
        }
        op["requestBody"] = json!({"content": content, "required": true});
    }
    op
}

/// The collection and item paths of `r`, each verb's operation made by `op(action, has_body)`.
fn add_paths(paths: &mut Map<String, Value>, r: &Resource, op: impl Fn(&str, bool) -> Value) {
    let base = if r.namespaced {
        format!("{}/namespaces/{{namespace}}/{}", r.gv_path(), r.plural)
    } else {
        format!("{}/{}", r.gv_path(), r.plural)
    };
    paths.insert(
        base.clone(),
        json!({"get": op("list", false), "post": op("post", true)}),
    );
    paths.insert(
        format!("{base}/{{name}}"),
        json!({
            "get": op("get", false),
            "put": op("put", true),
            "patch": op("patch", true),
            "delete": op("delete", false),
        }),
    );
}

fn document(defs: &Map<String, Value>, rs: &[&Resource]) -> Value {
    let mut paths = Map::new();
    let mut roots = Vec::new();
    for r in rs {
        roots.push(r.definition.to_string());
        // Writes with a body take `fieldValidation`.
        add_paths(&mut paths, r, |action, body| {
            operation(r, action, body, body)
        });
    }
    // Every definition reachable from the kinds.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo = roots;
    todo.push("io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into());
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(d) = defs.get(&name) {
            let mut refs = Vec::new();
            collect_refs(d, &mut refs);
            todo.extend(refs);
        }
    }
    let mut schemas = Map::new();
    for name in seen {
        match defs.get(&name) {
            Some(d) => schemas.insert(name, d.clone()),
            None if name.ends_with(".Patch") => schemas.insert(
                name,
                json!({"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"}),
            ),
            None => None,
        };
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": super::version::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// The v2 form of a v3 schema: references point into `definitions`.
fn v2_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => (
                        k.clone(),
                        json!(r.replacen(REF_PREFIX, "#/definitions/", 1)),
                    ),
                    _ => (k.clone(), v2_schema(x)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(v2_schema).collect()),
        other => other.clone(),
    }
}

/// A v2 operation on `r`: `action` with (`body`) a request body.
fn v2_operation(r: &Resource, action: &str, body: bool) -> Value {
    let target = format!("#/definitions/{}", r.definition);
    let mut op = json!({
        "operationId": format!("{action}{}", r.kind),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "kind": r.kind, "version": r.version},
        "produces": ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
        "schemes": ["https"],
        "responses": {"200": {"description": "OK", "schema": {"$ref": target}}, "401": {"description": "Unauthorized"}},
    });
    if body {
        let patch = action == "patch";
        let schema = if patch {
            json!({"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"})
        } else {
            json!({"$ref": target})
        };
        op["parameters"] = json!([
            {"name": "body", "in": "body", "required": true, "schema": schema},
            {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": true},
            {"name": "fieldManager", "in": "query", "type": "string", "uniqueItems": true},
            {"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": true},
        ]);
        op["consumes"] = if patch {
            json!([
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ])
        } else {
            json!(["*/*"])
        };
    }
    op
}

/// The Swagger 2.0 document of every served type (what `/openapi/v2` answers in JSON).
fn swagger(defs: &Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for r in RESOURCES {
        add_paths(&mut paths, r, |action, body| v2_operation(r, action, body));
    }
    let mut definitions: Map<String, Value> = defs
        .iter()
        .map(|(k, d)| (k.clone(), v2_schema(d)))
        .collect();
    definitions
        .entry("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
        .or_insert_with(|| json!({"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"}));
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": super::version::GIT_VERSION},
        "paths": paths,
        "definitions": definitions,
    })
}

/// `GET /openapi/v3`.
pub async fn v3_index(axum::extract::State(api): axum::extract::State<super::KubeApi>) -> Response {
    let mut paths = Map::new();
    for (path, (_, hash)) in &api.schemas().documents {
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    super::http::json_response(StatusCode::OK, &json!({"paths": paths}), &[])
}

/// `GET /openapi/v3/<group-version>`: cacheable forever when asked for by its hash.
pub async fn v3_document(
    axum::extract::State(api): axum::extract::State<super::KubeApi>,
    Path(path): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some((bytes, hash)) = api.schemas().documents.get(path.trim_matches('/')) else {
        return ApiError::no_route().into_response();
    };
    let q = super::http::Query::parse(q.as_deref());
    let mut resp = Response::new(Body::from(bytes.clone()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if q.get("hash") == Some(hash.as_str()) {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, immutable"),
        );
        resp.headers_mut().insert(
            header::EXPIRES,
            HeaderValue::from_static("Fri, 01 Jan 2100 00:00:00 GMT"),
        );
    } else {
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        );
    }
    if let Ok(e) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        resp.headers_mut().insert(header::ETAG, e);
    }
    resp
}

/// `GET /openapi/v2`: the Swagger 2.0 document in JSON; asked for in protobuf (as kubectl does),
/// a document with only `swagger: "2.0"` in the gnostic encoding, which kubectl 1.27 and 1.28
/// need to answer before they use the v3 documents (where every client of ours reads the types).
pub async fn v2(
    axum::extract::State(api): axum::extract::State<super::KubeApi>,
    headers: axum::http::HeaderMap,
) -> Response {
    let protobuf = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("protobuf"));
    let (body, content_type) = if protobuf {
        (
            vec![0x0a, 0x03, b'2', b'.', b'0'],
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        )
    } else {
        (api.schemas().swagger.clone(), "application/json")
    };
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
