//! The admin kubeconfig: the API's address, the cluster CA and the admin client certificate,
//! written to `<data-dir>/admin.kubeconfig` by the server and printed by `capstan kubeconfig`.

use std::path::Path;

use anyhow::Context;
use base64::Engine;

/// A kubeconfig for `server` (https://HOST:PORT), trusting `ca_pem`, as the admin.
pub fn admin_kubeconfig(server: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: capstan\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: capstan\n  context:\n    cluster: capstan\n    user: admin\n    namespace: default\ncurrent-context: capstan\n",
        b64(ca_pem),
        b64(cert_pem),
        b64(key_pem)
    )
}

/// The kubeconfig a server wrote in its data dir.
pub fn read(data_dir: &Path) -> anyhow::Result<String> {
    let p = data_dir.join("admin.kubeconfig");
    std::fs::read_to_string(&p).with_context(|| {
        format!(
            "reading {} (has `capstan server` started on this data dir?)",
            p.display()
        )
    })
}
