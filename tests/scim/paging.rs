//! Index paging at depth, on both drivers: what a page near the end costs
//! against the first, and an import (Okta's `startIndex` walk) served by two
//! processes over one table while the directory changes under it.

use std::collections::{BTreeMap, HashMap, HashSet};

use scim_lambda::scim::Kind;
use scim_lambda::scim::resource::Meta;
use scim_lambda::store::{Directory, Edge, Requests, Stored};
use serde_json::{Value, json};

use crate::common::{Driver, Harness, config, encode, ids, new_group};

/// `n` users straight into the table, every third inactive.
async fn import_users(h: &Harness, n: usize) -> Vec<String> {
    crate::common::import_users(&h.table, n, |i| {
        let mut doc = serde_json::Map::new();
        doc.insert("userName".into(), json!(format!("p{i:05}@example.com")));
        doc.insert("active".into(), json!(i % 3 != 0));
        (doc, "2026-01-01T00:00:00Z".into())
    })
    .await
}

/// Groups straight into the table, and each user made a member of one.
async fn import_groups(h: &Harness, n: usize, users: &[String]) {
    let dir = Directory::new(h.table.clone());
    let groups: Vec<Stored> = (0..n)
        .map(|i| {
            let mut doc = serde_json::Map::new();
            doc.insert("displayName".into(), json!(format!("Paging {i}")));
            Stored {
                meta: Meta {
                    id: uuid::Uuid::new_v4().to_string(),
                    created: "2026-01-01T00:00:00Z".into(),
                    last_modified: "2026-01-01T00:00:00Z".into(),
                    version: 1,
                },
                doc,
            }
        })
        .collect();
    dir.import(Kind::Group, &groups)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let edges: Vec<Edge> = users
        .iter()
        .enumerate()
        .map(|(i, u)| Edge {
            group_id: groups[i % n].meta.id.clone(),
            member_id: u.clone(),
            member_type: Kind::User,
        })
        .collect();
    dir.write_edges(&edges, &[])
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
}

/// Walks `/Users?{query}` by `startIndex` as Okta does (`count` a page,
/// until `startIndex` passes `totalResults`), each page on the harness
/// `serve(page number)` picks, calling `between` after each page. Returns
/// the ids in order and each page's requests by its `startIndex`.
async fn index_walk(
    harnesses: &[&Harness],
    query: &str,
    count: usize,
    mut between: impl AsyncFnMut(),
) -> (Vec<String>, BTreeMap<usize, Requests>) {
    let mut all = Vec::new();
    let mut costs = BTreeMap::new();
    let mut start = 1;
    for page in 0..10_000 {
        let h = harnesses[page % harnesses.len()];
        let before = h.requests();
        let r = h
            .send(
                "GET",
                &format!("/scim/v2/Users?{query}&startIndex={start}&count={count}"),
                None,
            )
            .await;
        costs.insert(start, h.requests() - before);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["startIndex"], start);
        let got = ids(&r.body);
        all.extend(got.iter().cloned());
        let total = r.body["totalResults"].as_u64().unwrap_or(0) as usize;
        // An empty page the totals did not announce would keep a client
        // asking for it.
        assert!(
            !got.is_empty() || start > total,
            "an empty page at {start} of {total}"
        );
        start += got.len();
        if start > total {
            return (all, costs);
        }
        between().await;
    }
    panic!("the walk did not end");
}

