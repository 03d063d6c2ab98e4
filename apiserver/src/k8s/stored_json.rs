//! Reading the JSON this server stores without parsing it: where the top-level metadata
//! begins, and taking `metadata.managedFields` out as raw bytes so that a Table row can carry
//! them without building them as a tree of maps; and putting such raw members back into a
//! serialized answer in place of a placeholder.

/// The string a row's `metadata.managedFields` holds until [`splice_managed_fields`] puts the
/// raw member back; followed by the index of the raw bytes.
const MANAGED_FIELDS_PLACEHOLDER: &str = "capstan-managed-fields:";

/// The placeholder for the raw managed fields numbered `index`.
pub fn placeholder(index: usize) -> serde_json::Value {
    serde_json::Value::String(format!("{MANAGED_FIELDS_PLACEHOLDER}{index}"))
}

/// Where the JSON string starting at `start` ends (one past its closing quote).
fn string_end(v: &[u8], start: usize) -> Option<usize> {
    if v.get(start) != Some(&b'"') {
        return None;
    }
    let mut i = start + 1;
    while i < v.len() {
        match v[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Where the JSON value starting at `start` ends (one past it).
fn value_end(v: &[u8], start: usize) -> Option<usize> {
    match v.get(start)? {
        b'"' => string_end(v, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < v.len() {
                match v[i] {
                    b'"' => {
                        i = string_end(v, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let len = v[start..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']'))?;
            Some(start + len)
        }
    }
}

/// Where the top-level metadata object's members begin in a stored object written by this
/// server (`{"apiVersion":"…","kind":"…","metadata":{`), if the bytes have that shape.
pub fn metadata_open(v: &[u8]) -> Option<usize> {
    let mut i = 1;
    if v.first() != Some(&b'{') {
        return None;
    }
    for key in [&b"\"apiVersion\":"[..], &b"\"kind\":"[..]] {
        if !v.get(i..)?.starts_with(key) {
            return None;
        }
        i = string_end(v, i + key.len())?;
        if v.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
    let m = b"\"metadata\":{";
    v.get(i..)?.starts_with(m).then_some(i + m.len())
}

/// A stored object without its `metadata.managedFields` member, and that member's raw value;
/// `None` when the object has no such member or not the shape this server writes.
pub fn take_managed_fields(v: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let first = metadata_open(v)?;
    let mut i = first;
    loop {
        if v.get(i)? == &b'}' {
            return None;
        }
        let key_end = string_end(v, i)?;
        if v.get(key_end) != Some(&b':') {
            return None;
        }
        let end = value_end(v, key_end + 1)?;
        if &v[i..key_end] == b"\"managedFields\"" {
            let (cut_start, cut_end) = if v.get(end) == Some(&b',') {
                (i, end + 1)
            } else if i > first {
                (i - 1, end)
            } else {
                (i, end)
            };
            let mut rest = Vec::with_capacity(v.len() - (cut_end - cut_start));
            rest.extend_from_slice(&v[..cut_start]);
            rest.extend_from_slice(&v[cut_end..]);
            return Some((rest, &v[key_end + 1..end]));
        }
        match v.get(end)? {
            b',' => i = end + 1,
            _ => return None,
        }
    }
}

/// `out` with every placeholder string `"capstan-managed-fields:<n>"` replaced by `raw[n]`.
pub fn splice_managed_fields(out: &[u8], raw: &[Vec<u8>]) -> Vec<u8> {
    let needle = format!("\"{MANAGED_FIELDS_PLACEHOLDER}");
    let needle = needle.as_bytes();
    let extra: usize = raw.iter().map(Vec::len).sum();
    let mut spliced = Vec::with_capacity(out.len() + extra);
    let mut rest = out;
    while let Some(at) = memchr::memmem::find(rest, needle) {
        let digits = &rest[at + needle.len()..];
        let n_len = digits.iter().take_while(|c| c.is_ascii_digit()).count();
        let index = std::str::from_utf8(&digits[..n_len])
            .ok()
            .and_then(|s| s.parse::<usize>().ok());
        match (index.and_then(|n| raw.get(n)), digits.get(n_len)) {
            (Some(bytes), Some(b'"')) => {
                spliced.extend_from_slice(&rest[..at]);
                spliced.extend_from_slice(bytes);
                rest = &digits[n_len + 1..];
            }
            _ => {
                spliced.extend_from_slice(&rest[..at + needle.len()]);
                rest = digits;
            }
        }
    }
    spliced.extend_from_slice(rest);
    spliced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_members_are_found_only_in_the_shape_the_server_writes() {
        let v = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{}}"#;
        let at = metadata_open(v).unwrap();
        assert_eq!(&v[at..at + 6], br#""name""#);
        assert!(metadata_open(br#"{"apiVersion":"v1","kind":"Pod","metadata":{}}"#).is_some());
        assert!(
            metadata_open(br#"{"action":"x","apiVersion":"v1","kind":"E","metadata":{}}"#)
                .is_none()
        );
        assert!(metadata_open(br#"{"apiVersion":"v1","kind":"Pod"}"#).is_none());
        assert!(metadata_open(b"").is_none());
    }

    #[test]
    fn managed_fields_are_taken_out_wherever_they_are_and_spliced_back() {
        let mf = r#"[{"manager":"m","fieldsV1":{"f:metadata":{"f:labels":{"f:a]}":{}}}}}]"#;
        for doc in [
            format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"managedFields":{mf},"name":"a"}},"spec":{{}}}}"#
            ),
            format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"a","managedFields":{mf}}},"spec":{{}}}}"#
            ),
            format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"labels":{{"x":"}}"}},"managedFields":{mf},"uid":"u"}}}}"#
            ),
            format!(r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"managedFields":{mf}}}}}"#),
        ] {
            let (rest, raw) = take_managed_fields(doc.as_bytes()).unwrap();
            assert_eq!(raw, mf.as_bytes());
            let mut rest: serde_json::Value = serde_json::from_slice(&rest).unwrap();
            let mut whole: serde_json::Value = serde_json::from_str(&doc).unwrap();
            whole["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("managedFields");
            assert_eq!(rest, whole);
            // Back through a placeholder.
            rest["metadata"]["managedFields"] = placeholder(0);
            let out = serde_json::to_vec(&rest).unwrap();
            let back: serde_json::Value =
                serde_json::from_slice(&splice_managed_fields(&out, &[raw.to_vec()])).unwrap();
            let whole: serde_json::Value = serde_json::from_str(&doc).unwrap();
            assert_eq!(back, whole);
        }
        assert!(take_managed_fields(
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}"#
        )
        .is_none());
    }

    #[test]
    fn placeholders_without_raw_bytes_are_left_alone() {
        let out = br#"{"managedFields":"capstan-managed-fields:7","x":"capstan-managed-fields:"}"#;
        assert_eq!(splice_managed_fields(out, &[]), out.to_vec());
    }
}
