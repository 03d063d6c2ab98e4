//! Exact-cell tests of the printers against realistic objects.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{json, Value};

use super::{cells, columns, human_duration};

fn now() -> Timestamp {
    "2024-06-01T12:00:00Z".parse().unwrap()
}

/// `now` minus `secs` seconds, as an RFC 3339 string.
fn ago(secs: i64) -> String {
    (now() - jiff::SignedDuration::from_secs(secs)).to_string()
}

fn row(group: &str, resource: &str, obj: &Value) -> Vec<Value> {
    let r = cells(group, resource, obj, now());
    assert_eq!(
        r.len(),
        columns(group, resource).len(),
        "{group}/{resource}: cells and columns differ in length"
    );
    r
}

fn names(group: &str, resource: &str) -> Vec<&'static str> {
    columns(group, resource).iter().map(|c| c.name).collect()
}

fn wide(group: &str, resource: &str) -> Vec<&'static str> {
    columns(group, resource)
        .iter()
        .filter(|c| c.priority > 0)
        .map(|c| c.name)
        .collect()
}

#[test]
fn human_duration_boundaries() {
    let s = |n: u64| human_duration(Duration::from_secs(n));
    assert_eq!(s(0), "0s");
    assert_eq!(s(59), "59s");
    assert_eq!(s(119), "119s");
    assert_eq!(s(120), "2m");
    assert_eq!(s(200), "3m20s");
    assert_eq!(s(599), "9m59s");
    assert_eq!(s(600), "10m");
    assert_eq!(s(90 * 60), "90m");
    assert_eq!(s(179 * 60 + 59), "179m");
    assert_eq!(s(3 * 3600), "3h");
    assert_eq!(s(7 * 3600 + 59 * 60), "7h59m");
    assert_eq!(s(8 * 3600), "8h");
    assert_eq!(s(47 * 3600), "47h");
    assert_eq!(s(2 * 86400), "2d");
    assert_eq!(s(2 * 86400 + 3 * 3600), "2d3h");
    assert_eq!(s(8 * 86400), "8d");
    assert_eq!(s(400 * 86400), "400d");
    assert_eq!(s(729 * 86400), "729d");
    assert_eq!(s(730 * 86400), "2y");
    assert_eq!(s(800 * 86400), "2y70d");
    assert_eq!(s(8 * 365 * 86400), "8y");
    assert_eq!(s(10 * 365 * 86400 + 5 * 86400), "10y");
}

#[test]
fn ages_in_the_future_and_unknown() {
    let future = |secs: i64| json!({"metadata": {"name": "x", "creationTimestamp": ago(-secs)}});
    assert_eq!(row("", "configmaps", &future(1))[2], "0s");
    assert_eq!(row("", "configmaps", &future(5))[2], "<invalid>");
    assert_eq!(
        row("", "configmaps", &json!({"metadata": {"name": "x"}}))[2],
        "<unknown>"
    );
    assert_eq!(
        row(
            "",
            "configmaps",
            &json!({"metadata": {"creationTimestamp": "garbage"}})
        )[2],
        "<unknown>"
    );
}

#[test]
fn pod_columns() {
    assert_eq!(
        names("", "pods"),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    assert_eq!(
        wide("", "pods"),
        ["IP", "Node", "Nominated Node", "Readiness Gates"]
    );
    let c = columns("", "pods");
    assert_eq!(c[0].format, "name");
    assert_eq!(c[3].kind, "string");
    let v = serde_json::to_value(&c[0]).unwrap();
    assert_eq!(v["type"], "string");
    assert_eq!(v["format"], "name");
    assert_eq!(v["priority"], 0);
}

#[test]
fn running_pod_two_containers_one_ready_with_restarts() {
    let pod = json!({
        "metadata": {"name": "web-7d9f", "namespace": "default", "creationTimestamp": ago(3 * 3600)},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx"}, {"name": "sidecar", "image": "envoy"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.1.2.3",
            "podIPs": [{"ip": "10.1.2.3"}],
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 1, "state": {"running": {"startedAt": ago(600)}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(20 * 60)}}},
                {"name": "sidecar", "ready": false, "restartCount": 2, "state": {"running": {"startedAt": ago(60)}},
                 "lastState": {"terminated": {"exitCode": 137, "finishedAt": ago(5 * 60)}}}
            ]
        }
    });
    assert_eq!(
        row("", "pods", &pod),
        vec![
            json!("web-7d9f"),
            json!("1/2"),
            json!("Running"),
            json!("3 (5m ago)"),
            json!("3h"),
            json!("10.1.2.3"),
            json!("node-1"),
            json!("<none>"),
            json!("<none>")
        ]
    );
}

