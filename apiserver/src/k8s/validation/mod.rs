//! Validation and defaulting of built-in Kubernetes objects, over
//! `serde_json::Value`, following kube-apiserver 1.33 for the fields people
//! use. `apply_defaults` fills in what the scheme defaulters (and a few
//! create-time strategies and admission plugins) would; `validate_create`
//! and `validate_update` return the field errors kube-apiserver would
//! report, with its paths, reasons and messages.

pub mod access;
pub mod config;
pub mod cron;
pub mod defaults;
pub mod field_error;
pub mod go_value;
pub mod meta;
pub mod names;
pub mod pod;
pub mod quantity;
pub mod scheduling;
pub mod selector;
pub mod service;
pub mod workloads;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use field_error::{ErrorType, FieldError, FieldErrors};

/// Whether a built-in resource is cluster-scoped; `None` for resources this
/// module does not know (their scope is then taken from the object).
pub fn is_cluster_scoped(group: &str, resource: &str) -> Option<bool> {
    let cluster = matches!(
        (group, resource),
        (
            "",
            "namespaces" | "nodes" | "persistentvolumes" | "componentstatuses"
        ) | (
            "rbac.authorization.k8s.io",
            "clusterroles" | "clusterrolebindings"
        ) | (
            "storage.k8s.io",
            "storageclasses" | "csidrivers" | "csinodes" | "volumeattachments"
        ) | ("scheduling.k8s.io", "priorityclasses")
            | ("apiextensions.k8s.io", "customresourcedefinitions")
            | ("apiregistration.k8s.io", "apiservices")
            | (
                "admissionregistration.k8s.io",
                "validatingwebhookconfigurations"
                    | "mutatingwebhookconfigurations"
                    | "validatingadmissionpolicies"
                    | "validatingadmissionpolicybindings"
            )
            | ("certificates.k8s.io", "certificatesigningrequests")
            | ("node.k8s.io", "runtimeclasses")
            | (
                "networking.k8s.io",
                "ingressclasses" | "ipaddresses" | "servicecidrs"
            )
            | (
                "flowcontrol.apiserver.k8s.io",
                "flowschemas" | "prioritylevelconfigurations"
            )
    );
    if cluster {
        return Some(true);
    }
    let namespaced = matches!(
        (group, resource),
        (
            "",
            "pods"
                | "services"
                | "configmaps"
                | "secrets"
                | "serviceaccounts"
                | "endpoints"
                | "events"
                | "persistentvolumeclaims"
                | "replicationcontrollers"
                | "podtemplates"
                | "limitranges"
                | "resourcequotas"
        ) | (
            "apps",
            "deployments" | "replicasets" | "statefulsets" | "daemonsets" | "controllerrevisions"
        ) | ("batch", "jobs" | "cronjobs")
            | ("rbac.authorization.k8s.io", "roles" | "rolebindings")
            | ("networking.k8s.io", "ingresses" | "networkpolicies")
            | ("policy", "poddisruptionbudgets")
            | ("coordination.k8s.io", "leases")
            | ("autoscaling", "horizontalpodautoscalers")
            | ("discovery.k8s.io", "endpointslices")
            | ("events.k8s.io", "events")
    );
    if namespaced {
        Some(false)
    } else {
        None
    }
}

/// Validates the metadata of a new object: the name rule of the resource
/// (DNS-1123 subdomain for most, DNS-1123 label for namespaces and
/// statefulsets, DNS-1035 label for services, path segment for RBAC),
/// generateName, namespace required or forbidden per scope, labels,
/// annotations, ownerReferences and finalizers.
pub fn validate_object_meta(
    group: &str,
    resource: &str,
    namespaced: bool,
    obj: &Value,
) -> FieldErrors {
    meta::validate_object_meta(group, resource, namespaced, obj)
}

fn namespaced_for(group: &str, resource: &str, obj: &Value) -> bool {
    match is_cluster_scoped(group, resource) {
        Some(cluster) => !cluster,
        None => !access::s(access::at(obj, "metadata"), "namespace").is_empty(),
    }
}

