//! Resource quantities (`500m`, `1Gi`, `2e3`): parsing them into a number
//! good enough to compare requests with limits, and the message
//! kube-apiserver gives for a malformed one.

use serde_json::Value;

/// The message for a string that is not a quantity.
pub const QUANTITY_FORMAT_MSG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Parses a quantity string into its numeric value; `None` when malformed.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let bytes = q.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+') | Some(b'-')) {
        i = 1;
    }
    let num_start = i;
    let mut dots = 0;
    let mut digits = 0;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        if bytes[i] == b'.' {
            dots += 1;
        } else {
            digits += 1;
        }
        i += 1;
    }
    if digits == 0 || dots > 1 {
        return None;
    }
    let number: f64 = q.get(..i)?.parse().ok().or_else(|| {
        // "5." and ".5" are accepted by Kubernetes; Rust accepts them too, but be safe.
        let body = q.get(num_start..i)?;
        format!("0{body}0").parse::<f64>().ok()
    })?;
    let suffix = q.get(i..)?;
    let mult = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => {
            let exp = &s[1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let e: i32 = exp.parse().ok()?;
            10f64.powi(e)
        }
        _ => return None,
    };
    Some(number * mult)
}

/// A quantity JSON value (string or number) as a number; `None` when malformed.
pub fn value(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => parse(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// The quantity as the user wrote it, for messages.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse("500m"), Some(0.5));
        assert_eq!(parse("1Gi"), Some(1073741824.0));
        assert_eq!(parse("2e3"), Some(2000.0));
        assert_eq!(parse("1.5"), Some(1.5));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse("1Gb"), None);
        assert_eq!(parse(""), None);
    }
}
