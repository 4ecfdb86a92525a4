//! The query language over the router, on both drivers: cursor and index
//! paging, sorting, indexed lookups, `/.search`.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Driver, Harness, config, encode, ids};

/// `n` users straight into the table (a fast fixture), named `q0000@…`.
async fn import_users(h: &Harness, n: usize) -> Vec<String> {
    crate::common::import_users(&h.table, n, |i| {
        let mut doc = serde_json::Map::new();
        doc.insert("userName".into(), json!(format!("q{i:04}@example.com")));
        doc.insert(
            "emails".into(),
            json!([{"value": format!("Q{i:04}@Mail.example"), "type": "work", "primary": true}]),
        );
        doc.insert("active".into(), json!(i % 3 != 0));
        (doc, format!("2026-01-01T00:00:{:02}Z", i % 60))
    })
    .await
}

/// Walks every cursor page of a list; returns the ids in order and the
/// responses' bodies.
async fn walk(h: &Harness, query: &str, count: usize) -> (Vec<String>, Vec<Value>) {
    let mut all = Vec::new();
    let mut pages = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10_000 {
        let r = h
            .send(
                "GET",
                &format!(
                    "/scim/v2/Users?{query}&count={count}&cursor={}",
                    encode(&cursor)
                ),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        all.extend(ids(&r.body));
        let next = r
            .body
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        pages.push(r.body);
        match next {
            Some(c) => cursor = c,
            None => return (all, pages),
        }
    }
    panic!("cursor walk did not end");
}

async fn cursors_walk_every_user_exactly_once_and_agree_with_index_paging(h: Harness) {
    let mut expected = import_users(&h, 1000).await;
    expected.sort();
    let (walked, pages) = walk(&h, "excludedAttributes=groups", 100).await;
    assert_eq!(walked.len(), 1000);
    assert_eq!(
        walked.iter().collect::<HashSet<_>>().len(),
        1000,
        "no user twice"
    );
    assert_eq!(walked, expected, "cursor pages come in id order");
    assert_eq!(pages.len(), 10);
    assert!(pages[0].get("startIndex").is_none());
    assert_eq!(pages[0]["totalResults"], 1000);
    assert_eq!(pages[0]["itemsPerPage"], 100);

    let mut by_index = Vec::new();
    for start in (1..=1000).step_by(100) {
        let r = h
            .send(
                "GET",
                &format!("/scim/v2/Users?excludedAttributes=groups&startIndex={start}&count=100"),
                None,
            )
            .await;
        assert!(r.body.get("nextCursor").is_none());
        by_index.extend(ids(&r.body));
    }
    assert_eq!(by_index, walked);
}

async fn a_cursor_page_costs_the_same_at_any_depth(h: Harness) {
    import_users(&h, 1000).await;
    let (_, pages) = walk(&h, "excludedAttributes=groups", 100).await;
    let cost = |cursor: String| {
        let h = &h;
        async move {
            let before = h.requests();
            let r = h
                .send(
                    "GET",
                    &format!(
                        "/scim/v2/Users?excludedAttributes=groups&count=100&cursor={}",
                        encode(&cursor)
                    ),
                    None,
                )
                .await;
            assert_eq!(r.status, 200);
            (h.requests() - before, ids(&r.body).len())
        }
    };
    let cursor_after = |n: usize| {
        pages[n]["nextCursor"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (at_100, n100) = cost(cursor_after(0)).await;
    let (at_900, n900) = cost(cursor_after(8)).await;
    assert_eq!((n100, n900), (100, 100));
    assert_eq!(at_100, at_900, "offset 100 vs offset 900");
    assert_eq!(
        (at_900.query, at_900.total()),
        (1, 1),
        "one Query for the page: {at_900:?}"
    );
    // The first page also reads the type's kept count once (its shards, 1
    // BatchGetItem), for totalResults.
    let (first, _) = cost(String::new()).await;
    assert_eq!(
        (first.query, first.batch_get_item, first.total()),
        (1, 1, 2),
        "{first:?}"
    );
    assert!(pages[1].get("totalResults").is_none());
}

async fn filtered_cursor_pages_examine_from_the_cursor_on(h: Harness) {
    import_users(&h, 300).await;
    let f = encode("active eq false and userName sw \"q01\"");
    let (walked, pages) = walk(&h, &format!("filter={f}&excludedAttributes=groups"), 7).await;
    let expected: HashSet<String> = (0..300)
        .filter(|i| i % 3 == 0 && format!("q{i:04}").starts_with("q01"))
        .map(|i| format!("q{i:04}@example.com"))
        .collect();
    let names: HashSet<String> = pages
        .iter()
        .flat_map(|p| p["Resources"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["userName"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, expected);
    assert_eq!(walked.len(), expected.len(), "no user twice");
}

async fn rejects_bad_cursors_and_counts(d: Driver) {
    let mut c = config();
    c.cursor_ttl_seconds = 0;
    let h = d.harness(&c).await;
    import_users(&h, 5).await;
    let r = h.send("GET", "/scim/v2/Users?cursor=&count=2", None).await;
    let next = r.body["nextCursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!next.is_empty(), "{}", r.body);
    let get = |q: String| {
        let h = &h;
        async move { h.send("GET", &format!("/scim/v2/Users?{q}"), None).await }
    };
    get(format!("cursor={}x&count=2", encode(&next)))
        .await
        .assert_error(400, Some("invalidCursor"));
    get("cursor=not-a-cursor&count=2".into())
        .await
        .assert_error(400, Some("invalidCursor"));
    get(format!(
        "cursor={}&count=2&filter={}",
        encode(&next),
        encode("active eq true")
    ))
    .await
    .assert_error(400, Some("invalidCursor"));
    get("cursor=&count=5000".into())
        .await
        .assert_error(400, Some("invalidCount"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    get(format!("cursor={}&count=2", encode(&next)))
        .await
        .assert_error(400, Some("expiredCursor"));
    get(format!("cursor={}&count=3", encode(&next)))
        .await
        .assert_error(400, Some("invalidCount"));
    get("cursor=&startIndex=2".into())
        .await
        .assert_error(400, Some("invalidValue"));
    get("cursor=&sortBy=userName".into())
        .await
        .assert_error(400, Some("invalidValue"));
}

async fn sorts_by_any_attribute_both_ways(h: Harness) {
    for (name, title) in [
        ("b@example.com", "Zed"),
        ("A@example.com", "alpha"),
        ("c@example.com", "Mid"),
    ] {
        h.create_user(json!({"userName": name, "title": title}))
            .await;
    }
    h.create_user(json!({"userName": "d@example.com"})).await;
    let names = |body: &Value, attr: &str| -> Vec<String> {
        body["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r[attr].as_str().unwrap_or("-").to_string())
            .collect()
    };
    let r = h.send("GET", "/scim/v2/Users?sortBy=userName", None).await;
    assert_eq!(
        names(&r.body, "userName"),
        [
            "A@example.com",
            "b@example.com",
            "c@example.com",
            "d@example.com"
        ]
    );
    let r = h
        .send(
            "GET",
            "/scim/v2/Users?sortBy=title&sortOrder=descending",
            None,
        )
        .await;
    assert_eq!(
        names(&r.body, "title"),
        ["-", "Zed", "Mid", "alpha"],
        "case-insensitive; no value last ascending, first descending"
    );
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Users?sortBy=title&startIndex=2&count=2&filter={}",
                encode("userName pr")
            ),
            None,
        )
        .await;
    assert_eq!(names(&r.body, "title"), ["Mid", "Zed"]);
    assert_eq!(r.body["totalResults"], 4);
    h.send("GET", "/scim/v2/Users?sortBy=nosuch", None)
        .await
        .assert_error(400, Some("invalidValue"));
    h.send("GET", "/scim/v2/Users?sortBy=title&sortOrder=up", None)
        .await
        .assert_error(400, Some("invalidValue"));
}

async fn emails_are_found_by_index(h: Harness) {
    let u = h.create_user(json!({"userName": "e1@example.com", "emails": [{"value": "Work@Example.com", "type": "work"}, {"value": "home@example.com"}]})).await;
    h.create_user(
        json!({"userName": "e2@example.com", "emails": [{"value": "other@example.com"}]}),
    )
    .await;
    let before = h.requests();
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Users?excludedAttributes=groups&filter={}",
                encode("emails.value eq \"work@EXAMPLE.com\"")
            ),
            None,
        )
        .await;
    let d = h.requests() - before;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], u["id"]);
    assert_eq!((d.query, d.batch_get_item, d.total()), (1, 1, 2), "{d:?}");
    // The lookup follows the user's emails through PATCH and DELETE.
    let path = format!("/scim/v2/Users/{}", u["id"].as_str().unwrap_or_default());
    h.send(
        "PATCH",
        &path,
        Some(json!({"Operations": [{"op": "remove", "path": "emails[type eq \"work\"]"}]})),
    )
    .await;
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Users?filter={}",
                encode("emails.value eq \"work@example.com\"")
            ),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Users?filter={}",
                encode("emails.value eq \"home@example.com\"")
            ),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    h.send("DELETE", &path, None).await;
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Users?filter={}",
                encode("emails.value eq \"home@example.com\"")
            ),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    let many: Vec<Value> = (0..41)
        .map(|i| json!({"value": format!("m{i}@example.com")}))
        .collect();
    h.send(
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "many@example.com", "emails": many})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
}

