//! A container's environment as the kubelet builds it (`makeEnvironmentVariables`): the
//! service links of the pod's namespace (and the `kubernetes` service's always), then
//! `envFrom`, then `env` — values, `$(VAR)` references to what came before, fieldRef,
//! resourceFieldRef, configMapKeyRef and secretKeyRef — and `$(VAR)` expansion of the
//! command and args.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use capstan_controllers::persistentvolume_binder::matching::parse_quantity;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{Api, Client};

/// Why a container's environment could not be made: the kubelet's
/// `CreateContainerConfigError`, with its message.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct EnvError(pub String);

/// The ConfigMaps, Secrets and Services a pod's environment reads, fetched once per start.
#[derive(Default)]
pub struct EnvSources {
    pub configmaps: HashMap<String, Option<BTreeMap<String, String>>>,
    pub secrets: HashMap<String, Option<BTreeMap<String, String>>>,
    /// The services whose links the pod gets.
    pub services: Vec<Service>,
}

/// The names of the ConfigMaps (or Secrets) a container refers to: its `envFrom` sources and
/// its keys' references.
fn referenced<'a>(
    container: &'a Container,
    from: impl Fn(&'a k8s_openapi::api::core::v1::EnvFromSource) -> Option<&'a String> + 'a,
    key: impl Fn(&'a k8s_openapi::api::core::v1::EnvVarSource) -> Option<&'a String> + 'a,
) -> impl Iterator<Item = String> + 'a {
    container
        .env_from
        .iter()
        .flatten()
        .filter_map(from)
        .chain(
            container
                .env
                .iter()
                .flatten()
                .filter_map(move |e| e.value_from.as_ref().and_then(&key)),
        )
        .cloned()
}

/// Reads each named object once; a missing one is `None`.
async fn read_all<K>(
    api: Api<K>,
    names: impl Iterator<Item = String>,
    data: impl Fn(K) -> BTreeMap<String, String>,
) -> HashMap<String, Option<BTreeMap<String, String>>>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut out = HashMap::new();
    for name in names {
        if let Entry::Vacant(slot) = out.entry(name) {
            let found = api.get_opt(slot.key()).await.ok().flatten().map(&data);
            slot.insert(found);
        }
    }
    out
}

fn lossy(b: &k8s_openapi::ByteString) -> String {
    String::from_utf8_lossy(&b.0).into_owned()
}

impl EnvSources {
    /// Reads what `container` of `pod` refers to.
    pub async fn fetch(client: &Client, pod: &Pod, container: &Container) -> EnvSources {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let mut out = EnvSources::default();
        let cm_names = referenced(
            container,
            |e| e.config_map_ref.as_ref().map(|r| &r.name),
            |v| v.config_map_key_ref.as_ref().map(|r| &r.name),
        );
        out.configmaps = read_all(
            Api::<ConfigMap>::namespaced(client.clone(), ns),
            cm_names,
            |cm| {
                let mut d = cm.data.unwrap_or_default();
                for (k, v) in cm.binary_data.unwrap_or_default() {
                    d.insert(k, lossy(&v));
                }
                d
            },
        )
        .await;
        let secret_names = referenced(
            container,
            |e| e.secret_ref.as_ref().map(|r| &r.name),
            |v| v.secret_key_ref.as_ref().map(|r| &r.name),
        );
        out.secrets = read_all(
            Api::<Secret>::namespaced(client.clone(), ns),
            secret_names,
            |s| {
                s.data
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, v)| (k.clone(), lossy(v)))
                    .collect()
            },
        )
        .await;
        let links = pod
            .spec
            .as_ref()
            .and_then(|s| s.enable_service_links)
            .unwrap_or(true);
        if links {
            let api: Api<Service> = Api::namespaced(client.clone(), ns);
            if let Ok(list) = api.list(&Default::default()).await {
                out.services.extend(list.items);
            }
        }
        if !links || ns != "default" {
            let api: Api<Service> = Api::namespaced(client.clone(), "default");
            if let Ok(Some(k)) = api.get_opt("kubernetes").await {
                out.services.push(k);
            }
        }
        out
    }
}

