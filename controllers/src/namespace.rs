//! The namespace controller (kube-controller-manager's `namespace`): a namespace being deleted
//! has every namespaced object in it deleted (a collection delete per resource where the API
//! offers one), its status conditions say what remains and which finalizers hold it, and once
//! it is empty the `kubernetes` finalizer is removed through `/finalize` and the namespace
//! deleted. A namespace whose `kubernetes` finalizer an operator removed goes at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::core::{DynamicObject, PartialObjectMeta};
use kube::discovery::{verbs, Scope};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::informers::{Change, Informer, Informers};
use crate::workqueue::WorkQueue;
use crate::ControllerError;

/// The finalizer the namespace controller owns.
const KUBERNETES: &str = "kubernetes";
/// How soon a namespace whose content is still going is looked at again.
const RECHECK: Duration = Duration::from_secs(1);

struct NamespaceController {
    client: Client,
    namespaces: Arc<Informer<Namespace>>,
    queue: Arc<WorkQueue<String>>,
}

/// Registers the controller's handlers; its workers run once the informer has synced.
pub fn register(
    client: Client,
    informers: &Informers,
    workers: usize,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    let namespaces = informers.get::<Namespace>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let q = queue.clone();
    namespaces.on_change(move |c| {
        if let Change::Applied(ns) = c {
            if ns.metadata.deletion_timestamp.is_some() {
                q.add(ns.name_any());
            }
        }
    });
    let ctl = Arc::new(NamespaceController {
        client,
        namespaces,
        queue,
    });
    async move {
        ctl.namespaces.synced().await;
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, "namespace", move |name| {
            let ctl = ctl.clone();
            async move { ctl.sync(&name).await }
        })
        .await;
    }
}

fn held(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == KUBERNETES))
}

fn condition(kind: &str, status: bool, reason: &str, message: String) -> NamespaceCondition {
    NamespaceCondition {
        type_: kind.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(Time(Timestamp::now())),
    }
}

/// What is left in a namespace: objects per resource, and objects per finalizer.
#[derive(Default)]
struct Remaining {
    objects: BTreeMap<String, usize>,
    finalizers: BTreeMap<String, usize>,
    failures: Vec<String>,
}