async fn search_posts_take_the_query_in_the_body(h: Harness) {
    h.create_user(json!({"userName": "s1@example.com", "title": "Searcher"}))
        .await;
    h.create_user(json!({"userName": "s2@example.com"})).await;
    h.send(
        "POST",
        "/scim/v2/Groups",
        Some(json!({"displayName": "Searchers"})),
    )
    .await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "title eq \"Searcher\"", "attributes": ["userName"], "startIndex": 1, "count": 10
    });
    let r = h.send("POST", "/scim/v2/Users/.search", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "s1@example.com");
    assert!(
        r.body["Resources"][0].get("title").is_none(),
        "attributes projection"
    );
    let r = h
        .send(
            "POST",
            "/scim/v2/.search",
            Some(json!({"filter": "meta.created pr", "count": 10})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3, "users and groups");
    let types: HashSet<String> = r.body["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["meta"]["resourceType"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        types,
        HashSet::from(["User".to_string(), "Group".to_string()])
    );
    let r = h
        .send(
            "POST",
            "/scim/v2/.search",
            Some(json!({"filter": "displayName eq \"Searchers\""})),
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    h.send(
        "POST",
        "/scim/v2/.search",
        Some(json!({"filter": "nosuch eq 1"})),
    )
    .await
    .assert_error(400, Some("invalidFilter"));
    h.send("POST", "/scim/v2/Users/.search", Some(json!({"filter": 5})))
        .await
        .assert_error(400, Some("invalidValue"));
    let r = h
        .send(
            "POST",
            "/scim/v2/Users/.search",
            Some(json!({"cursor": "", "count": 1})),
        )
        .await;
    assert!(r.body["nextCursor"].is_string(), "{}", r.body);
}

/// A page that would outgrow a Lambda response (6 MB) is cut short; the
/// client pages on and still sees everyone once.
async fn long_pages_are_cut_under_the_lambda_response_limit(h: Harness) {
    for i in 0..20 {
        h.create_user(json!({"userName": format!("big{i:02}@example.com"), "displayName": "x".repeat(300 * 1024)})).await;
    }
    let r = h
        .send("GET", "/scim/v2/Users?excludedAttributes=groups", None)
        .await;
    assert_eq!(r.body["totalResults"], 20);
    let n = r.body["itemsPerPage"].as_u64().unwrap_or(0);
    assert!(n > 0 && n < 20, "itemsPerPage {n}");
    assert!(serde_json::to_vec(&r.body).map(|b| b.len()).unwrap_or(0) < 6_000_000);
    let (walked, _) = walk(&h, "excludedAttributes=groups", 20).await;
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), 20);
    assert_eq!(walked.len(), 20);
}

crate::on_both_drivers!(
    long_pages_are_cut_under_the_lambda_response_limit,
    cursors_walk_every_user_exactly_once_and_agree_with_index_paging,
    a_cursor_page_costs_the_same_at_any_depth,
    filtered_cursor_pages_examine_from_the_cursor_on,
    sorts_by_any_attribute_both_ways,
    emails_are_found_by_index,
    search_posts_take_the_query_in_the_body,
);

crate::on_both_drivers_with_config!(rejects_bad_cursors_and_counts);
