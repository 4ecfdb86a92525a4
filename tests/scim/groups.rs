//! Groups and membership edges over the whole router, on both drivers.

use std::sync::Arc;
use std::time::Duration;

use scim_lambda::store::Directory;
use serde_json::{Value, json};

use crate::common::{Driver, Harness, config, encode, new_group};

fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn new_user(h: &Harness, name: &str) -> String {
    let u = h
        .create_user(json!({"userName": name, "displayName": format!("{name} (display)")}))
        .await;
    u["id"].as_str().unwrap_or_default().to_string()
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

async fn members(h: &Harness, gid: &str) -> Vec<String> {
    let r = h.send("GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    member_ids(&r.body)
}

async fn group_ids_of_user(h: &Harness, uid: &str) -> Vec<String> {
    let r = h.send("GET", &format!("/scim/v2/Users/{uid}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut ids: Vec<String> = r.body["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["value"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

async fn patch(h: &Harness, gid: &str, ops: Value) -> crate::common::Resp {
    h.send(
        "PATCH",
        &format!("/scim/v2/Groups/{gid}"),
        Some(patch_op(ops)),
    )
    .await
}

/// A 413 whose detail says what the limit is.
#[track_caller]
fn refused_as_too_large(r: &crate::common::Resp, says: &str) {
    r.assert_error(413, None);
    let detail = r.body["detail"].as_str().unwrap_or("");
    assert!(detail.contains(says), "{detail}");
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn creates_a_group_with_members_shown_on_both_sides(h: Harness) {
    let alice = new_user(&h, "alice@example.com").await;
    let bob = new_user(&h, "bob@example.com").await;
    let r = h
        .send("POST", "/scim/v2/Groups", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "externalId": "eng-1",
            "members": [{"value": alice, "$ref": null, "display": "ignored"}, {"value": bob, "type": "User"}]
        })))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );
    assert_eq!(
        r.header("location"),
        Some(format!("http://scim.example.test/scim/v2/Groups/{gid}").as_str())
    );
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    let a = r.body["members"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["value"] == alice.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(a["display"], "alice@example.com (display)");
    assert_eq!(a["type"], "User");
    assert_eq!(
        a["$ref"],
        format!("http://scim.example.test/scim/v2/Users/{alice}").as_str()
    );
    let got = h.send("GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(got.body, r.body);

    let user = h
        .send("GET", &format!("/scim/v2/Users/{alice}"), None)
        .await
        .body;
    assert_eq!(
        user["groups"],
        json!([{"value": gid, "$ref": format!("http://scim.example.test/scim/v2/Groups/{gid}"), "display": "Engineering", "type": "direct"}])
    );
    // `groups` is read-only on users: a PUT that sends it changes nothing,
    // and the PUT's response shows the real memberships.
    let put = h
        .send(
            "PUT",
            &format!("/scim/v2/Users/{alice}"),
            Some(json!({"userName": "alice@example.com", "groups": [{"value": "other"}]})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["groups"][0]["value"], gid.as_str());
    assert_eq!(group_ids_of_user(&h, &bob).await, vec![gid.clone()]);
}

async fn nests_groups(h: Harness) {
    let u = new_user(&h, "nested@example.com").await;
    let inner = new_group(&h, "Inner", &[&u]).await;
    let outer = new_group(&h, "Outer", &[&inner]).await;
    let r = h
        .send("GET", &format!("/scim/v2/Groups/{outer}"), None)
        .await;
    assert_eq!(r.body["members"][0]["type"], "Group");
    assert_eq!(r.body["members"][0]["display"], "Inner");
    assert_eq!(
        r.body["members"][0]["$ref"],
        format!("http://scim.example.test/scim/v2/Groups/{inner}").as_str()
    );
    // A user's groups are its direct ones.
    assert_eq!(group_ids_of_user(&h, &u).await, vec![inner.clone()]);
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Groups?filter={}",
                encode(&format!("members.value eq \"{inner}\""))
            ),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], outer.as_str());
    patch(
        &h,
        &inner,
        json!([{"op": "add", "path": "members", "value": [{"value": inner}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
}

async fn finds_groups_by_display_name_external_id_and_member(h: Harness) {
    let u = new_user(&h, "finder@example.com").await;
    let g1 = new_group(&h, "Sales Team", &[&u]).await;
    let g2 = new_group(&h, "Support", &[]).await;
    let before = h.requests();
    patch(
        &h,
        &g2,
        json!([{"op": "replace", "path": "externalId", "value": "sup-7"}]),
    )
    .await;
    // An attribute PATCH reads the group once and writes it under its version.
    let d = h.requests() - before;
    assert_eq!(
        (d.get_item, d.put_or_delete_item, d.total()),
        (1, 1, 2),
        "{d:?}"
    );
    let list = |f: String| {
        let h = &h;
        async move {
            h.send(
                "GET",
                &format!(
                    "/scim/v2/Groups?filter={}&excludedAttributes=members",
                    encode(&f)
                ),
                None,
            )
            .await
        }
    };
    let r = list("displayName eq \"sales team\"".into()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], g1.as_str());
    assert!(
        r.body["Resources"][0].get("members").is_none(),
        "excludedAttributes=members"
    );
    let r = list("externalId eq \"sup-7\"".into()).await;
    assert_eq!(r.body["Resources"][0]["id"], g2.as_str());
    let before = h.requests();
    let r = list(format!("members.value eq \"{u}\"")).await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], g1.as_str());
    // The member's inverted edges (1 Query), then its groups and the member
    // itself, which must still exist (1 BatchGetItem).
    let d = h.requests() - before;
    assert_eq!((d.query, d.batch_get_item, d.total()), (1, 1, 2), "{d:?}");
    let r = list(format!(
        "displayName eq \"SALES TEAM\" and members.value eq \"{u}\""
    ))
    .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    let r = list(format!(
        "displayName eq \"Support\" and members.value eq \"{u}\""
    ))
    .await;
    assert_eq!(r.body["totalResults"], 0);
    let r = list(format!(
        "members.value eq \"{u}\" or displayName eq \"Support\""
    ))
    .await;
    assert_eq!(r.body["totalResults"], 2);
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Users?filter={}",
                encode(&format!("groups.value eq \"{g1}\""))
            ),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], u.as_str());
    list("members pr".into())
        .await
        .assert_error(400, Some("invalidFilter"));
    let r = list("displayName eq \"nobody\"".into()).await;
    assert_eq!((r.status, r.body["totalResults"].as_u64()), (200, Some(0)));
    let r = h
        .send("GET", "/scim/v2/Groups?startIndex=2&count=1", None)
        .await;
    assert_eq!(
        (
            r.body["totalResults"].as_u64(),
            r.body["itemsPerPage"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let r = h
        .send(
            "GET",
            &format!("/scim/v2/Groups/{g1}?excludedAttributes=members"),
            None,
        )
        .await;
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["displayName"], "Sales Team");
}

async fn patches_members_the_ways_idps_do(h: Harness) {
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(new_user(&h, &format!("m{i}@example.com")).await);
    }
    let gid = new_group(&h, "Patchers", &[]).await;
    let add = |ids: &[&String]| json!([{"op": "Add", "path": "members", "value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}]);
    let r = patch(&h, &gid, add(&[&users[0], &users[1], &users[2]])).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(members(&h, &gid).await, sorted(users[..3].to_vec()));
    // Adding again is idempotent.
    assert_eq!(patch(&h, &gid, add(&[&users[0]])).await.status, 204);
    assert_eq!(members(&h, &gid).await.len(), 3);
    // Remove by value filter, then an absent one (idempotent).
    let r = patch(
        &h,
        &gid,
        json!([{"op": "Remove", "path": format!("members[value eq \"{}\"]", users[0])}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        patch(
            &h,
            &gid,
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[4])}])
        )
        .await
        .status,
        204
    );
    assert_eq!(members(&h, &gid).await, sorted(users[1..3].to_vec()));
    // Entra ID: remove with path "members" and a value list.
    let r = patch(
        &h,
        &gid,
        json!([{"op": "Remove", "path": "members", "value": [{"value": users[1]}]}]),
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(members(&h, &gid).await, vec![users[2].clone()]);
    // Replace the whole set, then rename with and without a path.
    let r = patch(&h, &gid, json!([{"op": "replace", "path": "members", "value": [{"value": users[3]}, {"value": users[4]}]}])).await;
    assert_eq!(r.status, 204);
    assert_eq!(members(&h, &gid).await, sorted(users[3..5].to_vec()));
    assert_eq!(group_ids_of_user(&h, &users[2]).await, Vec::<String>::new());
    patch(
        &h,
        &gid,
        json!([{"op": "Replace", "path": "displayName", "value": "Renamed"}]),
    )
    .await;
    let r = h
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}?excludedAttributes=members"),
            Some(patch_op(json!([{"op": "replace", "value": {"displayName": "Renamed Again", "externalId": "x-1"}}]))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["displayName"], "Renamed Again");
    assert_eq!(r.body["externalId"], "x-1");
    assert!(r.body.get("members").is_none());
    let user = h
        .send("GET", &format!("/scim/v2/Users/{}", users[3]), None)
        .await
        .body;
    assert_eq!(
        user["groups"][0]["display"], "Renamed Again",
        "the user's groups show the current name"
    );
    // Remove all.
    assert_eq!(
        patch(&h, &gid, json!([{"op": "remove", "path": "members"}]))
            .await
            .status,
        204
    );
    assert_eq!(members(&h, &gid).await, Vec::<String>::new());
    // Each membership PATCH changed the version.
    let v1 = h
        .send("GET", &format!("/scim/v2/Groups/{gid}"), None)
        .await
        .body["meta"]["version"]
        .clone();
    patch(&h, &gid, add(&[&users[0]])).await;
    let v2 = h
        .send("GET", &format!("/scim/v2/Groups/{gid}"), None)
        .await
        .body["meta"]["version"]
        .clone();
    assert_ne!(v1, v2);
}

async fn unknown_member_ids_are_refused_and_nothing_is_applied(h: Harness) {
    let u = new_user(&h, "known@example.com").await;
    let gid = new_group(&h, "Strict", &[]).await;
    let r = patch(
        &h,
        &gid,
        json!([
            {"op": "replace", "path": "displayName", "value": "Should Not Stick"},
            {"op": "add", "path": "members", "value": [{"value": u}, {"value": "no-such-id-1"}]}
        ]),
    )
    .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("no-such-id-1")
    );
    let g = h
        .send("GET", &format!("/scim/v2/Groups/{gid}"), None)
        .await
        .body;
    assert_eq!(g["displayName"], "Strict");
    assert!(g.get("members").is_none());
    let r = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "Bad", "members": [{"value": "ghost"}]})),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Groups?filter={}",
                encode("displayName eq \"Bad\"")
            ),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    h.send("POST", "/scim/v2/Groups", Some(json!({"members": []})))
        .await
        .assert_error(400, Some("invalidValue"));
    h.send("GET", "/scim/v2/Groups/nope", None)
        .await
        .assert_error(404, None);
    patch(
        &h,
        "nope",
        json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
    )
    .await
    .assert_error(404, None);
    // The edge written before the group was found missing is taken back.
    assert_eq!(
        Directory::new(h.table.clone())
            .edges_of_group("nope", 10)
            .await
            .map(|(edges, _)| edges.len()),
        Ok(0)
    );
    patch(
        &h,
        &gid,
        json!([{"op": "add", "path": "members[value eq \"x\"]", "value": []}]),
    )
    .await
    .assert_error(400, Some("invalidPath"));
}

