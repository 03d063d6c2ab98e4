//! PodSpec and PodTemplateSpec validation as kube-apiserver 1.33 does it for
//! the fields people use: containers (names, images, ports, env, probes,
//! resources, volume mounts, pull policy), init containers, volumes,
//! restartPolicy, dnsPolicy, tolerations, scheduling-related names and
//! grace periods; plus the rules for updating a Pod.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::access::{arr, at, child, index, int, key, obj, present, s, semantic_eq, string_map};
use super::field_error::{FieldError, FieldErrors};
use super::meta::validate_template_meta;
use super::names::{
    inclusive_range_error, invalid_each, is_config_map_key, is_dns1123_subdomain,
    is_http_header_name, is_relaxed_env_var_name, is_valid_port_name, is_valid_port_num,
    validate_dns1123_label, validate_labels, validate_qualified_name,
};
use super::quantity;

const NONNEG: &str = "must be greater than or equal to 0";
const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// Volume source fields, in the order upstream checks them.
pub(super) const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "quobyte",
    "cephfs",
    "downwardAPI",
    "fc",
    "azureFile",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "configMap",
    "storageos",
    "csi",
    "ephemeral",
    "image",
    "flexVolume",
    "cinder",
];

/// Validates a non-negative integer field when present.
pub fn nonneg(v: &Value, field: &str, path: &str) -> FieldErrors {
    match int(v, field) {
        Some(n) if n < 0 => vec![FieldError::invalid(child(path, field), n, NONNEG)],
        _ => Vec::new(),
    }
}

