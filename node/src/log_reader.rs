//! Reading CRI log files as the kubelet's `containerLogs` does: the records turned back into
//! the container's output, with `sinceSeconds`/`sinceTime`, `tailLines`, `timestamps` and
//! `limitBytes`, and `follow` reading what is appended until the container stops.

use k8s_openapi::jiff::Timestamp;

/// The options of a log request (`PodLogOptions`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub tail_lines: Option<usize>,
    pub since: Option<Timestamp>,
    pub timestamps: bool,
    pub limit_bytes: Option<usize>,
}

/// Why a query is refused (400, as the kubelet answers).
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BadOption(pub String);

impl LogOptions {
    /// Reads the query string of a `containerLogs` request.
    pub fn parse(query: &str, now: Timestamp) -> Result<LogOptions, BadOption> {
        let mut o = LogOptions::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            let flag = || v.is_empty() || v == "true" || v == "1";
            let number = |what: &str| {
                v.parse::<i64>()
                    .map_err(|_| BadOption(format!("invalid {what}: {v:?}")))
            };
            match k {
                "follow" => o.follow = flag(),
                "previous" => o.previous = flag(),
                "timestamps" => o.timestamps = flag(),
                "tailLines" => {
                    let n = number("tailLines")?;
                    o.tail_lines =
                        Some(usize::try_from(n).map_err(|_| {
                            BadOption(format!("tailLines must be 0 or more, not {n}"))
                        })?);
                }
                "limitBytes" => {
                    let n = number("limitBytes")?;
                    o.limit_bytes =
                        Some(usize::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                            BadOption(format!("limitBytes must be greater than 0, not {n}"))
                        })?);
                }
                "sinceSeconds" => {
                    let n = number("sinceSeconds")?;
                    if n < 1 {
                        return Err(BadOption(format!(
                            "sinceSeconds must be greater than 0, not {n}"
                        )));
                    }
                    o.since = now
                        .checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(n))
                        .ok();
                }
                "sinceTime" => {
                    o.since = Some(
                        v.parse::<Timestamp>()
                            .map_err(|_| BadOption(format!("invalid sinceTime: {v:?}")))?,
                    );
                }
                _ => {}
            }
        }
        Ok(o)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of output: when it was written and its bytes (with its newline when full).
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub at: Timestamp,
    pub text: Vec<u8>,
}

/// Parses complete records out of `data`; returns the lines and how many bytes were used
/// (an unterminated record at the end is left for later).
pub fn parse(data: &[u8]) -> (Vec<Line>, usize) {
    let mut lines = Vec::new();
    let mut used = 0;
    let mut pending: Option<Line> = None;
    let mut pending_used = 0;
    for rec in data.split_inclusive(|b| *b == b'\n') {
        if rec.last() != Some(&b'\n') {
            break;
        }
        let body = &rec[..rec.len() - 1];
        let mut parts = body.splitn(4, |b| *b == b' ');
        let (Some(ts), Some(_stream), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            used += rec.len();
            continue;
        };
        let content = parts.next().unwrap_or(&[]);
        let at = std::str::from_utf8(ts)
            .ok()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let line = pending.get_or_insert_with(|| Line {
            at,
            text: Vec::new(),
        });
        line.text.extend_from_slice(content);
        pending_used += rec.len();
        if tag == b"F" {
            line.text.push(b'\n');
            if let Some(l) = pending.take() {
                lines.push(l);
            }
            used += pending_used;
            pending_used = 0;
        }
    }
    (lines, used)
}

/// Renders `lines` as a response body with `opts` (`since`, `timestamps`); the caller applies
/// `tailLines` before and `limitBytes` after.
pub fn render(lines: &[Line], opts: &LogOptions) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        if opts.since.is_some_and(|s| l.at < s) {
            continue;
        }
        if opts.timestamps {
            out.extend_from_slice(format!("{} ", l.at).as_bytes());
        }
        out.extend_from_slice(&l.text);
    }
    out
}

/// The last `n` lines (all with `None`).
pub fn tail(lines: Vec<Line>, n: Option<usize>) -> Vec<Line> {
    match n {
        Some(n) if n < lines.len() => lines[lines.len() - n..].to_vec(),
        _ => lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cri_log::record;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn records_become_output_with_tail_since_and_timestamps() {
        let mut data = Vec::new();
        data.extend(record(ts(100), "stdout", b"one", true));
        data.extend(record(ts(200), "stderr", b"tw", false));
        data.extend(record(ts(201), "stderr", b"o", true));
        data.extend(record(ts(300), "stdout", b"three", true));
        data.extend(b"2026-01-01T00:00:00Z stdout F unfinish");
        let (lines, used) = parse(&data);
        assert_eq!(
            used,
            data.len() - "2026-01-01T00:00:00Z stdout F unfinish".len()
        );
        let all = render(&lines, &LogOptions::default());
        assert_eq!(String::from_utf8(all).unwrap(), "one\ntwo\nthree\n");
        let opts = LogOptions {
            since: Some(ts(150)),
            timestamps: true,
            ..LogOptions::default()
        };
        assert_eq!(
            String::from_utf8(render(&lines, &opts)).unwrap(),
            format!("{} two\n{} three\n", ts(200), ts(300))
        );
        let last = tail(lines, Some(1));
        assert_eq!(
            String::from_utf8(render(&last, &LogOptions::default())).unwrap(),
            "three\n"
        );
    }

    #[test]
    fn options_are_read_from_the_query_and_bad_ones_refused() {
        let now = ts(1000);
        let o = LogOptions::parse(
            "follow=true&tailLines=5&timestamps=1&sinceSeconds=10&limitBytes=99",
            now,
        )
        .unwrap();
        assert!(o.follow && o.timestamps && !o.previous);
        assert_eq!(
            (o.tail_lines, o.limit_bytes, o.since),
            (Some(5), Some(99), Some(ts(990)))
        );
        let o = LogOptions::parse("sinceTime=1970-01-01T00%3A01%3A40Z&previous=true", now).unwrap();
        assert_eq!(o.since, Some(ts(100)));
        assert!(o.previous);
        assert!(LogOptions::parse("tailLines=-1", now).is_err());
        assert!(LogOptions::parse("limitBytes=0", now).is_err());
        assert!(LogOptions::parse("sinceSeconds=x", now).is_err());
    }
}
