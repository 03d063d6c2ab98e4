//! The serviceaccount controller (kube-controller-manager's `serviceaccount`): every active
//! namespace has a `default` ServiceAccount; one created in a namespace, or deleted from one, is
//! (re)made. A terminating namespace gets none.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::informers::{Change, Informers};
use crate::workqueue::WorkQueue;
use crate::ControllerError;

/// The ServiceAccount every namespace gets.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register(
    client: Client,
    informers: &Informers,
    workers: usize,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    let namespaces = informers.get::<Namespace>();
    let accounts = informers.get::<ServiceAccount>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let q = queue.clone();
    namespaces.on_change(move |c| {
        if let Change::Applied(ns) = c {
            q.add(ns.name_any());
        }
    });
    let q = queue.clone();
    accounts.on_change(move |c| {
        if let Change::Deleted(sa) = c {
            if sa.name_any() == DEFAULT_ACCOUNT {
                if let Some(ns) = sa.namespace() {
                    q.add(ns);
                }
            }
        }
    });
    async move {
        namespaces.synced().await;
        accounts.synced().await;
        crate::workqueue::run_workers(queue, workers, "serviceaccount", move |ns| {
            let (client, namespaces, accounts) =
                (client.clone(), namespaces.clone(), accounts.clone());
            async move { sync(&client, &namespaces, &accounts, &ns).await }
        })
        .await;
    }
}

/// Makes `default` in namespace `ns` if it is active and lacks one.
async fn sync(
    client: &Client,
    namespaces: &crate::informers::Informer<Namespace>,
    accounts: &crate::informers::Informer<ServiceAccount>,
    ns: &str,
) -> Result<(), ControllerError> {
    let Some(namespace) = namespaces.store().get(&ObjectRef::new(ns)) else {
        return Ok(());
    };
    let active = namespace.metadata.deletion_timestamp.is_none()
        && namespace
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_none_or(|p| p == "Active");
    if !active {
        return Ok(());
    }
    if accounts
        .store()
        .get(&ObjectRef::new(DEFAULT_ACCOUNT).within(ns))
        .is_some()
    {
        return Ok(());
    }
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT_ACCOUNT.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &sa)
        .await
    {
        Ok(_) => Ok(()),
        // The cache lags the store: it exists already (kube-controller-manager ignores this).
        Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "AlreadyExists" => Ok(()),
        // The namespace is going away: nothing to do (as upstream, which ignores Forbidden
        // for a terminating namespace).
        Err(kube::Error::Api(s)) if s.code == 403 || s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
