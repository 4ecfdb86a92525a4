//! Several tenants on one deployment: each under `/scim/v2/{tenant}` with its
//! own token and its own directory in the one table, beside the
//! single-tenant directory at `/scim/v2`.

use std::collections::BTreeMap;
use std::time::Duration;

use scim_lambda::store::table::{Condition, Item, Write};
use scim_lambda::store::{Directory, Table};
use scim_lambda::tenant::{Tenant, TenantId};
use serde_json::{Value, json};

use scim_lambda::config::Config;

use crate::common::{Driver, Harness, TOKEN};
use crate::{on_both_drivers, on_both_drivers_with_config};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": format!("ext-{name}"),
        "emails": [{"value": format!("{name}@example.com"), "primary": true}],
    })
}

fn add_members(ids: &[&str]) -> Value {
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": members}],
    })
}

fn named(t: &str) -> Tenant {
    Tenant::Named(TenantId::parse(t).unwrap_or_else(|e| panic!("{e}")))
}

/// Creates a resource in a tenant (`""` for the single-tenant directory)
/// and returns its id.
async fn create(h: &Harness, token: &str, tenant: &str, endpoint: &str, body: Value) -> String {
    let base = base(tenant);
    let r = h
        .send_as(token, "POST", &format!("{base}/{endpoint}"), Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
}

fn base(tenant: &str) -> String {
    if tenant.is_empty() {
        "/scim/v2".into()
    } else {
        format!("/scim/v2/{tenant}")
    }
}

async fn total(h: &Harness, token: &str, path: &str) -> u64 {
    let r = h.send_as(token, "GET", path, None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body["totalResults"].as_u64().unwrap_or(u64::MAX)
}

async fn the_same_user_name_lives_in_each_tenant_once(h: Harness) {
    let acme = h.add_tenant("acme");
    let globex = h.add_tenant("globex");
    let a = create(&h, &acme, "acme", "Users", user("bjensen")).await;
    let g = create(&h, &globex, "globex", "Users", user("bjensen")).await;
    let d = create(&h, TOKEN, "", "Users", user("bjensen")).await;
    assert!(a != g && g != d && a != d);
    // Unique within each tenant, case-insensitively, as before.
    h.send_as(&acme, "POST", "/scim/v2/acme/Users", Some(user("BJensen")))
        .await
        .assert_error(409, Some("uniqueness"));
    for (token, tenant, id) in [
        (&acme, "acme", &a),
        (&globex, "globex", &g),
        (&TOKEN.to_string(), "", &d),
    ] {
        let path = format!(
            "{}/Users?filter=userName%20eq%20%22bjensen%22",
            base(tenant)
        );
        let r = h.send_as(token, "GET", &path, None).await;
        assert_eq!(r.body["totalResults"], 1, "{tenant}: {}", r.body);
        assert_eq!(r.body["Resources"][0]["id"], json!(id));
    }
    // A rename in one tenant frees the name there only.
    let rename = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "userName", "value": "babs"}]});
    let r = h
        .send_as(
            &acme,
            "PATCH",
            &format!("/scim/v2/acme/Users/{a}"),
            Some(rename),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    h.send_as(
        &globex,
        "POST",
        "/scim/v2/globex/Users",
        Some(user("BJENSEN")),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    create(&h, &acme, "acme", "Users", user("bjensen")).await;
}

async fn a_token_opens_its_own_directory_only(h: Harness) {
    let acme = h.add_tenant("acme");
    let globex = h.add_tenant("globex");
    let cases = [
        (&acme, "/scim/v2/acme/Users", 200),
        (&globex, "/scim/v2/globex/Users", 200),
        (&TOKEN.to_string(), "/scim/v2/Users", 200),
        (&acme, "/scim/v2/globex/Users", 401),
        (&globex, "/scim/v2/acme/Users", 401),
        (&acme, "/scim/v2/Users", 401),
        (&TOKEN.to_string(), "/scim/v2/acme/Users", 401),
        // A tenant nobody added: refused like a wrong token, so that tenant
        // names cannot be probed.
        (&acme, "/scim/v2/initech/Users", 401),
        (&acme, "/scim/v2/globex/ServiceProviderConfig", 401),
    ];
    for (token, path, status) in cases {
        let r = h.send_as(token, "GET", path, None).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
        if status == 401 {
            r.assert_error(401, None);
        }
    }
    // Paths that cannot name a tenant name no directory. (A reserved name
    // in another case, `/scim/v2/users/...`, is the endpoint itself: paths
    // are lenient about an endpoint's case.)
    for path in [
        "/scim/v2/Acme/Users",
        "/scim/v2/oauth2/Users",
        "/scim/v2/default/Users",
        "/scim/v2/a%23b/Users",
        "/scim/v2/-acme/Users",
    ] {
        h.send_as(&acme, "GET", path, None)
            .await
            .assert_error(404, None);
    }
    // A path no endpoint has is a 404 for a token that opens the directory
    // the path names, and a 401 for no token.
    for (token, path, status) in [
        (acme.as_str(), "/scim/v2/acme/Nothing", 404),
        (acme.as_str(), "/scim/v2/acme", 404),
        (TOKEN, "/scim/v2/foo/bar", 404),
        (TOKEN, "/scim/v2/scim/v2/Users", 404),
        (acme.as_str(), "/scim/v2/globex/Nothing", 401),
        ("", "/scim/v2/Users/x/y", 401),
    ] {
        let r = h.send_as(token, "GET", path, None).await;
        r.assert_error(status, None);
    }
    // A removed tenant's token stops working at once (the file is read
    // again when it changes).
    let mut doc =
        scim_lambda::auth::TenantsFileDoc::read(&h.tenants_file).unwrap_or_else(|e| panic!("{e}"));
    doc.tenants.remove("acme");
    doc.write(&h.tenants_file).unwrap_or_else(|e| panic!("{e}"));
    h.send_as(&acme, "GET", "/scim/v2/acme/Users", None)
        .await
        .assert_error(401, None);
}

async fn another_tenants_resources_are_not_found_nor_listed(h: Harness) {
    let acme = h.add_tenant("acme");
    let globex = h.add_tenant("globex");
    let u = create(&h, &acme, "acme", "Users", user("alice")).await;
    let g = create(
        &h,
        &acme,
        "acme",
        "Groups",
        json!({"displayName": "Admins", "externalId": "grp-1", "members": [{"value": u}]}),
    )
    .await;
    create(&h, &globex, "globex", "Users", user("bob")).await;
    for path in [format!("Users/{u}"), format!("Groups/{g}")] {
        let at = format!("/scim/v2/globex/{path}");
        h.send_as(&globex, "GET", &at, None)
            .await
            .assert_error(404, None);
        h.send_as(&globex, "DELETE", &at, None)
            .await
            .assert_error(404, None);
        let patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "externalId", "value": "x"}]});
        h.send_as(&globex, "PATCH", &at, Some(patch))
            .await
            .assert_error(404, None);
        let put = if path.starts_with("Users") {
            user("alice")
        } else {
            json!({"displayName": "Admins"})
        };
        h.send_as(&globex, "PUT", &at, Some(put))
            .await
            .assert_error(404, None);
    }
    // Every indexed filter, and the unindexed ones, find nothing of acme's.
    let filters = [
        ("Users", format!("id eq \"{u}\"")),
        ("Users", "userName eq \"alice\"".to_string()),
        ("Users", "externalId eq \"ext-alice\"".to_string()),
        ("Users", "emails.value eq \"alice@example.com\"".to_string()),
        ("Users", "userName sw \"a\"".to_string()),
        ("Groups", format!("id eq \"{g}\"")),
        ("Groups", "displayName eq \"Admins\"".to_string()),
        ("Groups", "externalId eq \"grp-1\"".to_string()),
        ("Groups", format!("members.value eq \"{u}\"")),
        ("Groups", "displayName co \"dmin\"".to_string()),
    ];
    for (endpoint, filter) in &filters {
        let q: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        assert_eq!(
            total(
                &h,
                &globex,
                &format!("/scim/v2/globex/{endpoint}?filter={q}")
            )
            .await,
            0,
            "{filter}"
        );
        assert_eq!(
            total(&h, &acme, &format!("/scim/v2/acme/{endpoint}?filter={q}")).await,
            1,
            "{filter}"
        );
        assert_eq!(
            total(&h, TOKEN, &format!("/scim/v2/{endpoint}?filter={q}")).await,
            0,
            "{filter}"
        );
    }
    assert_eq!(total(&h, &globex, "/scim/v2/globex/Users").await, 1);
    assert_eq!(total(&h, &globex, "/scim/v2/globex/Groups").await, 0);
    assert_eq!(total(&h, TOKEN, "/scim/v2/Users").await, 0);
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName pr"});
    let r = h
        .send_as(&globex, "POST", "/scim/v2/globex/.search", Some(search))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert_eq!(r.body["Resources"][0]["userName"], "bob");
}

