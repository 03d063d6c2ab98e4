//! Table-driven walk from a protobuf-encoded Kubernetes message to its JSON form,
//! following the field table in `table.rs` (see `schema.rs` for its types).

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::schema::{Field, Kind, Message, Special, INLINE, OMIT_EMPTY, REPEATED};
use super::table::{MESSAGES, TOP_LEVEL};
use super::wire::{Reader, FIXED64, LEN, VARINT};
use super::{ProtobufError, MAGIC, MAX_DEPTH};

/// Seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z), which Kubernetes encodes for unset times.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// The message `MESSAGES[index]`.
fn message(index: u16) -> Result<&'static Message, ProtobufError> {
    MESSAGES.get(usize::from(index)).ok_or_else(|| {
        ProtobufError::Malformed(format!("internal: no message #{index} in the table"))
    })
}

/// Finds the message of a top-level kind.
pub(crate) fn top_level(api_version: &str, kind: &str) -> Option<u16> {
    TOP_LEVEL
        .iter()
        .find(|t| t.kind == kind && (t.api_version == api_version || t.api_version == "*"))
        .map(|t| t.message)
}

/// Decodes a `k8s\0` envelope at nesting `depth` (see [`super::decode_object`]).
pub(crate) fn decode_envelope(
    body: &[u8],
    depth: usize,
) -> Result<(String, String, Value), ProtobufError> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let (mut api_version, mut kind) = (String::new(), String::new());
    let (mut raw, mut encoding): (&[u8], String) = (&[], String::new());
    let mut r = Reader::new(rest);
    while !r.is_empty() {
        let (tag, wt) = r.key()?;
        match (tag, wt) {
            (1, LEN) => {
                let mut tm = Reader::new(r.bytes()?);
                while !tm.is_empty() {
                    match tm.key()? {
                        (1, LEN) => api_version = lossy(tm.bytes()?),
                        (2, LEN) => kind = lossy(tm.bytes()?),
                        (_, wt) => tm.skip(wt)?,
                    }
                }
            }
            (2, LEN) => raw = r.bytes()?,
            (3, LEN) => encoding = lossy(r.bytes()?),
            (4, LEN) => drop(r.bytes()?),
            (1..=4, wt) => {
                return Err(ProtobufError::WireType {
                    field: "runtime.Unknown",
                    wire_type: wt,
                })
            }
            (_, wt) => r.skip(wt)?,
        }
    }
    if !encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(encoding));
    }
    if kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    let index = top_level(&api_version, &kind).ok_or_else(|| ProtobufError::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let mut object = match decode_message(raw, index, depth + 1)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    object.insert("apiVersion".into(), Value::String(api_version.clone()));
    object.insert("kind".into(), Value::String(kind.clone()));
    Ok((api_version, kind, Value::Object(object)))
}

/// Decodes the message `MESSAGES[index]` from `buf` into its JSON form.
pub(crate) fn decode_message(buf: &[u8], index: u16, depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep(MAX_DEPTH));
    }
    let msg = message(index)?;
    if msg.special != Special::None {
        return decode_special(buf, msg, depth);
    }
    let mut out = Map::new();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (tag, wt) = r.key()?;
        let Some(field) = msg.field(tag) else {
            r.skip(wt)?;
            continue;
        };
        decode_field(&mut r, wt, msg, field, &mut out, depth)?;
    }
    Ok(Value::Object(out))
}

