//! The persistentvolume-binder, the local-path-provisioner and DefaultStorageClass admission
//! through a real `capstan server`: claims bind to the smallest matching volume, a claim nothing
//! matches waits with upstream's event, a released volume is kept or deleted as its policy says,
//! the `local-path` class is the default and provisions node-local volumes once the scheduler's
//! node is chosen. The test plays the scheduler (it sets `volume.kubernetes.io/selected-node`).
//! One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

struct Fixture {
    _dir: tempfile::TempDir,
    server: Server,
    client: kube::Client,
    volumes: Api<PersistentVolume>,
    claims: Api<PersistentVolumeClaim>,
}

/// One replica running `controllers`.
async fn fixture(controllers: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "v",
        &["--controllers".into(), controllers.into()],
    );
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    Fixture {
        volumes: Api::all(client.clone()),
        claims: Api::namespaced(client.clone(), "default"),
        client,
        server,
        _dir: dir,
    }
}

/// Stops the replica and starts it again (a new controller manager, on a new term).
async fn restart(f: &mut Fixture) {
    assert!(f.server.terminate());
    f.server.restart();
    common::wait_api_ready(&f.server, PATIENCE).await;
    f.client = f.server.kube().await;
    f.volumes = Api::all(f.client.clone());
    f.claims = Api::namespaced(f.client.clone(), "default");
}

async fn local_path_class(f: &Fixture) -> StorageClass {
    until("the local-path class", || async {
        Api::<StorageClass>::all(f.client.clone())
            .get_opt("local-path")
            .await
            .ok()
            .flatten()
    })
    .await
}

fn is_default(c: &StorageClass) -> Option<String> {
    c.annotations()
        .get("storageclass.kubernetes.io/is-default-class")
        .cloned()
}

/// Polls `probe` until it answers `Some`.
async fn until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn volume(f: &Fixture, name: &str, size: &str, spec: Value) -> PersistentVolume {
    let mut v = json!({
        "metadata": {"name": name, "labels": {"size": size}},
        "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": format!("/data/{name}")}},
    });
    merge(&mut v, &spec);
    f.volumes
        .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
        .await
        .unwrap()
}