/// The service link variables of `services` (docker links' form, as the kubelet injects).
pub fn service_links(services: &[Service]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // Sorted by name, as the kubelet's map iteration gives no order but its tests expect one.
    let mut sorted: Vec<&Service> = services.iter().collect();
    sorted.sort_by_key(|s| s.metadata.name.clone());
    for svc in sorted {
        let Some(spec) = svc.spec.as_ref() else {
            continue;
        };
        let ip = match spec.cluster_ip.as_deref() {
            Some(ip) if !ip.is_empty() && ip != "None" => ip,
            _ => continue,
        };
        let name = svc
            .metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .to_uppercase()
            .replace('-', "_");
        let ports = spec.ports.as_deref().unwrap_or_default();
        let Some(first) = ports.first() else {
            continue;
        };
        out.push((format!("{name}_SERVICE_HOST"), ip.to_string()));
        out.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
        for p in ports {
            if let Some(pn) = p.name.as_deref().filter(|n| !n.is_empty()) {
                out.push((
                    format!(
                        "{name}_SERVICE_PORT_{}",
                        pn.to_uppercase().replace('-', "_")
                    ),
                    p.port.to_string(),
                ));
            }
        }
        let proto = |p: &k8s_openapi::api::core::v1::ServicePort| {
            p.protocol.clone().unwrap_or_else(|| "TCP".into())
        };
        out.push((
            format!("{name}_PORT"),
            format!("{}://{ip}:{}", proto(first).to_lowercase(), first.port),
        ));
        for p in ports {
            let pr = proto(p);
            let prefix = format!("{name}_PORT_{}_{}", p.port, pr.to_uppercase());
            out.push((
                prefix.clone(),
                format!("{}://{ip}:{}", pr.to_lowercase(), p.port),
            ));
            out.push((format!("{prefix}_PROTO"), pr.to_lowercase()));
            out.push((format!("{prefix}_PORT"), p.port.to_string()));
            out.push((format!("{prefix}_ADDR"), ip.to_string()));
        }
    }
    out
}

/// Expands `$(VAR)` with `vars` as upstream's `expansion.Expand`: `$$` is a literal `$`, an
/// unknown or unterminated reference stays as written.
pub fn expand(input: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Where the pod runs, for fieldRef.
pub struct PodPlace<'a> {
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    pub allocatable: &'a BTreeMap<String, Quantity>,
}

pub(crate) fn field_value(pod: &Pod, path: &str, place: &PodPlace<'_>) -> Result<String, EnvError> {
    let meta = &pod.metadata;
    let subscript = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix("']"))
            .map(str::to_string)
    };
    if let Some(k) = subscript("metadata.labels['") {
        return Ok(meta
            .labels
            .as_ref()
            .and_then(|l| l.get(&k))
            .cloned()
            .unwrap_or_default());
    }
    if let Some(k) = subscript("metadata.annotations['") {
        return Ok(meta
            .annotations
            .as_ref()
            .and_then(|l| l.get(&k))
            .cloned()
            .unwrap_or_default());
    }
    let spec = pod.spec.as_ref();
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => place.host_ip.to_string(),
        "status.podIP" | "status.podIPs" => place.pod_ip.to_string(),
        other => {
            return Err(EnvError(format!(
                "unsupported fieldRef path {other:?} in the environment"
            )))
        }
    })
}