async fn member_references_to_another_tenant_are_refused(h: Harness) {
    let acme = h.add_tenant("acme");
    let globex = h.add_tenant("globex");
    let alice = create(&h, &acme, "acme", "Users", user("alice")).await;
    let acme_group = create(&h, &acme, "acme", "Groups", json!({"displayName": "A"})).await;
    let bob = create(&h, &globex, "globex", "Users", user("bob")).await;
    let g = create(&h, &globex, "globex", "Groups", json!({"displayName": "G"})).await;
    let at = format!("/scim/v2/globex/Groups/{g}");
    for foreign in [&alice, &acme_group] {
        h.send_as(&globex, "PATCH", &at, Some(add_members(&[foreign])))
            .await
            .assert_error(400, Some("invalidValue"));
        // Not even beside a member of its own tenant.
        h.send_as(&globex, "PATCH", &at, Some(add_members(&[&bob, foreign])))
            .await
            .assert_error(400, Some("invalidValue"));
        h.send_as(
            &globex,
            "POST",
            "/scim/v2/globex/Groups",
            Some(json!({"displayName": "H", "members": [{"value": foreign}]})),
        )
        .await
        .assert_error(400, Some("invalidValue"));
        h.send_as(
            &globex,
            "PUT",
            &at,
            Some(json!({"displayName": "G", "members": [{"value": foreign}]})),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    }
    // Nothing was applied: globex's group has no member, and acme's user is
    // in no group.
    let r = h.send_as(&globex, "GET", &at, None).await;
    assert_eq!(
        r.body
            .get("members")
            .map_or(0, |m| m.as_array().map_or(0, Vec::len)),
        0,
        "{}",
        r.body
    );
    assert_eq!(total(&h, &globex, "/scim/v2/globex/Groups").await, 1);
    let r = h
        .send_as(&acme, "GET", &format!("/scim/v2/acme/Users/{alice}"), None)
        .await;
    assert!(
        r.body
            .get("groups")
            .is_none_or(|g| g.as_array().is_some_and(Vec::is_empty)),
        "{}",
        r.body
    );
    // Its own member is fine.
    let r = h
        .send_as(&globex, "PATCH", &at, Some(add_members(&[&bob])))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

async fn locations_and_discovery_name_the_tenant(h: Harness) {
    let acme = h.add_tenant("acme");
    let r = h
        .send_as(&acme, "POST", "/scim/v2/acme/Users", Some(user("carol")))
        .await;
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let want = format!("http://scim.example.test/scim/v2/acme/Users/{id}");
    assert_eq!(r.header("location"), Some(want.as_str()));
    assert_eq!(r.body["meta"]["location"], json!(want));
    let r = h
        .send_as(&acme, "GET", "/scim/v2/acme/ResourceTypes/User", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["meta"]["location"],
        "http://scim.example.test/scim/v2/acme/ResourceTypes/User"
    );
    let r = h
        .send_as(&acme, "GET", "/scim/v2/acme/ServiceProviderConfig", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    h.send_as(&acme, "GET", "/scim/v2/acme/Nothing", None)
        .await
        .assert_error(404, None);
    // Bulk in a tenant's directory: its operations land there.
    h.send_as(&acme, "POST", "/scim/v2/acme/Bulk", Some(json!({})))
        .await
        .assert_error(400, Some("invalidSyntax"));
    let r = h
        .send_as(
            &acme,
            "POST",
            "/scim/v2/acme/Bulk",
            Some(
                json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "b",
                "data": {"userName": "bulk@acme.example"}}]}),
            ),
        )
        .await;
    assert_eq!(r.body["Operations"][0]["status"], "201", "{}", r.body);
    let location = r.body["Operations"][0]["location"]
        .as_str()
        .unwrap_or_default();
    assert!(location.contains("/scim/v2/acme/Users/"), "{location}");
    let mine = h
        .send_as(
            &acme,
            "GET",
            "/scim/v2/acme/Users?filter=userName%20eq%20%22bulk@acme.example%22",
            None,
        )
        .await;
    assert_eq!(mine.body["totalResults"], 1);
    let default = h
        .send(
            "GET",
            "/scim/v2/Users?filter=userName%20eq%20%22bulk@acme.example%22",
            None,
        )
        .await;
    assert_eq!(default.body["totalResults"], 0);
}

