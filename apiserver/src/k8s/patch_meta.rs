//! Strategic-merge-patch metadata of the built-in Kubernetes types: for each field of a built-in
//! OpenAPI definition that does not use the default "replace" behaviour, the list (or map)
//! patch strategy and, for lists of objects, the merge key. The entries mirror the
//! `patchStrategy` / `patchMergeKey` struct tags of k8s.io/api (GA groups, plus autoscaling/v2)
//! and k8s.io/apimachinery meta/v1, keyed by the OpenAPI definition names k8s-openapi uses
//! (for example `io.k8s.api.core.v1.PodSpec`). Fields that are absent here are replaced
//! wholesale by a patch (lists) or merged recursively (objects).

/// How a strategic merge patch treats one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListPatch {
    /// The patch strategy, as spelt in `x-kubernetes-patch-strategy`: `"merge"`, `"replace"`,
    /// `"retainKeys"` or `"merge,retainKeys"`.
    pub strategy: &'static str,
    /// The key that identifies elements of a merged list of objects; `None` for lists of
    /// primitives and for fields whose strategy is not `merge`.
    pub merge_key: Option<&'static str>,
}

impl ListPatch {
    /// Whether list elements are merged (rather than the list being replaced).
    pub fn merges(&self) -> bool {
        self.strategy.split(',').any(|part| part.trim() == "merge")
    }

    /// Whether the field carries the `retainKeys` strategy.
    #[cfg(test)]
    pub fn retains_keys(&self) -> bool {
        self.strategy
            .split(',')
            .any(|part| part.trim() == "retainKeys")
    }

    /// Whether the field is replaced wholesale even when it is an object.
    pub fn replaces(&self) -> bool {
        self.strategy
            .split(',')
            .any(|part| part.trim() == "replace")
    }
}

