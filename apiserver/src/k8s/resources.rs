//! The served resource types: for each, its group/version, names, kind, scope, short names,
//! categories, subresources and the Rust type (from k8s-openapi) that checks its JSON. Discovery,
//! routing, storage keys and OpenAPI all read this one table.

use k8s_openapi::api::{
    apps, autoscaling, batch, coordination, core, discovery, events, policy, rbac, scheduling,
    storage,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Decodes JSON into the resource's typed form and encodes it back: fields the type does not
/// know disappear, wrong JSON types are errors.
pub type Roundtrip = fn(&Value) -> Result<Value, serde_json::Error>;

/// Produces the JSON schema definitions of the type (for OpenAPI).
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

fn roundtrip<T: Serialize + DeserializeOwned>(v: &Value) -> Result<Value, serde_json::Error> {
    // Read from the borrowed JSON: no copy of the object first.
    let typed = T::deserialize(v)?;
    serde_json::to_value(&typed)
}

fn schema<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

/// A subresource of a resource (`pods/status`, `deployments/scale`, ...).
#[derive(Debug, Clone, Copy)]
pub struct Subresource {
    pub name: &'static str,
    /// The kind it answers with: (group, version, kind).
    pub kind: (&'static str, &'static str, &'static str),
    pub verbs: &'static [&'static str],
}

/// One served resource type.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    /// The plural, lowercase name used in URLs.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// The OpenAPI definition name of the kind (`io.k8s.api.core.v1.Pod`).
    pub definition: &'static str,
    /// The name of the key prefix under `/registry` (the plural, except where two API groups
    /// share one storage, as `events` does).
    pub storage: &'static str,
    pub roundtrip: Roundtrip,
    pub schema: SchemaFn,
}

impl Resource {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural` or `plural.group`, as error messages name resources.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Kind` or `Kind.group`, as Invalid errors name kinds.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Whether a DELETE without a propagation policy orphans the dependents (kube-apiserver's
    /// DefaultGarbageCollectionPolicy: batch/v1 Jobs leave their pods).
    pub fn orphans_by_default(&self) -> bool {
        self.group == "batch" && self.plural == "jobs"
    }

    /// Whether a finished DELETE answers with the deleted object (the registries that set
    /// `ReturnDeletedObject` in kube-apiserver 1.33) rather than a Success Status.
    pub fn returns_deleted_object(&self) -> bool {
        matches!(
            (self.group, self.plural),
            (
                "",
                "namespaces"
                    | "pods"
                    | "services"
                    | "serviceaccounts"
                    | "resourcequotas"
                    | "persistentvolumes"
                    | "persistentvolumeclaims"
                    | "podtemplates"
            ) | ("storage.k8s.io", "storageclasses")
        )
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s.name == name)
    }

