//! Printers for the `apps` and `batch` workload resources.

use jiff::Timestamp;
use serde_json::Value;

use super::{
    age, arr_at, at, col, container_cells, deleting, format_label_selector, format_labels,
    human_signed, int_at, label_selector_string, name, obj_at, opt_bool_at, opt_int_at, opt_str_at,
    since, str_at, time_at, Column, AGE, CONTAINERS, IMAGES, NAME, SELECTOR,
};

pub(super) const DEPLOYMENT: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready pods out of desired pods.", 0),
    col(
        "Up-to-date",
        "string",
        "Pods updated to the latest template.",
        0,
    ),
    col("Available", "string", "Pods available to serve.", 0),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) const REPLICASET: &[Column] = &[
    NAME,
    col("Desired", "integer", "Number of desired pods.", 0),
    col("Current", "integer", "Number of pods currently running.", 0),
    col("Ready", "integer", "Number of ready pods.", 0),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) const STATEFULSET: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready pods out of desired pods.", 0),
    AGE,
    CONTAINERS,
    IMAGES,
];

pub(super) const DAEMONSET: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        "Nodes that should run the daemon pod.",
        0,
    ),
    col(
        "Current",
        "integer",
        "Nodes running at least one daemon pod.",
        0,
    ),
    col("Ready", "integer", "Nodes whose daemon pod is ready.", 0),
    col(
        "Up-to-date",
        "integer",
        "Nodes running the updated daemon pod.",
        0,
    ),
    col(
        "Available",
        "integer",
        "Nodes whose daemon pod is available.",
        0,
    ),
    col(
        "Node Selector",
        "string",
        "Node labels the daemon pods are restricted to.",
        0,
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) const CONTROLLERREVISION: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        "The object controlling this revision.",
        0,
    ),
    col("Revision", "string", "Revision number of the state.", 0),
    AGE,
];

pub(super) const JOB: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job.", 0),
    col(
        "Completions",
        "string",
        "Succeeded pods out of required completions.",
        0,
    ),
    col(
        "Duration",
        "string",
        "Time the job took (or has been running).",
        0,
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) const CRONJOB: &[Column] = &[
    NAME,
    col("Schedule", "string", "Cron schedule of the job.", 0),
    col(
        "Timezone",
        "string",
        "Time zone the schedule is interpreted in.",
        0,
    ),
    col("Suspend", "boolean", "Whether new runs are suspended.", 0),
    col("Active", "integer", "Number of running jobs.", 0),
    col(
        "Last Schedule",
        "string",
        "Time since the job was last scheduled.",
        0,
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// `spec.replicas`, defaulted to 1 as the API server does.
fn desired_replicas(obj: &Value) -> i64 {
    opt_int_at(obj, &["spec", "replicas"]).unwrap_or(1)
}

pub(super) fn deployment(obj: &Value, now: Timestamp) -> Vec<Value> {
    let selector = match label_selector_string(at(obj, &["spec", "selector"])) {
        Ok(s) => s,
        Err(()) => "<invalid>".to_owned(),
    };
    let (names, images) = container_cells(at(obj, &["spec", "template", "spec"]));
    vec![
        name(obj),
        Value::from(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            desired_replicas(obj)
        )),
        Value::from(int_at(obj, &["status", "updatedReplicas"])),
        Value::from(int_at(obj, &["status", "availableReplicas"])),
        age(obj, now),
        names,
        images,
        Value::from(selector),
    ]
}

pub(super) fn replicaset(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(obj, &["spec", "template", "spec"]));
    vec![
        name(obj),
        Value::from(desired_replicas(obj)),
        Value::from(int_at(obj, &["status", "replicas"])),
        Value::from(int_at(obj, &["status", "readyReplicas"])),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

pub(super) fn statefulset(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(obj, &["spec", "template", "spec"]));
    vec![
        name(obj),
        Value::from(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            desired_replicas(obj)
        )),
        age(obj, now),
        names,
        images,
    ]
}

pub(super) fn daemonset(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(obj, &["spec", "template", "spec"]));
    vec![
        name(obj),
        Value::from(int_at(obj, &["status", "desiredNumberScheduled"])),
        Value::from(int_at(obj, &["status", "currentNumberScheduled"])),
        Value::from(int_at(obj, &["status", "numberReady"])),
        Value::from(int_at(obj, &["status", "updatedNumberScheduled"])),
        Value::from(int_at(obj, &["status", "numberAvailable"])),
        Value::from(format_labels(at(
            obj,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

pub(super) fn controllerrevision(obj: &Value, now: Timestamp) -> Vec<Value> {
    let controller = arr_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| opt_bool_at(r, &["controller"]) == Some(true))
        .map_or_else(
            || "<none>".to_owned(),
            |r| {
                let ref_name = str_at(r, &["name"]);
                let kind = str_at(r, &["kind"]);
                // The group is what precedes the version in apiVersion ("apps/v1"); core has none.
                let group = str_at(r, &["apiVersion"])
                    .rsplit_once('/')
                    .map_or("", |(g, _)| g);
                match (kind.is_empty(), group.is_empty()) {
                    (true, true) => ref_name.to_owned(),
                    (_, true) => format!("{}/{ref_name}", kind.to_lowercase()),
                    _ => format!(
                        "{}.{}/{ref_name}",
                        kind.to_lowercase(),
                        group.to_lowercase()
                    ),
                }
            },
        );
    vec![
        name(obj),
        Value::from(controller),
        Value::from(int_at(obj, &["revision"])),
        age(obj, now),
    ]
}

/// Whether the first job condition of `type_` has status True.
fn job_condition(obj: &Value, type_: &str) -> bool {
    arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

pub(super) fn job(obj: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int_at(obj, &["status", "succeeded"]);
    let completions = match opt_int_at(obj, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match opt_int_at(obj, &["spec", "parallelism"]).unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        time_at(obj, &["status", "startTime"]),
        time_at(obj, &["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_signed(now.duration_since(start)),
        (Some(start), Some(done)) => human_signed(done.duration_since(start)),
    };
    let status = if job_condition(obj, "Complete") {
        "Complete"
    } else if job_condition(obj, "Failed") {
        "Failed"
    } else if deleting(obj) {
        "Terminating"
    } else if job_condition(obj, "Suspended") {
        "Suspended"
    } else if job_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = container_cells(at(obj, &["spec", "template", "spec"]));
    vec![
        name(obj),
        Value::from(status),
        Value::from(completions),
        Value::from(duration),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

pub(super) fn cronjob(obj: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = match at(obj, &["status", "lastScheduleTime"]) {
        Some(_) => since(time_at(obj, &["status", "lastScheduleTime"]), now),
        None => "<none>".to_owned(),
    };
    let suspend = match opt_bool_at(obj, &["spec", "suspend"]) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let job_spec = obj_at(obj, &["spec", "jobTemplate", "spec"]);
    let (names, images) = container_cells(job_spec.and_then(|s| at(s, &["template", "spec"])));
    vec![
        name(obj),
        Value::from(str_at(obj, &["spec", "schedule"])),
        Value::from(opt_str_at(obj, &["spec", "timeZone"]).unwrap_or("<none>")),
        Value::from(suspend),
        super::count_cell(arr_at(obj, &["status", "active"]).len()),
        Value::from(last_schedule),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(
            job_spec.and_then(|s| at(s, &["selector"])),
        )),
    ]
}
