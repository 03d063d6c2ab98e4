//! A container's cgroups: its memory and CPU limits, its usage, whether the kernel's OOM
//! killer struck it, and the list of its processes (to kill what is left of it). cgroup v2
//! (one unified hierarchy, `/sys/fs/cgroup/cgroup.controllers` present) and v1 (a hierarchy
//! per controller) both work. Every cgroup of a node agent lives under `capstan.<node>`, so
//! two agents never share one and `capstan node cleanup` finds them all.

use std::path::{Path, PathBuf};

use crate::resource_usage::Usage;

const ROOT: &str = "/sys/fs/cgroup";

/// The v1 controllers a container's cgroup is made in.
const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

/// The CFS period the kubelet uses (100 ms).
const CFS_PERIOD_US: u64 = 100_000;

/// What limits a container.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub cpu_limit_milli: Option<u64>,
    pub cpu_request_milli: Option<u64>,
}

/// Which cgroup hierarchy layout this machine has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layout {
    V1,
    V2,
}

impl Layout {
    pub fn detect() -> Layout {
        if Path::new(ROOT).join("cgroup.controllers").exists() {
            Layout::V2
        } else {
            Layout::V1
        }
    }

    /// The directories of the group `name` (a path under the root), one per hierarchy.
    fn dirs(self, name: &str) -> Vec<PathBuf> {
        match self {
            Layout::V2 => vec![Path::new(ROOT).join(name)],
            Layout::V1 => V1_CONTROLLERS
                .iter()
                .map(|c| Path::new(ROOT).join(c).join(name))
                .collect(),
        }
    }
}

/// The name of a node agent's parent cgroup.
pub fn node_group(node_key: &str) -> String {
    format!("capstan.{node_key}")
}

/// One container's cgroup.
#[derive(Clone, Debug)]
pub struct Cgroup {
    layout: Layout,
    name: String,
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing {value} to {}: {e}", path.display()))
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `key N` out of a flat-keyed file (`memory.events`, `memory.oom_control`, `cpu.stat`).
fn keyed(path: &Path, key: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

impl Cgroup {
    /// Makes the cgroup `id` under the node's group and sets its limits.
    pub fn create(
        layout: Layout,
        node_key: &str,
        id: &str,
        limits: Limits,
    ) -> Result<Cgroup, String> {
        let cg = Cgroup {
            layout,
            name: format!("{}/{id}", node_group(node_key)),
        };
        if layout == Layout::V2 {
            // Controllers are handed down level by level.
            let parent = Path::new(ROOT).join(node_group(node_key));
            std::fs::create_dir_all(&parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
            for dir in [Path::new(ROOT), parent.as_path()] {
                // A controller the kernel lacks is left out; the limits it would set fail below.
                let _ = write(&dir.join("cgroup.subtree_control"), "+memory +cpu +pids");
            }
        }
        for dir in layout.dirs(&cg.name) {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        cg.limit(limits)?;
        Ok(cg)
    }

    fn dir(&self, controller: &str) -> PathBuf {
        match self.layout {
            Layout::V2 => Path::new(ROOT).join(&self.name),
            Layout::V1 => Path::new(ROOT).join(controller).join(&self.name),
        }
    }

    fn limit(&self, limits: Limits) -> Result<(), String> {
        match self.layout {
            Layout::V1 => {
                if let Some(bytes) = limits.memory_bytes {
                    let mem = self.dir("memory");
                    write(&mem.join("memory.limit_in_bytes"), &bytes.to_string())?;
                    // With swap accounting, swap must not let the container exceed its limit.
                    let memsw = mem.join("memory.memsw.limit_in_bytes");
                    if memsw.exists() {
                        write(&memsw, &bytes.to_string())?;
                    }
                }
                let cpu = self.dir("cpu");
                if let Some(milli) = limits.cpu_limit_milli {
                    write(&cpu.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
                    let quota = (milli * CFS_PERIOD_US / 1000).max(1000);
                    write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
                }
                if let Some(milli) = limits.cpu_request_milli {
                    // The kubelet's MilliCPUToShares.
                    write(
                        &cpu.join("cpu.shares"),
                        &(milli * 1024 / 1000).max(2).to_string(),
                    )?;
                }
            }
            Layout::V2 => {
                let dir = self.dir("");
                if let Some(bytes) = limits.memory_bytes {
                    write(&dir.join("memory.max"), &bytes.to_string())?;
                    let swap = dir.join("memory.swap.max");
                    if swap.exists() {
                        write(&swap, "0")?;
                    }
                }
                if let Some(milli) = limits.cpu_limit_milli {
                    let quota = (milli * CFS_PERIOD_US / 1000).max(1000);
                    write(&dir.join("cpu.max"), &format!("{quota} {CFS_PERIOD_US}"))?;
                }
                if let Some(milli) = limits.cpu_request_milli {
                    // The kubelet's shares-to-weight conversion.
                    let shares = (milli * 1024 / 1000).max(2);
                    let weight = 1 + ((shares - 2) * 9999) / 262_142;
                    write(&dir.join("cpu.weight"), &weight.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files a process writes itself into to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.layout
            .dirs(&self.name)
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// The processes in it.
    pub fn pids(&self) -> Vec<i32> {
        let file = self.dir("memory").join("cgroup.procs");
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Whether the kernel's OOM killer killed a process of it.
    pub fn oom_killed(&self) -> bool {
        let count = match self.layout {
            Layout::V1 => keyed(&self.dir("memory").join("memory.oom_control"), "oom_kill"),
            Layout::V2 => keyed(&self.dir("").join("memory.events"), "oom_kill"),
        };
        count.unwrap_or(0) > 0
    }

    /// Its CPU time and memory in use.
    pub fn usage(&self) -> Usage {
        match self.layout {
            Layout::V1 => Usage {
                cpu_ns: read_u64(&self.dir("cpuacct").join("cpuacct.usage")).unwrap_or(0),
                memory_bytes: read_u64(&self.dir("memory").join("memory.usage_in_bytes"))
                    .unwrap_or(0),
            },
            Layout::V2 => Usage {
                cpu_ns: keyed(&self.dir("").join("cpu.stat"), "usage_usec").unwrap_or(0) * 1000,
                memory_bytes: read_u64(&self.dir("").join("memory.current")).unwrap_or(0),
            },
        }
    }

    /// SIGKILLs every process left in it.
    pub fn kill_all(&self) {
        for pid in self.pids() {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }

    /// Removes it (it must be empty: its processes killed and reaped).
    pub fn remove(&self) {
        for dir in self.layout.dirs(&self.name) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Removes a node agent's parent cgroups (each must be empty), or with `kill`, first kills
/// whatever is left in every cgroup under them.
pub fn remove_node_groups(layout: Layout, node_key: &str, kill: bool) {
    for parent in layout.dirs(&node_group(node_key)) {
        remove_tree(&parent, kill);
    }
}

fn remove_tree(dir: &Path, kill: bool) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path(), kill);
            }
        }
    }
    if kill {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse().ok()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        // Killed processes leave their cgroup once reaped.
        for _ in 0..50 {
            if std::fs::remove_dir(dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The node keys of every node agent's cgroups on this machine (for `capstan node cleanup`).
pub fn node_keys(layout: Layout) -> Vec<String> {
    let base = match layout {
        Layout::V2 => PathBuf::from(ROOT),
        Layout::V1 => Path::new(ROOT).join("memory"),
    };
    std::fs::read_dir(base)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix("capstan."))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}
