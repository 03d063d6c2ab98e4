//! Generated field table of the Kubernetes protobuf messages the request-body decoder knows.
//!
//! GENERATED FILE, DO NOT EDIT. Produced by `apiserver/scripts/gen_protobuf_table.py` from
//! k8s-pb 0.9.0 (message layouts) and k8s-openapi 0.29.0 (JSON names; optionality from v1_33).
//! 361 messages, 1485 fields, 54 top-level kinds. Re-run the script to update.

use super::schema::{f, Kind::*, Message, Special, TopLevel, INLINE, OMIT_EMPTY, REPEATED};

/// Every known message; `Msg(n)` / `MapMsg(n)` refer to `MESSAGES[n]`. Fields are sorted by tag.
#[rustfmt::skip]
pub(crate) static MESSAGES: &[Message] = &[
    // 0: api::core::v1::Binding
    Message { name: "k8s.io.api.core.v1.Binding", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "target", Msg(55), 0),
    ] },
    // 1: api::core::v1::ComponentStatus
    Message { name: "k8s.io.api.core.v1.ComponentStatus", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "conditions", Msg(56), REPEATED),
    ] },
    // 2: api::core::v1::ConfigMap
    Message { name: "k8s.io.api.core.v1.ConfigMap", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "data", MapStr, 0),
        f(3, "binaryData", MapBytes, 0),
        f(4, "immutable", Bool, 0),
    ] },
    // 3: api::core::v1::Endpoints
    Message { name: "k8s.io.api.core.v1.Endpoints", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "subsets", Msg(57), REPEATED),
    ] },
    // 4: api::core::v1::Event
    Message { name: "k8s.io.api.core.v1.Event", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "involvedObject", Msg(55), 0),
        f(3, "reason", Str, OMIT_EMPTY),
        f(4, "message", Str, OMIT_EMPTY),
        f(5, "source", Msg(58), 0),
        f(6, "firstTimestamp", Msg(59), 0),
        f(7, "lastTimestamp", Msg(59), 0),
        f(8, "count", I32, OMIT_EMPTY),
        f(9, "type", Str, OMIT_EMPTY),
        f(10, "eventTime", Msg(60), 0),
        f(11, "series", Msg(61), 0),
        f(12, "action", Str, OMIT_EMPTY),
        f(13, "related", Msg(55), 0),
        f(14, "reportingComponent", Str, OMIT_EMPTY),
        f(15, "reportingInstance", Str, OMIT_EMPTY),
    ] },
    // 5: api::core::v1::LimitRange
    Message { name: "k8s.io.api.core.v1.LimitRange", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(62), 0),
    ] },
    // 6: api::core::v1::Namespace
    Message { name: "k8s.io.api.core.v1.Namespace", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(63), 0),
        f(3, "status", Msg(64), 0),
    ] },
    // 7: api::core::v1::Node
    Message { name: "k8s.io.api.core.v1.Node", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(65), 0),
        f(3, "status", Msg(66), 0),
    ] },
    // 8: api::core::v1::PersistentVolume
    Message { name: "k8s.io.api.core.v1.PersistentVolume", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(67), 0),
        f(3, "status", Msg(68), 0),
    ] },
    // 9: api::core::v1::PersistentVolumeClaim
    Message { name: "k8s.io.api.core.v1.PersistentVolumeClaim", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(69), 0),
        f(3, "status", Msg(70), 0),
    ] },
    // 10: api::core::v1::Pod
    Message { name: "k8s.io.api.core.v1.Pod", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(71), 0),
        f(3, "status", Msg(72), 0),
    ] },
    // 11: api::core::v1::PodTemplate
    Message { name: "k8s.io.api.core.v1.PodTemplate", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "template", Msg(73), 0),
    ] },
    // 12: api::core::v1::ReplicationController
    Message { name: "k8s.io.api.core.v1.ReplicationController", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(74), 0),
        f(3, "status", Msg(75), 0),
    ] },
    // 13: api::core::v1::ResourceQuota
    Message { name: "k8s.io.api.core.v1.ResourceQuota", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(76), 0),
        f(3, "status", Msg(77), 0),
    ] },
    // 14: api::core::v1::Secret
    Message { name: "k8s.io.api.core.v1.Secret", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "data", MapBytes, 0),
        f(3, "type", Str, OMIT_EMPTY),
        f(4, "stringData", MapStr, 0),
        f(5, "immutable", Bool, 0),
    ] },
    // 15: api::core::v1::Service
    Message { name: "k8s.io.api.core.v1.Service", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(78), 0),
        f(3, "status", Msg(79), 0),
    ] },
    // 16: api::core::v1::ServiceAccount
    Message { name: "k8s.io.api.core.v1.ServiceAccount", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "secrets", Msg(55), REPEATED),
        f(3, "imagePullSecrets", Msg(80), REPEATED),
        f(4, "automountServiceAccountToken", Bool, 0),
    ] },
    // 17: api::apps::v1::ControllerRevision
    Message { name: "k8s.io.api.apps.v1.ControllerRevision", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "data", Msg(81), 0),
        f(3, "revision", I64, 0),
    ] },
    // 18: api::apps::v1::DaemonSet
    Message { name: "k8s.io.api.apps.v1.DaemonSet", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(82), 0),
        f(3, "status", Msg(83), 0),
    ] },
    // 19: api::apps::v1::Deployment
    Message { name: "k8s.io.api.apps.v1.Deployment", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(84), 0),
        f(3, "status", Msg(85), 0),
    ] },
    // 20: api::apps::v1::ReplicaSet
    Message { name: "k8s.io.api.apps.v1.ReplicaSet", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(86), 0),
        f(3, "status", Msg(87), 0),
    ] },
    // 21: api::apps::v1::StatefulSet
    Message { name: "k8s.io.api.apps.v1.StatefulSet", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(88), 0),
        f(3, "status", Msg(89), 0),
    ] },
    // 22: api::batch::v1::CronJob
    Message { name: "k8s.io.api.batch.v1.CronJob", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(90), 0),
        f(3, "status", Msg(91), 0),
    ] },
    // 23: api::batch::v1::Job
    Message { name: "k8s.io.api.batch.v1.Job", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(92), 0),
        f(3, "status", Msg(93), 0),
    ] },
    // 24: api::coordination::v1::Lease
    Message { name: "k8s.io.api.coordination.v1.Lease", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(94), 0),
    ] },
    // 25: api::discovery::v1::EndpointSlice
    Message { name: "k8s.io.api.discovery.v1.EndpointSlice", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "endpoints", Msg(95), REPEATED),
        f(3, "ports", Msg(96), REPEATED),
        f(4, "addressType", Str, 0),
    ] },
    // 26: api::events::v1::Event
    Message { name: "k8s.io.api.events.v1.Event", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "eventTime", Msg(60), 0),
        f(3, "series", Msg(97), 0),
        f(4, "reportingController", Str, OMIT_EMPTY),
        f(5, "reportingInstance", Str, OMIT_EMPTY),
        f(6, "action", Str, OMIT_EMPTY),
        f(7, "reason", Str, OMIT_EMPTY),
        f(8, "regarding", Msg(55), 0),
        f(9, "related", Msg(55), 0),
        f(10, "note", Str, OMIT_EMPTY),
        f(11, "type", Str, OMIT_EMPTY),
        f(12, "deprecatedSource", Msg(58), 0),
        f(13, "deprecatedFirstTimestamp", Msg(59), 0),
        f(14, "deprecatedLastTimestamp", Msg(59), 0),
        f(15, "deprecatedCount", I32, OMIT_EMPTY),
    ] },
    // 27: api::policy::v1::PodDisruptionBudget
    Message { name: "k8s.io.api.policy.v1.PodDisruptionBudget", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(98), 0),
        f(3, "status", Msg(99), 0),
    ] },
    // 28: api::policy::v1::Eviction
    Message { name: "k8s.io.api.policy.v1.Eviction", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "deleteOptions", Msg(50), 0),
    ] },
    // 29: api::rbac::v1::ClusterRole
    Message { name: "k8s.io.api.rbac.v1.ClusterRole", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "rules", Msg(100), REPEATED),
        f(3, "aggregationRule", Msg(101), 0),
    ] },
    // 30: api::rbac::v1::ClusterRoleBinding
    Message { name: "k8s.io.api.rbac.v1.ClusterRoleBinding", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "subjects", Msg(102), REPEATED),
        f(3, "roleRef", Msg(103), 0),
    ] },
    // 31: api::rbac::v1::Role
    Message { name: "k8s.io.api.rbac.v1.Role", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "rules", Msg(100), REPEATED),
    ] },
    // 32: api::rbac::v1::RoleBinding
    Message { name: "k8s.io.api.rbac.v1.RoleBinding", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "subjects", Msg(102), REPEATED),
        f(3, "roleRef", Msg(103), 0),
    ] },
    // 33: api::authorization::v1::LocalSubjectAccessReview
    Message { name: "k8s.io.api.authorization.v1.LocalSubjectAccessReview", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(104), 0),
        f(3, "status", Msg(105), 0),
    ] },
    // 34: api::authorization::v1::SelfSubjectAccessReview
    Message { name: "k8s.io.api.authorization.v1.SelfSubjectAccessReview", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(106), 0),
        f(3, "status", Msg(105), 0),
    ] },
    // 35: api::authorization::v1::SelfSubjectRulesReview
    Message { name: "k8s.io.api.authorization.v1.SelfSubjectRulesReview", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(107), 0),
        f(3, "status", Msg(108), 0),
    ] },
    // 36: api::authorization::v1::SubjectAccessReview
    Message { name: "k8s.io.api.authorization.v1.SubjectAccessReview", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(104), 0),
        f(3, "status", Msg(105), 0),
    ] },
    // 37: api::authentication::v1::SelfSubjectReview
    Message { name: "k8s.io.api.authentication.v1.SelfSubjectReview", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "status", Msg(109), 0),
    ] },
    // 38: api::authentication::v1::TokenReview
    Message { name: "k8s.io.api.authentication.v1.TokenReview", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(110), 0),
        f(3, "status", Msg(111), 0),
    ] },
    // 39: api::authentication::v1::TokenRequest
    Message { name: "k8s.io.api.authentication.v1.TokenRequest", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(112), 0),
        f(3, "status", Msg(113), 0),
    ] },
    // 40: api::autoscaling::v1::HorizontalPodAutoscaler
    Message { name: "k8s.io.api.autoscaling.v1.HorizontalPodAutoscaler", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(114), 0),
        f(3, "status", Msg(115), 0),
    ] },
    // 41: api::autoscaling::v1::Scale
    Message { name: "k8s.io.api.autoscaling.v1.Scale", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(116), 0),
        f(3, "status", Msg(117), 0),
    ] },
    // 42: api::autoscaling::v2::HorizontalPodAutoscaler
    Message { name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(118), 0),
        f(3, "status", Msg(119), 0),
    ] },
    // 43: api::storage::v1::CSIDriver
    Message { name: "k8s.io.api.storage.v1.CSIDriver", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(120), 0),
    ] },
    // 44: api::storage::v1::CSINode
    Message { name: "k8s.io.api.storage.v1.CSINode", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(121), 0),
    ] },
    // 45: api::storage::v1::CSIStorageCapacity
    Message { name: "k8s.io.api.storage.v1.CSIStorageCapacity", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "nodeTopology", Msg(122), 0),
        f(3, "storageClassName", Str, 0),
        f(4, "capacity", Msg(123), 0),
        f(5, "maximumVolumeSize", Msg(123), 0),
    ] },
    // 46: api::storage::v1::StorageClass
    Message { name: "k8s.io.api.storage.v1.StorageClass", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "provisioner", Str, 0),
        f(3, "parameters", MapStr, 0),
        f(4, "reclaimPolicy", Str, OMIT_EMPTY),
        f(5, "mountOptions", Str, REPEATED),
        f(6, "allowVolumeExpansion", Bool, 0),
        f(7, "volumeBindingMode", Str, OMIT_EMPTY),
        f(8, "allowedTopologies", Msg(124), REPEATED),
    ] },
    // 47: api::storage::v1::VolumeAttachment
    Message { name: "k8s.io.api.storage.v1.VolumeAttachment", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(125), 0),
        f(3, "status", Msg(126), 0),
    ] },
    // 48: api::storage::v1::VolumeAttributesClass
    Message { name: "k8s.io.api.storage.v1.VolumeAttributesClass", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "driverName", Str, 0),
        f(3, "parameters", MapStr, 0),
    ] },
    // 49: api::scheduling::v1::PriorityClass
    Message { name: "k8s.io.api.scheduling.v1.PriorityClass", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "value", I32, 0),
        f(3, "globalDefault", Bool, OMIT_EMPTY),
        f(4, "description", Str, OMIT_EMPTY),
        f(5, "preemptionPolicy", Str, OMIT_EMPTY),
    ] },
    // 50: apimachinery::pkg::apis::meta::v1::DeleteOptions
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions", special: Special::None, fields: &[
        f(1, "gracePeriodSeconds", I64, 0),
        f(2, "preconditions", Msg(127), 0),
        f(3, "orphanDependents", Bool, 0),
        f(4, "propagationPolicy", Str, OMIT_EMPTY),
        f(5, "dryRun", Str, REPEATED),
        f(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool, 0),
    ] },
    // 51: apimachinery::pkg::apis::meta::v1::CreateOptions
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.CreateOptions", special: Special::None, fields: &[
        f(1, "dryRun", Str, REPEATED),
        f(3, "fieldManager", Str, OMIT_EMPTY),
        f(4, "fieldValidation", Str, OMIT_EMPTY),
    ] },
    // 52: apimachinery::pkg::apis::meta::v1::UpdateOptions
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.UpdateOptions", special: Special::None, fields: &[
        f(1, "dryRun", Str, REPEATED),
        f(2, "fieldManager", Str, OMIT_EMPTY),
        f(3, "fieldValidation", Str, OMIT_EMPTY),
    ] },
    // 53: apimachinery::pkg::apis::meta::v1::PatchOptions
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.PatchOptions", special: Special::None, fields: &[
        f(1, "dryRun", Str, REPEATED),
        f(2, "force", Bool, 0),
        f(3, "fieldManager", Str, OMIT_EMPTY),
        f(4, "fieldValidation", Str, OMIT_EMPTY),
    ] },
    // 54: apimachinery::pkg::apis::meta::v1::ObjectMeta
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "generateName", Str, OMIT_EMPTY),
        f(3, "namespace", Str, OMIT_EMPTY),
        f(4, "selfLink", Str, OMIT_EMPTY),
        f(5, "uid", Str, OMIT_EMPTY),
        f(6, "resourceVersion", Str, OMIT_EMPTY),
        f(7, "generation", I64, OMIT_EMPTY),
        f(8, "creationTimestamp", Msg(59), 0),
        f(9, "deletionTimestamp", Msg(59), 0),
        f(10, "deletionGracePeriodSeconds", I64, 0),
        f(11, "labels", MapStr, 0),
        f(12, "annotations", MapStr, 0),
        f(13, "ownerReferences", Msg(128), REPEATED),
        f(14, "finalizers", Str, REPEATED),
        f(17, "managedFields", Msg(129), REPEATED),
    ] },
    // 55: api::core::v1::ObjectReference
    Message { name: "k8s.io.api.core.v1.ObjectReference", special: Special::None, fields: &[
        f(1, "kind", Str, OMIT_EMPTY),
        f(2, "namespace", Str, OMIT_EMPTY),
        f(3, "name", Str, OMIT_EMPTY),
        f(4, "uid", Str, OMIT_EMPTY),
        f(5, "apiVersion", Str, OMIT_EMPTY),
        f(6, "resourceVersion", Str, OMIT_EMPTY),
        f(7, "fieldPath", Str, OMIT_EMPTY),
    ] },
    // 56: api::core::v1::ComponentCondition
    Message { name: "k8s.io.api.core.v1.ComponentCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "message", Str, OMIT_EMPTY),
        f(4, "error", Str, OMIT_EMPTY),
    ] },
    // 57: api::core::v1::EndpointSubset
    Message { name: "k8s.io.api.core.v1.EndpointSubset", special: Special::None, fields: &[
        f(1, "addresses", Msg(130), REPEATED),
        f(2, "notReadyAddresses", Msg(130), REPEATED),
        f(3, "ports", Msg(131), REPEATED),
    ] },
    // 58: api::core::v1::EventSource
    Message { name: "k8s.io.api.core.v1.EventSource", special: Special::None, fields: &[
        f(1, "component", Str, OMIT_EMPTY),
        f(2, "host", Str, OMIT_EMPTY),
    ] },
    // 59: apimachinery::pkg::apis::meta::v1::Time
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.Time", special: Special::Time, fields: &[] },
    // 60: apimachinery::pkg::apis::meta::v1::MicroTime
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime", special: Special::MicroTime, fields: &[] },
    // 61: api::core::v1::EventSeries
    Message { name: "k8s.io.api.core.v1.EventSeries", special: Special::None, fields: &[
        f(1, "count", I32, OMIT_EMPTY),
        f(2, "lastObservedTime", Msg(60), 0),
    ] },
    // 62: api::core::v1::LimitRangeSpec
    Message { name: "k8s.io.api.core.v1.LimitRangeSpec", special: Special::None, fields: &[
        f(1, "limits", Msg(132), REPEATED),
    ] },
    // 63: api::core::v1::NamespaceSpec
    Message { name: "k8s.io.api.core.v1.NamespaceSpec", special: Special::None, fields: &[
        f(1, "finalizers", Str, REPEATED),
    ] },
    // 64: api::core::v1::NamespaceStatus
    Message { name: "k8s.io.api.core.v1.NamespaceStatus", special: Special::None, fields: &[
        f(1, "phase", Str, OMIT_EMPTY),
        f(2, "conditions", Msg(133), REPEATED),
    ] },
    // 65: api::core::v1::NodeSpec
    Message { name: "k8s.io.api.core.v1.NodeSpec", special: Special::None, fields: &[
        f(1, "podCIDR", Str, OMIT_EMPTY),
        f(2, "externalID", Str, OMIT_EMPTY),
        f(3, "providerID", Str, OMIT_EMPTY),
        f(4, "unschedulable", Bool, OMIT_EMPTY),
        f(5, "taints", Msg(134), REPEATED),
        f(6, "configSource", Msg(135), 0),
        f(7, "podCIDRs", Str, REPEATED),
    ] },
    // 66: api::core::v1::NodeStatus
    Message { name: "k8s.io.api.core.v1.NodeStatus", special: Special::None, fields: &[
        f(1, "capacity", MapMsg(123), 0),
        f(2, "allocatable", MapMsg(123), 0),
        f(3, "phase", Str, OMIT_EMPTY),
        f(4, "conditions", Msg(136), REPEATED),
        f(5, "addresses", Msg(137), REPEATED),
        f(6, "daemonEndpoints", Msg(138), 0),
        f(7, "nodeInfo", Msg(139), 0),
        f(8, "images", Msg(140), REPEATED),
        f(9, "volumesInUse", Str, REPEATED),
        f(10, "volumesAttached", Msg(141), REPEATED),
        f(11, "config", Msg(142), 0),
        f(12, "runtimeHandlers", Msg(143), REPEATED),
        f(13, "features", Msg(144), 0),
        f(14, "declaredFeatures", Str, REPEATED),
    ] },
    // 67: api::core::v1::PersistentVolumeSpec
    Message { name: "k8s.io.api.core.v1.PersistentVolumeSpec", special: Special::None, fields: &[
        f(1, "capacity", MapMsg(123), 0),
        f(2, "", Msg(145), INLINE),
        f(3, "accessModes", Str, REPEATED),
        f(4, "claimRef", Msg(55), 0),
        f(5, "persistentVolumeReclaimPolicy", Str, OMIT_EMPTY),
        f(6, "storageClassName", Str, OMIT_EMPTY),
        f(7, "mountOptions", Str, REPEATED),
        f(8, "volumeMode", Str, OMIT_EMPTY),
        f(9, "nodeAffinity", Msg(146), 0),
        f(10, "volumeAttributesClassName", Str, 0),
    ] },
    // 68: api::core::v1::PersistentVolumeStatus
    Message { name: "k8s.io.api.core.v1.PersistentVolumeStatus", special: Special::None, fields: &[
        f(1, "phase", Str, OMIT_EMPTY),
        f(2, "message", Str, OMIT_EMPTY),
        f(3, "reason", Str, OMIT_EMPTY),
        f(4, "lastPhaseTransitionTime", Msg(59), 0),
    ] },
    // 69: api::core::v1::PersistentVolumeClaimSpec
    Message { name: "k8s.io.api.core.v1.PersistentVolumeClaimSpec", special: Special::None, fields: &[
        f(1, "accessModes", Str, REPEATED),
        f(2, "resources", Msg(147), 0),
        f(3, "volumeName", Str, OMIT_EMPTY),
        f(4, "selector", Msg(122), 0),
        f(5, "storageClassName", Str, 0),
        f(6, "volumeMode", Str, OMIT_EMPTY),
        f(7, "dataSource", Msg(148), 0),
        f(8, "dataSourceRef", Msg(149), 0),
        f(9, "volumeAttributesClassName", Str, 0),
    ] },
    // 70: api::core::v1::PersistentVolumeClaimStatus
    Message { name: "k8s.io.api.core.v1.PersistentVolumeClaimStatus", special: Special::None, fields: &[
        f(1, "phase", Str, OMIT_EMPTY),
        f(2, "accessModes", Str, REPEATED),
        f(3, "capacity", MapMsg(123), 0),
        f(4, "conditions", Msg(150), REPEATED),
        f(5, "allocatedResources", MapMsg(123), 0),
        f(7, "allocatedResourceStatuses", MapStr, 0),
        f(8, "currentVolumeAttributesClassName", Str, OMIT_EMPTY),
        f(9, "modifyVolumeStatus", Msg(151), 0),
    ] },
    // 71: api::core::v1::PodSpec
    Message { name: "k8s.io.api.core.v1.PodSpec", special: Special::None, fields: &[
        f(1, "volumes", Msg(152), REPEATED),
        f(2, "containers", Msg(153), REPEATED),
        f(3, "restartPolicy", Str, OMIT_EMPTY),
        f(4, "terminationGracePeriodSeconds", I64, 0),
        f(5, "activeDeadlineSeconds", I64, 0),
        f(6, "dnsPolicy", Str, OMIT_EMPTY),
        f(7, "nodeSelector", MapStr, 0),
        f(8, "serviceAccountName", Str, OMIT_EMPTY),
        f(9, "serviceAccount", Str, OMIT_EMPTY),
        f(10, "nodeName", Str, OMIT_EMPTY),
        f(11, "hostNetwork", Bool, OMIT_EMPTY),
        f(12, "hostPID", Bool, OMIT_EMPTY),
        f(13, "hostIPC", Bool, OMIT_EMPTY),
        f(14, "securityContext", Msg(155), 0),
        f(15, "imagePullSecrets", Msg(80), REPEATED),
        f(16, "hostname", Str, OMIT_EMPTY),
        f(17, "subdomain", Str, OMIT_EMPTY),
        f(18, "affinity", Msg(156), 0),
        f(19, "schedulerName", Str, OMIT_EMPTY),
        f(20, "initContainers", Msg(153), REPEATED),
        f(21, "automountServiceAccountToken", Bool, 0),
        f(22, "tolerations", Msg(157), REPEATED),
        f(23, "hostAliases", Msg(158), REPEATED),
        f(24, "priorityClassName", Str, OMIT_EMPTY),
        f(25, "priority", I32, 0),
        f(26, "dnsConfig", Msg(159), 0),
        f(27, "shareProcessNamespace", Bool, 0),
        f(28, "readinessGates", Msg(160), REPEATED),
        f(29, "runtimeClassName", Str, OMIT_EMPTY),
        f(30, "enableServiceLinks", Bool, 0),
        f(31, "preemptionPolicy", Str, OMIT_EMPTY),
        f(32, "overhead", MapMsg(123), 0),
        f(33, "topologySpreadConstraints", Msg(161), REPEATED),
        f(34, "ephemeralContainers", Msg(154), REPEATED),
        f(35, "setHostnameAsFQDN", Bool, 0),
        f(36, "os", Msg(162), 0),
        f(37, "hostUsers", Bool, 0),
        f(38, "schedulingGates", Msg(163), REPEATED),
        f(39, "resourceClaims", Msg(164), REPEATED),
        f(40, "resources", Msg(165), 0),
        f(41, "hostnameOverride", Str, OMIT_EMPTY),
        f(42, "workloadRef", Msg(166), 0),
    ] },
    // 72: api::core::v1::PodStatus
    Message { name: "k8s.io.api.core.v1.PodStatus", special: Special::None, fields: &[
        f(1, "phase", Str, OMIT_EMPTY),
        f(2, "conditions", Msg(167), REPEATED),
        f(3, "message", Str, OMIT_EMPTY),
        f(4, "reason", Str, OMIT_EMPTY),
        f(5, "hostIP", Str, OMIT_EMPTY),
        f(6, "podIP", Str, OMIT_EMPTY),
        f(7, "startTime", Msg(59), 0),
        f(8, "containerStatuses", Msg(170), REPEATED),
        f(9, "qosClass", Str, OMIT_EMPTY),
        f(10, "initContainerStatuses", Msg(170), REPEATED),
        f(11, "nominatedNodeName", Str, OMIT_EMPTY),
        f(12, "podIPs", Msg(169), REPEATED),
        f(13, "ephemeralContainerStatuses", Msg(170), REPEATED),
        f(14, "resize", Str, OMIT_EMPTY),
        f(15, "resourceClaimStatuses", Msg(171), REPEATED),
        f(16, "hostIPs", Msg(168), REPEATED),
        f(17, "observedGeneration", I64, OMIT_EMPTY),
        f(18, "extendedResourceClaimStatus", Msg(172), 0),
        f(19, "allocatedResources", MapMsg(123), 0),
        f(20, "resources", Msg(165), 0),
    ] },
    // 73: api::core::v1::PodTemplateSpec
    Message { name: "k8s.io.api.core.v1.PodTemplateSpec", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(71), 0),
    ] },
    // 74: api::core::v1::ReplicationControllerSpec
    Message { name: "k8s.io.api.core.v1.ReplicationControllerSpec", special: Special::None, fields: &[
        f(1, "replicas", I32, 0),
        f(2, "selector", MapStr, 0),
        f(3, "template", Msg(73), 0),
        f(4, "minReadySeconds", I32, OMIT_EMPTY),
    ] },
    // 75: api::core::v1::ReplicationControllerStatus
    Message { name: "k8s.io.api.core.v1.ReplicationControllerStatus", special: Special::None, fields: &[
        f(1, "replicas", I32, 0),
        f(2, "fullyLabeledReplicas", I32, OMIT_EMPTY),
        f(3, "observedGeneration", I64, OMIT_EMPTY),
        f(4, "readyReplicas", I32, OMIT_EMPTY),
        f(5, "availableReplicas", I32, OMIT_EMPTY),
        f(6, "conditions", Msg(173), REPEATED),
    ] },
    // 76: api::core::v1::ResourceQuotaSpec
    Message { name: "k8s.io.api.core.v1.ResourceQuotaSpec", special: Special::None, fields: &[
        f(1, "hard", MapMsg(123), 0),
        f(2, "scopes", Str, REPEATED),
        f(3, "scopeSelector", Msg(174), 0),
    ] },
    // 77: api::core::v1::ResourceQuotaStatus
    Message { name: "k8s.io.api.core.v1.ResourceQuotaStatus", special: Special::None, fields: &[
        f(1, "hard", MapMsg(123), 0),
        f(2, "used", MapMsg(123), 0),
    ] },
    // 78: api::core::v1::ServiceSpec
    Message { name: "k8s.io.api.core.v1.ServiceSpec", special: Special::None, fields: &[
        f(1, "ports", Msg(175), REPEATED),
        f(2, "selector", MapStr, 0),
        f(3, "clusterIP", Str, OMIT_EMPTY),
        f(4, "type", Str, OMIT_EMPTY),
        f(5, "externalIPs", Str, REPEATED),
        f(7, "sessionAffinity", Str, OMIT_EMPTY),
        f(8, "loadBalancerIP", Str, OMIT_EMPTY),
        f(9, "loadBalancerSourceRanges", Str, REPEATED),
        f(10, "externalName", Str, OMIT_EMPTY),
        f(11, "externalTrafficPolicy", Str, OMIT_EMPTY),
        f(12, "healthCheckNodePort", I32, OMIT_EMPTY),
        f(13, "publishNotReadyAddresses", Bool, OMIT_EMPTY),
        f(14, "sessionAffinityConfig", Msg(176), 0),
        f(17, "ipFamilyPolicy", Str, OMIT_EMPTY),
        f(18, "clusterIPs", Str, REPEATED),
        f(19, "ipFamilies", Str, REPEATED),
        f(20, "allocateLoadBalancerNodePorts", Bool, 0),
        f(21, "loadBalancerClass", Str, OMIT_EMPTY),
        f(22, "internalTrafficPolicy", Str, OMIT_EMPTY),
        f(23, "trafficDistribution", Str, OMIT_EMPTY),
    ] },
    // 79: api::core::v1::ServiceStatus
    Message { name: "k8s.io.api.core.v1.ServiceStatus", special: Special::None, fields: &[
        f(1, "loadBalancer", Msg(177), 0),
        f(2, "conditions", Msg(178), REPEATED),
    ] },
    // 80: api::core::v1::LocalObjectReference
    Message { name: "k8s.io.api.core.v1.LocalObjectReference", special: Special::None, fields: &[
        f(1, "name", Str, 0),
    ] },
    // 81: apimachinery::pkg::runtime::RawExtension
    Message { name: "k8s.io.apimachinery.pkg.runtime.RawExtension", special: Special::RawExtension, fields: &[] },
    // 82: api::apps::v1::DaemonSetSpec
    Message { name: "k8s.io.api.apps.v1.DaemonSetSpec", special: Special::None, fields: &[
        f(1, "selector", Msg(122), 0),
        f(2, "template", Msg(73), 0),
        f(3, "updateStrategy", Msg(179), 0),
        f(4, "minReadySeconds", I32, OMIT_EMPTY),
        f(6, "revisionHistoryLimit", I32, 0),
    ] },
    // 83: api::apps::v1::DaemonSetStatus
    Message { name: "k8s.io.api.apps.v1.DaemonSetStatus", special: Special::None, fields: &[
        f(1, "currentNumberScheduled", I32, 0),
        f(2, "numberMisscheduled", I32, 0),
        f(3, "desiredNumberScheduled", I32, 0),
        f(4, "numberReady", I32, 0),
        f(5, "observedGeneration", I64, OMIT_EMPTY),
        f(6, "updatedNumberScheduled", I32, OMIT_EMPTY),
        f(7, "numberAvailable", I32, OMIT_EMPTY),
        f(8, "numberUnavailable", I32, OMIT_EMPTY),
        f(9, "collisionCount", I32, 0),
        f(10, "conditions", Msg(180), REPEATED),
    ] },
    // 84: api::apps::v1::DeploymentSpec
    Message { name: "k8s.io.api.apps.v1.DeploymentSpec", special: Special::None, fields: &[
        f(1, "replicas", I32, 0),
        f(2, "selector", Msg(122), 0),
        f(3, "template", Msg(73), 0),
        f(4, "strategy", Msg(181), 0),
        f(5, "minReadySeconds", I32, OMIT_EMPTY),
        f(6, "revisionHistoryLimit", I32, 0),
        f(7, "paused", Bool, OMIT_EMPTY),
        f(9, "progressDeadlineSeconds", I32, 0),
    ] },
    // 85: api::apps::v1::DeploymentStatus
    Message { name: "k8s.io.api.apps.v1.DeploymentStatus", special: Special::None, fields: &[
        f(1, "observedGeneration", I64, OMIT_EMPTY),
        f(2, "replicas", I32, OMIT_EMPTY),
        f(3, "updatedReplicas", I32, OMIT_EMPTY),
        f(4, "availableReplicas", I32, OMIT_EMPTY),
        f(5, "unavailableReplicas", I32, OMIT_EMPTY),
        f(6, "conditions", Msg(182), REPEATED),
        f(7, "readyReplicas", I32, OMIT_EMPTY),
        f(8, "collisionCount", I32, 0),
        f(9, "terminatingReplicas", I32, 0),
    ] },
    // 86: api::apps::v1::ReplicaSetSpec
    Message { name: "k8s.io.api.apps.v1.ReplicaSetSpec", special: Special::None, fields: &[
        f(1, "replicas", I32, 0),
        f(2, "selector", Msg(122), 0),
        f(3, "template", Msg(73), 0),
        f(4, "minReadySeconds", I32, OMIT_EMPTY),
    ] },
    // 87: api::apps::v1::ReplicaSetStatus
    Message { name: "k8s.io.api.apps.v1.ReplicaSetStatus", special: Special::None, fields: &[
        f(1, "replicas", I32, 0),
        f(2, "fullyLabeledReplicas", I32, OMIT_EMPTY),
        f(3, "observedGeneration", I64, OMIT_EMPTY),
        f(4, "readyReplicas", I32, OMIT_EMPTY),
        f(5, "availableReplicas", I32, OMIT_EMPTY),
        f(6, "conditions", Msg(183), REPEATED),
        f(7, "terminatingReplicas", I32, 0),
    ] },
    // 88: api::apps::v1::StatefulSetSpec
    Message { name: "k8s.io.api.apps.v1.StatefulSetSpec", special: Special::None, fields: &[
        f(1, "replicas", I32, 0),
        f(2, "selector", Msg(122), 0),
        f(3, "template", Msg(73), 0),
        f(4, "volumeClaimTemplates", Msg(9), REPEATED),
        f(5, "serviceName", Str, OMIT_EMPTY),
        f(6, "podManagementPolicy", Str, OMIT_EMPTY),
        f(7, "updateStrategy", Msg(184), 0),
        f(8, "revisionHistoryLimit", I32, 0),
        f(9, "minReadySeconds", I32, OMIT_EMPTY),
        f(10, "persistentVolumeClaimRetentionPolicy", Msg(185), 0),
        f(11, "ordinals", Msg(186), 0),
    ] },
    // 89: api::apps::v1::StatefulSetStatus
    Message { name: "k8s.io.api.apps.v1.StatefulSetStatus", special: Special::None, fields: &[
        f(1, "observedGeneration", I64, OMIT_EMPTY),
        f(2, "replicas", I32, 0),
        f(3, "readyReplicas", I32, OMIT_EMPTY),
        f(4, "currentReplicas", I32, OMIT_EMPTY),
        f(5, "updatedReplicas", I32, OMIT_EMPTY),
        f(6, "currentRevision", Str, OMIT_EMPTY),
        f(7, "updateRevision", Str, OMIT_EMPTY),
        f(9, "collisionCount", I32, 0),
        f(10, "conditions", Msg(187), REPEATED),
        f(11, "availableReplicas", I32, 0),
    ] },
    // 90: api::batch::v1::CronJobSpec
    Message { name: "k8s.io.api.batch.v1.CronJobSpec", special: Special::None, fields: &[
        f(1, "schedule", Str, 0),
        f(2, "startingDeadlineSeconds", I64, 0),
        f(3, "concurrencyPolicy", Str, OMIT_EMPTY),
        f(4, "suspend", Bool, 0),
        f(5, "jobTemplate", Msg(188), 0),
        f(6, "successfulJobsHistoryLimit", I32, 0),
        f(7, "failedJobsHistoryLimit", I32, 0),
        f(8, "timeZone", Str, OMIT_EMPTY),
    ] },
    // 91: api::batch::v1::CronJobStatus
    Message { name: "k8s.io.api.batch.v1.CronJobStatus", special: Special::None, fields: &[
        f(1, "active", Msg(55), REPEATED),
        f(4, "lastScheduleTime", Msg(59), 0),
        f(5, "lastSuccessfulTime", Msg(59), 0),
    ] },
    // 92: api::batch::v1::JobSpec
    Message { name: "k8s.io.api.batch.v1.JobSpec", special: Special::None, fields: &[
        f(1, "parallelism", I32, 0),
        f(2, "completions", I32, 0),
        f(3, "activeDeadlineSeconds", I64, 0),
        f(4, "selector", Msg(122), 0),
        f(5, "manualSelector", Bool, 0),
        f(6, "template", Msg(73), 0),
        f(7, "backoffLimit", I32, 0),
        f(8, "ttlSecondsAfterFinished", I32, 0),
        f(9, "completionMode", Str, OMIT_EMPTY),
        f(10, "suspend", Bool, 0),
        f(11, "podFailurePolicy", Msg(189), 0),
        f(12, "backoffLimitPerIndex", I32, 0),
        f(13, "maxFailedIndexes", I32, 0),
        f(14, "podReplacementPolicy", Str, OMIT_EMPTY),
        f(15, "managedBy", Str, OMIT_EMPTY),
        f(16, "successPolicy", Msg(190), 0),
    ] },
    // 93: api::batch::v1::JobStatus
    Message { name: "k8s.io.api.batch.v1.JobStatus", special: Special::None, fields: &[
        f(1, "conditions", Msg(191), REPEATED),
        f(2, "startTime", Msg(59), 0),
        f(3, "completionTime", Msg(59), 0),
        f(4, "active", I32, OMIT_EMPTY),
        f(5, "succeeded", I32, OMIT_EMPTY),
        f(6, "failed", I32, OMIT_EMPTY),
        f(7, "completedIndexes", Str, OMIT_EMPTY),
        f(8, "uncountedTerminatedPods", Msg(192), 0),
        f(9, "ready", I32, 0),
        f(10, "failedIndexes", Str, OMIT_EMPTY),
        f(11, "terminating", I32, 0),
    ] },
    // 94: api::coordination::v1::LeaseSpec
    Message { name: "k8s.io.api.coordination.v1.LeaseSpec", special: Special::None, fields: &[
        f(1, "holderIdentity", Str, OMIT_EMPTY),
        f(2, "leaseDurationSeconds", I32, 0),
        f(3, "acquireTime", Msg(60), 0),
        f(4, "renewTime", Msg(60), 0),
        f(5, "leaseTransitions", I32, 0),
        f(6, "strategy", Str, OMIT_EMPTY),
        f(7, "preferredHolder", Str, OMIT_EMPTY),
    ] },
    // 95: api::discovery::v1::Endpoint
    Message { name: "k8s.io.api.discovery.v1.Endpoint", special: Special::None, fields: &[
        f(1, "addresses", Str, REPEATED),
        f(2, "conditions", Msg(193), 0),
        f(3, "hostname", Str, OMIT_EMPTY),
        f(4, "targetRef", Msg(55), 0),
        f(5, "deprecatedTopology", MapStr, 0),
        f(6, "nodeName", Str, OMIT_EMPTY),
        f(7, "zone", Str, OMIT_EMPTY),
        f(8, "hints", Msg(194), 0),
    ] },
    // 96: api::discovery::v1::EndpointPort
    Message { name: "k8s.io.api.discovery.v1.EndpointPort", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "protocol", Str, OMIT_EMPTY),
        f(3, "port", I32, 0),
        f(4, "appProtocol", Str, OMIT_EMPTY),
    ] },
    // 97: api::events::v1::EventSeries
    Message { name: "k8s.io.api.events.v1.EventSeries", special: Special::None, fields: &[
        f(1, "count", I32, 0),
        f(2, "lastObservedTime", Msg(60), 0),
    ] },
    // 98: api::policy::v1::PodDisruptionBudgetSpec
    Message { name: "k8s.io.api.policy.v1.PodDisruptionBudgetSpec", special: Special::None, fields: &[
        f(1, "minAvailable", Msg(195), 0),
        f(2, "selector", Msg(122), 0),
        f(3, "maxUnavailable", Msg(195), 0),
        f(4, "unhealthyPodEvictionPolicy", Str, OMIT_EMPTY),
    ] },
    // 99: api::policy::v1::PodDisruptionBudgetStatus
    Message { name: "k8s.io.api.policy.v1.PodDisruptionBudgetStatus", special: Special::None, fields: &[
        f(1, "observedGeneration", I64, OMIT_EMPTY),
        f(2, "disruptedPods", MapMsg(59), 0),
        f(3, "disruptionsAllowed", I32, 0),
        f(4, "currentHealthy", I32, 0),
        f(5, "desiredHealthy", I32, 0),
        f(6, "expectedPods", I32, 0),
        f(7, "conditions", Msg(178), REPEATED),
    ] },
    // 100: api::rbac::v1::PolicyRule
    Message { name: "k8s.io.api.rbac.v1.PolicyRule", special: Special::None, fields: &[
        f(1, "verbs", Str, REPEATED),
        f(2, "apiGroups", Str, REPEATED),
        f(3, "resources", Str, REPEATED),
        f(4, "resourceNames", Str, REPEATED),
        f(5, "nonResourceURLs", Str, REPEATED),
    ] },
    // 101: api::rbac::v1::AggregationRule
    Message { name: "k8s.io.api.rbac.v1.AggregationRule", special: Special::None, fields: &[
        f(1, "clusterRoleSelectors", Msg(122), REPEATED),
    ] },
    // 102: api::rbac::v1::Subject
    Message { name: "k8s.io.api.rbac.v1.Subject", special: Special::None, fields: &[
        f(1, "kind", Str, 0),
        f(2, "apiGroup", Str, OMIT_EMPTY),
        f(3, "name", Str, 0),
        f(4, "namespace", Str, OMIT_EMPTY),
    ] },
    // 103: api::rbac::v1::RoleRef
    Message { name: "k8s.io.api.rbac.v1.RoleRef", special: Special::None, fields: &[
        f(1, "apiGroup", Str, 0),
        f(2, "kind", Str, 0),
        f(3, "name", Str, 0),
    ] },
    // 104: api::authorization::v1::SubjectAccessReviewSpec
    Message { name: "k8s.io.api.authorization.v1.SubjectAccessReviewSpec", special: Special::None, fields: &[
        f(1, "resourceAttributes", Msg(196), 0),
        f(2, "nonResourceAttributes", Msg(197), 0),
        f(3, "user", Str, OMIT_EMPTY),
        f(4, "groups", Str, REPEATED),
        f(5, "extra", MapMsg(198), 0),
        f(6, "uid", Str, OMIT_EMPTY),
    ] },
    // 105: api::authorization::v1::SubjectAccessReviewStatus
    Message { name: "k8s.io.api.authorization.v1.SubjectAccessReviewStatus", special: Special::None, fields: &[
        f(1, "allowed", Bool, 0),
        f(2, "reason", Str, OMIT_EMPTY),
        f(3, "evaluationError", Str, OMIT_EMPTY),
        f(4, "denied", Bool, OMIT_EMPTY),
    ] },
    // 106: api::authorization::v1::SelfSubjectAccessReviewSpec
    Message { name: "k8s.io.api.authorization.v1.SelfSubjectAccessReviewSpec", special: Special::None, fields: &[
        f(1, "resourceAttributes", Msg(196), 0),
        f(2, "nonResourceAttributes", Msg(197), 0),
    ] },
    // 107: api::authorization::v1::SelfSubjectRulesReviewSpec
    Message { name: "k8s.io.api.authorization.v1.SelfSubjectRulesReviewSpec", special: Special::None, fields: &[
        f(1, "namespace", Str, OMIT_EMPTY),
    ] },
    // 108: api::authorization::v1::SubjectRulesReviewStatus
    Message { name: "k8s.io.api.authorization.v1.SubjectRulesReviewStatus", special: Special::None, fields: &[
        f(1, "resourceRules", Msg(199), REPEATED),
        f(2, "nonResourceRules", Msg(200), REPEATED),
        f(3, "incomplete", Bool, 0),
        f(4, "evaluationError", Str, OMIT_EMPTY),
    ] },
    // 109: api::authentication::v1::SelfSubjectReviewStatus
    Message { name: "k8s.io.api.authentication.v1.SelfSubjectReviewStatus", special: Special::None, fields: &[
        f(1, "userInfo", Msg(201), 0),
    ] },
    // 110: api::authentication::v1::TokenReviewSpec
    Message { name: "k8s.io.api.authentication.v1.TokenReviewSpec", special: Special::None, fields: &[
        f(1, "token", Str, OMIT_EMPTY),
        f(2, "audiences", Str, REPEATED),
    ] },
    // 111: api::authentication::v1::TokenReviewStatus
    Message { name: "k8s.io.api.authentication.v1.TokenReviewStatus", special: Special::None, fields: &[
        f(1, "authenticated", Bool, OMIT_EMPTY),
        f(2, "user", Msg(201), 0),
        f(3, "error", Str, OMIT_EMPTY),
        f(4, "audiences", Str, REPEATED),
    ] },
    // 112: api::authentication::v1::TokenRequestSpec
    Message { name: "k8s.io.api.authentication.v1.TokenRequestSpec", special: Special::None, fields: &[
        f(1, "audiences", Str, REPEATED),
        f(3, "boundObjectRef", Msg(202), 0),
        f(4, "expirationSeconds", I64, 0),
    ] },
    // 113: api::authentication::v1::TokenRequestStatus
    Message { name: "k8s.io.api.authentication.v1.TokenRequestStatus", special: Special::None, fields: &[
        f(1, "token", Str, 0),
        f(2, "expirationTimestamp", Msg(59), 0),
    ] },
    // 114: api::autoscaling::v1::HorizontalPodAutoscalerSpec
    Message { name: "k8s.io.api.autoscaling.v1.HorizontalPodAutoscalerSpec", special: Special::None, fields: &[
        f(1, "scaleTargetRef", Msg(203), 0),
        f(2, "minReplicas", I32, 0),
        f(3, "maxReplicas", I32, 0),
        f(4, "targetCPUUtilizationPercentage", I32, 0),
    ] },
    // 115: api::autoscaling::v1::HorizontalPodAutoscalerStatus
    Message { name: "k8s.io.api.autoscaling.v1.HorizontalPodAutoscalerStatus", special: Special::None, fields: &[
        f(1, "observedGeneration", I64, 0),
        f(2, "lastScaleTime", Msg(59), 0),
        f(3, "currentReplicas", I32, 0),
        f(4, "desiredReplicas", I32, 0),
        f(5, "currentCPUUtilizationPercentage", I32, 0),
    ] },
    // 116: api::autoscaling::v1::ScaleSpec
    Message { name: "k8s.io.api.autoscaling.v1.ScaleSpec", special: Special::None, fields: &[
        f(1, "replicas", I32, OMIT_EMPTY),
    ] },
    // 117: api::autoscaling::v1::ScaleStatus
    Message { name: "k8s.io.api.autoscaling.v1.ScaleStatus", special: Special::None, fields: &[
        f(1, "replicas", I32, 0),
        f(2, "selector", Str, OMIT_EMPTY),
    ] },
    // 118: api::autoscaling::v2::HorizontalPodAutoscalerSpec
    Message { name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerSpec", special: Special::None, fields: &[
        f(1, "scaleTargetRef", Msg(204), 0),
        f(2, "minReplicas", I32, 0),
        f(3, "maxReplicas", I32, 0),
        f(4, "metrics", Msg(205), REPEATED),
        f(5, "behavior", Msg(206), 0),
    ] },
    // 119: api::autoscaling::v2::HorizontalPodAutoscalerStatus
    Message { name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerStatus", special: Special::None, fields: &[
        f(1, "observedGeneration", I64, 0),
        f(2, "lastScaleTime", Msg(59), 0),
        f(3, "currentReplicas", I32, OMIT_EMPTY),
        f(4, "desiredReplicas", I32, 0),
        f(5, "currentMetrics", Msg(207), REPEATED),
        f(6, "conditions", Msg(208), REPEATED),
    ] },
    // 120: api::storage::v1::CSIDriverSpec
    Message { name: "k8s.io.api.storage.v1.CSIDriverSpec", special: Special::None, fields: &[
        f(1, "attachRequired", Bool, 0),
        f(2, "podInfoOnMount", Bool, 0),
        f(3, "volumeLifecycleModes", Str, REPEATED),
        f(4, "storageCapacity", Bool, 0),
        f(5, "fsGroupPolicy", Str, OMIT_EMPTY),
        f(6, "tokenRequests", Msg(209), REPEATED),
        f(7, "requiresRepublish", Bool, 0),
        f(8, "seLinuxMount", Bool, 0),
        f(9, "nodeAllocatableUpdatePeriodSeconds", I64, 0),
        f(10, "serviceAccountTokenInSecrets", Bool, 0),
    ] },
    // 121: api::storage::v1::CSINodeSpec
    Message { name: "k8s.io.api.storage.v1.CSINodeSpec", special: Special::None, fields: &[
        f(1, "drivers", Msg(210), REPEATED),
    ] },
    // 122: apimachinery::pkg::apis::meta::v1::LabelSelector
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector", special: Special::None, fields: &[
        f(1, "matchLabels", MapStr, 0),
        f(2, "matchExpressions", Msg(211), REPEATED),
    ] },
    // 123: apimachinery::pkg::api::resource::Quantity
    Message { name: "k8s.io.apimachinery.pkg.api.resource.Quantity", special: Special::Quantity, fields: &[] },
    // 124: api::core::v1::TopologySelectorTerm
    Message { name: "k8s.io.api.core.v1.TopologySelectorTerm", special: Special::None, fields: &[
        f(1, "matchLabelExpressions", Msg(212), REPEATED),
    ] },
    // 125: api::storage::v1::VolumeAttachmentSpec
    Message { name: "k8s.io.api.storage.v1.VolumeAttachmentSpec", special: Special::None, fields: &[
        f(1, "attacher", Str, 0),
        f(2, "source", Msg(213), 0),
        f(3, "nodeName", Str, 0),
    ] },
    // 126: api::storage::v1::VolumeAttachmentStatus
    Message { name: "k8s.io.api.storage.v1.VolumeAttachmentStatus", special: Special::None, fields: &[
        f(1, "attached", Bool, 0),
        f(2, "attachmentMetadata", MapStr, 0),
        f(3, "attachError", Msg(214), 0),
        f(4, "detachError", Msg(214), 0),
    ] },
    // 127: apimachinery::pkg::apis::meta::v1::Preconditions
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.Preconditions", special: Special::None, fields: &[
        f(1, "uid", Str, OMIT_EMPTY),
        f(2, "resourceVersion", Str, OMIT_EMPTY),
    ] },
    // 128: apimachinery::pkg::apis::meta::v1::OwnerReference
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.OwnerReference", special: Special::None, fields: &[
        f(1, "kind", Str, 0),
        f(3, "name", Str, 0),
        f(4, "uid", Str, 0),
        f(5, "apiVersion", Str, 0),
        f(6, "controller", Bool, 0),
        f(7, "blockOwnerDeletion", Bool, 0),
    ] },
    // 129: apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry", special: Special::None, fields: &[
        f(1, "manager", Str, OMIT_EMPTY),
        f(2, "operation", Str, OMIT_EMPTY),
        f(3, "apiVersion", Str, OMIT_EMPTY),
        f(4, "time", Msg(59), 0),
        f(6, "fieldsType", Str, OMIT_EMPTY),
        f(7, "fieldsV1", Msg(215), 0),
        f(8, "subresource", Str, OMIT_EMPTY),
    ] },
    // 130: api::core::v1::EndpointAddress
    Message { name: "k8s.io.api.core.v1.EndpointAddress", special: Special::None, fields: &[
        f(1, "ip", Str, 0),
        f(2, "targetRef", Msg(55), 0),
        f(3, "hostname", Str, OMIT_EMPTY),
        f(4, "nodeName", Str, OMIT_EMPTY),
    ] },
    // 131: api::core::v1::EndpointPort
    Message { name: "k8s.io.api.core.v1.EndpointPort", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "port", I32, 0),
        f(3, "protocol", Str, OMIT_EMPTY),
        f(4, "appProtocol", Str, OMIT_EMPTY),
    ] },
    // 132: api::core::v1::LimitRangeItem
    Message { name: "k8s.io.api.core.v1.LimitRangeItem", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "max", MapMsg(123), 0),
        f(3, "min", MapMsg(123), 0),
        f(4, "default", MapMsg(123), 0),
        f(5, "defaultRequest", MapMsg(123), 0),
        f(6, "maxLimitRequestRatio", MapMsg(123), 0),
    ] },
    // 133: api::core::v1::NamespaceCondition
    Message { name: "k8s.io.api.core.v1.NamespaceCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(4, "lastTransitionTime", Msg(59), 0),
        f(5, "reason", Str, OMIT_EMPTY),
        f(6, "message", Str, OMIT_EMPTY),
    ] },
    // 134: api::core::v1::Taint
    Message { name: "k8s.io.api.core.v1.Taint", special: Special::None, fields: &[
        f(1, "key", Str, 0),
        f(2, "value", Str, OMIT_EMPTY),
        f(3, "effect", Str, 0),
        f(4, "timeAdded", Msg(59), 0),
    ] },
    // 135: api::core::v1::NodeConfigSource
    Message { name: "k8s.io.api.core.v1.NodeConfigSource", special: Special::None, fields: &[
        f(2, "configMap", Msg(216), 0),
    ] },
    // 136: api::core::v1::NodeCondition
    Message { name: "k8s.io.api.core.v1.NodeCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastHeartbeatTime", Msg(59), 0),
        f(4, "lastTransitionTime", Msg(59), 0),
        f(5, "reason", Str, OMIT_EMPTY),
        f(6, "message", Str, OMIT_EMPTY),
    ] },
    // 137: api::core::v1::NodeAddress
    Message { name: "k8s.io.api.core.v1.NodeAddress", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "address", Str, 0),
    ] },
    // 138: api::core::v1::NodeDaemonEndpoints
    Message { name: "k8s.io.api.core.v1.NodeDaemonEndpoints", special: Special::None, fields: &[
        f(1, "kubeletEndpoint", Msg(217), 0),
    ] },
    // 139: api::core::v1::NodeSystemInfo
    Message { name: "k8s.io.api.core.v1.NodeSystemInfo", special: Special::None, fields: &[
        f(1, "machineID", Str, 0),
        f(2, "systemUUID", Str, 0),
        f(3, "bootID", Str, 0),
        f(4, "kernelVersion", Str, 0),
        f(5, "osImage", Str, 0),
        f(6, "containerRuntimeVersion", Str, 0),
        f(7, "kubeletVersion", Str, 0),
        f(8, "kubeProxyVersion", Str, 0),
        f(9, "operatingSystem", Str, 0),
        f(10, "architecture", Str, 0),
        f(11, "swap", Msg(218), 0),
    ] },
    // 140: api::core::v1::ContainerImage
    Message { name: "k8s.io.api.core.v1.ContainerImage", special: Special::None, fields: &[
        f(1, "names", Str, REPEATED),
        f(2, "sizeBytes", I64, OMIT_EMPTY),
    ] },
    // 141: api::core::v1::AttachedVolume
    Message { name: "k8s.io.api.core.v1.AttachedVolume", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "devicePath", Str, 0),
    ] },
    // 142: api::core::v1::NodeConfigStatus
    Message { name: "k8s.io.api.core.v1.NodeConfigStatus", special: Special::None, fields: &[
        f(1, "assigned", Msg(135), 0),
        f(2, "active", Msg(135), 0),
        f(3, "lastKnownGood", Msg(135), 0),
        f(4, "error", Str, OMIT_EMPTY),
    ] },
    // 143: api::core::v1::NodeRuntimeHandler
    Message { name: "k8s.io.api.core.v1.NodeRuntimeHandler", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "features", Msg(219), 0),
    ] },
    // 144: api::core::v1::NodeFeatures
    Message { name: "k8s.io.api.core.v1.NodeFeatures", special: Special::None, fields: &[
        f(1, "supplementalGroupsPolicy", Bool, 0),
    ] },
    // 145: api::core::v1::PersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.PersistentVolumeSource", special: Special::None, fields: &[
        f(1, "gcePersistentDisk", Msg(220), 0),
        f(2, "awsElasticBlockStore", Msg(221), 0),
        f(3, "hostPath", Msg(222), 0),
        f(4, "glusterfs", Msg(223), 0),
        f(5, "nfs", Msg(224), 0),
        f(6, "rbd", Msg(225), 0),
        f(7, "iscsi", Msg(226), 0),
        f(8, "cinder", Msg(227), 0),
        f(9, "cephfs", Msg(228), 0),
        f(10, "fc", Msg(229), 0),
        f(11, "flocker", Msg(230), 0),
        f(12, "flexVolume", Msg(231), 0),
        f(13, "azureFile", Msg(232), 0),
        f(14, "vsphereVolume", Msg(233), 0),
        f(15, "quobyte", Msg(234), 0),
        f(16, "azureDisk", Msg(235), 0),
        f(17, "photonPersistentDisk", Msg(236), 0),
        f(18, "portworxVolume", Msg(237), 0),
        f(19, "scaleIO", Msg(238), 0),
        f(20, "local", Msg(239), 0),
        f(21, "storageos", Msg(240), 0),
        f(22, "csi", Msg(241), 0),
    ] },
    // 146: api::core::v1::VolumeNodeAffinity
    Message { name: "k8s.io.api.core.v1.VolumeNodeAffinity", special: Special::None, fields: &[
        f(1, "required", Msg(242), 0),
    ] },
    // 147: api::core::v1::VolumeResourceRequirements
    Message { name: "k8s.io.api.core.v1.VolumeResourceRequirements", special: Special::None, fields: &[
        f(1, "limits", MapMsg(123), 0),
        f(2, "requests", MapMsg(123), 0),
    ] },
    // 148: api::core::v1::TypedLocalObjectReference
    Message { name: "k8s.io.api.core.v1.TypedLocalObjectReference", special: Special::None, fields: &[
        f(1, "apiGroup", Str, OMIT_EMPTY),
        f(2, "kind", Str, 0),
        f(3, "name", Str, 0),
    ] },
    // 149: api::core::v1::TypedObjectReference
    Message { name: "k8s.io.api.core.v1.TypedObjectReference", special: Special::None, fields: &[
        f(1, "apiGroup", Str, OMIT_EMPTY),
        f(2, "kind", Str, 0),
        f(3, "name", Str, 0),
        f(4, "namespace", Str, OMIT_EMPTY),
    ] },
    // 150: api::core::v1::PersistentVolumeClaimCondition
    Message { name: "k8s.io.api.core.v1.PersistentVolumeClaimCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastProbeTime", Msg(59), 0),
        f(4, "lastTransitionTime", Msg(59), 0),
        f(5, "reason", Str, OMIT_EMPTY),
        f(6, "message", Str, OMIT_EMPTY),
    ] },
    // 151: api::core::v1::ModifyVolumeStatus
    Message { name: "k8s.io.api.core.v1.ModifyVolumeStatus", special: Special::None, fields: &[
        f(1, "targetVolumeAttributesClassName", Str, OMIT_EMPTY),
        f(2, "status", Str, 0),
    ] },
    // 152: api::core::v1::Volume
    Message { name: "k8s.io.api.core.v1.Volume", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "", Msg(243), INLINE),
    ] },
    // 153: api::core::v1::Container
    Message { name: "k8s.io.api.core.v1.Container", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "image", Str, OMIT_EMPTY),
        f(3, "command", Str, REPEATED),
        f(4, "args", Str, REPEATED),
        f(5, "workingDir", Str, OMIT_EMPTY),
        f(6, "ports", Msg(244), REPEATED),
        f(7, "env", Msg(246), REPEATED),
        f(8, "resources", Msg(165), 0),
        f(9, "volumeMounts", Msg(249), REPEATED),
        f(10, "livenessProbe", Msg(251), 0),
        f(11, "readinessProbe", Msg(251), 0),
        f(12, "lifecycle", Msg(252), 0),
        f(13, "terminationMessagePath", Str, OMIT_EMPTY),
        f(14, "imagePullPolicy", Str, OMIT_EMPTY),
        f(15, "securityContext", Msg(253), 0),
        f(16, "stdin", Bool, OMIT_EMPTY),
        f(17, "stdinOnce", Bool, OMIT_EMPTY),
        f(18, "tty", Bool, OMIT_EMPTY),
        f(19, "envFrom", Msg(245), REPEATED),
        f(20, "terminationMessagePolicy", Str, OMIT_EMPTY),
        f(21, "volumeDevices", Msg(250), REPEATED),
        f(22, "startupProbe", Msg(251), 0),
        f(23, "resizePolicy", Msg(247), REPEATED),
        f(24, "restartPolicy", Str, OMIT_EMPTY),
        f(25, "restartPolicyRules", Msg(248), REPEATED),
    ] },
    // 154: api::core::v1::EphemeralContainer
    Message { name: "k8s.io.api.core.v1.EphemeralContainer", special: Special::None, fields: &[
        f(1, "", Msg(254), INLINE),
        f(2, "targetContainerName", Str, OMIT_EMPTY),
    ] },
    // 155: api::core::v1::PodSecurityContext
    Message { name: "k8s.io.api.core.v1.PodSecurityContext", special: Special::None, fields: &[
        f(1, "seLinuxOptions", Msg(255), 0),
        f(2, "runAsUser", I64, 0),
        f(3, "runAsNonRoot", Bool, 0),
        f(4, "supplementalGroups", I64, REPEATED),
        f(5, "fsGroup", I64, 0),
        f(6, "runAsGroup", I64, 0),
        f(7, "sysctls", Msg(257), REPEATED),
        f(8, "windowsOptions", Msg(256), 0),
        f(9, "fsGroupChangePolicy", Str, OMIT_EMPTY),
        f(10, "seccompProfile", Msg(258), 0),
        f(11, "appArmorProfile", Msg(259), 0),
        f(12, "supplementalGroupsPolicy", Str, OMIT_EMPTY),
        f(13, "seLinuxChangePolicy", Str, OMIT_EMPTY),
    ] },
    // 156: api::core::v1::Affinity
    Message { name: "k8s.io.api.core.v1.Affinity", special: Special::None, fields: &[
        f(1, "nodeAffinity", Msg(260), 0),
        f(2, "podAffinity", Msg(261), 0),
        f(3, "podAntiAffinity", Msg(262), 0),
    ] },
    // 157: api::core::v1::Toleration
    Message { name: "k8s.io.api.core.v1.Toleration", special: Special::None, fields: &[
        f(1, "key", Str, OMIT_EMPTY),
        f(2, "operator", Str, OMIT_EMPTY),
        f(3, "value", Str, OMIT_EMPTY),
        f(4, "effect", Str, OMIT_EMPTY),
        f(5, "tolerationSeconds", I64, 0),
    ] },
    // 158: api::core::v1::HostAlias
    Message { name: "k8s.io.api.core.v1.HostAlias", special: Special::None, fields: &[
        f(1, "ip", Str, 0),
        f(2, "hostnames", Str, REPEATED),
    ] },
    // 159: api::core::v1::PodDnsConfig
    Message { name: "k8s.io.api.core.v1.PodDnsConfig", special: Special::None, fields: &[
        f(1, "nameservers", Str, REPEATED),
        f(2, "searches", Str, REPEATED),
        f(3, "options", Msg(263), REPEATED),
    ] },
    // 160: api::core::v1::PodReadinessGate
    Message { name: "k8s.io.api.core.v1.PodReadinessGate", special: Special::None, fields: &[
        f(1, "conditionType", Str, 0),
    ] },
    // 161: api::core::v1::TopologySpreadConstraint
    Message { name: "k8s.io.api.core.v1.TopologySpreadConstraint", special: Special::None, fields: &[
        f(1, "maxSkew", I32, 0),
        f(2, "topologyKey", Str, 0),
        f(3, "whenUnsatisfiable", Str, 0),
        f(4, "labelSelector", Msg(122), 0),
        f(5, "minDomains", I32, 0),
        f(6, "nodeAffinityPolicy", Str, OMIT_EMPTY),
        f(7, "nodeTaintsPolicy", Str, OMIT_EMPTY),
        f(8, "matchLabelKeys", Str, REPEATED),
    ] },
    // 162: api::core::v1::PodOs
    Message { name: "k8s.io.api.core.v1.PodOs", special: Special::None, fields: &[
        f(1, "name", Str, 0),
    ] },
    // 163: api::core::v1::PodSchedulingGate
    Message { name: "k8s.io.api.core.v1.PodSchedulingGate", special: Special::None, fields: &[
        f(1, "name", Str, 0),
    ] },
    // 164: api::core::v1::PodResourceClaim
    Message { name: "k8s.io.api.core.v1.PodResourceClaim", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(3, "resourceClaimName", Str, OMIT_EMPTY),
        f(4, "resourceClaimTemplateName", Str, OMIT_EMPTY),
    ] },
    // 165: api::core::v1::ResourceRequirements
    Message { name: "k8s.io.api.core.v1.ResourceRequirements", special: Special::None, fields: &[
        f(1, "limits", MapMsg(123), 0),
        f(2, "requests", MapMsg(123), 0),
        f(3, "claims", Msg(264), REPEATED),
    ] },
    // 166: api::core::v1::WorkloadReference
    Message { name: "k8s.io.api.core.v1.WorkloadReference", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "podGroup", Str, 0),
        f(3, "podGroupReplicaKey", Str, OMIT_EMPTY),
    ] },
    // 167: api::core::v1::PodCondition
    Message { name: "k8s.io.api.core.v1.PodCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastProbeTime", Msg(59), 0),
        f(4, "lastTransitionTime", Msg(59), 0),
        f(5, "reason", Str, OMIT_EMPTY),
        f(6, "message", Str, OMIT_EMPTY),
        f(7, "observedGeneration", I64, OMIT_EMPTY),
    ] },
    // 168: api::core::v1::HostIp
    Message { name: "k8s.io.api.core.v1.HostIp", special: Special::None, fields: &[
        f(1, "ip", Str, 0),
    ] },
    // 169: api::core::v1::PodIp
    Message { name: "k8s.io.api.core.v1.PodIp", special: Special::None, fields: &[
        f(1, "ip", Str, 0),
    ] },
    // 170: api::core::v1::ContainerStatus
    Message { name: "k8s.io.api.core.v1.ContainerStatus", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "state", Msg(265), 0),
        f(3, "lastState", Msg(265), 0),
        f(4, "ready", Bool, 0),
        f(5, "restartCount", I32, 0),
        f(6, "image", Str, 0),
        f(7, "imageID", Str, 0),
        f(8, "containerID", Str, OMIT_EMPTY),
        f(9, "started", Bool, 0),
        f(10, "allocatedResources", MapMsg(123), 0),
        f(11, "resources", Msg(165), 0),
        f(12, "volumeMounts", Msg(266), REPEATED),
        f(13, "user", Msg(267), 0),
        f(14, "allocatedResourcesStatus", Msg(268), REPEATED),
        f(15, "stopSignal", Str, OMIT_EMPTY),
    ] },
    // 171: api::core::v1::PodResourceClaimStatus
    Message { name: "k8s.io.api.core.v1.PodResourceClaimStatus", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "resourceClaimName", Str, OMIT_EMPTY),
    ] },
    // 172: api::core::v1::PodExtendedResourceClaimStatus
    Message { name: "k8s.io.api.core.v1.PodExtendedResourceClaimStatus", special: Special::None, fields: &[
        f(1, "requestMappings", Msg(269), REPEATED),
        f(2, "resourceClaimName", Str, 0),
    ] },
    // 173: api::core::v1::ReplicationControllerCondition
    Message { name: "k8s.io.api.core.v1.ReplicationControllerCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastTransitionTime", Msg(59), 0),
        f(4, "reason", Str, OMIT_EMPTY),
        f(5, "message", Str, OMIT_EMPTY),
    ] },
    // 174: api::core::v1::ScopeSelector
    Message { name: "k8s.io.api.core.v1.ScopeSelector", special: Special::None, fields: &[
        f(1, "matchExpressions", Msg(270), REPEATED),
    ] },
    // 175: api::core::v1::ServicePort
    Message { name: "k8s.io.api.core.v1.ServicePort", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "protocol", Str, OMIT_EMPTY),
        f(3, "port", I32, 0),
        f(4, "targetPort", Msg(195), 0),
        f(5, "nodePort", I32, OMIT_EMPTY),
        f(6, "appProtocol", Str, OMIT_EMPTY),
    ] },
    // 176: api::core::v1::SessionAffinityConfig
    Message { name: "k8s.io.api.core.v1.SessionAffinityConfig", special: Special::None, fields: &[
        f(1, "clientIP", Msg(271), 0),
    ] },
    // 177: api::core::v1::LoadBalancerStatus
    Message { name: "k8s.io.api.core.v1.LoadBalancerStatus", special: Special::None, fields: &[
        f(1, "ingress", Msg(272), REPEATED),
    ] },
    // 178: apimachinery::pkg::apis::meta::v1::Condition
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.Condition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "observedGeneration", I64, 0),
        f(4, "lastTransitionTime", Msg(59), 0),
        f(5, "reason", Str, 0),
        f(6, "message", Str, 0),
    ] },
    // 179: api::apps::v1::DaemonSetUpdateStrategy
    Message { name: "k8s.io.api.apps.v1.DaemonSetUpdateStrategy", special: Special::None, fields: &[
        f(1, "type", Str, OMIT_EMPTY),
        f(2, "rollingUpdate", Msg(273), 0),
    ] },
    // 180: api::apps::v1::DaemonSetCondition
    Message { name: "k8s.io.api.apps.v1.DaemonSetCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastTransitionTime", Msg(59), 0),
        f(4, "reason", Str, OMIT_EMPTY),
        f(5, "message", Str, OMIT_EMPTY),
    ] },
    // 181: api::apps::v1::DeploymentStrategy
    Message { name: "k8s.io.api.apps.v1.DeploymentStrategy", special: Special::None, fields: &[
        f(1, "type", Str, OMIT_EMPTY),
        f(2, "rollingUpdate", Msg(274), 0),
    ] },
    // 182: api::apps::v1::DeploymentCondition
    Message { name: "k8s.io.api.apps.v1.DeploymentCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(4, "reason", Str, OMIT_EMPTY),
        f(5, "message", Str, OMIT_EMPTY),
        f(6, "lastUpdateTime", Msg(59), 0),
        f(7, "lastTransitionTime", Msg(59), 0),
    ] },
    // 183: api::apps::v1::ReplicaSetCondition
    Message { name: "k8s.io.api.apps.v1.ReplicaSetCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastTransitionTime", Msg(59), 0),
        f(4, "reason", Str, OMIT_EMPTY),
        f(5, "message", Str, OMIT_EMPTY),
    ] },
    // 184: api::apps::v1::StatefulSetUpdateStrategy
    Message { name: "k8s.io.api.apps.v1.StatefulSetUpdateStrategy", special: Special::None, fields: &[
        f(1, "type", Str, OMIT_EMPTY),
        f(2, "rollingUpdate", Msg(275), 0),
    ] },
    // 185: api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy
    Message { name: "k8s.io.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy", special: Special::None, fields: &[
        f(1, "whenDeleted", Str, OMIT_EMPTY),
        f(2, "whenScaled", Str, OMIT_EMPTY),
    ] },
    // 186: api::apps::v1::StatefulSetOrdinals
    Message { name: "k8s.io.api.apps.v1.StatefulSetOrdinals", special: Special::None, fields: &[
        f(1, "start", I32, 0),
    ] },
    // 187: api::apps::v1::StatefulSetCondition
    Message { name: "k8s.io.api.apps.v1.StatefulSetCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastTransitionTime", Msg(59), 0),
        f(4, "reason", Str, OMIT_EMPTY),
        f(5, "message", Str, OMIT_EMPTY),
    ] },
    // 188: api::batch::v1::JobTemplateSpec
    Message { name: "k8s.io.api.batch.v1.JobTemplateSpec", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(92), 0),
    ] },
    // 189: api::batch::v1::PodFailurePolicy
    Message { name: "k8s.io.api.batch.v1.PodFailurePolicy", special: Special::None, fields: &[
        f(1, "rules", Msg(276), REPEATED),
    ] },
    // 190: api::batch::v1::SuccessPolicy
    Message { name: "k8s.io.api.batch.v1.SuccessPolicy", special: Special::None, fields: &[
        f(1, "rules", Msg(277), REPEATED),
    ] },
    // 191: api::batch::v1::JobCondition
    Message { name: "k8s.io.api.batch.v1.JobCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastProbeTime", Msg(59), 0),
        f(4, "lastTransitionTime", Msg(59), 0),
        f(5, "reason", Str, OMIT_EMPTY),
        f(6, "message", Str, OMIT_EMPTY),
    ] },
    // 192: api::batch::v1::UncountedTerminatedPods
    Message { name: "k8s.io.api.batch.v1.UncountedTerminatedPods", special: Special::None, fields: &[
        f(1, "succeeded", Str, REPEATED),
        f(2, "failed", Str, REPEATED),
    ] },
    // 193: api::discovery::v1::EndpointConditions
    Message { name: "k8s.io.api.discovery.v1.EndpointConditions", special: Special::None, fields: &[
        f(1, "ready", Bool, 0),
        f(2, "serving", Bool, 0),
        f(3, "terminating", Bool, 0),
    ] },
    // 194: api::discovery::v1::EndpointHints
    Message { name: "k8s.io.api.discovery.v1.EndpointHints", special: Special::None, fields: &[
        f(1, "forZones", Msg(278), REPEATED),
        f(2, "forNodes", Msg(279), REPEATED),
    ] },
    // 195: apimachinery::pkg::util::intstr::IntOrString
    Message { name: "k8s.io.apimachinery.pkg.util.intstr.IntOrString", special: Special::IntOrString, fields: &[] },
    // 196: api::authorization::v1::ResourceAttributes
    Message { name: "k8s.io.api.authorization.v1.ResourceAttributes", special: Special::None, fields: &[
        f(1, "namespace", Str, OMIT_EMPTY),
        f(2, "verb", Str, OMIT_EMPTY),
        f(3, "group", Str, OMIT_EMPTY),
        f(4, "version", Str, OMIT_EMPTY),
        f(5, "resource", Str, OMIT_EMPTY),
        f(6, "subresource", Str, OMIT_EMPTY),
        f(7, "name", Str, OMIT_EMPTY),
        f(8, "fieldSelector", Msg(280), 0),
        f(9, "labelSelector", Msg(281), 0),
    ] },
    // 197: api::authorization::v1::NonResourceAttributes
    Message { name: "k8s.io.api.authorization.v1.NonResourceAttributes", special: Special::None, fields: &[
        f(1, "path", Str, OMIT_EMPTY),
        f(2, "verb", Str, OMIT_EMPTY),
    ] },
    // 198: api::authorization::v1::ExtraValue
    Message { name: "k8s.io.api.authorization.v1.ExtraValue", special: Special::StringList, fields: &[] },
    // 199: api::authorization::v1::ResourceRule
    Message { name: "k8s.io.api.authorization.v1.ResourceRule", special: Special::None, fields: &[
        f(1, "verbs", Str, REPEATED),
        f(2, "apiGroups", Str, REPEATED),
        f(3, "resources", Str, REPEATED),
        f(4, "resourceNames", Str, REPEATED),
    ] },
    // 200: api::authorization::v1::NonResourceRule
    Message { name: "k8s.io.api.authorization.v1.NonResourceRule", special: Special::None, fields: &[
        f(1, "verbs", Str, REPEATED),
        f(2, "nonResourceURLs", Str, REPEATED),
    ] },
    // 201: api::authentication::v1::UserInfo
    Message { name: "k8s.io.api.authentication.v1.UserInfo", special: Special::None, fields: &[
        f(1, "username", Str, OMIT_EMPTY),
        f(2, "uid", Str, OMIT_EMPTY),
        f(3, "groups", Str, REPEATED),
        f(4, "extra", MapMsg(282), 0),
    ] },
    // 202: api::authentication::v1::BoundObjectReference
    Message { name: "k8s.io.api.authentication.v1.BoundObjectReference", special: Special::None, fields: &[
        f(1, "kind", Str, OMIT_EMPTY),
        f(2, "apiVersion", Str, OMIT_EMPTY),
        f(3, "name", Str, OMIT_EMPTY),
        f(4, "uid", Str, OMIT_EMPTY),
    ] },
    // 203: api::autoscaling::v1::CrossVersionObjectReference
    Message { name: "k8s.io.api.autoscaling.v1.CrossVersionObjectReference", special: Special::None, fields: &[
        f(1, "kind", Str, 0),
        f(2, "name", Str, 0),
        f(3, "apiVersion", Str, OMIT_EMPTY),
    ] },
    // 204: api::autoscaling::v2::CrossVersionObjectReference
    Message { name: "k8s.io.api.autoscaling.v2.CrossVersionObjectReference", special: Special::None, fields: &[
        f(1, "kind", Str, 0),
        f(2, "name", Str, 0),
        f(3, "apiVersion", Str, OMIT_EMPTY),
    ] },
    // 205: api::autoscaling::v2::MetricSpec
    Message { name: "k8s.io.api.autoscaling.v2.MetricSpec", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "object", Msg(283), 0),
        f(3, "pods", Msg(284), 0),
        f(4, "resource", Msg(285), 0),
        f(5, "external", Msg(287), 0),
        f(7, "containerResource", Msg(286), 0),
    ] },
    // 206: api::autoscaling::v2::HorizontalPodAutoscalerBehavior
    Message { name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerBehavior", special: Special::None, fields: &[
        f(1, "scaleUp", Msg(288), 0),
        f(2, "scaleDown", Msg(288), 0),
    ] },
    // 207: api::autoscaling::v2::MetricStatus
    Message { name: "k8s.io.api.autoscaling.v2.MetricStatus", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "object", Msg(289), 0),
        f(3, "pods", Msg(290), 0),
        f(4, "resource", Msg(291), 0),
        f(5, "external", Msg(293), 0),
        f(7, "containerResource", Msg(292), 0),
    ] },
    // 208: api::autoscaling::v2::HorizontalPodAutoscalerCondition
    Message { name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerCondition", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
        f(3, "lastTransitionTime", Msg(59), 0),
        f(4, "reason", Str, OMIT_EMPTY),
        f(5, "message", Str, OMIT_EMPTY),
    ] },
    // 209: api::storage::v1::TokenRequest
    Message { name: "k8s.io.api.storage.v1.TokenRequest", special: Special::None, fields: &[
        f(1, "audience", Str, 0),
        f(2, "expirationSeconds", I64, 0),
    ] },
    // 210: api::storage::v1::CSINodeDriver
    Message { name: "k8s.io.api.storage.v1.CSINodeDriver", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "nodeID", Str, 0),
        f(3, "topologyKeys", Str, REPEATED),
        f(4, "allocatable", Msg(294), 0),
    ] },
    // 211: apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", special: Special::None, fields: &[
        f(1, "key", Str, 0),
        f(2, "operator", Str, 0),
        f(3, "values", Str, REPEATED),
    ] },
    // 212: api::core::v1::TopologySelectorLabelRequirement
    Message { name: "k8s.io.api.core.v1.TopologySelectorLabelRequirement", special: Special::None, fields: &[
        f(1, "key", Str, 0),
        f(2, "values", Str, REPEATED),
    ] },
    // 213: api::storage::v1::VolumeAttachmentSource
    Message { name: "k8s.io.api.storage.v1.VolumeAttachmentSource", special: Special::None, fields: &[
        f(1, "persistentVolumeName", Str, OMIT_EMPTY),
        f(2, "inlineVolumeSpec", Msg(67), 0),
    ] },
    // 214: api::storage::v1::VolumeError
    Message { name: "k8s.io.api.storage.v1.VolumeError", special: Special::None, fields: &[
        f(1, "time", Msg(59), 0),
        f(2, "message", Str, OMIT_EMPTY),
        f(3, "errorCode", I32, 0),
    ] },
    // 215: apimachinery::pkg::apis::meta::v1::FieldsV1
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1", special: Special::FieldsV1, fields: &[] },
    // 216: api::core::v1::ConfigMapNodeConfigSource
    Message { name: "k8s.io.api.core.v1.ConfigMapNodeConfigSource", special: Special::None, fields: &[
        f(1, "namespace", Str, 0),
        f(2, "name", Str, 0),
        f(3, "uid", Str, OMIT_EMPTY),
        f(4, "resourceVersion", Str, OMIT_EMPTY),
        f(5, "kubeletConfigKey", Str, 0),
    ] },
    // 217: api::core::v1::DaemonEndpoint
    Message { name: "k8s.io.api.core.v1.DaemonEndpoint", special: Special::None, fields: &[
        f(1, "Port", I32, 0),
    ] },
    // 218: api::core::v1::NodeSwapStatus
    Message { name: "k8s.io.api.core.v1.NodeSwapStatus", special: Special::None, fields: &[
        f(1, "capacity", I64, 0),
    ] },
    // 219: api::core::v1::NodeRuntimeHandlerFeatures
    Message { name: "k8s.io.api.core.v1.NodeRuntimeHandlerFeatures", special: Special::None, fields: &[
        f(1, "recursiveReadOnlyMounts", Bool, 0),
        f(2, "userNamespaces", Bool, 0),
    ] },
    // 220: api::core::v1::GcePersistentDiskVolumeSource
    Message { name: "k8s.io.api.core.v1.GcePersistentDiskVolumeSource", special: Special::None, fields: &[
        f(1, "pdName", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
        f(3, "partition", I32, 0),
        f(4, "readOnly", Bool, 0),
    ] },
    // 221: api::core::v1::AwsElasticBlockStoreVolumeSource
    Message { name: "k8s.io.api.core.v1.AwsElasticBlockStoreVolumeSource", special: Special::None, fields: &[
        f(1, "volumeID", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
        f(3, "partition", I32, 0),
        f(4, "readOnly", Bool, 0),
    ] },
    // 222: api::core::v1::HostPathVolumeSource
    Message { name: "k8s.io.api.core.v1.HostPathVolumeSource", special: Special::None, fields: &[
        f(1, "path", Str, 0),
        f(2, "type", Str, OMIT_EMPTY),
    ] },
    // 223: api::core::v1::GlusterfsPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.GlusterfsPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "endpoints", Str, 0),
        f(2, "path", Str, 0),
        f(3, "readOnly", Bool, OMIT_EMPTY),
        f(4, "endpointsNamespace", Str, OMIT_EMPTY),
    ] },
    // 224: api::core::v1::NfsVolumeSource
    Message { name: "k8s.io.api.core.v1.NfsVolumeSource", special: Special::None, fields: &[
        f(1, "server", Str, 0),
        f(2, "path", Str, 0),
        f(3, "readOnly", Bool, 0),
    ] },
    // 225: api::core::v1::RbdPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.RbdPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "monitors", Str, REPEATED),
        f(2, "image", Str, 0),
        f(3, "fsType", Str, OMIT_EMPTY),
        f(4, "pool", Str, OMIT_EMPTY),
        f(5, "user", Str, OMIT_EMPTY),
        f(6, "keyring", Str, OMIT_EMPTY),
        f(7, "secretRef", Msg(295), 0),
        f(8, "readOnly", Bool, 0),
    ] },
    // 226: api::core::v1::IscsiPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.IscsiPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "targetPortal", Str, 0),
        f(2, "iqn", Str, 0),
        f(3, "lun", I32, 0),
        f(4, "iscsiInterface", Str, OMIT_EMPTY),
        f(5, "fsType", Str, OMIT_EMPTY),
        f(6, "readOnly", Bool, 0),
        f(7, "portals", Str, REPEATED),
        f(8, "chapAuthDiscovery", Bool, 0),
        f(10, "secretRef", Msg(295), 0),
        f(11, "chapAuthSession", Bool, 0),
        f(12, "initiatorName", Str, OMIT_EMPTY),
    ] },
    // 227: api::core::v1::CinderPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.CinderPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "volumeID", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
        f(3, "readOnly", Bool, OMIT_EMPTY),
        f(4, "secretRef", Msg(295), 0),
    ] },
    // 228: api::core::v1::CephFsPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.CephFsPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "monitors", Str, REPEATED),
        f(2, "path", Str, OMIT_EMPTY),
        f(3, "user", Str, OMIT_EMPTY),
        f(4, "secretFile", Str, OMIT_EMPTY),
        f(5, "secretRef", Msg(295), 0),
        f(6, "readOnly", Bool, 0),
    ] },
    // 229: api::core::v1::FcVolumeSource
    Message { name: "k8s.io.api.core.v1.FcVolumeSource", special: Special::None, fields: &[
        f(1, "targetWWNs", Str, REPEATED),
        f(2, "lun", I32, 0),
        f(3, "fsType", Str, OMIT_EMPTY),
        f(4, "readOnly", Bool, 0),
        f(5, "wwids", Str, REPEATED),
    ] },
    // 230: api::core::v1::FlockerVolumeSource
    Message { name: "k8s.io.api.core.v1.FlockerVolumeSource", special: Special::None, fields: &[
        f(1, "datasetName", Str, OMIT_EMPTY),
        f(2, "datasetUUID", Str, OMIT_EMPTY),
    ] },
    // 231: api::core::v1::FlexPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.FlexPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "driver", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
        f(3, "secretRef", Msg(295), 0),
        f(4, "readOnly", Bool, OMIT_EMPTY),
        f(5, "options", MapStr, 0),
    ] },
    // 232: api::core::v1::AzureFilePersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.AzureFilePersistentVolumeSource", special: Special::None, fields: &[
        f(1, "secretName", Str, 0),
        f(2, "shareName", Str, 0),
        f(3, "readOnly", Bool, OMIT_EMPTY),
        f(4, "secretNamespace", Str, OMIT_EMPTY),
    ] },
    // 233: api::core::v1::VsphereVirtualDiskVolumeSource
    Message { name: "k8s.io.api.core.v1.VsphereVirtualDiskVolumeSource", special: Special::None, fields: &[
        f(1, "volumePath", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
        f(3, "storagePolicyName", Str, OMIT_EMPTY),
        f(4, "storagePolicyID", Str, OMIT_EMPTY),
    ] },
    // 234: api::core::v1::QuobyteVolumeSource
    Message { name: "k8s.io.api.core.v1.QuobyteVolumeSource", special: Special::None, fields: &[
        f(1, "registry", Str, 0),
        f(2, "volume", Str, 0),
        f(3, "readOnly", Bool, OMIT_EMPTY),
        f(4, "user", Str, OMIT_EMPTY),
        f(5, "group", Str, OMIT_EMPTY),
        f(6, "tenant", Str, OMIT_EMPTY),
    ] },
    // 235: api::core::v1::AzureDiskVolumeSource
    Message { name: "k8s.io.api.core.v1.AzureDiskVolumeSource", special: Special::None, fields: &[
        f(1, "diskName", Str, 0),
        f(2, "diskURI", Str, 0),
        f(3, "cachingMode", Str, OMIT_EMPTY),
        f(4, "fsType", Str, OMIT_EMPTY),
        f(5, "readOnly", Bool, 0),
        f(6, "kind", Str, OMIT_EMPTY),
    ] },
    // 236: api::core::v1::PhotonPersistentDiskVolumeSource
    Message { name: "k8s.io.api.core.v1.PhotonPersistentDiskVolumeSource", special: Special::None, fields: &[
        f(1, "pdID", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
    ] },
    // 237: api::core::v1::PortworxVolumeSource
    Message { name: "k8s.io.api.core.v1.PortworxVolumeSource", special: Special::None, fields: &[
        f(1, "volumeID", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
        f(3, "readOnly", Bool, OMIT_EMPTY),
    ] },
    // 238: api::core::v1::ScaleIoPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.ScaleIoPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "gateway", Str, 0),
        f(2, "system", Str, 0),
        f(3, "secretRef", Msg(295), 0),
        f(4, "sslEnabled", Bool, 0),
        f(5, "protectionDomain", Str, OMIT_EMPTY),
        f(6, "storagePool", Str, OMIT_EMPTY),
        f(7, "storageMode", Str, OMIT_EMPTY),
        f(8, "volumeName", Str, OMIT_EMPTY),
        f(9, "fsType", Str, OMIT_EMPTY),
        f(10, "readOnly", Bool, 0),
    ] },
    // 239: api::core::v1::LocalVolumeSource
    Message { name: "k8s.io.api.core.v1.LocalVolumeSource", special: Special::None, fields: &[
        f(1, "path", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
    ] },
    // 240: api::core::v1::StorageOsPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.StorageOsPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "volumeName", Str, OMIT_EMPTY),
        f(2, "volumeNamespace", Str, OMIT_EMPTY),
        f(3, "fsType", Str, OMIT_EMPTY),
        f(4, "readOnly", Bool, 0),
        f(5, "secretRef", Msg(55), 0),
    ] },
    // 241: api::core::v1::CSIPersistentVolumeSource
    Message { name: "k8s.io.api.core.v1.CSIPersistentVolumeSource", special: Special::None, fields: &[
        f(1, "driver", Str, 0),
        f(2, "volumeHandle", Str, 0),
        f(3, "readOnly", Bool, OMIT_EMPTY),
        f(4, "fsType", Str, OMIT_EMPTY),
        f(5, "volumeAttributes", MapStr, 0),
        f(6, "controllerPublishSecretRef", Msg(295), 0),
        f(7, "nodeStageSecretRef", Msg(295), 0),
        f(8, "nodePublishSecretRef", Msg(295), 0),
        f(9, "controllerExpandSecretRef", Msg(295), 0),
        f(10, "nodeExpandSecretRef", Msg(295), 0),
    ] },
    // 242: api::core::v1::NodeSelector
    Message { name: "k8s.io.api.core.v1.NodeSelector", special: Special::None, fields: &[
        f(1, "nodeSelectorTerms", Msg(296), REPEATED),
    ] },
    // 243: api::core::v1::VolumeSource
    Message { name: "k8s.io.api.core.v1.VolumeSource", special: Special::None, fields: &[
        f(1, "hostPath", Msg(222), 0),
        f(2, "emptyDir", Msg(297), 0),
        f(3, "gcePersistentDisk", Msg(220), 0),
        f(4, "awsElasticBlockStore", Msg(221), 0),
        f(5, "gitRepo", Msg(298), 0),
        f(6, "secret", Msg(299), 0),
        f(7, "nfs", Msg(224), 0),
        f(8, "iscsi", Msg(300), 0),
        f(9, "glusterfs", Msg(301), 0),
        f(10, "persistentVolumeClaim", Msg(302), 0),
        f(11, "rbd", Msg(303), 0),
        f(12, "flexVolume", Msg(304), 0),
        f(13, "cinder", Msg(305), 0),
        f(14, "cephfs", Msg(306), 0),
        f(15, "flocker", Msg(230), 0),
        f(16, "downwardAPI", Msg(307), 0),
        f(17, "fc", Msg(229), 0),
        f(18, "azureFile", Msg(308), 0),
        f(19, "configMap", Msg(309), 0),
        f(20, "vsphereVolume", Msg(233), 0),
        f(21, "quobyte", Msg(234), 0),
        f(22, "azureDisk", Msg(235), 0),
        f(23, "photonPersistentDisk", Msg(236), 0),
        f(24, "portworxVolume", Msg(237), 0),
        f(25, "scaleIO", Msg(311), 0),
        f(26, "projected", Msg(310), 0),
        f(27, "storageos", Msg(312), 0),
        f(28, "csi", Msg(313), 0),
        f(29, "ephemeral", Msg(314), 0),
        f(30, "image", Msg(315), 0),
    ] },
    // 244: api::core::v1::ContainerPort
    Message { name: "k8s.io.api.core.v1.ContainerPort", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "hostPort", I32, OMIT_EMPTY),
        f(3, "containerPort", I32, 0),
        f(4, "protocol", Str, OMIT_EMPTY),
        f(5, "hostIP", Str, OMIT_EMPTY),
    ] },
    // 245: api::core::v1::EnvFromSource
    Message { name: "k8s.io.api.core.v1.EnvFromSource", special: Special::None, fields: &[
        f(1, "prefix", Str, OMIT_EMPTY),
        f(2, "configMapRef", Msg(316), 0),
        f(3, "secretRef", Msg(317), 0),
    ] },
    // 246: api::core::v1::EnvVar
    Message { name: "k8s.io.api.core.v1.EnvVar", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "value", Str, OMIT_EMPTY),
        f(3, "valueFrom", Msg(318), 0),
    ] },
    // 247: api::core::v1::ContainerResizePolicy
    Message { name: "k8s.io.api.core.v1.ContainerResizePolicy", special: Special::None, fields: &[
        f(1, "resourceName", Str, 0),
        f(2, "restartPolicy", Str, 0),
    ] },
    // 248: api::core::v1::ContainerRestartRule
    Message { name: "k8s.io.api.core.v1.ContainerRestartRule", special: Special::None, fields: &[
        f(1, "action", Str, 0),
        f(2, "exitCodes", Msg(319), 0),
    ] },
    // 249: api::core::v1::VolumeMount
    Message { name: "k8s.io.api.core.v1.VolumeMount", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "readOnly", Bool, OMIT_EMPTY),
        f(3, "mountPath", Str, 0),
        f(4, "subPath", Str, OMIT_EMPTY),
        f(5, "mountPropagation", Str, OMIT_EMPTY),
        f(6, "subPathExpr", Str, OMIT_EMPTY),
        f(7, "recursiveReadOnly", Str, OMIT_EMPTY),
    ] },
    // 250: api::core::v1::VolumeDevice
    Message { name: "k8s.io.api.core.v1.VolumeDevice", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "devicePath", Str, 0),
    ] },
    // 251: api::core::v1::Probe
    Message { name: "k8s.io.api.core.v1.Probe", special: Special::None, fields: &[
        f(1, "", Msg(320), INLINE),
        f(2, "initialDelaySeconds", I32, OMIT_EMPTY),
        f(3, "timeoutSeconds", I32, OMIT_EMPTY),
        f(4, "periodSeconds", I32, OMIT_EMPTY),
        f(5, "successThreshold", I32, OMIT_EMPTY),
        f(6, "failureThreshold", I32, OMIT_EMPTY),
        f(7, "terminationGracePeriodSeconds", I64, 0),
    ] },
    // 252: api::core::v1::Lifecycle
    Message { name: "k8s.io.api.core.v1.Lifecycle", special: Special::None, fields: &[
        f(1, "postStart", Msg(321), 0),
        f(2, "preStop", Msg(321), 0),
        f(3, "stopSignal", Str, OMIT_EMPTY),
    ] },
    // 253: api::core::v1::SecurityContext
    Message { name: "k8s.io.api.core.v1.SecurityContext", special: Special::None, fields: &[
        f(1, "capabilities", Msg(322), 0),
        f(2, "privileged", Bool, 0),
        f(3, "seLinuxOptions", Msg(255), 0),
        f(4, "runAsUser", I64, 0),
        f(5, "runAsNonRoot", Bool, 0),
        f(6, "readOnlyRootFilesystem", Bool, 0),
        f(7, "allowPrivilegeEscalation", Bool, 0),
        f(8, "runAsGroup", I64, 0),
        f(9, "procMount", Str, OMIT_EMPTY),
        f(10, "windowsOptions", Msg(256), 0),
        f(11, "seccompProfile", Msg(258), 0),
        f(12, "appArmorProfile", Msg(259), 0),
    ] },
    // 254: api::core::v1::EphemeralContainerCommon
    Message { name: "k8s.io.api.core.v1.EphemeralContainerCommon", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "image", Str, OMIT_EMPTY),
        f(3, "command", Str, REPEATED),
        f(4, "args", Str, REPEATED),
        f(5, "workingDir", Str, OMIT_EMPTY),
        f(6, "ports", Msg(244), REPEATED),
        f(7, "env", Msg(246), REPEATED),
        f(8, "resources", Msg(165), 0),
        f(9, "volumeMounts", Msg(249), REPEATED),
        f(10, "livenessProbe", Msg(251), 0),
        f(11, "readinessProbe", Msg(251), 0),
        f(12, "lifecycle", Msg(252), 0),
        f(13, "terminationMessagePath", Str, OMIT_EMPTY),
        f(14, "imagePullPolicy", Str, OMIT_EMPTY),
        f(15, "securityContext", Msg(253), 0),
        f(16, "stdin", Bool, OMIT_EMPTY),
        f(17, "stdinOnce", Bool, OMIT_EMPTY),
        f(18, "tty", Bool, OMIT_EMPTY),
        f(19, "envFrom", Msg(245), REPEATED),
        f(20, "terminationMessagePolicy", Str, OMIT_EMPTY),
        f(21, "volumeDevices", Msg(250), REPEATED),
        f(22, "startupProbe", Msg(251), 0),
        f(23, "resizePolicy", Msg(247), REPEATED),
        f(24, "restartPolicy", Str, OMIT_EMPTY),
        f(25, "restartPolicyRules", Msg(248), REPEATED),
    ] },
    // 255: api::core::v1::SeLinuxOptions
    Message { name: "k8s.io.api.core.v1.SeLinuxOptions", special: Special::None, fields: &[
        f(1, "user", Str, OMIT_EMPTY),
        f(2, "role", Str, OMIT_EMPTY),
        f(3, "type", Str, OMIT_EMPTY),
        f(4, "level", Str, OMIT_EMPTY),
    ] },
    // 256: api::core::v1::WindowsSecurityContextOptions
    Message { name: "k8s.io.api.core.v1.WindowsSecurityContextOptions", special: Special::None, fields: &[
        f(1, "gmsaCredentialSpecName", Str, OMIT_EMPTY),
        f(2, "gmsaCredentialSpec", Str, OMIT_EMPTY),
        f(3, "runAsUserName", Str, OMIT_EMPTY),
        f(4, "hostProcess", Bool, 0),
    ] },
    // 257: api::core::v1::Sysctl
    Message { name: "k8s.io.api.core.v1.Sysctl", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "value", Str, 0),
    ] },
    // 258: api::core::v1::SeccompProfile
    Message { name: "k8s.io.api.core.v1.SeccompProfile", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "localhostProfile", Str, OMIT_EMPTY),
    ] },
    // 259: api::core::v1::AppArmorProfile
    Message { name: "k8s.io.api.core.v1.AppArmorProfile", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "localhostProfile", Str, OMIT_EMPTY),
    ] },
    // 260: api::core::v1::NodeAffinity
    Message { name: "k8s.io.api.core.v1.NodeAffinity", special: Special::None, fields: &[
        f(1, "requiredDuringSchedulingIgnoredDuringExecution", Msg(242), 0),
        f(2, "preferredDuringSchedulingIgnoredDuringExecution", Msg(323), REPEATED),
    ] },
    // 261: api::core::v1::PodAffinity
    Message { name: "k8s.io.api.core.v1.PodAffinity", special: Special::None, fields: &[
        f(1, "requiredDuringSchedulingIgnoredDuringExecution", Msg(324), REPEATED),
        f(2, "preferredDuringSchedulingIgnoredDuringExecution", Msg(325), REPEATED),
    ] },
    // 262: api::core::v1::PodAntiAffinity
    Message { name: "k8s.io.api.core.v1.PodAntiAffinity", special: Special::None, fields: &[
        f(1, "requiredDuringSchedulingIgnoredDuringExecution", Msg(324), REPEATED),
        f(2, "preferredDuringSchedulingIgnoredDuringExecution", Msg(325), REPEATED),
    ] },
    // 263: api::core::v1::PodDnsConfigOption
    Message { name: "k8s.io.api.core.v1.PodDnsConfigOption", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "value", Str, OMIT_EMPTY),
    ] },
    // 264: api::core::v1::ResourceClaim
    Message { name: "k8s.io.api.core.v1.ResourceClaim", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "request", Str, OMIT_EMPTY),
    ] },
    // 265: api::core::v1::ContainerState
    Message { name: "k8s.io.api.core.v1.ContainerState", special: Special::None, fields: &[
        f(1, "waiting", Msg(326), 0),
        f(2, "running", Msg(327), 0),
        f(3, "terminated", Msg(328), 0),
    ] },
    // 266: api::core::v1::VolumeMountStatus
    Message { name: "k8s.io.api.core.v1.VolumeMountStatus", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "mountPath", Str, 0),
        f(3, "readOnly", Bool, OMIT_EMPTY),
        f(4, "recursiveReadOnly", Str, OMIT_EMPTY),
    ] },
    // 267: api::core::v1::ContainerUser
    Message { name: "k8s.io.api.core.v1.ContainerUser", special: Special::None, fields: &[
        f(1, "linux", Msg(329), 0),
    ] },
    // 268: api::core::v1::ResourceStatus
    Message { name: "k8s.io.api.core.v1.ResourceStatus", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "resources", Msg(330), REPEATED),
    ] },
    // 269: api::core::v1::ContainerExtendedResourceRequest
    Message { name: "k8s.io.api.core.v1.ContainerExtendedResourceRequest", special: Special::None, fields: &[
        f(1, "containerName", Str, 0),
        f(2, "resourceName", Str, 0),
        f(3, "requestName", Str, 0),
    ] },
    // 270: api::core::v1::ScopedResourceSelectorRequirement
    Message { name: "k8s.io.api.core.v1.ScopedResourceSelectorRequirement", special: Special::None, fields: &[
        f(1, "scopeName", Str, 0),
        f(2, "operator", Str, 0),
        f(3, "values", Str, REPEATED),
    ] },
    // 271: api::core::v1::ClientIpConfig
    Message { name: "k8s.io.api.core.v1.ClientIpConfig", special: Special::None, fields: &[
        f(1, "timeoutSeconds", I32, 0),
    ] },
    // 272: api::core::v1::LoadBalancerIngress
    Message { name: "k8s.io.api.core.v1.LoadBalancerIngress", special: Special::None, fields: &[
        f(1, "ip", Str, OMIT_EMPTY),
        f(2, "hostname", Str, OMIT_EMPTY),
        f(3, "ipMode", Str, OMIT_EMPTY),
        f(4, "ports", Msg(331), REPEATED),
    ] },
    // 273: api::apps::v1::RollingUpdateDaemonSet
    Message { name: "k8s.io.api.apps.v1.RollingUpdateDaemonSet", special: Special::None, fields: &[
        f(1, "maxUnavailable", Msg(195), 0),
        f(2, "maxSurge", Msg(195), 0),
    ] },
    // 274: api::apps::v1::RollingUpdateDeployment
    Message { name: "k8s.io.api.apps.v1.RollingUpdateDeployment", special: Special::None, fields: &[
        f(1, "maxUnavailable", Msg(195), 0),
        f(2, "maxSurge", Msg(195), 0),
    ] },
    // 275: api::apps::v1::RollingUpdateStatefulSetStrategy
    Message { name: "k8s.io.api.apps.v1.RollingUpdateStatefulSetStrategy", special: Special::None, fields: &[
        f(1, "partition", I32, 0),
        f(2, "maxUnavailable", Msg(195), 0),
    ] },
    // 276: api::batch::v1::PodFailurePolicyRule
    Message { name: "k8s.io.api.batch.v1.PodFailurePolicyRule", special: Special::None, fields: &[
        f(1, "action", Str, 0),
        f(2, "onExitCodes", Msg(332), 0),
        f(3, "onPodConditions", Msg(333), REPEATED),
    ] },
    // 277: api::batch::v1::SuccessPolicyRule
    Message { name: "k8s.io.api.batch.v1.SuccessPolicyRule", special: Special::None, fields: &[
        f(1, "succeededIndexes", Str, OMIT_EMPTY),
        f(2, "succeededCount", I32, 0),
    ] },
    // 278: api::discovery::v1::ForZone
    Message { name: "k8s.io.api.discovery.v1.ForZone", special: Special::None, fields: &[
        f(1, "name", Str, 0),
    ] },
    // 279: api::discovery::v1::ForNode
    Message { name: "k8s.io.api.discovery.v1.ForNode", special: Special::None, fields: &[
        f(1, "name", Str, 0),
    ] },
    // 280: api::authorization::v1::FieldSelectorAttributes
    Message { name: "k8s.io.api.authorization.v1.FieldSelectorAttributes", special: Special::None, fields: &[
        f(1, "rawSelector", Str, OMIT_EMPTY),
        f(2, "requirements", Msg(334), REPEATED),
    ] },
    // 281: api::authorization::v1::LabelSelectorAttributes
    Message { name: "k8s.io.api.authorization.v1.LabelSelectorAttributes", special: Special::None, fields: &[
        f(1, "rawSelector", Str, OMIT_EMPTY),
        f(2, "requirements", Msg(211), REPEATED),
    ] },
    // 282: api::authentication::v1::ExtraValue
    Message { name: "k8s.io.api.authentication.v1.ExtraValue", special: Special::StringList, fields: &[] },
    // 283: api::autoscaling::v2::ObjectMetricSource
    Message { name: "k8s.io.api.autoscaling.v2.ObjectMetricSource", special: Special::None, fields: &[
        f(1, "describedObject", Msg(204), 0),
        f(2, "target", Msg(335), 0),
        f(3, "metric", Msg(336), 0),
    ] },
    // 284: api::autoscaling::v2::PodsMetricSource
    Message { name: "k8s.io.api.autoscaling.v2.PodsMetricSource", special: Special::None, fields: &[
        f(1, "metric", Msg(336), 0),
        f(2, "target", Msg(335), 0),
    ] },
    // 285: api::autoscaling::v2::ResourceMetricSource
    Message { name: "k8s.io.api.autoscaling.v2.ResourceMetricSource", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "target", Msg(335), 0),
    ] },
    // 286: api::autoscaling::v2::ContainerResourceMetricSource
    Message { name: "k8s.io.api.autoscaling.v2.ContainerResourceMetricSource", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "target", Msg(335), 0),
        f(3, "container", Str, 0),
    ] },
    // 287: api::autoscaling::v2::ExternalMetricSource
    Message { name: "k8s.io.api.autoscaling.v2.ExternalMetricSource", special: Special::None, fields: &[
        f(1, "metric", Msg(336), 0),
        f(2, "target", Msg(335), 0),
    ] },
    // 288: api::autoscaling::v2::HpaScalingRules
    Message { name: "k8s.io.api.autoscaling.v2.HpaScalingRules", special: Special::None, fields: &[
        f(1, "selectPolicy", Str, OMIT_EMPTY),
        f(2, "policies", Msg(337), REPEATED),
        f(3, "stabilizationWindowSeconds", I32, 0),
        f(4, "tolerance", Msg(123), 0),
    ] },
    // 289: api::autoscaling::v2::ObjectMetricStatus
    Message { name: "k8s.io.api.autoscaling.v2.ObjectMetricStatus", special: Special::None, fields: &[
        f(1, "metric", Msg(336), 0),
        f(2, "current", Msg(338), 0),
        f(3, "describedObject", Msg(204), 0),
    ] },
    // 290: api::autoscaling::v2::PodsMetricStatus
    Message { name: "k8s.io.api.autoscaling.v2.PodsMetricStatus", special: Special::None, fields: &[
        f(1, "metric", Msg(336), 0),
        f(2, "current", Msg(338), 0),
    ] },
    // 291: api::autoscaling::v2::ResourceMetricStatus
    Message { name: "k8s.io.api.autoscaling.v2.ResourceMetricStatus", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "current", Msg(338), 0),
    ] },
    // 292: api::autoscaling::v2::ContainerResourceMetricStatus
    Message { name: "k8s.io.api.autoscaling.v2.ContainerResourceMetricStatus", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "current", Msg(338), 0),
        f(3, "container", Str, 0),
    ] },
    // 293: api::autoscaling::v2::ExternalMetricStatus
    Message { name: "k8s.io.api.autoscaling.v2.ExternalMetricStatus", special: Special::None, fields: &[
        f(1, "metric", Msg(336), 0),
        f(2, "current", Msg(338), 0),
    ] },
    // 294: api::storage::v1::VolumeNodeResources
    Message { name: "k8s.io.api.storage.v1.VolumeNodeResources", special: Special::None, fields: &[
        f(1, "count", I32, 0),
    ] },
    // 295: api::core::v1::SecretReference
    Message { name: "k8s.io.api.core.v1.SecretReference", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "namespace", Str, OMIT_EMPTY),
    ] },
    // 296: api::core::v1::NodeSelectorTerm
    Message { name: "k8s.io.api.core.v1.NodeSelectorTerm", special: Special::None, fields: &[
        f(1, "matchExpressions", Msg(339), REPEATED),
        f(2, "matchFields", Msg(339), REPEATED),
    ] },
    // 297: api::core::v1::EmptyDirVolumeSource
    Message { name: "k8s.io.api.core.v1.EmptyDirVolumeSource", special: Special::None, fields: &[
        f(1, "medium", Str, OMIT_EMPTY),
        f(2, "sizeLimit", Msg(123), 0),
    ] },
    // 298: api::core::v1::GitRepoVolumeSource
    Message { name: "k8s.io.api.core.v1.GitRepoVolumeSource", special: Special::None, fields: &[
        f(1, "repository", Str, 0),
        f(2, "revision", Str, OMIT_EMPTY),
        f(3, "directory", Str, OMIT_EMPTY),
    ] },
    // 299: api::core::v1::SecretVolumeSource
    Message { name: "k8s.io.api.core.v1.SecretVolumeSource", special: Special::None, fields: &[
        f(1, "secretName", Str, OMIT_EMPTY),
        f(2, "items", Msg(340), REPEATED),
        f(3, "defaultMode", I32, 0),
        f(4, "optional", Bool, 0),
    ] },
    // 300: api::core::v1::IscsiVolumeSource
    Message { name: "k8s.io.api.core.v1.IscsiVolumeSource", special: Special::None, fields: &[
        f(1, "targetPortal", Str, 0),
        f(2, "iqn", Str, 0),
        f(3, "lun", I32, 0),
        f(4, "iscsiInterface", Str, OMIT_EMPTY),
        f(5, "fsType", Str, OMIT_EMPTY),
        f(6, "readOnly", Bool, 0),
        f(7, "portals", Str, REPEATED),
        f(8, "chapAuthDiscovery", Bool, 0),
        f(10, "secretRef", Msg(80), 0),
        f(11, "chapAuthSession", Bool, 0),
        f(12, "initiatorName", Str, OMIT_EMPTY),
    ] },
    // 301: api::core::v1::GlusterfsVolumeSource
    Message { name: "k8s.io.api.core.v1.GlusterfsVolumeSource", special: Special::None, fields: &[
        f(1, "endpoints", Str, 0),
        f(2, "path", Str, 0),
        f(3, "readOnly", Bool, OMIT_EMPTY),
    ] },
    // 302: api::core::v1::PersistentVolumeClaimVolumeSource
    Message { name: "k8s.io.api.core.v1.PersistentVolumeClaimVolumeSource", special: Special::None, fields: &[
        f(1, "claimName", Str, 0),
        f(2, "readOnly", Bool, OMIT_EMPTY),
    ] },
    // 303: api::core::v1::RbdVolumeSource
    Message { name: "k8s.io.api.core.v1.RbdVolumeSource", special: Special::None, fields: &[
        f(1, "monitors", Str, REPEATED),
        f(2, "image", Str, 0),
        f(3, "fsType", Str, OMIT_EMPTY),
        f(4, "pool", Str, OMIT_EMPTY),
        f(5, "user", Str, OMIT_EMPTY),
        f(6, "keyring", Str, OMIT_EMPTY),
        f(7, "secretRef", Msg(80), 0),
        f(8, "readOnly", Bool, 0),
    ] },
    // 304: api::core::v1::FlexVolumeSource
    Message { name: "k8s.io.api.core.v1.FlexVolumeSource", special: Special::None, fields: &[
        f(1, "driver", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
        f(3, "secretRef", Msg(80), 0),
        f(4, "readOnly", Bool, OMIT_EMPTY),
        f(5, "options", MapStr, 0),
    ] },
    // 305: api::core::v1::CinderVolumeSource
    Message { name: "k8s.io.api.core.v1.CinderVolumeSource", special: Special::None, fields: &[
        f(1, "volumeID", Str, 0),
        f(2, "fsType", Str, OMIT_EMPTY),
        f(3, "readOnly", Bool, OMIT_EMPTY),
        f(4, "secretRef", Msg(80), 0),
    ] },
    // 306: api::core::v1::CephFsVolumeSource
    Message { name: "k8s.io.api.core.v1.CephFsVolumeSource", special: Special::None, fields: &[
        f(1, "monitors", Str, REPEATED),
        f(2, "path", Str, OMIT_EMPTY),
        f(3, "user", Str, OMIT_EMPTY),
        f(4, "secretFile", Str, OMIT_EMPTY),
        f(5, "secretRef", Msg(80), 0),
        f(6, "readOnly", Bool, 0),
    ] },
    // 307: api::core::v1::DownwardAPIVolumeSource
    Message { name: "k8s.io.api.core.v1.DownwardAPIVolumeSource", special: Special::None, fields: &[
        f(1, "items", Msg(341), REPEATED),
        f(2, "defaultMode", I32, 0),
    ] },
    // 308: api::core::v1::AzureFileVolumeSource
    Message { name: "k8s.io.api.core.v1.AzureFileVolumeSource", special: Special::None, fields: &[
        f(1, "secretName", Str, 0),
        f(2, "shareName", Str, 0),
        f(3, "readOnly", Bool, OMIT_EMPTY),
    ] },
    // 309: api::core::v1::ConfigMapVolumeSource
    Message { name: "k8s.io.api.core.v1.ConfigMapVolumeSource", special: Special::None, fields: &[
        f(1, "", Msg(80), INLINE),
        f(2, "items", Msg(340), REPEATED),
        f(3, "defaultMode", I32, 0),
        f(4, "optional", Bool, 0),
    ] },
    // 310: api::core::v1::ProjectedVolumeSource
    Message { name: "k8s.io.api.core.v1.ProjectedVolumeSource", special: Special::None, fields: &[
        f(1, "sources", Msg(342), REPEATED),
        f(2, "defaultMode", I32, 0),
    ] },
    // 311: api::core::v1::ScaleIoVolumeSource
    Message { name: "k8s.io.api.core.v1.ScaleIoVolumeSource", special: Special::None, fields: &[
        f(1, "gateway", Str, 0),
        f(2, "system", Str, 0),
        f(3, "secretRef", Msg(80), 0),
        f(4, "sslEnabled", Bool, 0),
        f(5, "protectionDomain", Str, OMIT_EMPTY),
        f(6, "storagePool", Str, OMIT_EMPTY),
        f(7, "storageMode", Str, OMIT_EMPTY),
        f(8, "volumeName", Str, OMIT_EMPTY),
        f(9, "fsType", Str, OMIT_EMPTY),
        f(10, "readOnly", Bool, 0),
    ] },
    // 312: api::core::v1::StorageOsVolumeSource
    Message { name: "k8s.io.api.core.v1.StorageOsVolumeSource", special: Special::None, fields: &[
        f(1, "volumeName", Str, OMIT_EMPTY),
        f(2, "volumeNamespace", Str, OMIT_EMPTY),
        f(3, "fsType", Str, OMIT_EMPTY),
        f(4, "readOnly", Bool, 0),
        f(5, "secretRef", Msg(80), 0),
    ] },
    // 313: api::core::v1::CSIVolumeSource
    Message { name: "k8s.io.api.core.v1.CSIVolumeSource", special: Special::None, fields: &[
        f(1, "driver", Str, 0),
        f(2, "readOnly", Bool, 0),
        f(3, "fsType", Str, OMIT_EMPTY),
        f(4, "volumeAttributes", MapStr, 0),
        f(5, "nodePublishSecretRef", Msg(80), 0),
    ] },
    // 314: api::core::v1::EphemeralVolumeSource
    Message { name: "k8s.io.api.core.v1.EphemeralVolumeSource", special: Special::None, fields: &[
        f(1, "volumeClaimTemplate", Msg(343), 0),
    ] },
    // 315: api::core::v1::ImageVolumeSource
    Message { name: "k8s.io.api.core.v1.ImageVolumeSource", special: Special::None, fields: &[
        f(1, "reference", Str, OMIT_EMPTY),
        f(2, "pullPolicy", Str, OMIT_EMPTY),
    ] },
    // 316: api::core::v1::ConfigMapEnvSource
    Message { name: "k8s.io.api.core.v1.ConfigMapEnvSource", special: Special::None, fields: &[
        f(1, "", Msg(80), INLINE),
        f(2, "optional", Bool, 0),
    ] },
    // 317: api::core::v1::SecretEnvSource
    Message { name: "k8s.io.api.core.v1.SecretEnvSource", special: Special::None, fields: &[
        f(1, "", Msg(80), INLINE),
        f(2, "optional", Bool, 0),
    ] },
    // 318: api::core::v1::EnvVarSource
    Message { name: "k8s.io.api.core.v1.EnvVarSource", special: Special::None, fields: &[
        f(1, "fieldRef", Msg(344), 0),
        f(2, "resourceFieldRef", Msg(345), 0),
        f(3, "configMapKeyRef", Msg(346), 0),
        f(4, "secretKeyRef", Msg(347), 0),
        f(5, "fileKeyRef", Msg(348), 0),
    ] },
    // 319: api::core::v1::ContainerRestartRuleOnExitCodes
    Message { name: "k8s.io.api.core.v1.ContainerRestartRuleOnExitCodes", special: Special::None, fields: &[
        f(1, "operator", Str, 0),
        f(2, "values", I32, REPEATED),
    ] },
    // 320: api::core::v1::ProbeHandler
    Message { name: "k8s.io.api.core.v1.ProbeHandler", special: Special::None, fields: &[
        f(1, "exec", Msg(349), 0),
        f(2, "httpGet", Msg(350), 0),
        f(3, "tcpSocket", Msg(351), 0),
        f(4, "grpc", Msg(352), 0),
    ] },
    // 321: api::core::v1::LifecycleHandler
    Message { name: "k8s.io.api.core.v1.LifecycleHandler", special: Special::None, fields: &[
        f(1, "exec", Msg(349), 0),
        f(2, "httpGet", Msg(350), 0),
        f(3, "tcpSocket", Msg(351), 0),
        f(4, "sleep", Msg(353), 0),
    ] },
    // 322: api::core::v1::Capabilities
    Message { name: "k8s.io.api.core.v1.Capabilities", special: Special::None, fields: &[
        f(1, "add", Str, REPEATED),
        f(2, "drop", Str, REPEATED),
    ] },
    // 323: api::core::v1::PreferredSchedulingTerm
    Message { name: "k8s.io.api.core.v1.PreferredSchedulingTerm", special: Special::None, fields: &[
        f(1, "weight", I32, 0),
        f(2, "preference", Msg(296), 0),
    ] },
    // 324: api::core::v1::PodAffinityTerm
    Message { name: "k8s.io.api.core.v1.PodAffinityTerm", special: Special::None, fields: &[
        f(1, "labelSelector", Msg(122), 0),
        f(2, "namespaces", Str, REPEATED),
        f(3, "topologyKey", Str, 0),
        f(4, "namespaceSelector", Msg(122), 0),
        f(5, "matchLabelKeys", Str, REPEATED),
        f(6, "mismatchLabelKeys", Str, REPEATED),
    ] },
    // 325: api::core::v1::WeightedPodAffinityTerm
    Message { name: "k8s.io.api.core.v1.WeightedPodAffinityTerm", special: Special::None, fields: &[
        f(1, "weight", I32, 0),
        f(2, "podAffinityTerm", Msg(324), 0),
    ] },
    // 326: api::core::v1::ContainerStateWaiting
    Message { name: "k8s.io.api.core.v1.ContainerStateWaiting", special: Special::None, fields: &[
        f(1, "reason", Str, OMIT_EMPTY),
        f(2, "message", Str, OMIT_EMPTY),
    ] },
    // 327: api::core::v1::ContainerStateRunning
    Message { name: "k8s.io.api.core.v1.ContainerStateRunning", special: Special::None, fields: &[
        f(1, "startedAt", Msg(59), 0),
    ] },
    // 328: api::core::v1::ContainerStateTerminated
    Message { name: "k8s.io.api.core.v1.ContainerStateTerminated", special: Special::None, fields: &[
        f(1, "exitCode", I32, 0),
        f(2, "signal", I32, OMIT_EMPTY),
        f(3, "reason", Str, OMIT_EMPTY),
        f(4, "message", Str, OMIT_EMPTY),
        f(5, "startedAt", Msg(59), 0),
        f(6, "finishedAt", Msg(59), 0),
        f(7, "containerID", Str, OMIT_EMPTY),
    ] },
    // 329: api::core::v1::LinuxContainerUser
    Message { name: "k8s.io.api.core.v1.LinuxContainerUser", special: Special::None, fields: &[
        f(1, "uid", I64, 0),
        f(2, "gid", I64, 0),
        f(3, "supplementalGroups", I64, REPEATED),
    ] },
    // 330: api::core::v1::ResourceHealth
    Message { name: "k8s.io.api.core.v1.ResourceHealth", special: Special::None, fields: &[
        f(1, "resourceID", Str, 0),
        f(2, "health", Str, OMIT_EMPTY),
    ] },
    // 331: api::core::v1::PortStatus
    Message { name: "k8s.io.api.core.v1.PortStatus", special: Special::None, fields: &[
        f(1, "port", I32, 0),
        f(2, "protocol", Str, 0),
        f(3, "error", Str, OMIT_EMPTY),
    ] },
    // 332: api::batch::v1::PodFailurePolicyOnExitCodesRequirement
    Message { name: "k8s.io.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", special: Special::None, fields: &[
        f(1, "containerName", Str, OMIT_EMPTY),
        f(2, "operator", Str, 0),
        f(3, "values", I32, REPEATED),
    ] },
    // 333: api::batch::v1::PodFailurePolicyOnPodConditionsPattern
    Message { name: "k8s.io.api.batch.v1.PodFailurePolicyOnPodConditionsPattern", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "status", Str, 0),
    ] },
    // 334: apimachinery::pkg::apis::meta::v1::FieldSelectorRequirement
    Message { name: "k8s.io.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement", special: Special::None, fields: &[
        f(1, "key", Str, 0),
        f(2, "operator", Str, 0),
        f(3, "values", Str, REPEATED),
    ] },
    // 335: api::autoscaling::v2::MetricTarget
    Message { name: "k8s.io.api.autoscaling.v2.MetricTarget", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "value", Msg(123), 0),
        f(3, "averageValue", Msg(123), 0),
        f(4, "averageUtilization", I32, 0),
    ] },
    // 336: api::autoscaling::v2::MetricIdentifier
    Message { name: "k8s.io.api.autoscaling.v2.MetricIdentifier", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "selector", Msg(122), 0),
    ] },
    // 337: api::autoscaling::v2::HpaScalingPolicy
    Message { name: "k8s.io.api.autoscaling.v2.HpaScalingPolicy", special: Special::None, fields: &[
        f(1, "type", Str, 0),
        f(2, "value", I32, 0),
        f(3, "periodSeconds", I32, 0),
    ] },
    // 338: api::autoscaling::v2::MetricValueStatus
    Message { name: "k8s.io.api.autoscaling.v2.MetricValueStatus", special: Special::None, fields: &[
        f(1, "value", Msg(123), 0),
        f(2, "averageValue", Msg(123), 0),
        f(3, "averageUtilization", I32, 0),
    ] },
    // 339: api::core::v1::NodeSelectorRequirement
    Message { name: "k8s.io.api.core.v1.NodeSelectorRequirement", special: Special::None, fields: &[
        f(1, "key", Str, 0),
        f(2, "operator", Str, 0),
        f(3, "values", Str, REPEATED),
    ] },
    // 340: api::core::v1::KeyToPath
    Message { name: "k8s.io.api.core.v1.KeyToPath", special: Special::None, fields: &[
        f(1, "key", Str, 0),
        f(2, "path", Str, 0),
        f(3, "mode", I32, 0),
    ] },
    // 341: api::core::v1::DownwardAPIVolumeFile
    Message { name: "k8s.io.api.core.v1.DownwardAPIVolumeFile", special: Special::None, fields: &[
        f(1, "path", Str, 0),
        f(2, "fieldRef", Msg(344), 0),
        f(3, "resourceFieldRef", Msg(345), 0),
        f(4, "mode", I32, 0),
    ] },
    // 342: api::core::v1::VolumeProjection
    Message { name: "k8s.io.api.core.v1.VolumeProjection", special: Special::None, fields: &[
        f(1, "secret", Msg(354), 0),
        f(2, "downwardAPI", Msg(355), 0),
        f(3, "configMap", Msg(356), 0),
        f(4, "serviceAccountToken", Msg(357), 0),
        f(5, "clusterTrustBundle", Msg(358), 0),
        f(6, "podCertificate", Msg(359), 0),
    ] },
    // 343: api::core::v1::PersistentVolumeClaimTemplate
    Message { name: "k8s.io.api.core.v1.PersistentVolumeClaimTemplate", special: Special::None, fields: &[
        f(1, "metadata", Msg(54), 0),
        f(2, "spec", Msg(69), 0),
    ] },
    // 344: api::core::v1::ObjectFieldSelector
    Message { name: "k8s.io.api.core.v1.ObjectFieldSelector", special: Special::None, fields: &[
        f(1, "apiVersion", Str, OMIT_EMPTY),
        f(2, "fieldPath", Str, 0),
    ] },
    // 345: api::core::v1::ResourceFieldSelector
    Message { name: "k8s.io.api.core.v1.ResourceFieldSelector", special: Special::None, fields: &[
        f(1, "containerName", Str, OMIT_EMPTY),
        f(2, "resource", Str, 0),
        f(3, "divisor", Msg(123), 0),
    ] },
    // 346: api::core::v1::ConfigMapKeySelector
    Message { name: "k8s.io.api.core.v1.ConfigMapKeySelector", special: Special::None, fields: &[
        f(1, "", Msg(80), INLINE),
        f(2, "key", Str, 0),
        f(3, "optional", Bool, 0),
    ] },
    // 347: api::core::v1::SecretKeySelector
    Message { name: "k8s.io.api.core.v1.SecretKeySelector", special: Special::None, fields: &[
        f(1, "", Msg(80), INLINE),
        f(2, "key", Str, 0),
        f(3, "optional", Bool, 0),
    ] },
    // 348: api::core::v1::FileKeySelector
    Message { name: "k8s.io.api.core.v1.FileKeySelector", special: Special::None, fields: &[
        f(1, "volumeName", Str, 0),
        f(2, "path", Str, 0),
        f(3, "key", Str, 0),
        f(4, "optional", Bool, 0),
    ] },
    // 349: api::core::v1::ExecAction
    Message { name: "k8s.io.api.core.v1.ExecAction", special: Special::None, fields: &[
        f(1, "command", Str, REPEATED),
    ] },
    // 350: api::core::v1::HttpGetAction
    Message { name: "k8s.io.api.core.v1.HttpGetAction", special: Special::None, fields: &[
        f(1, "path", Str, OMIT_EMPTY),
        f(2, "port", Msg(195), 0),
        f(3, "host", Str, OMIT_EMPTY),
        f(4, "scheme", Str, OMIT_EMPTY),
        f(5, "httpHeaders", Msg(360), REPEATED),
    ] },
    // 351: api::core::v1::TcpSocketAction
    Message { name: "k8s.io.api.core.v1.TcpSocketAction", special: Special::None, fields: &[
        f(1, "port", Msg(195), 0),
        f(2, "host", Str, OMIT_EMPTY),
    ] },
    // 352: api::core::v1::GrpcAction
    Message { name: "k8s.io.api.core.v1.GrpcAction", special: Special::None, fields: &[
        f(1, "port", I32, 0),
        f(2, "service", Str, OMIT_EMPTY),
    ] },
    // 353: api::core::v1::SleepAction
    Message { name: "k8s.io.api.core.v1.SleepAction", special: Special::None, fields: &[
        f(1, "seconds", I64, 0),
    ] },
    // 354: api::core::v1::SecretProjection
    Message { name: "k8s.io.api.core.v1.SecretProjection", special: Special::None, fields: &[
        f(1, "", Msg(80), INLINE),
        f(2, "items", Msg(340), REPEATED),
        f(4, "optional", Bool, 0),
    ] },
    // 355: api::core::v1::DownwardAPIProjection
    Message { name: "k8s.io.api.core.v1.DownwardAPIProjection", special: Special::None, fields: &[
        f(1, "items", Msg(341), REPEATED),
    ] },
    // 356: api::core::v1::ConfigMapProjection
    Message { name: "k8s.io.api.core.v1.ConfigMapProjection", special: Special::None, fields: &[
        f(1, "", Msg(80), INLINE),
        f(2, "items", Msg(340), REPEATED),
        f(4, "optional", Bool, 0),
    ] },
    // 357: api::core::v1::ServiceAccountTokenProjection
    Message { name: "k8s.io.api.core.v1.ServiceAccountTokenProjection", special: Special::None, fields: &[
        f(1, "audience", Str, OMIT_EMPTY),
        f(2, "expirationSeconds", I64, 0),
        f(3, "path", Str, 0),
    ] },
    // 358: api::core::v1::ClusterTrustBundleProjection
    Message { name: "k8s.io.api.core.v1.ClusterTrustBundleProjection", special: Special::None, fields: &[
        f(1, "name", Str, OMIT_EMPTY),
        f(2, "signerName", Str, OMIT_EMPTY),
        f(3, "labelSelector", Msg(122), 0),
        f(4, "path", Str, 0),
        f(5, "optional", Bool, 0),
    ] },
    // 359: api::core::v1::PodCertificateProjection
    Message { name: "k8s.io.api.core.v1.PodCertificateProjection", special: Special::None, fields: &[
        f(1, "signerName", Str, 0),
        f(2, "keyType", Str, 0),
        f(3, "maxExpirationSeconds", I32, 0),
        f(4, "credentialBundlePath", Str, OMIT_EMPTY),
        f(5, "keyPath", Str, OMIT_EMPTY),
        f(6, "certificateChainPath", Str, OMIT_EMPTY),
        f(7, "userAnnotations", MapStr, 0),
    ] },
    // 360: api::core::v1::HttpHeader
    Message { name: "k8s.io.api.core.v1.HttpHeader", special: Special::None, fields: &[
        f(1, "name", Str, 0),
        f(2, "value", Str, 0),
    ] },
];

