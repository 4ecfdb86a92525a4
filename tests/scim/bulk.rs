//! Bulk (RFC 7644 §3.7) on both drivers: bulkId references in any order,
//! cycles, failOnErrors, versions, limits, the deadline, and each
//! operation costing what the same request alone costs.

use serde_json::{Value, json};

use crate::common::{Driver, Harness, config};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn bulk(h: &Harness, ops: Value, fail_on_errors: Option<u64>) -> Vec<Value> {
    let mut body = json!({"schemas": [BULK], "Operations": ops});
    if let Some(n) = fail_on_errors {
        body["failOnErrors"] = json!(n);
    }
    let r = h.send("POST", "/scim/v2/Bulk", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    r.body["Operations"].as_array().cloned().unwrap_or_default()
}

fn user_op(bulk_id: &str, name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id,
           "data": {"schemas": [USER], "userName": name}})
}

fn group_op(bulk_id: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"method": "POST", "path": "/Groups", "bulkId": bulk_id,
           "data": {"schemas": [GROUP], "displayName": name, "members": members}})
}

/// Each operation's `status`, in the response's order.
fn statuses(ops: &[Value]) -> Vec<&str> {
    ops.iter()
        .map(|o| o["status"].as_str().unwrap_or_default())
        .collect()
}

fn id_of(location: &Value) -> String {
    location
        .as_str()
        .and_then(|l| l.rsplit('/').next())
        .unwrap_or_default()
        .to_string()
}

async fn total(h: &Harness, endpoint: &str) -> Value {
    h.send("GET", &format!("/scim/v2/{endpoint}?count=0"), None)
        .await
        .body["totalResults"]
        .clone()
}

/// A group naming users created after it in the same request, and a user
/// PUT by a bulkId path: resolved, run, each answered in request order.
async fn bulk_ids_are_resolved_across_operations_in_any_order(h: Harness) {
    let ops = bulk(
        &h,
        json!([
            group_op("g", "Readers", &["bulkId:u1", "bulkId:u2"]),
            user_op("u1", "one@example.com"),
            user_op("u2", "two@example.com"),
            {"method": "PUT", "path": "/Users/bulkId:u2",
             "data": {"schemas": [USER], "userName": "two@example.com", "displayName": "Two"}},
        ]),
        None,
    )
    .await;
    assert_eq!(ops.len(), 4, "{ops:?}");
    let got = statuses(&ops);
    assert_eq!(got, ["201", "201", "201", "200"]);
    assert_eq!(ops[0]["bulkId"], "g");
    assert_eq!(ops[1]["method"], "POST");
    for o in &ops {
        let location = o["location"].as_str().unwrap_or_default();
        assert!(
            location.starts_with("https://scim.example.test/scim/v2/")
                || location.starts_with("http://scim.example.test/scim/v2/"),
            "{o}"
        );
        assert!(
            o["version"].as_str().is_some_and(|v| v.starts_with("W/")),
            "{o}"
        );
    }
    let (g, u1, u2) = (
        id_of(&ops[0]["location"]),
        id_of(&ops[1]["location"]),
        id_of(&ops[2]["location"]),
    );
    assert_eq!(id_of(&ops[3]["location"]), u2);
    let group = h
        .send("GET", &format!("/scim/v2/Groups/{g}"), None)
        .await
        .body;
    let mut members: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    members.sort();
    let mut want = vec![u1.clone(), u2.clone()];
    want.sort();
    assert_eq!(members, want, "{group}");
    let two = h
        .send("GET", &format!("/scim/v2/Users/{u2}"), None)
        .await
        .body;
    assert_eq!(two["displayName"], "Two");
    assert_eq!(two["groups"][0]["value"], g.as_str());
}

