//! etcd's wire messages to and from the store's: the same fields under other types.

use capstan_proto::etcdserverpb as e;
use capstan_proto::mvccpb as m;
use capstan_store::proto as s;

use super::EtcdApi;

pub fn range_req(r: e::RangeRequest) -> s::RangeRequest {
    s::RangeRequest {
        key: r.key,
        range_end: r.range_end,
        limit: r.limit,
        // etcd treats any revision <= 0 as "current".
        revision: r.revision.max(0),
        sort_order: r.sort_order,
        sort_target: r.sort_target,
        serializable: r.serializable,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
        // etcd always counts the whole range.
        skip_count: false,
    }
}

pub fn put_req(p: e::PutRequest) -> s::PutRequest {
    s::PutRequest {
        key: p.key,
        value: p.value,
        lease: p.lease,
        prev_kv: p.prev_kv,
        ignore_value: p.ignore_value,
        ignore_lease: p.ignore_lease,
    }
}

pub fn delete_req(d: e::DeleteRangeRequest) -> s::DeleteRangeRequest {
    s::DeleteRangeRequest {
        key: d.key,
        range_end: d.range_end,
        prev_kv: d.prev_kv,
    }
}

fn compare(c: e::Compare) -> s::Compare {
    use e::compare::TargetUnion as E;
    use s::compare::TargetUnion as S;
    s::Compare {
        result: c.result,
        target: c.target,
        key: c.key,
        range_end: c.range_end,
        target_union: c.target_union.map(|u| match u {
            E::Version(v) => S::Version(v),
            E::CreateRevision(v) => S::CreateRevision(v),
            E::ModRevision(v) => S::ModRevision(v),
            E::Value(v) => S::Value(v),
            E::Lease(v) => S::Lease(v),
        }),
    }
}

fn request_op(op: e::RequestOp) -> s::RequestOp {
    use e::request_op::Request as E;
    use s::request_op::Request as S;
    s::RequestOp {
        request: op.request.map(|r| match r {
            E::RequestRange(r) => S::Range(range_req(r)),
            E::RequestPut(p) => S::Put(put_req(p)),
            E::RequestDeleteRange(d) => S::DeleteRange(delete_req(d)),
            E::RequestTxn(t) => S::Txn(txn_req(t)),
        }),
    }
}

pub fn txn_req(t: e::TxnRequest) -> s::TxnRequest {
    s::TxnRequest {
        compare: t.compare.into_iter().map(compare).collect(),
        success: t.success.into_iter().map(request_op).collect(),
        failure: t.failure.into_iter().map(request_op).collect(),
    }
}

pub fn kv(k: s::KeyValue) -> m::KeyValue {
    m::KeyValue {
        key: k.key,
        create_revision: k.create_revision,
        mod_revision: k.mod_revision,
        version: k.version,
        value: k.value,
        lease: k.lease,
    }
}

pub fn kv_ref(k: &s::KeyValue) -> m::KeyValue {
    kv(k.clone())
}

pub fn event(ev: &s::Event, prev: Option<&s::KeyValue>) -> m::Event {
    m::Event {
        r#type: ev.r#type,
        kv: ev.kv.as_ref().map(kv_ref),
        prev_kv: prev.map(kv_ref),
    }
}

impl EtcdApi {
    pub(super) fn range_resp(&self, r: s::RangeResponse) -> e::RangeResponse {
        e::RangeResponse {
            header: self.header(r.revision),
            kvs: r.kvs.into_iter().map(kv).collect(),
            more: r.more,
            count: r.count,
        }
    }

    pub(super) fn put_resp(&self, p: s::PutResponse) -> e::PutResponse {
        e::PutResponse {
            header: self.header(p.revision),
            prev_kv: p.prev_kv.map(kv),
        }
    }

    pub(super) fn delete_resp(&self, d: s::DeleteRangeResponse) -> e::DeleteRangeResponse {
        e::DeleteRangeResponse {
            header: self.header(d.revision),
            deleted: d.deleted,
            prev_kvs: d.prev_kvs.into_iter().map(kv).collect(),
        }
    }

    pub(super) fn txn_resp(&self, t: s::TxnResponse) -> e::TxnResponse {
        use e::response_op::Response as E;
        use s::response_op::Response as S;
        e::TxnResponse {
            header: self.header(t.revision),
            succeeded: t.succeeded,
            responses: t
                .responses
                .into_iter()
                .map(|r| e::ResponseOp {
                    response: r.response.map(|r| match r {
                        S::Range(r) => E::ResponseRange(self.range_resp(r)),
                        S::Put(p) => E::ResponsePut(self.put_resp(p)),
                        S::DeleteRange(d) => E::ResponseDeleteRange(self.delete_resp(d)),
                        S::Txn(t) => E::ResponseTxn(self.txn_resp(t)),
                    }),
                })
                .collect(),
        }
    }
}
