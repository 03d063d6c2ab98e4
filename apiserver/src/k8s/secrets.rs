//! A Secret's `stringData`, as kube-apiserver converts a v1 Secret to its stored form: each
//! entry is written into `data` base64-encoded (over an entry of the same key), and
//! `stringData` itself is never stored or returned.

use base64::Engine;
use serde_json::{Map, Value};

/// Moves `stringData` into `data`.
pub fn merge_string_data(obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    let Some(string_data) = o.remove("stringData") else {
        return;
    };
    let Value::Object(entries) = string_data else {
        return;
    };
    if entries.is_empty() {
        return;
    }
    let data = o.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in entries {
            let text = v.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            d.insert(k, Value::String(encoded));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_data_is_encoded_into_data_and_wins_over_it() {
        let mut s = json!({"data": {"x": "eA==", "keep": "aw=="}, "stringData": {"x": "override", "a": "b"}});
        merge_string_data(&mut s);
        assert_eq!(
            s,
            json!({"data": {"x": "b3ZlcnJpZGU=", "keep": "aw==", "a": "Yg=="}})
        );
        let mut only = json!({"stringData": {"a": "b"}});
        merge_string_data(&mut only);
        assert_eq!(only, json!({"data": {"a": "Yg=="}}));
        let mut none = json!({"data": {"a": "Yg=="}});
        merge_string_data(&mut none);
        assert_eq!(none, json!({"data": {"a": "Yg=="}}));
    }
}