/// Validates a pod template: labels and annotations (at `path.labels` and
/// `path.annotations`, as upstream reports them) and the pod spec.
pub fn validate_pod_template(template: &Value, path: &str) -> FieldErrors {
    let mut errs = validate_template_meta(at(template, "metadata"), path);
    let spec = at(template, "spec");
    errs.extend(validate_pod_spec(spec, &child(path, "spec")));
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            child(&child(path, "spec"), "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// Validates a PodSpec at `path` (e.g. `spec` or `spec.template.spec`).
pub fn validate_pod_spec(spec: &Value, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let volumes = validate_volumes(arr(spec, "volumes"), &child(path, "volumes"), &mut errs);
    let containers = arr(spec, "containers");
    let cpath = child(path, "containers");
    if containers.is_empty() {
        errs.push(FieldError::required(&cpath, ""));
    }
    let mut names: HashSet<String> = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = index(&cpath, i);
        errs.extend(validate_container_common(c, &volumes, &p));
        let name = s(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(child(&p, "name"), name));
        } else {
            names.insert(name.to_string());
        }
        errs.extend(validate_lifecycle(
            at(c, "lifecycle"),
            &child(&p, "lifecycle"),
        ));
        errs.extend(validate_probe_kind(c, "livenessProbe", &p));
        errs.extend(validate_probe_kind(c, "readinessProbe", &p));
        errs.extend(validate_probe_kind(c, "startupProbe", &p));
        if present(c, "restartPolicy") {
            errs.push(FieldError::forbidden(
                child(&p, "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(check_host_port_conflicts(containers, &cpath));
    let ipath = child(path, "initContainers");
    let init = arr(spec, "initContainers");
    for (i, c) in init.iter().enumerate() {
        let p = index(&ipath, i);
        errs.extend(validate_container_common(c, &volumes, &p));
        let name = s(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(child(&p, "name"), name));
        } else {
            names.insert(name.to_string());
        }
        let sidecar = match c.get("restartPolicy") {
            None | Some(Value::Null) => false,
            Some(v) => {
                let rp = v.as_str().unwrap_or("");
                if rp != "Always" {
                    errs.push(FieldError::not_supported(
                        child(&p, "restartPolicy"),
                        rp,
                        &["Always"],
                    ));
                }
                rp == "Always"
            }
        };
        if sidecar {
            errs.extend(validate_lifecycle(
                at(c, "lifecycle"),
                &child(&p, "lifecycle"),
            ));
            errs.extend(validate_probe_kind(c, "livenessProbe", &p));
            errs.extend(validate_probe_kind(c, "readinessProbe", &p));
            errs.extend(validate_probe_kind(c, "startupProbe", &p));
        } else {
            for (f, what) in [
                (
                    "lifecycle",
                    "may not be set for init containers without restartPolicy=Always",
                ),
                (
                    "livenessProbe",
                    "may not be set for init containers without restartPolicy=Always",
                ),
                (
                    "readinessProbe",
                    "may not be set for init containers without restartPolicy=Always",
                ),
                (
                    "startupProbe",
                    "may not be set for init containers without restartPolicy=Always",
                ),
            ] {
                if present(c, f) {
                    errs.push(FieldError::forbidden(child(&p, f), what));
                }
            }
        }
    }
    errs.extend(check_host_port_conflicts(init, &ipath));

    let rp = s(spec, "restartPolicy");
    match rp {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(child(path, "restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(path, "restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns = s(spec, "dnsPolicy");
    match dns {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(child(path, "dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(path, "dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    if dns == "None" && !present(spec, "dnsConfig") {
        errs.push(FieldError::required(
            child(path, "dnsConfig"),
            "must provide `dnsConfig` when `dnsPolicy` is None",
        ));
    }
    errs.extend(validate_labels(
        &string_map(spec, "nodeSelector"),
        &child(path, "nodeSelector"),
    ));
    for (i, sec) in arr(spec, "imagePullSecrets").iter().enumerate() {
        if s(sec, "name").is_empty() {
            errs.push(FieldError::required(
                child(&index(&child(path, "imagePullSecrets"), i), "name"),
                "",
            ));
        }
    }
    let sa = s(spec, "serviceAccountName");
    if !sa.is_empty() {
        errs.extend(invalid_each(
            &child(path, "serviceAccountName"),
            sa,
            is_dns1123_subdomain(sa),
        ));
    }
    let node = s(spec, "nodeName");
    if !node.is_empty() {
        errs.extend(invalid_each(
            &child(path, "nodeName"),
            node,
            is_dns1123_subdomain(node),
        ));
    }
    if let Some(ads) = int(spec, "activeDeadlineSeconds") {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            errs.push(FieldError::invalid(
                child(path, "activeDeadlineSeconds"),
                ads,
                inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    for f in ["hostname", "subdomain"] {
        let v = s(spec, f);
        if !v.is_empty() {
            errs.extend(validate_dns1123_label(v, &child(path, f)));
        }
    }
    errs.extend(validate_tolerations(
        arr(spec, "tolerations"),
        &child(path, "tolerations"),
    ));
    let pc = s(spec, "priorityClassName");
    if !pc.is_empty() {
        errs.extend(invalid_each(
            &child(path, "priorityClassName"),
            pc,
            is_dns1123_subdomain(pc),
        ));
    }
    errs.extend(nonneg(spec, "terminationGracePeriodSeconds", path));
    errs
}

/// Validates volumes; returns the names of the valid ones (mounts may only refer to those).
fn validate_volumes(volumes: &[Value], path: &str, errs: &mut FieldErrors) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = index(path, i);
        let name = s(vol, "name");
        let mut el = validate_volume_source(vol, &p);
        let npath = child(&p, "name");
        if name.is_empty() {
            el.push(FieldError::required(&npath, ""));
        } else {
            el.extend(validate_dns1123_label(name, &npath));
        }
        if names.contains(name) {
            el.push(FieldError::duplicate(&npath, name));
        }
        if el.is_empty() {
            names.insert(name.to_string());
        } else {
            errs.extend(el);
        }
    }
    names
}

fn validate_mode(src: &Value, field: &str, path: &str) -> FieldErrors {
    match int(src, field) {
        Some(m) if !(0..=0o777).contains(&m) => {
            vec![FieldError::invalid(child(path, field), m, FILE_MODE_MSG)]
        }
        _ => Vec::new(),
    }
}

fn validate_volume_source(vol: &Value, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let mut count = 0;
    for src in VOLUME_SOURCES {
        if !present(vol, src) {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                child(path, src),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        let v = at(vol, src);
        let p = child(path, src);
        match *src {
            "hostPath" => {
                if s(v, "path").is_empty() {
                    errs.push(FieldError::required(child(&p, "path"), ""));
                }
                if let Some(t) = v.get("type").and_then(Value::as_str) {
                    const TYPES: &[&str] = &[
                        "",
                        "DirectoryOrCreate",
                        "Directory",
                        "FileOrCreate",
                        "File",
                        "Socket",
                        "CharDevice",
                        "BlockDevice",
                    ];
                    if !TYPES.contains(&t) {
                        errs.push(FieldError::not_supported(child(&p, "type"), t, TYPES));
                    }
                }
            }
            "emptyDir" => {
                if let Some(limit) = v.get("sizeLimit") {
                    if quantity::value(limit).is_some_and(|q| q < 0.0) {
                        errs.push(FieldError::forbidden(
                            child(&p, "sizeLimit"),
                            "SizeLimit field must be a valid resource quantity",
                        ));
                    }
                }
            }
            "secret" => {
                if s(v, "secretName").is_empty() {
                    errs.push(FieldError::required(child(&p, "secretName"), ""));
                }
                errs.extend(validate_mode(v, "defaultMode", &p));
                errs.extend(validate_key_to_paths(arr(v, "items"), &child(&p, "items")));
            }
            "configMap" => {
                if s(v, "name").is_empty() {
                    errs.push(FieldError::required(child(&p, "name"), ""));
                }
                errs.extend(validate_mode(v, "defaultMode", &p));
                errs.extend(validate_key_to_paths(arr(v, "items"), &child(&p, "items")));
            }
            "persistentVolumeClaim" if s(v, "claimName").is_empty() => {
                errs.push(FieldError::required(child(&p, "claimName"), ""));
            }
            "nfs" => {
                if s(v, "server").is_empty() {
                    errs.push(FieldError::required(child(&p, "server"), ""));
                }
                let np = s(v, "path");
                if np.is_empty() {
                    errs.push(FieldError::required(child(&p, "path"), ""));
                } else if !np.starts_with('/') {
                    errs.push(FieldError::invalid(
                        child(&p, "path"),
                        np,
                        "must be an absolute path",
                    ));
                }
            }
            "projected" | "downwardAPI" => errs.extend(validate_mode(v, "defaultMode", &p)),
            "csi" if s(v, "driver").is_empty() => {
                errs.push(FieldError::required(child(&p, "driver"), ""));
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    errs
}

fn validate_key_to_paths(items: &[Value], path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let p = index(path, i);
        if s(it, "key").is_empty() {
            errs.push(FieldError::required(child(&p, "key"), ""));
        }
        let rel = s(it, "path");
        if rel.is_empty() {
            errs.push(FieldError::required(child(&p, "path"), ""));
        } else {
            errs.extend(validate_local_descending_path(rel, &child(&p, "path")));
        }
        errs.extend(validate_mode(it, "mode", &p));
    }
    errs
}

fn validate_local_descending_path(p: &str, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path, p, "must be a relative path"));
    }
    if p.split(['/', '\\']).any(|seg| seg == "..") {
        errs.push(FieldError::invalid(path, p, "must not contain '..'"));
    }
    if p.starts_with("..") && !errs.iter().any(|e| e.detail == "must not contain '..'") {
        errs.push(FieldError::invalid(path, p, "must not start with '..'"));
    }
    errs
}

/// Checks shared by regular, init and sidecar containers.
fn validate_container_common(c: &Value, volumes: &HashSet<String>, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let name = s(c, "name");
    let npath = child(path, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&npath, ""));
    } else {
        errs.extend(validate_dns1123_label(name, &npath));
    }
    let image = s(c, "image");
    if image.is_empty() {
        errs.push(FieldError::required(child(path, "image"), ""));
    } else if image.trim() != image {
        errs.push(FieldError::invalid(
            child(path, "image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
    match s(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            child(path, "terminationMessagePolicy"),
            "",
        )),
        other => errs.push(FieldError::not_supported(
            child(path, "terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_container_ports(
        arr(c, "ports"),
        &child(path, "ports"),
    ));
    errs.extend(validate_env(arr(c, "env"), &child(path, "env")));
    errs.extend(validate_env_from(
        arr(c, "envFrom"),
        &child(path, "envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        arr(c, "volumeMounts"),
        volumes,
        &child(path, "volumeMounts"),
    ));
    match s(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(child(path, "imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(path, "imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    errs.extend(validate_resources(
        at(c, "resources"),
        &child(path, "resources"),
    ));
    errs
}

fn validate_container_ports(ports: &[Value], path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = index(path, i);
        let name = s(port, "name");
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(invalid_each(&child(&p, "name"), name, msgs));
            } else if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(child(&p, "name"), name));
            }
        }
        match int(port, "containerPort") {
            None | Some(0) => errs.push(FieldError::required(child(&p, "containerPort"), "")),
            Some(n) => errs.extend(
                is_valid_port_num(n)
                    .into_iter()
                    .map(|m| FieldError::invalid(child(&p, "containerPort"), n, m)),
            ),
        }
        if let Some(h) = int(port, "hostPort").filter(|h| *h != 0) {
            errs.extend(
                is_valid_port_num(h)
                    .into_iter()
                    .map(|m| FieldError::invalid(child(&p, "hostPort"), h, m)),
            );
        }
        errs.extend(validate_protocol(
            s(port, "protocol"),
            &child(&p, "protocol"),
        ));
    }
    errs
}

/// Validates a port protocol: required, TCP|UDP|SCTP.
pub fn validate_protocol(proto: &str, path: &str) -> FieldErrors {
    match proto {
        "TCP" | "UDP" | "SCTP" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["SCTP", "TCP", "UDP"],
        )],
    }
}

fn check_host_port_conflicts(containers: &[Value], path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in arr(c, "ports").iter().enumerate() {
            let Some(h) = int(port, "hostPort").filter(|h| *h != 0) else {
                continue;
            };
            let k = format!("{}/{}/{}", s(port, "hostIP"), s(port, "protocol"), h);
            if !seen.insert(k.clone()) {
                errs.push(FieldError::duplicate(
                    child(&index(&child(&index(path, ci), "ports"), pi), "hostPort"),
                    k,
                ));
            }
        }
    }
    errs
}

fn validate_env(env: &[Value], path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, ev) in env.iter().enumerate() {
        let p = index(path, i);
        let name = s(ev, "name");
        if name.is_empty() {
            errs.push(FieldError::required(child(&p, "name"), ""));
        } else {
            errs.extend(invalid_each(
                &child(&p, "name"),
                name,
                is_relaxed_env_var_name(name),
            ));
        }
        if present(ev, "valueFrom") {
            errs.extend(validate_env_value_from(ev, &child(&p, "valueFrom")));
        }
    }
    errs
}

fn validate_env_value_from(ev: &Value, path: &str) -> FieldErrors {
    let from = at(ev, "valueFrom");
    let mut errs = Vec::new();
    let mut count = 0;
    if present(from, "fieldRef") {
        count += 1;
        let fr = at(from, "fieldRef");
        let fp = child(path, "fieldRef");
        if s(fr, "apiVersion").is_empty() {
            errs.push(FieldError::required(child(&fp, "apiVersion"), ""));
        }
        if s(fr, "fieldPath").is_empty() {
            errs.push(FieldError::required(child(&fp, "fieldPath"), ""));
        }
    }
    if present(from, "resourceFieldRef") {
        count += 1;
        let rf = at(from, "resourceFieldRef");
        if s(rf, "resource").is_empty() {
            errs.push(FieldError::required(
                child(&child(path, "resourceFieldRef"), "resource"),
                "",
            ));
        }
    }
    for sel in ["configMapKeyRef", "secretKeyRef"] {
        if !present(from, sel) {
            continue;
        }
        count += 1;
        let r = at(from, sel);
        let sp = child(path, sel);
        if s(r, "name").is_empty() {
            errs.push(FieldError::required(child(&sp, "name"), ""));
        }
        let k = s(r, "key");
        if k.is_empty() {
            errs.push(FieldError::required(child(&sp, "key"), ""));
        } else {
            errs.extend(invalid_each(&child(&sp, "key"), k, is_config_map_key(k)));
        }
    }
    if count == 0 {
        errs.push(FieldError::invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if !s(ev, "value").is_empty() {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if count > 1 {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    errs
}

fn validate_env_from(env_from: &[Value], path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, ef) in env_from.iter().enumerate() {
        let p = index(path, i);
        let prefix = s(ef, "prefix");
        if !prefix.is_empty() {
            errs.extend(invalid_each(
                &child(&p, "prefix"),
                prefix,
                is_relaxed_env_var_name(prefix),
            ));
        }
        let mut count = 0;
        for src in ["configMapRef", "secretRef"] {
            if present(ef, src) {
                count += 1;
                if s(at(ef, src), "name").is_empty() {
                    errs.push(FieldError::required(child(&child(&p, src), "name"), ""));
                }
            }
        }
        if count == 0 {
            errs.push(FieldError::invalid(
                &p,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(FieldError::invalid(
                &p,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_volume_mounts(mounts: &[Value], volumes: &HashSet<String>, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let mut points = HashSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = index(path, i);
        let name = s(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(child(&p, "name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(FieldError::not_found(child(&p, "name"), name));
        }
        let mp = s(m, "mountPath");
        if mp.is_empty() {
            errs.push(FieldError::required(child(&p, "mountPath"), ""));
        }
        if !points.insert(mp.to_string()) {
            errs.push(FieldError::invalid(
                child(&p, "mountPath"),
                mp,
                "must be unique",
            ));
        }
        let sub = s(m, "subPath");
        if !sub.is_empty() {
            errs.extend(validate_local_descending_path(sub, &child(&p, "subPath")));
        }
        if present(m, "subPath") && present(m, "subPathExpr") && !sub.is_empty() {
            errs.push(FieldError::invalid(
                child(&p, "subPathExpr"),
                s(m, "subPathExpr"),
                "subPathExpr and subPath are mutually exclusive",
            ));
        }
    }
    errs
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

fn validate_resources(res: &Value, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let lim_path = child(path, "limits");
    let req_path = child(path, "requests");
    let limits = obj(res, "limits");
    let sorted = |m: Option<&serde_json::Map<String, Value>>| -> BTreeMap<String, Value> {
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let limits_sorted = sorted(limits);
    for (name, q) in &limits_sorted {
        let p = key(&lim_path, name);
        errs.extend(validate_resource_name(name, &p));
        errs.extend(validate_quantity(q, &p));
    }
    for (name, q) in &sorted(obj(res, "requests")) {
        let p = key(&req_path, name);
        errs.extend(validate_resource_name(name, &p));
        errs.extend(validate_quantity(q, &p));
        match limits_sorted.get(name) {
            Some(l) => {
                if let (Some(rv), Some(lv)) = (quantity::value(q), quantity::value(l)) {
                    if rv > lv {
                        errs.push(FieldError::invalid(
                            &req_path,
                            quantity::display(q),
                            format!(
                                "must be less than or equal to {name} limit of {}",
                                quantity::display(l)
                            ),
                        ));
                    }
                }
            }
            None => {
                if !is_standard_container_resource(name)
                    && !name.starts_with("requests.")
                    && name.contains('/')
                {
                    errs.push(FieldError::required(
                        &lim_path,
                        "Limit must be set for non overcommitable resources",
                    ));
                }
            }
        }
    }
    errs
}

fn validate_resource_name(name: &str, path: &str) -> FieldErrors {
    let mut errs = validate_qualified_name(name, path);
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        if !is_standard_container_resource(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if name.starts_with("kubernetes.io/") || name.starts_with("requests.") {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

fn validate_quantity(q: &Value, path: &str) -> FieldErrors {
    match quantity::value(q) {
        None => vec![FieldError::invalid(
            path,
            q.clone(),
            quantity::QUANTITY_FORMAT_MSG,
        )],
        Some(v) if v < 0.0 => vec![FieldError::invalid(path, quantity::display(q), NONNEG)],
        Some(_) => Vec::new(),
    }
}

fn validate_probe_kind(c: &Value, kind: &str, cpath: &str) -> FieldErrors {
    let Some(probe) = c.get(kind).filter(|p| !p.is_null()) else {
        return Vec::new();
    };
    let path = child(cpath, kind);
    let mut errs = validate_handler(probe, &path, false);
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        errs.extend(nonneg(probe, f, &path));
    }
    if let Some(t) = int(probe, "terminationGracePeriodSeconds") {
        if kind == "readinessProbe" {
            errs.push(FieldError::invalid(
                child(&path, "terminationGracePeriodSeconds"),
                t,
                "must not be set for readinessProbes",
            ));
        } else if t <= 0 {
            errs.push(FieldError::invalid(
                child(&path, "terminationGracePeriodSeconds"),
                t,
                "must be greater than 0",
            ));
        }
    }
    if kind != "readinessProbe" {
        if let Some(st) = int(probe, "successThreshold") {
            if st != 1 {
                errs.push(FieldError::invalid(
                    child(&path, "successThreshold"),
                    st,
                    "must be 1",
                ));
            }
        }
    }
    errs
}

fn validate_lifecycle(lc: &Value, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    for hook in ["postStart", "preStop"] {
        if let Some(h) = lc.get(hook).filter(|h| !h.is_null()) {
            errs.extend(validate_handler(h, &child(path, hook), true));
        }
    }
    errs
}

/// Exactly one handler among exec, httpGet, tcpSocket, grpc (and sleep for lifecycle hooks).
fn validate_handler(h: &Value, path: &str, lifecycle: bool) -> FieldErrors {
    let mut errs = Vec::new();
    let kinds: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    let mut n = 0;
    for k in kinds {
        let Some(v) = h.get(*k).filter(|v| !v.is_null()) else {
            continue;
        };
        let p = child(path, k);
        if n > 0 {
            errs.push(FieldError::forbidden(
                &p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        n += 1;
        match *k {
            "exec" if arr(v, "command").is_empty() => {
                errs.push(FieldError::required(child(&p, "command"), ""));
            }
            "httpGet" => {
                if s(v, "path").is_empty() {
                    errs.push(FieldError::required(child(&p, "path"), ""));
                }
                errs.extend(validate_port_num_or_name(at(v, "port"), &child(&p, "port")));
                let scheme = s(v, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(FieldError::not_supported(
                        child(&p, "scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for hdr in arr(v, "httpHeaders") {
                    let name = s(hdr, "name");
                    errs.extend(invalid_each(
                        &child(&p, "httpHeaders"),
                        name,
                        is_http_header_name(name),
                    ));
                }
            }
            "tcpSocket" => {
                errs.extend(validate_port_num_or_name(at(v, "port"), &child(&p, "port")))
            }
            "grpc" => {
                let port = int(v, "port").unwrap_or(0);
                errs.extend(
                    is_valid_port_num(port)
                        .into_iter()
                        .map(|m| FieldError::invalid(child(&p, "port"), port, m)),
                );
            }
            "sleep" => {
                let secs = int(v, "seconds").unwrap_or(0);
                if secs < 0 {
                    errs.push(FieldError::invalid(child(&p, "seconds"), secs, NONNEG));
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

/// Validates an int-or-string port: a number 1–65535 or an IANA port name.
pub fn validate_port_num_or_name(port: &Value, path: &str) -> FieldErrors {
    match port {
        Value::String(name) => invalid_each(path, name, is_valid_port_name(name)),
        Value::Number(_) => {
            let n = super::access::as_int(port).unwrap_or(0);
            is_valid_port_num(n)
                .into_iter()
                .map(|m| FieldError::invalid(path, n, m))
                .collect()
        }
        other => vec![FieldError::invalid(path, other.clone(), "unknown type")],
    }
}

fn validate_tolerations(tols: &[Value], path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    for (i, t) in tols.iter().enumerate() {
        let p = index(path, i);
        let k = s(t, "key");
        let op = s(t, "operator");
        let effect = s(t, "effect");
        if !k.is_empty() {
            errs.extend(validate_qualified_name(k, &child(&p, "key")));
        }
        if k.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                child(&p, "operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if present(t, "tolerationSeconds") && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                child(&p, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let v = s(t, "value");
                errs.extend(invalid_each(
                    &child(&p, "operator"),
                    v,
                    super::names::is_label_value(v),
                ));
            }
            "Exists" => {
                if !s(t, "value").is_empty() {
                    errs.push(FieldError::invalid(
                        child(&p, "operator"),
                        t.clone(),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                child(&p, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errs.push(FieldError::not_supported(
                child(&p, "effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errs
}

const POD_UPDATE_MSG: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Validates a Pod update: the new spec must be valid, and only images,
/// activeDeadlineSeconds (lowered or newly set), added tolerations and a
/// negative grace period raised to 1 may change.
pub fn validate_pod_update(new: &Value, old: &Value) -> FieldErrors {
    let (ns, os) = (at(new, "spec"), at(old, "spec"));
    let mut errs = validate_pod_spec(ns, "spec");
    if arr(ns, "containers").len() != arr(os, "containers").len() {
        errs.push(FieldError::forbidden(
            "spec.containers",
            "pod updates may not add or remove containers",
        ));
        return errs;
    }
    if arr(ns, "initContainers").len() != arr(os, "initContainers").len() {
        errs.push(FieldError::forbidden(
            "spec.initContainers",
            "pod updates may not add or remove containers",
        ));
        return errs;
    }
    match (
        int(ns, "activeDeadlineSeconds"),
        int(os, "activeDeadlineSeconds"),
    ) {
        (Some(n), o) => {
            if !(0..=i64::from(i32::MAX)).contains(&n) {
                errs.push(FieldError::invalid(
                    "spec.activeDeadlineSeconds",
                    n,
                    inclusive_range_error(0, i64::from(i32::MAX)),
                ));
            }
            if let Some(o) = o {
                if o < n {
                    errs.push(FieldError::invalid(
                        "spec.activeDeadlineSeconds",
                        n,
                        "must be less than or equal to previous value",
                    ));
                }
            }
        }
        (None, Some(_)) => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                Value::Null,
                "must not update from a positive integer to nil value",
            ));
        }
        (None, None) => {}
    }
    // Tolerations: every old one must still be there (tolerationSeconds may change).
    let new_tols = arr(ns, "tolerations");
    for old_t in arr(os, "tolerations") {
        let strip = |t: &Value| {
            let mut t = t.clone();
            if let Some(m) = t.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            t
        };
        if !new_tols
            .iter()
            .any(|n| semantic_eq(&strip(n), &strip(old_t)))
        {
            errs.push(FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    // Munge the old spec with the mutable fields of the new one and compare.
    let mut munged = os.clone();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let new_images: Vec<Value> = arr(ns, list)
            .iter()
            .map(|c| at(c, "image").clone())
            .collect();
        if let Some(a) = munged.get_mut(list).and_then(Value::as_array_mut) {
            for (c, img) in a.iter_mut().zip(new_images) {
                if let Some(m) = c.as_object_mut() {
                    m.insert("image".to_string(), img);
                }
            }
        }
    }
    if let Some(m) = munged.as_object_mut() {
        for f in [
            "activeDeadlineSeconds",
            "tolerations",
            "ephemeralContainers",
        ] {
            match ns.get(f) {
                Some(v) => m.insert(f.to_string(), v.clone()),
                None => m.remove(f),
            };
        }
        if int(os, "terminationGracePeriodSeconds").is_some_and(|g| g < 0)
            && int(ns, "terminationGracePeriodSeconds") == Some(1)
        {
            m.insert("terminationGracePeriodSeconds".to_string(), Value::from(1));
        }
    }
    if !semantic_eq(&munged, ns) {
        errs.push(FieldError::forbidden("spec", POD_UPDATE_MSG));
    }
    errs
}
