//! Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`) and field
//! selectors (`f=v`, `f==v`, `f!=v`), parsed from query strings and matched against objects; and
//! the structured `LabelSelector` of object specs (matchLabels, matchExpressions).

use serde_json::{Map, Value};

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    /// `a>N`: the label is an integer greater than N.
    Gt(String, i64),
    /// `a<N`: the label is an integer less than N.
    Lt(String, i64),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<LabelReq>,
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn valid_label_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_label_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn set_values(s: &str) -> Result<Vec<String>, String> {
    let inner = s
        .trim()
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| format!("found '{s}', expected: '('"))?;
    let vals: Vec<String> = inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    for v in &vals {
        if !valid_label_value(v) {
            return Err(format!("invalid label value: {v:?}"));
        }
    }
    Ok(vals)
}

/// An error of one requirement, as the selector parser words it.
fn requirement(e: String) -> String {
    format!("unable to parse requirement: {e}")
}

/// The operand of `>` or `<`, which must be an integer.
fn integer_operand(v: &str) -> Result<i64, String> {
    let v = v.trim();
    v.parse().map_err(|_| {
        format!("unable to parse requirement: values[0]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer")
    })
}

impl LabelSelector {
    /// Parses the query-string form. Errors carry a message for a 400 BadRequest.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        let s = s.trim();
        if s.is_empty() {
            return Ok(LabelSelector { reqs });
        }
        for (i, part) in split_top_level(s).into_iter().enumerate() {
            let p = part.trim();
            // The parse errors read as kube-apiserver's selector lexer reports them.
            if p.is_empty() {
                return Err(if i == 0 {
                    "found ',', expected: !, identifier, or 'end of string'".to_string()
                } else {
                    "found '', expected: identifier after ','".to_string()
                });
            }
            if let Some(op) = ["!=", "==", "=", ">", "<"]
                .into_iter()
                .find(|op| p.starts_with(op))
            {
                return Err(format!(
                    "found '{op}', expected: !, identifier, or 'end of string'"
                ));
            }
            let trailing_operator = |rest: &str| {
                rest.find(['=', '!', '>', '<']).map(|at| {
                    let op = if rest[at..].starts_with("!=") || rest[at..].starts_with("==") {
                        &rest[at..at + 2]
                    } else {
                        &rest[at..at + 1]
                    };
                    format!("found '{op}', expected: ',' or 'end of string'")
                })
            };
            let req = if let Some(k) = p.strip_prefix('!') {
                if let Some(e) = trailing_operator(k) {
                    return Err(e);
                }
                LabelReq::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = p.split_once("!=") {
                LabelReq::NotEq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once("==") {
                if let Some(e) = trailing_operator(v) {
                    return Err(e);
                }
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once('=') {
                if let Some(e) = trailing_operator(v) {
                    return Err(e);
                }
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once('>') {
                LabelReq::Gt(k.trim().into(), integer_operand(v)?)
            } else if let Some((k, v)) = p.split_once('<') {
                LabelReq::Lt(k.trim().into(), integer_operand(v)?)
            } else if let Some((k, rest)) = split_word(p, " notin ") {
                LabelReq::NotIn(k.into(), set_values(rest).map_err(requirement)?)
            } else if let Some((k, rest)) = split_word(p, " in ") {
                LabelReq::In(k.into(), set_values(rest).map_err(requirement)?)
            } else {
                LabelReq::Exists(p.to_string())
            };
            let (key, value) = match &req {
                LabelReq::Eq(k, v) | LabelReq::NotEq(k, v) => (k, Some(v)),
                LabelReq::In(k, _)
                | LabelReq::NotIn(k, _)
                | LabelReq::Exists(k)
                | LabelReq::NotExists(k)
                | LabelReq::Gt(k, _)
                | LabelReq::Lt(k, _) => (k, None),
            };
            if !valid_label_key(key) {
                return Err(format!(
                    "unable to parse requirement: invalid label key {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"
                ));
            }
            if let Some(v) = value {
                if !valid_label_value(v) {
                    return Err(format!(
                        "unable to parse requirement: invalid label value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                    ));
                }
            }
            reqs.push(req);
        }
        Ok(LabelSelector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether the labels (a JSON object of strings, or absent) match.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
            LabelReq::Gt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            LabelReq::Lt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }

    /// Whether an object's `metadata.labels` match.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.is_empty() || self.matches(obj.pointer("/metadata/labels").and_then(Value::as_object))
    }

    /// From a structured selector (`matchLabels`, `matchExpressions`); `None` when malformed.
    pub fn from_structured(sel: &Value) -> Option<LabelSelector> {
        let mut reqs = Vec::new();
        if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in ml {
                reqs.push(LabelReq::Eq(k.clone(), v.as_str()?.to_string()));
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e.get("key")?.as_str()?.to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                reqs.push(match e.get("operator")?.as_str()? {
                    "In" => LabelReq::In(key, values),
                    "NotIn" => LabelReq::NotIn(key, values),
                    "Exists" => LabelReq::Exists(key),
                    "DoesNotExist" => LabelReq::NotExists(key),
                    _ => return None,
                });
            }
        }
        Some(LabelSelector { reqs })
    }
}

impl std::fmt::Display for LabelSelector {
    /// The canonical string form (as `metav1.FormatLabelSelector` prints it, sorted by key).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<(String, String)> = self
            .reqs
            .iter()
            .map(|r| match r {
                LabelReq::Eq(k, v) => (k.clone(), format!("{k}={v}")),
                LabelReq::NotEq(k, v) => (k.clone(), format!("{k}!={v}")),
                LabelReq::In(k, vs) => (k.clone(), format!("{k} in ({})", vs.join(","))),
                LabelReq::NotIn(k, vs) => (k.clone(), format!("{k} notin ({})", vs.join(","))),
                LabelReq::Exists(k) => (k.clone(), k.clone()),
                LabelReq::NotExists(k) => (k.clone(), format!("!{k}")),
                LabelReq::Gt(k, n) => (k.clone(), format!("{k}>{n}")),
                LabelReq::Lt(k, n) => (k.clone(), format!("{k}<{n}")),
            })
            .collect();
        parts.sort();
        let s: Vec<String> = parts.into_iter().map(|(_, s)| s).collect();
        write!(f, "{}", s.join(","))
    }
}

fn split_word<'a>(p: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    p.find(word)
        .map(|i| (p[..i].trim(), p[i + word.len()..].trim()))
}

/// Splits on commas that are not escaped with a backslash.
fn split_unescaped_commas(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One field requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldReq {
    pub field: String,
    pub value: String,
    pub equal: bool,
}

/// A parsed field selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub reqs: Vec<FieldReq>,
}

fn unescape_field_value(v: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('\\' | ',' | '=')) => out.push(n),
                Some(n) => return Err(format!("invalid escape sequence: \\{n}")),
                None => return Err("unterminated escape sequence".into()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector { reqs });
        }
        for part in split_unescaped_commas(s) {
            let (field, raw, equal) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, true)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            reqs.push(FieldReq {
                field: field.trim().to_string(),
                value: unescape_field_value(raw.trim())?,
                equal,
            });
        }
        Ok(FieldSelector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// The name an `metadata.name=x` requirement pins, if any (a single-key read).
    pub fn exact_name(&self) -> Option<&str> {
        self.reqs
            .iter()
            .find(|r| r.equal && r.field == "metadata.name")
            .map(|r| r.value.as_str())
    }

    /// Whether the object's fields (read through `get`) match.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.reqs.iter().all(|r| {
            let v = get(&r.field).unwrap_or_default();
            (v == r.value) == r.equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_operators_match_as_kubernetes_does() {
        let labels = json!({"app": "web", "tier": "front"});
        let l = labels.as_object();
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(l);
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("app in (web, db)"));
        assert!(!m("app notin (web)"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m(""));
        assert!(m("tier in (front),app"));
        let err = |s: &str| LabelSelector::parse(s).unwrap_err();
        assert_eq!(err("a=b=c"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(err("!app=x"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(
            err("app in web"),
            "unable to parse requirement: found 'web', expected: '('"
        );
        assert_eq!(err("app=a1,"), "found '', expected: identifier after ','");
        assert_eq!(err("a,,b"), "found '', expected: identifier after ','");
        assert_eq!(
            err("=x"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        let n = json!({"replicas": "3", "name": "x"});
        let gt = |s: &str| LabelSelector::parse(s).unwrap().matches(n.as_object());
        assert!(gt("replicas>2"));
        assert!(!gt("replicas>3"));
        assert!(gt("replicas<4"));
        assert!(!gt("name>1"), "a label that is not an integer is neither");
        assert!(!gt("missing<9"));
        assert!(LabelSelector::parse("replicas>two")
            .unwrap_err()
            .contains("the value must be an integer"));
    }

    #[test]
    fn structured_selectors_print_in_canonical_form() {
        let s =
            LabelSelector::from_structured(&json!({"matchLabels": {"b": "2", "a": "1"}})).unwrap();
        assert_eq!(s.to_string(), "a=1,b=2");
        assert!(LabelSelector::from_structured(
            &json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})
        )
        .is_none());
    }

    #[test]
    fn field_selectors_parse_equality_and_escapes() {
        let f = FieldSelector::parse("metadata.name=x,status.phase!=Running").unwrap();
        assert_eq!(f.exact_name(), Some("x"));
        assert!(f.matches(|k| match k {
            "metadata.name" => Some("x".into()),
            "status.phase" => Some("Pending".into()),
            _ => None,
        }));
        assert!(!f.matches(|_| Some("Running".into())));
        assert_eq!(
            FieldSelector::parse("a=x\\,y").unwrap().reqs[0].value,
            "x,y"
        );
        assert!(FieldSelector::parse("novalue").is_err());
    }
}
