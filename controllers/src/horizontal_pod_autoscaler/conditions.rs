//! An HPA's status conditions and replica rules, as upstream's controller sets them: a
//! condition's transition time moves only when its status changes; the desired count is held
//! within [minReplicas, maxReplicas] and to at most double (at least 4) per step, with the
//! `ScalingLimited` condition saying which rule held it.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Sets condition `type_` in `list`, adding it if missing.
pub fn set(
    list: &mut Vec<HorizontalPodAutoscalerCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
) {
    let i = match list.iter().position(|c| c.type_ == type_) {
        Some(i) => i,
        None => {
            list.push(HorizontalPodAutoscalerCondition {
                type_: type_.into(),
                ..HorizontalPodAutoscalerCondition::default()
            });
            list.len() - 1
        }
    };
    let c = &mut list[i];
    if c.status != status {
        c.last_transition_time = Some(Time(Timestamp::now()));
    }
    c.status = status.into();
    c.reason = Some(reason.into());
    c.message = Some(message);
}

/// Upstream's scale-up cap: twice the current replicas, at least 4.
fn scale_up_limit(current: i32) -> i32 {
    current.saturating_mul(2).max(4)
}

/// The desired count held by the rules, with the `ScalingLimited` reason and message.
pub fn limit_desired(
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
) -> (i32, &'static str, &'static str) {
    let up = scale_up_limit(current);
    let (allowed_max, reason, message) = if max > up {
        (
            up,
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    } else {
        (
            max,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    };
    if desired < min {
        return (
            min,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        );
    }
    if desired > allowed_max {
        return (allowed_max, reason, message);
    }
    (
        desired,
        "DesiredWithinRange",
        "the desired count is within the acceptable range",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_moves_its_transition_time_only_when_its_status_changes() {
        let mut list = Vec::new();
        set(&mut list, "AbleToScale", "True", "A", "a".into());
        let first = list[0].last_transition_time.clone();
        set(&mut list, "AbleToScale", "True", "B", "b".into());
        assert_eq!(list[0].last_transition_time, first);
        assert_eq!(list[0].reason.as_deref(), Some("B"));
        set(&mut list, "ScalingActive", "False", "C", "c".into());
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn the_desired_count_stays_within_the_rules() {
        assert_eq!(limit_desired(3, 1, 2, 10).0, 2);
        assert_eq!(limit_desired(3, 1, 2, 10).1, "TooFewReplicas");
        assert_eq!(
            limit_desired(1, 9, 1, 10),
            (
                4,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate"
            )
        );
        assert_eq!(limit_desired(5, 20, 1, 8).1, "TooManyReplicas");
        assert_eq!(limit_desired(5, 6, 1, 8).1, "DesiredWithinRange");
    }
}