/// Top-level kinds by (apiVersion, kind), sorted; apiVersion `*` matches any version.
#[rustfmt::skip]
pub(crate) static TOP_LEVEL: &[TopLevel] = &[
    TopLevel { api_version: "*", kind: "CreateOptions", message: 51 },
    TopLevel { api_version: "*", kind: "DeleteOptions", message: 50 },
    TopLevel { api_version: "*", kind: "PatchOptions", message: 53 },
    TopLevel { api_version: "*", kind: "UpdateOptions", message: 52 },
    TopLevel { api_version: "apps/v1", kind: "ControllerRevision", message: 17 },
    TopLevel { api_version: "apps/v1", kind: "DaemonSet", message: 18 },
    TopLevel { api_version: "apps/v1", kind: "Deployment", message: 19 },
    TopLevel { api_version: "apps/v1", kind: "ReplicaSet", message: 20 },
    TopLevel { api_version: "apps/v1", kind: "StatefulSet", message: 21 },
    TopLevel { api_version: "authentication.k8s.io/v1", kind: "SelfSubjectReview", message: 37 },
    TopLevel { api_version: "authentication.k8s.io/v1", kind: "TokenRequest", message: 39 },
    TopLevel { api_version: "authentication.k8s.io/v1", kind: "TokenReview", message: 38 },
    TopLevel { api_version: "authorization.k8s.io/v1", kind: "LocalSubjectAccessReview", message: 33 },
    TopLevel { api_version: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", message: 34 },
    TopLevel { api_version: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", message: 35 },
    TopLevel { api_version: "authorization.k8s.io/v1", kind: "SubjectAccessReview", message: 36 },
    TopLevel { api_version: "autoscaling/v1", kind: "HorizontalPodAutoscaler", message: 40 },
    TopLevel { api_version: "autoscaling/v1", kind: "Scale", message: 41 },
    TopLevel { api_version: "autoscaling/v2", kind: "HorizontalPodAutoscaler", message: 42 },
    TopLevel { api_version: "batch/v1", kind: "CronJob", message: 22 },
    TopLevel { api_version: "batch/v1", kind: "Job", message: 23 },
    TopLevel { api_version: "coordination.k8s.io/v1", kind: "Lease", message: 24 },
    TopLevel { api_version: "discovery.k8s.io/v1", kind: "EndpointSlice", message: 25 },
    TopLevel { api_version: "events.k8s.io/v1", kind: "Event", message: 26 },
    TopLevel { api_version: "policy/v1", kind: "Eviction", message: 28 },
    TopLevel { api_version: "policy/v1", kind: "PodDisruptionBudget", message: 27 },
    TopLevel { api_version: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", message: 29 },
    TopLevel { api_version: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", message: 30 },
    TopLevel { api_version: "rbac.authorization.k8s.io/v1", kind: "Role", message: 31 },
    TopLevel { api_version: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", message: 32 },
    TopLevel { api_version: "scheduling.k8s.io/v1", kind: "PriorityClass", message: 49 },
    TopLevel { api_version: "storage.k8s.io/v1", kind: "CSIDriver", message: 43 },
    TopLevel { api_version: "storage.k8s.io/v1", kind: "CSINode", message: 44 },
    TopLevel { api_version: "storage.k8s.io/v1", kind: "CSIStorageCapacity", message: 45 },
    TopLevel { api_version: "storage.k8s.io/v1", kind: "StorageClass", message: 46 },
    TopLevel { api_version: "storage.k8s.io/v1", kind: "VolumeAttachment", message: 47 },
    TopLevel { api_version: "storage.k8s.io/v1", kind: "VolumeAttributesClass", message: 48 },
    TopLevel { api_version: "v1", kind: "Binding", message: 0 },
    TopLevel { api_version: "v1", kind: "ComponentStatus", message: 1 },
    TopLevel { api_version: "v1", kind: "ConfigMap", message: 2 },
    TopLevel { api_version: "v1", kind: "Endpoints", message: 3 },
    TopLevel { api_version: "v1", kind: "Event", message: 4 },
    TopLevel { api_version: "v1", kind: "LimitRange", message: 5 },
    TopLevel { api_version: "v1", kind: "Namespace", message: 6 },
    TopLevel { api_version: "v1", kind: "Node", message: 7 },
    TopLevel { api_version: "v1", kind: "PersistentVolume", message: 8 },
    TopLevel { api_version: "v1", kind: "PersistentVolumeClaim", message: 9 },
    TopLevel { api_version: "v1", kind: "Pod", message: 10 },
    TopLevel { api_version: "v1", kind: "PodTemplate", message: 11 },
    TopLevel { api_version: "v1", kind: "ReplicationController", message: 12 },
    TopLevel { api_version: "v1", kind: "ResourceQuota", message: 13 },
    TopLevel { api_version: "v1", kind: "Secret", message: 14 },
    TopLevel { api_version: "v1", kind: "Service", message: 15 },
    TopLevel { api_version: "v1", kind: "ServiceAccount", message: 16 },
];
