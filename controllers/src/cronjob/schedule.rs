//! Cron schedules as the cronjob controller reads them (robfig/cron's standard parser): five
//! fields — minute, hour, day of month, month, day of week — each `*`, a value, a range `a-b`,
//! a step `*/n` or `a-b/n`, or a list of those; month and weekday names (`jan`, `mon`); `7` as
//! Sunday; the `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and
//! `@hourly` macros; a `TZ=` or `CRON_TZ=` prefix naming the time zone. When both day fields
//! are restricted a day matching either runs (cron's rule).

use k8s_openapi::jiff::civil::DateTime;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Timestamp, ToSpan, Zoned};

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether the day-of-month / day-of-week field was `*` (or `?`).
    any_day: bool,
    any_weekday: bool,
    zone: Option<String>,
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(s: &str, names: &[&str], offset: u32) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + offset);
    }
    s.parse::<u32>().map_err(|_| {
        format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax")
    })
}

/// One field as a bit set over `min..=max`.
fn field(s: &str, min: u32, max: u32, names: &[&str], offset: u32) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, value(st, &[], 0)?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("step of range should be a positive number: {part}"));
        }
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, offset)?, value(b, names, offset)?)
        } else {
            let v = value(range, names, offset)?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("end of range ({hi}) above maximum ({max}): {part}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl Schedule {
    /// Parses a schedule; the error says what is wrong, as upstream's parser does.
    pub fn parse(spec: &str, time_zone: Option<&str>) -> Result<Schedule, String> {
        let mut spec = spec.trim();
        let mut zone = time_zone.map(String::from);
        for prefix in ["TZ=", "CRON_TZ="] {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (tz, rest) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| format!("provided bad location {rest}"))?;
                zone = Some(tz.to_string());
                spec = rest.trim();
            }
        }
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let f: Vec<&str> = expanded.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {spec}",
                f.len()
            ));
        }
        if let Some(z) = &zone {
            TimeZone::get(z).map_err(|_| format!("unknown time zone {z}"))?;
        }
        let mut weekdays = field(f[4], 0, 7, WEEKDAYS, 0)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Schedule {
            minutes: field(f[0], 0, 59, &[], 0)?,
            hours: field(f[1], 0, 23, &[], 0)?,
            days: field(f[2], 1, 31, &[], 0)?,
            months: field(f[3], 1, 12, MONTHS, 1)?,
            weekdays,
            any_day: f[2] == "*" || f[2] == "?",
            any_weekday: f[4] == "*" || f[4] == "?",
            zone,
        })
    }

    fn zone(&self) -> TimeZone {
        self.zone
            .as_deref()
            .and_then(|z| TimeZone::get(z).ok())
            .unwrap_or(TimeZone::UTC)
    }

    fn matches(&self, t: &DateTime) -> bool {
        let bit = |set: u64, v: i8| set & (1 << v) != 0;
        let day = bit(self.days, t.day());
        let weekday = bit(self.weekdays, t.weekday().to_sunday_zero_offset());
        let day_ok = match (self.any_day, self.any_weekday) {
            (false, false) => day || weekday,
            _ => day && weekday,
        };
        bit(self.minutes, t.minute())
            && bit(self.hours, t.hour())
            && bit(self.months, t.month())
            && day_ok
    }

    /// The first scheduled time strictly after `after` (searching up to five years).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let tz = self.zone();
        let start = after.to_zoned(tz.clone());
        let mut t: Zoned = start
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let limit = after
            .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(24 * 366 * 5))
            .ok()?;
        while t.timestamp() <= limit {
            let dt = t.datetime();
            if !self.matches(&dt) {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            return Some(t.timestamp());
        }
        None
    }

    /// The scheduled times in `(after, until]`, at most `cap` + 1 of them (more is "too many").
    pub fn times_between(&self, after: Timestamp, until: Timestamp, cap: usize) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut t = after;
        while let Some(n) = self.next_after(t) {
            if n > until || out.len() > cap {
                break;
            }
            out.push(n);
            t = n;
        }
        out
    }

    /// The schedule's zone's name, for the scheduled-timestamp annotation.
    pub fn format_in_zone(&self, t: Timestamp) -> String {
        t.to_zoned(self.zone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn steps_ranges_lists_and_names_parse_as_cron_reads_them() {
        let s = Schedule::parse("*/15 9-17 * jan,jul mon-fri", None).unwrap();
        // Thursday 2026-01-01 09:07 → 09:15 the same day.
        assert_eq!(
            s.next_after(ts("2026-01-01T09:07:00Z")),
            Some(ts("2026-01-01T09:15:00Z"))
        );
        // Friday 17:45 → Monday 09:00.
        assert_eq!(
            s.next_after(ts("2026-01-02T17:45:00Z")),
            Some(ts("2026-01-05T09:00:00Z"))
        );
        assert!(Schedule::parse("* * *", None).is_err());
        assert!(Schedule::parse("61 * * * *", None).is_err());
        assert!(Schedule::parse("*/0 * * * *", None).is_err());
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 13th, or any Friday.
        let s = Schedule::parse("0 0 13 * 5", None).unwrap();
        assert_eq!(
            s.next_after(ts("2026-02-01T00:00:00Z")),
            Some(ts("2026-02-06T00:00:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-02-12T00:00:00Z")),
            Some(ts("2026-02-13T00:00:00Z"))
        );
    }

    #[test]
    fn macros_and_time_zones() {
        let daily = Schedule::parse("@daily", None).unwrap();
        assert_eq!(
            daily.next_after(ts("2026-03-04T10:00:00Z")),
            Some(ts("2026-03-05T00:00:00Z"))
        );
        let times = Schedule::parse("@hourly", None).unwrap().times_between(
            ts("2026-03-04T10:30:00Z"),
            ts("2026-03-04T13:00:00Z"),
            100,
        );
        assert_eq!(times.len(), 3);
        if TimeZone::get("Asia/Tokyo").is_ok() {
            // Midnight in Tokyo is 15:00 UTC.
            let s = Schedule::parse("TZ=Asia/Tokyo 0 0 * * *", None).unwrap();
            assert_eq!(
                s.next_after(ts("2026-03-04T10:00:00Z")),
                Some(ts("2026-03-04T15:00:00Z"))
            );
        }
    }
}
