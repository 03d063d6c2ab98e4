//! Types of the generated protobuf field table (`table.rs`): one [`Message`] per known
//! Kubernetes protobuf message, each with its fields' tags, JSON names and wire kinds.

/// How a field is encoded on the wire and rendered in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `string` → JSON string.
    Str,
    /// `bytes` → base64 JSON string.
    #[allow(dead_code)] // the generator emits it; no singular bytes field is reachable today
    Bytes,
    /// `bool` → JSON boolean.
    Bool,
    /// `int32` → JSON number.
    I32,
    /// `int64` → JSON number.
    I64,
    /// `double` → JSON number.
    F64,
    /// Embedded message `MESSAGES[n]`.
    Msg(u16),
    /// `map<string, string>` → JSON object of strings.
    MapStr,
    /// `map<string, bytes>` → JSON object of base64 strings.
    MapBytes,
    /// `map<string, MESSAGES[n]>` → JSON object.
    MapMsg(u16),
}

/// Messages whose JSON form is not an object of their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    /// An ordinary message: a JSON object of its fields.
    None,
    /// `meta.v1.Time` {1 seconds, 2 nanos} → RFC 3339 string (seconds precision), zero time → null.
    Time,
    /// `meta.v1.MicroTime` → RFC 3339 string with 6 fractional digits, zero time → null.
    MicroTime,
    /// `meta.v1.Duration` {1 nanoseconds} → Go duration string.
    #[allow(dead_code)] // the generator emits it; no Duration is reachable from today's kinds
    Duration,
    /// `resource.Quantity` {1 string} → JSON string.
    Quantity,
    /// `intstr.IntOrString` {1 type, 2 intVal, 3 strVal} → JSON number or string.
    IntOrString,
    /// `runtime.RawExtension` {1 raw} → the embedded JSON (or nested `k8s\0` object).
    RawExtension,
    /// `meta.v1.FieldsV1` {1 raw} → the embedded JSON.
    FieldsV1,
    /// A message holding `repeated string items = 1` whose JSON is a plain array (ExtraValue, Verbs).
    StringList,
}

/// The field is `repeated` (a JSON array).
pub(crate) const REPEATED: u8 = 1;
/// Omit the field from the JSON when it holds its zero value (Go `omitempty` on a non-pointer).
pub(crate) const OMIT_EMPTY: u8 = 2;
/// A Go embedded struct: its fields are merged into the parent JSON object.
pub(crate) const INLINE: u8 = 4;

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// Protobuf field number.
    pub tag: u32,
    /// Kubernetes JSON property name (empty for [`INLINE`] fields).
    pub json: &'static str,
    /// Wire and JSON kind.
    pub kind: Kind,
    /// Bit set of [`REPEATED`], [`OMIT_EMPTY`], [`INLINE`].
    pub flags: u8,
}

impl Field {
    /// Whether `flag` is set.
    pub(crate) const fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Builds a [`Field`] (keeps the generated table short).
pub(crate) const fn f(tag: u32, json: &'static str, kind: Kind, flags: u8) -> Field {
    Field {
        tag,
        json,
        kind,
        flags,
    }
}

/// One protobuf message.
#[derive(Debug)]
pub(crate) struct Message {
    /// Full protobuf name, e.g. `k8s.io.api.core.v1.Namespace`.
    pub name: &'static str,
    /// Non-object JSON form, if any.
    pub special: Special,
    /// Fields sorted by tag.
    pub fields: &'static [Field],
}

impl Message {
    /// The field with protobuf number `tag`, if known.
    pub(crate) fn field(&self, tag: u32) -> Option<&'static Field> {
        let fields: &'static [Field] = self.fields;
        fields
            .binary_search_by_key(&tag, |f| f.tag)
            .ok()
            .and_then(|i| fields.get(i))
    }
}

/// A kind that may appear in a request body's `typeMeta`.
#[derive(Debug)]
pub(crate) struct TopLevel {
    /// `apiVersion`, or `*` for kinds registered in every group version (DeleteOptions, …).
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// Index into `MESSAGES`.
    pub message: u16,
}
