//! Tests of the public entry points: exact field errors (path, reason,
//! message) for common mistakes, and the defaults of minimal objects.

use serde_json::{json, Value};

use super::*;

/// (field, reason, message) triples of an error list.
fn triples(errs: &FieldErrors) -> Vec<(String, &'static str, String)> {
    errs.iter()
        .map(|e| (e.field.clone(), e.reason(), e.message()))
        .collect()
}

fn t(field: &str, reason: &'static str, message: &str) -> (String, &'static str, String) {
    (field.to_string(), reason, message.to_string())
}

fn defaulted(group: &str, resource: &str, mut obj: Value) -> Value {
    apply_defaults(group, resource, &mut obj);
    obj
}

fn pod_with(spec: Value) -> Value {
    defaulted(
        "",
        "pods",
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec}),
    )
}

fn deployment(labels: Value, restart: Option<&str>) -> Value {
    let mut spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
    if let Some(r) = restart {
        spec["restartPolicy"] = json!(r);
    }
    defaulted(
        "apps",
        "deployments",
        json!({
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": labels}, "spec": spec}
            }
        }),
    )
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

#[test]
fn uppercase_name() {
    let pod = pod_with(json!({"containers": [{"name": "c", "image": "nginx"}]}));
    let mut pod = pod;
    pod["metadata"]["name"] = json!("Foo");
    assert_eq!(
        triples(&validate_create("", "pods", &pod)),
        vec![t(
            "metadata.name",
            "FieldValueInvalid",
            &format!("Invalid value: \"Foo\": {SUBDOMAIN_MSG}")
        )]
    );
}

#[test]
fn too_long_name() {
    let name = "a".repeat(254);
    let cm = json!({"metadata": {"name": name, "namespace": "default"}});
    assert_eq!(
        triples(&validate_create("", "configmaps", &cm)),
        vec![t(
            "metadata.name",
            "FieldValueInvalid",
            &format!("Invalid value: \"{name}\": must be no more than 253 characters")
        )]
    );
}

#[test]
fn namespace_name_with_dots() {
    let ns = defaulted("", "namespaces", json!({"metadata": {"name": "a.b"}}));
    assert_eq!(
        triples(&validate_create("", "namespaces", &ns)),
        vec![t(
            "metadata.name",
            "FieldValueInvalid",
            "Invalid value: \"a.b\": must not contain dots"
        )]
    );
}

#[test]
fn namespace_forbidden_on_cluster_scope_and_required_when_namespaced() {
    let ns = json!({"metadata": {"name": "x", "namespace": "default"}});
    assert_eq!(
        triples(&validate_object_meta("", "namespaces", false, &ns)),
        vec![t(
            "metadata.namespace",
            "FieldValueForbidden",
            "Forbidden: not allowed on this type"
        )]
    );
    let cm = json!({"metadata": {"name": "x"}});
    assert_eq!(
        triples(&validate_create("", "configmaps", &cm)),
        vec![t(
            "metadata.namespace",
            "FieldValueRequired",
            "Required value"
        )]
    );
}

#[test]
fn service_name_must_be_dns1035() {
    let svc = defaulted(
        "",
        "services",
        json!({"metadata": {"name": "1svc", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}}),
    );
    let errs = validate_create("", "services", &svc);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "metadata.name");
    assert!(errs[0].message().starts_with(
        "Invalid value: \"1svc\": a DNS-1035 label must consist of lower case alphanumeric"
    ));
}

#[test]
fn pod_without_containers() {
    let pod = pod_with(json!({}));
    assert_eq!(
        triples(&validate_create("", "pods", &pod)),
        vec![t("spec.containers", "FieldValueRequired", "Required value")]
    );
}

#[test]
fn container_without_image() {
    let pod = pod_with(json!({"containers": [{"name": "c"}]}));
    assert_eq!(
        triples(&validate_create("", "pods", &pod)),
        vec![t(
            "spec.containers[0].image",
            "FieldValueRequired",
            "Required value"
        )]
    );
}

#[test]
fn duplicate_container_name() {
    let pod =
        pod_with(json!({"containers": [{"name": "c", "image": "a"}, {"name": "c", "image": "b"}]}));
    assert_eq!(
        triples(&validate_create("", "pods", &pod)),
        vec![t(
            "spec.containers[1].name",
            "FieldValueDuplicate",
            "Duplicate value: \"c\""
        )]
    );
}