#[test]
fn crashloop_pod() {
    let pod = json!({
        "metadata": {"name": "crash", "creationTimestamp": ago(2 * 86400 + 3 * 3600)},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 42,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(90)}}
            }]
        }
    });
    let r = row("", "pods", &pod);
    assert_eq!(
        r[1..5],
        [
            json!("0/1"),
            json!("CrashLoopBackOff"),
            json!("42 (90s ago)"),
            json!("2d3h")
        ]
    );
    assert_eq!(r[5], "<none>");
    assert_eq!(r[6], "<none>");
}

#[test]
fn pod_with_init_containers_running() {
    let pod = json!({
        "metadata": {"name": "init", "creationTimestamp": ago(30)},
        "spec": {
            "initContainers": [{"name": "migrate", "image": "m"}, {"name": "seed", "image": "s"}],
            "containers": [{"name": "app", "image": "a"}]
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "Initialized", "status": "False"}],
            "initContainerStatuses": [
                {"name": "migrate", "ready": true, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "seed", "ready": false, "restartCount": 0, "state": {"running": {}}}
            ],
            "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
            ]
        }
    });
    assert_eq!(
        row("", "pods", &pod)[1..5],
        [json!("0/1"), json!("Init:1/2"), json!("0"), json!("30s")]
    );

    // A failing init container, and a sidecar (restartable init container) that counts as a container.
    let failing = json!({
        "metadata": {"name": "init"},
        "spec": {
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "migrate"}],
            "containers": [{"name": "app"}]
        },
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "proxy", "ready": true, "started": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "migrate", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 2, "finishedAt": ago(10)}}}
            ]
        }
    });
    assert_eq!(
        row("", "pods", &failing)[1..4],
        [
            json!("1/2"),
            json!("Init:CrashLoopBackOff"),
            json!("3 (10s ago)")
        ]
    );

    let signalled = json!({
        "spec": {"initContainers": [{"name": "a"}], "containers": [{"name": "b"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}
    });
    assert_eq!(row("", "pods", &signalled)[2], "Init:Signal:9");
}

#[test]
fn terminating_pod() {
    let pod = json!({
        "metadata": {"name": "bye", "creationTimestamp": ago(600), "deletionTimestamp": ago(-30)},
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]}
    });
    assert_eq!(
        row("", "pods", &pod)[1..5],
        [json!("1/1"), json!("Terminating"), json!("0"), json!("10m")]
    );

    let lost = json!({
        "metadata": {"name": "lost", "deletionTimestamp": ago(0)},
        "status": {"phase": "Running", "reason": "NodeLost"}
    });
    assert_eq!(row("", "pods", &lost)[2], "Unknown");

    // A terminal pod being deleted keeps its terminal status.
    let done = json!({"metadata": {"deletionTimestamp": ago(0)}, "status": {"phase": "Succeeded"}});
    assert_eq!(row("", "pods", &done)[2], "Succeeded");
}

#[test]
fn completed_pod() {
    let pod = json!({
        "metadata": {"name": "job-abc", "creationTimestamp": ago(3600)},
        "spec": {"containers": [{"name": "main"}]},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ago(3000)}}}]
        }
    });
    assert_eq!(
        row("", "pods", &pod)[1..5],
        [json!("0/1"), json!("Completed"), json!("0"), json!("60m")]
    );

    let exit = json!({"status": {"phase": "Failed", "containerStatuses": [{"name": "m", "state": {"terminated": {"exitCode": 3}}}]}});
    assert_eq!(row("", "pods", &exit)[2], "ExitCode:3");

    // A completed container next to a running one reads Running/NotReady.
    let mixed = |ready: &str| {
        json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "status": {"phase": "Running",
        "conditions": [{"type": "Ready", "status": ready}],
        "containerStatuses": [
            {"name": "a", "ready": true, "state": {"running": {}}},
            {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}})
    };
    assert_eq!(row("", "pods", &mixed("True"))[2], "Running");
    assert_eq!(row("", "pods", &mixed("False"))[2], "NotReady");
}

