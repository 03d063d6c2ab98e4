//! PriorityClasses and Priority admission through the REST facade, as kube-apiserver 1.33 has
//! them: the system classes made at start and kept from deletion, the reserved values and
//! names, one global default, and a new pod's priority and preemption policy from its class.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};

mod support;

use support::{pod, Api, PODS};

const CLASSES: &str = "/apis/scheduling.k8s.io/v1/priorityclasses";

fn class(name: &str, value: i64) -> Value {
    json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
           "metadata": {"name": name}, "value": value})
}

fn pod_with(name: &str, spec: Value) -> Value {
    let mut p = pod(name);
    for (k, v) in spec.as_object().unwrap() {
        p["spec"][k] = v.clone();
    }
    p
}

#[tokio::test]
async fn the_system_classes_exist_after_start_and_cannot_be_deleted() {
    let api = Api::new().await;
    for (name, value, description) in [
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
    ] {
        let a = api.get(&format!("{CLASSES}/{name}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["value"], value);
        assert_eq!(a.body["description"], description);
        assert_eq!(a.body["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(a.body["metadata"]["generation"], 1);
        assert!(a.body.get("globalDefault").is_none(), "{}", a.body);
    }
    let a = api
        .call(
            "DELETE",
            &format!("{CLASSES}/system-node-critical"),
            "application/json",
            "",
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["reason"], "Forbidden");
    assert_eq!(
        a.body["message"],
        "priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"
    );
    assert_eq!(
        a.body["details"],
        json!({"name": "system-node-critical", "group": "scheduling.k8s.io", "kind": "priorityclasses"})
    );
    assert_eq!(
        api.get(&format!("{CLASSES}/system-node-critical"))
            .await
            .status,
        200
    );
    // A pod naming a system class gets its value.
    let a = api
        .post(
            PODS,
            pod_with(
                "critical",
                json!({"priorityClassName": "system-node-critical"}),
            ),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["spec"]["priority"], 2_000_001_000);
    assert_eq!(a.body["spec"]["preemptionPolicy"], "PreemptLowerPriority");
}

#[tokio::test]
async fn user_classes_may_not_take_system_values_or_names() {
    let api = Api::new().await;
    let a = api.post(CLASSES, class("too-high", 2_000_000_000)).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "PriorityClass.scheduling.k8s.io \"too-high\" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
    );
    let a = api.post(CLASSES, class("system-foo", 10)).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "PriorityClass.scheduling.k8s.io \"system-foo\" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-foo is not a known system priority class"
    );
    assert_eq!(api.get(&format!("{CLASSES}/too-high")).await.status, 404);
    assert_eq!(api.get(&format!("{CLASSES}/system-foo")).await.status, 404);
    // One billion is the user's; a class's value cannot change.
    let a = api.post(CLASSES, class("highest", 1_000_000_000)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = api
        .patch(
            &format!("{CLASSES}/highest"),
            "application/merge-patch+json",
            json!({"value": 5}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "PriorityClass.scheduling.k8s.io \"highest\" is invalid: value: Forbidden: may not be changed in an update."
    );
}

#[tokio::test]
async fn a_pod_without_a_class_gets_priority_zero_when_there_is_no_default() {
    let api = Api::new().await;
    let a = api.post(PODS, pod("plain")).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["spec"]["priority"], 0);
    assert_eq!(a.body["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    assert!(a.body["spec"].get("priorityClassName").is_none());
    // An update that leaves the priority out keeps it.
    let mut replaced = a.body.clone();
    replaced["spec"].as_object_mut().unwrap().remove("priority");
    replaced["metadata"]["labels"]["tier"] = json!("x");
    let a = api.put(&format!("{PODS}/plain"), replaced).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["spec"]["priority"], 0);
    // What kube-apiserver computes may be given; anything else is refused.
    let a = api
        .post(PODS, pod_with("zero", json!({"priority": 0})))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = api
        .post(
            PODS,
            pod_with("never", json!({"preemptionPolicy": "Never"})),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "pods \"never\" is forbidden: the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name"
    );
}

#[tokio::test]
async fn the_global_default_class_is_applied_and_only_one_may_exist() {
    let api = Api::new().await;
    let mut default = class("batch-default", 1000);
    default["globalDefault"] = json!(true);
    default["preemptionPolicy"] = json!("Never");
    let a = api.post(CLASSES, default).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = api.post(PODS, pod("defaulted")).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["spec"]["priorityClassName"], "batch-default");
    assert_eq!(a.body["spec"]["priority"], 1000);
    assert_eq!(a.body["spec"]["preemptionPolicy"], "Never");
    // Admission's fields belong to no field manager.
    let owned = a.body["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"].clone();
    assert!(owned.get("f:priority").is_none(), "{owned}");
    // A named class still wins over the default.
    let a = api.post(CLASSES, class("low", 5)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = api
        .post(PODS, pod_with("named", json!({"priorityClassName": "low"})))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["spec"]["priority"], 5);
    assert_eq!(a.body["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    // A second default is refused, whether new or an existing class marked so.
    let mut second = class("other-default", 2000);
    second["globalDefault"] = json!(true);
    let a = api.post(CLASSES, second).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["reason"], "Forbidden");
    assert_eq!(
        a.body["message"],
        "priorityclasses.scheduling.k8s.io \"other-default\" is forbidden: PriorityClass batch-default is already marked as default. Only one default can exist"
    );
    assert_eq!(
        api.get(&format!("{CLASSES}/other-default")).await.status,
        404
    );
    let a = api
        .patch(
            &format!("{CLASSES}/low"),
            "application/merge-patch+json",
            json!({"globalDefault": true}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "priorityclasses.scheduling.k8s.io \"low\" is forbidden: PriorityClass batch-default is already marked as default. Only one default can exist"
    );
    // The default itself may be updated.
    let a = api
        .patch(
            &format!("{CLASSES}/batch-default"),
            "application/merge-patch+json",
            json!({"description": "the default"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn an_unknown_class_or_a_mismatched_priority_is_forbidden() {
    let api = Api::new().await;
    let a = api
        .post(PODS, pod_with("x", json!({"priorityClassName": "foo"})))
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["reason"], "Forbidden");
    assert_eq!(
        a.body["message"],
        "pods \"x\" is forbidden: no PriorityClass with name foo was found"
    );
    assert_eq!(a.body["details"], json!({"name": "x", "kind": "pods"}));
    assert_eq!(api.get(&format!("{PODS}/x")).await.status, 404);
    // Before names are generated: the refusal names the generateName.
    let mut generated = pod_with("", json!({"priorityClassName": "foo"}));
    generated["metadata"] = json!({"generateName": "web-"});
    let a = api.post(PODS, generated).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "pods \"web-\" is forbidden: no PriorityClass with name foo was found"
    );
    let a = api.post(CLASSES, class("mid", 100)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = api
        .post(
            PODS,
            pod_with("y", json!({"priorityClassName": "mid", "priority": 7})),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "pods \"y\" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 100 from the given PriorityClass name"
    );
    let a = api
        .post(
            PODS,
            pod_with("z", json!({"priorityClassName": "mid", "priority": 100})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["spec"]["priority"], 100);
    // Priority cannot change afterwards.
    let a = api
        .patch(
            &format!("{PODS}/z"),
            "application/merge-patch+json",
            json!({"spec": {"priority": 1}}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
}
