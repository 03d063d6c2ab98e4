//! Errors as kube-apiserver gives them: a `metav1.Status` body with the HTTP code, reason,
//! message and details clients branch on (kubectl's apply switches to create on `NotFound`,
//! informers re-list on `Expired`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use capstan_store::KvError;
use serde_json::{json, Value};

use super::resources::Resource;
use super::validation::FieldError;

/// One failed request, with everything its Status needs.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn not_found(r: &Resource, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} {name:?} not found", r.qualified()),
        )
        .with_details(group_details(r, name))
    }

    /// A path that names no resource (kube-apiserver's plain 404).
    pub fn no_route() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn already_exists(r: &Resource, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} {name:?} already exists", r.qualified()),
        )
        .with_details(group_details(r, name))
    }

    pub fn conflict(r: &Resource, name: &str, why: &str) -> ApiError {
        ApiError::conflict_on(r, None, name, why)
    }

    /// A conflict on `r` or one of its subresources (`pods/binding`), named as the registries
    /// name it: `Operation cannot be fulfilled on <resource>[/<sub>][.<group>] "<name>": why`.
    pub fn conflict_on(r: &Resource, sub: Option<&str>, name: &str, why: &str) -> ApiError {
        let resource = match sub {
            Some(sub) => format!("{}/{sub}", r.plural),
            None => r.plural.to_string(),
        };
        let mut details = json!({"name": name, "kind": resource});
        let qualified = if r.group.is_empty() {
            resource
        } else {
            details["group"] = json!(r.group);
            format!("{resource}.{}", r.group)
        };
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {qualified} {name:?}: {why}"),
        )
        .with_details(details)
    }

    /// 403 for a request a rule refuses, as apimachinery's `NewForbidden` words it:
    /// `<resource>[.<group>] "<name>" is forbidden: <why>` (no name when there is none).
    pub fn forbidden(r: &Resource, name: &str, why: &str) -> ApiError {
        let message = if name.is_empty() {
            format!("{} is forbidden: {why}", r.qualified())
        } else {
            format!("{} {name:?} is forbidden: {why}", r.qualified())
        };
        let mut details = json!({"kind": r.plural});
        if !name.is_empty() {
            details["name"] = json!(name);
        }
        if !r.group.is_empty() {
            details["group"] = json!(r.group);
        }
        ApiError::new(403, "Forbidden", message).with_details(details)
    }

    /// The optimistic-concurrency conflict kubectl and controllers retry on.
    pub fn modified(r: &Resource, name: &str) -> ApiError {
        ApiError::conflict(
            r,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with one cause per field error.
    pub fn invalid(r: &Resource, name: &str, errors: &[FieldError]) -> ApiError {
        let (causes, summary) = causes_and_summary(errors);
        let mut details = json!({"name": name, "kind": r.kind, "causes": causes});
        if !r.group.is_empty() {
            details["group"] = json!(r.group);
        }
        ApiError::new(
            422,
            "Invalid",
            format!("{} {name:?} is invalid: {summary}", r.qualified_kind()),
        )
        .with_details(details)
    }

    /// 422 for request options (`ListOptions`, `CreateOptions`, …) that do not go together.
    pub fn invalid_options(kind: &str, errors: &[FieldError]) -> ApiError {
        let (causes, summary) = causes_and_summary(errors);
        ApiError::new(
            422,
            "Invalid",
            format!("{kind}.meta.k8s.io \"\" is invalid: {summary}"),
        )
        .with_details(json!({"group": "meta.k8s.io", "kind": kind, "causes": causes}))
    }

    /// 504 for a resourceVersion this replica has not reached within the wait (kube-apiserver's
    /// `NewTooLargeResourceVersionError`).
    pub fn too_large_resource_version(wanted: i64, current: i64) -> ApiError {
        let mut e = ApiError::new(
            504,
            "Timeout",
            format!("Timeout: Too large resource version: {wanted}, current: {current}"),
        )
        .with_details(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        }));
        e.retry_after = Some(1);
        e
    }

    /// 410 for a resourceVersion below the compaction point.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    pub fn method_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
        .with_details(json!({}))
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"),
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(503, "ServiceUnavailable", message);
        e.retry_after = Some(1);
        e
    }

    /// An error apimachinery cannot classify (a plain Go error a registry returns): 500 with no
    /// reason and the error's text as the message, as `ErrorToAPIStatus` writes it.
    pub fn unclassified(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// The `metav1.Status` body.
    pub fn status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        // An error of no known kind has no reason (Go's omitempty drops StatusReasonUnknown).
        if self.reason.is_empty() {
            if let Some(o) = v.as_object_mut() {
                o.remove("reason");
            }
        }
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        if let Some(secs) = self.retry_after {
            let d = v["details"].as_object().cloned().unwrap_or_default();
            let mut d = Value::Object(d);
            d["retryAfterSeconds"] = json!(secs);
            v["details"] = d;
        }
        v
    }
}

fn group_details(r: &Resource, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": r.plural});
    if !r.group.is_empty() {
        d["group"] = json!(r.group);
    }
    d
}

/// An Invalid status's causes and its message's summary (one error, or `[a, b]`), as
/// apimachinery's `NewInvalid` writes them.
fn causes_and_summary(errors: &[FieldError]) -> (Vec<Value>, String) {
    let causes = errors
        .iter()
        .map(|e| json!({"reason": e.reason(), "message": e.message(), "field": e.field}))
        .collect();
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let summary = if list.len() == 1 {
        list[0].clone()
    } else {
        format!("[{}]", list.join(", "))
    };
    (causes, summary)
}

impl From<KvError> for ApiError {
    fn from(e: KvError) -> ApiError {
        match e {
            KvError::Compacted { compact_revision } => ApiError::expired(format!(
                "The resourceVersion for the provided list is too old. (compacted at {compact_revision})"
            )),
            KvError::FutureRevision => ApiError::new(
                504,
                "Timeout",
                "Too large resource version",
            ),
            KvError::Unavailable(m) => ApiError::unavailable(format!("etcdserver: {m}")),
            KvError::RequestTooLarge => ApiError::too_large(capstan_store::MAX_REQUEST_BYTES),
            // Leader-only work whose term has ended: its writes change nothing, and it is told
            // so (it stops with its term); no retry helps, so no Retry-After.
            KvError::Fenced { expected, actual } => ApiError::new(
                503,
                "ServiceUnavailable",
                format!(
                    "leader-only write refused: the leadership term {expected} it was made in has ended (term {actual} now)"
                ),
            ),
            // The rest are the server's own faults (a request it built badly, a storage
            // failure): logged in full here, and told the client without the internals.
            other => {
                tracing::error!(error = %other, "store error answered as 500");
                ApiError::internal("the storage layer failed; the replica's log has the details")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (code, super::http::json_body(&self.status())).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        resp
    }
}

/// Results of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
