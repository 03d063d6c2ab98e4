//! Service address allocation: cluster IPs from the service CIDR and node ports from the node
//! port range. Each allocated address is a key (`/registry/ranges/serviceips/<ip>`,
//! `/registry/ranges/servicenodeports/<port>`) claimed in the same transaction that writes the
//! service and removed in the one that deletes it, so two replicas can never hand out one
//! address and a deleted service's addresses are free again at once.

use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{json, Value};

use super::objects::{Extra, REGISTRY};
use super::status::ApiResult;
use super::validation::go_value::string_slice;
use super::validation::{ErrorType, FieldError};

/// The service CIDR and node port range.
#[derive(Debug, Clone)]
pub struct ServiceRanges {
    pub network: Ipv4Addr,
    pub prefix: u8,
    pub node_ports: (u16, u16),
}

impl Default for ServiceRanges {
    fn default() -> ServiceRanges {
        ServiceRanges {
            network: Ipv4Addr::new(10, 96, 0, 0),
            prefix: 12,
            node_ports: (30000, 32767),
        }
    }
}

impl ServiceRanges {
    /// Parses `A.B.C.D/N`.
    pub fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
        let (ip, bits) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| format!("{s:?}: bad address"))?;
        let bits: u8 = bits
            .parse()
            .map_err(|_| format!("{s:?}: bad prefix length"))?;
        if !(8..=30).contains(&bits) {
            return Err(format!("{s:?}: the prefix length must be between 8 and 30"));
        }
        let mask = u32::MAX << (32 - bits);
        Ok((Ipv4Addr::from(u32::from(ip) & mask), bits))
    }

    fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }

    /// The first usable address: the `kubernetes` service's.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        let base = u32::from(self.network);
        n > base && n < base + self.size() - 1
    }

    fn random_ip(&self) -> Ipv4Addr {
        // The lower part of the range is left to static assignments, as kube-apiserver does
        // for ranges of 16 or more addresses (only when none is free above it does it matter).
        let size = self.size();
        let lo = if size >= 16 {
            (size / 16).clamp(16, 256)
        } else {
            1
        };
        let off = rand::thread_rng().gen_range(lo.min(size - 2)..size - 1);
        Ipv4Addr::from(u32::from(self.network) + off.max(1))
    }
}

fn ip_key(ip: &str) -> String {
    format!("{REGISTRY}ranges/serviceips/{ip}")
}

fn port_key(port: i64) -> String {
    format!("{REGISTRY}ranges/servicenodeports/{port}")
}

fn wants_node_ports(svc: &Value) -> bool {
    matches!(
        svc.pointer("/spec/type").and_then(Value::as_str),
        Some("NodePort") | Some("LoadBalancer")
    )
}

fn wants_cluster_ip(svc: &Value) -> bool {
    svc.pointer("/spec/type").and_then(Value::as_str) != Some("ExternalName")
        && svc.pointer("/spec/clusterIP").and_then(Value::as_str) != Some("None")
}

/// The addresses a stored service holds (the keys to release with it).
pub fn held(svc: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(ip) = svc.pointer("/spec/clusterIP").and_then(Value::as_str) {
        if ip.parse::<Ipv4Addr>().is_ok() {
            keys.push(ip_key(ip));
        }
    }
    if let Some(ports) = svc.pointer("/spec/ports").and_then(Value::as_array) {
        for p in ports {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                keys.push(port_key(n));
            }
        }
    }
    keys
}

