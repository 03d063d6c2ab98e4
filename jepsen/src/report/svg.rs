//! Hand-written SVG plots of a history: a timeline (one lane per client process, one bar per
//! operation, faults as shaded bands), a latency scatter on a log scale, and the throughput per
//! second by function and outcome. Every plot shares the time axis and the fault bands; big
//! histories are thinned (every non-ok operation and every fault is always drawn).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;

use super::esc;
use crate::history::{describe, Call, Op, Outcome};

/// Width of every plot, and its margins.
const W: f64 = 1100.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
/// More client operations than this and the ok ones are thinned.
const MAX_OPS: usize = 4000;
/// The functions in legend order; a function's index picks its marker and line colour.
const FS: [&str; 7] = [
    "read",
    "write",
    "cas",
    "txn",
    "lease-put",
    "keep-alive",
    "revoke",
];
const F_COLORS: [&str; 7] = [
    "#1f77b4", "#d62728", "#9467bd", "#2ca02c", "#8c564b", "#e377c2", "#ff7f0e",
];
const FAULT_COLORS: [&str; 8] = [
    "#4363d8", "#e6194b", "#911eb4", "#f58231", "#469990", "#9a6324", "#808000", "#f032e6",
];
const OUTCOMES: [Outcome; 3] = [Outcome::Ok, Outcome::Fail, Outcome::Info];

fn outcome_color(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "#2e9e44",
        Outcome::Fail => "#d73a31",
        Outcome::Info => "#e8a317",
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    }
}

/// Dash pattern of an outcome's rate line.
fn outcome_dash(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "none",
        Outcome::Fail => "6 3",
        Outcome::Info => "2 2",
    }
}

fn f_index(f: &str) -> usize {
    FS.iter().position(|x| *x == f).unwrap_or(0)
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A short number for labels: no trailing zeros, at most three decimals.
fn num(x: f64) -> String {
    format!("{}", (x * 1000.0).round() / 1000.0)
}

/// Client operations: everything but the nemesis process and fault or admin steps.
fn clients(ops: &[Op]) -> Vec<&Op> {
    ops.iter()
        .filter(|o| !o.is_nemesis() && !matches!(o.call, Call::Nemesis { .. } | Call::Admin { .. }))
        .collect()
}

/// At most about [`MAX_OPS`] operations: all non-ok ones, and an even stride of the ok ones.
fn thin<'a>(ops: &[&'a Op]) -> Vec<&'a Op> {
    if ops.len() <= MAX_OPS {
        return ops.to_vec();
    }
    let non_ok = ops.iter().filter(|o| o.outcome != Outcome::Ok).count();
    let budget = MAX_OPS.saturating_sub(non_ok);
    let stride = if budget == 0 {
        usize::MAX
    } else {
        (ops.len() - non_ok).div_ceil(budget)
    };
    let mut n = 0usize;
    ops.iter()
        .filter(|o| {
            if o.outcome != Outcome::Ok {
                return true;
            }
            n += 1;
            budget > 0 && (n - 1).is_multiple_of(stride)
        })
        .copied()
        .collect()
}

/// The end of the time axis in seconds (at least one).
fn t_end(ops: &[Op]) -> f64 {
    ops.iter()
        .map(|o| secs(o.complete_ns.max(o.invoke_ns)))
        .fold(1.0, f64::max)
}

/// A fault: from its start's invocation to its stop's completion.
struct Band {
    name: String,
    detail: String,
    from: f64,
    to: f64,
}

