//! Unit tests of the protobuf body decoder on hand-made byte vectors.

use serde_json::json;

use super::{decode_object, go_duration_for_tests, ProtobufError};

/// A varint.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// A length-delimited field.
fn ld(tag: u32, body: &[u8]) -> Vec<u8> {
    let mut out = varint(u64::from(tag) << 3 | 2);
    out.extend(varint(body.len() as u64));
    out.extend_from_slice(body);
    out
}

/// A varint field.
fn vi(tag: u32, v: u64) -> Vec<u8> {
    let mut out = varint(u64::from(tag) << 3);
    out.extend(varint(v));
    out
}

/// Concatenates fields.
fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// A `k8s\0` envelope around `raw`.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = cat(&[ld(1, api_version.as_bytes()), ld(2, kind.as_bytes())]);
    let mut out = b"k8s\0".to_vec();
    out.extend(cat(&[
        ld(1, &type_meta),
        ld(2, raw),
        ld(3, b""),
        ld(4, b""),
    ]));
    out
}

/// A map<string, X> entry.
fn entry(tag: u32, key: &str, value: &[u8]) -> Vec<u8> {
    ld(tag, &cat(&[ld(1, key.as_bytes()), ld(2, value)]))
}

#[test]
fn namespace_from_kubectl() {
    // `kubectl create namespace foo` (1.32), byte for byte.
    let mut body = vec![0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02];
    body.extend(b"v1");
    body.extend([0x12, 0x09]);
    body.extend(b"Namespace");
    body.extend([0x12, 0x1b, 0x0a, 0x13, 0x0a, 0x03]);
    body.extend(b"foo");
    body.extend([
        0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00,
    ]);
    body.extend([0x12, 0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00]);
    let (api_version, kind, obj) = decode_object(&body).unwrap();
    assert_eq!((api_version.as_str(), kind.as_str()), ("v1", "Namespace"));
    assert_eq!(
        obj,
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "foo", "creationTimestamp": null}, "spec": {}, "status": {}})
    );
}

#[test]
fn configmap_with_data_and_time() {
    let meta = cat(&[
        ld(1, b"cfg"),
        ld(3, b"default"),
        vi(7, 0),
        ld(8, &cat(&[vi(1, 1_704_164_645)])),
        entry(11, "app", b"web"),
    ]);
    let raw = cat(&[
        ld(1, &meta),
        entry(2, "a", b"1"),
        entry(2, "b.txt", b"hello\nworld"),
        entry(3, "bin", &[0, 1, 2]),
    ]);
    let (_, _, obj) = decode_object(&envelope("v1", "ConfigMap", &raw)).unwrap();
    assert_eq!(
        obj,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "cfg", "namespace": "default",
                            "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "web"}},
               "data": {"a": "1", "b.txt": "hello\nworld"},
               "binaryData": {"bin": "AAEC"}})
    );
}

#[test]
fn secret_with_binary_data() {
    let raw = cat(&[
        ld(1, &ld(1, b"s")),
        entry(2, "key", &[0xff, 0x00, 0xfe, 0x10]),
        entry(2, "empty", b""),
        ld(3, b"Opaque"),
        vi(5, 1),
    ]);
    let (_, kind, obj) = decode_object(&envelope("v1", "Secret", &raw)).unwrap();
    assert_eq!(kind, "Secret");
    assert_eq!(
        obj,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
               "data": {"key": "/wD+EA==", "empty": ""}, "type": "Opaque", "immutable": true})
    );
}