/// Decodes one occurrence of `field` (wire type `wt`) into `out`.
fn decode_field(
    r: &mut Reader<'_>,
    wt: u8,
    msg: &'static Message,
    field: &'static Field,
    out: &mut Map<String, Value>,
    depth: usize,
) -> Result<(), ProtobufError> {
    let bad = || ProtobufError::WireType {
        field: msg.name,
        wire_type: wt,
    };
    let repeated = field.has(REPEATED);
    match field.kind {
        Kind::Bool | Kind::I32 | Kind::I64 | Kind::F64 if repeated && wt == LEN => {
            // Packed repeated scalars.
            let mut packed = Reader::new(r.bytes()?);
            while !packed.is_empty() {
                let v = scalar(
                    &mut packed,
                    field.kind,
                    if field.kind == Kind::F64 {
                        FIXED64
                    } else {
                        VARINT
                    },
                )
                .ok_or_else(bad)??;
                push(out, field.json, v);
            }
            Ok(())
        }
        Kind::Bool | Kind::I32 | Kind::I64 | Kind::F64 => {
            let v = scalar(r, field.kind, wt).ok_or_else(bad)??;
            put(out, field, v);
            Ok(())
        }
        Kind::Str
        | Kind::Bytes
        | Kind::Msg(_)
        | Kind::MapStr
        | Kind::MapBytes
        | Kind::MapMsg(_)
            if wt != LEN =>
        {
            Err(bad())
        }
        Kind::Str => {
            let v = Value::String(lossy(r.bytes()?));
            put(out, field, v);
            Ok(())
        }
        Kind::Bytes => {
            let v = Value::String(base64::engine::general_purpose::STANDARD.encode(r.bytes()?));
            put(out, field, v);
            Ok(())
        }
        Kind::Msg(index) => {
            let v = decode_message(r.bytes()?, index, depth + 1)?;
            if field.has(INLINE) {
                if let Value::Object(inner) = v {
                    out.extend(inner);
                }
            } else if repeated {
                push(out, field.json, v);
            } else {
                // A repeated occurrence of a singular message merges into the earlier one.
                match (out.get_mut(field.json), v) {
                    (Some(Value::Object(prev)), Value::Object(next)) => prev.extend(next),
                    (_, v) => {
                        out.insert(field.json.to_owned(), v);
                    }
                }
            }
            Ok(())
        }
        Kind::MapStr | Kind::MapBytes | Kind::MapMsg(_) => {
            let (key, value) = map_entry(r.bytes()?, field.kind, msg, depth)?;
            let entry = out
                .entry(field.json.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(key, value);
            }
            Ok(())
        }
    }
}

/// Reads a scalar of `kind` with wire type `wt`; `None` when the wire type does not fit.
fn scalar(r: &mut Reader<'_>, kind: Kind, wt: u8) -> Option<Result<Value, ProtobufError>> {
    Some(match (kind, wt) {
        (Kind::Bool, VARINT) => r.varint().map(|v| Value::Bool(v != 0)),
        // int32 values are sign-extended varints; truncation is the protobuf semantics.
        (Kind::I32, VARINT) => r.varint().map(|v| Value::from(v as i64 as i32)),
        (Kind::I64, VARINT) => r.varint().map(|v| Value::from(v as i64)),
        (Kind::F64, FIXED64) => r
            .fixed64()
            .map(|v| Number::from_f64(f64::from_bits(v)).map_or(Value::Null, Value::Number)),
        _ => return None,
    })
}

/// Sets a singular field, honouring `OMIT_EMPTY` (last occurrence wins).
fn put(out: &mut Map<String, Value>, field: &Field, v: Value) {
    if field.has(REPEATED) {
        push(out, field.json, v);
        return;
    }
    let zero = match &v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    };
    if zero && field.has(OMIT_EMPTY) {
        out.remove(field.json);
    } else {
        out.insert(field.json.to_owned(), v);
    }
}

/// Appends to a repeated field's array.
fn push(out: &mut Map<String, Value>, json: &str, v: Value) {
    let entry = out
        .entry(json.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = entry {
        items.push(v);
    }
}

/// Decodes one map entry message {1 key, 2 value}.
fn map_entry(
    buf: &[u8],
    kind: Kind,
    msg: &'static Message,
    depth: usize,
) -> Result<(String, Value), ProtobufError> {
    let mut key = String::new();
    let mut value: Option<&[u8]> = None;
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => key = lossy(r.bytes()?),
            (2, LEN) => value = Some(r.bytes()?),
            (1 | 2, wt) => {
                return Err(ProtobufError::WireType {
                    field: msg.name,
                    wire_type: wt,
                })
            }
            (_, wt) => r.skip(wt)?,
        }
    }
    let raw = value.unwrap_or_default();
    let value = match kind {
        Kind::MapBytes => Value::String(base64::engine::general_purpose::STANDARD.encode(raw)),
        Kind::MapMsg(index) => decode_message(raw, index, depth + 1)?,
        _ => Value::String(lossy(raw)),
    };
    Ok((key, value))
}

