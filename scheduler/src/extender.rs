//! Scheduler extenders: kube-scheduler's HTTP(S) JSON protocol (k8s.io/kube-scheduler
//! extender/v1) for webhooks outside the scheduler that filter nodes, prioritize them (scores
//! 0–10 times the extender's weight), choose among preemption candidates, or bind pods. Each
//! call is a POST of JSON to `<urlPrefix>/<verb>` within `httpTimeout`; an extender marked
//! `ignorable` that fails is skipped, any other failure fails the attempt. `nodeCacheCapable`
//! extenders get node names instead of whole Node objects; `managedResources` limits an
//! extender to pods that request one of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::ConfigError;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The highest score an extender gives (upstream's `MaxExtenderPriority`).
pub const MAX_EXTENDER_PRIORITY: i64 = 10;

/// A managed resource: pods asking for one of them are the extender's business.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedResource {
    pub name: String,
    #[serde(default)]
    pub ignored_by_scheduler: bool,
}

/// One extender as configured (KubeSchedulerConfiguration's `extenders[]`, or a Policy's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtenderConfig {
    pub url_prefix: String,
    pub filter_verb: String,
    pub prioritize_verb: String,
    pub preempt_verb: String,
    pub bind_verb: String,
    pub weight: i64,
    pub enable_https: bool,
    pub tls: Option<ExtenderTls>,
    pub http_timeout: Duration,
    pub node_cache_capable: bool,
    pub managed_resources: Vec<ManagedResource>,
    pub ignorable: bool,
}

/// `tlsConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtenderTls {
    pub insecure: bool,
    pub server_name: String,
    pub ca_pem: Option<Vec<u8>>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
}

/// A ready-to-call extender.
pub struct Extender {
    pub config: ExtenderConfig,
    tls: Option<tokio_rustls::TlsConnector>,
}

/// What a filter call left: the nodes that pass, and the others with the extender's reasons.
#[derive(Debug, Default)]
pub struct Filtered {
    pub passed: Vec<String>,
    pub failed: BTreeMap<String, String>,
    pub failed_unresolvable: BTreeMap<String, String>,
}

/// Accepts any server certificate (`tlsConfig.insecure`, as upstream allows).
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_error(e: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid(format!("extender tlsConfig: {e}"))
}

