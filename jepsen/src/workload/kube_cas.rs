//! The kube-cas workload: ConfigMaps as registers through the Kubernetes REST API of random
//! replicas. A GET reads the register (its `data.value` and `metadata.resourceVersion`); an
//! update is a compare-and-swap on the resourceVersion last read: a PUT carrying it (a POST when
//! the lane last saw the object absent). 409 Conflict (or AlreadyExists, or NotFound for a PUT)
//! is the swap refused: the object's version was not the one expected. The history uses the
//! register calls with the resourceVersion as the mod revision, so the register linearizability
//! checker judges it. Each ConfigMap takes about `ops_per_key` operations and is then replaced
//! by a fresh one, as the register workload does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::Api;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::kube::{classify, rv_of, status_code, KubeClients, KubeLane, NAMESPACE};
use super::register::Registers;
use super::Pace;
use crate::client::CallError;
use crate::history::{Call, Outcome, Seen};

/// Runs one kube-cas lane until `pace` says stop.
pub async fn lane(
    mut lane: KubeLane,
    kube: Arc<KubeClients>,
    regs: Arc<Registers>,
    mut rng: ChaCha8Rng,
    pace: Pace,
) {
    // The resourceVersion this lane last saw per ConfigMap (0 = absent): the CAS expectation.
    let mut last_seen = HashMap::<String, i64>::new();
    while pace.go().await {
        let name = cm_name(&regs.pick(&mut rng));
        let (i, node) = kube.pick(&mut rng);
        let call = if rng.gen_bool(0.5) {
            Call::Read {
                key: name.clone(),
                seen: None,
            }
        } else {
            Call::Cas {
                key: name.clone(),
                expect_mod_rev: last_seen.get(&name).copied().unwrap_or(0),
                value: regs.value(),
                succeeded: None,
            }
        };
        let client = kube.client(i);
        let r = lane
            .run(
                &node,
                call.clone(),
                async move { exec(client?, call).await },
            )
            .await;
        match r {
            Ok((Call::Read { seen, .. }, _)) => {
                last_seen.insert(name, seen.map(|s| s.mod_rev).unwrap_or(0));
            }
            Ok((
                Call::Cas {
                    succeeded: Some(true),
                    ..
                },
                rev,
            )) => {
                last_seen.insert(name, rev);
            }
            _ => {}
        }
    }
}

/// A register key as a ConfigMap name (the register slots' keys carry the etcd prefix).
fn cm_name(key: &str) -> String {
    let tail = key.rsplit('/').next().unwrap_or(key);
    format!("jepsen-cas-{}", tail.replace('.', "-"))
}

fn config_map(name: &str, value: i64, rv: i64) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(NAMESPACE.to_string()),
            resource_version: (rv > 0).then(|| rv.to_string()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("value".to_string(), value.to_string())])),
        ..Default::default()
    }
}

/// The register value a ConfigMap holds.
fn value_of(cm: &ConfigMap) -> Result<i64, CallError> {
    cm.data
        .as_ref()
        .and_then(|d| d.get("value"))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| CallError {
            outcome: Outcome::Fail,
            message: format!("{:?} holds no numeric value", cm.metadata.name),
        })
}

async fn exec(client: kube::Client, call: Call) -> Result<(Call, i64), CallError> {
    let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    match call {
        Call::Read { key, .. } => match api.get(&key).await {
            Ok(cm) => {
                let rv = rv_of(&cm.metadata);
                let seen = Some(Seen {
                    value: value_of(&cm)?,
                    mod_rev: rv,
                });
                Ok((Call::Read { key, seen }, rv))
            }
            Err(e) if status_code(&e) == Some(404) => Ok((Call::Read { key, seen: None }, 0)),
            // A failed read changed nothing: dropped by the checker.
            Err(e) => Err(CallError {
                outcome: Outcome::Fail,
                ..classify(&e)
            }),
        },
        Call::Cas {
            key,
            expect_mod_rev,
            value,
            ..
        } => {
            let pp = PostParams::default();
            let cm = config_map(&key, value, expect_mod_rev);
            let answer = if expect_mod_rev == 0 {
                api.create(&pp, &cm).await
            } else {
                api.replace(&key, &pp, &cm).await
            };
            let answered = |succeeded: bool, rev: i64| -> Result<(Call, i64), CallError> {
                Ok((
                    Call::Cas {
                        key: key.clone(),
                        expect_mod_rev,
                        value,
                        succeeded: Some(succeeded),
                    },
                    rev,
                ))
            };
            match answer {
                Ok(written) => answered(true, rv_of(&written.metadata)),
                // The version differed from the expected one: the swap definitely did not
                // happen, which the model checks as a failed compare.
                Err(e) if matches!(status_code(&e), Some(409)) => answered(false, 0),
                Err(e) if status_code(&e) == Some(404) && expect_mod_rev != 0 => answered(false, 0),
                Err(e) => Err(classify(&e)),
            }
        }
        other => Ok((other, 0)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use super::*;
    use crate::check::wgl::check_registers;
    use crate::history::{Op, Validity};

    /// Ops as the lane records them: a POST create, a GET, then a PUT carrying the
    /// resourceVersion read, answered `conflict` (409) or accepted.
    fn history(conflict: bool) -> Vec<Op> {
        let op = |index: usize, call: Call, from: u64, rev: i64| Op {
            index,
            process: 0,
            lane: "kube-cas-0".into(),
            node: "n1".into(),
            call,
            outcome: Outcome::Ok,
            invoke_ns: from,
            complete_ns: from + 5,
            rev,
            error: None,
        };
        let key = "jepsen-cas-0-0".to_string();
        vec![
            op(
                0,
                Call::Cas {
                    key: key.clone(),
                    expect_mod_rev: 0,
                    value: 1,
                    succeeded: Some(true),
                },
                0,
                10,
            ),
            op(
                1,
                Call::Read {
                    key: key.clone(),
                    seen: Some(Seen {
                        value: 1,
                        mod_rev: 10,
                    }),
                },
                10,
                10,
            ),
            op(
                2,
                Call::Cas {
                    key,
                    expect_mod_rev: 10,
                    value: 2,
                    succeeded: Some(!conflict),
                },
                20,
                if conflict { 0 } else { 11 },
            ),
        ]
    }

    #[test]
    fn a_swap_on_the_version_just_read_is_linearizable() {
        let v = check_registers(&history(false), Duration::from_secs(5));
        assert_eq!(v.valid, Validity::Valid, "{v:?}");
    }

    #[test]
    fn a_conflict_with_no_other_writer_is_not_linearizable() {
        // 409 on the version the object still had: the server refused a swap that matched.
        let v = check_registers(&history(true), Duration::from_secs(5));
        assert_eq!(v.valid, Validity::Invalid, "{v:?}");
    }

    #[test]
    fn register_keys_become_configmap_names() {
        assert_eq!(cm_name("/jepsen/r/2.7"), "jepsen-cas-2-7");
    }
}