#[test]
fn deployment_with_container_ports_and_intorstring() {
    let port = cat(&[
        ld(1, b"http"),
        vi(2, 0),
        vi(3, 8080),
        ld(4, b"TCP"),
        ld(5, b""),
    ]);
    let container = cat(&[
        ld(1, b"web"),
        ld(2, b"nginx:1.27"),
        ld(4, b"-v"),
        ld(4, b"--x"),
        ld(6, &port),
    ]);
    let pod_spec = ld(2, &container);
    let template = cat(&[ld(1, &entry(11, "app", b"web")), ld(2, &pod_spec)]);
    let rolling = cat(&[
        ld(1, &cat(&[vi(1, 0), vi(2, 1)])),
        ld(2, &cat(&[vi(1, 1), ld(3, b"25%")])),
    ]);
    let strategy = cat(&[ld(1, b"RollingUpdate"), ld(2, &rolling)]);
    let spec = cat(&[
        vi(1, 3),
        ld(2, &entry(1, "app", b"web")),
        ld(3, &template),
        ld(4, &strategy),
    ]);
    let raw = cat(&[ld(1, &cat(&[ld(1, b"web"), ld(3, b"ns")])), ld(2, &spec)]);
    let (api_version, kind, obj) = decode_object(&envelope("apps/v1", "Deployment", &raw)).unwrap();
    assert_eq!(
        (api_version.as_str(), kind.as_str()),
        ("apps/v1", "Deployment")
    );
    assert_eq!(
        obj,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "ns"},
               "spec": {"replicas": 3,
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                        "args": ["-v", "--x"],
                                        // hostPort 0: a plain int32 with omitempty, absent in JSON.
                                        "ports": [{"name": "http", "containerPort": 8080,
                                                   "protocol": "TCP"}]}]}},
                        "strategy": {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}}})
    );
}

#[test]
fn negative_int32_and_unknown_fields_are_handled() {
    // replicas = -1 as a 10-byte varint; an unknown field 99 (varint) and 100 (fixed32) are skipped.
    let mut spec = vi(1, (-1i64) as u64);
    spec.extend(vi(99, 7));
    spec.extend(varint(100 << 3 | 5));
    spec.extend([1, 2, 3, 4]);
    let raw = ld(2, &spec);
    let (_, _, obj) = decode_object(&envelope("apps/v1", "Deployment", &raw)).unwrap();
    assert_eq!(
        obj,
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": -1}})
    );
}

#[test]
fn microtime_and_inline_embedded_structs() {
    // events/v1 Event.eventTime is a MicroTime.
    let raw = cat(&[
        ld(2, &cat(&[vi(1, 1_704_164_645), vi(2, 123_456_789)])),
        ld(7, b"Started"),
    ]);
    let (_, _, obj) = decode_object(&envelope("events.k8s.io/v1", "Event", &raw)).unwrap();
    assert_eq!(
        obj,
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
               "eventTime": "2024-01-02T03:04:05.123456Z", "reason": "Started"})
    );
    // Volume.volumeSource and ConfigMapVolumeSource.localObjectReference are inlined in JSON.
    let cm_source = ld(1, &ld(1, b"settings"));
    let volume = cat(&[ld(1, b"cfg"), ld(2, &ld(19, &cm_source))]);
    let raw = ld(2, &ld(1, &volume));
    let (_, _, obj) = decode_object(&envelope("v1", "Pod", &raw)).unwrap();
    assert_eq!(
        obj,
        json!({"apiVersion": "v1", "kind": "Pod",
               "spec": {"volumes": [{"name": "cfg", "configMap": {"name": "settings"}}]}})
    );
}

#[test]
fn delete_options_in_any_group_version() {
    let raw = cat(&[vi(1, 0), ld(4, b"Foreground"), ld(5, b"All")]);
    let (_, _, obj) = decode_object(&envelope("apps/v1", "DeleteOptions", &raw)).unwrap();
    assert_eq!(
        obj,
        json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
               "propagationPolicy": "Foreground", "dryRun": ["All"]})
    );
}

#[test]
fn go_duration_strings() {
    for (ns, s) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (300_000_000, "300ms"),
        (1_500_000_000, "1.5s"),
        (60_000_000_000, "1m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_500_000_000, "1h2m3.5s"),
        (-2_000_000_000, "-2s"),
    ] {
        assert_eq!(go_duration_for_tests(ns), s, "{ns}");
    }
}

