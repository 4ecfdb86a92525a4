//! Races between writes of one resource, on both drivers, many rounds each.
//! Every outcome must be one of the serial orders of the racing requests,
//! and every answer must describe a state that was stored (its members at
//! its version). Versions move by exactly one a write, so a response's
//! version places it in that order.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::common::{Driver, Harness, Resp, config};

const ROUNDS: usize = 20;

fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// Sends a request on a task of its own, so that racing requests run in
/// parallel on the runtime's threads.
fn spawn(
    h: &Arc<Harness>,
    method: &'static str,
    path: String,
    body: Option<Value>,
) -> tokio::task::JoinHandle<Resp> {
    let h = Arc::clone(h);
    tokio::spawn(async move { h.send(method, &path, body).await })
}

async fn joined(t: tokio::task::JoinHandle<Resp>) -> Resp {
    t.await.unwrap_or_else(|e| panic!("{e}"))
}

fn refs(ids: &[&String]) -> Vec<Value> {
    ids.iter().map(|i| json!({"value": i})).collect()
}

async fn new_users(h: &Harness, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let u = h
            .create_user(json!({"userName": format!("{prefix}{i}@example.com")}))
            .await;
        ids.push(u["id"].as_str().unwrap_or_default().to_string());
    }
    ids
}

async fn new_group(h: &Harness, name: &str, members: &[&String]) -> String {
    let r = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": name, "members": refs(members)})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
}

/// The version an answer's ETag names (`W/"7"` is 7).
pub(crate) fn version(r: &Resp) -> u64 {
    etag_version(r.header("etag"))
}

/// The version an ETag names; it must name one.
pub(crate) fn etag_version(etag: Option<&str>) -> u64 {
    let etag = etag.unwrap_or_else(|| panic!("no ETag"));
    etag.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .unwrap_or_else(|_| panic!("ETag {etag}"))
}

