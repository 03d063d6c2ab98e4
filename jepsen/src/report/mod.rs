//! The report pages of `capstan jepsen`: per run, one self-contained HTML page (facts, verdicts,
//! and three hand-written SVG plots of the history), and for a directory of runs an index page
//! and a Markdown fault matrix for the README. `results.json` holds a run's [`RunResults`].

use serde::{Deserialize, Serialize};

use crate::history::{Validity, Verdict};

pub mod html;
pub mod index;
pub mod svg;

/// What was run, and how to run it again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    pub name: String,
    pub seed: u64,
    pub nemesis: String,
    pub workload: String,
    pub replicas: usize,
    /// RFC 3339, UTC.
    pub started: String,
    pub duration_s: f64,
    /// The command line that reproduces the run.
    pub command: String,
    pub capstan_version: String,
}

/// A run's outcome, as `results.json` holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResults {
    pub info: RunInfo,
    pub valid: Validity,
    pub verdicts: Vec<Verdict>,
    pub ops: usize,
    pub ok: usize,
    pub fail: usize,
    pub indeterminate: usize,
    pub watch_events: usize,
    pub faults: usize,
}

impl RunResults {
    /// Invalid if any checker says so, else Unknown if any could not decide (or there are no
    /// verdicts at all: nothing checked is never a pass), else Valid.
    pub fn overall(verdicts: &[Verdict]) -> Validity {
        if verdicts.iter().any(|v| v.valid == Validity::Invalid) {
            Validity::Invalid
        } else if verdicts.is_empty() || verdicts.iter().any(|v| v.valid == Validity::Unknown) {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }
}

/// Escapes text for XML and HTML (content and double- or single-quoted attributes).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The word for a verdict ("valid", "invalid", "unknown"), also the CSS class suffix.
pub(crate) fn word(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

/// CSS rules shared by the run page and the index: verdict colours and tables.
pub(crate) const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.n{text-align:right}\
.valid{color:#fff;background:#2e9e44}.invalid{color:#fff;background:#d73a31}\
.unknown{color:#222;background:#e8a317}\
.badge{padding:.1em .5em;border-radius:.3em;font-weight:bold;text-transform:uppercase}\
pre,code{background:#f6f6f6;font-size:.85em}pre{padding:.4em;margin:.3em 0;overflow-x:auto}\
.plot{overflow-x:auto;margin-bottom:1.5em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_invalid_unknown_valid() {
        let ok = Verdict::valid("a", 1, "fine");
        let unk = Verdict::unknown("b", 1, "budget");
        let bad = Verdict::invalid("c", 1, "lost write", vec!["#1".into()]);
        assert_eq!(
            RunResults::overall(&[ok.clone(), unk.clone(), bad]),
            Validity::Invalid
        );
        assert_eq!(RunResults::overall(&[ok.clone(), unk]), Validity::Unknown);
        assert_eq!(RunResults::overall(&[ok.clone(), ok]), Validity::Valid);
        assert_eq!(RunResults::overall(&[]), Validity::Unknown);
    }

    #[test]
    fn esc_escapes_markup() {
        assert_eq!(esc(r#"a<b & "c">'"#), "a&lt;b &amp; &quot;c&quot;&gt;&#39;");
    }
}
