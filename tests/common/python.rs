//! The Python interpreters the tests run the official client with: Debian's (python3-kubernetes
//! from apt) and the venv with the newest client from PyPI that scripts/install-deps.sh makes.
#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's interpreter, where apt installs python3-kubernetes.
pub const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// The venv holding kubernetes 37.x (`CAPSTAN_PY_VENV` as in scripts/install-deps.sh).
pub fn newest_client_python() -> PathBuf {
    let venv = std::env::var_os("CAPSTAN_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            Path::new(&home).join(".cache/capstan-py/kubernetes-37")
        });
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh",
        python.display()
    );
    python
}

/// The path of `tests/python/<name>`.
pub fn script(name: &str) -> String {
    format!("{}/tests/python/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `script` with `python` and `args`; it must exit 0 and print `done`.
pub fn run_script(
    python: &Path,
    script: &str,
    args: &[&str],
    done: &str,
    logs: &dyn Fn() -> String,
) {
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(done),
        "{} {script}: {stdout}{}\nlogs:\n{}",
        python.display(),
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
}
