//! Typed decoding of request objects through the k8s-openapi types: wrong JSON types are
//! rejected, and unknown fields are dropped, warned about or refused according to
//! `fieldValidation` (Ignore, Warn — the default — or Strict), as kube-apiserver does.

use serde_json::Value;

use super::http::Query;
use super::resources::Resource;
use super::status::{ApiError, ApiResult};
use super::validation::FieldError;

/// The `fieldValidation` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    /// The directive of a request whose options are `options_kind` (`CreateOptions`, …).
    pub fn from_query(q: &Query, options_kind: &str) -> ApiResult<FieldValidation> {
        match q.0.get("fieldValidation").map(String::as_str) {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::invalid_options(
                options_kind,
                &[FieldError::not_supported(
                    "fieldValidation",
                    other,
                    &["", "Ignore", "Strict", "Warn"],
                )],
            )),
        }
    }
}

/// One step of a field path.
enum Step<'a> {
    Field(&'a str),
    Index(usize),
}

/// Renders a path as Kubernetes prints it: `spec.containers[0].colour`.
fn render(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Field(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(n) => {
                s.push('[');
                s.push_str(&n.to_string());
                s.push(']');
            }
        }
    }
    s
}

/// Collects the paths of fields present in `input` but gone from `output` (unknown fields).
/// A path is rendered only for a field that is reported.
fn unknown_fields<'a>(
    input: &'a Value,
    output: &Value,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<String>,
) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                path.push(Step::Field(k));
                match o.get(k) {
                    Some(ov) => unknown_fields(v, ov, path, out),
                    None if v.is_null() => {}
                    None => out.push(render(path)),
                }
                path.pop();
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (n, (iv, ov)) in i.iter().zip(o.iter()).enumerate() {
                path.push(Step::Index(n));
                unknown_fields(iv, ov, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Decodes `obj` as `r`'s type. Returns the typed form and the warnings to send.
pub fn typed(r: &Resource, obj: &Value, mode: FieldValidation) -> ApiResult<(Value, Vec<String>)> {
    let out = (r.roundtrip)(obj).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: {e}",
            r.kind, r.version, r.kind
        ))
    })?;
    let mut unknown = Vec::new();
    if mode != FieldValidation::Ignore {
        unknown_fields(obj, &out, &mut Vec::new(), &mut unknown);
    }
    match mode {
        FieldValidation::Ignore => Ok((out, Vec::new())),
        FieldValidation::Warn => Ok((
            out,
            unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect(),
        )),
        FieldValidation::Strict if unknown.is_empty() => Ok((out, Vec::new())),
        FieldValidation::Strict => {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect();
            Err(ApiError::bad_request(format!(
                "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
                r.kind,
                r.version,
                r.kind,
                list.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_found_at_their_paths() {
        let r = super::super::resources::find("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "bogus": 1},
            "spec": {"containers": [{"name": "c", "image": "i", "colour": "red"}]}});
        let (out, warnings) = typed(r, &pod, FieldValidation::Warn).unwrap();
        assert_eq!(
            warnings,
            vec![
                "unknown field \"metadata.bogus\"",
                "unknown field \"spec.containers[0].colour\""
            ]
        );
        assert!(out.pointer("/spec/containers/0/colour").is_none());
        let e = typed(r, &pod, FieldValidation::Strict).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(e
            .message
            .starts_with("Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"metadata.bogus\""));
        let (_, w) = typed(r, &pod, FieldValidation::Ignore).unwrap();
        assert!(w.is_empty());
        let wrong = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 5}});
        assert_eq!(
            typed(r, &wrong, FieldValidation::Ignore).unwrap_err().code,
            400
        );
    }
}
