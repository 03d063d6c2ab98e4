//! Scheduler extenders: kube-scheduler's HTTP(S) JSON protocol for filter, prioritize, preempt
//! and bind calls to a webhook outside the scheduler.

use serde::Deserialize;

/// A managed resource: pods asking for one of them are the extender's business.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedResource {
    pub name: String,
    #[serde(default)]
    pub ignored_by_scheduler: bool,
}

/// One extender as configured (KubeSchedulerConfiguration's `extenders[]`, or a Policy's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtenderConfig {
    pub url_prefix: String,
    pub filter_verb: String,
    pub prioritize_verb: String,
    pub preempt_verb: String,
    pub bind_verb: String,
    pub weight: i64,
    pub enable_https: bool,
    pub tls: Option<ExtenderTls>,
    pub http_timeout: std::time::Duration,
    pub node_cache_capable: bool,
    pub managed_resources: Vec<ManagedResource>,
    pub ignorable: bool,
}

/// `tlsConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtenderTls {
    pub insecure: bool,
    pub server_name: String,
    pub ca_pem: Option<Vec<u8>>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
}
