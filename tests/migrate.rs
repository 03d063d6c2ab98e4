//! `capstan migrate --from-etcd` against a real etcd 3.4 holding 100k keys (some overwritten,
//! some deleted, some on leases): every key, value, revision and lease TTL arrives, and the new
//! cluster serves them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use capstan_raft::pki::{issue, new_ca, CertRequest};
use common::etcd::{start_etcd, EtcdTls};
use common::{initial_cluster, wait_cluster, wait_converged, Server, BIN};
use etcd_client::{
    Certificate, Client, ConnectOptions, GetOptions, Identity, PutOptions, TlsOptions, Txn, TxnOp,
};

const KEYS: usize = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_a_live_etcd_keyspace_with_revisions_and_leases() {
    let dir = tempfile::tempdir().unwrap();
    let (_etcd, url) = start_etcd(dir.path(), None).await;
    let c = Client::connect([url.as_str()], None).await.unwrap();

    // 100k keys in transactions of 100 puts, 8 at a time.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let mut c = c.clone();
        tasks.push(tokio::spawn(async move {
            for t in (w..KEYS / 100).step_by(8) {
                let ops: Vec<TxnOp> = (0..100)
                    .map(|i| {
                        let n = t * 100 + i;
                        TxnOp::put(format!("/registry/k/{n:06}"), format!("value-{n}"), None)
                    })
                    .collect();
                c.txn(Txn::new().and_then(ops)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = c;
    // History: overwrites and deletes; keys on leases.
    for n in 0..50 {
        c.put(format!("/registry/k/{n:06}"), "changed", None)
            .await
            .unwrap();
    }
    c.delete("/registry/k/099999", None).await.unwrap();
    let mut leases = Vec::new();
    for ttl in [300, 600, 900] {
        let l = c.lease_grant(ttl, None).await.unwrap();
        c.put(
            format!("/registry/leased/{ttl}"),
            "x",
            Some(PutOptions::new().with_lease(l.id())),
        )
        .await
        .unwrap();
        leases.push((l.id(), ttl));
    }
    let before = c
        .get(
            "/registry/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    let etcd_rev = before.header().unwrap().revision();
    let etcd_count = before.count();
    assert_eq!(etcd_count as usize, KEYS - 1 + 3);
    let sample = c.get("/registry/k/000007", None).await.unwrap();
    let sample = sample.kvs()[0].clone();

    let data = dir.path().join("capstan");
    let out = Command::new(BIN)
        .args(["migrate", "--from-etcd", &url, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "migrate failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("migrated {} keys and 3 leases", etcd_count)),
        "{text}"
    );
    println!("{text}");

    // The new cluster, started on the migrated data dir.
    let s = Server::start(dir.path(), "capstan", &[]);
    let mut n = s.client().await;
    // (The server adds its system namespaces and the `kubernetes` service under /registry.)
    let after = n
        .get(
            "/registry/k/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    assert_eq!(after.count() as usize, KEYS - 1);
    let got = n.get("/registry/k/000007", None).await.unwrap();
    let got = &got.kvs()[0];
    assert_eq!(got.value(), b"changed");
    assert_eq!(
        (got.create_revision(), got.mod_revision(), got.version()),
        (
            sample.create_revision(),
            sample.mod_revision(),
            sample.version()
        ),
        "revisions and versions are kept"
    );
    assert_eq!(
        n.get("/registry/k/054321", None).await.unwrap().kvs()[0].value(),
        b"value-54321"
    );
    assert!(n
        .get("/registry/k/099999", None)
        .await
        .unwrap()
        .kvs()
        .is_empty());
    // The revision goes on from etcd's; history before it is compacted.
    let st = n.status().await.unwrap();
    assert!(st.header().unwrap().revision() >= etcd_rev);
    let old = n
        .get(
            "/registry/k/000007",
            Some(GetOptions::new().with_revision(etcd_rev - 10)),
        )
        .await;
    assert!(
        old.is_err(),
        "a read below the migrated revision must be compacted"
    );
    for (id, ttl) in leases {
        let t = n.lease_time_to_live(id, None).await.unwrap();
        assert_eq!(t.granted_ttl(), ttl, "lease {id:x}");
        // A new leader extends every lease by an election timeout, as etcd does.
        assert!(
            t.ttl() > 0 && t.ttl() <= ttl + 2,
            "lease {id:x}: {} s left of {ttl}",
            t.ttl()
        );
        let k = n
            .get(format!("/registry/leased/{ttl}"), None)
            .await
            .unwrap();
        assert_eq!(k.kvs()[0].lease(), id);
    }
    // And it takes writes.
    n.put("/registry/k/new", "after", None).await.unwrap();

    // Into three replicas: migrate into one data dir, restore the snapshot it keeps on the other
    // two (`--bump-revision 0`, as it prints), start all three.
    let root = dir.path().join("three");
    let (ports, spec) = initial_cluster("m", 3);
    let out = Command::new(BIN)
        .args([
            "migrate",
            "--from-etcd",
            &url,
            "--name",
            "m0",
            "--initial-cluster",
            &spec,
        ])
        .arg("--data-dir")
        .arg(root.join("m0"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("--bump-revision 0"), "{text}");
    let snapshot = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".snapshot"))
        .expect("migrate keeps its snapshot next to the data dir");
    for i in 1..3 {
        let name = format!("m{i}");
        let out = Command::new(BIN)
            .arg("restore")
            .arg(&snapshot)
            .args([
                "--bump-revision",
                "0",
                "--name",
                &name,
                "--initial-cluster",
                &spec,
            ])
            .arg("--data-dir")
            .arg(root.join(&name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pki = root.join("pki");
    let three: Vec<Server> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Server::start_on(
                &root,
                &format!("m{i}"),
                "https://127.0.0.1:0",
                &format!("127.0.0.1:{p}"),
                &["--pki-dir".into(), pki.display().to_string()],
            )
        })
        .collect();
    let refs: Vec<&Server> = three.iter().collect();
    wait_cluster(&refs, 3, Duration::from_secs(30)).await;
    wait_converged(&refs, Duration::from_secs(30)).await;
    let mut f = three[2].client().await;
    let count = f
        .get(
            "/registry/k/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap()
        .count();
    assert_eq!(count as usize, KEYS - 1);
    let got = f.get("/registry/k/000007", None).await.unwrap();
    assert_eq!(got.kvs()[0].mod_revision(), sample.mod_revision());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_from_an_etcd_that_requires_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca().unwrap();
    let server = issue(
        &ca,
        &CertRequest {
            common_name: "etcd",
            organizations: &[],
            subject_alt_names: vec!["127.0.0.1".into(), "localhost".into()],
            server: true,
            client: true,
        },
    )
    .unwrap();
    let client_pair = issue(
        &ca,
        &CertRequest {
            common_name: "root",
            organizations: &[],
            subject_alt_names: vec![],
            server: false,
            client: true,
        },
    )
    .unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (ca_crt, srv_crt, srv_key, cl_crt, cl_key) = (
        write("ca.crt", &ca.cert),
        write("etcd.crt", &server.cert),
        write("etcd.key", &server.key),
        write("client.crt", &client_pair.cert),
        write("client.key", &client_pair.key),
    );
    let tls = EtcdTls {
        cert: &srv_crt,
        key: &srv_key,
        ca: &ca_crt,
    };
    let (_etcd, url) = start_etcd(dir.path(), Some(&tls)).await;
    let opts = ConnectOptions::new().with_tls(
        TlsOptions::new()
            .ca_certificate(Certificate::from_pem(&ca.cert))
            .identity(Identity::from_pem(&client_pair.cert, &client_pair.key)),
    );
    let mut c = Client::connect([url.as_str()], Some(opts)).await.unwrap();
    for i in 0..1000 {
        c.put(format!("/registry/t/{i:04}"), format!("v{i}"), None)
            .await
            .unwrap();
    }

    let data = dir.path().join("capstan");
    let migrate = |with_cert: bool| {
        let mut cmd = Command::new(BIN);
        cmd.args(["migrate", "--from-etcd", &url, "--cacert"])
            .arg(&ca_crt)
            .arg("--data-dir")
            .arg(&data);
        if with_cert {
            cmd.arg("--cert").arg(&cl_crt).arg("--key").arg(&cl_key);
        }
        cmd.output().unwrap()
    };
    // Without a client certificate etcd refuses, and nothing is written.
    let refused = migrate(false);
    assert!(!refused.status.success());
    assert!(!data.exists(), "a refused migration wrote {data:?}");
    let out = migrate(true);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("migrated 1000 keys"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = Server::start(dir.path(), "capstan", &[]);
    let got = s
        .client()
        .await
        .get("/registry/t/0999", None)
        .await
        .unwrap();
    assert_eq!(got.kvs()[0].value(), b"v999");
}
