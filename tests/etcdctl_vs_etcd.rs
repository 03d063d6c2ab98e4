//! etcdctl 3.4 against a real etcd 3.4 and against capstan in the same test, with the same
//! writes: every sort target and order (with limits, keys-only and ties) and every request that
//! names a range whose end is at or before its key (get, del, txn, watch) must print what etcd
//! prints. The expected answers are etcd's, read in the test, not ours.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::etcd::start_etcd;
use common::etcdctl::{Etcdctl, Printed};
use common::Server;

/// The same history on both: keys whose key, create, modify, version and value orders all
/// differ, with ties in version and in value.
fn write_history(e: &Etcdctl) {
    for (k, v) in [
        ("/cmp/d", "2"),
        ("/cmp/b", "3"),
        ("/cmp/a", "1"),
        ("/cmp/c", "2"),
        ("/cmp/b", "0"),
        ("/cmp/e", "1"),
        ("/cmp/a", "5"),
        ("/cmp/a", "4"),
        ("/cmp/f", "2"),
    ] {
        e.ok(&["put", k, v]);
    }
}

/// Every etcdctl read and write the comparison makes, in order.
fn session(e: &Etcdctl) -> Vec<(String, Printed)> {
    let mut seen = Vec::new();
    let mut record = |label: String, p: Printed| seen.push((label, p));
    for target in ["KEY", "VERSION", "CREATE", "MODIFY", "VALUE"] {
        for order in ["ASCEND", "DESCEND"] {
            let sort = [
                "get",
                "/cmp/",
                "--prefix",
                &format!("--sort-by={target}"),
                &format!("--order={order}"),
            ];
            record(format!("{target} {order}"), e.run_with_input(&sort, ""));
            let mut keys_only = sort.to_vec();
            keys_only.push("--keys-only");
            record(
                format!("{target} {order} keys-only"),
                e.run_with_input(&keys_only, ""),
            );
            let mut limited = sort.to_vec();
            limited.push("--limit=3");
            record(
                format!("{target} {order} limit 3"),
                e.run_with_input(&limited, ""),
            );
        }
        // A target with no order: ascending.
        let p = e.run_with_input(
            &["get", "/cmp/", "--prefix", &format!("--sort-by={target}")],
            "",
        );
        record(format!("{target} default order"), p);
        // No order and a limit: etcd sorts only the first limit + 1 keys it reads.
        let p = e.run_with_input(
            &[
                "get",
                "/cmp/",
                "--prefix",
                &format!("--sort-by={target}"),
                "--limit=2",
            ],
            "",
        );
        record(format!("{target} default order limit 2"), p);
    }
    // Ranges that name no key: end before the key, and end equal to it.
    for (key, end) in [("/cmp/c", "/cmp/a"), ("/cmp/c", "/cmp/c")] {
        record(
            format!("get {key} {end}"),
            e.run_with_input(&["get", key, end], ""),
        );
        record(
            format!("get {key} {end} keys-only"),
            e.run_with_input(&["get", key, end, "--keys-only"], ""),
        );
        record(
            format!("del {key} {end}"),
            e.run_with_input(&["del", key, end], ""),
        );
        record(
            format!("del {key} {end} prev-kv"),
            e.run_with_input(&["del", key, end, "--prev-kv"], ""),
        );
        let txn = format!("\nget {key} {end}\ndel {key} {end}\nput /cmp/txn x\n\n\n");
        record(format!("txn {key} {end}"), e.run_with_input(&["txn"], &txn));
        // A compare over such a range sees no key: version 0 holds.
        let compare =
            format!("version(\"{key}\") = \"0\"\n\nget {key} {end}\n\nput /cmp/else y\n\n");
        record(
            format!("txn compare {key}"),
            e.run_with_input(&["txn"], &compare),
        );
        // etcd refuses only a watch of such a range: created and at once canceled.
        record(
            format!("watch {key} {end}"),
            e.run_with_input(&["watch", key, end], ""),
        );
    }
    // Nothing above changed the keys, except the two txn puts.
    record(
        "final keys".into(),
        e.run_with_input(&["get", "/cmp/", "--prefix", "--keys-only"], ""),
    );
    seen
}

async fn compare_with_etcd(capstan: &Etcdctl) {
    let dir = tempfile::tempdir().unwrap();
    let (_etcd, url) = start_etcd(dir.path(), None).await;
    let etcd = Etcdctl::plain(&url);
    write_history(&etcd);
    write_history(capstan);
    let (want, got) = tokio::task::block_in_place(|| (session(&etcd), session(capstan)));
    assert_eq!(want.len(), got.len());
    let mut differ = Vec::new();
    for ((label, w), (_, g)) in want.iter().zip(&got) {
        if w != g {
            differ.push(format!("{label}:\n  etcd:    {w:?}\n  capstan: {g:?}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // The session must have exercised both orders: etcd's answers are not all alike.
    let sorted = |label: &str| &want.iter().find(|(l, _)| l == label).unwrap().1.stdout;
    assert_ne!(
        sorted("VALUE ASCEND keys-only"),
        sorted("KEY ASCEND keys-only")
    );
    assert_ne!(sorted("VERSION DESCEND"), sorted("MODIFY DESCEND"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_and_empty_ranges_print_as_etcd_on_one_replica() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "solo");
    compare_with_etcd(&Etcdctl::for_server(&s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_and_empty_ranges_print_as_etcd_through_a_follower_of_three() {
    let dir = tempfile::tempdir().unwrap();
    let servers = common::start_static(dir.path(), "e", 3).await;
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = common::wait_cluster(&refs, 3, std::time::Duration::from_secs(30)).await;
    let follower = servers.iter().find(|s| s.member_id != leader).unwrap();
    compare_with_etcd(&Etcdctl::for_server(follower)).await;
}