async fn deleting_a_user_or_group_removes_its_memberships(h: Harness) {
    let u1 = new_user(&h, "d1@example.com").await;
    let u2 = new_user(&h, "d2@example.com").await;
    let g = new_group(&h, "Doomed", &[&u1, &u2]).await;
    let other = new_group(&h, "Other", &[&u1, &g]).await;
    assert_eq!(
        h.send("DELETE", &format!("/scim/v2/Users/{u1}"), None)
            .await
            .status,
        204
    );
    assert_eq!(members(&h, &g).await, vec![u2.clone()]);
    assert_eq!(members(&h, &other).await, vec![g.clone()]);
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Groups?filter={}",
                encode(&format!("members.value eq \"{u1}\""))
            ),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    let before = h.requests();
    assert_eq!(
        h.send("DELETE", &format!("/scim/v2/Groups/{g}"), None)
            .await
            .status,
        204
    );
    // Read it, delete it with its cleanup task in one transaction, find its
    // edges both ways (1 Query each) and remove them with the task in one
    // BatchWriteItem.
    let d = h.requests() - before;
    assert_eq!(
        (
            d.get_item,
            d.transact_write_items,
            d.query,
            d.batch_write_item,
            d.total()
        ),
        (1, 1, 2, 1, 5),
        "{d:?}"
    );
    assert_eq!(group_ids_of_user(&h, &u2).await, Vec::<String>::new());
    assert_eq!(members(&h, &other).await, Vec::<String>::new());
    // The edges themselves are gone, not just hidden.
    let dir = Directory::new(h.table.clone());
    for id in [&u1, &u2, &g] {
        assert_eq!(
            dir.edges_of_member(id, 10).await.map(|(e, _)| e.len()),
            Ok(0),
            "edges of {id}"
        );
    }
    assert_eq!(
        dir.edges_of_group(&g, 10).await.map(|(e, _)| e.len()),
        Ok(0)
    );
    assert_eq!(dir.cleanup_tasks(10).await.map(|t| t.len()), Ok(0));
    h.send("GET", &format!("/scim/v2/Groups/{g}"), None)
        .await
        .assert_error(404, None);
}