#[test]
fn pod_wide_cells_and_scheduling_gates() {
    let pod = json!({
        "metadata": {"name": "p"},
        "spec": {"readinessGates": [{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]},
        "status": {
            "phase": "Pending",
            "nominatedNodeName": "node-9",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                {"type": "example.com/a", "status": "True"},
                {"type": "example.com/b", "status": "False"}
            ]
        }
    });
    let r = row("", "pods", &pod);
    assert_eq!(r[2], "SchedulingGated");
    assert_eq!(
        r[5..],
        [
            json!("<none>"),
            json!("<none>"),
            json!("node-9"),
            json!("1/2")
        ]
    );
}

#[test]
fn empty_objects_never_panic() {
    let resources = [
        ("", "pods"),
        ("", "namespaces"),
        ("", "nodes"),
        ("", "services"),
        ("", "endpoints"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "serviceaccounts"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("", "limitranges"),
        ("", "resourcequotas"),
        ("", "persistentvolumes"),
        ("", "persistentvolumeclaims"),
        ("", "replicationcontrollers"),
        ("", "podtemplates"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "controllerrevisions"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("coordination.k8s.io", "leases"),
        ("discovery.k8s.io", "endpointslices"),
        ("policy", "poddisruptionbudgets"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "ingressclasses"),
        ("networking.k8s.io", "networkpolicies"),
        ("storage.k8s.io", "storageclasses"),
        ("scheduling.k8s.io", "priorityclasses"),
        ("node.k8s.io", "runtimeclasses"),
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
        ),
        ("example.com", "widgets"),
    ];
    let junk = [
        json!({}),
        json!(null),
        json!("text"),
        json!({"metadata": 5, "spec": [], "status": "x"}),
        json!({"spec": {"containers": "nope", "selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}},
               "status": {"containerStatuses": [null, 3, {"state": null}]}}),
    ];
    for (g, r) in resources {
        let cols = columns(g, r);
        assert!(!cols.is_empty());
        assert_eq!(
            cols.iter().filter(|c| c.format == "name").count(),
            1,
            "{g}/{r}"
        );
        for obj in &junk {
            assert_eq!(cells(g, r, obj, now()).len(), cols.len(), "{g}/{r}");
        }
    }
    assert_eq!(
        row("", "pods", &json!({})),
        vec![
            json!(""),
            json!("0/0"),
            json!(""),
            json!("0"),
            json!("<unknown>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>")
        ]
    );
}

#[test]
fn deployment_two_of_three() {
    assert_eq!(
        names("apps", "deployments"),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    let d = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(5 * 86400)},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "tier": "fe"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "fluent-bit"}]}}
        },
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        row("apps", "deployments", &d),
        vec![
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("5d"),
            json!("nginx,log"),
            json!("nginx:1.27,fluent-bit"),
            json!("app=web,tier=fe")
        ]
    );
    // No status yet, replicas defaulted, selector with expressions.
    let fresh = json!({"metadata": {"name": "x"}, "spec": {"selector": {
        "matchLabels": {"app": "x"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}, {"key": "canary", "operator": "DoesNotExist"}]
    }}});
    let r = row("apps", "deployments", &fresh);
    assert_eq!(r[1..4], [json!("0/1"), json!(0), json!(0)]);
    assert_eq!(r[7], "app=x,!canary,env in (dev,prod)");
}

#[test]
fn replicaset_statefulset_daemonset_controllerrevision() {
    let rs = json!({
        "metadata": {"name": "web-5c9", "creationTimestamp": ago(120)},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": {"replicas": 2, "readyReplicas": 1}
    });
    assert_eq!(
        row("apps", "replicasets", &rs),
        vec![
            json!("web-5c9"),
            json!(2),
            json!(2),
            json!(1),
            json!("2m"),
            json!("c"),
            json!("i"),
            json!("app=web")
        ]
    );

    let sts = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 3}});
    assert_eq!(row("apps", "statefulsets", &sts)[1], "3/3");
    assert_eq!(
        names("apps", "statefulsets"),
        ["Name", "Ready", "Age", "Containers", "Images"]
    );

    let ds = json!({
        "metadata": {"name": "kube-proxy", "creationTimestamp": ago(7200)},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                 "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "kube-proxy", "image": "kp:v1"}]}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}
    });
    assert_eq!(
        row("apps", "daemonsets", &ds),
        vec![
            json!("kube-proxy"),
            json!(3),
            json!(3),
            json!(2),
            json!(3),
            json!(2),
            json!("kubernetes.io/os=linux"),
            json!("120m"),
            json!("kube-proxy"),
            json!("kp:v1"),
            json!("k8s-app=kube-proxy")
        ]
    );

    let cr = json!({
        "metadata": {"name": "web-6b7", "creationTimestamp": ago(60),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]},
        "revision": 4
    });
    assert_eq!(
        row("apps", "controllerrevisions", &cr),
        vec![
            json!("web-6b7"),
            json!("statefulset.apps/web"),
            json!(4),
            json!("60s")
        ]
    );
    assert_eq!(
        row("apps", "controllerrevisions", &json!({"revision": 1}))[1],
        "<none>"
    );
}

