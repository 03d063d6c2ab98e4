//! `capstan member list|add|remove|promote`: membership through the etcd Cluster API of any
//! replica, authenticated with the admin certificate.

use std::path::{Path, PathBuf};

use anyhow::Context;
use capstan_proto::etcdserverpb::cluster_client::ClusterClient;
use capstan_proto::etcdserverpb::{
    Member, MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

#[derive(clap::Args, Debug)]
pub struct Connection {
    /// A replica's etcd API URL [default: the "client" of <data-dir>/endpoints.json].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The data dir whose endpoints.json and PKI to use [default: as `capstan server`].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum MemberCmd {
    /// Lists members (voters and learners).
    List(Connection),
    /// Adds a member by peer URL (https://HOST:PORT) as a learner.
    Add {
        peer_url: String,
        /// Keep it a learner until `capstan member promote` (else promoted once caught up).
        #[arg(long)]
        learner: bool,
        #[command(flatten)]
        conn: Connection,
    },
    /// Removes a member by id (hex, as `list` prints it).
    Remove {
        id: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Promotes a learner to voter.
    Promote {
        id: String,
        #[command(flatten)]
        conn: Connection,
    },
}

/// A field of the flat endpoints.json the server writes.
pub fn endpoints_field(data_dir: &Path, field: &str) -> anyhow::Result<String> {
    let p = data_dir.join("endpoints.json");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let key = format!("\"{field}\":\"");
    let start = text
        .find(&key)
        .map(|i| i + key.len())
        .with_context(|| format!("{} has no {field}", p.display()))?;
    let end = text[start..]
        .find('"')
        .with_context(|| format!("{} is damaged", p.display()))?;
    Ok(text[start..start + end].to_string())
}

/// A channel to the replica `conn` names, with the admin certificate when it serves TLS.
pub async fn channel(conn: &Connection) -> anyhow::Result<Channel> {
    let data_dir = match &conn.data_dir {
        Some(d) => d.clone(),
        None => crate::server::default_data_dir()?,
    };
    let url = match &conn.endpoint {
        Some(u) => u.clone(),
        None => endpoints_field(&data_dir, "client")?,
    };
    let mut ep = Endpoint::from_shared(url.clone())?;
    if url.starts_with("https://") {
        let read = |f: &str| -> anyhow::Result<String> {
            let p = endpoints_field(&data_dir, f)?;
            std::fs::read_to_string(&p).with_context(|| format!("reading {p}"))
        };
        ep = ep.tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(read("ca")?))
                .identity(Identity::from_pem(read("cert")?, read("key")?)),
        )?;
    }
    ep.connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

async fn connect(conn: &Connection) -> anyhow::Result<ClusterClient<Channel>> {
    Ok(ClusterClient::new(channel(conn).await?))
}

fn print(members: &[Member]) {
    for m in members {
        println!(
            "{:x}, {}, {}, {}, {}",
            m.id,
            if m.is_learner { "learner" } else { "voter" },
            m.name,
            m.peer_ur_ls.join(" "),
            m.client_ur_ls.join(" ")
        );
    }
}

fn parse_id(s: &str) -> anyhow::Result<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .with_context(|| format!("bad member id {s:?}"))
}

pub async fn run(cmd: MemberCmd) -> anyhow::Result<()> {
    match cmd {
        MemberCmd::List(conn) => {
            let r = connect(&conn)
                .await?
                .member_list(MemberListRequest {
                    linearizable: false,
                })
                .await?;
            print(&r.into_inner().members);
        }
        MemberCmd::Add {
            peer_url,
            learner,
            conn,
        } => {
            let r = connect(&conn)
                .await?
                .member_add(MemberAddRequest {
                    peer_ur_ls: vec![peer_url],
                    is_learner: learner,
                })
                .await?
                .into_inner();
            if let Some(m) = &r.member {
                println!("added {:x}", m.id);
            }
            print(&r.members);
        }
        MemberCmd::Remove { id, conn } => {
            let r = connect(&conn)
                .await?
                .member_remove(MemberRemoveRequest { id: parse_id(&id)? })
                .await?;
            print(&r.into_inner().members);
        }
        MemberCmd::Promote { id, conn } => {
            let r = connect(&conn)
                .await?
                .member_promote(MemberPromoteRequest { id: parse_id(&id)? })
                .await?;
            print(&r.into_inner().members);
        }
    }
    Ok(())
}