pub(crate) fn resource_value(
    container: &Container,
    resource: &str,
    divisor: Option<&Quantity>,
    place: &PodPlace<'_>,
) -> Result<String, EnvError> {
    let (kind, name) = resource
        .split_once('.')
        .ok_or_else(|| EnvError(format!("unsupported resourceFieldRef {resource:?}")))?;
    let res = container.resources.as_ref();
    let set = match kind {
        "limits" => res.and_then(|r| r.limits.as_ref()),
        "requests" => res.and_then(|r| r.requests.as_ref()),
        _ => {
            return Err(EnvError(format!(
                "unsupported resourceFieldRef {resource:?}"
            )))
        }
    };
    // An unset limit is the node's allocatable (an unset request: zero, or the limit).
    let value = set
        .and_then(|s| s.get(name))
        .or_else(|| match kind {
            "limits" => place.allocatable.get(name),
            _ => res
                .and_then(|r| r.limits.as_ref())
                .and_then(|l| l.get(name)),
        })
        .and_then(|q| parse_quantity(&q.0))
        .unwrap_or(0.0);
    let divisor = divisor
        .and_then(|d| parse_quantity(&d.0))
        .filter(|d| *d > 0.0)
        .unwrap_or(1.0);
    Ok(format!("{}", (value / divisor).ceil() as i64))
}

/// Variables in the order they were first set; a later set of a name replaces its value.
#[derive(Default)]
struct Env {
    order: Vec<String>,
    vars: HashMap<String, String>,
}

impl Env {
    fn set(&mut self, k: String, v: String) {
        if !self.vars.contains_key(&k) {
            self.order.push(k.clone());
        }
        self.vars.insert(k, v);
    }
}

/// The value of `key` in the ConfigMap or Secret `name`; `None` when it is optional and
/// missing.
fn key_ref(
    data: Option<&Option<BTreeMap<String, String>>>,
    what: &str,
    ns: &str,
    name: &str,
    key: &str,
    optional: bool,
) -> Result<Option<String>, EnvError> {
    match data.cloned().flatten() {
        Some(d) => match d.get(key) {
            Some(v) => Ok(Some(v.clone())),
            None if optional => Ok(None),
            None => Err(EnvError(format!(
                "couldn't find key {key} in {what} {ns}/{name}"
            ))),
        },
        None if optional => Ok(None),
        None => Err(EnvError(format!(
            "{} \"{name}\" not found",
            what.to_lowercase()
        ))),
    }
}

/// The environment of `container` (in the order the kubelet builds it; a later name
/// replaces an earlier one's value).
pub fn container_env(
    pod: &Pod,
    container: &Container,
    sources: &EnvSources,
    place: &PodPlace<'_>,
) -> Result<Vec<(String, String)>, EnvError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut env = Env::default();
    for (k, v) in service_links(&sources.services) {
        env.set(k, v);
    }
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (data, optional, what, name) = if let Some(r) = &from.config_map_ref {
            (
                sources.configmaps.get(&r.name).cloned().flatten(),
                r.optional.unwrap_or(false),
                "configmap",
                r.name.clone(),
            )
        } else if let Some(r) = &from.secret_ref {
            (
                sources.secrets.get(&r.name).cloned().flatten(),
                r.optional.unwrap_or(false),
                "secret",
                r.name.clone(),
            )
        } else {
            continue;
        };
        match data {
            Some(d) => {
                for (k, v) in d {
                    env.set(format!("{prefix}{k}"), v);
                }
            }
            None if optional => {}
            None => return Err(EnvError(format!("{what} \"{name}\" not found"))),
        }
    }
    for e in container.env.iter().flatten() {
        let value = match &e.value_from {
            None => expand(e.value.as_deref().unwrap_or_default(), &env.vars),
            Some(from) => {
                if let Some(f) = &from.field_ref {
                    field_value(pod, &f.field_path, place)?
                } else if let Some(r) = &from.resource_field_ref {
                    resource_value(container, &r.resource, r.divisor.as_ref(), place)?
                } else if let Some(r) = &from.config_map_key_ref {
                    let found = key_ref(
                        sources.configmaps.get(&r.name),
                        "ConfigMap",
                        ns,
                        &r.name,
                        &r.key,
                        r.optional == Some(true),
                    )?;
                    match found {
                        Some(v) => v,
                        None => continue,
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    let found = key_ref(
                        sources.secrets.get(&r.name),
                        "Secret",
                        ns,
                        &r.name,
                        &r.key,
                        r.optional == Some(true),
                    )?;
                    match found {
                        Some(v) => v,
                        None => continue,
                    }
                } else {
                    String::new()
                }
            }
        };
        env.set(e.name.clone(), value);
    }
    let Env { order, mut vars } = env;
    Ok(order
        .into_iter()
        .map(|k| {
            let v = vars.remove(&k).unwrap_or_default();
            (k, v)
        })
        .collect())
}