async fn a_cursor_works_in_its_own_tenant_only(h: Harness) {
    let acme = h.add_tenant("acme");
    let globex = h.add_tenant("globex");
    for i in 0..3 {
        create(&h, &acme, "acme", "Users", user(&format!("a{i}"))).await;
        create(&h, &globex, "globex", "Users", user(&format!("g{i}"))).await;
    }
    let r = h
        .send_as(&acme, "GET", "/scim/v2/acme/Users?cursor=&count=1", None)
        .await;
    let cursor: String = form_urlencoded::byte_serialize(
        r.body["nextCursor"].as_str().unwrap_or_default().as_bytes(),
    )
    .collect();
    assert!(!cursor.is_empty(), "{}", r.body);
    let r = h
        .send_as(
            &acme,
            "GET",
            &format!("/scim/v2/acme/Users?cursor={cursor}&count=1"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    h.send_as(
        &globex,
        "GET",
        &format!("/scim/v2/globex/Users?cursor={cursor}&count=1"),
        None,
    )
    .await
    .assert_error(400, Some("invalidCursor"));
    h.send_as(
        TOKEN,
        "GET",
        &format!("/scim/v2/Users?cursor={cursor}&count=1"),
        None,
    )
    .await
    .assert_error(400, Some("invalidCursor"));
}

on_both_drivers!(
    the_same_user_name_lives_in_each_tenant_once,
    a_token_opens_its_own_directory_only,
    another_tenants_resources_are_not_found_nor_listed,
    member_references_to_another_tenant_are_refused,
    locations_and_discovery_name_the_tenant,
    a_cursor_works_in_its_own_tenant_only,
);

/// Every item of the table, by key.
async fn all_items(table: &Table) -> BTreeMap<(String, String), Item> {
    let mut out = BTreeMap::new();
    let mut after = None;
    loop {
        let page = table
            .scan(after.as_ref(), 1000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for item in &page.items {
            let k = item.key();
            out.insert((k.pk, k.sk), item.clone());
        }
        match page.items.last() {
            Some(last) if page.more => after = Some(last.key()),
            _ => return out,
        }
    }
}

/// The same directory contents in each of three directories: users with
/// emails, groups with members (a nested one too), and a deleted group whose
/// cleanup is still pending.
async fn populate(h: &Harness, token: &str, tenant: &str) {
    let mut users = Vec::new();
    for i in 0..30 {
        users.push(create(h, token, tenant, "Users", user(&format!("user{i}"))).await);
    }
    let ids: Vec<&str> = users.iter().map(String::as_str).collect();
    let inner = create(h, token, tenant, "Groups", json!({"displayName": "Inner"})).await;
    let outer = create(h, token, tenant, "Groups", json!({"displayName": "Outer"})).await;
    let doomed = create(h, token, tenant, "Groups", json!({"displayName": "Doomed"})).await;
    let b = base(tenant);
    for (g, members) in [
        (&inner, &ids[..20]),
        (&outer, &[inner.as_str()][..]),
        (&doomed, &ids[..]),
    ] {
        let r = h
            .send_as(
                token,
                "PATCH",
                &format!("{b}/Groups/{g}"),
                Some(add_members(members)),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    // With no time for cleanup, the delete leaves its edges and a task.
    let r = h
        .send_as(token, "DELETE", &format!("{b}/Groups/{doomed}"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

async fn removing_a_tenant_deletes_all_and_only_its_items(driver: Driver) {
    let mut config: Config = crate::common::config();
    config.limits.delete_cleanup_budget = Duration::ZERO;
    let h = driver.harness(&config).await;
    let acme = h.add_tenant("acme");
    let globex = h.add_tenant("globex");
    populate(&h, TOKEN, "").await;
    populate(&h, &acme, "acme").await;
    populate(&h, &globex, "globex").await;
    let before = all_items(&h.table).await;
    let is_acme = |pk: &str| pk.starts_with("T#acme#");
    let acme_items: Vec<(String, String)> = before
        .keys()
        .filter(|(pk, _)| is_acme(pk))
        .cloned()
        .collect();
    // Every kind of item is there to be removed.
    for (what, found) in [
        (
            "user",
            acme_items
                .iter()
                .any(|(pk, sk)| pk.starts_with("T#acme#User#") && sk == "RESOURCE"),
        ),
        (
            "userName guard",
            acme_items.iter().any(|(_, sk)| sk == "UNIQUE"),
        ),
        (
            "email lookup",
            acme_items.iter().any(|(_, sk)| sk.starts_with("EMAIL#")),
        ),
        (
            "group",
            acme_items
                .iter()
                .any(|(pk, sk)| pk.starts_with("T#acme#Group#") && sk == "RESOURCE"),
        ),
        (
            "edge",
            acme_items.iter().any(|(_, sk)| sk.starts_with("MEMBER#")),
        ),
        (
            "cleanup task",
            acme_items.iter().any(|(pk, _)| pk == "T#acme#CLEANUP"),
        ),
    ] {
        assert!(found, "acme has no {what} item");
    }
    let dir = Directory::of(h.table.clone(), &named("acme"));
    // One small round stops part-way; a later run (another process, say)
    // resumes from what is left.
    let first = dir
        .remove_some(10)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!first.done && first.deleted > 0, "{first:?}");
    let deleted = scim_lambda::admin::remove_all(&dir, 10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = all_items(&h.table).await;
    let left: Vec<_> = after.keys().filter(|(pk, _)| is_acme(pk)).collect();
    assert!(left.is_empty(), "left of acme: {left:?}");
    let others: BTreeMap<_, _> = before
        .into_iter()
        .filter(|((pk, _), _)| !is_acme(pk))
        .collect();
    assert_eq!(after, others, "items of other directories changed");
    assert_eq!(first.deleted + deleted, acme_items.len());
    // The others still work; the removed tenant's directory is empty (its
    // token would be gone too: `tenant remove` revokes it first).
    assert_eq!(total(&h, &globex, "/scim/v2/globex/Users").await, 30);
    assert_eq!(total(&h, TOKEN, "/scim/v2/Groups").await, 2);
    assert_eq!(total(&h, &acme, "/scim/v2/acme/Users").await, 0);
    // The same tenant can start over.
    create(&h, &acme, "acme", "Users", user("user0")).await;
}

async fn a_sweep_finds_what_no_index_leads_to(driver: Driver) {
    let h = driver.harness(&crate::common::config()).await;
    let acme = h.add_tenant("acme");
    let u = create(&h, &acme, "acme", "Users", user("dave")).await;
    create(&h, TOKEN, "", "Users", user("dave")).await;
    // An edge left in the partition of a group that no longer exists, whose
    // member is gone too (a request racing two deletes could leave one).
    let keys = dir_keys("acme");
    let mut stray = Item::new(keys.member_edge("gone-group", "gone-user"));
    stray.set_s("type", "Membership");
    h.table
        .write_all(&[Write::put(stray, Condition::None)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before = all_items(&h.table).await;
    let dir = Directory::of(h.table.clone(), &named("acme"));
    scim_lambda::admin::remove_all(&dir, 1000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let left: Vec<_> = all_items(&h.table)
        .await
        .into_keys()
        .filter(|(pk, _)| pk.starts_with("T#acme#"))
        .collect();
    assert_eq!(left.len(), 1, "only the stray edge is left: {left:?}");
    let swept = scim_lambda::admin::sweep_all(&dir)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(swept, 1);
    let now = all_items(&h.table).await;
    let others: BTreeMap<_, _> = before
        .into_iter()
        .filter(|((pk, _), _)| !pk.starts_with("T#acme#"))
        .collect();
    assert_eq!(now, others);
    assert!(!u.is_empty());
}

fn dir_keys(tenant: &str) -> scim_lambda::store::keys::Keys {
    scim_lambda::store::keys::Keys::of(&named(tenant))
}

on_both_drivers_with_config!(
    removing_a_tenant_deletes_all_and_only_its_items,
    a_sweep_finds_what_no_index_leads_to,
);

/// The operator's commands, as `scim-lambda tenant ...` runs them: add a
/// tenant to the tenants file, then remove it (token first, then its items)
/// while the single-tenant directory stays.
async fn the_tenant_commands_add_and_remove_a_tenant(driver: Driver) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut config = crate::common::config();
    config.tenants_file = tmp.path().join("tenants.json");
    config.db_path = tmp.path().join("scim.redb");
    config.token = Some(TOKEN.into());
    if let Driver::DynamoDb = driver {
        let client = crate::common::dynamodb_client().await;
        let name = format!("scim-test-{}", uuid::Uuid::new_v4());
        scim_lambda::store::dynamo::create_table(&client, &name)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        config.table_name = Some(name);
    }
    let run = |words: &[&str]| {
        let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let config = config.clone();
        async move {
            scim_lambda::admin::run(&args, &config)
                .await
                .map_err(|e| e.to_string())
        }
    };
    run(&["tenant", "add", "acme"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        run(&["tenant", "add", "acme"])
            .await
            .is_err_and(|e| e.contains("already exists"))
    );
    assert!(run(&["tenant", "add", "Not-A-Slug"]).await.is_err());
    // The printed token is shown once; give the tenant one this test knows.
    let acme = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
    let mut doc = scim_lambda::auth::TenantsFileDoc::read(&config.tenants_file)
        .unwrap_or_else(|e| panic!("{e}"));
    doc.set_token(&acme, "acme-token-for-this-test");
    doc.write(&config.tenants_file)
        .unwrap_or_else(|e| panic!("{e}"));
    {
        let app = scim_lambda::App::build(&config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let h = Harness::from_router(app.router, app.table);
        create(
            &h,
            "acme-token-for-this-test",
            "acme",
            "Users",
            user("erin"),
        )
        .await;
        create(&h, TOKEN, "", "Users", user("erin")).await;
    }
    // While its items are there, the id cannot be given to a new tenant.
    let mut doc = scim_lambda::auth::TenantsFileDoc::read(&config.tenants_file)
        .unwrap_or_else(|e| panic!("{e}"));
    doc.tenants.clear();
    doc.write(&config.tenants_file)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        run(&["tenant", "add", "acme"])
            .await
            .is_err_and(|e| e.contains("still has items"))
    );
    run(&["tenant", "remove", "acme", "--batch", "5"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = scim_lambda::auth::TenantsFileDoc::read(&config.tenants_file)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(doc.tenants.is_empty(), "{doc:?}");
    let app = scim_lambda::App::build(&config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let items = all_items(&app.table).await;
    assert!(
        items.keys().all(|(pk, _)| !pk.starts_with("T#acme#")),
        "{items:?}"
    );
    let h = Harness::from_router(app.router, app.table);
    assert_eq!(total(&h, TOKEN, "/scim/v2/Users").await, 1);
    h.send_as(
        "acme-token-for-this-test",
        "GET",
        "/scim/v2/acme/Users",
        None,
    )
    .await
    .assert_error(401, None);
    // Removing again finds nothing to do, and is not an error; then the id
    // can be given out again.
    drop(h);
    run(&["tenant", "remove", "acme"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    run(&["tenant", "add", "acme"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

mod commands {
    use super::*;
    on_both_drivers_with_config!(the_tenant_commands_add_and_remove_a_tenant);
}

/// The same conversation in the single-tenant directory and in a tenant's:
/// the tenant adds no DynamoDB request to any step.
async fn a_tenant_costs_the_same_requests_as_the_single_tenant_directory(h: Harness) {
    let acme = h.add_tenant("acme");
    let mut costs: Vec<Vec<u64>> = Vec::new();
    for (token, tenant) in [(TOKEN.to_string(), ""), (acme.clone(), "acme")] {
        let b = base(tenant);
        let mut steps = Vec::new();
        let mut step = |before: scim_lambda::store::Requests,
                        after: scim_lambda::store::Requests| {
            steps.push((after - before).total());
        };
        let t0 = h.requests();
        let u = create(&h, &token, tenant, "Users", user("frank")).await;
        let t1 = h.requests();
        step(t0, t1);
        let g = create(&h, &token, tenant, "Groups", json!({"displayName": "Ops"})).await;
        let t2 = h.requests();
        step(t1, t2);
        let calls: Vec<(&str, String, Option<Value>)> = vec![
            ("PATCH", format!("{b}/Groups/{g}"), Some(add_members(&[&u]))),
            ("GET", format!("{b}/Users/{u}"), None),
            (
                "GET",
                format!("{b}/Users?filter=userName%20eq%20%22frank%22"),
                None,
            ),
            (
                "GET",
                format!("{b}/Groups?filter=members.value%20eq%20%22{u}%22"),
                None,
            ),
            (
                "GET",
                format!("{b}/Users?filter=emails.value%20eq%20%22frank%40example.com%22"),
                None,
            ),
            ("DELETE", format!("{b}/Users/{u}"), None),
        ];
        for (method, path, body) in calls {
            let before = h.requests();
            let r = h.send_as(&token, method, &path, body).await;
            assert!(r.status < 300, "{method} {path}: {}", r.body);
            step(before, h.requests());
        }
        costs.push(steps);
    }
    assert_eq!(costs[0], costs[1], "single-tenant vs tenant, per step");
}

mod costs {
    use super::*;
    on_both_drivers!(a_tenant_costs_the_same_requests_as_the_single_tenant_directory);
}
