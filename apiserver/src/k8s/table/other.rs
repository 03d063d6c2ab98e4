//! Printers for the remaining groups: coordination, discovery, policy, RBAC,
//! networking, storage, scheduling, node and admission registration.

use jiff::Timestamp;
use serde_json::Value;

use super::{
    age, arr_at, at, bool_at, col, count_cell, format_label_selector, int_or_string_at,
    list_with_more, load_balancer_ingress, name, obj_at, opt_bool_at, opt_int_at, opt_str_at,
    str_at, Column, AGE, NAME,
};

pub(super) const LEASE: &[Column] = &[
    NAME,
    col(
        "Holder",
        "string",
        "Identity of the current lease holder.",
        0,
    ),
    AGE,
];

pub(super) const ENDPOINTSLICE: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        "Type of the addresses in the slice.",
        0,
    ),
    col("Ports", "string", "Ports exposed by the endpoints.", 0),
    col("Endpoints", "string", "Addresses of the endpoints.", 0),
    AGE,
];

pub(super) const PDB: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "string",
        "The minimum number of pods that must be available.",
        0,
    ),
    col(
        "Max Unavailable",
        "string",
        "The maximum number of pods that may be unavailable.",
        0,
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Number of pods that may be disrupted right now.",
        0,
    ),
    AGE,
];

pub(super) const ROLEBINDING: &[Column] = &[
    NAME,
    col(
        "Role",
        "string",
        "The role the binding grants (Kind/Name).",
        0,
    ),
    AGE,
    col("Users", "string", "Users bound to the role.", 1),
    col("Groups", "string", "Groups bound to the role.", 1),
    col(
        "ServiceAccounts",
        "string",
        "Service accounts bound to the role.",
        1,
    ),
];

pub(super) const INGRESS: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        "Name of the IngressClass handling the ingress.",
        0,
    ),
    col("Hosts", "string", "Hosts requests are matched against.", 0),
    col(
        "Address",
        "string",
        "Ingress points of the load balancer.",
        0,
    ),
    col("Ports", "string", "Ports the ingress serves.", 0),
    AGE,
];

pub(super) const INGRESSCLASS: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        "Controller responsible for the class.",
        0,
    ),
    col(
        "Parameters",
        "string",
        "Reference to the class's parameters.",
        0,
    ),
    AGE,
];

pub(super) const NETWORKPOLICY: &[Column] = &[
    NAME,
    col("Pod-Selector", "string", "Pods the policy applies to.", 0),
    AGE,
];

pub(super) const STORAGECLASS: &[Column] = &[
    NAME,
    col(
        "Provisioner",
        "string",
        "Volume plugin provisioning the volumes.",
        0,
    ),
    col(
        "ReclaimPolicy",
        "string",
        "Reclaim policy of provisioned volumes.",
        0,
    ),
    col(
        "VolumeBindingMode",
        "string",
        "When volumes are bound and provisioned.",
        0,
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        "Whether volumes may be expanded.",
        0,
    ),
    AGE,
];

pub(super) const PRIORITYCLASS: &[Column] = &[
    NAME,
    col("Value", "integer", "Priority of pods in the class.", 0),
    col(
        "Global-Default",
        "boolean",
        "Whether the class is the cluster default.",
        0,
    ),
    AGE,
    col(
        "PreemptionPolicy",
        "string",
        "Whether pods of the class preempt others.",
        0,
    ),
];

pub(super) const RUNTIMECLASS: &[Column] = &[
    NAME,
    col(
        "Handler",
        "string",
        "CRI handler running pods of the class.",
        0,
    ),
    AGE,
];

pub(super) const WEBHOOKCONFIGURATION: &[Column] = &[
    NAME,
    col(
        "Webhooks",
        "integer",
        "Number of webhooks in the configuration.",
        0,
    ),
    AGE,
];

pub(super) fn lease(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(str_at(obj, &["spec", "holderIdentity"])),
        age(obj, now),
    ]
}

pub(super) fn endpointslice(obj: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let ports_in = arr_at(obj, &["ports"]);
    let ports: Vec<String> = ports_in
        .iter()
        .take(MAX)
        .map(
            |p| match (opt_int_at(p, &["port"]), opt_str_at(p, &["name"])) {
                (Some(n), _) => n.to_string(),
                (None, Some(n)) => n.to_owned(),
                (None, None) => "*".to_owned(),
            },
        )
        .collect();
    let addresses: Vec<String> = arr_at(obj, &["endpoints"])
        .iter()
        .flat_map(|e| {
            arr_at(e, &["addresses"])
                .iter()
                .map(|a| a.as_str().unwrap_or("").to_owned())
        })
        .collect();
    vec![
        name(obj),
        Value::from(str_at(obj, &["addressType"])),
        Value::from(list_with_more(&ports, ports_in.len(), MAX)),
        Value::from(list_with_more(&addresses, addresses.len(), MAX)),
        age(obj, now),
    ]
}

