//! Range reads with etcd's semantics: revision checks, limit/count/more, keys-only, count-only,
//! min/max revision filters and sorting.

use capstan_proto::store::{
    range_request::SortOrder, range_request::SortTarget, KeyValue, RangeRequest, RangeResponse,
};

use crate::error::{KvError, KvResult};
use crate::key_range::KeyRange;
use crate::keyspace::{to_key_value, Keyspace};
use crate::validate::validate_range;

/// Serves `req` from `ks`, whose latest state is at revision `current` and whose history is
/// compacted below `compact`.
pub fn range<K: Keyspace + ?Sized>(
    ks: &K,
    current: i64,
    compact: i64,
    req: &RangeRequest,
) -> KvResult<RangeResponse> {
    validate_range(req)?;
    let keys = KeyRange::from_request(&req.key, &req.range_end)?;
    let rev = if req.revision == 0 {
        current
    } else {
        req.revision
    };
    if rev > current {
        return Err(KvError::FutureRevision);
    }
    if rev < compact {
        return Err(KvError::Compacted {
            compact_revision: compact,
        });
    }
    let target = SortTarget::try_from(req.sort_target).unwrap_or(SortTarget::Key);
    let mut order = SortOrder::try_from(req.sort_order).unwrap_or(SortOrder::None);
    // etcd reads the whole range before sorting only when an order is given; with none (what
    // etcdctl sends for `--sort-by` alone) it reads limit + 1 keys in key order and sorts those.
    let sorts_what_it_reads = order == SortOrder::None;
    if order == SortOrder::None && target != SortTarget::Key {
        order = SortOrder::Ascend;
    }
    let in_key_order = target == SortTarget::Key && order != SortOrder::Descend;
    // etcd sorts before it drops values, so a keys-only range sorted by value keeps them until then.
    let strip_values_now = req.keys_only && (in_key_order || target != SortTarget::Value);
    let filtered = req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0;
    // Without sorting or filters, one key past the limit is enough to know whether there is more.
    let keep = if req.limit > 0 && (in_key_order || sorts_what_it_reads) && !filtered {
        req.limit as usize + 1
    } else {
        usize::MAX
    };
    let mut count: i64 = 0;
    let mut kvs: Vec<KeyValue> = Vec::new();
    let mut visit = |key, v| {
        if req.skip_count && !req.count_only && kvs.len() >= keep {
            return false;
        }
        count += 1;
        if !req.count_only && kvs.len() < keep {
            let mut kv = to_key_value(key, &v);
            if strip_values_now {
                kv.value = Default::default();
            }
            kvs.push(kv);
        }
        true
    };
    if rev == current {
        ks.scan_latest(&keys, &mut visit)?;
    } else {
        ks.scan_at(&keys, rev, &mut visit)?;
    }
    if filtered {
        kvs.retain(|kv| {
            (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
                && (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
                && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
                && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
        });
    }
    if !in_key_order {
        // A stable sort on the (reversed) target: keys that tie keep their key order in both
        // directions, as etcd's sort.Sort(sort.Reverse(..)) leaves them on the ranges it sorts by
        // insertion (Go sorts up to 12 items that way; beyond that it orders ties arbitrarily).
        let by = |a: &KeyValue, b: &KeyValue| match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        if order == SortOrder::Descend {
            kvs.sort_by(|a, b| by(b, a));
        } else {
            kvs.sort_by(by);
        }
    }
    let mut more = false;
    if req.limit > 0 && kvs.len() > req.limit as usize {
        kvs.truncate(req.limit as usize);
        more = true;
    }
    if req.keys_only && !strip_values_now {
        for kv in &mut kvs {
            kv.value = Default::default();
        }
    }
    Ok(RangeResponse {
        revision: current,
        kvs,
        more,
        count,
    })
}
