//! Index paging at depth, on both drivers: what a page near the end costs
//! against the first, and an import (Okta's `startIndex` walk) served by two
//! processes over one table while the directory changes under it.

use std::collections::{BTreeMap, HashMap, HashSet};

use scim_lambda::scim::Kind;
use scim_lambda::scim::resource::Meta;
use scim_lambda::store::{Directory, Edge, Requests, Stored};
use serde_json::json;

use crate::common::{Harness, config, ids};

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

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
        start += got.len();
        if got.is_empty() || start > total {
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
    // PutItem).
    let (_, costs) = index_walk(&[&h], "excludedAttributes=groups", 100, async || {}).await;
    let near_end = costs[&901];
    assert_eq!(
        (
            near_end.batch_get_item,
            near_end.query,
            near_end.put_or_delete_item,
            near_end.total()
        ),
        (1, 1, 1, 3),
        "{near_end:?}"
    );
}

/// A user created through the router; its id.
async fn create(h: &Harness, user_name: &str) -> String {
    let r = h
        .send(
            "POST",
            "/scim/v2/Users",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
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

crate::on_both_drivers!(
    an_index_page_near_the_end_costs_what_the_first_costs,
    an_import_served_by_two_processes_returns_every_lasting_user_once,
);
