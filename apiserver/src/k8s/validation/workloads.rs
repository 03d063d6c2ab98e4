//! Workload controllers: Deployment, ReplicaSet, ReplicationController,
//! StatefulSet, DaemonSet, Job and CronJob specs (selectors and their match
//! with template labels, replica counts, update strategies, restart
//! policies, cron schedules), and their update-time immutability rules.

use serde_json::Value;

use super::access::{
    at, boolean, child, int, key, obj, opt_s, present, s, semantic_eq, string_map,
};
use super::cron;
use super::field_error::{FieldError, FieldErrors};
use super::go_value;
use super::names::is_valid_percent;
use super::pod::{nonneg, validate_pod_template};
use super::selector;

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

fn template_labels_value(template: &Value) -> Value {
    at(at(template, "metadata"), "labels").clone()
}

fn template_labels(template: &Value) -> Vec<(String, String)> {
    string_map(at(template, "metadata"), "labels")
}

/// Selector checks shared by Deployment, ReplicaSet and StatefulSet:
/// required, well-formed, non-empty. Returns whether it can be used to match.
fn validate_required_selector(
    spec: &Value,
    path: &str,
    what: &str,
    errs: &mut FieldErrors,
) -> bool {
    let sel_path = child(path, "selector");
    let Some(sel) = spec.get("selector").filter(|v| !v.is_null()) else {
        errs.push(FieldError::required(&sel_path, ""));
        return false;
    };
    errs.extend(selector::validate_label_selector(sel, &sel_path));
    if selector::is_empty(sel) {
        errs.push(FieldError::invalid(
            &sel_path,
            sel.clone(),
            format!("empty selector is invalid for {what}"),
        ));
    }
    selector::is_well_formed(sel)
}

/// Whether the template's labels fail the selector. A missing selector
/// matches nothing (upstream converts nil to `labels.Nothing()`); an empty
/// one is not checked.
fn selector_mismatch(spec: &Value, template: &Value) -> bool {
    match spec.get("selector").filter(|v| !v.is_null()) {
        None => true,
        Some(sel) => {
            !selector::is_empty(sel) && !selector::matches(sel, &template_labels(template))
        }
    }
}

/// Template validation for ReplicaSet-like controllers: labels match the
/// selector, the pod template is valid, restartPolicy is Always and
/// activeDeadlineSeconds unset.
fn validate_template_for_replicaset(spec: &Value, path: &str, kind: &str, errs: &mut FieldErrors) {
    let tpath = child(path, "template");
    let template = at(spec, "template");
    if selector_mismatch(spec, template) {
        errs.push(FieldError::invalid_go(
            child(&child(&tpath, "metadata"), "labels"),
            template_labels_value(template),
            go_value::string_map(&template_labels_value(template)),
            SELECTOR_MISMATCH,
        ));
    }
    errs.extend(validate_pod_template(template, &tpath));
    validate_always_restart(template, &tpath, kind, errs);
}