#[test]
fn services_clusterip_and_nodeport() {
    assert_eq!(
        names("", "services"),
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector"
        ]
    );
    let cip = json!({
        "metadata": {"name": "kubernetes", "creationTimestamp": ago(86400 * 30)},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}
    });
    assert_eq!(
        row("", "services", &cip),
        vec![
            json!("kubernetes"),
            json!("ClusterIP"),
            json!("10.96.0.1"),
            json!("<none>"),
            json!("443/TCP"),
            json!("30d"),
            json!("<none>")
        ]
    );
    let np = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(45)},
        "spec": {"type": "NodePort", "clusterIPs": ["10.96.10.20"], "selector": {"app": "web"},
                 "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}
    });
    assert_eq!(
        row("", "services", &np),
        vec![
            json!("web"),
            json!("NodePort"),
            json!("10.96.10.20"),
            json!("<none>"),
            json!("80:30080/TCP,53/UDP"),
            json!("45s"),
            json!("app=web")
        ]
    );
    let lb = |status: Value, external: Value| {
        json!({"spec": {"type": "LoadBalancer", "clusterIP": "None", "externalIPs": external,
                        "ports": [{"port": 80, "nodePort": 31000}]}, "status": status})
    };
    assert_eq!(
        row("", "services", &lb(json!({}), json!([])))[3],
        "<pending>"
    );
    let status = json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}});
    assert_eq!(
        row("", "services", &lb(status.clone(), json!([])))[3],
        "203.0.113.9,lb.example.com"
    );
    assert_eq!(
        row("", "services", &lb(status, json!(["198.51.100.1"])))[3],
        "203.0.113.9,lb.example.com,198.51.100.1"
    );
    assert_eq!(
        row("", "services", &lb(json!({}), json!([])))[2..5],
        [json!("None"), json!("<pending>"), json!("80:31000/TCP")]
    );
    let ext = json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}});
    assert_eq!(
        row("", "services", &ext)[2..5],
        [json!("<none>"), json!("db.example.com"), json!("<none>")]
    );
}

#[test]
fn node_ready_with_roles() {
    let node = json!({
        "metadata": {"name": "cp-1", "creationTimestamp": ago(400 * 86400), "labels": {
            "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "true",
            "kubernetes.io/role": "master", "kubernetes.io/hostname": "cp-1"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "cp-1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Ubuntu 24.04 LTS", "kernelVersion": "6.8.0", "containerRuntimeVersion": "containerd://2.0.5"}
        }
    });
    assert_eq!(
        row("", "nodes", &node),
        vec![
            json!("cp-1"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,etcd,master"),
            json!("400d"),
            json!("v1.33.1"),
            json!("192.168.1.10"),
            json!("<none>"),
            json!("Ubuntu 24.04 LTS"),
            json!("6.8.0"),
            json!("containerd://2.0.5")
        ]
    );
    let bare = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    assert_eq!(
        row("", "nodes", &bare)[1..5],
        [
            json!("NotReady"),
            json!("<none>"),
            json!("<unknown>"),
            json!("")
        ]
    );
    assert_eq!(row("", "nodes", &json!({}))[1], "Unknown");
    assert_eq!(
        row("", "nodes", &json!({}))[7..],
        [json!("<unknown>"), json!("<unknown>"), json!("<unknown>")]
    );
}

#[test]
fn secret_configmap_serviceaccount_namespace() {
    assert_eq!(names("", "secrets"), ["Name", "Type", "Data", "Age"]);
    let secret = json!({"metadata": {"name": "tls", "creationTimestamp": ago(10)}, "type": "kubernetes.io/tls",
                        "data": {"tls.crt": "Zm9v", "tls.key": "YmFy"}});
    assert_eq!(
        row("", "secrets", &secret),
        vec![
            json!("tls"),
            json!("kubernetes.io/tls"),
            json!(2),
            json!("10s")
        ]
    );

    let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": ago(3 * 3600 + 1800)},
                    "data": {"a": "1", "b": "2", "c": "3"}, "binaryData": {"bin": "AAE="}});
    assert_eq!(
        row("", "configmaps", &cm),
        vec![json!("cfg"), json!(4), json!("3h30m")]
    );
    assert_eq!(
        row("", "configmaps", &json!({"metadata": {"name": "empty"}}))[1],
        0
    );

    let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "default-token"}]});
    assert_eq!(row("", "serviceaccounts", &sa)[1], 1);

    let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": ago(86400)}, "status": {"phase": "Active"}});
    assert_eq!(
        row("", "namespaces", &ns),
        vec![json!("kube-system"), json!("Active"), json!("24h")]
    );
}