async fn deferred_cleanup_is_invisible_and_finishes_with_later_requests(d: Driver) {
    let mut c = config();
    c.limits.delete_cleanup_budget = Duration::ZERO;
    let h = d.harness(&c).await;
    let mut users = Vec::new();
    for i in 0..3 {
        users.push(new_user(&h, &format!("lazy{i}@example.com")).await);
    }
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let g = new_group(&h, "Lazy", &refs).await;
    // With no cleanup time at all, the delete leaves the edges behind...
    assert_eq!(
        h.send("DELETE", &format!("/scim/v2/Groups/{g}"), None)
            .await
            .status,
        204
    );
    let dir = Directory::new(h.table.clone());
    let left = dir
        .edges_of_group(&g, 10)
        .await
        .map(|(e, _)| e.len())
        .unwrap_or(0);
    assert!(left > 0, "the edges should still be there");
    // ... but no read shows them.
    assert_eq!(group_ids_of_user(&h, &users[0]).await, Vec::<String>::new());
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Groups?filter={}",
                encode(&format!("members.value eq \"{}\"", users[0]))
            ),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    h.send("GET", &format!("/scim/v2/Groups/{g}"), None)
        .await
        .assert_error(404, None);
    // The next write request finishes the work.
    new_user(&h, "trigger@example.com").await;
    assert_eq!(
        dir.edges_of_group(&g, 10).await.map(|(e, _)| e.len()),
        Ok(0)
    );
    assert_eq!(dir.cleanup_tasks(10).await.map(|t| t.len()), Ok(0));
}