/// Pairs nemesis starts and stops by name, in order. A start never stopped runs to the end; a
/// stop never started runs from zero.
fn bands(ops: &[Op], end: f64) -> Vec<Band> {
    let mut nem: Vec<&Op> = ops
        .iter()
        .filter(|o| matches!(o.call, Call::Nemesis { .. }))
        .collect();
    nem.sort_by_key(|o| (o.invoke_ns, o.index));
    let mut open: HashMap<&str, VecDeque<(&Op, &str)>> = HashMap::new();
    let mut out = Vec::new();
    for op in nem {
        let Call::Nemesis {
            name,
            phase,
            detail,
        } = &op.call
        else {
            continue;
        };
        match phase.as_str() {
            "start" => open.entry(name).or_default().push_back((op, detail)),
            "stop" => {
                let start = open.get_mut(name.as_str()).and_then(VecDeque::pop_front);
                out.push(Band {
                    name: name.clone(),
                    detail: start.map_or_else(|| detail.clone(), |s| s.1.to_string()),
                    from: start.map_or(0.0, |s| secs(s.0.invoke_ns)),
                    to: secs(op.complete_ns),
                });
            }
            _ => {}
        }
    }
    for (name, starts) in open {
        for (op, detail) in starts {
            let (name, detail) = (name.to_string(), detail.to_string());
            out.push(Band {
                name,
                detail,
                from: secs(op.invoke_ns),
                to: end,
            });
        }
    }
    out.sort_by(|a, b| a.from.total_cmp(&b.from).then_with(|| a.name.cmp(&b.name)));
    out
}

/// A plot area: time from 0 to `end` across `w` pixels from `x0`, `h` pixels down from `y0`.
struct Frame {
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    end: f64,
}

impl Frame {
    fn new(end: f64, h: f64) -> Frame {
        Frame {
            x0: LEFT,
            y0: TOP,
            w: W - LEFT - RIGHT,
            h,
            end,
        }
    }

    fn x(&self, t: f64) -> f64 {
        self.x0 + t.clamp(0.0, self.end) / self.end * self.w
    }

    fn bottom(&self) -> f64 {
        self.y0 + self.h
    }

    /// The fault bands behind the data, each with its name on top and a tooltip.
    /// Colours are per fault name (in name order), the same in every plot of a run.
    fn bands(&self, out: &mut String, bands: &[Band]) {
        let mut names: Vec<&str> = bands.iter().map(|b| b.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for (i, b) in bands.iter().enumerate() {
            let (x1, x2) = (self.x(b.from), self.x(b.to));
            let c = names
                .iter()
                .position(|n| *n == b.name.as_str())
                .unwrap_or(0);
            let c = FAULT_COLORS[c % FAULT_COLORS.len()];
            let _ = write!(
                out,
                r#"<rect class="band" x="{x1:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{c}" fill-opacity="0.15"><title>{} {}s..{}s {}</title></rect><text x="{:.1}" y="{:.1}" font-size="10" fill="{c}">{}</text>"#,
                self.y0,
                (x2 - x1).max(1.0),
                self.h,
                esc(&b.name),
                num(b.from),
                num(b.to),
                esc(&b.detail),
                x1 + 2.0,
                self.y0 - 4.0 - 11.0 * (i % 2) as f64,
                esc(&b.name),
            );
        }
    }

    /// The time axis along the bottom, with a tick about every tenth of the range.
    fn x_axis(&self, out: &mut String) {
        let (b, step) = (self.bottom(), nice_step(self.end, 10.0));
        let _ = write!(
            out,
            r##"<line x1="{:.1}" y1="{b:.1}" x2="{:.1}" y2="{b:.1}" stroke="#444"/>"##,
            self.x0,
            self.x0 + self.w
        );
        for t in (0..)
            .map(|i| i as f64 * step)
            .take_while(|t| *t <= self.end + 1e-9)
        {
            let x = self.x(t);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="{b:.1}" x2="{x:.1}" y2="{:.1}" stroke="#444"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
                b + 4.0,
                b + 16.0,
                num(t)
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">time (s)</text>"#,
            self.x0 + self.w / 2.0,
            b + 32.0
        );
    }

    /// The value axis on the left: ticks at (pixel y, label), with faint grid lines.
    fn y_axis(&self, out: &mut String, ticks: &[(f64, String)], label: &str) {
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#444"/>"##,
            self.y0,
            self.bottom(),
            x = self.x0
        );
        for (y, l) in ticks {
            let _ = write!(
                out,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#444"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
                self.x0,
                self.x0 + self.w,
                self.x0 - 4.0,
                self.x0,
                self.x0 - 6.0,
                y + 4.0,
                esc(l)
            );
        }
        let (x, y) = (self.x0 - 56.0, self.y0 + self.h / 2.0);
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 {x:.1} {y:.1})">{}</text>"#,
            esc(label)
        );
    }
}