#[test]
fn bad_magic_is_rejected() {
    let err = decode_object(b"{\"kind\":\"Namespace\"}").unwrap_err();
    assert!(matches!(err, ProtobufError::MissingMagic), "{err}");
    assert!(err.to_string().contains("not a valid protobuf-encoded"));
    assert!(matches!(
        decode_object(b"k8s").unwrap_err(),
        ProtobufError::MissingMagic
    ));
}

#[test]
fn truncated_bodies_are_rejected_at_every_length() {
    let raw = cat(&[ld(1, &ld(1, b"cfg")), entry(2, "a", b"1")]);
    let body = envelope("v1", "ConfigMap", &raw);
    assert!(decode_object(&body).is_ok());
    // Every strict prefix either fails or (when cut at a field boundary) decodes; none panics.
    let mut failures = 0;
    for n in 4..body.len() {
        if decode_object(body.get(..n).unwrap_or_default()).is_err() {
            failures += 1;
        }
    }
    assert!(failures > 0);
    // A length running past the end.
    let mut bad = b"k8s\0".to_vec();
    bad.extend([0x12, 0x7f, 0x0a]);
    assert!(matches!(
        decode_object(&bad).unwrap_err(),
        ProtobufError::Truncated(_)
    ));
    // An unterminated varint.
    let mut bad = b"k8s\0".to_vec();
    bad.extend([0x0a, 0xff, 0xff]);
    assert!(matches!(
        decode_object(&bad).unwrap_err(),
        ProtobufError::Truncated(_)
    ));
    // A wire type that does not fit the field (metadata as a varint).
    let err = decode_object(&envelope("v1", "ConfigMap", &vi(1, 5))).unwrap_err();
    assert!(matches!(err, ProtobufError::WireType { .. }), "{err}");
}

#[test]
fn unknown_kind_is_rejected() {
    let err = decode_object(&envelope("example.com/v1", "Widget", b"")).unwrap_err();
    assert!(matches!(err, ProtobufError::UnknownKind { .. }), "{err}");
    assert!(err.to_string().contains("Widget"));
    let err = decode_object(&envelope("apps/v1", "Namespace", b"")).unwrap_err();
    assert!(matches!(err, ProtobufError::UnknownKind { .. }), "{err}");
    let mut no_kind = b"k8s\0".to_vec();
    no_kind.extend(ld(2, b""));
    assert!(matches!(
        decode_object(&no_kind).unwrap_err(),
        ProtobufError::MissingTypeMeta
    ));
}

#[test]
fn nested_depth_bomb_is_rejected() {
    // ControllerRevision.data is a RawExtension that may hold another `k8s\0` object: nest 200 of them.
    let mut body = envelope("apps/v1", "ControllerRevision", b"");
    for _ in 0..200 {
        body = envelope("apps/v1", "ControllerRevision", &ld(2, &ld(1, &body)));
    }
    let err = decode_object(&body).unwrap_err();
    assert!(matches!(err, ProtobufError::TooDeep(_)), "{err}");
    // A few levels are fine.
    let mut body = envelope("apps/v1", "ControllerRevision", &vi(3, 2));
    body = envelope("apps/v1", "ControllerRevision", &ld(2, &ld(1, &body)));
    let (_, _, obj) = decode_object(&body).unwrap();
    assert_eq!(
        obj,
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
               "data": {"apiVersion": "apps/v1", "kind": "ControllerRevision", "revision": 2}})
    );
    // Embedded JSON is parsed; broken JSON is an error.
    let body = envelope(
        "apps/v1",
        "ControllerRevision",
        &ld(2, &ld(1, br#"{"spec":{"x":1}}"#)),
    );
    assert_eq!(
        decode_object(&body).unwrap().2["data"],
        json!({"spec": {"x": 1}})
    );
    let body = envelope("apps/v1", "ControllerRevision", &ld(2, &ld(1, b"{nope")));
    assert!(matches!(
        decode_object(&body).unwrap_err(),
        ProtobufError::InvalidEmbedded { .. }
    ));
}
