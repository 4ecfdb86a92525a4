//! `export` and `import`: a directory as lines of SCIM JSON and back, on
//! both drivers, ids, times, versions and memberships kept; `create-table`
//! on DynamoDB Local as the template declares the table.

use serde_json::{Value, json};

use crate::common::{Harness, config, new_group};
use scim_lambda::service::{Imported, MEMBERS_A_LINE, Service};

fn service_of(h: &Harness) -> Service {
    let c = config();
    scim_lambda::service(
        &c,
        h.table.clone(),
        scim_lambda::schemas(&c).unwrap_or_else(|e| panic!("{e}")),
    )
}

async fn export(h: &Harness) -> Vec<Value> {
    let mut lines = Vec::new();
    service_of(h)
        .export(
            &mut |v| {
                lines.push(v.clone());
                Ok(())
            },
            &mut |_| {},
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    lines
}

async fn import(h: &Harness, lines: &[Value]) -> Vec<Imported> {
    let service = service_of(h);
    let mut out = Vec::new();
    for line in lines {
        out.push(
            service
                .import_line(line)
                .await
                .unwrap_or_else(|e| panic!("{e:?}: {line}")),
        );
    }
    out
}

/// A directory with what an IdP leaves: users with emails and the
/// enterprise extension, one inactive; a group of more members than one
/// line holds; a nested group; an empty group.
async fn populate(h: &Harness) -> (Vec<String>, String) {
    let mut users = Vec::new();
    for i in 0..(MEMBERS_A_LINE + 5) {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": format!("user{i:05}@example.com"),
            "externalId": format!("ext-{i}"),
            "active": i % 7 != 0,
            "name": {"givenName": "Ada", "familyName": format!("L{i}")},
            "emails": [{"value": format!("user{i:05}@example.com"), "type": "work", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        });
        let created = h.create_user(body).await;
        users.push(created["id"].as_str().unwrap_or_default().to_string());
    }
    let all: Vec<&str> = users.iter().map(String::as_str).collect();
    let big = new_group(h, "Everyone", &all).await;
    let inner = new_group(h, "Inner", &all[..2]).await;
    let outer = new_group(h, "Outer", &[all[2], inner.as_str()]).await;
    new_group(h, "Empty", &[]).await;
    // A later version and a renamed group, so that versions are not all 1.
    let r = h
        .send(
            "PATCH",
            &format!("/scim/v2/Groups/{outer}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Outer ring"}]}),
            ),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    (users, big)
}