/// Every built-in (definition, field, strategy) entry, sorted by definition then field.
#[rustfmt::skip]
static FIELD_PATCHES: &[(&str, &str, ListPatch)] = &[
    ("io.k8s.api.admissionregistration.v1.MutatingAdmissionPolicySpec", "matchConditions", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "matchConditions", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration", "webhooks", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "matchConditions", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "variables", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "matchConditions", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration", "webhooks", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", ListPatch { strategy: "retainKeys", merge_key: None }),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.batch.v1.JobSchedulingConfiguration", "resourceClaims", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.batch.v1.JobStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.certificates.v1.PodCertificateRequestStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.ComponentStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.Container", "env", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.Container", "ports", ListPatch { strategy: "merge", merge_key: Some("containerPort") }),
    ("io.k8s.api.core.v1.Container", "volumeDevices", ListPatch { strategy: "merge", merge_key: Some("devicePath") }),
    ("io.k8s.api.core.v1.Container", "volumeMounts", ListPatch { strategy: "merge", merge_key: Some("mountPath") }),
    ("io.k8s.api.core.v1.ContainerStatus", "allocatedResourcesStatus", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.ContainerStatus", "volumeMounts", ListPatch { strategy: "merge", merge_key: Some("mountPath") }),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", ListPatch { strategy: "merge", merge_key: Some("containerPort") }),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", ListPatch { strategy: "merge", merge_key: Some("devicePath") }),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", ListPatch { strategy: "merge", merge_key: Some("mountPath") }),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.NodeAllocatableResourceClaimStatus", "mapping", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.NodeAllocatableResourceClaimStatus", "overhead", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", ListPatch { strategy: "merge", merge_key: None }),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.PodSpec", "containers", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodSpec", "evictionResponders", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", ListPatch { strategy: "merge", merge_key: Some("ip") }),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", ListPatch { strategy: "merge,retainKeys", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", ListPatch { strategy: "merge", merge_key: Some("topologyKey") }),
    ("io.k8s.api.core.v1.PodSpec", "volumes", ListPatch { strategy: "merge,retainKeys", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", ListPatch { strategy: "merge", merge_key: Some("ip") }),
    ("io.k8s.api.core.v1.PodStatus", "nodeAllocatableResourceClaimStatuses", ListPatch { strategy: "merge", merge_key: Some("resourceClaimName") }),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", ListPatch { strategy: "merge", merge_key: Some("ip") }),
    ("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", ListPatch { strategy: "merge,retainKeys", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.PodVolumeHealth", "healthConditions", ListPatch { strategy: "merge", merge_key: Some("status") }),
    ("io.k8s.api.core.v1.ReplicationControllerStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", ListPatch { strategy: "merge", merge_key: Some("port") }),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.core.v1.VolumeHealthStatus", "healthConditions", ListPatch { strategy: "merge", merge_key: Some("status") }),
    ("io.k8s.api.flowcontrol.v1.FlowSchemaStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.networking.v1.ServiceCIDRStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector", ListPatch { strategy: "replace", merge_key: None }),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.resource.v1.DeviceTaintRuleStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.api.resource.v1.ResourceClaimStatus", "reservedFor", ListPatch { strategy: "merge", merge_key: Some("uid") }),
    ("io.k8s.api.storage.v1.CSINodeSpec", "drivers", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.storage.v1.CSINodeStatus", "storageHealth", ListPatch { strategy: "merge", merge_key: Some("name") }),
    ("io.k8s.api.storagemigration.v1.StorageVersionMigrationStatus", "conditions", ListPatch { strategy: "merge", merge_key: Some("type") }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", ListPatch { strategy: "merge", merge_key: None }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", ListPatch { strategy: "merge", merge_key: Some("uid") }),
];

/// The patch strategy of `field` in the definition `def` (e.g. `"io.k8s.api.core.v1.PodSpec"`,
/// `"containers"`), or `None` when the field has no special strategy.
pub fn field_patch(def: &str, field: &str) -> Option<ListPatch> {
    FIELD_PATCHES
        .iter()
        .find(|(entry_def, entry_field, _)| *entry_def == def && *entry_field == field)
        .map(|(_, _, patch)| *patch)
}

/// Every (definition, field, [`ListPatch`]) entry, for annotating OpenAPI schemas with
/// `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key`.
pub fn all_field_patches() -> &'static [(&'static str, &'static str, ListPatch)] {
    FIELD_PATCHES
}

/// The OpenAPI extension pairs for one field: `("x-kubernetes-patch-strategy", strategy)` and,
/// when there is a merge key, `("x-kubernetes-patch-merge-key", key)`. Empty when the field
/// has no special strategy.
#[cfg(test)]
pub fn openapi_extensions(def: &str, field: &str) -> Vec<(&'static str, &'static str)> {
    let Some(patch) = field_patch(def, field) else {
        return Vec::new();
    };
    let mut pairs = vec![("x-kubernetes-patch-strategy", patch.strategy)];
    if let Some(key) = patch.merge_key {
        pairs.push(("x-kubernetes-patch-merge-key", key));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_spec_lists_have_their_merge_keys() {
        let merge_on = |key| {
            Some(ListPatch {
                strategy: "merge",
                merge_key: Some(key),
            })
        };
        assert_eq!(
            field_patch("io.k8s.api.core.v1.PodSpec", "containers"),
            merge_on("name")
        );
        assert_eq!(
            field_patch("io.k8s.api.core.v1.Container", "ports"),
            merge_on("containerPort")
        );
        assert_eq!(
            field_patch("io.k8s.api.core.v1.EphemeralContainer", "env"),
            merge_on("name")
        );
        assert_eq!(
            field_patch("io.k8s.api.core.v1.PodSpec", "volumes"),
            Some(ListPatch {
                strategy: "merge,retainKeys",
                merge_key: Some("name")
            })
        );
        assert_eq!(
            field_patch("io.k8s.api.core.v1.PodSpec", "tolerations"),
            None
        );
        assert_eq!(
            field_patch("io.k8s.api.core.v1.ServiceSpec", "ports"),
            merge_on("port")
        );
        assert_eq!(
            field_patch(
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "finalizers"
            ),
            Some(ListPatch {
                strategy: "merge",
                merge_key: None
            })
        );
    }

    #[test]
    fn deployment_strategy_retains_keys() {
        let patch = field_patch("io.k8s.api.apps.v1.DeploymentSpec", "strategy");
        assert_eq!(
            patch,
            Some(ListPatch {
                strategy: "retainKeys",
                merge_key: None
            })
        );
        assert!(patch.is_some_and(|p| p.retains_keys() && !p.merges()));
    }

    #[test]
    fn table_is_sorted_and_unique() {
        let entries = all_field_patches();
        assert!(entries
            .windows(2)
            .all(|pair| (pair[0].0, pair[0].1) < (pair[1].0, pair[1].1)));
        assert_eq!(
            openapi_extensions("io.k8s.api.core.v1.ServiceSpec", "ports"),
            vec![
                ("x-kubernetes-patch-strategy", "merge"),
                ("x-kubernetes-patch-merge-key", "port")
            ]
        );
        assert!(openapi_extensions("io.k8s.api.core.v1.ServiceSpec", "selector").is_empty());
    }
}