#[test]
fn bad_container_port() {
    let pod = pod_with(
        json!({"containers": [{"name": "c", "image": "a", "ports": [{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}]}]}),
    );
    assert_eq!(
        triples(&validate_create("", "pods", &pod)),
        vec![
            t(
                "spec.containers[0].ports[0].containerPort",
                "FieldValueInvalid",
                "Invalid value: 70000: must be between 1 and 65535, inclusive"
            ),
            t(
                "spec.containers[0].ports[1].protocol",
                "FieldValueNotSupported",
                "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
            ),
        ]
    );
}

#[test]
fn bad_restart_policy() {
    let pod = pod_with(
        json!({"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "a"}]}),
    );
    assert_eq!(
        triples(&validate_create("", "pods", &pod)),
        vec![t(
            "spec.restartPolicy",
            "FieldValueNotSupported",
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        )]
    );
}

#[test]
fn probe_and_resources_and_mounts() {
    let pod = pod_with(json!({"containers": [{
        "name": "c", "image": "a",
        "livenessProbe": {"exec": {"command": ["x"]}, "tcpSocket": {"port": 80}},
        "readinessProbe": {},
        "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
        "volumeMounts": [{"name": "missing", "mountPath": "/x"}]
    }]}));
    assert_eq!(
        triples(&validate_create("", "pods", &pod)),
        vec![
            t(
                "spec.containers[0].volumeMounts[0].name",
                "FieldValueNotFound",
                "Not found: \"missing\""
            ),
            t(
                "spec.containers[0].resources.requests",
                "FieldValueInvalid",
                "Invalid value: \"2\": must be less than or equal to cpu limit of 1"
            ),
            t(
                "spec.containers[0].livenessProbe.tcpSocket",
                "FieldValueForbidden",
                "Forbidden: may not specify more than 1 handler type"
            ),
            t(
                "spec.containers[0].readinessProbe",
                "FieldValueRequired",
                "Required value: must specify a handler type"
            ),
        ]
    );
}

#[test]
fn deployment_selector_mismatch() {
    let d = deployment(json!({"app": "other"}), None);
    assert_eq!(
        triples(&validate_create("apps", "deployments", &d)),
        vec![t(
            "spec.template.metadata.labels",
            "FieldValueInvalid",
            "Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"
        )]
    );
}

#[test]
fn deployment_restart_never() {
    let d = deployment(json!({"app": "web"}), Some("Never"));
    assert_eq!(
        triples(&validate_create("apps", "deployments", &d)),
        vec![t(
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
            "Unsupported value: \"Never\": supported values: \"Always\""
        )]
    );
}

#[test]
fn deployment_without_selector_and_both_zero() {
    let mut d = deployment(json!({"app": "web"}), None);
    d["spec"].as_object_mut().unwrap().remove("selector");
    d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": 0, "maxUnavailable": "0%"});
    assert_eq!(
        triples(&validate_create("apps", "deployments", &d)),
        vec![
            t("spec.selector", "FieldValueRequired", "Required value"),
            t(
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ),
            t(
                "spec.strategy.rollingUpdate.maxUnavailable",
                "FieldValueInvalid",
                "Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"
            ),
        ]
    );
}

#[test]
fn job_requires_never_or_onfailure() {
    let job = defaulted(
        "batch",
        "jobs",
        json!({"metadata": {"name": "j", "namespace": "default", "uid": "u1"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a"}]}}}}),
    );
    assert_eq!(
        triples(&validate_create("batch", "jobs", &job)),
        vec![t(
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
            "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        )]
    );
}

#[test]
fn cronjob_schedule_and_policy() {
    let cj = defaulted(
        "batch",
        "cronjobs",
        json!({"metadata": {"name": "c", "namespace": "default"}, "spec": {"schedule": "* * *", "concurrencyPolicy": "Sometimes",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "a"}]}}}}}}),
    );
    assert_eq!(
        triples(&validate_create("batch", "cronjobs", &cj)),
        vec![
            t("spec.schedule", "FieldValueInvalid", "Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"),
            t("spec.concurrencyPolicy", "FieldValueNotSupported", "Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\""),
        ]
    );
}

#[test]
fn service_bad_type() {
    let svc = defaulted(
        "",
        "services",
        json!({"metadata": {"name": "s", "namespace": "default"}, "spec": {"type": "Magic", "ports": [{"port": 80}]}}),
    );
    assert_eq!(
        triples(&validate_create("", "services", &svc)),
        vec![t(
            "spec.type",
            "FieldValueNotSupported",
            "Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
        )]
    );
}

#[test]
fn service_two_unnamed_ports_and_bad_port() {
    let svc = defaulted(
        "",
        "services",
        json!({"metadata": {"name": "s", "namespace": "default"}, "spec": {"ports": [{"port": 80}, {"port": 0, "targetPort": 8080}]}}),
    );
    assert_eq!(
        triples(&validate_create("", "services", &svc)),
        vec![
            t("spec.ports[0].name", "FieldValueRequired", "Required value"),
            t("spec.ports[1].name", "FieldValueRequired", "Required value"),
            t(
                "spec.ports[1].port",
                "FieldValueInvalid",
                "Invalid value: 0: must be between 1 and 65535, inclusive"
            ),
        ]
    );
}

#[test]
fn headless_and_external_name_need_no_ports() {
    let svc = defaulted(
        "",
        "services",
        json!({"metadata": {"name": "s", "namespace": "default"}, "spec": {"clusterIP": "None"}}),
    );
    assert!(validate_create("", "services", &svc).is_empty());
    let svc = defaulted(
        "",
        "services",
        json!({"metadata": {"name": "s", "namespace": "default"}, "spec": {"type": "ExternalName", "externalName": "example.com."}}),
    );
    assert!(
        validate_create("", "services", &svc).is_empty(),
        "{:?}",
        validate_create("", "services", &svc)
    );
}

#[test]
fn configmap_bad_key() {
    let cm = json!({"metadata": {"name": "c", "namespace": "default"}, "data": {"bad key": "v"}});
    assert_eq!(
        triples(&validate_create("", "configmaps", &cm)),
        vec![t(
            "data[bad key]",
            "FieldValueInvalid",
            "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        )]
    );
}

#[test]
fn bad_label_value() {
    let cm = json!({"metadata": {"name": "c", "namespace": "default", "labels": {"app": "-bad"}}});
    assert_eq!(
        triples(&validate_create("", "configmaps", &cm)),
        vec![t(
            "metadata.labels",
            "FieldValueInvalid",
            "Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )]
    );
}

#[test]
fn selector_immutable_on_update() {
    let old = deployment(json!({"app": "web"}), None);
    let mut new = old.clone();
    new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "x"}});
    new["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "tier": "x"});
    assert_eq!(
        triples(&validate_update("apps", "deployments", &new, &old)),
        vec![t(
            "spec.selector",
            "FieldValueInvalid",
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        )]
    );
    assert!(validate_update("apps", "deployments", &old, &old).is_empty());
}

#[test]
fn pod_update_rules() {
    let old = pod_with(json!({"containers": [{"name": "c", "image": "a"}]}));
    let mut new = old.clone();
    new["spec"]["containers"][0]["image"] = json!("b");
    assert!(validate_update("", "pods", &new, &old).is_empty());
    new["spec"]["restartPolicy"] = json!("Never");
    let errs = validate_update("", "pods", &new, &old);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "spec");
    assert!(errs[0].message().starts_with(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
    ));
}

#[test]
fn immutable_configmap_and_service_ip() {
    let old =
        json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "1"}});
    let new =
        json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "2"}});
    assert_eq!(
        triples(&validate_update("", "configmaps", &new, &old)),
        vec![t(
            "data",
            "FieldValueForbidden",
            "Forbidden: field is immutable when `immutable` is set"
        )]
    );
    let old = defaulted(
        "",
        "services",
        json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}}),
    );
    let mut new = old.clone();
    new["spec"]["clusterIP"] = json!("10.0.0.2");
    new["spec"]["clusterIPs"] = json!(["10.0.0.2"]);
    assert_eq!(
        triples(&validate_update("", "services", &new, &old)),
        vec![t(
            "spec.clusterIPs[0]",
            "FieldValueInvalid",
            "Invalid value: []string{\"10.0.0.2\"}: may not change once set"
        )]
    );
}

