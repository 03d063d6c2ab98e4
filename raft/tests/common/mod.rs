//! In-process raft clusters for tests: real replicas (RocksDB, gRPC over TCP on 127.0.0.1, mutual
//! TLS from a fresh CA) in one process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_raft::pki::{issue, new_ca, CertPair, CertRequest};
use capstan_raft::{Member, NodeId, PeerTls, RaftNode, RaftNodeConfig, ReplicatedKv};
use capstan_store::testing::test_config;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub mod proxy;
use proxy::LinkProxy;

pub struct Replica {
    pub id: NodeId,
    pub node: Option<RaftNode>,
    pub member: Member,
    pub listener_addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

pub struct TestCluster {
    pub dir: TempDir,
    pub ca: CertPair,
    pub replicas: Vec<Replica>,
    /// With `start_proxied`: the proxy each replica dials the other through, by (from, to).
    pub links: BTreeMap<(NodeId, NodeId), LinkProxy>,
}

pub fn node_tls(ca: &CertPair, name: &str) -> PeerTls {
    let identity = issue(
        ca,
        &CertRequest {
            common_name: name,
            organizations: &[capstan_raft::pki::REPLICA_ORGANIZATION],
            subject_alt_names: vec!["127.0.0.1".into(), "localhost".into()],
            server: true,
            client: true,
        },
    )
    .unwrap();
    PeerTls {
        ca_cert: ca.cert.clone(),
        identity,
    }
}

pub fn fast_config(id: NodeId, member: Member, dir: std::path::PathBuf) -> RaftNodeConfig {
    let mut c = RaftNodeConfig::new(id, member, dir);
    c.heartbeat = Duration::from_millis(50);
    c.election_timeout_min = Duration::from_millis(200);
    c.election_timeout_max = Duration::from_millis(400);
    c.store = test_config();
    c
}

impl TestCluster {
    /// Starts `n` voters and waits for a leader.
    pub async fn start(n: usize) -> TestCluster {
        Self::start_with(n, |_| {}).await
    }

    pub async fn start_with(n: usize, tweak: impl Fn(&mut RaftNodeConfig)) -> TestCluster {
        Self::start_full(n, false, tweak).await
    }

    /// Starts `n` voters whose peer traffic goes through one proxy per direction of each link.
    pub async fn start_proxied(n: usize, tweak: impl Fn(&mut RaftNodeConfig)) -> TestCluster {
        Self::start_full(n, true, tweak).await
    }

    async fn start_full(
        n: usize,
        proxied: bool,
        tweak: impl Fn(&mut RaftNodeConfig),
    ) -> TestCluster {
        let dir = tempfile::tempdir().unwrap();
        let ca = new_ca().unwrap();
        let mut listeners = Vec::new();
        let mut members = BTreeMap::new();
        for i in 0..n {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let id = i as NodeId + 1;
            members.insert(
                id,
                Member {
                    name: format!("n{id}"),
                    peer_url: format!("https://{addr}"),
                    ..Default::default()
                },
            );
            listeners.push((id, l, addr));
        }
        let mut replicas = Vec::new();
        for (id, l, addr) in listeners {
            let member = members[&id].clone();
            let mut cfg = fast_config(id, member.clone(), dir.path().join(format!("n{id}")));
            cfg.tls = Some(node_tls(&ca, &member.name));
            tweak(&mut cfg);
            let node = RaftNode::start(cfg).await.unwrap();
            let (tx, rx) = oneshot::channel();
            node.serve(l, async move {
                let _ = rx.await;
            })
            .unwrap();
            replicas.push(Replica {
                id,
                node: Some(node),
                member,
                listener_addr: addr,
                stop: Some(tx),
            });
        }
        let mut links = BTreeMap::new();
        if proxied {
            for from in &replicas {
                for to in &replicas {
                    if from.id == to.id {
                        continue;
                    }
                    let p = LinkProxy::start(to.listener_addr).await;
                    from.node
                        .as_ref()
                        .unwrap()
                        .peers()
                        .route_via(&to.member.peer_url, &p.url());
                    links.insert((from.id, to.id), p);
                }
            }
        }
        replicas[0]
            .node
            .as_ref()
            .unwrap()
            .initialize(members)
            .await
            .unwrap();
        let c = TestCluster {
            dir,
            ca,
            replicas,
            links,
        };
        c.wait_leader(Duration::from_secs(60)).await;
        c
    }

    /// Cuts every link to and from `id`.
    pub fn isolate(&self, id: NodeId) {
        for ((from, to), p) in &self.links {
            if *from == id || *to == id {
                p.cut();
            }
        }
    }

    /// Heals every link.
    pub fn heal(&self) {
        for p in self.links.values() {
            p.heal();
        }
    }

    /// Waits until some replica other than `not` leads, as seen by a replica other than `not`.
    pub async fn wait_new_leader(&self, not: NodeId, within: Duration) -> NodeId {
        let deadline = Instant::now() + within;
        loop {
            for r in &self.replicas {
                if r.id == not {
                    continue;
                }
                if let Some(n) = &r.node {
                    if n.kv().leadership().borrow().is_leader {
                        return r.id;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no new leader within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every replica has applied the same index and their stores hash alike.
    pub async fn wait_converged(&self, within: Duration) -> u32 {
        use capstan_store::Kv;
        let deadline = Instant::now() + within;
        loop {
            let mut seen = Vec::new();
            for r in &self.replicas {
                let Some(n) = &r.node else { continue };
                let local = n.kv().local().clone();
                let st = local.status().await.unwrap();
                let h = local.hash_kv(st.revision).await.unwrap();
                seen.push((st.revision, h.hash));
            }
            if seen.windows(2).all(|w| w[0] == w[1]) {
                return seen[0].1;
            }
            assert!(
                Instant::now() < deadline,
                "replicas did not converge within {within:?}: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn node(&self, id: NodeId) -> &RaftNode {
        self.replicas
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.node.as_ref())
            .expect("running replica")
    }

    pub fn kv(&self, id: NodeId) -> ReplicatedKv {
        self.node(id).kv().clone()
    }

    /// Waits until a running replica is leader and every running replica agrees; returns it.
    pub async fn wait_leader(&self, within: Duration) -> NodeId {
        let deadline = Instant::now() + within;
        loop {
            let running: Vec<_> = self
                .replicas
                .iter()
                .filter_map(|r| r.node.as_ref())
                .collect();
            let leaders: Vec<_> = running
                .iter()
                .filter(|n| n.kv().leadership().borrow().is_leader)
                .map(|n| n.kv().id())
                .collect();
            if leaders.len() == 1 {
                let l = leaders[0];
                if running
                    .iter()
                    .all(|n| n.kv().leadership().borrow().leader == Some(l))
                {
                    return l;
                }
            }
            assert!(Instant::now() < deadline, "no leader within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A running replica that is not the leader.
    pub async fn follower(&self) -> NodeId {
        let leader = self.wait_leader(Duration::from_secs(60)).await;
        self.replicas
            .iter()
            .find(|r| r.id != leader && r.node.is_some())
            .map(|r| r.id)
            .unwrap_or(leader)
    }
}

/// A store harness for the conformance suite: a cluster of `n`, served through a follower when
/// there is one (so forwarding, read index and apply waits are all on the path).
pub async fn harness(n: usize) -> capstan_store::testing::Harness {
    let c = TestCluster::start(n).await;
    let id = c.follower().await;
    let kv: Arc<dyn capstan_store::Kv> = Arc::new(c.kv(id));
    capstan_store::testing::Harness {
        kv,
        guard: Box::new(Arc::new(tokio::sync::Mutex::new(c))),
    }
}