/// `command` and `args` with `$(VAR)` references to `env` expanded.
pub fn argv(container: &Container, env: &[(String, String)]) -> Vec<String> {
    let (mut command, args) = command_and_args(container, env);
    command.extend(args);
    command
}

/// `command` and `args`, each with `$(VAR)` references expanded.
pub fn command_and_args(
    container: &Container,
    env: &[(String, String)],
) -> (Vec<String>, Vec<String>) {
    let vars: HashMap<String, String> = env.iter().cloned().collect();
    let expand_all = |list: &Option<Vec<String>>| -> Vec<String> {
        list.iter().flatten().map(|a| expand(a, &vars)).collect()
    };
    (expand_all(&container.command), expand_all(&container.args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_expand_as_upstream_does() {
        let vars = HashMap::from([("A".to_string(), "1".to_string())]);
        assert_eq!(expand("x$(A)y", &vars), "x1y");
        assert_eq!(expand("$$(A)", &vars), "$(A)");
        assert_eq!(expand("$(B)", &vars), "$(B)");
        assert_eq!(expand("$(A", &vars), "$(A");
        assert_eq!(expand("a$b", &vars), "a$b");
    }

    #[test]
    fn env_has_links_then_env_from_then_env_with_references_and_fields() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{
                "name": "c", "image": "i",
                "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}},
                "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
                "env": [
                    {"name": "GREETING", "value": "hi $(CFG_who)"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                    {"name": "CPUS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                    {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": true}}}
                ]}]}}))
        .unwrap();
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "my-db"},
            "spec": {"clusterIP": "10.96.0.5", "ports": [{"name": "sql", "port": 5432}]}}))
        .unwrap();
        let sources = EnvSources {
            configmaps: HashMap::from([(
                "cfg".to_string(),
                Some(BTreeMap::from([("who".to_string(), "there".to_string())])),
            )]),
            secrets: HashMap::from([(
                "s".to_string(),
                Some(BTreeMap::from([("pw".to_string(), "hunter2".to_string())])),
            )]),
            services: vec![svc],
        };
        let alloc = BTreeMap::from([("cpu".to_string(), Quantity("2".into()))]);
        let place = PodPlace {
            pod_ip: "10.244.0.7",
            host_ip: "127.0.0.1",
            allocatable: &alloc,
        };
        let c = &pod.spec.as_ref().unwrap().containers[0];
        let env: HashMap<_, _> = container_env(&pod, c, &sources, &place)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(env["MY_DB_SERVICE_HOST"], "10.96.0.5");
        assert_eq!(env["MY_DB_SERVICE_PORT"], "5432");
        assert_eq!(env["MY_DB_SERVICE_PORT_SQL"], "5432");
        assert_eq!(env["MY_DB_PORT"], "tcp://10.96.0.5:5432");
        assert_eq!(env["MY_DB_PORT_5432_TCP_ADDR"], "10.96.0.5");
        assert_eq!(env["GREETING"], "hi there");
        assert_eq!(env["POD"], "p");
        assert_eq!(env["APP"], "web");
        assert_eq!(env["IP"], "10.244.0.7");
        assert_eq!(env["MEM"], "64");
        assert_eq!(env["CPU"], "250");
        assert_eq!(env["CPUS"], "2", "an unset limit is the node's allocatable");
        assert_eq!(env["PASS"], "hunter2");
        assert!(!env.contains_key("OPT"));

        let missing = EnvSources::default();
        assert_eq!(
            container_env(&pod, c, &missing, &place),
            Err(EnvError("configmap \"cfg\" not found".into()))
        );
        let mut no_key = sources;
        no_key.secrets.insert("s".into(), Some(BTreeMap::new()));
        assert_eq!(
            container_env(&pod, c, &no_key, &place),
            Err(EnvError("couldn't find key pw in Secret ns/s".into()))
        );
    }
}
