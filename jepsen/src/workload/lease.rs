//! The lease workload: grant a lease, put a key on it, keep it alive a few times, then revoke it
//! or let it expire. The lease checker compares when keys vanished (seen by the watchers) with
//! the deadlines the server promised, which is where a deposed leader's unfenced revoke would
//! show.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capstan_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, PutRequest,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::client::{key, timed, within_deadline, CallError, Etcd};
use crate::history::{Call, Outcome};
use crate::recorder::Lane;
use crate::workload::Pace;

/// Key prefix of the lease workload.
pub const PREFIX: &str = "/jepsen/l/";

/// The TTL asked for (the server may raise it to its minimum).
const TTL: i64 = 3;

/// Runs one lease lane until `pace` says stop.
pub async fn lane(mut lane: Lane, values: Arc<AtomicI64>, mut rng: ChaCha8Rng, pace: Pace) {
    let mut n = 0u64;
    while pace.go().await {
        n += 1;
        let k = format!("{PREFIX}{}.{n}", lane.name);
        let value = values.fetch_add(1, Ordering::SeqCst);
        let put = Call::LeasePut {
            key: k.clone(),
            lease: 0,
            ttl: TTL,
            value,
        };
        let Ok((Call::LeasePut { lease, .. }, _)) = lane.run(put, exec).await else {
            continue;
        };
        for _ in 0..rng.gen_range(0..4) {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1200))).await;
            if !pace.running() {
                break;
            }
            let ka = Call::KeepAlive {
                key: k.clone(),
                lease,
                ttl: None,
            };
            let _ = lane.run(ka, exec).await;
        }
        if rng.gen_bool(0.3) {
            let _ = lane
                .run(
                    Call::Revoke {
                        key: k.clone(),
                        lease,
                    },
                    exec,
                )
                .await;
        }
    }
}

async fn exec(c: Etcd, call: Call) -> Result<(Call, i64), CallError> {
    match call {
        Call::LeasePut {
            key: k, ttl, value, ..
        } => {
            // The grant alone changes no key: if it fails, nothing the checkers see happened.
            let g = timed(c.lease().lease_grant(LeaseGrantRequest { ttl, id: 0 }))
                .await
                .map_err(|e| CallError {
                    outcome: Outcome::Fail,
                    ..e
                })?;
            let r = timed(c.kv().put(PutRequest {
                key: key(&k),
                value: value.to_string().into(),
                lease: g.id,
                ..Default::default()
            }))
            .await?;
            let rev = r.header.map(|h| h.revision).unwrap_or(0);
            Ok((
                Call::LeasePut {
                    key: k,
                    lease: g.id,
                    ttl: g.ttl,
                    value,
                },
                rev,
            ))
        }
        Call::KeepAlive { key: k, lease, .. } => {
            let ttl = keep_alive(&c, lease).await?;
            Ok((
                Call::KeepAlive {
                    key: k,
                    lease,
                    ttl: Some(ttl),
                },
                0,
            ))
        }
        Call::Revoke { key: k, lease } => {
            let r = timed(c.lease().lease_revoke(LeaseRevokeRequest { id: lease })).await?;
            Ok((
                Call::Revoke { key: k, lease },
                r.header.map(|h| h.revision).unwrap_or(0),
            ))
        }
        other => Ok((other, 0)),
    }
}

/// One keep-alive over a fresh stream; the remaining TTL the server answered.
async fn keep_alive(c: &Etcd, lease: i64) -> Result<i64, CallError> {
    let fut = async {
        // One request, and the request stream stays open: closing it would end the
        // keep-alive stream before the answer.
        let req = tokio_stream::StreamExt::chain(
            tokio_stream::once(LeaseKeepAliveRequest { id: lease }),
            tokio_stream::pending(),
        );
        let mut stream = c.lease().lease_keep_alive(req).await?.into_inner();
        match stream.message().await? {
            Some(r) => Ok(r.ttl),
            None => Err(tonic::Status::unavailable("keep-alive stream closed")),
        }
    };
    within_deadline(fut).await
}
