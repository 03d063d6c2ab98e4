//! The Lease service: Grant, Revoke, KeepAlive (a stream), TimeToLive, Leases.

use std::pin::Pin;

use capstan_proto::etcdserverpb as e;
use capstan_proto::etcdserverpb::lease_server::Lease as LeaseService;
use capstan_store::KvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::{to_status, EtcdApi};

type KeepAliveStream =
    Pin<Box<dyn Stream<Item = Result<e::LeaseKeepAliveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl LeaseService for EtcdApi {
    async fn lease_grant(
        &self,
        req: Request<e::LeaseGrantRequest>,
    ) -> Result<Response<e::LeaseGrantResponse>, Status> {
        let r = req.into_inner();
        let g = self
            .kv
            .lease_grant(r.ttl, r.id)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(e::LeaseGrantResponse {
            header: self.header(g.revision),
            id: g.id,
            ttl: g.ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        req: Request<e::LeaseRevokeRequest>,
    ) -> Result<Response<e::LeaseRevokeResponse>, Status> {
        let r = self
            .kv
            .lease_revoke(req.into_inner().id)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(e::LeaseRevokeResponse {
            header: self.header(r.revision),
        }))
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<e::LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut input = req.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let api = self.clone();
        tokio::spawn(async move {
            while let Ok(Some(r)) = input.message().await {
                let resp = match api.kv.lease_keep_alive(r.id).await {
                    Ok(k) => Ok(e::LeaseKeepAliveResponse {
                        header: api.header(k.revision),
                        id: k.id,
                        ttl: k.ttl,
                    }),
                    // etcd answers a keep-alive of an unknown lease with TTL 0, not an error.
                    Err(KvError::LeaseNotFound) => match api.current_header().await {
                        Ok(header) => Ok(e::LeaseKeepAliveResponse {
                            header,
                            id: r.id,
                            ttl: 0,
                        }),
                        Err(s) => Err(s),
                    },
                    Err(e) => Err(to_status(&e)),
                };
                if tx.send(resp).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<e::LeaseTimeToLiveRequest>,
    ) -> Result<Response<e::LeaseTimeToLiveResponse>, Status> {
        let r = req.into_inner();
        let t = self
            .kv
            .lease_time_to_live(r.id, r.keys)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(e::LeaseTimeToLiveResponse {
            header: self.header(t.revision),
            id: t.id,
            ttl: t.ttl,
            granted_ttl: t.granted_ttl,
            keys: t.keys,
        }))
    }

    async fn lease_leases(
        &self,
        _req: Request<e::LeaseLeasesRequest>,
    ) -> Result<Response<e::LeaseLeasesResponse>, Status> {
        let l = self.kv.lease_leases().await.map_err(|e| to_status(&e))?;
        Ok(Response::new(e::LeaseLeasesResponse {
            header: self.header(l.revision),
            leases: l.ids.into_iter().map(|id| e::LeaseStatus { id }).collect(),
        }))
    }
}