/// Decodes a message with a non-object JSON form.
fn decode_special(buf: &[u8], msg: &'static Message, depth: usize) -> Result<Value, ProtobufError> {
    // Collect the (few) fields these messages have: varints and length-delimited slices by tag.
    let mut ints = [0u64; 4];
    let mut slices: [&[u8]; 4] = [&[]; 4];
    let mut present = [false; 4];
    let mut items = Vec::new();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (tag, wt) = r.key()?;
        let slot = usize::try_from(tag).ok().filter(|&t| t < 4);
        match (slot, wt) {
            (Some(t), VARINT) => {
                ints[t] = r.varint()?;
                present[t] = true;
            }
            (Some(t), LEN) => {
                let b = r.bytes()?;
                if t == 1 && msg.special == Special::StringList {
                    items.push(Value::String(lossy(b)));
                }
                slices[t] = b;
                present[t] = true;
            }
            (_, wt) => r.skip(wt)?,
        }
    }
    let bad_json = |e: serde_json::Error| ProtobufError::InvalidEmbedded {
        field: msg.name,
        reason: e.to_string(),
    };
    Ok(match msg.special {
        Special::Time | Special::MicroTime => {
            let seconds = ints[1] as i64;
            let nanos = ints[2] as i64 as i32;
            // Kubernetes encodes the zero time as an empty message; Go's JSON for it is null.
            if buf.is_empty() || (seconds == GO_ZERO_TIME_SECONDS && nanos == 0) {
                Value::Null
            } else {
                Value::String(format_time(
                    seconds,
                    nanos,
                    msg.special == Special::MicroTime,
                )?)
            }
        }
        Special::Duration => Value::String(go_duration(ints[1] as i64)),
        Special::Quantity => {
            let s = lossy(slices[1]);
            Value::String(if s.is_empty() { "0".into() } else { s })
        }
        Special::IntOrString => {
            if ints[1] == 1 {
                Value::String(lossy(slices[3]))
            } else {
                Value::from(ints[2] as i64 as i32)
            }
        }
        Special::RawExtension => {
            let raw = slices[1];
            if !present[1] || raw.is_empty() {
                Value::Null
            } else if raw.starts_with(MAGIC) {
                decode_envelope(raw, depth)?.2
            } else {
                serde_json::from_slice(raw).map_err(bad_json)?
            }
        }
        Special::FieldsV1 => {
            if slices[1].is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(slices[1]).map_err(bad_json)?
            }
        }
        Special::StringList => Value::Array(items),
        Special::None => Value::Null,
    })
}

/// Formats a Unix time as Kubernetes does: UTC RFC 3339, with 6 fractional digits for MicroTime.
fn format_time(seconds: i64, nanos: i32, micro: bool) -> Result<String, ProtobufError> {
    let nanos = i64::from(nanos);
    let seconds = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or(ProtobufError::InvalidTime(seconds))?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    let ts = jiff::Timestamp::new(seconds, 0).map_err(|_| ProtobufError::InvalidTime(seconds))?;
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Ok(if micro {
        format!("{base}.{:06}Z", nanos / 1000)
    } else {
        format!("{base}Z")
    })
}

/// Formats nanoseconds like Go's `time.Duration.String` ("1h2m3.5s", "300ms", "0s").
pub(crate) fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let sign = if d < 0 { "-" } else { "" };
    let u = d.unsigned_abs();
    /// Integer part and trimmed fraction of `v / 10^prec`.
    fn frac(v: u64, prec: u32) -> String {
        let p = 10u64.pow(prec);
        let (int, rem) = (v / p, v % p);
        if rem == 0 {
            return int.to_string();
        }
        let digits = format!("{rem:0width$}", width = prec as usize);
        format!("{int}.{}", digits.trim_end_matches('0'))
    }
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 6));
    }
    let secs = frac(u % 60_000_000_000, 9);
    let total_minutes = u / 60_000_000_000;
    let (hours, minutes) = (total_minutes / 60, total_minutes % 60);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{secs}s")
    } else if total_minutes > 0 {
        format!("{sign}{minutes}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

/// Bytes as a string, replacing invalid UTF-8 like Go's JSON encoder does.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
