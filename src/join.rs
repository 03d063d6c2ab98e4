//! Joining a running cluster with `--join https://HOST:PEERPORT --token TOKEN` (as k3s does):
//!
//! 1. A TLS handshake with the peer port, trusting nothing, only to read the certificate chain
//!    it presents; the CA whose SHA-256 equals the token's hash is the cluster's CA. Any other
//!    server (or a man in the middle) fails here, before anything secret is sent.
//! 2. A verified TLS connection with that CA as the only root: `Join` with the token's secret.
//!    The cluster adds the newcomer as a learner (promoted once caught up) and hands it the CA.

use std::sync::Arc;

use anyhow::{bail, Context};
use capstan_proto::raft as pb;
use capstan_proto::raft::raft_client::RaftClient;
use capstan_raft::pki::{ca_hash_der, JoinToken};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{DigitallySignedStruct, SignatureScheme};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// Accepts any chain and keeps it; used only to learn the chain, never to send anything.
#[derive(Debug)]
struct RecordChain {
    chain: std::sync::Mutex<Vec<CertificateDer<'static>>>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for RecordChain {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut c) = self.chain.lock() {
            c.push(end_entity.clone().into_owned());
            c.extend(intermediates.iter().map(|i| i.clone().into_owned()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

fn to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Step 1: the cluster CA (PEM), pinned by the token's hash.
async fn pinned_ca(url: &str, token: &JoinToken) -> anyhow::Result<String> {
    let addr = url
        .strip_prefix("https://")
        .with_context(|| format!("--join {url:?}: give https://HOST:PEERPORT"))?
        .trim_end_matches('/');
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(RecordChain {
        chain: std::sync::Mutex::new(Vec::new()),
        schemes: provider
            .signature_verification_algorithms
            .supported_schemes(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .with_context(|| format!("--join {url:?}: bad host"))?;
    let limit = std::time::Duration::from_secs(10);
    let tcp = tokio::time::timeout(limit, TcpStream::connect(addr))
        .await
        .with_context(|| format!("connecting to {url}: timed out"))?
        .with_context(|| format!("connecting to {url}"))?;
    let _tls = tokio::time::timeout(
        limit,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .with_context(|| format!("TLS handshake with {url}: timed out"))?
    .with_context(|| format!("TLS handshake with {url}"))?;
    let chain = verifier.chain.lock().map(|c| c.clone()).unwrap_or_default();
    for cert in &chain {
        if ca_hash_der(cert) == token.ca_hash {
            return Ok(to_pem(cert));
        }
    }
    bail!("{url} is not part of the cluster the token names (no certificate in its chain matches the token's CA hash)")
}

/// What joining gives the newcomer.
pub struct Joined {
    pub response: pb::JoinResponse,
}

/// Joins the cluster at `url`, announcing this replica as `me`.
pub async fn join(url: &str, token: &JoinToken, me: pb::JoinRequest) -> anyhow::Result<Joined> {
    let ca = pinned_ca(url, token).await?;
    let ep = Endpoint::from_shared(url.to_string())?
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60))
        .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca)))?;
    let ch = ep
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let mut client = RaftClient::new(ch);
    let req = pb::JoinRequest {
        secret: token.secret.clone(),
        ..me
    };
    // The replica asked may not know a leader yet (it may have joined a moment ago, or an
    // election may be running): retry those for a while; anything else is final.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let response = loop {
        match client.join(req.clone()).await {
            Ok(r) => break r.into_inner(),
            Err(s)
                if s.code() == tonic::Code::Unavailable && std::time::Instant::now() < deadline =>
            {
                tracing::info!(via = %url, reason = %s.message(), "join: waiting for a leader");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(s) => bail!("join refused by {url}: {}", s.message()),
        }
    };
    // The CA handed over must be the one the token pins (it is what this replica will trust).
    let sent = capstan_raft::pki::ca_hash(&response.ca_cert_pem)
        .with_context(|| format!("{url} sent an unreadable CA"))?;
    if sent != token.ca_hash {
        bail!("{url} sent a CA that is not the one the token names");
    }
    Ok(Joined { response })
}