#[test]
fn wrong_types_do_not_panic() {
    for (g, r) in [
        ("", "pods"),
        ("apps", "deployments"),
        ("", "services"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("", "namespaces"),
        ("apps", "daemonsets"),
        ("apps", "statefulsets"),
    ] {
        for v in [
            json!(null),
            json!(1),
            json!({"spec": 3, "metadata": []}),
            json!({"spec": {"containers": "x", "template": {"spec": {"containers": [1, null]}}}}),
        ] {
            let mut o = v.clone();
            apply_defaults(g, r, &mut o);
            let _ = validate_create(g, r, &o);
            let _ = validate_update(g, r, &o, &v);
        }
    }
}

#[test]
fn defaults_minimal_pod() {
    let pod = pod_with(
        json!({"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
        "readinessProbe": {"httpGet": {"port": 80}}}]}),
    );
    assert_eq!(
        pod,
        json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "containers": [{
                    "name": "c", "image": "nginx", "imagePullPolicy": "Always",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
                }],
                "dnsPolicy": "ClusterFirst", "enableServiceLinks": true,
                "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {},
                "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30
            },
            "status": {"phase": "Pending", "qosClass": "BestEffort"}
        })
    );
    assert!(validate_create("", "pods", &pod).is_empty());
    let tagged = pod_with(
        json!({"containers": [{"name": "c", "image": "nginx:1.27", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}),
    );
    assert_eq!(
        tagged["spec"]["containers"][0]["imagePullPolicy"],
        json!("IfNotPresent")
    );
    assert_eq!(
        tagged["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "1", "memory": "1Gi"})
    );
    assert_eq!(tagged["status"]["qosClass"], json!("Guaranteed"));
}

#[test]
fn defaults_minimal_deployment() {
    let d = deployment(json!({"app": "web"}), None);
    assert_eq!(
        d["spec"],
        json!({
            "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Always", "resources": {},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                "securityContext": {}, "terminationGracePeriodSeconds": 30
            }}
        })
    );
    assert!(validate_create("apps", "deployments", &d).is_empty());
}