/// Two groups naming each other by bulkId cannot be ordered: both get 409
/// and neither is written; an unrelated operation beside them runs.
async fn a_cycle_of_bulk_ids_is_refused_and_writes_nothing(h: Harness) {
    let ops = bulk(
        &h,
        json!([
            group_op("a", "A", &["bulkId:b"]),
            group_op("b", "B", &["bulkId:a"]),
            user_op("u", "free@example.com"),
            group_op("c", "C", &["bulkId:nowhere"]),
        ]),
        None,
    )
    .await;
    let got = statuses(&ops);
    assert_eq!(got, ["409", "409", "201", "400"], "{ops:?}");
    for o in [&ops[0], &ops[1], &ops[3]] {
        assert_eq!(
            o["response"]["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert!(o.get("location").is_none());
    }
    assert!(
        ops[0]["response"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cycle"))
    );
    assert_eq!(total(&h, "Groups").await, 0);
    assert_eq!(total(&h, "Users").await, 1);
}

/// failOnErrors 1: after the first error nothing more runs, and what did
/// not run is not listed (RFC 7644 §3.7.3); an operation depending on a
/// failed one fails too.
async fn fail_on_errors_stops_after_that_many_errors(h: Harness) {
    h.create_user(json!({"userName": "taken@example.com"}))
        .await;
    let ops = bulk(
        &h,
        json!([
            user_op("a", "a@example.com"),
            user_op("b", "TAKEN@example.com"),
            user_op("c", "c@example.com"),
        ]),
        Some(1),
    )
    .await;
    let got = statuses(&ops);
    assert_eq!(got, ["201", "409"]);
    assert_eq!(ops[1]["response"]["scimType"], "uniqueness");
    assert_eq!(total(&h, "Users").await, 2);
    // Without failOnErrors every operation runs; one naming a failed one fails.
    let ops = bulk(
        &h,
        json!([
            user_op("d", "taken@example.com"),
            group_op("g", "G", &["bulkId:d"]),
            user_op("e", "e@example.com"),
        ]),
        None,
    )
    .await;
    let got = statuses(&ops);
    assert_eq!(got, ["409", "409", "201"], "{ops:?}");
    assert_eq!(total(&h, "Groups").await, 0);
}

/// An operation's `version` is its If-Match; PATCH and DELETE of groups
/// answer 204 as the requests alone do.
async fn an_operations_version_is_its_if_match(h: Harness) {
    let u = h.create_user(json!({"userName": "v@example.com"})).await;
    let id = u["id"].as_str().unwrap_or_default();
    let old = u["meta"]["version"].as_str().unwrap_or_default();
    let put = |version: &str| {
        json!({"method": "PUT", "path": format!("/Users/{id}"), "version": version,
               "data": {"schemas": [USER], "userName": "v@example.com", "nickName": "n"}})
    };
    let ops = bulk(&h, json!([put("W/\"999\""), put(old)]), None).await;
    let got = statuses(&ops);
    assert_eq!(got, ["412", "200"], "{ops:?}");
    assert_ne!(ops[1]["version"], old);
    let ops = bulk(
        &h,
        json!([
            group_op("g", "G", &[]),
            {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"schemas": [PATCH],
              "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]}},
            {"method": "DELETE", "path": "/Groups/bulkId:g"},
            {"method": "DELETE", "path": "/Groups/bulkId:g"},
        ]),
        None,
    )
    .await;
    let got = statuses(&ops);
    assert_eq!(got, ["201", "204", "204", "404"], "{ops:?}");
}

/// More operations than maxOperations is 413; a request that is not a
/// BulkRequest is 400; ServiceProviderConfig says what is supported; an
/// operation it cannot read gets its own 400 and the rest runs.
async fn bulk_limits_are_enforced_and_advertised(h: Harness) {
    let spc = h
        .send("GET", "/scim/v2/ServiceProviderConfig", None)
        .await
        .body;
    assert_eq!(spc["bulk"]["supported"], true);
    let max = spc["bulk"]["maxOperations"].as_u64().unwrap_or_default() as usize;
    assert_eq!(max, config().limits.bulk_max_operations);
    assert_eq!(spc["bulk"]["maxPayloadSize"], config().max_body_bytes);
    let many: Vec<Value> = (0..=max)
        .map(|i| user_op(&format!("b{i}"), &format!("u{i}@example.com")))
        .collect();
    let r = h
        .send(
            "POST",
            "/scim/v2/Bulk",
            Some(json!({"schemas": [BULK], "Operations": many})),
        )
        .await;
    r.assert_error(413, None);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("maxOperations"))
    );
    h.send(
        "POST",
        "/scim/v2/Bulk",
        Some(json!({"schemas": [PATCH], "Operations": []})),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
    h.send("POST", "/scim/v2/Bulk", Some(json!({"Operations": {}})))
        .await
        .assert_error(400, Some("invalidSyntax"));
    h.send("GET", "/scim/v2/Bulk", None)
        .await
        .assert_error(405, None);
    assert_eq!(total(&h, "Users").await, 0);
    let ops = bulk(
        &h,
        json!([
            {"method": "FETCH", "path": "/Users"},
            {"method": "POST", "path": "/Users", "data": {"userName": "no-bulk-id@example.com"}},
            {"method": "POST", "path": "/Devices", "bulkId": "d", "data": {}},
            user_op("ok", "ok@example.com"),
        ]),
        None,
    )
    .await;
    let got = statuses(&ops);
    assert_eq!(got, ["400", "400", "400", "201"], "{ops:?}");
    assert_eq!(total(&h, "Users").await, 1);
}

/// The same operations, once as single requests and once in one Bulk
/// request: the same DynamoDB requests, the same end state.
async fn each_operation_costs_what_its_request_alone_costs(driver: Driver) {
    let alone = driver.harness(&config()).await;
    let before = alone.requests();
    let u = alone
        .create_user(json!({"schemas": [USER], "userName": "cost@example.com"}))
        .await;
    let uid = u["id"].as_str().unwrap_or_default().to_string();
    let g = alone
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Cost", "members": [{"value": uid}]})),
        )
        .await;
    let gid = g.body["id"].as_str().unwrap_or_default().to_string();
    let steps = [
        (
            "PUT",
            format!("/scim/v2/Users/{uid}"),
            Some(json!({"schemas": [USER], "userName": "cost@example.com", "nickName": "c"})),
        ),
        (
            "PATCH",
            format!("/scim/v2/Users/{uid}"),
            Some(
                json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "t"}]}),
            ),
        ),
        (
            "PATCH",
            format!("/scim/v2/Groups/{gid}"),
            Some(
                json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]}),
            ),
        ),
        ("DELETE", format!("/scim/v2/Users/{uid}"), None),
        ("DELETE", format!("/scim/v2/Groups/{gid}"), None),
    ];
    for (method, path, body) in &steps {
        let r = alone.send(method, path, body.clone()).await;
        assert!(r.status < 300, "{method} {path}: {}", r.body);
    }
    let singles = alone.requests() - before;

    let together = driver.harness(&config()).await;
    let before = together.requests();
    let ops = bulk(
        &together,
        json!([
            user_op("u", "cost@example.com"),
            group_op("g", "Cost", &["bulkId:u"]),
            {"method": "PUT", "path": "/Users/bulkId:u", "data": {"schemas": [USER], "userName": "cost@example.com", "nickName": "c"}},
            {"method": "PATCH", "path": "/Users/bulkId:u", "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "t"}]}},
            {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members[value eq \"bulkId:u\"]"}]}},
            {"method": "DELETE", "path": "/Users/bulkId:u"},
            {"method": "DELETE", "path": "/Groups/bulkId:g"},
        ]),
        None,
    )
    .await;
    let got = statuses(&ops);
    assert_eq!(
        got,
        ["201", "201", "200", "200", "204", "204", "204"],
        "{ops:?}"
    );
    assert_eq!(together.requests() - before, singles);
    assert!(singles.total() > 0);
}

/// With no time left (a request timeout of 3 s leaves Bulk none), every
/// operation is listed as not run, 503, and nothing is written.
async fn what_the_deadline_leaves_is_listed_as_not_run(driver: Driver) {
    let mut c = config();
    c.request_timeout = std::time::Duration::from_secs(3);
    let h = driver.harness(&c).await;
    let ops = bulk(
        &h,
        json!([
            user_op("a", "a@example.com"),
            group_op("g", "G", &["bulkId:a"])
        ]),
        None,
    )
    .await;
    let got = statuses(&ops);
    assert_eq!(got, ["503", "503"], "{ops:?}");
    assert!(
        ops[0]["response"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not run"))
    );
    assert_eq!(total(&h, "Users").await, 0);
}

crate::on_both_drivers!(
    bulk_ids_are_resolved_across_operations_in_any_order,
    a_cycle_of_bulk_ids_is_refused_and_writes_nothing,
    fail_on_errors_stops_after_that_many_errors,
    an_operations_version_is_its_if_match,
    bulk_limits_are_enforced_and_advertised,
);

crate::on_both_drivers_with_config!(
    each_operation_costs_what_its_request_alone_costs,
    what_the_deadline_leaves_is_listed_as_not_run,
);
