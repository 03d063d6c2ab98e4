//! The KV service: Range, Put, DeleteRange, Txn, Compact.

use capstan_proto::etcdserverpb as e;
use capstan_proto::etcdserverpb::kv_server::Kv as KvService;
use tonic::{Request, Response, Status};

use super::convert::{delete_req, put_req, range_req, txn_req};
use super::{to_status, EtcdApi};

#[tonic::async_trait]
impl KvService for EtcdApi {
    async fn range(
        &self,
        req: Request<e::RangeRequest>,
    ) -> Result<Response<e::RangeResponse>, Status> {
        let r = self
            .kv
            .range(range_req(req.into_inner()))
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(self.range_resp(r)))
    }

    async fn put(&self, req: Request<e::PutRequest>) -> Result<Response<e::PutResponse>, Status> {
        let p = self
            .kv
            .put(put_req(req.into_inner()))
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(self.put_resp(p)))
    }

    async fn delete_range(
        &self,
        req: Request<e::DeleteRangeRequest>,
    ) -> Result<Response<e::DeleteRangeResponse>, Status> {
        let d = self
            .kv
            .delete_range(delete_req(req.into_inner()))
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(self.delete_resp(d)))
    }

    async fn txn(&self, req: Request<e::TxnRequest>) -> Result<Response<e::TxnResponse>, Status> {
        let t = self
            .kv
            .txn(txn_req(req.into_inner()))
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(self.txn_resp(t)))
    }

    async fn compact(
        &self,
        req: Request<e::CompactionRequest>,
    ) -> Result<Response<e::CompactionResponse>, Status> {
        let c = self
            .kv
            .compact(req.into_inner().revision)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(e::CompactionResponse {
            header: self.header(c.revision),
        }))
    }
}
