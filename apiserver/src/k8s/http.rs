//! The HTTP layer's small pieces: query parameters, content negotiation (JSON, YAML, protobuf
//! bodies; Table answers), body limits, JSON responses and warnings.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::status::{ApiError, ApiResult};

/// kube-apiserver's limit on request bodies (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// A JSON body with `Content-Type: application/json`.
pub fn json_body(v: &Value) -> Response {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A JSON answer with a status code and optional `Warning` headers.
pub fn json_response(code: StatusCode, v: &Value, warnings: &[String]) -> Response {
    let mut resp = (code, json_body(v)).into_response();
    for w in warnings {
        let text = format!("299 - {}", quote_warning(w));
        if let Ok(h) = HeaderValue::from_str(&text) {
            resp.headers_mut().append("warning", h);
        }
    }
    resp
}

fn quote_warning(w: &str) -> String {
    let mut out = String::from("\"");
    for c in w.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Query parameters (last value wins, as Go's `url.Values.Get` takes the first; kubectl never
/// repeats them).
#[derive(Debug, Default, Clone)]
pub struct Query(pub BTreeMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let mut m = BTreeMap::new();
        if let Some(q) = q {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                m.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
        Query(m)
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A boolean parameter, read as Go's `strconv.ParseBool` reads it (the Python client sends
    /// `watch=True`).
    pub fn flag(&self, k: &str) -> bool {
        matches!(
            self.get(k),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }

    /// `dryRun=All` (the only value Kubernetes accepts).
    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.0.get("dryRun").map(String::as_str) {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dry run value: {other:?}: supported values: \"All\""
            ))),
        }
    }

    pub fn i64(&self, k: &str) -> ApiResult<Option<i64>> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {k}: {v:?} is not an integer"))
            }),
        }
    }
}

/// What the request wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The object or list itself.
    Object,
    /// A `meta.k8s.io/v1` Table.
    Table,
    /// Metadata only: PartialObjectMetadata (a list: PartialObjectMetadataList), as
    /// client-go's metadata informers and kube-rs's `metadata_watcher` ask.
    Metadata,
}

/// An object reduced to its metadata (PartialObjectMetadata).
pub fn partial(obj: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
    })
}

/// Reads the Accept header: a Table when any offered type asks for `as=Table` with
/// `g=meta.k8s.io` (v1 or v1beta1), metadata only for `as=PartialObjectMetadata[List]`.
pub fn negotiate(headers: &HeaderMap) -> Answer {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for offer in accept.split(',') {
        let params: Vec<&str> = offer.split(';').map(str::trim).collect();
        let table = params.contains(&"as=Table");
        let group = params.contains(&"g=meta.k8s.io");
        if table && group {
            return Answer::Table;
        }
        let partial = params.contains(&"as=PartialObjectMetadata")
            || params.contains(&"as=PartialObjectMetadataList");
        if partial && group {
            return Answer::Metadata;
        }
    }
    Answer::Object
}

/// The body formats a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
}

/// The media type of the body (without parameters), lowercased.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes a create/update body into JSON.
pub fn decode_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let ct = content_type(headers);
    let format = match ct.as_str() {
        "application/json" | "" | "*/*" => BodyFormat::Json,
        "application/yaml" | "application/x-yaml" | "text/yaml" => BodyFormat::Yaml,
        "application/vnd.kubernetes.protobuf" => BodyFormat::Protobuf,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    decode_as(format, body)
}

/// Decodes a body in a known format.
pub fn decode_as(format: BodyFormat, body: &[u8]) -> ApiResult<Value> {
    match format {
        BodyFormat::Json => parse_json(body),
        BodyFormat::Yaml => parse_yaml(body),
        BodyFormat::Protobuf => super::protobuf::decode_object(body)
            .map(|(_, _, v)| v)
            .map_err(|e| ApiError::bad_request(e.to_string())),
    }
}

/// Parses JSON with Go's error wording where it matters to users.
pub fn parse_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type JSON): {e}"
        ))
    })
}

/// Parses YAML (or JSON, which is YAML) into JSON.
pub fn parse_yaml(body: &[u8]) -> ApiResult<Value> {
    let v: Value = serde_norway::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?;
    Ok(v)
}

/// Reads the body with the size limit applied before anything is buffered past it.
pub async fn read_body(body: Body) -> ApiResult<Vec<u8>> {
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(c) => Ok(c.to_bytes().to_vec()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::too_large(MAX_BODY_BYTES))
            } else {
                Err(ApiError::bad_request(format!(
                    "reading the request body: {e}"
                )))
            }
        }
    }
}
