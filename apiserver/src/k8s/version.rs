//! `/version` (readable without credentials, as kube-apiserver allows).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

/// The Kubernetes version capstan serves (its API surface follows kube-apiserver 1.33).
pub const GIT_VERSION: &str = "v1.33.0+capstan";

/// `GET /version`.
pub async fn version() -> Response {
    super::http::json_response(
        StatusCode::OK,
        &json!({
            "major": "1",
            "minor": "33",
            "gitVersion": GIT_VERSION,
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "",
            "goVersion": "",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
        }),
        &[],
    )
}
