//! How long the search checkers take on the valid histories their unit tests check (the tests
//! used to bound these times, which a loaded machine broke; a figure belongs here). Run through
//! `bench/checkers.sh [elle] [wgl]` (default: both). Prints one markdown table row per checker:
//! the fastest and the median of a few runs, next to the bound the test used to assert.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use capstan_jepsen::check::elle::check_append;
use capstan_jepsen::check::wgl::check_registers;
use capstan_jepsen::history::{Call, Mop, Op, Outcome, Seen, Validity, Verdict};

const MS: u64 = 1_000_000;
/// Runs of each checker.
const RUNS: usize = 5;
/// The search budget: far beyond any time measured here, so a verdict is never "unknown".
const BUDGET: Duration = Duration::from_secs(600);

fn op(index: usize, lane: &str, call: Call, outcome: Outcome, ms: (u64, u64), rev: i64) -> Op {
    Op {
        index,
        process: index as u64,
        lane: lane.into(),
        node: "n1".into(),
        call,
        outcome,
        invoke_ns: ms.0 * MS,
        complete_ns: ms.1 * MS,
        rev,
        error: None,
    }
}

/// 2,000 list-append transactions, each appending to `x` and reading all of `x` so far and the
/// empty `y` (elle.rs's `long_valid_history_is_valid`).
fn append_history() -> Vec<Op> {
    let mut ops = Vec::new();
    let mut list = Vec::new();
    for i in 0..2000i64 {
        list.push(i);
        let mops = vec![
            Mop::Append {
                key: "x".into(),
                value: i,
            },
            Mop::Read {
                key: "x".into(),
                list: Some(list.clone()),
            },
            Mop::Read {
                key: "y".into(),
                list: Some(Vec::new()),
            },
        ];
        let t = i as u64 * 2;
        let index = ops.len();
        ops.push(op(
            index,
            "append-0",
            Call::Txn { mops },
            Outcome::Ok,
            (t, t + 3),
            0,
        ));
    }
    ops
}

/// 100 rounds on one register of a write, two reads of it and an indeterminate write of a value
/// nobody reads (wgl.rs's `few_hundred_ops_are_valid`).
fn register_history() -> Vec<Op> {
    let mut ops = Vec::new();
    let mut push = |call: Call, outcome: Outcome, ms: (u64, u64), rev: i64| {
        let index = ops.len();
        ops.push(op(index, "register-0", call, outcome, ms, rev));
    };
    let write = |value: i64| Call::Write {
        key: "a".into(),
        value,
    };
    let read = |value: i64, mod_rev: i64| Call::Read {
        key: "a".into(),
        seen: Some(Seen { value, mod_rev }),
    };
    let mut rev = 1;
    for round in 0..100i64 {
        let t = round as u64 * 10;
        rev += 1;
        push(write(round), Outcome::Ok, (t, t + 6), rev);
        push(read(round, rev), Outcome::Ok, (t + 5, t + 9), 0);
        push(write(1000 + round), Outcome::Info, (t + 1, t + 2), 0);
        push(read(round, rev), Outcome::Ok, (t + 7, t + 8), 0);
    }
    ops
}

/// The fastest and the median of [`RUNS`] checks; an error unless every verdict is valid.
fn time(check: impl Fn() -> Verdict) -> Result<(Duration, Duration), String> {
    let mut took = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let v = check();
        took.push(started.elapsed());
        if v.valid != Validity::Valid {
            return Err(format!("{}: {:?}: {}", v.checker, v.valid, v.explanation));
        }
    }
    took.sort();
    Ok((took[0], took[RUNS / 2]))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = ["elle", "wgl"];
    let names: Vec<&str> = if args.is_empty() {
        all.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    println!(
        "| checker | fastest | median | history | the test's old bound |\n|---|---|---|---|---|"
    );
    for name in names {
        let (what, history, ops, bound) = match name {
            "elle" => (
                "strict-serializable append (elle)",
                "2,000 txns on one growing list",
                append_history(),
                "2 s",
            ),
            "wgl" => (
                "linearizable registers (wgl)",
                "400 ops, 100 of them indeterminate",
                register_history(),
                "1 s",
            ),
            other => {
                eprintln!("unknown checker {other}; known: {all:?}");
                return ExitCode::from(2);
            }
        };
        let timed = match name {
            "elle" => time(|| check_append(&ops, BUDGET)),
            _ => time(|| check_registers(&ops, BUDGET)),
        };
        match timed {
            Ok((fastest, median)) => println!(
                "| {what} | {:.1} ms | {:.1} ms | {history} | {bound} |",
                fastest.as_secs_f64() * 1e3,
                median.as_secs_f64() * 1e3
            ),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
