//! `Recorder`: core/v1 Events about the objects a controller manages, as client-go's recorder
//! writes them (reason, message, type, the reporting component, first/last timestamps, count).
//! A failure to record is logged and otherwise ignored, as upstream's.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, Resource, ResourceExt};

/// Writes Events as one component (`replicaset-controller`, …).
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    component: &'static str,
}

impl Recorder {
    pub fn new(client: Client, component: &'static str) -> Recorder {
        Recorder { client, component }
    }

    /// A `Normal` event about `obj`.
    pub async fn normal<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        reason: &str,
        message: String,
    ) {
        self.record(obj, "Normal", reason, message).await;
    }

    /// A `Warning` event about `obj`.
    pub async fn warning<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        reason: &str,
        message: String,
    ) {
        self.record(obj, "Warning", reason, message).await;
    }

    async fn record<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        kind: &str,
        reason: &str,
        message: String,
    ) {
        let ns = obj.namespace().unwrap_or_else(|| "default".into());
        let now = Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                // client-go's name: the object's, a dot, the time in nanoseconds in hex.
                name: Some(format!("{}.{:x}", obj.name_any(), now.as_nanosecond())),
                namespace: Some(ns.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(obj.name_any()),
                namespace: obj.namespace(),
                uid: obj.uid(),
                resource_version: obj.resource_version(),
                ..ObjectReference::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(kind.into()),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(self.component.into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            count: Some(1),
            ..Event::default()
        };
        if let Err(e) = Api::<Event>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), &event)
            .await
        {
            tracing::debug!(reason, error = %e, "event not recorded");
        }
    }
}
