//! The Cluster service. Until replication exists the store is one member: MemberList answers it;
//! changing membership is refused with a clear error.

use capstan_proto::etcdserverpb as e;
use capstan_proto::etcdserverpb::cluster_server::Cluster as ClusterService;
use tonic::{Request, Response, Status};

use super::EtcdApi;

fn single_member() -> Status {
    Status::failed_precondition("etcdserver: membership changes need a replicated capstan server")
}

#[tonic::async_trait]
impl ClusterService for EtcdApi {
    async fn member_add(
        &self,
        _req: Request<e::MemberAddRequest>,
    ) -> Result<Response<e::MemberAddResponse>, Status> {
        Err(single_member())
    }

    async fn member_remove(
        &self,
        _req: Request<e::MemberRemoveRequest>,
    ) -> Result<Response<e::MemberRemoveResponse>, Status> {
        Err(single_member())
    }

    async fn member_update(
        &self,
        _req: Request<e::MemberUpdateRequest>,
    ) -> Result<Response<e::MemberUpdateResponse>, Status> {
        Err(single_member())
    }

    async fn member_list(
        &self,
        _req: Request<e::MemberListRequest>,
    ) -> Result<Response<e::MemberListResponse>, Status> {
        Ok(Response::new(e::MemberListResponse {
            header: self.current_header().await?,
            members: vec![self.member()],
        }))
    }

    async fn member_promote(
        &self,
        _req: Request<e::MemberPromoteRequest>,
    ) -> Result<Response<e::MemberPromoteResponse>, Status> {
        Err(single_member())
    }
}
