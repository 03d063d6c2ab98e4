//! `capstan migrate --from-etcd URL`: copies a live etcd v3 keyspace (an existing Kubernetes
//! cluster's `/registry`, say) at one revision into the data dir of a new capstan replica.
//!
//! Every key is read at one revision, in pages, with its revisions and version kept, so a
//! kube-apiserver or informer that knew the etcd cluster finds the same resourceVersions; history
//! before that revision is not copied (it is marked compacted, so older watches re-list). Leases
//! keep their granted TTL. The copy goes through a snapshot file and `capstan restore`'s import,
//! then the imported store is read back and compared with what etcd sent: key count and a
//! SHA-256 over every key, value, lease and revision.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use bytes::Bytes;
use capstan_proto::etcdserverpb::kv_client::KvClient;
use capstan_proto::etcdserverpb::lease_client::LeaseClient;
use capstan_proto::etcdserverpb::{LeaseLeasesRequest, LeaseTimeToLiveRequest, RangeRequest};
use capstan_proto::store::{SnapshotHeader, StoredLease, StoredVersion};
use capstan_store::{Backend, ExportSink, KvResult, RestoreShape, RocksBackend, SnapshotWriter};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::restore_cmd::{restore, start_hint, TargetArgs};

/// Keys per range request.
const PAGE: i64 = 1000;

#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// The etcd cluster to copy from (http://HOST:PORT or https://HOST:PORT).
    #[arg(long)]
    from_etcd: String,
    /// CA certificate of etcd's serving certificate (PEM).
    #[arg(long)]
    cacert: Option<PathBuf>,
    /// Client certificate for etcd (PEM).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client key for etcd (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Copy only keys under this prefix (default: the whole keyspace).
    #[arg(long, default_value = "")]
    prefix: String,
    // With --initial-cluster: migrate into one data dir, then `capstan restore` the snapshot
    // this leaves next to it on the others (it prints how).
    #[command(flatten)]
    target: TargetArgs,
}

async fn connect(args: &MigrateArgs) -> anyhow::Result<Channel> {
    let url = &args.from_etcd;
    let mut ep = Endpoint::from_shared(url.clone()).with_context(|| format!("bad URL {url}"))?;
    if url.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        if let Some(ca) = &args.cacert {
            tls = tls.ca_certificate(Certificate::from_pem(
                std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?,
            ));
        }
        if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
            tls = tls.identity(Identity::from_pem(
                std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?,
                std::fs::read(key).with_context(|| format!("reading {}", key.display()))?,
            ));
        }
        ep = ep.tls_config(tls)?;
    }
    ep.connect()
        .await
        .with_context(|| format!("connecting to etcd at {url}"))
}

/// The SHA-256 both sides of the copy are compared by.
#[derive(Default)]
struct ImageHash {
    sha: Sha256,
    keys: u64,
}

impl ImageHash {
    fn key(&mut self, key: &[u8], v: &StoredVersion) {
        self.keys += 1;
        self.sha.update((key.len() as u64).to_be_bytes());
        self.sha.update(key);
        for n in [v.create_revision, v.mod_revision, v.version, v.lease] {
            self.sha.update(n.to_be_bytes());
        }
        self.sha.update((v.value.len() as u64).to_be_bytes());
        self.sha.update(&v.value);
    }

    fn lease(&mut self, l: &StoredLease) {
        self.sha.update(l.id.to_be_bytes());
        self.sha.update(l.ttl.to_be_bytes());
    }