/// A round step (1, 2 or 5 times a power of ten) giving about `n` ticks over `range`.
fn nice_step(range: f64, n: f64) -> f64 {
    let raw = (range / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// A marker shape (by function index) centred on (x, y), as path data.
fn marker(shape: usize, x: f64, y: f64) -> String {
    let r = 3.5;
    match shape % FS.len() {
        0 => format!(
            "M{:.1} {y:.1}a{r} {r} 0 1 0 {} 0a{r} {r} 0 1 0 -{} 0",
            x - r,
            2.0 * r,
            2.0 * r
        ),
        1 => format!(
            "M{:.1} {:.1}h{}v{}h-{}z",
            x - r,
            y - r,
            2.0 * r,
            2.0 * r,
            2.0 * r
        ),
        2 => format!(
            "M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}z",
            y - r,
            x + r,
            y + r,
            x - r,
            y + r
        ),
        3 => format!(
            "M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}z",
            y - r,
            x + r,
            y + r,
            x - r
        ),
        4 => format!(
            "M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}z",
            y + r,
            x + r,
            y - r,
            x - r,
            y - r
        ),
        5 => format!(
            "M{:.1} {y:.1}L{:.1} {:.1}L{:.1} {:.1}z",
            x - r,
            x + r,
            y - r,
            x + r,
            y + r
        ),
        _ => format!(
            "M{:.1} {y:.1}L{:.1} {:.1}L{:.1} {:.1}z",
            x + r,
            x - r,
            y - r,
            x - r,
            y + r
        ),
    }
}

/// A legend entry's swatch.
enum Swatch {
    Fill(&'static str),
    Shape(usize),
    Line(&'static str, &'static str),
}

/// Lays out a legend in rows from `y`, wrapping at the plot's width; returns the y below it.
fn legend(out: &mut String, y: f64, items: &[(Swatch, String)]) -> f64 {
    let (mut x, mut y) = (LEFT, y);
    for (swatch, label) in items {
        let width = 22.0 + 6.5 * label.chars().count() as f64 + 14.0;
        if x + width > W - RIGHT && x > LEFT {
            (x, y) = (LEFT, y + 16.0);
        }
        let _ = match swatch {
            Swatch::Fill(c) => {
                write!(
                    out,
                    r#"<rect x="{x:.1}" y="{:.1}" width="12" height="10" fill="{c}"/>"#,
                    y - 9.0
                )
            }
            Swatch::Shape(s) => {
                write!(
                    out,
                    r##"<path d="{}" fill="#555"/>"##,
                    marker(*s, x + 6.0, y - 4.0)
                )
            }
            Swatch::Line(c, d) => write!(
                out,
                r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{c}" stroke-width="2" stroke-dasharray="{d}"/>"#,
                y - 4.0,
                x + 16.0,
                y - 4.0
            ),
        };
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{y:.1}" font-size="11">{}</text>"#,
            x + 20.0,
            esc(label)
        );
        x += width;
    }
    y + 10.0
}

/// Wraps a plot's body in an `<svg>` element of the given height.
fn svg(class: &str, height: f64, body: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="{class}" width="{W}" height="{height:.0}" viewBox="0 0 {W} {height:.0}" font-family="sans-serif">{body}</svg>"#
    )
}

/// A note under the axis when operations were left out.
fn thinned_note(out: &mut String, y: f64, shown: usize, total: usize) -> f64 {
    if shown == total {
        return y;
    }
    let _ = write!(
        out,
        r##"<text x="{LEFT}" y="{:.1}" font-size="11" fill="#666">showing {shown} of {total} operations (all non-ok ones)</text>"##,
        y + 14.0
    );
    y + 20.0
}

/// One lane per client process, one bar per operation from invocation to completion (green ok,
/// red fail, amber info with a dashed arrow to the end: it may take effect any time later),
/// faults as shaded bands and admin steps as thin vertical lines.
pub fn timeline(ops: &[Op]) -> String {
    let end = t_end(ops);
    let client = clients(ops);
    let shown = thin(&client);
    let mut lanes: Vec<(&str, u64)> = client
        .iter()
        .map(|o| (o.lane.as_str(), o.process))
        .collect();
    lanes.sort_unstable();
    lanes.dedup();
    let row: HashMap<(&str, u64), usize> = lanes.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let row_h = (900.0 / lanes.len().max(1) as f64).clamp(2.0, 16.0);
    let f = Frame::new(end, row_h * lanes.len().max(1) as f64);
    let mut out = String::from(
        r##"<defs><marker id="tl-arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" orient="auto"><path d="M0 0L6 3L0 6z" fill="#e8a317"/></marker></defs>"##,
    );
    f.bands(&mut out, &bands(ops, end));
    for (i, (lane, process)) in lanes.iter().enumerate() {
        let y = f.y0 + i as f64 * row_h;
        if i % 2 == 1 {
            let _ = write!(
                &mut out,
                r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{row_h:.1}" fill="#000" fill-opacity="0.03"/>"##,
                f.x0, f.w
            );
        }
        if row_h >= 8.0 {
            let _ = write!(
                &mut out,
                r#"<text x="{:.1}" y="{:.1}" font-size="{:.0}" text-anchor="end">{} p{process}</text>"#,
                f.x0 - 4.0,
                y + row_h * 0.75,
                row_h.min(11.0),
                esc(lane)
            );
        }
    }
    for op in ops.iter().filter(|o| matches!(o.call, Call::Admin { .. })) {
        let x = f.x(secs(op.invoke_ns));
        let _ = write!(
            &mut out,
            r##"<line class="admin" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#555" stroke-width="1" stroke-dasharray="3 2"><title>{}</title></line>"##,
            f.y0,
            f.bottom(),
            esc(&describe(op))
        );
    }
    let pad = if row_h >= 4.0 { 1.0 } else { 0.0 };
    for op in &shown {
        let Some(&r) = row.get(&(op.lane.as_str(), op.process)) else {
            continue;
        };
        let (x1, x2) = (f.x(secs(op.invoke_ns)), f.x(secs(op.complete_ns)));
        let y = f.y0 + r as f64 * row_h + pad;
        let h = row_h - 2.0 * pad;
        let _ = write!(
            &mut out,
            r#"<rect class="op" x="{x1:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}</title></rect>"#,
            (x2 - x1).max(1.0),
            outcome_color(op.outcome),
            esc(&describe(op))
        );
        if op.outcome == Outcome::Info {
            let ym = y + h / 2.0;
            let _ = write!(
                &mut out,
                r##"<line x1="{:.1}" y1="{ym:.1}" x2="{:.1}" y2="{ym:.1}" stroke="#e8a317" stroke-dasharray="4 3" marker-end="url(#tl-arrow)"/>"##,
                x2.max(x1 + 1.0),
                f.x0 + f.w
            );
        }
    }
    f.x_axis(&mut out);
    let y = legend(
        &mut out,
        f.bottom() + 52.0,
        &OUTCOMES.map(|o| (Swatch::Fill(outcome_color(o)), outcome_name(o).to_string())),
    );
    let y = thinned_note(&mut out, y, shown.len(), client.len());
    svg("timeline", y + 6.0, &out)
}

/// Latency (ms, log scale) of every client operation against its invocation time, coloured by
/// outcome, marker shape by function, faults behind.
pub fn latency(ops: &[Op]) -> String {
    let end = t_end(ops);
    let client = clients(ops);
    let shown = thin(&client);
    let ms = |o: &Op| o.complete_ns.saturating_sub(o.invoke_ns) as f64 / 1e6;
    let lo = -0.5;
    let hi = client
        .iter()
        .map(|o| ms(o).log10() + 0.3)
        .fold(4.5, f64::max);
    let f = Frame::new(end, 360.0);
    let y = |v: f64| f.bottom() - (v.max(10f64.powf(lo)).log10() - lo) / (hi - lo) * f.h;
    let mut out = String::new();
    f.bands(&mut out, &bands(ops, end));
    let ticks: Vec<(f64, String)> = (0..=hi.floor() as i32)
        .map(|e| (y(10f64.powi(e)), format!("{}", 10u64.pow(e as u32))))
        .collect();
    f.y_axis(&mut out, &ticks, "latency (ms)");
    for op in &shown {
        let _ = write!(
            &mut out,
            r#"<path class="pt" d="{}" fill="{}" fill-opacity="0.75"><title>{}</title></path>"#,
            marker(f_index(op.call.f()), f.x(secs(op.invoke_ns)), y(ms(op))),
            outcome_color(op.outcome),
            esc(&describe(op))
        );
    }
    f.x_axis(&mut out);
    let mut items: Vec<(Swatch, String)> = OUTCOMES
        .iter()
        .filter(|o| client.iter().any(|c| c.outcome == **o))
        .map(|o| {
            (
                Swatch::Fill(outcome_color(*o)),
                outcome_name(*o).to_string(),
            )
        })
        .collect();
    items.extend(
        FS.iter()
            .enumerate()
            .filter(|(_, name)| client.iter().any(|c| c.call.f() == **name))
            .map(|(i, name)| (Swatch::Shape(i), name.to_string())),
    );
    let y = legend(&mut out, f.bottom() + 52.0, &items);
    let y = thinned_note(&mut out, y, shown.len(), client.len());
    svg("latency", y + 6.0, &out)
}

/// Completions per second (1 s buckets) over time, one line per (function, outcome) with any
/// data: colour by function, dash by outcome; faults behind.
pub fn rate(ops: &[Op]) -> String {
    let end = t_end(ops);
    let buckets = end.ceil() as usize;
    let mut series: BTreeMap<(usize, usize), Vec<u32>> = BTreeMap::new();
    for op in clients(ops) {
        let o = OUTCOMES.iter().position(|x| *x == op.outcome).unwrap_or(0);
        let b = (secs(op.complete_ns) as usize).min(buckets.saturating_sub(1));
        let counts = series
            .entry((f_index(op.call.f()), o))
            .or_insert_with(|| vec![0; buckets]);
        if let Some(c) = counts.get_mut(b) {
            *c += 1;
        }
    }
    let max = series.values().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let step = nice_step(max, 6.0);
    let top = (max / step).ceil() * step;
    let f = Frame::new(end, 300.0);
    let y = |v: f64| f.bottom() - v / top * f.h;
    let mut out = String::new();
    f.bands(&mut out, &bands(ops, end));
    let ticks: Vec<(f64, String)> = (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= top + 1e-9)
        .map(|v| (y(v), num(v)))
        .collect();
    f.y_axis(&mut out, &ticks, "ops/s");
    let mut items = Vec::new();
    for ((fi, oi), counts) in &series {
        let (c, d) = (
            F_COLORS[*fi % F_COLORS.len()],
            outcome_dash(OUTCOMES[*oi % 3]),
        );
        let points: Vec<String> = counts
            .iter()
            .enumerate()
            .map(|(b, n)| format!("{:.1},{:.1}", f.x(b as f64 + 0.5), y(f64::from(*n))))
            .collect();
        let label = format!("{} {}", FS[*fi % FS.len()], outcome_name(OUTCOMES[*oi % 3]));
        let _ = write!(
            &mut out,
            r#"<polyline class="series" points="{}" fill="none" stroke="{c}" stroke-width="1.5" stroke-dasharray="{d}"><title>{}</title></polyline>"#,
            points.join(" "),
            esc(&label)
        );
        items.push((Swatch::Line(c, d), label));
    }
    f.x_axis(&mut out);
    let y = legend(&mut out, f.bottom() + 52.0, &items);
    svg("rate", y + 6.0, &out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::history::NEMESIS;

    fn op(index: usize, process: u64, call: Call, outcome: Outcome, t: (u64, u64)) -> Op {
        let nem = process == NEMESIS;
        Op {
            index,
            process,
            lane: if nem {
                "nemesis".into()
            } else {
                format!("register-{}", process % 2)
            },
            node: if nem { String::new() } else { "n1".into() },
            call,
            outcome,
            invoke_ns: t.0 * 1_000_000,
            complete_ns: t.1 * 1_000_000,
            rev: 0,
            error: (outcome != Outcome::Ok).then(|| "timeout".to_string()),
        }
    }

    /// Four client ops (ok, fail, info, ok on a key with `<`), a partition start/stop pair, and
    /// an admin step; times in ms.
    pub(crate) fn sample() -> Vec<Op> {
        let nem = |phase: &str| Call::Nemesis {
            name: "partition".into(),
            phase: phase.into(),
            detail: "n1 | n2 n3".into(),
        };
        vec![
            op(
                0,
                0,
                Call::Write {
                    key: "k1".into(),
                    value: 1,
                },
                Outcome::Ok,
                (10, 25),
            ),
            op(
                1,
                1,
                Call::Read {
                    key: "k1".into(),
                    seen: None,
                },
                Outcome::Fail,
                (20, 40),
            ),
            op(2, NEMESIS, nem("start"), Outcome::Info, (500, 510)),
            op(
                3,
                0,
                Call::Cas {
                    key: "k1".into(),
                    expect_mod_rev: 2,
                    value: 3,
                    succeeded: None,
                },
                Outcome::Info,
                (600, 1600),
            ),
            op(
                4,
                2,
                Call::Write {
                    key: "a<b".into(),
                    value: 4,
                },
                Outcome::Ok,
                (700, 705),
            ),
            op(5, NEMESIS, nem("stop"), Outcome::Info, (1800, 1810)),
            op(
                6,
                NEMESIS,
                Call::Admin {
                    what: "compact".into(),
                    detail: "rev 3".into(),
                },
                Outcome::Ok,
                (2000, 2001),
            ),
        ]
    }

    fn well_formed(s: &str) {
        assert!(s.starts_with("<svg"), "{s}");
        assert!(s.ends_with("</svg>"), "{s}");
        assert!(
            !s.contains("NaN") && !s.contains("inf\"") && !s.contains("inf "),
            "{s}"
        );
        assert_eq!(s.matches("<title>").count(), s.matches("</title>").count());
    }

    #[test]
    fn timeline_draws_ops_bands_admin_and_escapes() {
        let s = timeline(&sample());
        well_formed(&s);
        assert_eq!(s.matches(r#"class="op""#).count(), 4);
        assert_eq!(s.matches(r#"class="band""#).count(), 1);
        assert_eq!(s.matches(r#"class="admin""#).count(), 1);
        assert!(s.contains(">partition</text>"));
        assert!(s.contains("marker-end")); // the info op's open end
        assert!(s.contains("a&lt;b") && !s.contains("a<b"));
        assert!(s.contains("register-0 p0"));
    }

    #[test]
    fn latency_and_rate_are_well_formed() {
        let l = latency(&sample());
        well_formed(&l);
        assert_eq!(l.matches(r#"class="pt""#).count(), 4);
        for tick in [
            ">1<",
            ">10<",
            ">100<",
            ">1000<",
            ">10000<",
            ">partition<",
            ">cas<",
            ">info<",
        ] {
            assert!(l.contains(tick), "{tick}");
        }
        assert!(l.contains("a&lt;b") && !l.contains("a<b"));
        let r = rate(&sample());
        well_formed(&r);
        // write ok, read fail, cas info.
        assert_eq!(r.matches(r#"class="series""#).count(), 3);
        assert!(r.contains(">write ok<") && r.contains(">read fail<") && r.contains(">partition<"));
    }

    #[test]
    fn unpaired_faults_and_empty_history() {
        let mut ops = sample();
        ops.truncate(5); // the partition never stops: band to the end
        let b = bands(&ops, 2.0);
        assert_eq!((b.len(), b[0].to), (1, 2.0));
        for s in [timeline(&[]), latency(&[]), rate(&[])] {
            well_formed(&s);
        }
    }

    #[test]
    fn big_histories_are_thinned_but_keep_non_ok() {
        let mut ops: Vec<Op> = (0..10_000u64)
            .map(|i| {
                let o = if i % 100 == 0 {
                    Outcome::Fail
                } else {
                    Outcome::Ok
                };
                op(
                    i as usize,
                    i % 8,
                    Call::Write {
                        key: "k".into(),
                        value: i as i64,
                    },
                    o,
                    (i, i + 1),
                )
            })
            .collect();
        ops.extend(sample().into_iter().filter(|o| o.is_nemesis()));
        let s = timeline(&ops);
        well_formed(&s);
        let n = s.matches(r#"class="op""#).count();
        assert!((3000..=4100).contains(&n), "{n}");
        assert_eq!(s.matches(r##"fill="#d73a31"><title>"##).count(), 100);
        assert_eq!(s.matches(r#"class="band""#).count(), 1);
        assert!(s.contains("showing"));
    }
}