fn ids_in(v: &Value, attr: &str) -> BTreeSet<String> {
    v[attr]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The group as stored now: its version and its members.
async fn stored_group(h: &Harness, gid: &str) -> (u64, BTreeSet<String>) {
    let r = h.send("GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (version(&r), ids_in(&r.body, "members"))
}

fn put_members(
    h: &Arc<Harness>,
    gid: &str,
    name: &str,
    members: &[&String],
) -> tokio::task::JoinHandle<Resp> {
    spawn(
        h,
        "PUT",
        format!("/scim/v2/Groups/{gid}"),
        Some(json!({"displayName": name, "members": refs(members)})),
    )
}

fn add_member(h: &Arc<Harness>, gid: &str, member: &String) -> tokio::task::JoinHandle<Resp> {
    spawn(
        h,
        "PATCH",
        format!("/scim/v2/Groups/{gid}"),
        Some(patch_op(
            json!([{"op": "add", "path": "members", "value": refs(&[member])}]),
        )),
    )
}

/// Two PUTs of a group's whole member set at once: the group ends with
/// exactly one of the two sets, the one of the later version.
async fn concurrent_member_set_replacements_leave_exactly_one_of_them(h: Harness) {
    let h = Arc::new(h);
    let u = new_users(&h, "put", 3).await;
    for round in 0..ROUNDS {
        let gid = new_group(&h, &format!("g{round}"), &[&u[0]]).await;
        let b = put_members(&h, &gid, "g", &[&u[1]]);
        let c = put_members(&h, &gid, "g", &[&u[2]]);
        let (b, c) = (joined(b).await, joined(c).await);
        assert_eq!((b.status, c.status), (200, 200), "{} {}", b.body, c.body);
        let (final_version, final_members) = stored_group(&h, &gid).await;
        let last = if version(&b) > version(&c) { &b } else { &c };
        assert_ne!(version(&b), version(&c), "two writes, two versions");
        assert_eq!(version(last), final_version, "round {round}");
        assert_eq!(
            ids_in(&last.body, "members"),
            final_members,
            "round {round}"
        );
        assert!(
            final_members == set(&[&u[1]]) || final_members == set(&[&u[2]]),
            "round {round}: {final_members:?}"
        );
    }
}

/// A PUT of 3 members racing 6 PATCHes that each add another user: the PUT
/// answers a version at which the group held exactly its 3 members, so the
/// group ends with those and one more member for each write after it.
async fn a_member_set_replacement_racing_adds_answers_what_it_stored(h: Harness) {
    let h = Arc::new(h);
    let u = new_users(&h, "mix", 10).await;
    for round in 0..ROUNDS {
        let gid = new_group(&h, &format!("m{round}"), &[&u[0]]).await;
        let put = put_members(&h, &gid, "m", &[&u[1], &u[2], &u[3]]);
        let adds: Vec<_> = (4..10).map(|i| add_member(&h, &gid, &u[i])).collect();
        let put = joined(put).await;
        let mut answers = Vec::new();
        for a in adds {
            answers.push(joined(a).await);
        }
        let adds = answers;
        assert_eq!(put.status, 200, "{}", put.body);
        for a in &adds {
            assert_eq!(a.status, 204, "{}", a.body);
        }
        let put_members = ids_in(&put.body, "members");
        assert_eq!(put_members, set(&[&u[1], &u[2], &u[3]]));
        let (final_version, final_members) = stored_group(&h, &gid).await;
        let later = final_version - version(&put);
        assert!(final_members.is_superset(&put_members), "round {round}");
        assert_eq!(
            final_members.len() as u64,
            3 + later,
            "round {round}: the PUT answered version {} with 3 members; {later} adds came after it, \
             yet the group holds {final_members:?}",
            version(&put)
        );
    }
}

/// PATCH `replace` of `members` racing a PATCH `add` of another user: if
/// the replacement came last, the added member is gone.
async fn a_member_replace_patch_racing_an_add_is_serial(h: Harness) {
    let h = Arc::new(h);
    let u = new_users(&h, "rep", 3).await;
    for round in 0..ROUNDS * 3 {
        let gid = new_group(&h, &format!("r{round}"), &[&u[0]]).await;
        let replace = spawn(
            &h,
            "PATCH",
            format!("/scim/v2/Groups/{gid}?attributes=members"),
            Some(patch_op(
                json!([{"op": "replace", "path": "members", "value": refs(&[&u[1]])}]),
            )),
        );
        let add = add_member(&h, &gid, &u[2]);
        let (replace, add) = (joined(replace).await, joined(add).await);
        assert_eq!((replace.status, add.status), (200, 204), "{}", replace.body);
        assert_eq!(ids_in(&replace.body, "members"), set(&[&u[1]]));
        let (final_version, final_members) = stored_group(&h, &gid).await;
        let expected = if final_version == version(&replace) {
            set(&[&u[1]])
        } else {
            assert_eq!(final_version, version(&replace) + 1, "round {round}");
            set(&[&u[1], &u[2]])
        };
        assert_eq!(final_members, expected, "round {round}");
    }
}

/// Removing members by a filter on their type, racing an add: an add that
/// came before the removal is removed with the rest.
async fn a_filtered_member_removal_racing_an_add_is_serial(h: Harness) {
    let h = Arc::new(h);
    let u = new_users(&h, "flt", 3).await;
    for round in 0..ROUNDS {
        let gid = new_group(&h, &format!("f{round}"), &[&u[0], &u[1]]).await;
        let remove = spawn(
            &h,
            "PATCH",
            format!("/scim/v2/Groups/{gid}?attributes=members"),
            Some(patch_op(
                json!([{"op": "remove", "path": "members[type eq \"User\"]"}]),
            )),
        );
        let add = add_member(&h, &gid, &u[2]);
        let (remove, add) = (joined(remove).await, joined(add).await);
        assert_eq!((remove.status, add.status), (200, 204), "{}", remove.body);
        assert!(
            ids_in(&remove.body, "members").is_empty(),
            "{}",
            remove.body
        );
        let (final_version, final_members) = stored_group(&h, &gid).await;
        let expected = if final_version == version(&remove) {
            BTreeSet::new()
        } else {
            set(&[&u[2]])
        };
        assert_eq!(final_members, expected, "round {round}");
    }
}

/// With `groups` writable on users, two PUTs of one user naming different
/// groups: the user ends in exactly one of them, the later one's.
async fn concurrent_user_puts_naming_groups_leave_one_set(d: Driver) {
    let mut c = config();
    c.limits.user_groups_writable = true;
    let h = Arc::new(d.harness(&c).await);
    let g1 = new_group(&h, "G1", &[]).await;
    let g2 = new_group(&h, "G2", &[]).await;
    for round in 0..ROUNDS {
        let name = format!("both{round}@example.com");
        let user = h.create_user(json!({"userName": name})).await;
        let uid = user["id"].as_str().unwrap_or_default().to_string();
        let put = |g: &String| {
            spawn(
                &h,
                "PUT",
                format!("/scim/v2/Users/{uid}"),
                Some(json!({"userName": name, "groups": [{"value": g}]})),
            )
        };
        let (a, b) = (put(&g1), put(&g2));
        let (a, b) = (joined(a).await, joined(b).await);
        assert_eq!((a.status, b.status), (200, 200), "{} {}", a.body, b.body);
        let last = if version(&a) > version(&b) { &a } else { &b };
        let r = h.send("GET", &format!("/scim/v2/Users/{uid}"), None).await;
        assert_eq!(version(&r), version(last), "round {round}");
        let groups = ids_in(&r.body, "groups");
        assert_eq!(groups, ids_in(&last.body, "groups"), "round {round}");
        assert_eq!(groups.len(), 1, "round {round}: {groups:?}");
        for gid in [&g1, &g2] {
            let holds = stored_group(&h, gid).await.1.contains(&uid);
            assert_eq!(holds, groups.contains(gid.as_str()), "round {round}");
        }
    }
}

/// Writes without If-Match that do not depend on the version they read
/// (DELETE), or that redo their round (PUT), get through while 8 clients
/// PATCH the same resource without pause.
async fn writes_without_if_match_are_not_starved_by_a_stream_of_patches(h: Harness) {
    let h = Arc::new(h);
    for kind in ["Groups", "Users"] {
        for round in 0..5 {
            let name = format!("busy{round}@example.com");
            let body = match kind {
                "Groups" => json!({"displayName": name}),
                _ => json!({"userName": name}),
            };
            let r = h
                .send("POST", &format!("/scim/v2/{kind}"), Some(body.clone()))
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            let path = format!("/scim/v2/{kind}/{}", r.body["id"].as_str().unwrap_or(""));
            let stop = Arc::new(AtomicBool::new(false));
            let patchers: Vec<_> = (0..8)
                .map(|i| {
                    let (h, path, stop) = (Arc::clone(&h), path.clone(), Arc::clone(&stop));
                    tokio::spawn(async move {
                        let mut n = 0u32;
                        while !stop.load(Ordering::Relaxed) {
                            n += 1;
                            let op = json!([{"op": "replace", "path": "externalId", "value": format!("e{i}-{n}")}]);
                            let r = h.send("PATCH", &path, Some(patch_op(op))).await;
                            if r.status == 404 {
                                break;
                            }
                        }
                    })
                })
                .collect();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            if kind == "Users" {
                let r = h.send("PUT", &path, Some(body.clone())).await;
                assert_eq!(r.status, 200, "PUT {kind} round {round}: {}", r.body);
            }
            let r = h.send("DELETE", &path, None).await;
            stop.store(true, Ordering::Relaxed);
            for p in patchers {
                let _ = p.await;
            }
            assert_eq!(r.status, 204, "DELETE {kind} round {round}: {}", r.body);
            assert_eq!(h.send("GET", &path, None).await.status, 404);
        }
    }
}

fn refs_of(s: &[String]) -> Vec<&String> {
    s.iter().collect()
}

/// Users written straight to the table, for sets larger than a transaction.
async fn imported_users(h: &Harness, prefix: &str, n: usize) -> Vec<String> {
    crate::common::import_users(&h.table, n, |i| {
        let mut doc = serde_json::Map::new();
        doc.insert("userName".into(), json!(format!("{prefix}{i}@example.com")));
        (doc, "2026-01-01T00:00:00Z".into())
    })
    .await
}

/// Two PUTs of member sets of 150 (more than one transaction holds) and an
/// add of one more member, at once: the group ends with the set of the
/// later PUT, and the added member only if the add came after it. A write
/// in batches moves the version twice (its claim and the claim's release),
/// an add once.
async fn large_member_set_replacements_are_serial(h: Harness) {
    let h = Arc::new(h);
    let users = imported_users(&h, "large", 451).await;
    let (s0, rest) = users.split_at(150);
    let (s1, rest) = rest.split_at(150);
    let (s2, extra) = rest.split_at(150);
    for round in 0..5 {
        let gid = new_group(&h, &format!("large{round}"), &refs_of(s0)).await;
        let a = put_members(&h, &gid, "large", &refs_of(s1));
        let b = put_members(&h, &gid, "large", &refs_of(s2));
        let add = add_member(&h, &gid, &extra[0]);
        let (a, b, add) = (joined(a).await, joined(b).await, joined(add).await);
        assert_eq!(
            (a.status, b.status, add.status),
            (200, 200, 204),
            "{} {}",
            a.body,
            b.body
        );
        let last = if version(&a) > version(&b) { &a } else { &b };
        let written = ids_in(&last.body, "members");
        assert!(written == set(&refs_of(s1)) || written == set(&refs_of(s2)));
        let (final_version, final_members) = stored_group(&h, &gid).await;
        let mut expected = written.clone();
        if final_version == version(last) + 1 {
            expected.insert(extra[0].clone());
        } else {
            assert_eq!(final_version, version(last), "round {round}");
        }
        assert_eq!(final_members.len(), expected.len(), "round {round}");
        assert_eq!(final_members, expected, "round {round}");
    }
}

/// A change of more members than one transaction holds that is refused
/// (an attribute the group does not have; a version If-Match does not
/// name) writes no edge.
async fn a_refused_large_member_change_writes_nothing(h: Harness) {
    let h = Arc::new(h);
    let users = imported_users(&h, "refused", 300).await;
    let (s0, s1) = users.split_at(150);
    let gid = new_group(&h, "refused", &s0.iter().collect::<Vec<_>>()).await;
    let before = stored_group(&h, &gid).await;
    let members = refs(&s1.iter().collect::<Vec<_>>());
    let bad = patch_op(json!([
        {"op": "replace", "path": "members", "value": members},
        {"op": "replace", "path": "nosuch", "value": 1}
    ]));
    let r = joined(spawn(
        &h,
        "PATCH",
        format!("/scim/v2/Groups/{gid}"),
        Some(bad),
    ))
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(stored_group(&h, &gid).await, before);
    let stale = h
        .send_with(
            "PUT",
            &format!("/scim/v2/Groups/{gid}"),
            Some(json!({"displayName": "refused", "members": members}).to_string()),
            &[
                ("authorization", &format!("Bearer {}", crate::common::TOKEN)),
                ("if-match", "W/\"999\""),
            ],
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(stored_group(&h, &gid).await, before);
}

/// With `groups` writable: two PUTs of one user naming 9 groups each (more
/// writes than fit beside the user's in one transaction) end as one of
/// them; a PUT whose userName is taken, or whose If-Match is stale, puts
/// the user in no group.
async fn user_puts_naming_many_groups_are_serial_and_refusals_write_nothing(d: Driver) {
    let mut c = config();
    c.limits.user_groups_writable = true;
    let h = Arc::new(d.harness(&c).await);
    let mut groups = Vec::new();
    for i in 0..18 {
        groups.push(new_group(&h, &format!("many{i}"), &[]).await);
    }
    let (g1, g2) = groups.split_at(9);
    let taken = h
        .create_user(json!({"userName": "taken@example.com"}))
        .await;
    assert!(taken["id"].is_string());
    for round in 0..5 {
        let name = format!("many{round}@example.com");
        let user = h.create_user(json!({"userName": name})).await;
        let uid = user["id"].as_str().unwrap_or_default().to_string();
        let put = |gs: &[String], user_name: &str| {
            let gs: Vec<Value> = gs.iter().map(|g| json!({"value": g})).collect();
            spawn(
                &h,
                "PUT",
                format!("/scim/v2/Users/{uid}"),
                Some(json!({"userName": user_name, "groups": gs})),
            )
        };
        let refused = joined(put(g1, "taken@example.com")).await;
        assert_eq!(refused.status, 409, "{}", refused.body);
        let r = h.send("GET", &format!("/scim/v2/Users/{uid}"), None).await;
        assert!(
            ids_in(&r.body, "groups").is_empty(),
            "round {round}: {}",
            r.body
        );
        let (a, b) = (put(g1, &name), put(g2, &name));
        let (a, b) = (joined(a).await, joined(b).await);
        assert_eq!((a.status, b.status), (200, 200), "{} {}", a.body, b.body);
        let last = if version(&a) > version(&b) { &a } else { &b };
        let r = h.send("GET", &format!("/scim/v2/Users/{uid}"), None).await;
        assert_eq!(version(&r), version(last), "round {round}");
        assert_eq!(
            ids_in(&r.body, "groups"),
            ids_in(&last.body, "groups"),
            "round {round}"
        );
        assert_eq!(ids_in(&r.body, "groups").len(), 9, "round {round}");
    }
}

crate::on_both_drivers!(
    concurrent_member_set_replacements_leave_exactly_one_of_them,
    a_member_set_replacement_racing_adds_answers_what_it_stored,
    a_member_replace_patch_racing_an_add_is_serial,
    a_filtered_member_removal_racing_an_add_is_serial,
    writes_without_if_match_are_not_starved_by_a_stream_of_patches,
    large_member_set_replacements_are_serial,
    a_refused_large_member_change_writes_nothing,
);
crate::on_both_drivers_with_config!(
    concurrent_user_puts_naming_groups_leave_one_set,
    user_puts_naming_many_groups_are_serial_and_refusals_write_nothing,
);
