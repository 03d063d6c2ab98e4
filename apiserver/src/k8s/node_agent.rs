//! How the API server reaches a node's agent (the kubelet's port): the Node's InternalIP and
//! `daemonEndpoints.kubeletEndpoint`, over TLS with the API server's kubelet-client
//! certificate. `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward` go this way.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::objects::{key, Freshness};
use super::resources;
use super::status::{ApiError, ApiResult};
use super::{meta, KubeApi};

/// The agent of the node a pod is bound to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agent {
    pub ip: IpAddr,
    pub port: u16,
}

impl Agent {
    /// Opens a TLS connection to the agent.
    pub async fn connect(&self, api: &KubeApi) -> ApiResult<TlsStream<TcpStream>> {
        let Some(tls) = api.config().kubelet_client.clone() else {
            return Err(ApiError::bad_request(
                "this API server has no client certificate to reach node agents with",
            ));
        };
        let fail =
            |e: String| ApiError::internal(format!("dial tcp {}:{}: {e}", self.ip, self.port));
        let tcp = TcpStream::connect((self.ip, self.port))
            .await
            .map_err(|e| fail(e.to_string()))?;
        tokio_rustls::TlsConnector::from(tls)
            .connect(ServerName::IpAddress(self.ip.into()), tcp)
            .await
            .map_err(|e| fail(e.to_string()))
    }

    /// The error for a request to `path` that failed with `e`, as Go's HTTP client words it.
    pub fn unreachable(&self, path: &str, e: String) -> ApiError {
        ApiError::internal(format!(
            "Get \"https://{}:{}{path}\": {e}",
            self.ip, self.port
        ))
    }
}

/// The error for an agent's answer other than the one expected: its text, with its status.
pub async fn refusal(resp: hyper::Response<hyper::body::Incoming>) -> ApiError {
    use http_body_util::BodyExt;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&body).trim().to_string();
    match status {
        400 => ApiError::bad_request(message),
        403 => ApiError::new(403, "Forbidden", message),
        404 => ApiError::new(404, "NotFound", message),
        code => ApiError::new(code, "InternalError", message),
    }
}

/// The agent of the node `pod` (named `name`) is bound to.
pub async fn locate(api: &KubeApi, pod: &Value, name: &str) -> ApiResult<Agent> {
    let Some(node_name) = meta::str_at(pod, "/spec/nodeName").filter(|n| !n.is_empty()) else {
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
    Ok(Agent { ip, port })
}

/// Where a node's agent answers: its InternalIP (else any address) and kubelet port.
pub fn endpoint(node: &Value, node_name: &str) -> ApiResult<(IpAddr, u16)> {
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
                "node {node_name} reports no kubelet endpoint to reach it at"
            ))
        })?;
    Ok((ip, port))
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
