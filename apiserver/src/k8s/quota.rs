//! ResourceQuota admission: a create in a namespace with quotas is measured as the quota
//! controller measures objects (one evaluator source, [`usage`], shared with it); each quota
//! whose `status.hard` names a resource the object uses (and whose scopes cover it) must have
//! room for it, or the create is refused with kube-apiserver's 403 (`exceeded quota: …`,
//! `failed quota: …: must specify …`, `status unknown for quota: …`). What is admitted is
//! added to each quota's `status.used` with a compare-and-swap that re-checks the fresh
//! quota, so two racing creates cannot both take the last room.

// The evaluators and the quantity arithmetic are the controller manager's source files,
// compiled here too: one definition of what an object uses, no dependency between the crates.
// Parts only the controller uses are unused here.
#[allow(dead_code)]
#[path = "../../../controllers/src/resourcequota/quantity.rs"]
mod quantity;
#[allow(dead_code)]
#[path = "../../../controllers/src/resourcequota/usage.rs"]
mod usage;

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::managed_fields::Tracking;
use super::objects::{prefix, prefix_end, Freshness};
use super::resources::{self, Resource};
use super::status::{ApiError, ApiResult};
use super::write::guaranteed_update;
use super::KubeApi;
use usage::Usage;

/// The field manager quota's status writes are recorded under (kube-apiserver's loopback
/// client).
const MANAGER: &str = "kube-apiserver";

/// kube-apiserver's admission Forbidden: `<resource> "<name>" is forbidden: <why>`.
fn forbidden(r: &Resource, name: &str, why: &str) -> ApiError {
    let mut details = json!({"name": name, "kind": r.plural});
    if !r.group.is_empty() {
        details["group"] = json!(r.group);
    }
    ApiError::new(
        403,
        "Forbidden",
        format!("{} {name:?} is forbidden: {why}", r.qualified()),
    )
    .with_details(details)
}

fn quantities(v: Option<&Value>) -> Usage {
    usage::resource_list(v)
}

/// What a quota constrains of the object, if it covers it at all.
fn restricted(quota: &Value, r: &Resource, obj: &Value) -> Option<BTreeSet<String>> {
    let hard = quantities(quota.pointer("/status/hard"));
    let names = usage::matching_resources(r.group, r.plural, hard.keys());
    let scopes = usage::scopes_of(quota);
    (!names.is_empty() && usage::scopes_match(&scopes, r.group, r.plural, obj)).then_some(names)
}

/// The quota with `requested` added to its `status.used`, or the refusal.
fn charge(quota: &Value, requested: &Usage, r: &Resource, name: &str) -> ApiResult<Value> {
    let quota_name = quota
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let hard = quantities(quota.pointer("/status/hard"));
    let used = quantities(quota.pointer("/status/used"));
    let requested = usage::mask(requested, &hard.keys().cloned().collect());
    let new_used = usage::add(&used, &requested);
    let exceeded: BTreeSet<String> = requested
        .keys()
        .filter(|k| matches!((new_used.get(*k), hard.get(*k)), (Some(n), Some(h)) if n > h))
        .cloned()
        .collect();
    if !exceeded.is_empty() {
        return Err(forbidden(
            r,
            name,
            &format!(
                "exceeded quota: {quota_name}, requested: {}, used: {}, limited: {}",
                usage::pretty(&usage::mask(&requested, &exceeded)),
                usage::pretty(&usage::mask(&used, &exceeded)),
                usage::pretty(&usage::mask(&hard, &exceeded)),
            ),
        ));
    }
    let mut out = quota.clone();
    let list: Map<String, Value> = new_used
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
        .collect();
    out["status"]["used"] = Value::Object(list);
    Ok(out)
}

/// Admits (or refuses) the create of `obj`, named `name`, and charges the quotas it uses.
pub async fn admit_create(
    api: &KubeApi,
    r: &'static Resource,
    ns: Option<&str>,
    name: &str,
    obj: &Value,
    dry: bool,
) -> ApiResult<()> {
    let Some(ns) = ns.filter(|_| r.namespaced) else {
        return Ok(());
    };
    let quotas_r = resources::find("", "v1", "resourcequotas")
        .ok_or_else(|| ApiError::internal("resourcequotas are not served"))?;
    let from = prefix(quotas_r, Some(ns));
    let end = prefix_end(from.as_bytes());
    // This replica's view says whether there are quotas at all (most namespaces have none);
    // when there are, they are read linearizably.
    let local = api
        .store()
        .page(from.as_bytes(), &end, 1, Freshness::Any)
        .await?;
    if local.kvs.is_empty() {
        return Ok(());
    }
    let page = api
        .store()
        .page(from.as_bytes(), &end, 0, Freshness::Latest)
        .await?;
    let mut interesting = Vec::new();
    for kv in &page.kvs {
        let quota = super::objects::decode(kv)?;
        let Some(names) = restricted(&quota, r, obj) else {
            continue;
        };
        let quota_name = quota
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if r.group.is_empty() && r.plural == "pods" {
            if let Err(why) = usage::pod_constraints(&names, obj) {
                return Err(forbidden(
                    r,
                    name,
                    &format!("failed quota: {quota_name}: {why}"),
                ));
            }
        }
        let used = quantities(quota.pointer("/status/used"));
        if names.iter().any(|n| !used.contains_key(n)) {
            let list: Vec<&str> = names.iter().map(String::as_str).collect();
            return Err(forbidden(
                r,
                name,
                &format!(
                    "status unknown for quota: {quota_name}, resources: {}",
                    list.join(",")
                ),
            ));
        }
        interesting.push((quota_name, quota));
    }
    if interesting.is_empty() {
        return Ok(());
    }
    let requested = usage::usage_of(r.group, r.plural, obj, false);
    let negative: Vec<&str> = requested
        .iter()
        .filter(|(_, v)| v.is_negative())
        .map(|(k, _)| k.as_str())
        .collect();
    if !negative.is_empty() {
        return Err(forbidden(
            r,
            name,
            &format!(
                "quota usage is negative for resource(s): {}",
                negative.join(",")
            ),
        ));
    }
    if requested.values().all(quantity::Quantity::is_zero) {
        return Ok(());
    }
    // Every quota must have room before any is charged.
    for (_, quota) in &interesting {
        charge(quota, &requested, r, name)?;
    }
    if dry {
        return Ok(());
    }
    let tracking = Tracking::Update {
        manager: MANAGER,
        subresource: Some("status"),
    };
    for (quota_name, _) in &interesting {
        // Each swap re-reads the quota and checks again: a create that raced this one and
        // charged it first may have taken the room.
        guaranteed_update(
            api,
            quotas_r,
            Some(ns),
            quota_name,
            Some("status"),
            None,
            false,
            &tracking,
            |cur| charge(cur, &requested, r, name),
        )
        .await?;
    }
    Ok(())
}