async fn get(h: &Harness, path: &str) -> Value {
    let r = h.send("GET", path, None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

/// An embedded directory, exported, loaded into DynamoDB Local, exported
/// again and loaded into a fresh embedded store: every export is the same,
/// and what the API answers at the end is what it answered at the start.
async fn round_trip_embedded_dynamodb_embedded_is_identical(first: Harness, second: Harness) {
    let (users, big) = populate(&first).await;
    let lines = export(&first).await;
    // Users, then groups; the big group on two lines.
    assert_eq!(
        lines.len(),
        users.len() + 4 + 1,
        "one line a resource, two for the big group"
    );
    let big_lines: Vec<&Value> = lines.iter().filter(|l| l["id"] == big.as_str()).collect();
    assert_eq!(big_lines.len(), 2);
    assert_eq!(
        big_lines[0]["members"].as_array().map(Vec::len),
        Some(MEMBERS_A_LINE)
    );
    assert_eq!(big_lines[1]["members"].as_array().map(Vec::len), Some(5));
    assert!(lines.iter().all(|l| l["meta"].get("location").is_none()));

    import(&second, &lines).await;
    let again = export(&second).await;
    assert_eq!(again, lines, "the DynamoDB copy exports the same lines");

    let third = Harness::embedded().await;
    import(&third, &again).await;
    assert_eq!(
        export(&third).await,
        lines,
        "and so does the embedded copy of it"
    );

    for path in [
        format!("/scim/v2/Users/{}", users[0]),
        format!("/scim/v2/Users/{}", users[2]),
        format!("/scim/v2/Groups/{big}"),
        "/scim/v2/Groups?filter=displayName%20eq%20%22Outer%20ring%22".into(),
        "/scim/v2/Users?filter=emails.value%20eq%20%22user00003%40example.com%22".into(),
        "/scim/v2/Users?count=1".into(),
    ] {
        let want = get(&first, &path).await;
        assert_eq!(get(&second, &path).await, want, "{path} on DynamoDB");
        assert_eq!(
            get(&third, &path).await,
            want,
            "{path} on the embedded copy"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local; scripts/test runs it"]
async fn a_round_trip_embedded_to_dynamodb_local_to_embedded_is_identical() {
    round_trip_embedded_dynamodb_embedded_is_identical(
        Harness::embedded().await,
        Harness::dynamodb().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_trip_between_embedded_stores_is_identical() {
    round_trip_embedded_dynamodb_embedded_is_identical(
        Harness::embedded().await,
        Harness::embedded().await,
    )
    .await;
}

/// An import run again after a stop passes over what is there, writes
/// what is missing, and counts each resource once.
async fn an_import_run_again_goes_on_where_it_stopped(h: Harness) {
    let source = Harness::embedded().await;
    let a = source
        .create_user(json!({"userName": "a@example.com"}))
        .await;
    let b = source
        .create_user(json!({"userName": "b@example.com"}))
        .await;
    let a_id = a["id"].as_str().unwrap_or_default();
    new_group(&source, "G", &[a_id]).await;
    let lines = export(&source).await;
    assert_eq!(lines.len(), 3);

    // Stopped after the first line.
    import(&h, &lines[..1]).await;
    let outcome = import(&h, &lines).await;
    assert_eq!(
        outcome,
        vec![
            Imported::Present { members: 0 },
            Imported::Created { members: 0 },
            Imported::Created { members: 1 },
        ]
    );
    assert_eq!(get(&h, "/scim/v2/Users").await["totalResults"], 2);
    assert_eq!(get(&h, "/scim/v2/Groups").await["totalResults"], 1);
    let read_b = get(
        &h,
        &format!("/scim/v2/Users/{}", b["id"].as_str().unwrap_or_default()),
    )
    .await;
    assert_eq!(read_b["meta"]["version"], b["meta"]["version"]);
    assert_eq!(read_b["meta"]["created"], b["meta"]["created"]);
    let with_groups = get(&h, &format!("/scim/v2/Users/{a_id}")).await;
    assert_eq!(with_groups["groups"][0]["display"], "G", "{with_groups}");
}

/// Lines that are not resources, or would break the directory's rules,
/// are refused with a SCIM error and write nothing.
async fn an_import_refuses_lines_that_are_not_resources_and_writes_nothing_of_them(h: Harness) {
    let service = service_of(&h);
    h.create_user(json!({"userName": "taken@example.com"}))
        .await;
    let user = "urn:ietf:params:scim:schemas:core:2.0:User";
    for (line, status) in [
        (
            json!({"schemas": [user], "userName": "no-id@example.com"}),
            400,
        ),
        (json!({"schemas": ["urn:example:Device"], "id": "d1"}), 400),
        (json!({"schemas": [user], "id": "u1"}), 400),
        (
            json!({"schemas": [user], "id": "u2", "userName": "TAKEN@example.com"}),
            409,
        ),
        (
            json!({"schemas": [user], "id": "u3", "userName": "v@example.com",
                "meta": {"version": "seven"}}),
            400,
        ),
        (
            json!({"schemas": [user], "id": "u4", "userName": "v@example.com", "meta": {"version": 3}}),
            400,
        ),
        (
            json!({"schemas": [user], "id": "u5", "userName": "v@example.com", "meta": {"version": "W/W/\"3"}}),
            400,
        ),
        (
            json!({"schemas": [user], "id": "u6", "userName": "v@example.com", "meta": {"version": "W/\"0\""}}),
            400,
        ),
        (
            json!({"schemas": [user], "id": "u7", "userName": "v@example.com", "meta": {"created": "yesterday"}}),
            400,
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1",
                "displayName": "G", "members": [{"value": "x", "type": "Device"}]}),
            400,
        ),
    ] {
        let e = service
            .import_line(&line)
            .await
            .err()
            .unwrap_or_else(|| panic!("{line} was taken"));
        assert_eq!(e.status, status, "{line}: {e:?}");
    }
    assert_eq!(get(&h, "/scim/v2/Users").await["totalResults"], 1);
    assert_eq!(get(&h, "/scim/v2/Groups").await["totalResults"], 0);
}

crate::on_both_drivers!(
    an_import_run_again_goes_on_where_it_stopped,
    an_import_refuses_lines_that_are_not_resources_and_writes_nothing_of_them,
);

/// (index name, key schema, projection) of a GSI.
type Gsi = (String, Vec<(String, String)>, String);

/// `create-table` makes the table the template declares: DynamoDB Local
/// describes the same keys, GSIs, billing, stream, TTL attribute and
/// deletion protection as `declared_properties`, which the template test
/// holds equal to `template.yaml`.
#[tokio::test]
#[ignore = "needs DynamoDB Local; scripts/test runs it"]
async fn create_table_makes_the_table_the_template_declares() {
    let client = crate::common::dynamodb_client().await;
    let name = format!("scim-create-{}", uuid::Uuid::new_v4());
    let shortfall = scim_lambda::store::dynamo::create_declared_table(&client, &name, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // DynamoDB Local has no point-in-time recovery, and says so.
    assert!(shortfall.point_in_time_recovery.is_some());
    let declared = scim_lambda::store::dynamo::declared_properties();
    let t = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let t = t.table().unwrap_or_else(|| panic!("no table"));
    let pairs = |v: &Value, a: &str, b: &str| -> Vec<(String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e[a].as_str().unwrap_or_default().into(),
                    e[b].as_str().unwrap_or_default().into(),
                )
            })
            .collect()
    };
    let described_keys =
        |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
            ks.iter()
                .map(|k| (k.attribute_name().into(), k.key_type().as_str().into()))
                .collect()
        };
    assert_eq!(
        described_keys(t.key_schema()),
        pairs(&declared["KeySchema"], "AttributeName", "KeyType")
    );
    let mut defs: Vec<(String, String)> = t
        .attribute_definitions()
        .iter()
        .map(|d| {
            (
                d.attribute_name().into(),
                d.attribute_type().as_str().into(),
            )
        })
        .collect();
    let mut want_defs = pairs(
        &declared["AttributeDefinitions"],
        "AttributeName",
        "AttributeType",
    );
    defs.sort();
    want_defs.sort();
    assert_eq!(defs, want_defs);
    let mut gsis: Vec<Gsi> = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap_or_default().into(),
                described_keys(g.key_schema()),
                g.projection()
                    .and_then(|p| p.projection_type())
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    gsis.sort();
    let want_gsis: Vec<Gsi> = declared["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            (
                g["IndexName"].as_str().unwrap_or_default().into(),
                pairs(&g["KeySchema"], "AttributeName", "KeyType"),
                g["Projection"]["ProjectionType"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
            )
        })
        .collect();
    assert_eq!(gsis, want_gsis);
    assert_eq!(
        t.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        declared["BillingMode"].as_str()
    );
    assert_eq!(
        t.stream_specification()
            .and_then(|s| s.stream_view_type())
            .map(|s| s.as_str()),
        declared["StreamSpecification"]["StreamViewType"].as_str()
    );
    assert_eq!(t.deletion_protection_enabled(), Some(true));
    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let ttl = ttl
        .time_to_live_description()
        .unwrap_or_else(|| panic!("no TTL"));
    assert_eq!(
        ttl.attribute_name(),
        declared["TimeToLiveSpecification"]["AttributeName"].as_str()
    );
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );
    // A second create-table of the same name is refused, and the first is kept.
    assert!(
        scim_lambda::store::dynamo::create_declared_table(&client, &name, true)
            .await
            .is_err()
    );
}