pub(super) fn pdb(obj: &Value, now: Timestamp) -> Vec<Value> {
    let or_na = |v: Option<String>| v.unwrap_or_else(|| "N/A".to_owned());
    vec![
        name(obj),
        Value::from(or_na(int_or_string_at(obj, &["spec", "minAvailable"]))),
        Value::from(or_na(int_or_string_at(obj, &["spec", "maxUnavailable"]))),
        Value::from(super::int_at(obj, &["status", "disruptionsAllowed"])),
        age(obj, now),
    ]
}

pub(super) fn rolebinding(obj: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        str_at(obj, &["roleRef", "kind"]),
        str_at(obj, &["roleRef", "name"])
    );
    let mut users: Vec<String> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut sas: Vec<String> = Vec::new();
    for s in arr_at(obj, &["subjects"]) {
        let subject_name = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{subject_name}", str_at(s, &["namespace"]))),
            "User" => users.push(subject_name.to_owned()),
            "Group" => groups.push(subject_name.to_owned()),
            _ => {}
        }
    }
    vec![
        name(obj),
        Value::from(role),
        age(obj, now),
        Value::from(users.join(", ")),
        Value::from(groups.join(", ")),
        Value::from(sas.join(", ")),
    ]
}

pub(super) fn ingress(obj: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let rules = arr_at(obj, &["spec", "rules"]);
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_owned()
    } else if more {
        format!(
            "{} + {} more...",
            hosts.join(","),
            rules.len().saturating_sub(MAX)
        )
    } else {
        hosts.join(",")
    };
    let ports = if arr_at(obj, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(obj),
        Value::from(opt_str_at(obj, &["spec", "ingressClassName"]).unwrap_or("<none>")),
        Value::from(hosts),
        Value::from(load_balancer_ingress(at(obj, &["status", "loadBalancer"]))),
        Value::from(ports),
        age(obj, now),
    ]
}

pub(super) fn ingressclass(obj: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match obj_at(obj, &["spec", "parameters"]) {
        Some(p) => {
            let mut s = str_at(p, &["kind"]).to_owned();
            if let Some(group) = opt_str_at(p, &["apiGroup"]) {
                s = format!("{s}.{group}");
            }
            format!("{s}/{}", str_at(p, &["name"]))
        }
        None => "<none>".to_owned(),
    };
    vec![
        name(obj),
        Value::from(str_at(obj, &["spec", "controller"])),
        Value::from(parameters),
        age(obj, now),
    ]
}

pub(super) fn networkpolicy(obj: &Value, now: Timestamp) -> Vec<Value> {
    // A missing podSelector is the empty selector (all pods).
    let selector = at(obj, &["spec", "podSelector"])
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    vec![
        name(obj),
        Value::from(format_label_selector(Some(&selector))),
        age(obj, now),
    ]
}

pub(super) fn storageclass(obj: &Value, now: Timestamp) -> Vec<Value> {
    let annotation = |key: &str| {
        at(obj, &["metadata", "annotations"])
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            == Some("true")
    };
    let mut display = str_at(obj, &["metadata", "name"]).to_owned();
    if annotation("storageclass.kubernetes.io/is-default-class")
        || annotation("storageclass.beta.kubernetes.io/is-default-class")
    {
        display.push_str(" (default)");
    }
    vec![
        Value::from(display),
        Value::from(str_at(obj, &["provisioner"])),
        Value::from(opt_str_at(obj, &["reclaimPolicy"]).unwrap_or("Delete")),
        Value::from(opt_str_at(obj, &["volumeBindingMode"]).unwrap_or("Immediate")),
        Value::from(opt_bool_at(obj, &["allowVolumeExpansion"]).unwrap_or(false)),
        age(obj, now),
    ]
}

pub(super) fn priorityclass(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(super::int_at(obj, &["value"])),
        Value::from(bool_at(obj, &["globalDefault"])),
        age(obj, now),
        Value::from(str_at(obj, &["preemptionPolicy"])),
    ]
}

pub(super) fn runtimeclass(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(str_at(obj, &["handler"])),
        age(obj, now),
    ]
}

pub(super) fn webhookconfiguration(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        count_cell(arr_at(obj, &["webhooks"]).len()),
        age(obj, now),
    ]
}
