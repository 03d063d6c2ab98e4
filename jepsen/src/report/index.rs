//! The index of a directory of runs: every immediate subdirectory with a readable
//! `results.json` is a run. `index.html` shows the fault matrix (runs and verdicts by nemesis and
//! replica count) and every run, newest first; [`matrix_markdown`] gives the same matrix as
//! Markdown for the README. Unreadable or malformed results are skipped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};

use super::{esc, word, RunResults, CSS};
use crate::history::Validity;

/// One cell row of the fault matrix.
#[derive(Default)]
struct Row {
    runs: usize,
    valid: usize,
    invalid: usize,
    unknown: usize,
    ops: usize,
}

impl Row {
    fn add(&mut self, r: &RunResults) {
        self.runs += 1;
        self.ops += r.ops;
        match r.valid {
            Validity::Valid => self.valid += 1,
            Validity::Invalid => self.invalid += 1,
            Validity::Unknown => self.unknown += 1,
        }
    }
}

/// The runs under `root` as (directory name, results), newest first.
fn runs(root: &Path) -> std::io::Result<Vec<(String, RunResults)>> {
    let mut out: Vec<(String, RunResults)> = fs::read_dir(root)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let text = fs::read_to_string(e.path().join("results.json")).ok()?;
            let r = serde_json::from_str(&text).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), r))
        })
        .collect();
    out.sort_by(|a, b| {
        b.1.info
            .started
            .cmp(&a.1.info.started)
            .then_with(|| a.0.cmp(&b.0))
    });
    Ok(out)
}

/// The fault matrix by (nemesis, replicas), and the totals.
fn matrix(runs: &[(String, RunResults)]) -> (BTreeMap<(&str, usize), Row>, Row) {
    let (mut rows, mut total) = (BTreeMap::<(&str, usize), Row>::new(), Row::default());
    for (_, r) in runs {
        rows.entry((r.info.nemesis.as_str(), r.info.replicas))
            .or_default()
            .add(r);
        total.add(r);
    }
    (rows, total)
}

/// Percent-encodes a directory name for a relative link.
fn href(dir: &str) -> String {
    dir.bytes().fold(String::new(), |mut s, b| {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
        s
    })
}

/// Writes `root/index.html` for the runs under `root`; returns its path.
pub fn write_index(root: &Path) -> std::io::Result<PathBuf> {
    let runs = runs(root)?;
    let (rows, total) = matrix(&runs);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>capstan jepsen runs</title><style>{CSS}</style></head><body>\n<h1>capstan jepsen: {} runs</h1>\n<h2>By fault</h2>\n<table><tr><th>fault</th><th>replicas</th><th>runs</th><th>valid</th><th>invalid</th><th>unknown</th><th>ops checked</th></tr>",
        runs.len()
    );
    let cell = |n: usize, class: &str| {
        if n > 0 && !class.is_empty() {
            format!(r#"<td class="n {class}">{n}</td>"#)
        } else {
            format!(r#"<td class="n">{n}</td>"#)
        }
    };
    let tail = |row: &Row| {
        [
            (row.runs, ""),
            (row.valid, "valid"),
            (row.invalid, "invalid"),
            (row.unknown, "unknown"),
            (row.ops, ""),
        ]
        .map(|(n, c)| cell(n, c))
        .concat()
    };
    for ((nemesis, replicas), row) in &rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{replicas}</td>{}</tr>",
            esc(nemesis),
            tail(row)
        );
    }
    let _ = write!(out, "<tr><th>total</th><th></th>{}</tr></table>\n<h2>Runs</h2>\n<table><tr><th>started</th><th>run</th><th>nemesis</th><th>workload</th><th>replicas</th><th>seed</th><th>verdict</th><th>ops</th><th>duration</th></tr>", tail(&total));
    for (dir, r) in &runs {
        let i = &r.info;
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td><a href="{}/index.html">{}</a></td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td><span class="badge {v}">{v}</span></td><td class="n">{}</td><td class="n">{:.1} s</td></tr>"#,
            esc(&i.started),
            esc(&href(dir)),
            esc(&i.name),
            esc(&i.nemesis),
            esc(&i.workload),
            i.replicas,
            i.seed,
            r.ops,
            i.duration_s,
            v = word(r.valid),
        );
    }
    out.push_str("</table>\n</body></html>\n");
    let path = root.join("index.html");
    fs::write(&path, out)?;
    Ok(path)
}

/// The fault matrix of the runs under `root` as a Markdown table with a totals row.
pub fn matrix_markdown(root: &Path) -> std::io::Result<String> {
    let runs = runs(root)?;
    let (rows, t) = matrix(&runs);
    let mut out = String::from(
        "| fault | replicas | runs | valid | invalid | unknown | ops checked |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for ((nemesis, replicas), r) in &rows {
        let _ = writeln!(
            out,
            "| {} | {replicas} | {} | {} | {} | {} | {} |",
            nemesis.replace('|', "\\|"),
            r.runs,
            r.valid,
            r.invalid,
            r.unknown,
            r.ops
        );
    }
    let _ = writeln!(
        out,
        "| **total** | | {} | {} | {} | {} | {} |",
        t.runs, t.valid, t.invalid, t.unknown, t.ops
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Verdict;

    #[test]
    fn index_and_matrix_count_runs_and_skip_malformed() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let root =
            std::env::temp_dir().join(format!("capstan-report-{}-{nanos}", std::process::id()));
        let mut a = crate::report::html::tests::results(); // invalid, partition, 3 replicas
        a.info.started = "2026-01-01T00:00:00Z".into();
        a.ops = 100;
        let mut b = a.clone();
        b.info.name = "kill <b>".into();
        b.info.nemesis = "kill".into();
        b.info.started = "2026-01-02T00:00:00Z".into();
        b.verdicts = vec![Verdict::valid("linearizable-register", 200, "ok")];
        b.valid = RunResults::overall(&b.verdicts);
        b.ops = 200;
        for (dir, r) in [("run-a", &a), ("run b", &b)] {
            fs::create_dir_all(root.join(dir)).unwrap();
            fs::write(
                root.join(dir).join("results.json"),
                serde_json::to_string(r).unwrap(),
            )
            .unwrap();
        }
        fs::create_dir_all(root.join("run-bad")).unwrap();
        fs::write(root.join("run-bad/results.json"), "{not json").unwrap();
        fs::create_dir_all(root.join("run-empty")).unwrap();

        let path = write_index(&root).unwrap();
        assert_eq!(path, root.join("index.html"));
        let html = fs::read_to_string(&path).unwrap();
        assert!(html.contains(r#"<a href="run-a/index.html">partition &amp; kill</a>"#));
        assert!(html.contains(r#"<a href="run%20b/index.html">kill &lt;b&gt;</a>"#));
        assert!(!html.contains("run-bad") && !html.contains("run-empty"));
        // Newest first.
        assert!(html.find("run%20b").unwrap() < html.find("run-a").unwrap());
        assert!(html.contains("capstan jepsen: 2 runs"));

        let md = matrix_markdown(&root).unwrap();
        assert!(md.contains("| kill | 3 | 1 | 1 | 0 | 0 | 200 |"), "{md}");
        assert!(
            md.contains("| partition | 3 | 1 | 0 | 1 | 0 | 100 |"),
            "{md}"
        );
        assert!(
            md.ends_with("| **total** | | 2 | 1 | 1 | 0 | 300 |\n"),
            "{md}"
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_root_is_an_error() {
        assert!(write_index(Path::new("/nonexistent/capstan-report")).is_err());
    }
}
