//! What the Kubernetes REST workloads share: a kube-rs client per replica (the admin kubeconfig
//! the servers wrote, pointed at each replica's own HTTPS API, whose port a replica announces in
//! its `endpoints.json` on every start), one operation recorded at a time with the HTTP answer
//! classified as Jepsen does, and the store's own history of a namespace read back through the
//! etcd API after healing (the ground truth: resourceVersions are the store's revisions).
//!
//! Clients talk to the API directly, not through the client link proxies: a partitioned replica
//! keeps serving its clients, which is what makes a stale read or a lost write possible.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::client::{CallError, Etcd};
use crate::cluster::Cluster;
use crate::history::{Call, KvEvent, Outcome};
use crate::recorder::Recorder;
use crate::JepsenError;

/// How long one REST call may take before its outcome is unknown.
pub const KUBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The namespace every Kubernetes workload works in.
pub const NAMESPACE: &str = "default";

/// kube-rs clients to every replica's Kubernetes API, as the admin.
pub struct KubeClients {
    base: kube::Config,
    /// (replica name, data dir) by replica index.
    replicas: Vec<(String, PathBuf)>,
    /// The client last built per replica, with the API URL it was built for.
    cache: Mutex<HashMap<usize, (String, kube::Client)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl KubeClients {
    /// Reads the admin kubeconfig the first replica wrote (every replica shares the PKI).
    pub async fn new(cluster: &Cluster) -> Result<Arc<KubeClients>, JepsenError> {
        let replicas: Vec<(String, PathBuf)> = cluster
            .replicas
            .iter()
            .map(|r| (r.name.clone(), r.data_dir()))
            .collect();
        let path = replicas
            .first()
            .map(|(_, d)| d.join("admin.kubeconfig"))
            .ok_or_else(|| JepsenError::Config("no replicas".into()))?;
        let mut last = String::new();
        for _ in 0..300 {
            match kube::config::Kubeconfig::read_from(&path) {
                Ok(kc) => {
                    let opts = kube::config::KubeConfigOptions::default();
                    let mut base = kube::Config::from_custom_kubeconfig(kc, &opts)
                        .await
                        .map_err(|e| JepsenError::Config(format!("{}: {e}", path.display())))?;
                    base.connect_timeout = Some(Duration::from_secs(1));
                    base.read_timeout = None;
                    base.write_timeout = Some(KUBE_TIMEOUT);
                    // No hidden retries: kube-rs repeats a request answered 429, 503 or 504,
                    // and a write whose first attempt was applied (a 503 for a commit the
                    // replica could not wait for) would come back as a false 409.
                    base.default_retry = false;
                    return Ok(Arc::new(KubeClients {
                        base,
                        replicas,
                        cache: Mutex::new(HashMap::new()),
                    }));
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(JepsenError::Unhealthy(format!(
            "{}: {last}",
            path.display()
        )))
    }

    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    /// A random replica's index and name.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> (usize, String) {
        let i = rng.gen_range(0..self.replicas.len().max(1));
        let name = self
            .replicas
            .get(i)
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        (i, name)
    }

    /// The API URL replica `i` announced at its last start.
    fn api_url(&self, i: usize) -> Result<String, CallError> {
        let dir = self
            .replicas
            .get(i)
            .map(|(_, d)| d)
            .ok_or_else(|| CallError {
                outcome: Outcome::Fail,
                message: format!("no replica {i}"),
            })?;
        let text = std::fs::read_to_string(dir.join("endpoints.json")).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["api"].as_str().map(str::to_string))
            .ok_or_else(|| CallError {
                outcome: Outcome::Fail,
                message: "the replica announced no API address (not started)".into(),
            })
    }

    /// A client of replica `i`'s API (an error is a definite failure: nothing was sent).
    pub fn client(&self, i: usize) -> Result<kube::Client, CallError> {
        let url = self.api_url(i)?;
        let mut cache = lock(&self.cache);
        if let Some((u, c)) = cache.get(&i) {
            if *u == url {
                return Ok(c.clone());
            }
        }
        let fail = |message: String| CallError {
            outcome: Outcome::Fail,
            message,
        };
        let mut cfg = self.base.clone();
        cfg.cluster_url = url.parse().map_err(|e| fail(format!("{url}: {e}")))?;
        let client = kube::Client::try_from(cfg).map_err(|e| fail(e.to_string()))?;
        cache.insert(i, (url, client.clone()));
        Ok(client)
    }
}

/// The HTTP status of an API error, if the server answered.
pub fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// The outcome an error means for a call that may write: an answer refusing the request
/// (4xx but 408/429) or a connection never made is `Fail`; a timeout, a 5xx, a 429 or a lost
/// connection is `Info`, since the write may still be (or already have been) applied.
pub fn classify(e: &kube::Error) -> CallError {
    let message = e.to_string();
    let outcome = match status_code(e) {
        Some(408 | 429) => Outcome::Info,
        Some(code) if (400..500).contains(&code) => Outcome::Fail,
        Some(_) => Outcome::Info,
        None if message.contains("onnection refused") => Outcome::Fail,
        None => Outcome::Info,
    };
    CallError { outcome, message }
}

/// Runs `fut` with the REST deadline; a timeout is `Info`.
pub async fn timed<T>(
    fut: impl std::future::Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(KUBE_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(CallError {
            outcome: Outcome::Info,
            message: format!("no answer within {KUBE_TIMEOUT:?}"),
        }),
    }
}

/// A resourceVersion as the store revision it is (0 when absent or not a number).
pub fn rv_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> i64 {
    meta.resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One logical REST client: one operation at a time, sent to whichever replica it picks, and
/// a fresh process after an indeterminate outcome (Jepsen's rule, as [`crate::recorder::Lane`]).
pub struct KubeLane {
    pub name: String,
    pub rec: Arc<Recorder>,
    process: u64,
}

impl KubeLane {
    pub fn new(name: &str, rec: Arc<Recorder>) -> KubeLane {
        let process = rec.new_process();
        KubeLane {
            name: name.to_string(),
            rec,
            process,
        }
    }

    /// Records `call` sent to `node`, runs `fut` (the call as answered and its revision) under
    /// the REST deadline and records the outcome.
    pub async fn run(
        &mut self,
        node: &str,
        call: Call,
        fut: impl std::future::Future<Output = Result<(Call, i64), CallError>>,
    ) -> Result<(Call, i64), CallError> {
        let index = self
            .rec
            .invoke(self.process, &self.name, node, call.clone());
        let result = timed(fut).await;
        match &result {
            Ok((answered, rev)) => {
                self.rec
                    .complete(index, Outcome::Ok, answered.clone(), *rev, None)
            }
            Err(e) => {
                self.rec
                    .complete(index, e.outcome, call, 0, Some(e.message.clone()));
                if e.outcome == Outcome::Info {
                    self.process = self.rec.new_process();
                }
            }
        }
        result
    }
}

/// The storage prefix of a namespaced resource's objects in `NAMESPACE`.
pub fn storage_prefix(storage: &str) -> String {
    format!("/registry/{storage}/{NAMESPACE}/")
}

/// The store's history under `prefixes` read back from replica `c` after healing (every change
/// since revision 1, served from the store's history): the ground truth the REST checkers
/// compare what the API delivered with. `Err` when it cannot be read whole (compacted).
pub async fn read_truth(c: &Etcd, prefixes: &[String]) -> Result<TruthLog, String> {
    let status = c.status().await.map_err(|e| format!("status: {e}"))?;
    let revision = status.header.map(|h| h.revision).unwrap_or(0);
    let mut out = TruthLog {
        revision,
        prefixes: Vec::new(),
    };
    for prefix in prefixes {
        match crate::dump::history(c, prefix, 1, revision).await? {
            Ok((events, _)) => out.prefixes.push((
                prefix.clone(),
                events
                    .into_iter()
                    .filter(|e| e.mod_rev <= revision)
                    .collect(),
            )),
            Err(compacted) => {
                return Err(format!(
                    "the store is compacted to revision {compacted}: its history is incomplete"
                ))
            }
        }
    }
    Ok(out)
}

/// The store's history of the prefixes a Kubernetes workload used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthLog {
    /// The store's revision when read.
    pub revision: i64,
    /// Each storage prefix with its events in revision order.
    pub prefixes: Vec<(String, Vec<KvEvent>)>,
}

impl TruthLog {
    pub fn events(&self, prefix: &str) -> Option<&[KvEvent]> {
        self.prefixes
            .iter()
            .find(|(p, _)| p == prefix)
            .map(|(_, e)| e.as_slice())
    }
}
