//! events.k8s.io/v1 Events are the stored core/v1 Events in another shape (kube-apiserver
//! keeps one storage for both): converted on the way in and on the way out.

use serde_json::{Map, Value};

/// (events.k8s.io/v1 field, core/v1 field) pairs that only change name.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn rename(obj: Value, to_core: bool, api_version: &str) -> Value {
    let Value::Object(m) = obj else { return obj };
    let mut out = Map::new();
    for (k, v) in m {
        let renamed = RENAMED.iter().find_map(|(ev, core)| {
            if to_core && k == *ev {
                Some(*core)
            } else if !to_core && k == *core {
                Some(*ev)
            } else {
                None
            }
        });
        out.insert(renamed.map(String::from).unwrap_or(k), v);
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    out.insert("kind".into(), Value::String("Event".into()));
    Value::Object(out)
}

/// An events.k8s.io/v1 Event as the stored core/v1 Event.
pub fn to_core(obj: Value) -> Value {
    rename(obj, true, "v1")
}

/// A stored core/v1 Event as an events.k8s.io/v1 Event.
pub fn from_core(obj: Value) -> Value {
    rename(obj, false, "events.k8s.io/v1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_convert_both_ways() {
        let v1 = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "hi", "reason": "Started", "reportingController": "x"});
        let core = to_core(v1.clone());
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "hi");
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(from_core(core), v1);
    }
}