async fn claim(f: &Fixture, name: &str, size: &str, spec: Value) -> PersistentVolumeClaim {
    let mut v = json!({
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    });
    merge(&mut v, &spec);
    f.claims
        .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
        .await
        .unwrap()
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn claim_phase(c: &PersistentVolumeClaim) -> &str {
    c.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn volume_phase(v: &PersistentVolume) -> &str {
    v.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn volume_name(c: &PersistentVolumeClaim) -> Option<String> {
    c.spec.as_ref().and_then(|s| s.volume_name.clone())
}

async fn bound_claim(f: &Fixture, name: &str) -> PersistentVolumeClaim {
    until(&format!("claim {name} bound"), || async {
        let c = f.claims.get(name).await.unwrap();
        (claim_phase(&c) == "Bound").then_some(c)
    })
    .await
}

/// The events about `object` with `reason`, as (type, message).
async fn events(f: &Fixture, object: &str, reason: &str) -> Vec<(String, String)> {
    Api::<Event>::namespaced(f.client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(object) && e.reason.as_deref() == Some(reason)
        })
        .map(|e| (e.type_.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

async fn event(f: &Fixture, object: &str, reason: &str) -> (String, String) {
    until(&format!("{reason} event about {object}"), || async {
        events(f, object, reason).await.into_iter().next()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_binds_to_the_smallest_volume_that_satisfies_it_both_ways() {
    let f = fixture("persistentvolume-binder").await;
    volume(&f, "big", "10Gi", json!({})).await;
    volume(&f, "small", "2Gi", json!({})).await;
    volume(&f, "tiny", "500Mi", json!({})).await;
    volume(
        &f,
        "shared",
        "1Gi",
        json!({"spec": {"accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}}),
    )
    .await;
    let made = claim(&f, "data", "1Gi", json!({"spec": {"storageClassName": ""}})).await;
    let c = bound_claim(&f, "data").await;
    // "shared" fits more tightly but has more access modes than asked for.
    assert_eq!(volume_name(&c).as_deref(), Some("small"));
    let a = c.annotations();
    assert_eq!(
        a.get("pv.kubernetes.io/bind-completed").map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        a.get("pv.kubernetes.io/bound-by-controller")
            .map(String::as_str),
        Some("yes")
    );
    let st = c.status.as_ref().unwrap();
    assert_eq!(st.capacity.as_ref().unwrap()["storage"].0, "2Gi");
    assert_eq!(st.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
    let v = until("volume small bound", || async {
        let v = f.volumes.get("small").await.unwrap();
        (volume_phase(&v) == "Bound").then_some(v)
    })
    .await;
    let r = v.spec.as_ref().unwrap().claim_ref.as_ref().unwrap();
    assert_eq!(
        (r.namespace.as_deref(), r.name.as_deref()),
        (Some("default"), Some("data"))
    );
    assert_eq!(r.uid, made.uid());
    assert_eq!(r.kind.as_deref(), Some("PersistentVolumeClaim"));
    assert!(r.resource_version.is_some());
    assert_eq!(
        v.annotations()
            .get("pv.kubernetes.io/bound-by-controller")
            .map(String::as_str),
        Some("yes")
    );
    for other in ["big", "tiny", "shared"] {
        assert_eq!(
            volume_phase(&f.volumes.get(other).await.unwrap()),
            "Available"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_no_volume_satisfies_stays_pending_with_the_failed_binding_event() {
    let f = fixture("persistentvolume-binder").await;
    volume(
        &f,
        "gold",
        "5Gi",
        json!({"spec": {"storageClassName": "gold"}}),
    )
    .await;
    volume(&f, "little", "500Mi", json!({})).await;
    let none = json!({"spec": {"storageClassName": ""}});
    // Big enough only in another class; another access mode; another label.
    claim(&f, "classless", "1Gi", none.clone()).await;
    let mut rwx = none.clone();
    merge(
        &mut rwx,
        &json!({"spec": {"accessModes": ["ReadWriteMany"]}}),
    );
    claim(&f, "shared", "100Mi", rwx).await;
    let mut sel = none.clone();
    merge(
        &mut sel,
        &json!({"spec": {"selector": {"matchLabels": {"size": "1Gi"}}}}),
    );
    claim(&f, "picky", "100Mi", sel).await;
    for name in ["classless", "shared", "picky"] {
        let (kind, message) = event(&f, name, "FailedBinding").await;
        assert_eq!(kind, "Normal");
        assert_eq!(
            message,
            "no persistent volumes available for this claim and no storage class is set"
        );
        let c = f.claims.get(name).await.unwrap();
        assert_eq!(claim_phase(&c), "Pending");
        assert_eq!(volume_name(&c), None);
    }
    for v in ["gold", "little"] {
        assert_eq!(volume_phase(&f.volumes.get(v).await.unwrap()), "Available");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_naming_a_volume_binds_to_it_and_a_volume_naming_a_claim_is_kept_for_it() {
    let f = fixture("persistentvolume-binder").await;
    volume(&f, "small", "1Gi", json!({})).await;
    volume(&f, "big", "9Gi", json!({})).await;
    volume(
        &f,
        "reserved",
        "9Gi",
        json!({"spec": {"claimRef": {"namespace": "default", "name": "later"}}}),
    )
    .await;
    claim(
        &f,
        "chosen",
        "1Gi",
        json!({"spec": {"storageClassName": "", "volumeName": "big"}}),
    )
    .await;
    let c = bound_claim(&f, "chosen").await;
    assert_eq!(volume_name(&c).as_deref(), Some("big"));
    // The user named the volume: only the completion annotation is the controller's.
    assert!(!c
        .annotations()
        .contains_key("pv.kubernetes.io/bound-by-controller"));
    let c = {
        claim(
            &f,
            "later",
            "1Gi",
            json!({"spec": {"storageClassName": ""}}),
        )
        .await;
        bound_claim(&f, "later").await
    };
    assert_eq!(volume_name(&c).as_deref(), Some("reserved"));
    assert_eq!(
        volume_phase(&f.volumes.get("small").await.unwrap()),
        "Available"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_volume_is_released_when_its_claim_is_deleted() {
    let f = fixture("persistentvolume-binder").await;
    volume(
        &f,
        "keep",
        "1Gi",
        json!({"spec": {"persistentVolumeReclaimPolicy": "Retain"}}),
    )
    .await;
    claim(&f, "data", "1Gi", json!({"spec": {"storageClassName": ""}})).await;
    bound_claim(&f, "data").await;
    f.claims
        .delete("data", &DeleteParams::default())
        .await
        .unwrap();
    let v = until("volume keep released", || async {
        let v = f.volumes.get("keep").await.unwrap();
        (volume_phase(&v) == "Released").then_some(v)
    })
    .await;
    // Still naming the claim that is gone, so no new claim takes it.
    assert_eq!(
        v.spec.unwrap().claim_ref.unwrap().name.as_deref(),
        Some("data")
    );
    assert!(v.status.unwrap().last_phase_transition_time.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_volume_with_the_delete_policy_fails_as_no_plugin_can_delete_it() {
    let f = fixture("persistentvolume-binder").await;
    volume(
        &f,
        "nfs",
        "1Gi",
        json!({"spec": {"persistentVolumeReclaimPolicy": "Delete"}}),
    )
    .await;
    claim(&f, "data", "1Gi", json!({"spec": {"storageClassName": ""}})).await;
    bound_claim(&f, "data").await;
    f.claims
        .delete("data", &DeleteParams::default())
        .await
        .unwrap();
    let v = until("volume nfs failed", || async {
        let v = f.volumes.get("nfs").await.unwrap();
        (volume_phase(&v) == "Failed").then_some(v)
    })
    .await;
    let message = "error getting deleter volume plugin for volume \"nfs\": no deletable volume plugin matched";
    assert_eq!(v.status.unwrap().message.as_deref(), Some(message));
    let (kind, m) = event(&f, "nfs", "VolumeFailedDelete").await;
    assert_eq!((kind.as_str(), m.as_str()), ("Warning", message));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_path_class_is_the_default_and_a_class_less_claim_gets_it() {
    let f = fixture("persistentvolume-binder,local-path-provisioner").await;
    let classes: Api<StorageClass> = Api::all(f.client.clone());
    let class = until("the local-path class", || async {
        classes.get_opt("local-path").await.unwrap()
    })
    .await;
    assert_eq!(class.provisioner, "capstan.io/local-path");
    assert_eq!(
        class.volume_binding_mode.as_deref(),
        Some("WaitForFirstConsumer")
    );
    assert_eq!(class.reclaim_policy.as_deref(), Some("Delete"));
    assert_eq!(
        class
            .annotations()
            .get("storageclass.kubernetes.io/is-default-class")
            .map(String::as_str),
        Some("true")
    );
    let c = claim(&f, "data", "1Gi", json!({})).await;
    assert_eq!(
        c.spec.unwrap().storage_class_name.as_deref(),
        Some("local-path")
    );
    // An explicit empty class asks for none and keeps it.
    let c = claim(&f, "none", "1Gi", json!({"spec": {"storageClassName": ""}})).await;
    assert_eq!(c.spec.unwrap().storage_class_name.as_deref(), Some(""));
    // The newest default wins.
    let newer: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "example.com/fast",
    }))
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    classes
        .create(&PostParams::default(), &newer)
        .await
        .unwrap();
    let c = claim(&f, "later", "1Gi", json!({})).await;
    assert_eq!(c.spec.unwrap().storage_class_name.as_deref(), Some("fast"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_path_claim_waits_for_its_first_consumer() {
    let f = fixture("persistentvolume-binder,local-path-provisioner").await;
    until("the local-path class", || async {
        Api::<StorageClass>::all(f.client.clone())
            .get_opt("local-path")
            .await
            .unwrap()
    })
    .await;
    let c = claim(&f, "data", "1Gi", json!({})).await;
    let (kind, message) = event(&f, "data", "WaitForFirstConsumer").await;
    assert_eq!(kind, "Normal");
    assert_eq!(
        message,
        "waiting for first consumer to be created before binding"
    );
    let c2 = f.claims.get("data").await.unwrap();
    assert_eq!(claim_phase(&c2), "Pending");
    assert!(!c2
        .annotations()
        .contains_key("volume.kubernetes.io/storage-provisioner"));
    let pv = format!("pvc-{}", c.uid().unwrap());
    assert!(f.volumes.get_opt(&pv).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_path_claim_on_a_chosen_node_gets_a_provisioned_volume_and_binds() {
    let f = fixture("persistentvolume-binder,local-path-provisioner").await;
    until("the local-path class", || async {
        Api::<StorageClass>::all(f.client.clone())
            .get_opt("local-path")
            .await
            .unwrap()
    })
    .await;
    let c = claim(&f, "data", "3Gi", json!({})).await;
    // The scheduler's part.
    f.claims
        .patch(
            "data",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {
                "volume.kubernetes.io/selected-node": "node-1"}}})),
        )
        .await
        .unwrap();
    let bound = bound_claim(&f, "data").await;
    let name = format!("pvc-{}", c.uid().unwrap());
    assert_eq!(volume_name(&bound).as_deref(), Some(name.as_str()));
    assert_eq!(
        bound
            .annotations()
            .get("volume.kubernetes.io/storage-provisioner")
            .map(String::as_str),
        Some("capstan.io/local-path")
    );
    let v = f.volumes.get(&name).await.unwrap();
    assert_eq!(
        v.annotations()
            .get("pv.kubernetes.io/provisioned-by")
            .map(String::as_str),
        Some("capstan.io/local-path")
    );
    let spec = v.spec.unwrap();
    assert_eq!(
        spec.host_path.unwrap().path,
        format!("/var/lib/capstan/storage/{name}_default_data")
    );
    assert_eq!(spec.capacity.unwrap()["storage"].0, "3Gi");
    assert_eq!(spec.storage_class_name.as_deref(), Some("local-path"));
    assert_eq!(
        spec.persistent_volume_reclaim_policy.as_deref(),
        Some("Delete")
    );
    let affinity = serde_json::to_value(spec.node_affinity.unwrap()).unwrap();
    assert_eq!(
        affinity["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"],
        json!(["node-1"])
    );
    let (_, message) = event(&f, "data", "ProvisioningSucceeded").await;
    assert_eq!(message, format!("Successfully provisioned volume {name}"));
    let (_, message) = event(&f, "data", "ExternalProvisioning").await;
    assert!(message.starts_with(
        "Waiting for a volume to be created either by the external provisioner 'capstan.io/local-path'"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioned_volume_is_deleted_with_its_claim() {
    let f = fixture("persistentvolume-binder,local-path-provisioner").await;
    until("the local-path class", || async {
        Api::<StorageClass>::all(f.client.clone())
            .get_opt("local-path")
            .await
            .unwrap()
    })
    .await;
    claim(
        &f,
        "data",
        "1Gi",
        json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "node-1"}}}),
    )
    .await;
    let c = bound_claim(&f, "data").await;
    let name = volume_name(&c).unwrap();
    f.claims
        .delete("data", &DeleteParams::default())
        .await
        .unwrap();
    until("the provisioned volume deleted", || async {
        f.volumes
            .get_opt(&name)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_of_an_external_provisioners_class_is_handed_to_it() {
    let f = fixture("persistentvolume-binder").await;
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "nfs"}, "provisioner": "example.com/nfs",
    }))
    .unwrap();
    Api::<StorageClass>::all(f.client.clone())
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    claim(
        &f,
        "data",
        "1Gi",
        json!({"spec": {"storageClassName": "nfs"}}),
    )
    .await;
    let (kind, message) = event(&f, "data", "ExternalProvisioning").await;
    assert_eq!(kind, "Normal");
    assert_eq!(
        message,
        "Waiting for a volume to be created either by the external provisioner 'example.com/nfs' \
         or manually by the system administrator. If volume creation is delayed, please verify \
         that the provisioner is running and correctly registered."
    );
    let c = f.claims.get("data").await.unwrap();
    for a in [
        "volume.kubernetes.io/storage-provisioner",
        "volume.beta.kubernetes.io/storage-provisioner",
    ] {
        assert_eq!(
            c.annotations().get(a).map(String::as_str),
            Some("example.com/nfs")
        );
    }
    assert_eq!(claim_phase(&c), "Pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_path_class_is_made_only_when_absent_and_a_users_edits_stay() {
    let mut f = fixture("persistentvolume-binder,local-path-provisioner").await;
    local_path_class(&f).await;
    Api::<StorageClass>::all(f.client.clone())
        .patch(
            "local-path",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {
                "labels": {"edited": "yes"},
                "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}})),
        )
        .await
        .unwrap();
    restart(&mut f).await;
    // A volume provisioned after the restart: the new manager has looked at the class.
    claim(
        &f,
        "after",
        "1Gi",
        json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "n"}},
               "spec": {"storageClassName": "local-path"}}),
    )
    .await;
    bound_claim(&f, "after").await;
    let class = local_path_class(&f).await;
    assert_eq!(is_default(&class).as_deref(), Some("false"));
    assert_eq!(
        class.labels().get("edited").map(String::as_str),
        Some("yes")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_path_class_is_not_made_a_second_default() {
    let mut f = fixture("persistentvolume-binder,local-path-provisioner").await;
    local_path_class(&f).await;
    let classes: Api<StorageClass> = Api::all(f.client.clone());
    classes
        .delete("local-path", &DeleteParams::default())
        .await
        .unwrap();
    let fast: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "fast",
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "example.com/fast",
    }))
    .unwrap();
    classes.create(&PostParams::default(), &fast).await.unwrap();
    restart(&mut f).await;
    let class = local_path_class(&f).await;
    assert_eq!(is_default(&class).as_deref(), Some("false"));
    let c = claim(&f, "data", "1Gi", json!({})).await;
    assert_eq!(c.spec.unwrap().storage_class_name.as_deref(), Some("fast"));
}