#[test]
fn job_and_cronjob() {
    assert_eq!(
        names("batch", "jobs"),
        [
            "Name",
            "Status",
            "Completions",
            "Duration",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    let job = json!({
        "metadata": {"name": "pi", "creationTimestamp": ago(600)},
        "spec": {"completions": 1, "parallelism": 1,
                 "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
                 "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}}},
        "status": {"succeeded": 1, "startTime": ago(600), "completionTime": ago(600 - 42),
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}
    });
    assert_eq!(
        row("batch", "jobs", &job),
        vec![
            json!("pi"),
            json!("Complete"),
            json!("1/1"),
            json!("42s"),
            json!("10m"),
            json!("pi"),
            json!("perl:5.34"),
            json!("batch.kubernetes.io/controller-uid=abc")
        ]
    );
    let running = json!({"metadata": {"name": "work"}, "spec": {"parallelism": 3},
                         "status": {"succeeded": 2, "startTime": ago(150)}});
    assert_eq!(
        row("batch", "jobs", &running)[1..4],
        [json!("Running"), json!("2/1 of 3"), json!("2m30s")]
    );
    let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True"}]}});
    assert_eq!(
        row("batch", "jobs", &failed)[1..4],
        [json!("Failed"), json!("0/1"), json!("")]
    );
    let suspended = json!({"spec": {"suspend": true}, "status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
    assert_eq!(row("batch", "jobs", &suspended)[1], "Suspended");
    assert_eq!(
        row(
            "batch",
            "jobs",
            &json!({"metadata": {"deletionTimestamp": ago(0)}})
        )[1],
        "Terminating"
    );

    assert_eq!(
        names("batch", "cronjobs"),
        [
            "Name",
            "Schedule",
            "Timezone",
            "Suspend",
            "Active",
            "Last Schedule",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    let cj = json!({
        "metadata": {"name": "hello", "creationTimestamp": ago(86400 * 3)},
        "spec": {"schedule": "*/5 * * * *", "suspend": false,
                 "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox:1.36"}]}}}}},
        "status": {"active": [{"name": "hello-123"}], "lastScheduleTime": ago(200)}
    });
    assert_eq!(
        row("batch", "cronjobs", &cj),
        vec![
            json!("hello"),
            json!("*/5 * * * *"),
            json!("<none>"),
            json!("False"),
            json!(1),
            json!("3m20s"),
            json!("3d"),
            json!("hello"),
            json!("busybox:1.36"),
            json!("<none>")
        ]
    );
    let cj2 = json!({"spec": {"schedule": "@daily", "timeZone": "Europe/Paris"}});
    assert_eq!(
        row("batch", "cronjobs", &cj2)[2..6],
        [
            json!("Europe/Paris"),
            json!("<unset>"),
            json!(0),
            json!("<none>")
        ]
    );
}

#[test]
fn core_events() {
    assert_eq!(
        names("", "events"),
        [
            "Last Seen",
            "Type",
            "Reason",
            "Object",
            "Subobject",
            "Source",
            "Message",
            "First Seen",
            "Count",
            "Name"
        ]
    );
    assert_eq!(
        wide("", "events"),
        ["Subobject", "Source", "First Seen", "Count", "Name"]
    );
    let ev = json!({
        "metadata": {"name": "web-7d9f.17c1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-7d9f", "fieldPath": "spec.containers{app}"},
        "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(3600), "lastTimestamp": ago(30), "count": 12
    });
    assert_eq!(
        row("", "events", &ev),
        vec![
            json!("30s"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/web-7d9f"),
            json!("spec.containers{app}"),
            json!("kubelet, node-1"),
            json!("Back-off restarting failed container"),
            json!("60m"),
            json!(12),
            json!("web-7d9f.17c1")
        ]
    );
    // New-style event written through core/v1: eventTime only, reporting controller, no count.
    let new_style = json!({
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Node"},
        "eventTime": "2024-06-01T11:58:59.500000Z",
        "reportingController": "scheduler", "reportingInstance": "",
        "reason": "Scheduled", "type": "Normal", "message": "ok"
    });
    let r = row("", "events", &new_style);
    assert_eq!(r[0], "60s");
    assert_eq!(r[3], "node");
    assert_eq!(r[5], "scheduler");
    assert_eq!(r[7], "60s");
    assert_eq!(r[8], 1);
    // A series overrides last seen and count.
    let series = json!({"eventTime": ago(600), "series": {"count": 7, "lastObservedTime": ago(5)}});
    let r = row("", "events", &series);
    assert_eq!(
        (r[0].clone(), r[7].clone(), r[8].clone()),
        (json!("5s"), json!("10m"), json!(7))
    );
    assert_eq!(row("", "events", &json!({}))[0], "<unknown>");
}

#[test]
fn events_k8s_io_events() {
    assert_eq!(columns("events.k8s.io", "events"), columns("", "events"));
    let ev = json!({
        "metadata": {"name": "web.1"},
        "regarding": {"kind": "Deployment", "name": "web"},
        "note": "Scaled up replica set web-5c9 to 3",
        "reason": "ScalingReplicaSet", "type": "Normal",
        "reportingController": "deployment-controller", "reportingInstance": "cm-1",
        "deprecatedSource": {"component": "deployment-controller"},
        "deprecatedFirstTimestamp": ago(300), "deprecatedLastTimestamp": ago(120), "deprecatedCount": 2
    });
    assert_eq!(
        row("events.k8s.io", "events", &ev),
        vec![
            json!("2m"),
            json!("Normal"),
            json!("ScalingReplicaSet"),
            json!("deployment/web"),
            json!(""),
            json!("deployment-controller, cm-1"),
            json!("Scaled up replica set web-5c9 to 3"),
            json!("5m"),
            json!(2),
            json!("web.1")
        ]
    );
}

#[test]
fn storage_and_quota() {
    let pv = json!({
        "metadata": {"name": "pv-1", "creationTimestamp": ago(60)},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast", "volumeMode": "Filesystem",
                 "claimRef": {"namespace": "default", "name": "data"}},
        "status": {"phase": "Bound"}
    });
    assert_eq!(
        row("", "persistentvolumes", &pv),
        vec![
            json!("pv-1"),
            json!("10Gi"),
            json!("RWO,RWX"),
            json!("Retain"),
            json!("Bound"),
            json!("default/data"),
            json!("fast"),
            json!("<unset>"),
            json!(""),
            json!("60s"),
            json!("Filesystem")
        ]
    );
    let pvc = json!({
        "metadata": {"name": "data", "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
        "spec": {"volumeName": "pv-1", "storageClassName": "fast", "resources": {"requests": {"storage": "5Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}
    });
    assert_eq!(
        row("", "persistentvolumeclaims", &pvc)[1..7],
        [
            json!("Bound"),
            json!("pv-1"),
            json!("10Gi"),
            json!("RWO"),
            json!("legacy"),
            json!("<unset>")
        ]
    );
    let pending =
        json!({"metadata": {"deletionTimestamp": ago(0)}, "status": {"phase": "Pending"}});
    assert_eq!(
        row("", "persistentvolumeclaims", &pending)[1..5],
        [json!("Terminating"), json!(""), json!(""), json!("")]
    );

    assert_eq!(
        names("", "resourcequotas"),
        ["Name", "Age", "Request", "Limit"]
    );
    let rq = json!({
        "metadata": {"name": "compute", "creationTimestamp": ago(30)},
        "status": {"hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi", "limits.cpu": "2"},
                   "used": {"pods": "3", "requests.cpu": "500m", "limits.cpu": "1"}}
    });
    assert_eq!(
        row("", "resourcequotas", &rq),
        vec![
            json!("compute"),
            json!("30s"),
            json!("pods: 3/10, requests.cpu: 500m/1"),
            json!("limits.cpu: 1/2, limits.memory: 0/2Gi")
        ]
    );
}

#[test]
fn misc_groups() {
    let lease = json!({"metadata": {"name": "kube-scheduler", "creationTimestamp": ago(5)}, "spec": {"holderIdentity": "cp-1_abc"}});
    assert_eq!(
        row("coordination.k8s.io", "leases", &lease),
        vec![json!("kube-scheduler"), json!("cp-1_abc"), json!("5s")]
    );

    let eps = json!({
        "metadata": {"name": "web-abcde"},
        "addressType": "IPv4",
        "ports": [{"port": 80, "name": "http"}, {"name": "metrics"}, {}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4", "10.0.0.5"]}]
    });
    assert_eq!(
        row("discovery.k8s.io", "endpointslices", &eps)[1..4],
        [
            json!("IPv4"),
            json!("80,metrics,*"),
            json!("10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...")
        ]
    );
    assert_eq!(
        row("discovery.k8s.io", "endpointslices", &json!({}))[2..4],
        [json!("<unset>"), json!("<unset>")]
    );

    let ep = json!({"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}], "ports": [{"port": 8080}, {"port": 9090}]}
    ]});
    assert_eq!(
        row("", "endpoints", &ep)[1],
        "10.0.0.1:8080,[fd00::1]:8080,10.0.0.1:9090 + 1 more..."
    );
    assert_eq!(row("", "endpoints", &json!({}))[1], "<none>");

    let pdb = json!({"metadata": {"name": "web"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
    assert_eq!(
        row("policy", "poddisruptionbudgets", &pdb)[1..4],
        [json!("50%"), json!("N/A"), json!(1)]
    );
    let pdb2 = json!({"spec": {"maxUnavailable": 1}});
    assert_eq!(
        row("policy", "poddisruptionbudgets", &pdb2)[1..4],
        [json!("N/A"), json!("1"), json!(0)]
    );

    let rb = json!({
        "metadata": {"name": "admins", "creationTimestamp": ago(60)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"}, {"kind": "Group", "name": "ops"},
                     {"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]
    });
    assert_eq!(
        row("rbac.authorization.k8s.io", "clusterrolebindings", &rb),
        vec![
            json!("admins"),
            json!("ClusterRole/cluster-admin"),
            json!("60s"),
            json!("alice, bob"),
            json!("ops"),
            json!("build/ci")
        ]
    );

    let ing = json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c.example.com"}, {"host": "d.example.com"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}});
    assert_eq!(
        row("networking.k8s.io", "ingresses", &ing)[1..5],
        [
            json!("nginx"),
            json!("a.example.com,b.example.com,c.example.com + 2 more..."),
            json!("203.0.113.7"),
            json!("80, 443")
        ]
    );

    let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
    assert_eq!(
        row("networking.k8s.io", "networkpolicies", &np)[1],
        "<none>"
    );

    let sc = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                    "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
    assert_eq!(
        row("storage.k8s.io", "storageclasses", &sc)[..5],
        [
            json!("standard (default)"),
            json!("rancher.io/local-path"),
            json!("Delete"),
            json!("WaitForFirstConsumer"),
            json!(false)
        ]
    );
}

#[test]
fn default_and_generic_tables() {
    for (g, r) in [
        ("", "limitranges"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
    ] {
        let cols = columns(g, r);
        assert_eq!(
            cols.iter().map(|c| (c.name, c.kind)).collect::<Vec<_>>(),
            [("Name", "string"), ("Created At", "date")]
        );
    }
    let role = json!({"metadata": {"name": "view", "creationTimestamp": "2024-05-01T08:30:00Z"}});
    assert_eq!(
        row("rbac.authorization.k8s.io", "clusterroles", &role),
        vec![json!("view"), json!("2024-05-01T08:30:00Z")]
    );
    assert_eq!(
        row("", "limitranges", &json!({}))[1],
        "0001-01-01T00:00:00Z"
    );

    let cols = columns("example.com", "widgets");
    assert_eq!(
        cols.iter().map(|c| c.name).collect::<Vec<_>>(),
        ["Name", "Age"]
    );
    assert_eq!(cols[0].format, "name");
    let w = json!({"metadata": {"name": "w1", "creationTimestamp": ago(3 * 60)}});
    assert_eq!(
        row("example.com", "widgets", &w),
        vec![json!("w1"), json!("3m")]
    );
    // Same resource name in another group is not confused with a built-in.
    assert_eq!(names("example.com", "pods"), ["Name", "Age"]);
    assert_eq!(names("core", "pods")[1], "Ready");
}
