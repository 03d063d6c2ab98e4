//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`)
//! into the JSON form of the object, driven by a generated table of the k8s.io/api
//! messages (`table.rs`, produced by `apiserver/scripts/gen_protobuf_table.py`).
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` message whose `typeMeta`
//! names the kind and whose `raw` holds the object's own message. Bodies are untrusted:
//! every length is checked, nesting is bounded by [`MAX_DEPTH`] and nothing panics.

mod decode;
mod schema;
mod table;
mod wire;

#[cfg(test)]
mod tests;

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8] = b"k8s\0";

/// Deepest nesting of messages accepted in a body.
pub const MAX_DEPTH: usize = 64;

/// Why a protobuf body could not be decoded; every variant is a client error (400 BadRequest).
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error("the body is not a valid protobuf-encoded Kubernetes object: missing the \"k8s\\x00\" prefix")]
    MissingMagic,
    /// A varint, length or fixed-width value runs past the end of its buffer.
    #[error("the body is not a valid protobuf-encoded Kubernetes object: truncated {0}")]
    Truncated(&'static str),
    /// Any other wire-format violation.
    #[error("the body is not a valid protobuf-encoded Kubernetes object: {0}")]
    Malformed(String),
    /// A known field arrived with a wire type that does not fit its declared type.
    #[error("the body is not a valid protobuf-encoded Kubernetes object: unexpected wire type {wire_type} for a field of {field}")]
    WireType {
        /// The protobuf message holding the field.
        field: &'static str,
        /// The wire type found.
        wire_type: u8,
    },
    /// Messages nest deeper than [`MAX_DEPTH`].
    #[error("the body is not a valid protobuf-encoded Kubernetes object: messages nested deeper than {0}")]
    TooDeep(usize),
    /// The envelope has no `typeMeta.kind`.
    #[error(
        "the body is not a valid protobuf-encoded Kubernetes object: the envelope has no kind"
    )]
    MissingTypeMeta,
    /// The kind is not one this server can decode from protobuf.
    #[error("the body is not a valid protobuf-encoded Kubernetes object: no protobuf decoding is known for kind {kind:?} in {api_version:?}")]
    UnknownKind {
        /// `typeMeta.apiVersion` of the envelope.
        api_version: String,
        /// `typeMeta.kind` of the envelope.
        kind: String,
    },
    /// The envelope's `contentEncoding` is set (no encoding is supported).
    #[error("the body is not a valid protobuf-encoded Kubernetes object: unsupported content encoding {0:?}")]
    UnsupportedEncoding(String),
    /// A `RawExtension` or `FieldsV1` does not hold valid JSON.
    #[error("the body is not a valid protobuf-encoded Kubernetes object: invalid embedded JSON in {field}: {reason}")]
    InvalidEmbedded {
        /// The protobuf message holding the JSON.
        field: &'static str,
        /// The JSON parser's complaint.
        reason: String,
    },
    /// A timestamp outside the representable range (years 1–9999 or so).
    #[error("the body is not a valid protobuf-encoded Kubernetes object: timestamp {0} seconds is out of range")]
    InvalidTime(i64),
}

/// Decodes a `k8s\0` envelope: returns (apiVersion, kind, object JSON with apiVersion and kind set).
///
/// Unknown field tags are skipped; unknown kinds, bad magic and malformed or truncated
/// data are errors.
pub fn decode_object(body: &[u8]) -> Result<(String, String, serde_json::Value), ProtobufError> {
    decode::decode_envelope(body, 0)
}

/// Go duration formatting, exposed to the unit tests.
#[cfg(test)]
fn go_duration_for_tests(nanos: i64) -> String {
    decode::go_duration(nanos)
}
