//! What the machine offers and says about itself, as the kubelet's cadvisor reads it: CPUs,
//! memory, the data dir's filesystem, the kernel, the OS, the machine and boot IDs.

use std::path::Path;

/// The facts a Node reports about its machine.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    pub cpus: u64,
    pub memory_bytes: u64,
    /// The size of the filesystem holding the data dir (`ephemeral-storage`).
    pub storage_bytes: u64,
    pub kernel_version: String,
    pub os_image: String,
    pub machine_id: String,
    pub boot_id: String,
    pub architecture: String,
    pub hostname: String,
}

impl Machine {
    /// Reads the machine's facts; what cannot be read stays empty or zero.
    pub fn detect(data_dir: &Path) -> Machine {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let uname = rustix::system::uname();
        let storage_bytes = rustix::fs::statvfs(data_dir)
            .map(|s| s.f_blocks.saturating_mul(s.f_frsize))
            .unwrap_or(0);
        Machine {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get() as u64)
                .unwrap_or(1),
            memory_bytes: mem_total(&read("/proc/meminfo")),
            storage_bytes,
            kernel_version: uname.release().to_string_lossy().into_owned(),
            os_image: os_image(&read("/etc/os-release")),
            machine_id: read("/etc/machine-id"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            architecture: go_arch(std::env::consts::ARCH).to_string(),
            hostname: uname.nodename().to_string_lossy().into_owned(),
        }
    }
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `PRETTY_NAME` of os-release, as `nodeInfo.osImage` shows it.
fn os_image(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// Go's name for the architecture (`kubernetes.io/arch`).
fn go_arch(rust: &str) -> &str {
    match rust {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_os_release_are_read_as_the_kubelet_reports_them() {
        assert_eq!(
            mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            24_576_000 * 1024
        );
        assert_eq!(mem_total("garbage"), 0);
        assert_eq!(
            os_image("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(go_arch("x86_64"), "amd64");
        let m = Machine::detect(Path::new("/"));
        assert!(
            m.cpus >= 1 && m.memory_bytes > 0 && m.storage_bytes > 0,
            "{m:?}"
        );
    }
}
