//! Field-level validation errors, shaped like apimachinery's `field.Error`:
//! an error type, the JSON path of the offending field, the bad value and a
//! detail. `message()` renders the body kube-apiserver puts in a StatusCause,
//! including Go's way of printing the bad value (`%q` for strings, plain
//! numbers, `%#v` for the maps, lists and structs whose Go type the caller
//! names through `go_value`, sorted and HTML-escaped JSON for the rest).

use serde_json::Value;

/// The kind of a field error; one-to-one with the StatusCause `reason`.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorType {
    /// A required value is missing (`FieldValueRequired`).
    Required,
    /// The value is malformed (`FieldValueInvalid`).
    Invalid,
    /// The value is not one of an enumeration (`FieldValueNotSupported`).
    NotSupported,
    /// The value collides with another that must be unique (`FieldValueDuplicate`).
    Duplicate,
    /// The value is too long (`FieldValueTooLong`).
    TooLong,
    /// A list has too many items (`FieldValueTooMany`).
    TooMany,
    /// The value is not allowed in this context (`FieldValueForbidden`).
    Forbidden,
    /// A referenced value does not exist (`FieldValueNotFound`).
    NotFound,
}

/// One validation failure of one field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// What went wrong.
    pub kind: ErrorType,
    /// The field path, e.g. `spec.template.spec.containers[0].image`.
    pub field: String,
    /// The offending value; `None` when it is not shown in the message.
    pub bad_value: Option<Value>,
    /// The value as Go's `%#v` prints it, when the caller knows its Go type (see `go_value`);
    /// otherwise `bad_value` is printed.
    pub go_value: Option<String>,
    /// Free-form explanation appended after the value.
    pub detail: String,
}

/// A list of field errors, in the order they were found.
pub type FieldErrors = Vec<FieldError>;

impl FieldError {
    /// A malformed value of a known Go type, printed as `go` (one of `go_value`'s printers).
    pub fn invalid_go(
        field: impl Into<String>,
        value: Value,
        go: String,
        detail: impl Into<String>,
    ) -> Self {
        let mut e = Self::invalid(field, value, detail);
        e.go_value = Some(go);
        e
    }

    /// A missing value.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Required,
            field: field.into(),
            bad_value: None,
            go_value: None,
            detail: detail.into(),
        }
    }

    /// A malformed value.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: ErrorType::Invalid,
            field: field.into(),
            bad_value: Some(value.into()),
            go_value: None,
            detail: detail.into(),
        }
    }

    /// A value outside an enumeration; lists the supported values in the given order.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<Value>,
        valid: &[&str],
    ) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self {
            kind: ErrorType::NotSupported,
            field: field.into(),
            bad_value: Some(value.into()),
            go_value: None,
            detail,
        }
    }

    /// A value that must be unique but is repeated.
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            kind: ErrorType::Duplicate,
            field: field.into(),
            bad_value: Some(value.into()),
            go_value: None,
            detail: String::new(),
        }
    }

    /// A value longer than `max` bytes.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self {
            kind: ErrorType::TooLong,
            field: field.into(),
            bad_value: None,
            go_value: None,
            detail: format!("may not be more than {max} {unit}"),
        }
    }

    /// A list with `actual` items where at most `max` are allowed.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self {
            kind: ErrorType::TooMany,
            field: field.into(),
            bad_value: Some(Value::from(actual)),
            go_value: None,
            detail: format!("must have at most {max} {unit}"),
        }
    }

    /// A value not permitted under the current conditions.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Forbidden,
            field: field.into(),
            bad_value: None,
            go_value: None,
            detail: detail.into(),
        }
    }

    /// A reference to something that does not exist.
    pub fn not_found(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            kind: ErrorType::NotFound,
            field: field.into(),
            bad_value: Some(value.into()),
            go_value: None,
            detail: String::new(),
        }
    }

    /// The StatusCause reason, e.g. `FieldValueRequired`.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::NotFound => "FieldValueNotFound",
        }
    }

    /// The human-readable name of the error type, e.g. `Required value`.
    fn type_text(&self) -> &'static str {
        match self.kind {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::NotFound => "Not found",
        }
    }

    /// The cause message without the field name (apimachinery's `ErrorBody`).
    pub fn message(&self) -> String {
        let mut s = match self.kind {
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong => {
                self.type_text().to_string()
            }
            _ => match (&self.go_value, &self.bad_value) {
                (Some(go), _) => format!("{}: {go}", self.type_text()),
                (None, None) => self.type_text().to_string(),
                (None, Some(v)) => format!("{}: {}", self.type_text(), render_value(v)),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// Renders a bad value the way Go's error body does: strings quoted with
/// `%q`, scalars plainly, objects and arrays as Go's `json.Marshal` would.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        _ => {
            let mut out = String::new();
            go_json(v, &mut out);
            out
        }
    }
}

/// Quotes a string like Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Encodes JSON like Go's `encoding/json`: object keys sorted, `<`, `>`
/// and `&` escaped as `\u003c` and friends.
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                if let Some(val) = m.get(k.as_str()) {
                    go_json(val, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, val) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(val, out);
            }
            out.push(']');
        }
        Value::String(s) => go_json_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages() {
        assert_eq!(
            FieldError::required("a", "").to_string(),
            "a: Required value"
        );
        assert_eq!(
            FieldError::not_supported("p", "Sometimes", &["Always", "OnFailure", "Never"])
                .message(),
            r#"Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#
        );
        assert_eq!(
            FieldError::invalid("x", -1, "must be greater than or equal to 0").message(),
            "Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            FieldError::invalid("x", json!({"b": "<", "a": 1}), "d").message(),
            r#"Invalid value: {"a":1,"b":"\u003c"}: d"#
        );
        assert_eq!(
            FieldError::too_long("data", 1048576).message(),
            "Too long: may not be more than 1048576 bytes"
        );
        assert_eq!(
            FieldError::forbidden("f", "nope").reason(),
            "FieldValueForbidden"
        );
    }
}