    /// The URL path prefix of its group version (`/api/v1`, `/apis/apps/v1`).
    pub fn gv_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NS_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const SUB_VERBS: &[&str] = &["get", "patch", "update"];

macro_rules! status {
    ($g:expr, $k:expr) => {
        Subresource {
            name: "status",
            kind: ($g, "v1", $k),
            verbs: SUB_VERBS,
        }
    };
}
/// A namespace's `finalize`: the namespace controller's (and stuck namespaces' operators') way
/// to change `spec.finalizers`.
const FINALIZE: Subresource = Subresource {
    name: "finalize",
    kind: ("", "v1", "Namespace"),
    verbs: &["update"],
};
const SCALE: Subresource = Subresource {
    name: "scale",
    kind: ("autoscaling", "v1", "Scale"),
    verbs: SUB_VERBS,
};

macro_rules! resource {
    ($ty:ty, $group:expr, $plural:expr, $singular:expr, $kind:expr, $ns:expr, $short:expr, $cat:expr, $subs:expr, $def:expr) => {
        Resource {
            group: $group,
            version: "v1",
            plural: $plural,
            singular: $singular,
            kind: $kind,
            namespaced: $ns,
            short_names: $short,
            categories: $cat,
            verbs: ALL_VERBS,
            subresources: $subs,
            definition: $def,
            storage: $plural,
            roundtrip: roundtrip::<$ty>,
            schema: schema::<$ty>,
        }
    };
}

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

/// Every served resource, in discovery order (group order follows kube-apiserver's).
pub static RESOURCES: &[Resource] = &[
    // core/v1
    Resource {
        verbs: &["create"],
        ..resource!(
            core::v1::Binding,
            "",
            "bindings",
            "binding",
            "Binding",
            true,
            NONE,
            NONE,
            &[],
            "io.k8s.api.core.v1.Binding"
        )
    },
    resource!(
        core::v1::ConfigMap,
        "",
        "configmaps",
        "configmap",
        "ConfigMap",
        true,
        &["cm"],
        NONE,
        &[],
        "io.k8s.api.core.v1.ConfigMap"
    ),
    resource!(
        core::v1::Endpoints,
        "",
        "endpoints",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
        NONE,
        &[],
        "io.k8s.api.core.v1.Endpoints"
    ),
    resource!(
        core::v1::Event,
        "",
        "events",
        "event",
        "Event",
        true,
        &["ev"],
        NONE,
        &[],
        "io.k8s.api.core.v1.Event"
    ),
    resource!(
        core::v1::LimitRange,
        "",
        "limitranges",
        "limitrange",
        "LimitRange",
        true,
        &["limits"],
        NONE,
        &[],
        "io.k8s.api.core.v1.LimitRange"
    ),
    Resource {
        verbs: NS_VERBS,
        ..resource!(
            core::v1::Namespace,
            "",
            "namespaces",
            "namespace",
            "Namespace",
            false,
            &["ns"],
            NONE,
            &[status!("", "Namespace"), FINALIZE],
            "io.k8s.api.core.v1.Namespace"
        )
    },
    resource!(
        core::v1::Node,
        "",
        "nodes",
        "node",
        "Node",
        false,
        &["no"],
        NONE,
        &[
            Subresource {
                name: "proxy",
                kind: ("", "v1", "NodeProxyOptions"),
                verbs: &["create", "delete", "get", "patch", "update"]
            },
            status!("", "Node")
        ],
        "io.k8s.api.core.v1.Node"
    ),
    resource!(
        core::v1::PersistentVolumeClaim,
        "",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        NONE,
        &[status!("", "PersistentVolumeClaim")],
        "io.k8s.api.core.v1.PersistentVolumeClaim"
    ),
    resource!(
        core::v1::PersistentVolume,
        "",
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        false,
        &["pv"],
        NONE,
        &[status!("", "PersistentVolume")],
        "io.k8s.api.core.v1.PersistentVolume"
    ),
    resource!(
        core::v1::Pod,
        "",
        "pods",
        "pod",
        "Pod",
        true,
        &["po"],
        ALL,
        &[
            Subresource {
                name: "attach",
                kind: ("", "v1", "PodAttachOptions"),
                verbs: &["create", "get"]
            },
            Subresource {
                name: "binding",
                kind: ("", "v1", "Binding"),
                verbs: &["create"]
            },
            Subresource {
                name: "eviction",
                kind: ("policy", "v1", "Eviction"),
                verbs: &["create"]
            },
            Subresource {
                name: "exec",
                kind: ("", "v1", "PodExecOptions"),
                verbs: &["create", "get"]
            },
            Subresource {
                name: "log",
                kind: ("", "v1", "Pod"),
                verbs: &["get"]
            },
            Subresource {
                name: "portforward",
                kind: ("", "v1", "PodPortForwardOptions"),
                verbs: &["create", "get"]
            },
            status!("", "Pod"),
        ],
        "io.k8s.api.core.v1.Pod"
    ),
    resource!(
        core::v1::ReplicationController,
        "",
        "replicationcontrollers",
        "replicationcontroller",
        "ReplicationController",
        true,
        &["rc"],
        ALL,
        &[SCALE, status!("", "ReplicationController")],
        "io.k8s.api.core.v1.ReplicationController"
    ),
    resource!(
        core::v1::ResourceQuota,
        "",
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        true,
        &["quota"],
        NONE,
        &[status!("", "ResourceQuota")],
        "io.k8s.api.core.v1.ResourceQuota"
    ),
    resource!(
        core::v1::Secret,
        "",
        "secrets",
        "secret",
        "Secret",
        true,
        NONE,
        NONE,
        &[],
        "io.k8s.api.core.v1.Secret"
    ),
    resource!(
        core::v1::ServiceAccount,
        "",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        &["sa"],
        NONE,
        &[],
        "io.k8s.api.core.v1.ServiceAccount"
    ),
    resource!(
        core::v1::Service,
        "",
        "services",
        "service",
        "Service",
        true,
        &["svc"],
        ALL,
        &[status!("", "Service")],
        "io.k8s.api.core.v1.Service"
    ),
    // apps/v1
    resource!(
        apps::v1::ControllerRevision,
        "apps",
        "controllerrevisions",
        "controllerrevision",
        "ControllerRevision",
        true,
        NONE,
        NONE,
        &[],
        "io.k8s.api.apps.v1.ControllerRevision"
    ),
    resource!(
        apps::v1::DaemonSet,
        "apps",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        true,
        &["ds"],
        ALL,
        &[status!("apps", "DaemonSet")],
        "io.k8s.api.apps.v1.DaemonSet"
    ),
    resource!(
        apps::v1::Deployment,
        "apps",
        "deployments",
        "deployment",
        "Deployment",
        true,
        &["deploy"],
        ALL,
        &[SCALE, status!("apps", "Deployment")],
        "io.k8s.api.apps.v1.Deployment"
    ),
    resource!(
        apps::v1::ReplicaSet,
        "apps",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        &["rs"],
        ALL,
        &[SCALE, status!("apps", "ReplicaSet")],
        "io.k8s.api.apps.v1.ReplicaSet"
    ),
    resource!(
        apps::v1::StatefulSet,
        "apps",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        true,
        &["sts"],
        ALL,
        &[SCALE, status!("apps", "StatefulSet")],
        "io.k8s.api.apps.v1.StatefulSet"
    ),
    // autoscaling/v2 (the only version served: v1 and v2 share one storage upstream)
    Resource {
        version: "v2",
        ..resource!(
            autoscaling::v2::HorizontalPodAutoscaler,
            "autoscaling",
            "horizontalpodautoscalers",
            "horizontalpodautoscaler",
            "HorizontalPodAutoscaler",
            true,
            &["hpa"],
            ALL,
            &[Subresource {
                name: "status",
                kind: ("autoscaling", "v2", "HorizontalPodAutoscaler"),
                verbs: SUB_VERBS,
            }],
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
        )
    },
    // batch/v1
    resource!(
        batch::v1::CronJob,
        "batch",
        "cronjobs",
        "cronjob",
        "CronJob",
        true,
        &["cj"],
        ALL,
        &[status!("batch", "CronJob")],
        "io.k8s.api.batch.v1.CronJob"
    ),
    resource!(
        batch::v1::Job,
        "batch",
        "jobs",
        "job",
        "Job",
        true,
        NONE,
        ALL,
        &[status!("batch", "Job")],
        "io.k8s.api.batch.v1.Job"
    ),
    // coordination.k8s.io/v1
    resource!(
        coordination::v1::Lease,
        "coordination.k8s.io",
        "leases",
        "lease",
        "Lease",
        true,
        NONE,
        NONE,
        &[],
        "io.k8s.api.coordination.v1.Lease"
    ),
    // discovery.k8s.io/v1
    resource!(
        discovery::v1::EndpointSlice,
        "discovery.k8s.io",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        true,
        NONE,
        NONE,
        &[],
        "io.k8s.api.discovery.v1.EndpointSlice"
    ),
    // events.k8s.io/v1: the same stored objects as core/v1 events, in another shape.
    Resource {
        storage: "events",
        ..resource!(
            events::v1::Event,
            "events.k8s.io",
            "events",
            "event",
            "Event",
            true,
            &["ev"],
            NONE,
            &[],
            "io.k8s.api.events.v1.Event"
        )
    },
    // policy/v1
    resource!(
        policy::v1::PodDisruptionBudget,
        "policy",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        NONE,
        &[status!("policy", "PodDisruptionBudget")],
        "io.k8s.api.policy.v1.PodDisruptionBudget"
    ),
    // rbac.authorization.k8s.io/v1 (stored only; authorization is not enforced yet)
    resource!(
        rbac::v1::ClusterRoleBinding,
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
        NONE,
        NONE,
        &[],
        "io.k8s.api.rbac.v1.ClusterRoleBinding"
    ),
    resource!(
        rbac::v1::ClusterRole,
        "rbac.authorization.k8s.io",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
        NONE,
        NONE,
        &[],
        "io.k8s.api.rbac.v1.ClusterRole"
    ),
    resource!(
        rbac::v1::RoleBinding,
        "rbac.authorization.k8s.io",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
        NONE,
        NONE,
        &[],
        "io.k8s.api.rbac.v1.RoleBinding"
    ),
    resource!(
        rbac::v1::Role,
        "rbac.authorization.k8s.io",
        "roles",
        "role",
        "Role",
        true,
        NONE,
        NONE,
        &[],
        "io.k8s.api.rbac.v1.Role"
    ),
    // scheduling.k8s.io/v1
    resource!(
        scheduling::v1::PriorityClass,
        "scheduling.k8s.io",
        "priorityclasses",
        "priorityclass",
        "PriorityClass",
        false,
        &["pc"],
        NONE,
        &[],
        "io.k8s.api.scheduling.v1.PriorityClass"
    ),
    // storage.k8s.io/v1
    resource!(
        storage::v1::StorageClass,
        "storage.k8s.io",
        "storageclasses",
        "storageclass",
        "StorageClass",
        false,
        &["sc"],
        NONE,
        &[],
        "io.k8s.api.storage.v1.StorageClass"
    ),
    // metrics.k8s.io/v1beta1: read-only, made from the node agents on request (metrics_api)
    Resource {
        version: "v1beta1",
        verbs: &["get", "list"],
        storage: "metrics.k8s.io/nodes",
        ..resource!(
            super::metrics_api::NodeMetrics,
            "metrics.k8s.io",
            "nodes",
            "nodemetrics",
            "NodeMetrics",
            false,
            &[],
            NONE,
            &[],
            "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"
        )
    },
    Resource {
        version: "v1beta1",
        verbs: &["get", "list"],
        storage: "metrics.k8s.io/pods",
        ..resource!(
            super::metrics_api::PodMetrics,
            "metrics.k8s.io",
            "pods",
            "podmetrics",
            "PodMetrics",
            true,
            &[],
            NONE,
            &[],
            "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics"
        )
    },
];

/// The group versions served, in discovery order (preferred first within a group).
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

/// The one version `group` is served at (`v1` for all but autoscaling's `v2`).
pub fn version_of(group: &str) -> &'static str {
    RESOURCES
        .iter()
        .find(|r| r.group == group)
        .map_or("v1", |r| r.version)
}

/// Finds a resource by group, version and plural name.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resources of one group version.
pub fn of_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}
