//! A real etcd 3.4 (Debian's etcd-server) beside capstan: the peer `capstan migrate` copies from,
//! and the reference the etcd API's answers are checked against.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::Client;

use super::free_port;

pub struct Etcd(Child);

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// etcd's serving certificate and key, and the CA its clients' certificates must come from.
pub struct EtcdTls<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    pub ca: &'a Path,
}

/// A single-member etcd (Debian's etcd-server, 3.4) in `dir/etcd` on free loopback ports, plain
/// or with client-certificate TLS; its client URL once it answers.
pub async fn start_etcd(dir: &Path, tls: Option<&EtcdTls<'_>>) -> (Etcd, String) {
    let (client, peer) = (free_port(), free_port());
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut cmd = Command::new("etcd");
    if let Some(t) = tls {
        cmd.arg("--cert-file")
            .arg(t.cert)
            .arg("--key-file")
            .arg(t.key)
            .arg("--trusted-ca-file")
            .arg(t.ca)
            .arg("--client-cert-auth");
    }
    let child = cmd
        .args(["--name", "e1", "--data-dir"])
        .arg(dir.join("etcd"))
        .args(["--listen-client-urls", &url])
        .args(["--advertise-client-urls", &url])
        .args(["--listen-peer-urls", &peer_url])
        .args(["--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("e1={peer_url}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd (Debian's etcd-server) must be installed: scripts/install-deps.sh");
    let etcd = Etcd(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = match tls {
            None => match Client::connect([url.as_str()], None).await {
                Ok(mut c) => c.status().await.is_ok(),
                Err(_) => false,
            },
            // Listening is enough here: the test connects with its certificate next.
            Some(_) => std::net::TcpStream::connect(("127.0.0.1", client)).is_ok(),
        };
        if up {
            return (etcd, url);
        }
        assert!(Instant::now() < deadline, "etcd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
