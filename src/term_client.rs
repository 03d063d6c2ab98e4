//! The API client leader-only work (the controller manager, the scheduler) uses for one led
//! term: the REST router as an in-process tower service, acting as the component's user, over
//! the store fenced at the term, so every write it makes applies only in that term.
//!
//! Leader-only work runs on a runtime of its own (`server.rs`), but its writes do not: a
//! write's handler is spawned onto the serving runtime, where raft and the watch fan-out run,
//! so a bind or a status patch crosses between the runtimes once each way instead of at
//! every hand-off inside the handler. Reads (lists, watches) stay on the leader's runtime: a
//! new term listing 20,000 pods must not hold up the serving runtime's raft heartbeats.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use capstan_apiserver::k8s::{KubeApi, User};
use capstan_raft::RaftNode;
use http::{Method, Request};
use tokio::runtime::Handle;
use tower_service::Service;

use crate::fenced_kv::{FencedKv, RefusedWrites};

/// A client for `term` as `user` (its requests carry `agent` as their User-Agent); writes
/// are handled on `serving`.
pub fn fenced_client(
    kube: &KubeApi,
    node: &RaftNode,
    term: u64,
    refused: &RefusedWrites,
    (user, agent): (&str, &'static str),
    serving: &Handle,
) -> kube::Client {
    let fenced: Arc<dyn capstan_store::Kv> =
        Arc::new(FencedKv::new(node.kv(), term, refused.clone()));
    let user = User {
        name: user.into(),
        groups: Vec::new(),
    };
    let router = WritesOn {
        router: kube.with_kv(fenced).router_as(user, agent),
        serving: serving.clone(),
    };
    // kube's client hands every request to one dispatching task (a tower Buffer), spawned
    // where the client is made: on the serving runtime it is never queued behind the leader
    // runtime's decoding (a new term's lists held every bind up for seconds).
    let _on_serving = serving.enter();
    kube::Client::new(router, "default")
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A service (the router), its writes spawned onto another runtime.
#[derive(Clone)]
struct WritesOn<S> {
    router: S,
    serving: Handle,
}

impl<S, B> Service<Request<B>> for WritesOn<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.router.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The clone answers this call; the ready one stays (tower's clone-and-swap).
        let clone = self.router.clone();
        let mut router = std::mem::replace(&mut self.router, clone);
        if req.method() == Method::GET {
            let handled = router.call(req);
            return Box::pin(async move { handled.await.map_err(Into::into) });
        }
        let handled = self.serving.spawn(router.call(req));
        Box::pin(async move {
            match handled.await {
                Ok(r) => r.map_err(Into::into),
                // The serving runtime is shutting down: the request went nowhere.
                Err(e) => Err(e.into()),
            }
        })
    }
}