async fn refuses_requests_over_the_member_limit_and_big_responses(d: Driver) {
    let mut c = config();
    c.limits.max_members_per_request = 3;
    c.limits.max_members_returned = 2;
    let h = d.harness(&c).await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(new_user(&h, &format!("lim{i}@example.com")).await);
    }
    let gid = new_group(&h, "Limited", &[&users[0]]).await;
    let all: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    let r = patch(
        &h,
        &gid,
        json!([{"op": "add", "path": "members", "value": all}]),
    )
    .await;
    refused_as_too_large(&r, "at most 3");
    // Exactly as many members as may be listed: listed.
    let add = |v: &[Value]| json!([{"op": "add", "path": "members", "value": v}]);
    assert_eq!(patch(&h, &gid, add(&all[1..2])).await.status, 204);
    let r = h.send("GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(
        r.body["members"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.body
    );
    assert_eq!(patch(&h, &gid, add(&all[2..3])).await.status, 204);
    // Three members, two may be listed: a clear error, and the way out.
    let r = h.send("GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    r.assert_error(400, Some("tooMany"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("excludedAttributes=members")
    );
    let r = h
        .send(
            "GET",
            &format!("/scim/v2/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
}

async fn concurrent_member_adds_all_land(h: Harness) {
    let h = Arc::new(h);
    let dir = Directory::new(h.table.clone());
    let users = import_users(&dir, 800, "conc").await;
    let gid = new_group(&h, "Crowd", &[]).await;
    let mut tasks = Vec::new();
    for chunk in users.chunks(50) {
        let (h, gid) = (Arc::clone(&h), gid.clone());
        let values: Vec<Value> = chunk.iter().map(|u| json!({"value": u})).collect();
        tasks.push(tokio::spawn(async move {
            patch(
                &h,
                &gid,
                json!([{"op": "add", "path": "members", "value": values}]),
            )
            .await
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap_or(0), 204);
    }
    let (edges, _) = dir.edges_of_group(&gid, 10_000).await.unwrap_or_default();
    assert_eq!(edges.len(), 800);
    let r = h.send("GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(800));

    // Concurrent add and remove of one member: both sides agree afterwards.
    let u = new_user(&h, "flip@example.com").await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (h, gid, u) = (Arc::clone(&h), gid.clone(), u.clone());
        tasks.push(tokio::spawn(async move {
            let op = if i % 2 == 0 { "add" } else { "remove" };
            let path = if op == "add" {
                "members".to_string()
            } else {
                format!("members[value eq \"{u}\"]")
            };
            let body = if op == "add" {
                json!([{"op": op, "path": path, "value": [{"value": u}]}])
            } else {
                json!([{"op": op, "path": path}])
            };
            patch(&h, &gid, body).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap_or(0), 204);
    }
    let in_group = dir
        .edges_of_group(&gid, 10_000)
        .await
        .unwrap_or_default()
        .0
        .iter()
        .any(|e| e.member_id == u);
    let user_side = group_ids_of_user(&h, &u).await.contains(&gid);
    assert_eq!(in_group, user_side);
}

async fn import_users(dir: &Directory, n: usize, prefix: &str) -> Vec<String> {
    crate::common::import_users(dir.table(), n, |i| {
        let mut doc = serde_json::Map::new();
        doc.insert("userName".into(), json!(format!("{prefix}{i}@example.com")));
        (doc, "2026-01-01T00:00:00Z".into())
    })
    .await
}

/// The DynamoDB requests of adding one member and of reading a group without
/// members do not depend on the group's size.
async fn membership_costs_do_not_grow_with_the_group(h: Harness, large: usize) {
    let dir = Directory::new(h.table.clone());
    let users = import_users(&dir, large + 2, "big").await;
    let small = new_group(&h, "Small", &[]).await;
    let big = new_group(&h, "Big", &[]).await;
    let add = |ids: &[String]| json!([{"op": "add", "path": "members", "value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}]);
    assert_eq!(patch(&h, &small, add(&users[..10])).await.status, 204);
    for chunk in users[..large].chunks(10_000) {
        assert_eq!(patch(&h, &big, add(chunk)).await.status, 204);
    }
    assert_eq!(
        dir.edges_of_group(&big, usize::MAX)
            .await
            .map(|(e, _)| e.len()),
        Ok(large)
    );

    let cost =
        |gid: String, method: &'static str, path_suffix: &'static str, body: Option<Value>| {
            let h = &h;
            async move {
                let before = h.requests();
                let r = h
                    .send(method, &format!("/scim/v2/Groups/{gid}{path_suffix}"), body)
                    .await;
                assert!(r.status < 300, "{}", r.body);
                h.requests() - before
            }
        };
    let one = |u: &String| Some(patch_op(add(std::slice::from_ref(u))));
    let small_add = cost(small.clone(), "PATCH", "", one(&users[large])).await;
    let big_add = cost(big.clone(), "PATCH", "", one(&users[large + 1])).await;
    assert_eq!(small_add, big_add, "adding one member");
    // The member is read (it must exist), then its edge is written and the
    // group's version bumped, under the condition that the group exists, in
    // one transaction.
    assert_eq!(
        (
            small_add.batch_get_item,
            small_add.transact_write_items,
            small_add.total()
        ),
        (1, 1, 2),
        "{small_add:?}"
    );
    let small_get = cost(small.clone(), "GET", "?excludedAttributes=members", None).await;
    let big_get = cost(big.clone(), "GET", "?excludedAttributes=members", None).await;
    assert_eq!(small_get, big_get, "reading without members");
    assert_eq!((small_get.get_item, small_get.total()), (1, 1));
    let remove = |u: &String| {
        Some(patch_op(
            json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]),
        ))
    };
    let small_rm = cost(small.clone(), "PATCH", "", remove(&users[large])).await;
    let big_rm = cost(big.clone(), "PATCH", "", remove(&users[large + 1])).await;
    assert_eq!(small_rm, big_rm, "removing one member");
    assert_eq!(
        (small_rm.transact_write_items, small_rm.total()),
        (1, 1),
        "{small_rm:?}"
    );
    // Reading the large group with its members is refused clearly (over the
    // default cap of 10,000 when the group is larger).
    let r = h.send("GET", &format!("/scim/v2/Groups/{big}"), None).await;
    if large > 10_000 {
        r.assert_error(400, Some("tooMany"));
    } else {
        assert_eq!(r.body["members"].as_array().map(Vec::len), Some(large));
    }
    // Deleting it removes every edge within the request, in full batches:
    // the edges and the cleanup task, 25 a BatchWriteItem.
    let before = h.requests();
    assert_eq!(
        h.send("DELETE", &format!("/scim/v2/Groups/{big}"), None)
            .await
            .status,
        204
    );
    let d = h.requests() - before;
    assert_eq!(d.batch_write_item, (large as u64 + 1).div_ceil(25), "{d:?}");
    assert_eq!(
        dir.edges_of_group(&big, 10).await.map(|(e, _)| e.len()),
        Ok(0)
    );
    assert_eq!(dir.cleanup_tasks(10).await.map(|t| t.len()), Ok(0));
}

/// Requests that name a member twice, or clear and then remove one, write
/// each edge once; a group whose members change in batches gets a new
/// version even when its other attributes do not; a PATCH of a group that
/// does not exist is 404 whatever else is wrong with it.
async fn odd_but_valid_member_requests_are_answered_right(h: Harness) {
    let u = new_user(&h, "twice@example.com").await;
    let gid = new_group(&h, "Twice", &[]).await;
    let r = h
        .send(
            "PUT",
            &format!("/scim/v2/Groups/{gid}"),
            Some(json!({"displayName": "Twice", "members": [{"value": u}, {"value": u, "type": "User"}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(members(&h, &gid).await, vec![u.clone()]);
    let r = patch(
        &h,
        &gid,
        json!([{"op": "remove", "path": "members"},
               {"op": "remove", "path": format!("members[value eq \"{u}\"]")}]),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(members(&h, &gid).await, Vec::<String>::new());

    // More members than one transaction holds, with the same displayName:
    // the version still moves.
    let dir = Directory::new(h.table.clone());
    let many = import_users(&dir, 120, "batch").await;
    let before = h.send("GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    let values: Vec<Value> = many.iter().map(|i| json!({"value": i})).collect();
    let r = h
        .send(
            "PUT",
            &format!("/scim/v2/Groups/{gid}?excludedAttributes=members"),
            Some(json!({"displayName": "Twice", "members": values})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.body["meta"]["version"], before.body["meta"]["version"]);
    assert_eq!(members(&h, &gid).await.len(), 120);

    for ops in [
        json!([{"op": "remove", "path": "members[type eq \"User\"]"}]),
        json!([{"op": "add", "path": "members", "value": [{"value": "no-such-member"}]}]),
    ] {
        patch(&h, "no-such-group", ops)
            .await
            .assert_error(404, None);
    }
}

/// Around the size one transaction holds (the group, its count and its
/// edges), a group is created whole and counted once.
async fn creates_groups_of_every_size_around_one_transaction(h: Harness) {
    let users = crate::common::import_users(&h.table, 101, |i| {
        let mut doc = serde_json::Map::new();
        doc.insert("userName".into(), json!(format!("size{i}@example.com")));
        (doc, "2026-01-01T00:00:00Z".into())
    })
    .await;
    for n in [97, 98, 99, 100, 101] {
        let named: Vec<&str> = users[..n].iter().map(String::as_str).collect();
        let g = new_group(&h, &format!("Size {n}"), &named).await;
        assert_eq!(members(&h, &g).await, sorted(users[..n].to_vec()), "{n}");
    }
    let r = h.send("GET", "/scim/v2/Groups?count=0", None).await;
    assert_eq!(r.body["totalResults"], 5, "{}", r.body);
}

crate::on_both_drivers!(
    creates_groups_of_every_size_around_one_transaction,
    creates_a_group_with_members_shown_on_both_sides,
    nests_groups,
    finds_groups_by_display_name_external_id_and_member,
    patches_members_the_ways_idps_do,
    unknown_member_ids_are_refused_and_nothing_is_applied,
    deleting_a_user_or_group_removes_its_memberships,
    concurrent_member_adds_all_land,
    odd_but_valid_member_requests_are_answered_right,
);

/// A process that starts after another left cleanup work behind finishes it
/// on its first write request (nothing is looked up at start).
async fn a_new_process_finishes_leftover_cleanup_on_its_first_write(d: Driver) {
    let mut c = config();
    c.limits.delete_cleanup_budget = Duration::ZERO;
    let first = d.harness(&c).await;
    let u = new_user(&first, "left@example.com").await;
    let g = new_group(&first, "Left", &[&u]).await;
    assert_eq!(
        first
            .send("DELETE", &format!("/scim/v2/Groups/{g}"), None)
            .await
            .status,
        204
    );
    let dir = Directory::new(first.table.clone());
    assert_eq!(dir.cleanup_tasks(10).await.map(|t| t.len()), Ok(1));
    // The "next process": a new service over the same table.
    let mut next_config = config();
    next_config.limits.leftover_check_on_first_write = true;
    let next = Harness::with_table(first.table.clone(), &next_config, None);
    new_user(&next, "first-write@example.com").await;
    assert_eq!(dir.cleanup_tasks(10).await.map(|t| t.len()), Ok(0));
    assert_eq!(
        dir.edges_of_group(&g, 10).await.map(|(e, _)| e.len()),
        Ok(0)
    );
}

/// A PATCH may hold at most `max_patch_operations` operations, and at most
/// 10 member removals by a filter other than on `value` (each is evaluated
/// over every member): more is a 413 that says so, and nothing is applied.
async fn refuses_patches_that_ask_for_unbounded_work(d: Driver) {
    let mut c = config();
    c.limits.max_patch_operations = 20;
    let h = d.harness(&c).await;
    let u = new_user(&h, "ops@example.com").await;
    let v = new_user(&h, "ops2@example.com").await;
    let gid = new_group(&h, "Ops", &[&u]).await;
    let rename = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("Ops {i}")}))
            .collect()
    };
    let user_path = format!("/scim/v2/Users/{u}");
    let r = h
        .send("PATCH", &user_path, Some(patch_op(json!(rename(21)))))
        .await;
    refused_as_too_large(&r, "at most 20");
    let r = patch(&h, &gid, json!(rename(21))).await;
    r.assert_error(413, None);
    let filtered = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|_| json!({"op": "remove", "path": "members[type eq \"User\"]"}))
            .collect()
    };
    let mut too_many = filtered(11);
    too_many.push(json!({"op": "add", "path": "members", "value": [{"value": v}]}));
    let r = patch(&h, &gid, json!(too_many)).await;
    refused_as_too_large(&r, "at most 10");
    let g = members(&h, &gid).await;
    assert_eq!(g, vec![u.clone()], "nothing applied");
    let r = h.send("GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(r.body["displayName"], "Ops");
    // At the limits: applied.
    assert_eq!(patch(&h, &gid, json!(rename(20))).await.status, 204);
    let mut at_limit = filtered(10);
    at_limit.push(json!({"op": "add", "path": "members", "value": [{"value": v}]}));
    assert_eq!(patch(&h, &gid, json!(at_limit)).await.status, 204);
    assert_eq!(members(&h, &gid).await, vec![v.clone()]);
    let r = h
        .send("PATCH", &user_path, Some(patch_op(json!(rename(20)))))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

crate::on_both_drivers_with_config!(
    refuses_patches_that_ask_for_unbounded_work,
    a_new_process_finishes_leftover_cleanup_on_its_first_write,
    deferred_cleanup_is_invisible_and_finishes_with_later_requests,
    refuses_requests_over_the_member_limit_and_big_responses,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_membership_costs_do_not_grow_with_a_group_of_20000() {
    membership_costs_do_not_grow_with_the_group(Harness::embedded().await, 20_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local; scripts/test runs it"]
async fn dynamodb_membership_costs_do_not_grow_with_a_group_of_5000() {
    membership_costs_do_not_grow_with_the_group(Harness::dynamodb().await, 5_000).await;
}
