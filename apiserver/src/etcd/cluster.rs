//! The Cluster service, over the `ClusterView`.

use capstan_proto::etcdserverpb as e;
use capstan_proto::etcdserverpb::cluster_server::Cluster as ClusterService;
use tonic::{Request, Response, Status};

use super::EtcdApi;

#[tonic::async_trait]
impl ClusterService for EtcdApi {
    async fn member_add(
        &self,
        req: Request<e::MemberAddRequest>,
    ) -> Result<Response<e::MemberAddResponse>, Status> {
        let r = req.into_inner();
        if r.peer_ur_ls.is_empty() {
            return Err(Status::invalid_argument("etcdserver: no peer URLs given"));
        }
        let (member, members) = self.cluster.add(r.peer_ur_ls, r.is_learner).await?;
        Ok(Response::new(e::MemberAddResponse {
            header: self.current_header().await?,
            member: Some(member),
            members,
        }))
    }

    async fn member_remove(
        &self,
        req: Request<e::MemberRemoveRequest>,
    ) -> Result<Response<e::MemberRemoveResponse>, Status> {
        let members = self.cluster.remove(req.into_inner().id).await?;
        Ok(Response::new(e::MemberRemoveResponse {
            header: self.current_header().await?,
            members,
        }))
    }

    async fn member_update(
        &self,
        _req: Request<e::MemberUpdateRequest>,
    ) -> Result<Response<e::MemberUpdateResponse>, Status> {
        Err(Status::failed_precondition(
            "etcdserver: capstan members keep their peer URLs; remove and re-join to move one",
        ))
    }

    async fn member_list(
        &self,
        _req: Request<e::MemberListRequest>,
    ) -> Result<Response<e::MemberListResponse>, Status> {
        Ok(Response::new(e::MemberListResponse {
            header: self.current_header().await?,
            members: self.cluster.members().await?,
        }))
    }

    async fn member_promote(
        &self,
        req: Request<e::MemberPromoteRequest>,
    ) -> Result<Response<e::MemberPromoteResponse>, Status> {
        let members = self.cluster.promote(req.into_inner().id).await?;
        Ok(Response::new(e::MemberPromoteResponse {
            header: self.current_header().await?,
            members,
        }))
    }
}