async fn an_index_page_near_the_end_costs_what_the_first_costs(h: Harness) {
    let users = import_users(&h, 1050).await;
    import_groups(&h, 2, &users).await;
    let active = encode("active eq true");
    for query in [
        "excludedAttributes=groups".to_string(),
        String::new(),
        format!("filter={active}&excludedAttributes=groups"),
        format!("filter={active}"),
    ] {
        let (walked, costs) = index_walk(&[&h], &query, 100, async || {}).await;
        // The last full page that has one after it.
        let (near, near_end) = costs
            .iter()
            .rev()
            .nth(1)
            .map(|(s, c)| (*s, *c))
            .unwrap_or_default();
        assert!(near > 500, "{query}: {costs:?}");
        assert_eq!(
            costs[&1], near_end,
            "{query}: the first page against {near}"
        );
        let unique: HashSet<&String> = walked.iter().collect();
        assert_eq!(unique.len(), walked.len(), "{query}: a user twice");
        if query.is_empty() || query.starts_with("excluded") {
            assert_eq!(walked.len(), users.len(), "{query}");
        } else {
            assert_eq!(walked.len(), 700, "{query}");
        }
    }
    // Unfiltered: the type's kept count with the page's mark (1
    // BatchGetItem), the page (1 Query) and the next page's mark (1
    // PutItem); with groups, the page's edges (1 Query) and their groups
    // (1 BatchGetItem) besides.
    for (query, want) in [
        ("excludedAttributes=groups", (1, 1, 1, 3)),
        ("", (2, 2, 1, 5)),
    ] {
        let (_, costs) = index_walk(&[&h], query, 100, async || {}).await;
        let c = costs[&901];
        assert_eq!(
            (c.batch_get_item, c.query, c.put_or_delete_item, c.total()),
            want,
            "{query}: {c:?}"
        );
    }
}

