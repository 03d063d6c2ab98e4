//! Service validation: ports (required unless headless or ExternalName,
//! numbers, protocols, names unique and required when there are several,
//! target ports), type, sessionAffinity, cluster IPs, traffic policies and
//! the selector; plus cluster IP immutability on update.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::access::{arr, at, child, index, int, opt_s, present, s, string_map};
use super::field_error::{FieldError, FieldErrors};
use super::names::{
    invalid_each, is_dns1123_subdomain, is_valid_port_num, validate_dns1123_label, validate_labels,
};
use super::pod::{validate_port_num_or_name, validate_protocol};

fn is_headless(spec: &Value) -> bool {
    s(spec, "clusterIP") == "None"
}

fn externally_accessible(spec: &Value) -> bool {
    matches!(s(spec, "type"), "LoadBalancer" | "NodePort")
        || (s(spec, "type") == "ClusterIP" && !arr(spec, "externalIPs").is_empty())
}

/// Validates a Service (spec only; metadata is checked by the caller).
pub fn validate_service(svc: &Value) -> FieldErrors {
    let spec = at(svc, "spec");
    let path = "spec";
    let mut errs = Vec::new();
    let ty = s(spec, "type");
    let ports = arr(spec, "ports");
    let ppath = child(path, "ports");
    if ports.is_empty() && !is_headless(spec) && ty != "ExternalName" {
        errs.push(FieldError::required(&ppath, ""));
    }
    if ty == "ExternalName" {
        if arr(spec, "clusterIPs")
            .iter()
            .any(|ip| ip.as_str().is_some_and(|ip| !ip.is_empty() && ip != "None"))
            || (!s(spec, "clusterIP").is_empty() && s(spec, "clusterIP") != "None")
        {
            errs.push(FieldError::forbidden(
                child(path, "clusterIPs"),
                "may not be set for ExternalName services",
            ));
        }
        let cname = s(spec, "externalName");
        let cname = cname.strip_suffix('.').unwrap_or(cname);
        if cname.is_empty() {
            errs.push(FieldError::required(child(path, "externalName"), ""));
        } else {
            errs.extend(invalid_each(
                &child(path, "externalName"),
                cname,
                is_dns1123_subdomain(cname),
            ));
        }
    }
    let mut names = HashSet::new();
    let require_name = ports.len() > 1;
    for (i, port) in ports.iter().enumerate() {
        let p = index(&ppath, i);
        let name = s(port, "name");
        if require_name && name.is_empty() {
            errs.push(FieldError::required(child(&p, "name"), ""));
        } else if !name.is_empty() {
            errs.extend(validate_dns1123_label(name, &child(&p, "name")));
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(child(&p, "name"), name));
            }
        }
        let num = int(port, "port").unwrap_or(0);
        errs.extend(
            is_valid_port_num(num)
                .into_iter()
                .map(|m| FieldError::invalid(child(&p, "port"), num, m)),
        );
        errs.extend(validate_protocol(
            s(port, "protocol"),
            &child(&p, "protocol"),
        ));
        errs.extend(validate_port_num_or_name(
            at(port, "targetPort"),
            &child(&p, "targetPort"),
        ));
        if let Some(ap) = opt_s(port, "appProtocol") {
            errs.extend(super::names::validate_qualified_name(
                ap,
                &child(&p, "appProtocol"),
            ));
        }
        if let Some(np) = int(port, "nodePort").filter(|n| *n != 0) {
            if ty == "ClusterIP" {
                errs.push(FieldError::forbidden(
                    child(&p, "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else {
                errs.extend(
                    is_valid_port_num(np)
                        .into_iter()
                        .map(|m| FieldError::invalid(child(&p, "nodePort"), np, m)),
                );
            }
        }
    }
    if present(spec, "selector") {
        errs.extend(validate_labels(
            &string_map(spec, "selector"),
            &child(path, "selector"),
        ));
    }
    let sa = s(spec, "sessionAffinity");
    match sa {
        "" => errs.push(FieldError::required(child(path, "sessionAffinity"), "")),
        "None" | "ClientIP" => {}
        other => errs.push(FieldError::not_supported(
            child(path, "sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    if sa == "ClientIP" {
        let cpath = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
        match at(at(spec, "sessionAffinityConfig"), "clientIP")
            .get("timeoutSeconds")
            .and_then(super::access::as_int)
        {
            None => errs.push(FieldError::required(cpath, "")),
            Some(t) if !(1..=86400).contains(&t) => errs.push(FieldError::invalid(
                cpath,
                t,
                "must be greater than 0 and less than 86400",
            )),
            _ => {}
        }
    } else if present(spec, "sessionAffinityConfig") {
        errs.push(FieldError::invalid(
            child(path, "sessionAffinityConfig"),
            at(spec, "sessionAffinityConfig").clone(),
            format!("must not be set when session affinity is {sa}"),
        ));
    }
    match ty {
        "" => errs.push(FieldError::required(child(path, "type"), "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errs.push(FieldError::not_supported(
            child(path, "type"),
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    // Duplicate (protocol, port) pairs.
    let mut seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let k = (
            s(port, "protocol").to_string(),
            int(port, "port").unwrap_or(0),
        );
        if !seen.insert(k.clone()) {
            errs.push(FieldError::duplicate(
                index(&ppath, i),
                json!({"port": k.1, "protocol": k.0}),
            ));
        }
    }
    // Cluster IPs must be IPs (or None).
    let ips: Vec<&str> = if arr(spec, "clusterIPs").is_empty() {
        opt_s(spec, "clusterIP").into_iter().collect()
    } else {
        arr(spec, "clusterIPs")
            .iter()
            .filter_map(Value::as_str)
            .collect()
    };
    for (i, ip) in ips.iter().enumerate() {
        if ip.is_empty() || *ip == "None" || ty == "ExternalName" {
            continue;
        }
        if ip.parse::<std::net::IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                index(&child(path, "clusterIPs"), i),
                *ip,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    let etp = s(spec, "externalTrafficPolicy");
    if externally_accessible(spec) {
        match etp {
            "" => errs.push(FieldError::required(
                child(path, "externalTrafficPolicy"),
                "",
            )),
            "Cluster" | "Local" => {}
            other => errs.push(FieldError::not_supported(
                child(path, "externalTrafficPolicy"),
                other,
                &["Cluster", "Local"],
            )),
        }
    } else if !etp.is_empty() {
        errs.push(FieldError::invalid(
            child(path, "externalTrafficPolicy"),
            etp,
            "may only be set for externally-accessible services",
        ));
    }
    if ty != "ExternalName" {
        match opt_s(spec, "internalTrafficPolicy") {
            None => errs.push(FieldError::required(
                child(path, "internalTrafficPolicy"),
                "",
            )),
            Some("Cluster") | Some("Local") => {}
            Some(other) => errs.push(FieldError::not_supported(
                child(path, "internalTrafficPolicy"),
                other,
                &["Cluster", "Local"],
            )),
        }
    }
    errs
}

fn cluster_ips(spec: &Value) -> Vec<String> {
    let list: Vec<String> = arr(spec, "clusterIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !list.is_empty() {
        return list;
    }
    match opt_s(spec, "clusterIP") {
        Some(ip) if !ip.is_empty() => vec![ip.to_string()],
        _ => Vec::new(),
    }
}

/// Service update: assigned cluster IPs may not change (unless the service
/// moves to or from ExternalName). An update that omits them keeps the old
/// ones, which the caller is expected to copy over before storing.
pub fn validate_service_update(new: &Value, old: &Value) -> FieldErrors {
    let (ns, os) = (at(new, "spec"), at(old, "spec"));
    if s(ns, "type") == "ExternalName" || s(os, "type") == "ExternalName" {
        return Vec::new();
    }
    let (n, o) = (cluster_ips(ns), cluster_ips(os));
    if n.is_empty() || o.is_empty() {
        return Vec::new();
    }
    let mut errs = Vec::new();
    for (i, (a, b)) in n.iter().zip(o.iter()).enumerate() {
        if a != b {
            // kube-apiserver shows the whole list as the bad value.
            let all = Value::from(n.clone());
            errs.push(FieldError::invalid_go(
                index("spec.clusterIPs", i),
                all.clone(),
                super::go_value::string_slice(&all),
                "may not change once set",
            ));
        }
    }
    errs
}
