//! `pods/log`: the API server checks the request against the pod (its container, its node)
//! as kube-apiserver's LogREST does, then streams the answer of the node agent's
//! `containerLogs` endpoint (the kubelet's port from the Node's `daemonEndpoints`, at its
//! InternalIP) back to the client. The agent is reached over TLS with the API server's
//! kubelet-client certificate; its answer other than 200 becomes a Status with its text.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;

use super::objects::{key, Freshness};
use super::resources;
use super::route::Call;
use super::status::{ApiError, ApiResult};
use super::{meta, KubeApi};

/// The query parameters passed on to the agent.
const PASSED: [&str; 7] = [
    "follow",
    "previous",
    "sinceSeconds",
    "sinceTime",
    "timestamps",
    "tailLines",
    "limitBytes",
];

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
        .collect()
}

/// The container a request names, or the pod's only one (upstream's `validateContainer`).
fn container(pod: &Value, name: &str, asked: Option<&str>) -> ApiResult<String> {
    let regular = names(pod, "containers");
    let init = names(pod, "initContainers");
    let ephemeral = names(pod, "ephemeralContainers");
    match asked {
        Some(c) => {
            if regular
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|n| n == c)
            {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None if regular.len() == 1 => Ok(regular[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                regular.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            if !ephemeral.is_empty() {
                message.push_str(&format!(
                    " or one of the ephemeral containers: [{}]",
                    ephemeral.join(" ")
                ));
            }
            Err(ApiError::bad_request(message))
        }
    }
}

/// Where a node's agent answers: its InternalIP (else any address) and kubelet port.
fn endpoint(node: &Value, node_name: &str) -> ApiResult<(IpAddr, u16)> {
    let addresses = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let pick = |kind: &str| {
        addresses
            .iter()
            .filter(|a| kind.is_empty() || a["type"] == kind)
            .find_map(|a| a["address"].as_str().and_then(|s| s.parse::<IpAddr>().ok()))
    };
    let ip = pick("InternalIP")
        .or_else(|| pick("ExternalIP"))
        .or_else(|| pick(""))
        .ok_or_else(|| {
            ApiError::bad_request(format!("node {node_name} has no address to reach it at"))
        })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "node {node_name} reports no kubelet endpoint to read logs from"
            ))
        })?;
    Ok((ip, port))
}

/// GET `pods/{name}/log`.
pub async fn pod_log(api: &KubeApi, call: Call) -> ApiResult<Response> {
    let pods = call.r();
    let name = call.name()?.to_string();
    let ns = call.ns().unwrap_or("default").to_string();
    let Some(found) = api
        .store()
        .get(&key(pods, Some(&ns), &name), Freshness::Latest)
        .await?
    else {
        return Err(ApiError::not_found(pods, &name));
    };
    let pod = found.object;
    let container = container(&pod, &name, call.query.get("container"))?;
    let Some(node_name) = meta::str_at(&pod, "/spec/nodeName").filter(|n| !n.is_empty()) else {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    };
    let nodes = resources::find("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes are not served"))?;
    let Some(node) = api
        .store()
        .get(&key(nodes, None, node_name), Freshness::Any)
        .await?
    else {
        return Err(ApiError::not_found(nodes, node_name));
    };
    let (ip, port) = endpoint(&node.object, node_name)?;
    let Some(tls) = api.config().kubelet_client.clone() else {
        return Err(ApiError::bad_request(
            "this API server has no client certificate to reach node agents with",
        ));
    };
    // The serializer is not Send: it is gone before the first await below.
    let query = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for p in PASSED {
            if let Some(v) = call.query.get(p) {
                q.append_pair(p, v);
            }
        }
        q.finish()
    };
    let path = format!("/containerLogs/{ns}/{name}/{container}?{query}");
    let unreachable =
        |e: String| ApiError::internal(format!("Get \"https://{ip}:{port}{path}\": {e}"));
    let tcp = tokio::net::TcpStream::connect((ip, port))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::IpAddress(ip.into()), tcp)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(conn);
    let req = Request::get(&path)
        .header(header::HOST, format!("{ip}:{port}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| unreachable(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = resp.status();
    if status != StatusCode::OK {
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = String::from_utf8_lossy(&body).trim().to_string();
        return Err(match status.as_u16() {
            400 => ApiError::bad_request(message),
            404 => ApiError::new(404, "NotFound", message),
            code => ApiError::new(code, "InternalError", message),
        });
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::new(resp.into_body()))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// A TLS client configuration for reaching node agents as `cert_pem`/`key_pem`. The agents'
/// serving certificates are self-signed, so they are not verified (kube-apiserver without
/// `--kubelet-certificate-authority` does the same); the agent verifies the API server.
pub fn kubelet_client_config(
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("kubelet client certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("kubelet client key: {e}"))?;
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(UnverifiedAgent(provider)))
        .with_client_auth_cert(certs, key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(cfg))
}

/// Accepts the agent's self-signed certificate, checking only that the handshake is signed by
/// its key.
#[derive(Debug)]
struct UnverifiedAgent(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for UnverifiedAgent {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
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
        cert: &rustls::pki_types::CertificateDer<'_>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_container_is_the_named_one_or_the_only_one() {
        let one = json!({"spec": {"containers": [{"name": "c"}]}});
        assert_eq!(container(&one, "p", None).unwrap(), "c");
        assert_eq!(
            container(&one, "p", Some("x")).unwrap_err().message,
            "container x is not valid for pod p"
        );
        let two = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}],
                                  "initContainers": [{"name": "i"}]}});
        assert_eq!(container(&two, "p", Some("i")).unwrap(), "i");
        assert_eq!(
            container(&two, "p", None).unwrap_err().message,
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
        );
    }

    #[test]
    fn the_agent_is_reached_at_its_internal_ip_and_kubelet_port() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "w1"}, {"type": "InternalIP", "address": "127.0.0.9"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 4321}}}});
        assert_eq!(
            endpoint(&node, "w1").unwrap(),
            ("127.0.0.9".parse().unwrap(), 4321)
        );
        let no_port =
            json!({"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.9"}]}});
        assert_eq!(endpoint(&no_port, "w1").unwrap_err().code, 400);
    }
}
