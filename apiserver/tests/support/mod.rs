//! The test harness of the Kubernetes facade's handler tests: its axum router on the in-memory
//! store, called with `oneshot` as an authenticated admin (or anonymously).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use capstan_apiserver::k8s::{KubeApi, KubeConfig, User};
use capstan_store::{Kv, MemKv};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub struct Api {
    pub router: Router,
    pub kv: Arc<dyn Kv>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Api {
    pub async fn new() -> Api {
        let kv: Arc<dyn Kv> = Arc::new(MemKv::in_memory().unwrap());
        let api = KubeApi::new(kv.clone(), KubeConfig::default());
        api.bootstrap().await.unwrap();
        Api {
            router: api.router(),
            kv,
        }
    }

    pub async fn raw(&self, req: Request<Body>, user: bool) -> Answer {
        let mut req = req;
        if user {
            req.extensions_mut().insert(User {
                name: "admin".into(),
                groups: vec!["system:masters".into()],
            });
        }
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Answer {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", content_type)
            .body(body.into())
            .unwrap();
        self.raw(req, true).await
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.call("GET", uri, "application/json", Body::empty())
            .await
    }

    pub async fn post(&self, uri: &str, obj: Value) -> Answer {
        self.call("POST", uri, "application/json", obj.to_string())
            .await
    }

    pub async fn put(&self, uri: &str, obj: Value) -> Answer {
        self.call("PUT", uri, "application/json", obj.to_string())
            .await
    }

    pub async fn patch(&self, uri: &str, ct: &str, doc: Value) -> Answer {
        self.call("PATCH", uri, ct, doc.to_string()).await
    }

    pub async fn revision(&self) -> i64 {
        self.kv.status().await.unwrap().revision
    }
}

pub fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})
}

pub const PODS: &str = "/api/v1/namespaces/default/pods";
