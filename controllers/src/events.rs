//! `Recorder`: core/v1 Events about the objects a controller manages, as client-go's recorder
//! writes them (reason, message, type, the reporting component, first/last timestamps, count),
//! passed through client-go's event correlator:
//! - an event equal to an earlier one (same object, type, reason and message) bumps that
//!   Event's `count` and `lastTimestamp` instead of making a new one;
//! - once 10 events of one object, type and reason with different messages arrive within 10
//!   minutes, the tenth and later are folded into one Event whose message starts
//!   `(combined from similar events): `;
//! - each object gets a burst of 25 events, then one more per 5 minutes; the rest are dropped.
//!
//! A failure to record is logged and otherwise ignored, as upstream's.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

/// Distinct messages of one object, type and reason at which events start being combined.
const AGGREGATE_AFTER: usize = 10;
/// How long a run of similar events counts towards combining.
const AGGREGATE_WINDOW: Duration = Duration::from_secs(600);
/// The prefix of a combined event's message.
const COMBINED: &str = "(combined from similar events): ";
/// Events per object before the spam filter spaces them...
const SPAM_BURST: f64 = 25.0;
/// ...to one per this long.
const SPAM_REFILL: Duration = Duration::from_secs(300);
/// Entries each cache keeps before it starts over (client-go's LRU holds 4096).
const CACHE_SIZE: usize = 4096;

/// Writes Events as one component (`replicaset-controller`, …).
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    component: &'static str,
    correlator: Arc<Mutex<Correlator>>,
}

/// An Event already written, which a repeat updates.
struct Written {
    name: String,
    namespace: String,
    count: i32,
}

/// A run of similar events (one object, type and reason).
struct Similar {
    messages: HashSet<String>,
    since: Instant,
}

/// An object's spam-filter bucket.
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

#[derive(Default)]
struct Correlator {
    written: HashMap<String, Written>,
    similar: HashMap<String, Similar>,
    buckets: HashMap<String, Bucket>,
}

/// What to do with one event.
enum Decision {
    Drop,
    Create {
        message: String,
        key: String,
    },
    Update {
        message: String,
        key: String,
        name: String,
        namespace: String,
        count: i32,
    },
}

fn bounded<V>(map: &mut HashMap<String, V>) {
    if map.len() >= CACHE_SIZE {
        map.clear();
    }
}

impl Correlator {
    fn decide(&mut self, object: &str, kind: &str, reason: &str, message: String) -> Decision {
        let now = Instant::now();
        bounded(&mut self.buckets);
        let bucket = self.buckets.entry(object.to_string()).or_insert(Bucket {
            tokens: SPAM_BURST,
            refilled: now,
        });
        let refill = now.duration_since(bucket.refilled).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        bucket.tokens = (bucket.tokens + refill).min(SPAM_BURST);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            return Decision::Drop;
        }
        bucket.tokens -= 1.0;

        bounded(&mut self.similar);
        let similar_key = format!("{object}\u{0}{kind}\u{0}{reason}");
        let run = self.similar.entry(similar_key).or_insert(Similar {
            messages: HashSet::new(),
            since: now,
        });
        if now.duration_since(run.since) > AGGREGATE_WINDOW {
            run.messages.clear();
            run.since = now;
        }
        run.messages.insert(message.clone());
        let message = if run.messages.len() >= AGGREGATE_AFTER {
            format!("{COMBINED}{message}")
        } else {
            message
        };
        // Combined events are one Event, whatever their messages were.
        let same_key = if message.starts_with(COMBINED) {
            format!("{object}\u{0}{kind}\u{0}{reason}\u{0}{COMBINED}")
        } else {
            format!("{object}\u{0}{kind}\u{0}{reason}\u{0}{message}")
        };
        match self.written.get(&same_key) {
            Some(w) => Decision::Update {
                message,
                name: w.name.clone(),
                namespace: w.namespace.clone(),
                count: w.count + 1,
                key: same_key,
            },
            None => Decision::Create {
                message,
                key: same_key,
            },
        }
    }

    fn wrote(&mut self, key: String, name: String, namespace: String, count: i32) {
        bounded(&mut self.written);
        self.written.insert(
            key,
            Written {
                name,
                namespace,
                count,
            },
        );
    }
}