/// Type-specific rules shared by create and update (everything but metadata).
fn validate_body(group: &str, resource: &str, obj: &Value) -> FieldErrors {
    let spec = access::at(obj, "spec");
    match (group, resource) {
        ("", "pods") => pod::validate_pod_spec(spec, "spec"),
        ("", "podtemplates") => pod::validate_pod_template(access::at(obj, "template"), "template"),
        ("", "replicationcontrollers") => {
            workloads::validate_replication_controller_spec(spec, "spec")
        }
        ("", "services") => service::validate_service(obj),
        ("", "configmaps") => config::validate_configmap(obj),
        ("", "secrets") => config::validate_secret(obj),
        ("", "namespaces") => config::validate_namespace(obj),
        ("apps", "deployments") => workloads::validate_deployment_spec(spec, "spec"),
        ("apps", "replicasets") => workloads::validate_replicaset_spec(spec, "spec"),
        ("apps", "statefulsets") => workloads::validate_statefulset_spec(spec, "spec"),
        ("apps", "daemonsets") => workloads::validate_daemonset_spec(spec, "spec"),
        ("batch", "jobs") => workloads::validate_job(obj),
        ("batch", "cronjobs") => workloads::validate_cronjob(obj),
        ("scheduling.k8s.io", "priorityclasses") => scheduling::validate_priority_class(obj),
        _ => Vec::new(),
    }
}

/// Validates a new object of `group`/`resource` (after defaulting): its
/// metadata (via [`validate_object_meta`]) and its type-specific rules.
/// Unknown resources get metadata validation only.
pub fn validate_create(group: &str, resource: &str, obj: &Value) -> FieldErrors {
    let mut errs = validate_object_meta(group, resource, namespaced_for(group, resource, obj), obj);
    errs.extend(validate_body(group, resource, obj));
    errs
}

/// Validates an update: metadata immutability and well-formedness, the
/// type-specific rules for the new object, and what may not change
/// (selectors of apps/v1 controllers and Jobs, most of a Pod's spec, most
/// of a StatefulSet's spec, a Job's template, a Service's cluster IPs,
/// immutable ConfigMaps and Secrets, a Secret's type, a PriorityClass's value and
/// preemption policy).
pub fn validate_update(group: &str, resource: &str, new: &Value, old: &Value) -> FieldErrors {
    let mut errs = meta::validate_object_meta_update(new, old);
    match (group, resource) {
        ("", "pods") => errs.extend(pod::validate_pod_update(new, old)),
        ("apps", "deployments" | "replicasets" | "daemonsets") => {
            errs.extend(validate_body(group, resource, new));
            errs.extend(workloads::validate_selector_immutable(new, old));
        }
        ("apps", "statefulsets") => {
            errs.extend(validate_body(group, resource, new));
            errs.extend(workloads::validate_statefulset_update(new, old));
        }
        ("batch", "jobs") => {
            errs.extend(validate_body(group, resource, new));
            errs.extend(workloads::validate_job_update(new, old));
        }
        ("", "services") => {
            errs.extend(validate_body(group, resource, new));
            errs.extend(service::validate_service_update(new, old));
        }
        // Only what may not change: kube-apiserver does not check a class's own rules again.
        ("scheduling.k8s.io", "priorityclasses") => {
            errs.extend(scheduling::validate_priority_class_update(new, old));
        }
        // What may not change is checked before the new object itself, as kube-apiserver's
        // ValidateConfigMapUpdate and ValidateSecretUpdate do.
        ("", "configmaps") => {
            errs.extend(config::validate_immutable_data(
                new,
                old,
                &["data", "binaryData"],
            ));
            errs.extend(validate_body(group, resource, new));
        }
        ("", "secrets") => {
            errs.extend(config::validate_secret_update(new, old));
            errs.extend(validate_body(group, resource, new));
        }
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            errs.extend(validate_body(group, resource, new));
            if access::at(new, "roleRef") != access::at(old, "roleRef") {
                let role_ref = access::at(new, "roleRef");
                errs.push(FieldError::invalid_go(
                    "roleRef",
                    role_ref.clone(),
                    go_value::role_ref(role_ref),
                    "cannot change roleRef",
                ));
            }
        }
        _ => errs.extend(validate_body(group, resource, new)),
    }
    errs
}

/// Applies kube-apiserver's defaults to `obj` in place (unknown resources: none).
/// Job selector generation needs `metadata.uid` to be set already.
pub fn apply_defaults(group: &str, resource: &str, obj: &mut Value) {
    defaults::apply_defaults(group, resource, obj);
}