fn connector(tls: Option<&ExtenderTls>) -> Result<tokio_rustls::TlsConnector, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?;
    let builder = match tls {
        Some(t) if t.insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider))),
        _ => {
            let mut roots = rustls::RootCertStore::empty();
            if let Some(ca) = tls.and_then(|t| t.ca_pem.as_deref()) {
                for cert in CertificateDer::pem_slice_iter(ca) {
                    roots.add(cert.map_err(tls_error)?).map_err(tls_error)?;
                }
            }
            builder.with_root_certificates(roots)
        }
    };
    let config = match tls.and_then(|t| t.cert_pem.as_deref().zip(t.key_pem.as_deref())) {
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<_, _>>()
                .map_err(tls_error)?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(tls_error)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(tls_error)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A JSON field of a Go-encoded answer, whatever its case (Go decodes names case-insensitively).
fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

impl Extender {
    pub fn new(config: ExtenderConfig) -> Result<Extender, ConfigError> {
        let https = config.enable_https || config.url_prefix.starts_with("https://");
        let tls = if https {
            Some(connector(config.tls.as_ref())?)
        } else {
            None
        };
        Ok(Extender { config, tls })
    }

    pub fn name(&self) -> &str {
        &self.config.url_prefix
    }

    pub fn is_binder(&self) -> bool {
        !self.config.bind_verb.is_empty()
    }

    pub fn supports_preemption(&self) -> bool {
        !self.config.preempt_verb.is_empty()
    }

    /// Whether the pod is this extender's business (`managedResources`, if any, requested).
    pub fn is_interested(&self, pod: &PodInfo) -> bool {
        if self.config.managed_resources.is_empty() {
            return true;
        }
        let Some(spec) = pod.spec() else {
            return false;
        };
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .filter_map(|c| c.resources.as_ref())
            .any(|r| {
                self.config.managed_resources.iter().any(|m| {
                    r.requests.as_ref().is_some_and(|q| q.contains_key(&m.name))
                        || r.limits.as_ref().is_some_and(|q| q.contains_key(&m.name))
                })
            })
    }

    /// Resources the scheduler leaves to extenders (`ignoredByScheduler`).
    pub fn ignored_resources(&self) -> impl Iterator<Item = &str> {
        self.config
            .managed_resources
            .iter()
            .filter(|m| m.ignored_by_scheduler)
            .map(|m| m.name.as_str())
    }

    fn args(&self, pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Value {
        if self.config.node_cache_capable {
            let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            json!({"Pod": pod, "Nodes": null, "NodeNames": names})
        } else {
            let items: Vec<&k8s_openapi::api::core::v1::Node> =
                nodes.iter().map(|n| n.node.as_ref()).collect();
            json!({"Pod": pod, "Nodes": {"metadata": {}, "items": items}, "NodeNames": null})
        }
    }

    /// The filter verb: which of `nodes` the extender accepts.
    pub async fn filter(&self, pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Result<Filtered, String> {
        if self.config.filter_verb.is_empty() {
            return Ok(Filtered {
                passed: nodes.iter().map(|n| n.name.clone()).collect(),
                ..Filtered::default()
            });
        }
        let answer = self
            .post(&self.config.filter_verb, &self.args(pod, nodes))
            .await?;
        if let Some(e) = field(&answer, "Error")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            return Err(e.to_string());
        }
        let passed: Vec<String> = if self.config.node_cache_capable {
            field(&answer, "NodeNames")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            field(&answer, "Nodes")
                .and_then(|n| field(n, "items"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.pointer("/metadata/name").and_then(Value::as_str))
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Filtered {
            passed,
            failed: string_map(field(&answer, "FailedNodes")),
            failed_unresolvable: string_map(field(&answer, "FailedAndUnresolvableNodes")),
        })
    }

    /// The prioritize verb: each node's score (0–10) times this extender's weight.
    pub async fn prioritize(
        &self,
        pod: &Pod,
        nodes: &[Arc<NodeInfo>],
    ) -> Result<HashMap<String, i64>, String> {
        if self.config.prioritize_verb.is_empty() {
            return Ok(HashMap::new());
        }
        let answer = self
            .post(&self.config.prioritize_verb, &self.args(pod, nodes))
            .await?;
        let list = answer.as_array().cloned().unwrap_or_default();
        Ok(list
            .iter()
            .filter_map(|hp| {
                let host = field(hp, "Host")?.as_str()?.to_string();
                let score = field(hp, "Score").and_then(Value::as_i64).unwrap_or(0);
                Some((host, score * self.config.weight))
            })
            .collect())
    }

    /// The bind verb.
    pub async fn bind(&self, pod: &PodInfo, node: &str) -> Result<(), String> {
        let args = json!({"PodName": pod.name, "PodNamespace": pod.namespace, "PodUID": pod.uid, "Node": node});
        let answer = self.post(&self.config.bind_verb, &args).await?;
        match field(&answer, "Error").and_then(Value::as_str) {
            Some(e) if !e.is_empty() => Err(e.to_string()),
            _ => Ok(()),
        }
    }

    /// The preempt verb: the candidates (node → victims' uids and PDB violations) the extender
    /// keeps, possibly with fewer victims.
    pub async fn process_preemption(
        &self,
        pod: &Pod,
        candidates: &BTreeMap<String, (Vec<Arc<PodInfo>>, usize)>,
    ) -> Result<BTreeMap<String, (Vec<String>, usize)>, String> {
        let args = if self.config.node_cache_capable {
            let meta: serde_json::Map<String, Value> = candidates
                .iter()
                .map(|(n, (v, pdb))| {
                    let pods: Vec<Value> = v.iter().map(|p| json!({"UID": p.uid})).collect();
                    (n.clone(), json!({"Pods": pods, "NumPDBViolations": pdb}))
                })
                .collect();
            json!({"Pod": pod, "NodeNameToMetaVictims": meta})
        } else {
            let full: serde_json::Map<String, Value> = candidates
                .iter()
                .map(|(n, (v, pdb))| {
                    let pods: Vec<&Pod> = v.iter().map(|p| &p.pod).collect();
                    (n.clone(), json!({"Pods": pods, "NumPDBViolations": pdb}))
                })
                .collect();
            json!({"Pod": pod, "NodeNameToVictims": full})
        };
        let answer = self.post(&self.config.preempt_verb, &args).await?;
        let mut out = BTreeMap::new();
        let Some(map) = field(&answer, "NodeNameToMetaVictims").and_then(Value::as_object) else {
            return Ok(out);
        };
        for (node, victims) in map {
            let uids = field(victims, "Pods")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| field(p, "UID").and_then(Value::as_str).map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let pdb = field(victims, "NumPDBViolations")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            out.insert(
                node.clone(),
                (uids, usize::try_from(pdb).unwrap_or(usize::MAX)),
            );
        }
        Ok(out)
    }

    /// POSTs `body` to `<urlPrefix>/<verb>` and decodes the JSON answer.
    async fn post(&self, verb: &str, body: &Value) -> Result<Value, String> {
        let url = format!("{}/{verb}", self.config.url_prefix.trim_end_matches('/'));
        match tokio::time::timeout(self.config.http_timeout, self.send(&url, body)).await {
            Ok(r) => r.map_err(|e| format!("failed {verb} with extender at URL {url}: {e}")),
            Err(_) => Err(format!(
                "failed {verb} with extender at URL {url}: timeout after {:?}",
                self.config.http_timeout
            )),
        }
    }

    async fn send(&self, url: &str, body: &Value) -> Result<Value, String> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| format!("unsupported URL {url}"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let default_port = if url.starts_with("https://") { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h.trim_matches(['[', ']']),
                p.parse::<u16>().map_err(|e| e.to_string())?,
            ),
            _ => (authority, default_port),
        };
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        let payload = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| e.to_string())?;
        let response = match &self.tls {
            Some(tls) => {
                let name = self
                    .config
                    .tls
                    .as_ref()
                    .map(|t| t.server_name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| host.to_string());
                let server = ServerName::try_from(name).map_err(|e| e.to_string())?;
                let stream = tls.connect(server, tcp).await.map_err(|e| e.to_string())?;
                exchange(TokioIo::new(stream), request).await?
            }
            None => exchange(TokioIo::new(tcp), request).await?,
        };
        let (status, bytes) = response;
        if status != 200 {
            return Err(format!("code {status}"));
        }
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }
}

/// One HTTP/1.1 request on a fresh connection.
async fn exchange<I>(io: I, request: hyper::Request<Full<Bytes>>) -> Result<(u16, Bytes), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}