fn validate_always_restart(template: &Value, tpath: &str, kind: &str, errs: &mut FieldErrors) {
    let tspec = at(template, "spec");
    let spath = child(tpath, "spec");
    let rp = s(tspec, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            child(&spath, "restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if present(tspec, "activeDeadlineSeconds") {
        errs.push(FieldError::forbidden(
            child(&spath, "activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

fn validate_positive_int_or_percent(v: &Value, path: &str) -> FieldErrors {
    match v {
        Value::String(p) => is_valid_percent(p)
            .into_iter()
            .map(|m| FieldError::invalid(path, v.clone(), m))
            .collect(),
        Value::Number(_) => match super::access::as_int(v) {
            Some(n) if n < 0 => vec![FieldError::invalid(
                path,
                n,
                "must be greater than or equal to 0",
            )],
            _ => Vec::new(),
        },
        Value::Null => Vec::new(),
        other => vec![FieldError::invalid(
            path,
            other.clone(),
            "must be an integer or percentage (e.g '5%')",
        )],
    }
}

fn int_or_percent_value(v: &Value) -> i64 {
    match v {
        Value::String(p) if is_valid_percent(p).is_empty() => {
            p.trim_end_matches('%').parse().unwrap_or(0)
        }
        Value::String(p) => p.parse().unwrap_or(0),
        other => super::access::as_int(other).unwrap_or(0),
    }
}

fn not_more_than_100_percent(v: &Value, path: &str) -> FieldErrors {
    match v {
        Value::String(p) if is_valid_percent(p).is_empty() && int_or_percent_value(v) > 100 => {
            vec![FieldError::invalid(
                path,
                v.clone(),
                "must not be greater than 100%",
            )]
        }
        _ => Vec::new(),
    }
}

/// Validates a Deployment's spec.
pub fn validate_deployment_spec(spec: &Value, path: &str) -> FieldErrors {
    let mut errs = nonneg(spec, "replicas", path);
    if validate_required_selector(spec, path, "deployment", &mut errs) || !present(spec, "selector")
    {
        validate_template_for_replicaset(spec, path, "ReplicaSet", &mut errs);
    } else {
        errs.push(FieldError::invalid(
            child(path, "selector"),
            at(spec, "selector").clone(),
            "invalid label selector",
        ));
    }
    let strategy = at(spec, "strategy");
    let spath = child(path, "strategy");
    match s(strategy, "type") {
        "Recreate" => {
            if present(strategy, "rollingUpdate") {
                errs.push(FieldError::forbidden(
                    child(&spath, "rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = at(strategy, "rollingUpdate");
            let rpath = child(&spath, "rollingUpdate");
            if ru.is_null() {
                errs.push(FieldError::required(
                    &rpath,
                    "this should be defaulted and never be nil",
                ));
            } else {
                let mu = at(ru, "maxUnavailable");
                let ms = at(ru, "maxSurge");
                errs.extend(validate_positive_int_or_percent(
                    mu,
                    &child(&rpath, "maxUnavailable"),
                ));
                errs.extend(validate_positive_int_or_percent(
                    ms,
                    &child(&rpath, "maxSurge"),
                ));
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    errs.push(FieldError::invalid(
                        child(&rpath, "maxUnavailable"),
                        mu.clone(),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(not_more_than_100_percent(
                    mu,
                    &child(&rpath, "maxUnavailable"),
                ));
            }
        }
        _ => errs.push(FieldError::not_supported(
            &spath,
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs.extend(nonneg(spec, "minReadySeconds", path));
    errs.extend(nonneg(spec, "revisionHistoryLimit", path));
    if let Some(pds) = int(spec, "progressDeadlineSeconds") {
        errs.extend(nonneg(spec, "progressDeadlineSeconds", path));
        if pds <= int(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                child(path, "progressDeadlineSeconds"),
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// Validates a ReplicaSet's spec.
pub fn validate_replicaset_spec(spec: &Value, path: &str) -> FieldErrors {
    let mut errs = nonneg(spec, "replicas", path);
    errs.extend(nonneg(spec, "minReadySeconds", path));
    if validate_required_selector(spec, path, "deployment", &mut errs) || !present(spec, "selector")
    {
        validate_template_for_replicaset(spec, path, "ReplicaSet", &mut errs);
    } else {
        errs.push(FieldError::invalid(
            child(path, "selector"),
            at(spec, "selector").clone(),
            "invalid label selector",
        ));
    }
    errs
}

/// Validates a ReplicationController's spec (map selector, defaulted from template labels).
pub fn validate_replication_controller_spec(spec: &Value, path: &str) -> FieldErrors {
    let mut errs = nonneg(spec, "replicas", path);
    errs.extend(nonneg(spec, "minReadySeconds", path));
    let sel = string_map(spec, "selector");
    let sel_path = child(path, "selector");
    if sel.is_empty() {
        errs.push(FieldError::required(&sel_path, ""));
    } else {
        errs.extend(super::names::validate_labels(&sel, &sel_path));
    }
    let tpath = child(path, "template");
    let template = at(spec, "template");
    if template.is_null() {
        errs.push(FieldError::required(&tpath, ""));
        return errs;
    }
    let labels = template_labels(template);
    if !sel.is_empty()
        && !sel
            .iter()
            .all(|(k, v)| labels.iter().any(|(a, b)| a == k && b == v))
    {
        errs.push(FieldError::invalid_go(
            child(&child(&tpath, "metadata"), "labels"),
            template_labels_value(template),
            go_value::string_map(&template_labels_value(template)),
            SELECTOR_MISMATCH,
        ));
    }
    errs.extend(validate_pod_template(template, &tpath));
    validate_always_restart(template, &tpath, "ReplicationController", &mut errs);
    errs
}

/// Validates a StatefulSet's spec (upstream checks only the template's labels and annotations, not its pod spec).
pub fn validate_statefulset_spec(spec: &Value, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let pmp = s(spec, "podManagementPolicy");
    match pmp {
        "" => errs.push(FieldError::required(child(path, "podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            child(path, "podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let us = at(spec, "updateStrategy");
    let upath = child(path, "updateStrategy");
    match s(us, "type") {
        "" => errs.push(FieldError::required(&upath, "")),
        "OnDelete" => {
            if present(us, "rollingUpdate") {
                errs.push(FieldError::invalid(
                    child(&upath, "rollingUpdate"),
                    at(us, "rollingUpdate").clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = at(us, "rollingUpdate");
            let rpath = child(&upath, "rollingUpdate");
            errs.extend(nonneg(ru, "partition", &rpath));
            if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                let mpath = child(&rpath, "maxUnavailable");
                errs.extend(validate_positive_int_or_percent(mu, &mpath));
                if int_or_percent_value(mu) == 0 {
                    errs.push(FieldError::invalid(&mpath, mu.clone(), "cannot be 0"));
                }
                errs.extend(not_more_than_100_percent(mu, &mpath));
            }
        }
        _ => errs.push(FieldError::invalid(
            &upath,
            us.clone(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = spec
        .get("persistentVolumeClaimRetentionPolicy")
        .filter(|v| !v.is_null())
    {
        let ppath = child(path, "persistentVolumeClaimRetentionPolicy");
        for f in ["whenDeleted", "whenScaled"] {
            let v = s(policy, f);
            if v != "Retain" && v != "Delete" {
                errs.push(FieldError::not_supported(
                    child(&ppath, f),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errs.extend(nonneg(spec, "replicas", path));
    errs.extend(nonneg(spec, "minReadySeconds", path));
    if let Some(start) = spec.get("ordinals").and_then(|o| int(o, "start")) {
        if start < 0 {
            errs.push(FieldError::invalid(
                child(path, "ordinals.start"),
                start,
                "must be greater than or equal to 0",
            ));
        }
    }
    let usable = validate_required_selector(spec, path, "statefulset", &mut errs);
    let tpath = child(path, "template");
    let template = at(spec, "template");
    if usable || !present(spec, "selector") {
        if selector_mismatch(spec, template) {
            errs.push(FieldError::invalid_go(
                child(&child(&tpath, "metadata"), "labels"),
                template_labels_value(template),
                go_value::string_map(&template_labels_value(template)),
                SELECTOR_MISMATCH,
            ));
        }
        errs.extend(super::meta::validate_template_meta(
            at(template, "metadata"),
            &tpath,
        ));
    } else {
        errs.push(FieldError::invalid(
            child(path, "selector"),
            at(spec, "selector").clone(),
            "",
        ));
    }
    validate_always_restart(template, &tpath, "StatefulSet", &mut errs);
    errs
}

/// Validates a DaemonSet's spec.
pub fn validate_daemonset_spec(spec: &Value, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let sel_path = child(path, "selector");
    let sel = at(spec, "selector");
    let tpath = child(path, "template");
    let template = at(spec, "template");
    if !sel.is_null() {
        errs.extend(selector::validate_label_selector(sel, &sel_path));
    }
    if (sel.is_null() || selector::is_well_formed(sel))
        && !selector::matches_or_nothing(sel, &template_labels(template))
    {
        errs.push(FieldError::invalid_go(
            child(&child(&tpath, "metadata"), "labels"),
            template_labels_value(template),
            go_value::string_map(&template_labels_value(template)),
            SELECTOR_MISMATCH,
        ));
    }
    if !sel.is_null() && selector::is_empty(sel) {
        errs.push(FieldError::invalid(
            &sel_path,
            sel.clone(),
            "empty selector is invalid for daemonset",
        ));
    }
    errs.extend(validate_pod_template(template, &tpath));
    validate_always_restart(template, &tpath, "DaemonSet", &mut errs);
    errs.extend(nonneg(spec, "minReadySeconds", path));
    errs.extend(nonneg(spec, "templateGeneration", path));
    let us = at(spec, "updateStrategy");
    let upath = child(path, "updateStrategy");
    match s(us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let ru = at(us, "rollingUpdate");
            let rpath = child(&upath, "rollingUpdate");
            if ru.is_null() {
                errs.push(FieldError::required(&rpath, ""));
            } else {
                let mu = at(ru, "maxUnavailable");
                let ms = at(ru, "maxSurge");
                errs.extend(validate_positive_int_or_percent(
                    mu,
                    &child(&rpath, "maxUnavailable"),
                ));
                errs.extend(validate_positive_int_or_percent(
                    ms,
                    &child(&rpath, "maxSurge"),
                ));
                errs.extend(not_more_than_100_percent(
                    mu,
                    &child(&rpath, "maxUnavailable"),
                ));
                errs.extend(not_more_than_100_percent(ms, &child(&rpath, "maxSurge")));
                let has_u = int_or_percent_value(mu) != 0;
                let has_s = int_or_percent_value(ms) != 0;
                if has_u && has_s {
                    errs.push(FieldError::invalid(
                        child(&rpath, "maxSurge"),
                        ms.clone(),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_u && !has_s {
                    errs.push(FieldError::required(
                        child(&rpath, "maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        }
        _ => errs.push(FieldError::not_supported(
            &upath,
            us.clone(),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    errs.extend(nonneg(spec, "revisionHistoryLimit", path));
    errs
}

/// Job spec checks shared by Jobs and CronJob job templates (no selector rules).
fn validate_job_spec_common(spec: &Value, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        errs.extend(nonneg(spec, f, path));
    }
    if let Some(mode) = opt_s(spec, "completionMode") {
        if mode != "NonIndexed" && mode != "Indexed" {
            errs.push(FieldError::not_supported(
                child(path, "completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" && !present(spec, "completions") {
            errs.push(FieldError::required(
                child(path, "completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    if let Some(prp) = opt_s(spec, "podReplacementPolicy") {
        if prp != "TerminatingOrFailed" && prp != "Failed" {
            errs.push(FieldError::not_supported(
                child(path, "podReplacementPolicy"),
                prp,
                &["TerminatingOrFailed", "Failed"],
            ));
        } else if present(spec, "podFailurePolicy") && prp != "Failed" {
            errs.push(FieldError::not_supported(
                child(path, "podReplacementPolicy"),
                prp,
                &["Failed"],
            ));
        }
    }
    errs
}

fn validate_job_template(spec: &Value, path: &str, errs: &mut FieldErrors) {
    let tpath = child(path, "template");
    let template = at(spec, "template");
    errs.extend(validate_pod_template(template, &tpath));
    let rp = s(at(template, "spec"), "restartPolicy");
    let rp_path = child(&child(&tpath, "spec"), "restartPolicy");
    if rp != "OnFailure" && rp != "Never" {
        errs.push(FieldError::not_supported(
            rp_path,
            rp,
            &["OnFailure", "Never"],
        ));
    } else if rp == "OnFailure" && present(spec, "podFailurePolicy") {
        errs.push(FieldError::invalid(
            rp_path,
            rp,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
}

/// Validates a Job (spec plus the generated-selector labels when the selector is not manual).
pub fn validate_job(job: &Value) -> FieldErrors {
    let spec = at(job, "spec");
    let path = "spec";
    let mut errs = validate_job_spec_common(spec, path);
    let sel_path = child(path, "selector");
    let template = at(spec, "template");
    let sel = at(spec, "selector");
    if sel.is_null() {
        errs.push(FieldError::required(&sel_path, ""));
    } else {
        errs.extend(selector::validate_label_selector(sel, &sel_path));
    }
    if (sel.is_null() || selector::is_well_formed(sel))
        && !selector::matches_or_nothing(sel, &template_labels(template))
    {
        errs.push(FieldError::invalid_go(
            "spec.template.metadata.labels",
            template_labels_value(template),
            go_value::string_map(&template_labels_value(template)),
            SELECTOR_MISMATCH,
        ));
    }
    validate_job_template(spec, path, &mut errs);
    let uid = s(at(job, "metadata"), "uid");
    if !boolean(spec, "manualSelector") && present(spec, "selector") && !uid.is_empty() {
        let name = s(at(job, "metadata"), "name");
        let tmeta = at(template, "metadata");
        let lpath = "spec.template.metadata.labels";
        for (k, want) in [
            ("controller-uid", uid),
            ("job-name", name),
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name),
        ] {
            match obj(tmeta, "labels")
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
            {
                None => errs.push(FieldError::required(
                    key(lpath, k),
                    format!("must be '{want}'"),
                )),
                Some(have) if have != want => errs.push(FieldError::invalid(
                    key(lpath, k),
                    have,
                    format!("must be '{want}'"),
                )),
                _ => {}
            }
        }
        let expected = serde_json::json!({ "batch.kubernetes.io/controller-uid": uid });
        if !semantic_eq(at(at(spec, "selector"), "matchLabels"), &expected) {
            errs.push(FieldError::invalid(
                &sel_path,
                at(spec, "selector").clone(),
                "`selector` not auto-generated",
            ));
        }
    }
    errs
}

/// Validates a CronJob: name length, schedule, concurrency policy, history limits and the job template.
pub fn validate_cronjob(cj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let name = s(at(cj, "metadata"), "name");
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    let spec = at(cj, "spec");
    let path = "spec";
    let schedule = s(spec, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required(child(path, "schedule"), ""));
    } else {
        if let Err(e) = cron::parse_standard(schedule) {
            errs.push(FieldError::invalid(child(path, "schedule"), schedule, e));
        }
        if schedule.contains("TZ") {
            errs.push(FieldError::invalid(
                child(path, "schedule"),
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    if let Some(tz) = opt_s(spec, "timeZone") {
        if tz.is_empty() || tz.contains(' ') || tz.starts_with('/') || tz.contains("..") {
            errs.push(FieldError::invalid(
                child(path, "timeZone"),
                tz,
                "unknown time zone",
            ));
        }
    }
    errs.extend(nonneg(spec, "startingDeadlineSeconds", path));
    match s(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required(child(path, "concurrencyPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(path, "concurrencyPolicy"),
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let jt = at(spec, "jobTemplate");
    let jpath = child(&child(path, "jobTemplate"), "spec");
    let jspec = at(jt, "spec");
    errs.extend(validate_job_spec_common(jspec, &jpath));
    validate_job_template(jspec, &jpath, &mut errs);
    if present(jspec, "selector") {
        errs.push(FieldError::invalid(
            child(&jpath, "selector"),
            at(jspec, "selector").clone(),
            "`selector` will be auto-generated",
        ));
    }
    if boolean(jspec, "manualSelector") {
        errs.push(FieldError::not_supported(
            child(&jpath, "manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    errs.extend(nonneg(spec, "successfulJobsHistoryLimit", path));
    errs.extend(nonneg(spec, "failedJobsHistoryLimit", path));
    errs
}

/// `spec.selector` must not change (Deployments, ReplicaSets, DaemonSets in apps/v1).
pub fn validate_selector_immutable(new: &Value, old: &Value) -> FieldErrors {
    let (n, o) = (
        at(at(new, "spec"), "selector"),
        at(at(old, "spec"), "selector"),
    );
    if semantic_eq(n, o) {
        Vec::new()
    } else {
        vec![FieldError::invalid_go(
            "spec.selector",
            n.clone(),
            go_value::label_selector(n),
            "field is immutable",
        )]
    }
}

/// StatefulSet updates may only touch replicas, ordinals, template, updateStrategy,
/// persistentVolumeClaimRetentionPolicy and minReadySeconds.
pub fn validate_statefulset_update(new: &Value, old: &Value) -> FieldErrors {
    let strip = |v: &Value| {
        let mut spec = at(v, "spec").clone();
        if let Some(m) = spec.as_object_mut() {
            for f in [
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            ] {
                m.remove(f);
            }
        }
        spec
    };
    if semantic_eq(&strip(new), &strip(old)) {
        Vec::new()
    } else {
        vec![FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        )]
    }
}

/// Job updates: selector, completionMode, podFailurePolicy, backoffLimitPerIndex,
/// completions and the pod template are immutable (scheduling directives and
/// template labels/annotations may change while the job is suspended and not started).
pub fn validate_job_update(new: &Value, old: &Value) -> FieldErrors {
    let (ns, os) = (at(new, "spec"), at(old, "spec"));
    let mut errs = Vec::new();
    for f in [
        "completions",
        "selector",
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
    ] {
        if !semantic_eq(at(ns, f), at(os, f)) {
            errs.push(FieldError::invalid(
                child("spec", f),
                at(ns, f).clone(),
                "field is immutable",
            ));
        }
    }
    let mut old_t = at(os, "template").clone();
    let new_t = at(ns, "template");
    let never_started = !present(at(old, "status"), "startTime");
    if boolean(ns, "suspend") && never_started {
        if let Some(m) = old_t.get_mut("spec").and_then(Value::as_object_mut) {
            for f in ["nodeSelector", "affinity", "tolerations", "schedulingGates"] {
                match at(new_t, "spec").get(f) {
                    Some(v) => m.insert(f.to_string(), v.clone()),
                    None => m.remove(f),
                };
            }
        }
        if let Some(m) = old_t.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in ["labels", "annotations"] {
                match at(new_t, "metadata").get(f) {
                    Some(v) => m.insert(f.to_string(), v.clone()),
                    None => m.remove(f),
                };
            }
        }
    }
    if !semantic_eq(new_t, &old_t) {
        errs.push(FieldError::invalid(
            "spec.template",
            new_t.clone(),
            "field is immutable",
        ));
    }
    errs
}
