//! `/healthz`, `/livez` and `/readyz` (and `/<endpoint>/<check>`), answered as kube-apiserver
//! answers them: `ok` when every check passes; otherwise, or with `?verbose`, one `[+]name ok` or
//! `[-]name failed: …` line per check and a closing `<endpoint> check passed|failed`, with 500 when
//! a check fails. The checks come from the server ([`Health`]); `ping` is always there.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::KubeApi;

/// One named check and its outcome (the reason when it fails).
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub result: Result<(), String>,
}

impl Check {
    pub fn new(name: &'static str, result: Result<(), String>) -> Check {
        Check { name, result }
    }
}

/// What the server knows about its own health.
pub trait Health: Send + Sync {
    /// Checks that fail only when the process should be restarted.
    fn live(&self) -> Vec<Check>;
    /// Checks that fail while this replica should not take traffic (no leader, still catching
    /// up with the log).
    fn ready(&self) -> Vec<Check>;
}

#[derive(Clone, Copy)]
enum Endpoint {
    Healthz,
    Livez,
    Readyz,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Healthz => "healthz",
            Endpoint::Livez => "livez",
            Endpoint::Readyz => "readyz",
        }
    }

    fn checks(self, api: &KubeApi) -> Vec<Check> {
        let mut checks = vec![Check::new("ping", Ok(()))];
        if let Some(h) = &api.config().health {
            checks.extend(h.live());
            if !matches!(self, Endpoint::Livez) {
                checks.extend(h.ready());
            }
        }
        if !matches!(self, Endpoint::Livez) {
            // As kube-apiserver's post-start hook: not ready before the default namespace and
            // the `kubernetes` service exist, so nothing is sent a request that would fail.
            let done = if api.bootstrapped() {
                Ok(())
            } else {
                Err("the system namespaces and the kubernetes service are not created yet".into())
            };
            checks.push(Check::new("poststarthook/bootstrap-controller", done));
            // The same bootstrap creates the system PriorityClasses (kube-apiserver's own hook).
            let classes = if api.bootstrapped() {
                Ok(())
            } else {
                Err("the system priority classes are not created yet".into())
            };
            checks.push(Check::new(
                "poststarthook/scheduling/bootstrap-system-priority-classes",
                classes,
            ));
        }
        checks
    }
}

fn answer(endpoint: Endpoint, checks: &[Check], query: Option<&str>) -> Response {
    let verbose = query.is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == "verbose" || kv.starts_with("verbose="))
    });
    let excluded: Vec<String> = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.strip_prefix("exclude="))
        .map(str::to_string)
        .collect();
    let mut failed = false;
    let mut body = String::new();
    for c in checks {
        if excluded.iter().any(|e| e == c.name) {
            body.push_str(&format!("[+]{} excluded: ok\n", c.name));
            continue;
        }
        match &c.result {
            Ok(()) => body.push_str(&format!("[+]{} ok\n", c.name)),
            Err(why) => {
                failed = true;
                body.push_str(&format!("[-]{} failed: {why}\n", c.name));
            }
        }
    }
    let status = if failed {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let text = if !failed && !verbose {
        "ok".to_string()
    } else {
        format!(
            "{body}{} check {}\n",
            endpoint.name(),
            if failed { "failed" } else { "passed" }
        )
    };
    (
        status,
        [
            ("content-type", "text/plain; charset=utf-8"),
            ("x-content-type-options", "nosniff"),
        ],
        text,
    )
        .into_response()
}

async fn serve(api: &KubeApi, endpoint: Endpoint, query: Option<String>) -> Response {
    answer(endpoint, &endpoint.checks(api), query.as_deref())
}

async fn serve_one(api: &KubeApi, endpoint: Endpoint, check: &str) -> Response {
    let checks = endpoint.checks(api);
    match checks.iter().find(|c| c.name == check) {
        Some(c) => answer(endpoint, std::slice::from_ref(c), None),
        None => (
            StatusCode::NOT_FOUND,
            [("content-type", "text/plain; charset=utf-8")],
            "404 page not found\n",
        )
            .into_response(),
    }
}

/// `GET /healthz`.
pub async fn healthz(State(api): State<KubeApi>, RawQuery(q): RawQuery) -> Response {
    serve(&api, Endpoint::Healthz, q).await
}

/// `GET /livez`.
pub async fn livez(State(api): State<KubeApi>, RawQuery(q): RawQuery) -> Response {
    serve(&api, Endpoint::Livez, q).await
}

/// `GET /readyz`.
pub async fn readyz(State(api): State<KubeApi>, RawQuery(q): RawQuery) -> Response {
    serve(&api, Endpoint::Readyz, q).await
}

/// `GET /healthz/<check>`.
pub async fn healthz_one(State(api): State<KubeApi>, Path(check): Path<String>) -> Response {
    serve_one(&api, Endpoint::Healthz, &check).await
}

/// `GET /livez/<check>`.
pub async fn livez_one(State(api): State<KubeApi>, Path(check): Path<String>) -> Response {
    serve_one(&api, Endpoint::Livez, &check).await
}

/// `GET /readyz/<check>`.
pub async fn readyz_one(State(api): State<KubeApi>, Path(check): Path<String>) -> Response {
    serve_one(&api, Endpoint::Readyz, &check).await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> (u16, String) {
        let status = r.status().as_u16();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn passing_checks_say_ok_and_verbose_lists_them() {
        let checks = [Check::new("ping", Ok(())), Check::new("leader", Ok(()))];
        assert_eq!(
            text(answer(Endpoint::Readyz, &checks, None)).await,
            (200, "ok".to_string())
        );
        assert_eq!(
            text(answer(Endpoint::Readyz, &checks, Some("verbose"))).await,
            (
                200,
                "[+]ping ok\n[+]leader ok\nreadyz check passed\n".to_string()
            )
        );
    }

    #[tokio::test]
    async fn a_failing_check_gives_500_with_its_reason_unless_excluded() {
        let checks = [
            Check::new("ping", Ok(())),
            Check::new("leader", Err("no leader known".into())),
        ];
        assert_eq!(
            text(answer(Endpoint::Healthz, &checks, None)).await,
            (
                500,
                "[+]ping ok\n[-]leader failed: no leader known\nhealthz check failed\n".to_string()
            )
        );
        let (code, _) = text(answer(Endpoint::Healthz, &checks, Some("exclude=leader"))).await;
        assert_eq!(code, 200);
    }
}