impl NamespaceController {
    async fn sync(&self, name: &str) -> Result<(), ControllerError> {
        let Some(ns) = self.namespaces.store().get(&ObjectRef::new(name)) else {
            return Ok(());
        };
        if ns.metadata.deletion_timestamp.is_none() {
            return Ok(());
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        if !held(&ns) {
            return self.delete_namespace(&api, &ns).await;
        }
        let left = self.delete_content(name).await?;
        self.report(&api, &ns, &left).await?;
        if !left.objects.is_empty() || !left.failures.is_empty() {
            self.queue.add_after(name.to_string(), RECHECK);
            return Ok(());
        }
        // Empty: the `kubernetes` finalizer goes, then the namespace.
        let mut done = (*ns).clone();
        if let Some(spec) = done.spec.as_mut() {
            if let Some(f) = spec.finalizers.as_mut() {
                f.retain(|x| x != KUBERNETES);
            }
        }
        match api
            .replace_subresource("finalize", name, &PostParams::default(), &done)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.delete_namespace(&api, &done).await
    }

    async fn delete_namespace(
        &self,
        api: &Api<Namespace>,
        ns: &Namespace,
    ) -> Result<(), ControllerError> {
        let params = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: ns.uid(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&ns.name_any(), &params).await {
            Ok(_) => Ok(()),
            // Gone, or replaced by a namespace of the name.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every namespaced object in `ns`; what remains afterwards.
    async fn delete_content(&self, ns: &str) -> Result<Remaining, ControllerError> {
        let mut left = Remaining::default();
        let background = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        for (ar, caps) in crate::api_resources::discover(&self.client).await? {
            let deletable = caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::LIST)
                && caps.supports_operation(verbs::DELETE);
            if !deletable {
                continue;
            }
            let api: Api<PartialObjectMeta<DynamicObject>> =
                Api::namespaced_with(self.client.clone(), ns, &ar);
            let dynamic: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
            if caps.supports_operation(verbs::DELETE_COLLECTION) {
                if let Err(e) = dynamic
                    .delete_collection(&background, &ListParams::default())
                    .await
                {
                    left.failures.push(format!("{}: {e}", ar.plural));
                    continue;
                }
            }
            let items = match api.list_metadata(&ListParams::default()).await {
                Ok(l) => l.items,
                Err(e) => {
                    left.failures.push(format!("{}: {e}", ar.plural));
                    continue;
                }
            };
            for item in &items {
                if item.metadata.deletion_timestamp.is_none()
                    && !caps.supports_operation(verbs::DELETE_COLLECTION)
                {
                    match dynamic.delete(&item.name_any(), &background).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => left.failures.push(format!("{}: {e}", ar.plural)),
                    }
                }
                for f in item.finalizers() {
                    *left.finalizers.entry(f.clone()).or_default() += 1;
                }
            }
            if !items.is_empty() {
                let key = if ar.group.is_empty() {
                    ar.plural.clone()
                } else {
                    format!("{}.{}", ar.plural, ar.group)
                };
                *left.objects.entry(key).or_default() += items.len();
            }
        }
        Ok(left)
    }

    /// The deletion's conditions, as upstream's namespace controller writes them.
    async fn report(
        &self,
        api: &Api<Namespace>,
        ns: &Namespace,
        left: &Remaining,
    ) -> Result<(), ControllerError> {
        let remaining = left
            .objects
            .iter()
            .map(|(r, n)| format!("{r} has {n} resource instances"))
            .collect::<Vec<_>>()
            .join(", ");
        let finalizing = left
            .finalizers
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect::<Vec<_>>()
            .join(", ");
        let wanted = [
            condition(
                "NamespaceDeletionDiscoveryFailure",
                false,
                "ResourcesDiscovered",
                "All resources successfully discovered".into(),
            ),
            condition(
                "NamespaceDeletionGroupVersionParsingFailure",
                false,
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed".into(),
            ),
            if left.failures.is_empty() {
                condition(
                    "NamespaceDeletionContentFailure",
                    false,
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization".into(),
                )
            } else {
                condition(
                    "NamespaceDeletionContentFailure",
                    true,
                    "ContentDeletionFailed",
                    format!(
                        "Failed to delete all resource types, {} remaining: {}",
                        left.failures.len(),
                        left.failures.join(", ")
                    ),
                )
            },
            if left.objects.is_empty() {
                condition(
                    "NamespaceContentRemaining",
                    false,
                    "ContentRemoved",
                    "All content successfully removed".into(),
                )
            } else {
                condition(
                    "NamespaceContentRemaining",
                    true,
                    "SomeResourcesRemain",
                    format!("Some resources are remaining: {remaining}"),
                )
            },
            if left.finalizers.is_empty() {
                condition(
                    "NamespaceFinalizersRemaining",
                    false,
                    "ContentHasNoFinalizers",
                    "All content-preserving finalizers finished".into(),
                )
            } else {
                condition(
                    "NamespaceFinalizersRemaining",
                    true,
                    "SomeFinalizersRemain",
                    format!("Some content in the namespace has finalizers remaining: {finalizing}"),
                )
            },
        ];
        let current = ns
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        // A condition keeps its transition time while its status and reason stay.
        let mut changed = false;
        let conditions: Vec<NamespaceCondition> = wanted
            .into_iter()
            .map(|w| match current.iter().find(|c| c.type_ == w.type_) {
                Some(c)
                    if c.status == w.status && c.reason == w.reason && c.message == w.message =>
                {
                    c.clone()
                }
                _ => {
                    changed = true;
                    w
                }
            })
            .collect();
        if !changed {
            return Ok(());
        }
        let patch = json!({"status": {"conditions": conditions}});
        crate::status_patch::merge(api, &ns.name_any(), patch).await
    }
}
