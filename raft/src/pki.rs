//! The cluster's identity: a CA and the certificates it issues (rcgen). Replicas authenticate each
//! other with certificates from one CA; clients present the admin certificate (CN=admin,
//! O=system:masters). A joining replica receives the CA (certificate and key, as k3s servers
//! share theirs) and issues its own serving certificate.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use sha2::{Digest, Sha256};

/// A certificate and its private key, PEM-encoded.
#[derive(Clone, Debug)]
pub struct CertPair {
    pub cert: String,
    pub key: String,
}

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("PEM: {0}")]
    Pem(String),
}

const CA_COMMON_NAME: &str = "capstan-ca";

/// The organization of every replica's certificate: peer calls need it, so a client
/// certificate from the same CA (the admin's, say) cannot speak raft.
pub const REPLICA_ORGANIZATION: &str = "capstan:replicas";

/// Whether the DER certificate `der` names [`REPLICA_ORGANIZATION`] in its subject. (Its
/// signature was checked by the TLS handshake against the cluster CA.)
pub fn is_replica_cert(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der).is_ok_and(|(_, cert)| {
        cert.subject()
            .iter_organization()
            .any(|o| o.as_str() == Ok(REPLICA_ORGANIZATION))
    })
}

/// The certificates already found to be replica certificates. A peer presents the same
/// certificate on every call of a connection, so each is parsed once, not once per call.
#[derive(Debug, Default)]
pub struct ReplicaCerts {
    known: std::sync::Mutex<Vec<Vec<u8>>>,
}

/// How many accepted certificates are remembered (a cluster has at most a handful of peers).
const REMEMBERED_CERTS: usize = 16;

impl ReplicaCerts {
    /// Whether `der` is a replica certificate (see `is_replica_cert`). TLS has already checked
    /// that it is signed by the cluster CA; an identical DER is the same certificate.
    pub fn accepts(&self, der: &[u8]) -> bool {
        if let Ok(known) = self.known.lock() {
            if known.iter().any(|c| c.as_slice() == der) {
                return true;
            }
        }
        let ok = is_replica_cert(der);
        if ok {
            if let Ok(mut known) = self.known.lock() {
                if known.len() >= REMEMBERED_CERTS {
                    known.remove(0);
                }
                known.push(der.to_vec());
            }
        }
        ok
    }
}

/// The CA's parameters. The issuer of a certificate is identified by this name and the CA's key,
/// so a CA loaded from disk signs with the same parameters it was created with.
fn ca_params() -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name
        .push(DnType::CommonName, CA_COMMON_NAME);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// A new self-signed cluster CA.
pub fn new_ca() -> Result<CertPair, PkiError> {
    let key = KeyPair::generate()?;
    let cert = ca_params()?.self_signed(&key)?;
    Ok(CertPair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// What a certificate is for.
#[derive(Clone, Debug)]
pub struct CertRequest<'a> {
    pub common_name: &'a str,
    pub organizations: &'a [&'a str],
    /// DNS names and IP addresses it is valid for (servers).
    pub subject_alt_names: Vec<String>,
    pub server: bool,
    pub client: bool,
}

/// Issues a certificate signed by `ca`.
pub fn issue(ca: &CertPair, req: &CertRequest<'_>) -> Result<CertPair, PkiError> {
    let ca_key = KeyPair::from_pem(&ca.key)?;
    let issuer = Issuer::new(ca_params()?, ca_key);
    let mut p = CertificateParams::new(req.subject_alt_names.clone())?;
    p.distinguished_name
        .push(DnType::CommonName, req.common_name);
    for o in req.organizations {
        p.distinguished_name.push(DnType::OrganizationName, *o);
    }
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    if req.server {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if req.client {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    p.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, &issuer)?;
    Ok(CertPair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// The hash a join token carries: SHA-256 of the CA certificate (DER), hex.
pub fn ca_hash_der(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `ca_hash_der` of the first certificate in a PEM text.
pub fn ca_hash(ca_cert_pem: &str) -> Result<String, PkiError> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(ca_cert_pem.as_bytes())
        .map_err(|e| PkiError::Pem(e.to_string()))?;
    Ok(ca_hash_der(&der))
}

/// A join token: `capstan1.<ca hash>.<secret>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinToken {
    pub ca_hash: String,
    pub secret: String,
}

impl JoinToken {
    /// Parses a token; `None` if it is not in the `capstan1.<hash>.<secret>` form.
    pub fn parse(s: &str) -> Option<JoinToken> {
        let mut parts = s.trim().splitn(3, '.');
        let (Some("capstan1"), Some(hash), Some(secret)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || secret.is_empty() {
            return None;
        }
        Some(JoinToken {
            ca_hash: hash.to_ascii_lowercase(),
            secret: secret.to_string(),
        })
    }
}

impl std::fmt::Display for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "capstan1.{}.{}", self.ca_hash, self.secret)
    }
}
