//! Tolerant accessors over user-supplied JSON and field-path builders. Every
//! field of an object may be missing or of the wrong type; these helpers read
//! such fields as Go's zero values (empty string, empty list, no number)
//! instead of failing, and create nested objects for defaulting.

use serde_json::{Map, Value};

/// The path of a child field: `parent.name` (or `name` at the root).
pub fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// The path of a list element: `parent[i]`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The path of a map entry: `parent[key]` (unquoted, as Go prints it).
pub fn key(parent: &str, k: &str) -> String {
    format!("{parent}[{k}]")
}

/// The string at `v[k]`, or "" when missing or not a string.
pub fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The string at `v[k]` when present and a string.
pub fn opt_s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// The integer at `v[k]` when present and integral.
pub fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(as_int)
}

/// An integral JSON number as i64.
pub fn as_int(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Some(f as i64),
        _ => None,
    }
}

/// The boolean at `v[k]`, false when missing.
pub fn boolean(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// The list at `v[k]`, empty when missing or not a list.
pub fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The object at `v[k]` when present and an object.
pub fn obj<'a>(v: &'a Value, k: &str) -> Option<&'a Map<String, Value>> {
    v.get(k).and_then(Value::as_object)
}

/// Whether `v[k]` is present and not null.
pub fn present(v: &Value, k: &str) -> bool {
    v.get(k).is_some_and(|x| !x.is_null())
}

/// The child at `v[k]`, or `Value::Null`.
pub fn at<'a>(v: &'a Value, k: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.get(k).unwrap_or(&NULL)
}

/// String entries of a map (non-string values are skipped), sorted by key.
pub fn string_map(v: &Value, k: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = obj(v, k)
        .map(|m| {
            m.iter()
                .filter_map(|(a, b)| b.as_str().map(|b| (a.clone(), b.to_string())))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The object at `v[k]` for writing, created (replacing null) when missing.
/// `None` when `v` is not an object or `v[k]` holds another type.
pub fn ensure_obj<'a>(v: &'a mut Value, k: &str) -> Option<&'a mut Value> {
    let m = v.as_object_mut()?;
    let slot = m.entry(k.to_string()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    if slot.is_object() {
        Some(slot)
    } else {
        None
    }
}

/// Sets `v[k] = value` when `v[k]` is missing or null.
pub fn default(v: &mut Value, k: &str, value: Value) {
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(k.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

/// Sets `v[k] = value` when `v[k]` is missing, null or "" (a Go string zero value).
pub fn default_str(v: &mut Value, k: &str, value: &str) {
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(k.to_string()).or_insert(Value::Null);
        if slot.is_null() || slot.as_str() == Some("") {
            *slot = Value::String(value.to_string());
        }
    }
}

/// Sets `v[k] = value` when `v[k]` is missing, null or 0 (a Go int zero value).
pub fn default_nonzero(v: &mut Value, k: &str, value: i64) {
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(k.to_string()).or_insert(Value::Null);
        if slot.is_null() || as_int(slot) == Some(0) {
            *slot = Value::from(value);
        }
    }
}

/// Mutable list elements at `v[k]` (empty when missing or not a list).
pub fn arr_mut<'a>(v: &'a mut Value, k: &str) -> std::slice::IterMut<'a, Value> {
    match v.get_mut(k).and_then(Value::as_array_mut) {
        Some(a) => a.iter_mut(),
        None => [].iter_mut(),
    }
}

/// JSON equality that treats a missing field, null, and an empty object or
/// list as the same (Go's semantic DeepEqual after a round trip).
pub fn semantic_eq(a: &Value, b: &Value) -> bool {
    fn empty(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        }
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let null = Value::Null;
            x.iter()
                .all(|(k, xv)| semantic_eq(xv, y.get(k).unwrap_or(&null)))
                && y.iter()
                    .all(|(k, yv)| x.contains_key(k) || semantic_eq(&null, yv))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| semantic_eq(p, q))
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ if empty(a) && empty(b) => true,
        _ => a == b,
    }
}