/// Fills in a service's cluster IP and node ports (those not given), and returns the keys to
/// claim for the ones it did not hold before (`old`), the keys to release, and field errors
/// for requested addresses outside the ranges.
pub fn allocate(
    ranges: &ServiceRanges,
    svc: &mut Value,
    old: Option<&Value>,
) -> ApiResult<(Extra, Vec<FieldError>)> {
    let mut errors = Vec::new();
    let before: Vec<String> = old.map(held).unwrap_or_default();
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok((Extra::default(), errors));
    };
    let snapshot = Value::Object(spec.clone());
    let wrapped = json!({"spec": snapshot});
    if wants_cluster_ip(&wrapped) {
        let given = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ip = if given.is_empty() {
            match old
                .and_then(|o| o.pointer("/spec/clusterIP"))
                .and_then(Value::as_str)
            {
                Some(ip) if !ip.is_empty() => ip.to_string(),
                _ => ranges.random_ip().to_string(),
            }
        } else {
            match given.parse::<Ipv4Addr>() {
                Ok(a) if ranges.contains(a) => given.clone(),
                _ => {
                    errors.push(FieldError {
                        kind: ErrorType::Invalid,
                        field: "spec.clusterIPs".into(),
                        bad_value: Some(json!([given])),
                        go_value: Some(string_slice(&json!([given]))),
                        detail: format!(
                            "failed to allocate IP {given}: the provided IP ({given}) is not in the valid range. The range of valid IPs is {}/{}",
                            ranges.network, ranges.prefix
                        ),
                    });
                    given.clone()
                }
            }
        };
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy")
            .or_insert_with(|| json!("SingleStack"));
    } else if spec.get("type").and_then(Value::as_str) != Some("ExternalName") {
        spec.insert("clusterIPs".into(), json!(["None"]));
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy")
            .or_insert_with(|| json!("SingleStack"));
    }
    if wants_node_ports(&wrapped) {
        let old_ports: Vec<i64> = old
            .and_then(|o| o.pointer("/spec/ports"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                    .collect()
            })
            .unwrap_or_default();
        let mut used: Vec<i64> = Vec::new();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for (i, p) in ports.iter_mut().enumerate() {
                let Some(po) = p.as_object_mut() else {
                    continue;
                };
                match po.get("nodePort").and_then(Value::as_i64) {
                    Some(n) if n != 0 => {
                        if n < i64::from(ranges.node_ports.0) || n > i64::from(ranges.node_ports.1)
                        {
                            errors.push(FieldError {
                                kind: ErrorType::Invalid,
                                field: format!("spec.ports[{i}].nodePort"),
                                bad_value: Some(json!(n)),
                                go_value: None,
                                detail: format!(
                                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                                    ranges.node_ports.0, ranges.node_ports.1
                                ),
                            });
                        }
                        used.push(n);
                    }
                    _ => {
                        let reuse = old_ports.get(i).copied().filter(|n| !used.contains(n));
                        let n = reuse.unwrap_or_else(|| loop {
                            let n = i64::from(
                                rand::thread_rng()
                                    .gen_range(ranges.node_ports.0..=ranges.node_ports.1),
                            );
                            if !used.contains(&n) {
                                break n;
                            }
                        });
                        po.insert("nodePort".into(), json!(n));
                        used.push(n);
                    }
                }
            }
        }
    } else if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut() {
            if let Some(po) = p.as_object_mut() {
                po.remove("nodePort");
            }
        }
    }
    let after = held(svc);
    let mut extra = Extra::default();
    for k in &after {
        if !before.contains(k) {
            extra.claims.push((k.clone(), Vec::new()));
        }
    }
    for k in before {
        if !after.contains(&k) {
            extra.releases.push(k);
        }
    }
    Ok((extra, errors))
}

/// The error when a requested address is taken (the claim failed).
pub fn taken_error(svc: &Value) -> FieldError {
    let ip = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("");
    FieldError {
        kind: ErrorType::Invalid,
        field: "spec.clusterIPs".into(),
        bad_value: Some(json!([ip])),
        go_value: Some(string_slice(&json!([ip]))),
        detail: format!("failed to allocate IP {ip}: provided IP is already allocated"),
    }
}

/// Whether the service asked for specific addresses (then a failed claim is the user's
/// error, not a collision to retry).
pub fn requested_addresses(svc: &Value) -> bool {
    let ip = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("");
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|p| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0)
        });
    (!ip.is_empty() && ip != "None") || ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_fills_addresses_and_names_the_keys_to_claim_and_release() {
        let ranges = ServiceRanges::default();
        let mut svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        let (extra, errors) = allocate(&ranges, &mut svc, None).unwrap();
        assert!(errors.is_empty());
        let ip: Ipv4Addr = svc
            .pointer("/spec/clusterIP")
            .unwrap()
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(ranges.contains(ip));
        let np = svc
            .pointer("/spec/ports/0/nodePort")
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((30000..=32767).contains(&np));
        assert_eq!(extra.claims.len(), 2);
        // Switching to ClusterIP releases the node port and keeps the IP.
        let old = svc.clone();
        let mut new = json!({"spec": {"type": "ClusterIP", "clusterIP": ip.to_string(), "ports": [{"port": 80, "nodePort": np}]}});
        let (extra, _) = allocate(&ranges, &mut new, Some(&old)).unwrap();
        assert!(extra.claims.is_empty());
        assert_eq!(extra.releases, vec![port_key(np)]);
        // Out of range.
        let mut bad = json!({"spec": {"clusterIP": "192.168.0.1"}});
        let (_, errors) = allocate(&ranges, &mut bad, None).unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            ServiceRanges::parse_cidr("10.0.0.7/24").unwrap(),
            (Ipv4Addr::new(10, 0, 0, 0), 24)
        );
    }
}
