//! A run's report page: one self-contained HTML file (inline CSS and SVG, no scripts) with the
//! run's facts and how to reproduce it, every checker's verdict and evidence, the timeline,
//! latency and rate plots, what each watcher saw, and links to the raw files beside it.

use std::fmt::Write;

use super::{esc, svg, word, RunResults, CSS};
use crate::history::{Validity, WatchLog, WatchMsg};

fn badge(v: Validity) -> String {
    format!(r#"<span class="badge {0}">{0}</span>"#, word(v))
}

/// The page for one run, written beside its `history.jsonl` and `results.json`.
pub fn run_page(results: &RunResults, ops: &[crate::history::Op], watches: &[WatchLog]) -> String {
    let (r, i) = (results, &results.info);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — {}</title><style>{CSS}</style></head><body>\n<h1>{} {}</h1>\n<p>started {} · capstan {}</p>\n<h2>Run</h2>\n<table>",
        esc(&i.name),
        word(r.valid),
        esc(&i.name),
        badge(r.valid),
        esc(&i.started),
        esc(&i.capstan_version),
    );
    let facts = [
        ("seed", i.seed.to_string()),
        ("nemesis", esc(&i.nemesis)),
        ("workload", esc(&i.workload)),
        ("replicas", i.replicas.to_string()),
        ("duration", format!("{:.1} s", i.duration_s)),
        (
            "operations",
            format!(
                "{} ({} ok, {} fail, {} info)",
                r.ops, r.ok, r.fail, r.indeterminate
            ),
        ),
        ("watch events", r.watch_events.to_string()),
        ("faults", r.faults.to_string()),
        ("reproduce", format!("<code>{}</code>", esc(&i.command))),
    ];
    for (k, v) in facts {
        let _ = write!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    out.push_str("</table>\n<h2>Verdicts</h2>\n<table><tr><th>checker</th><th>verdict</th><th>checked</th><th>explanation</th></tr>");
    for v in &r.verdicts {
        let excerpt = if v.excerpt.is_empty() {
            String::new()
        } else {
            format!("<pre>{}</pre>", esc(&v.excerpt.join("\n")))
        };
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td>{}{excerpt}</td></tr>"#,
            esc(&v.checker),
            badge(v.valid),
            v.checked,
            esc(&v.explanation)
        );
    }
    let _ = write!(
        out,
        "</table>\n<h2>Timeline</h2><div class=\"plot\">{}</div>\n<h2>Latency</h2><div class=\"plot\">{}</div>\n<h2>Throughput</h2><div class=\"plot\">{}</div>\n",
        svg::timeline(ops),
        svg::latency(ops),
        svg::rate(ops)
    );
    out.push_str("<h2>Watchers</h2>\n<table><tr><th>lane</th><th>prefix</th><th>messages</th><th>events</th><th>reopenings</th><th>last revision</th></tr>");
    for w in watches {
        let events: usize = w
            .msgs
            .iter()
            .map(|m| {
                if let WatchMsg::Events { events, .. } = m {
                    events.len()
                } else {
                    0
                }
            })
            .sum();
        let opens = w
            .msgs
            .iter()
            .filter(|m| matches!(m, WatchMsg::Open { .. }))
            .count();
        let last = w
            .msgs
            .iter()
            .filter_map(|m| match m {
                WatchMsg::Events { header_rev, .. } | WatchMsg::Progress { header_rev, .. } => {
                    Some(*header_rev)
                }
                _ => None,
            })
            .max()
            .map_or_else(|| "—".to_string(), |r| r.to_string());
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td><code>{}</code></td><td class="n">{}</td><td class="n">{events}</td><td class="n">{}</td><td class="n">{last}</td></tr>"#,
            esc(&w.lane),
            esc(&w.prefix),
            w.msgs.len(),
            opens.saturating_sub(1)
        );
    }
    out.push_str(
        "</table>\n<h2>Files</h2>\n<ul><li><a href=\"history.jsonl\">history.jsonl</a> — every operation and fault</li>\
<li><a href=\"results.json\">results.json</a> — these results</li>\
<li><a href=\"nodes/\">nodes/</a> — replica logs</li>\
<li><a href=\"ground-truth/\">ground-truth/</a> — replica dumps and the agreed history</li></ul>\n</body></html>\n",
    );
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::history::{EventKind, KvEvent, Verdict};
    use crate::report::RunInfo;

    pub(crate) fn results() -> RunResults {
        let verdicts = vec![
            Verdict::valid("linearizable-register", 4, "all reads linearizable"),
            Verdict::invalid(
                "watch-order",
                7,
                "event out of order",
                vec!["#3 <rev 5>".into()],
            ),
            Verdict::unknown("elle-append", 0, "time budget spent"),
        ];
        RunResults {
            info: RunInfo {
                name: "partition & kill".into(),
                seed: 42,
                nemesis: "partition".into(),
                workload: "register".into(),
                replicas: 3,
                started: "2026-01-02T03:04:05Z".into(),
                duration_s: 2.5,
                command: "capstan jepsen --seed 42 --nemesis partition".into(),
                capstan_version: "0.1.0".into(),
            },
            valid: RunResults::overall(&verdicts),
            verdicts,
            ops: 4,
            ok: 2,
            fail: 1,
            indeterminate: 1,
            watch_events: 1,
            faults: 1,
        }
    }

    #[test]
    fn page_has_verdicts_plots_watchers_and_links() {
        let ev = KvEvent {
            kind: EventKind::Put,
            key: "k1".into(),
            value: "1".into(),
            mod_rev: 5,
            create_rev: 5,
            version: 1,
            lease: 0,
            prev: None,
        };
        let watch = WatchLog {
            lane: "watch-0".into(),
            prefix: "/jepsen/".into(),
            msgs: vec![
                WatchMsg::Open {
                    time_ns: 0,
                    node: "n1".into(),
                    start_rev: 0,
                    prefix: "/jepsen/".into(),
                },
                WatchMsg::Events {
                    time_ns: 5,
                    header_rev: 5,
                    events: vec![ev],
                },
                WatchMsg::Broken {
                    time_ns: 6,
                    error: "eof".into(),
                },
                WatchMsg::Open {
                    time_ns: 7,
                    node: "n2".into(),
                    start_rev: 6,
                    prefix: "/jepsen/".into(),
                },
                WatchMsg::Progress {
                    time_ns: 8,
                    header_rev: 9,
                },
            ],
        };
        let p = run_page(&results(), &crate::report::svg::tests::sample(), &[watch]);
        assert!(p.starts_with("<!DOCTYPE html>") && p.ends_with("</html>\n"));
        for name in ["linearizable-register", "watch-order", "elle-append"] {
            assert!(p.contains(name), "{name}");
        }
        assert!(
            p.contains(r#"<h1>partition &amp; kill <span class="badge invalid">invalid</span>"#)
        );
        assert!(p.contains("<pre>#3 &lt;rev 5&gt;</pre>"));
        assert!(p.contains("<code>capstan jepsen --seed 42 --nemesis partition</code>"));
        assert_eq!(p.matches("<svg").count(), 3);
        assert!(p.contains(r#"<td>watch-0</td><td><code>/jepsen/</code></td><td class="n">5</td><td class="n">1</td><td class="n">1</td><td class="n">9</td>"#));
        for link in ["history.jsonl", "results.json", "nodes/", "ground-truth/"] {
            assert!(p.contains(&format!("href=\"{link}\"")), "{link}");
        }
    }
}
