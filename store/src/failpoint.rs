//! Named fault-injection points for test builds (the `failpoints` feature, off in release
//! builds, where every point compiles to nothing). A point is armed for a whole process through
//! `CAPSTAN_FAILPOINTS="name=actions;name2=actions"` with the `fail` crate's action syntax, for
//! example `raft.apply=100*off->return` (crash on the 101st apply) or `raft.append=sleep(500)`.
//! `return` at a crash point aborts the process on the spot, as a power cut or kill -9 would stop
//! it between two instructions.

/// Marks a place where a test build may crash (action `return`) or stall (`sleep(ms)`).
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        $crate::__fail::fail_point!($name, |_| $crate::failpoint::crash($name));
    };
}

/// Aborts the process at crash point `name` (no destructors, no flushes).
#[cfg(feature = "failpoints")]
pub fn crash(name: &str) -> ! {
    eprintln!("capstan: crash point {name} reached: aborting (fault injection)");
    std::process::abort()
}

/// Arms the points named in `CAPSTAN_FAILPOINTS`; returns the names armed. An entry that does
/// not parse is an error naming it.
#[cfg(feature = "failpoints")]
pub fn configure_from_env() -> Result<Vec<String>, String> {
    let Ok(spec) = std::env::var("CAPSTAN_FAILPOINTS") else {
        return Ok(Vec::new());
    };
    let mut armed = Vec::new();
    for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, actions)) = part.split_once('=') else {
            return Err(format!(
                "CAPSTAN_FAILPOINTS entry {part:?} is not NAME=ACTIONS"
            ));
        };
        fail::cfg(name.trim(), actions.trim())
            .map_err(|e| format!("CAPSTAN_FAILPOINTS entry {part:?}: {e}"))?;
        armed.push(name.trim().to_string());
    }
    Ok(armed)
}