fn group_ids(user: &Value) -> Vec<(String, String)> {
    user["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            (
                g["value"].as_str().unwrap_or_default().to_string(),
                g["display"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn a_page_of_users_lists_the_groups_each_user_has_alone(h: Harness) {
    let mut users = Vec::new();
    for i in 0..7 {
        users.push(create(&h, &format!("member{i}@example.com")).await);
    }
    let u: Vec<&str> = users.iter().map(String::as_str).collect();
    let nested = new_group(&h, "Nested", &[u[4]]).await;
    new_group(&h, "All but two", &[u[0], u[1], u[3], u[5], u[6], &nested]).await;
    new_group(&h, "One", &[u[1]]).await;
    let gone = new_group(&h, "Gone", &[u[2], u[3]]).await;
    let r = h
        .send("DELETE", &format!("/scim/v2/Groups/{gone}"), None)
        .await;
    assert_eq!(r.status, 204);
    let mut alone = HashMap::new();
    for id in &users {
        let r = h.send("GET", &format!("/scim/v2/Users/{id}"), None).await;
        alone.insert(id.clone(), group_ids(&r.body));
    }
    assert_eq!(alone[&users[1]].len(), 2);
    assert!(alone[&users[2]].is_empty());
    // Index pages of three and cursor pages of two, each user as alone.
    let mut listed = HashMap::new();
    for start in [1, 4, 7] {
        let r = h
            .send(
                "GET",
                &format!("/scim/v2/Users?startIndex={start}&count=3"),
                None,
            )
            .await;
        for user in r.body["Resources"].as_array().into_iter().flatten() {
            let id = user["id"].as_str().unwrap_or_default().to_string();
            listed.insert(id, group_ids(user));
        }
    }
    assert_eq!(listed, alone);
    let mut cursor = String::new();
    let mut by_cursor = HashMap::new();
    loop {
        let r = h
            .send(
                "GET",
                &format!("/scim/v2/Users?count=2&cursor={}", encode(&cursor)),
                None,
            )
            .await;
        for user in r.body["Resources"].as_array().into_iter().flatten() {
            let id = user["id"].as_str().unwrap_or_default().to_string();
            by_cursor.insert(id, group_ids(user));
        }
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(by_cursor, alone);
}

async fn an_upgrade_brings_an_older_releases_edges_and_counts_up(h: Harness) {
    use scim_lambda::store::keys::{Keys, LOOKUP_INDEX};
    use scim_lambda::store::table::{Condition, Write};
    let user = create(&h, "older@example.com").await;
    let group = new_group(&h, "Older", &[&user]).await;
    // As an earlier release left them: the edge under the member's own
    // gsi2 partition, and no counts.
    let keys = Keys::default();
    let edge_key = keys.member_edge(&group, &user);
    let mut edge = h
        .table
        .get(&edge_key)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("no edge"));
    edge.set_s(LOOKUP_INDEX.pk, format!("MemberOf#{user}"))
        .set_s(LOOKUP_INDEX.sk, group.clone());
    // And an edge whose member is gone, as an older cleanup left it.
    let mut orphan_edge = edge.clone();
    let gone = uuid::Uuid::new_v4().to_string();
    let orphan = keys.member_edge(&group, &gone);
    orphan_edge
        .set_s("pk", orphan.pk.clone())
        .set_s("sk", orphan.sk.clone())
        .set_s("member", gone.clone())
        .set_s(LOOKUP_INDEX.pk, format!("MemberOf#{gone}"));
    let mut writes = vec![
        Write::put(edge, Condition::None),
        Write::put(orphan_edge, Condition::None),
    ];
    for kind in Kind::ALL {
        writes.extend(
            keys.count_shards(kind)
                .into_iter()
                .map(|k| Write::delete(k, Condition::None)),
        );
    }
    h.table
        .batch_write(&writes)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let groups_of = async || {
        let r = h.send("GET", &format!("/scim/v2/Users/{user}"), None).await;
        group_ids(&r.body).len()
    };
    let total = async |path: &str| {
        let r = h
            .send("GET", &format!("/scim/v2/{path}?count=0"), None)
            .await;
        r.body["totalResults"].as_u64()
    };
    // Its counts are taken from the type index until it is upgraded; its
    // edges are not found.
    assert_eq!(
        (groups_of().await, total("Users").await),
        (0, Some(1)),
        "the older table"
    );
    let dir = Directory::new(h.table.clone());
    let mut after = None;
    let mut rewritten = 0;
    loop {
        let (n, next) = dir
            .reindex_edges_some(after.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        rewritten += n;
        match next {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    // The one edge, and none of the edge an older cleanup missed.
    assert_eq!(rewritten, 2);
    assert_eq!(
        h.table.get(&orphan).await.map(|i| i.is_none()),
        Ok(true),
        "an edge of a deleted user is deleted"
    );
    for kind in Kind::ALL {
        dir.recount(kind).await.unwrap_or_else(|e| panic!("{e:?}"));
    }
    assert_eq!(groups_of().await, 1);
    assert_eq!(
        (total("Users").await, total("Groups").await),
        (Some(1), Some(1))
    );
    // Run again, it finds nothing to rewrite and keeps the counts.
    let (n, _) = dir
        .reindex_edges_some(None)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(n, 0);
    assert_eq!(dir.recount(Kind::User).await, Ok(1));
}

/// A user created through the router; its id.
async fn create(h: &Harness, user_name: &str) -> String {
    let body = h.create_user(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name})).await;
    body["id"].as_str().unwrap_or_default().to_string()
}

async fn an_import_served_by_two_processes_returns_every_lasting_user_once(h: Harness) {
    let lasting = import_users(&h, 430).await;
    let mut doomed = Vec::new();
    for i in 0..40 {
        doomed.push(create(&h, &format!("doomed{i}@example.com")).await);
    }
    // A second process: a router of its own over the same table.
    let other = Harness::with_table(h.table.clone(), &config(), None);
    let mut created = Vec::new();
    let mut page = 0;
    let (walked, _) = index_walk(&[&h, &other], "excludedAttributes=groups", 50, async || {
        // Between pages, one user is created and three are deleted.
        page += 1;
        created.push(create(&h, &format!("new{page}@example.com")).await);
        for _ in 0..3 {
            if let Some(id) = doomed.pop() {
                let r = h
                    .send("DELETE", &format!("/scim/v2/Users/{id}"), None)
                    .await;
                assert_eq!(r.status, 204, "{}", r.body);
            }
        }
    })
    .await;
    let mut seen: HashMap<&String, usize> = HashMap::new();
    for id in &walked {
        *seen.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "returned more than once: {twice:?}");
    let missed: Vec<_> = lasting.iter().filter(|id| !seen.contains_key(id)).collect();
    assert!(missed.is_empty(), "{} lasting users missed", missed.len());
    assert!(
        doomed.len() < 40 - 20,
        "the directory changed during the walk"
    );
    // The walk ends exact once the directory holds still.
    let r = h
        .send(
            "GET",
            "/scim/v2/Users?excludedAttributes=groups&count=0",
            None,
        )
        .await;
    let exist = lasting.len() + doomed.len() + created.len();
    assert_eq!(r.body["totalResults"], exist);
}

/// Users created behind a walk (ids before where it stands) are not its to
/// return; its last page says so, so that the client stops there.
async fn a_walks_last_page_ends_it_though_users_were_created_behind_it(h: Harness) {
    import_users(&h, 60).await;
    let mut created = 0;
    let (walked, costs) = index_walk(&[&h], "excludedAttributes=groups", 50, async || {
        if created == 0 {
            for i in 0..30 {
                create(&h, &format!("behind{i}@example.com")).await;
            }
            created = 30;
        }
    })
    .await;
    assert_eq!(costs.len(), 2, "two pages: {costs:?}");
    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len());
    assert!(walked.len() < 90, "some were created behind the walk");
}

/// Users each in three groups, and a page allowed to list seven
/// memberships: it holds the first two users (six), and the next page goes
/// on from the third; a user with more groups than that comes alone.
async fn a_page_of_users_is_cut_before_it_lists_more_groups_than_allowed(d: Driver) {
    let mut c = config();
    c.limits.max_list_members = 7;
    let h = d.harness(&c).await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(create(&h, &format!("cut{i}@example.com")).await);
    }
    users.sort();
    let u: Vec<&str> = users.iter().map(String::as_str).collect();
    for g in 0..3 {
        new_group(&h, &format!("Cut {g}"), &u).await;
    }
    let mut seen = Vec::new();
    let mut start = 1;
    while start <= users.len() {
        let r = h
            .send(
                "GET",
                &format!("/scim/v2/Users?startIndex={start}&count=10"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.body["Resources"].as_array().cloned().unwrap_or_default();
        assert_eq!(r.body["itemsPerPage"], page.len());
        assert!(!page.is_empty());
        for user in &page {
            assert_eq!(group_ids(user).len(), 3, "{user}");
            seen.push(user["id"].as_str().unwrap_or_default().to_string());
        }
        start += page.len();
    }
    assert_eq!(seen, users, "pages of two, in id order");
    let r = h.send("GET", "/scim/v2/Users?count=10", None).await;
    assert_eq!(r.body["itemsPerPage"], 2);
    // Over the limit alone: the page holds that user, whole.
    for g in 3..8 {
        new_group(&h, &format!("More {g}"), &[u[0]]).await;
    }
    let r = h.send("GET", "/scim/v2/Users?count=10", None).await;
    assert_eq!(r.body["itemsPerPage"], 1, "{}", r.body);
    assert_eq!(group_ids(&r.body["Resources"][0]).len(), 8);
}

crate::on_both_drivers_with_config!(
    a_page_of_users_is_cut_before_it_lists_more_groups_than_allowed
);

crate::on_both_drivers!(
    a_walks_last_page_ends_it_though_users_were_created_behind_it,
    a_page_of_users_lists_the_groups_each_user_has_alone,
    an_upgrade_brings_an_older_releases_edges_and_counts_up,
    an_index_page_near_the_end_costs_what_the_first_costs,
    an_import_served_by_two_processes_returns_every_lasting_user_once,
);
