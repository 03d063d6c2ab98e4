//! Table answers (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): the columns and
//! cells of [`super::table`] around each object, with the object itself as
//! PartialObjectMetadata (the default), the full object (`includeObject=Object`) or nothing.

use serde_json::{json, Value};

use super::http::Query;
use super::resources::Resource;
use super::table;

/// The object a row carries.
fn row_object(obj: &Value, include: &str) -> Option<Value> {
    match include {
        "None" => None,
        "Object" => Some(obj.clone()),
        _ => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        })),
    }
}

/// A Table of `items`, with `list_meta` as its metadata.
pub fn table(
    r: &Resource,
    items: &[Value],
    list_meta: Value,
    q: &Query,
    now: jiff::Timestamp,
) -> Value {
    table_with(r, items, list_meta, q, now, true)
}

/// A Table, optionally without column definitions (watch events after the first).
pub fn table_with(
    r: &Resource,
    items: &[Value],
    list_meta: Value,
    q: &Query,
    now: jiff::Timestamp,
    with_columns: bool,
) -> Value {
    let rows = items.iter().map(|o| row(r, o, q, now)).collect();
    from_rows(r, rows, list_meta, with_columns)
}

/// One row: the object's cells and the object as `includeObject` asks.
pub fn row(r: &Resource, obj: &Value, q: &Query, now: jiff::Timestamp) -> Value {
    let include = q.get("includeObject").unwrap_or("Metadata");
    let mut row = json!({"cells": table::cells(r.group, r.plural, obj, now)});
    if let Some(o) = row_object(obj, include) {
        row["object"] = o;
    }
    row
}

/// The column definitions of `r`'s tables.
pub fn columns(r: &Resource) -> Value {
    serde_json::to_value(table::columns(r.group, r.plural)).unwrap_or_else(|_| json!([]))
}

/// A Table of ready rows.
pub fn from_rows(r: &Resource, rows: Vec<Value>, list_meta: Value, with_columns: bool) -> Value {
    let columns = if with_columns { columns(r) } else { json!([]) };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}