impl Recorder {
    pub fn new(client: Client, component: &'static str) -> Recorder {
        Recorder {
            client,
            component,
            correlator: Arc::default(),
        }
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
        let object = format!(
            "{}\u{0}{}\u{0}{ns}\u{0}{}\u{0}{}",
            K::api_version(&()),
            K::kind(&()),
            obj.name_any(),
            obj.uid().unwrap_or_default()
        );
        let decision = self
            .correlator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .decide(&object, kind, reason, message);
        let now = Timestamp::now();
        let (message, key) = match decision {
            Decision::Drop => {
                tracing::debug!(reason, "event dropped by the spam filter");
                return;
            }
            Decision::Update {
                message,
                key,
                name,
                namespace,
                count,
            } => {
                let patch = json!({"count": count, "lastTimestamp": Time(now), "message": message});
                let api = Api::<Event>::namespaced(self.client.clone(), &namespace);
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    Ok(_) => {
                        self.remember(key, name, namespace, count);
                        return;
                    }
                    // Gone (its TTL ran out): written anew below.
                    Err(kube::Error::Api(s)) if s.code == 404 => (message, key),
                    Err(e) => {
                        tracing::debug!(reason, error = %e, "event not updated");
                        return;
                    }
                }
            }
            Decision::Create { message, key } => (message, key),
        };
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
        match Api::<Event>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), &event)
            .await
        {
            Ok(made) => self.remember(key, made.name_any(), ns, 1),
            Err(e) => tracing::debug!(reason, error = %e, "event not recorded"),
        }
    }

    fn remember(&self, key: String, name: String, namespace: String, count: i32) {
        self.correlator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wrote(key, name, namespace, count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(d: &Decision) -> Option<&str> {
        match d {
            Decision::Drop => None,
            Decision::Create { message, .. } | Decision::Update { message, .. } => Some(message),
        }
    }

    #[test]
    fn a_repeated_event_updates_the_one_written() {
        let mut c = Correlator::default();
        let Decision::Create { key, .. } = c.decide("o", "Normal", "R", "m".into()) else {
            panic!("the first event is created");
        };
        c.wrote(key, "o.1".into(), "ns".into(), 1);
        match c.decide("o", "Normal", "R", "m".into()) {
            Decision::Update { name, count, .. } => assert_eq!((name.as_str(), count), ("o.1", 2)),
            _ => panic!("a repeat updates"),
        }
        // Another message, type or object is another event.
        assert!(matches!(
            c.decide("o", "Normal", "R", "n".into()),
            Decision::Create { .. }
        ));
        assert!(matches!(
            c.decide("o", "Warning", "R", "m".into()),
            Decision::Create { .. }
        ));
        assert!(matches!(
            c.decide("p", "Normal", "R", "m".into()),
            Decision::Create { .. }
        ));
    }

    #[test]
    fn from_the_tenth_different_message_similar_events_are_combined() {
        let mut c = Correlator::default();
        for i in 1..AGGREGATE_AFTER {
            let d = c.decide("o", "Normal", "R", format!("m{i}"));
            assert_eq!(message(&d), Some(format!("m{i}").as_str()));
        }
        let d = c.decide("o", "Normal", "R", "m10".into());
        assert_eq!(message(&d), Some("(combined from similar events): m10"));
        let Decision::Create { key, .. } = d else {
            panic!("the first combined event is created");
        };
        c.wrote(key, "o.2".into(), "ns".into(), 1);
        // Later ones, whatever their message, update it.
        assert!(matches!(
            c.decide("o", "Normal", "R", "m11".into()),
            Decision::Update { count: 2, .. }
        ));
    }

    #[test]
    fn an_object_past_its_burst_has_its_events_dropped() {
        let mut c = Correlator::default();
        for _ in 0..SPAM_BURST as usize {
            assert!(!matches!(
                c.decide("o", "Normal", "R", "m".into()),
                Decision::Drop
            ));
        }
        assert!(matches!(
            c.decide("o", "Normal", "R", "m".into()),
            Decision::Drop
        ));
        // Other objects have buckets of their own.
        assert!(!matches!(
            c.decide("p", "Normal", "R", "m".into()),
            Decision::Drop
        ));
    }
}
