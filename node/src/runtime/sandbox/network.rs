//! The pod network of one node agent, as the CNI bridge plugin builds it: a Linux bridge
//! holding the first address of the node's `spec.podCIDR`, and per pod a veth pair whose inner
//! end is the pod's `eth0` with its IP and a default route through the bridge. Pods of other
//! agents on the machine are reached through the host: forwarding is enabled on the bridge
//! alone (IPv4 forwards per input interface), and an nftables table of the agent drops any
//! forwarded packet from the bridge to an interface that is not a capstan bridge, and into the
//! bridge from one, so pod traffic never leaves the machine. Names carry the agent's key, so
//! two agents never collide and `capstan node cleanup` finds what each left.

use std::net::Ipv4Addr;

use tokio::io::AsyncWriteExt;

use crate::ip_pool::parse_cidr;

/// Every capstan bridge's name starts with this (the guard's wildcard relies on it).
pub const BRIDGE_PREFIX: &str = "capstan";
/// Every host-side veth's name starts with this.
pub const VETH_PREFIX: &str = "cpv";
/// Every agent's nftables table (family inet) starts with this.
pub const TABLE_PREFIX: &str = "capstan_";

/// Runs `program args`, feeding it `input`; its stderr is the error.
pub async fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(if input.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("running {program}: {e}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| format!("writing to {program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("running {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// One node agent's bridge and guard.
#[derive(Debug)]
pub struct NodeNetwork {
    pub bridge: String,
    table: String,
    pub gateway: Ipv4Addr,
    pub prefix: u8,
}

impl NodeNetwork {
    pub fn names(node_key: &str) -> (String, String) {
        (
            format!("{BRIDGE_PREFIX}{node_key}"),
            format!("{TABLE_PREFIX}{node_key}"),
        )
    }

    /// Brings up the bridge of `cidr` (replacing one a crashed agent left) and the guard.
    pub async fn up(node_key: &str, cidr: &str) -> Result<NodeNetwork, String> {
        let (net, prefix) = parse_cidr(cidr).ok_or_else(|| format!("unusable pod CIDR {cidr}"))?;
        let gateway = Ipv4Addr::from(u32::from(net) + 1);
        let (bridge, table) = NodeNetwork::names(node_key);
        let _ = run("ip", &["link", "del", &bridge], None).await;
        let script = format!(
            "link add {bridge} type bridge\n\
             addr add {gateway}/{prefix} dev {bridge}\n\
             link set {bridge} up\n"
        );
        run("ip", &["-batch", "-"], Some(&script)).await?;
        tokio::fs::write(format!("/proc/sys/net/ipv4/conf/{bridge}/forwarding"), "1")
            .await
            .map_err(|e| format!("enabling forwarding on {bridge}: {e}"))?;
        // Declaring the table first makes the delete succeed when there was none.
        let guard = format!(
            "table inet {table} {{}}\n\
             delete table inet {table}\n\
             table inet {table} {{\n\
               chain guard {{\n\
                 type filter hook forward priority 0; policy accept;\n\
                 iifname \"{bridge}\" oifname != \"{BRIDGE_PREFIX}*\" drop\n\
                 oifname \"{bridge}\" iifname != \"{BRIDGE_PREFIX}*\" drop\n\
               }}\n\
             }}\n"
        );
        if let Err(e) = run("nft", &["-f", "-"], Some(&guard)).await {
            let _ = run("ip", &["link", "del", &bridge], None).await;
            return Err(format!(
                "installing the guard that keeps pod traffic on this machine: {e}"
            ));
        }
        Ok(NodeNetwork {
            bridge,
            table,
            gateway,
            prefix,
        })
    }

    /// Gives the pod whose namespaces `pause_pid` holds its `eth0` with `ip`, on a veth named
    /// `veth` on the host.
    pub async fn attach(&self, pause_pid: u32, veth: &str, ip: Ipv4Addr) -> Result<(), String> {
        let host = format!(
            "link add {veth} type veth peer name eth0 netns {pause_pid}\n\
             link set {veth} master {}\n\
             link set {veth} up\n",
            self.bridge
        );
        run("ip", &["-batch", "-"], Some(&host)).await?;
        let pod = format!(
            "link set lo up\n\
             addr add {ip}/{} dev eth0\n\
             link set eth0 up\n\
             route add default via {}\n",
            self.prefix, self.gateway
        );
        let target = pause_pid.to_string();
        run(
            "nsenter",
            &["--target", &target, "--net", "ip", "-batch", "-"],
            Some(&pod),
        )
        .await
        .map(drop)
    }

    /// Removes the bridge and the guard.
    pub async fn down(&self) {
        let _ = run("ip", &["link", "del", &self.bridge], None).await;
        let _ = run("nft", &["delete", "table", "inet", &self.table], None).await;
    }
}

/// Removes the host side of a pod's veth (gone already when its namespace went).
pub async fn detach(veth: &str) {
    let _ = run("ip", &["link", "del", veth], None).await;
}