    fn hex(self) -> String {
        self.sha
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Reads the imported store back into an `ImageHash`.
struct ReadBack(ImageHash);

impl ExportSink for ReadBack {
    fn header(&mut self, _: &SnapshotHeader) -> KvResult<()> {
        Ok(())
    }

    fn version(&mut self, key: &[u8], v: &StoredVersion) -> KvResult<()> {
        if !v.tombstone {
            self.0.key(key, v);
        }
        Ok(())
    }

    fn lease(&mut self, l: &StoredLease) -> KvResult<()> {
        self.0.lease(l);
        Ok(())
    }
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let target = args.target.resolve()?;
    let channel = connect(&args).await?;
    let mut kv = KvClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let mut leases_api = LeaseClient::new(channel);
    let (from, end) = if args.prefix.is_empty() {
        (vec![0u8], vec![0u8])
    } else {
        let p = args.prefix.as_bytes().to_vec();
        // No greater key: etcd's "\0" range end, to the end of the keyspace.
        let e = capstan_store::keys::prefix_end(&p).unwrap_or_else(|| vec![0]);
        (p, e)
    };

    // One revision for the whole copy: the first page's.
    let first = kv
        .range(RangeRequest {
            key: from.clone().into(),
            range_end: end.clone().into(),
            count_only: true,
            ..Default::default()
        })
        .await
        .context("reading etcd")?
        .into_inner();
    let revision = first.header.as_ref().map_or(0, |h| h.revision);
    let expected = first.count.max(0) as u64;
    if revision <= 0 {
        bail!("etcd answered without a revision");
    }

    let parent = target
        .data_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    std::fs::create_dir_all(&parent).ok();
    let mut snapshot_name = target
        .data_dir
        .file_name()
        .unwrap_or_default()
        .to_os_string();
    snapshot_name.push(format!(".etcd-r{revision}.snapshot"));
    let snapshot = parent.join(snapshot_name);
    let mut writer = SnapshotWriter::create(&snapshot)
        .with_context(|| format!("creating {}", snapshot.display()))?;
    writer.header(&SnapshotHeader {
        format_version: capstan_store::keys::FORMAT_VERSION,
        revision,
        compact_revision: revision,
        applied: Bytes::new(),
        has_applied: false,
    })?;

    let bar = ProgressBar::new(expected);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} keys {per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut sent = ImageHash::default();
    let mut subs: HashMap<i64, i64> = HashMap::new();
    let mut lease_ids: BTreeSet<i64> = BTreeSet::new();
    let mut start = from.clone();
    loop {
        let page = kv
            .range(RangeRequest {
                key: start.clone().into(),
                range_end: end.clone().into(),
                revision,
                limit: PAGE,
                ..Default::default()
            })
            .await
            .with_context(|| format!("reading etcd at revision {revision}"))?
            .into_inner();
        for kv in &page.kvs {
            // The position of a change among its revision's changes: etcd does not say, any
            // order is a valid one for keys written by one transaction.
            let sub = subs.entry(kv.mod_revision).or_insert(0);
            let v = StoredVersion {
                create_revision: kv.create_revision,
                mod_revision: kv.mod_revision,
                version: kv.version,
                value: kv.value.clone(),
                lease: kv.lease,
                sub: *sub,
                tombstone: false,
            };
            *sub += 1;
            if kv.lease != 0 {
                lease_ids.insert(kv.lease);
            }
            sent.key(&kv.key, &v);
            writer.version(&kv.key, &v)?;
        }
        bar.inc(page.kvs.len() as u64);
        match page.kvs.last() {
            Some(last) if page.more => {
                start = last.key.to_vec();
                start.push(0);
            }
            _ => break,
        }
    }
    bar.set_message("leases");
    for l in leases_api
        .lease_leases(LeaseLeasesRequest {})
        .await
        .context("listing etcd's leases")?
        .into_inner()
        .leases
    {
        lease_ids.insert(l.id);
    }
    for id in &lease_ids {
        let ttl = leases_api
            .lease_time_to_live(LeaseTimeToLiveRequest {
                id: *id,
                keys: false,
            })
            .await
            .map(|r| r.into_inner().granted_ttl)
            .unwrap_or(0);
        // A lease gone since the revision read still holds keys in the copy: it expires at
        // once in the new cluster, as it did in etcd.
        let lease = StoredLease {
            id: *id,
            ttl: ttl.max(1),
        };
        sent.lease(&lease);
        writer.lease(&lease)?;
    }
    let info = writer.finish()?;
    bar.finish_and_clear();
    if sent.keys != expected {
        bail!(
            "etcd counted {expected} keys at revision {revision} but sent {}",
            sent.keys
        );
    }
    let keys = sent.keys;
    let copied = started.elapsed();

    let restored = restore(
        &snapshot,
        &target,
        RestoreShape {
            bump_revision: 0,
            mark_compacted: true,
        },
    )?;
    // Read the imported store back and compare.
    let store_dir = target.data_dir.join("replica").join("store");
    let backend = RocksBackend::open(&store_dir)?;
    let mut back = ReadBack(ImageHash::default());
    backend.export(&mut back)?;
    drop(backend);
    let (got_keys, got) = (back.0.keys, back.0.hex());
    let want = sent.hex();
    if got_keys != keys || got != want {
        bail!(
            "verification failed: etcd sent {keys} keys (sha256 {want}), the new store holds {got_keys} (sha256 {got})"
        );
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "migrated {keys} keys and {} leases from {} at revision {revision} into {} in {secs:.1} s ({:.0} keys/s; read {:.1} s, import and verify {:.1} s); verified: {keys} keys, sha256 {want}; member {:x} of new cluster {:x}; the snapshot is kept at {} ({} bytes) for the other replicas; {}",
        lease_ids.len(),
        args.from_etcd,
        target.data_dir.display(),
        keys as f64 / secs.max(1e-9),
        copied.as_secs_f64(),
        secs - copied.as_secs_f64(),
        restored.member_id,
        restored.cluster_id,
        snapshot.display(),
        info.size,
        start_hint(&target)
    );
    if let Some(spec) = &target.initial_cluster {
        println!(
            "on each other replica: capstan restore {} --bump-revision 0 --name NAME --initial-cluster {spec} --data-dir DIR",
            snapshot.display()
        );
    }
    Ok(())
}