#[test]
fn defaults_minimal_service() {
    let svc = defaulted(
        "",
        "services",
        json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    );
    assert_eq!(
        svc["spec"],
        json!({
            "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP"
        })
    );
    let np = defaulted(
        "",
        "services",
        json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}}),
    );
    assert_eq!(np["spec"]["externalTrafficPolicy"], json!("Cluster"));
    assert_eq!(np["spec"]["ports"][0]["targetPort"], json!("http"));
}

#[test]
fn defaults_namespace_and_secret() {
    let ns = defaulted("", "namespaces", json!({"metadata": {"name": "team"}}));
    assert_eq!(
        ns,
        json!({"metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "team"}},
            "status": {"phase": "Active"}})
    );
    assert!(validate_create("", "namespaces", &ns).is_empty());
    let secret = defaulted("", "secrets", json!({"metadata": {"name": "s"}}));
    assert_eq!(secret["type"], json!("Opaque"));
}

#[test]
fn defaults_minimal_job() {
    let job = defaulted(
        "batch",
        "jobs",
        json!({"metadata": {"name": "pi", "namespace": "d", "uid": "u-1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl:5"}]}}}}),
    );
    let labels = json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi", "controller-uid": "u-1", "job-name": "pi"});
    assert_eq!(job["metadata"]["labels"], labels);
    let spec = &job["spec"];
    assert_eq!(
        spec["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
    );
    assert_eq!(spec["template"]["metadata"]["labels"], labels);
    for (k, v) in [
        ("completions", json!(1)),
        ("parallelism", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
        ("manualSelector", json!(false)),
    ] {
        assert_eq!(spec[k], v, "{k}");
    }
    assert_eq!(
        spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
        json!("IfNotPresent")
    );
    assert!(
        validate_create("batch", "jobs", &job).is_empty(),
        "{:?}",
        validate_create("batch", "jobs", &job)
    );
    let mut changed = job.clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:6");
    let errs = validate_update("batch", "jobs", &changed, &job);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "spec.template");
    assert!(errs[0].message().ends_with(": field is immutable"));
}

#[test]
fn defaults_other_workloads() {
    let tmpl = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let ss = defaulted(
        "apps",
        "statefulsets",
        json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": tmpl}}),
    );
    assert_eq!(ss["spec"]["podManagementPolicy"], json!("OrderedReady"));
    assert_eq!(
        ss["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(
        ss["spec"]["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    assert!(validate_create("apps", "statefulsets", &ss).is_empty());
    let ds = defaulted(
        "apps",
        "daemonsets",
        json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": tmpl}}),
    );
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    );
    assert!(validate_create("apps", "daemonsets", &ds).is_empty());
    let cj = defaulted(
        "batch",
        "cronjobs",
        json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "x"}]}}}}}}),
    );
    for (k, v) in [
        ("concurrencyPolicy", json!("Allow")),
        ("suspend", json!(false)),
        ("successfulJobsHistoryLimit", json!(3)),
        ("failedJobsHistoryLimit", json!(1)),
    ] {
        assert_eq!(cj["spec"][k], v);
    }
    assert!(validate_create("batch", "cronjobs", &cj).is_empty());
}
