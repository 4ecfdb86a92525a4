//! The bounds a list or search is held to, on both drivers: the response
//! cut under Lambda's limit (root search included), members listed in a
//! page, attribute names, sorted pages kept as keys, and long scans that
//! let other work run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::common::{Driver, Harness, config};

use crate::common::ids;

/// `n` users straight into the table, named `<prefix><i>@example.com`,
/// with whatever else `more` adds to the i-th.
async fn import_named(
    h: &Harness,
    n: usize,
    prefix: &str,
    more: impl Fn(usize, &mut serde_json::Map<String, Value>),
) -> Vec<String> {
    crate::common::import_users(&h.table, n, |i| {
        let mut doc = serde_json::Map::new();
        doc.insert(
            "userName".into(),
            json!(format!("{prefix}{i:05}@example.com")),
        );
        more(i, &mut doc);
        (doc, "2026-01-01T00:00:00Z".to_string())
    })
    .await
}

/// Pages through the root `/.search` by `startIndex += itemsPerPage` until
/// `totalResults`; returns every id seen, in order.
async fn walk_root_search(h: &Harness, count: usize) -> (Vec<String>, Vec<u64>) {
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut start = 1u64;
    loop {
        let body = json!({"startIndex": start, "count": count, "excludedAttributes": ["groups", "members"]});
        let r = h.send("POST", "/scim/v2/.search", Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["startIndex"], start);
        let total = r.body["totalResults"].as_u64().unwrap_or(0);
        let n = r.body["itemsPerPage"].as_u64().unwrap_or(0);
        assert!(serde_json::to_vec(&r.body).map(|b| b.len()).unwrap_or(0) < 6_000_000);
        seen.extend(ids(&r.body));
        pages.push(n);
        if start > total {
            assert_eq!(n, 0);
            return (seen, pages);
        }
        assert!(n > 0, "an empty page at startIndex {start} of {total}");
        start += n;
    }
}

/// The root search pages over users, then groups, with every resource seen
/// once, even where a page is cut under the response limit before the
/// window ends (the cut used to happen per type before the window was
/// taken, so resources past it were never returned).
async fn root_search_pages_reach_every_resource_past_the_response_cut(h: Harness) {
    // 400 users of 30 KB: 12 MB in all, cut at 5 MB well before the end.
    let mut expected = import_named(&h, 400, "root", |i, doc| {
        doc.insert(
            "displayName".into(),
            json!(format!("{i:04}{}", "d".repeat(30_000))),
        );
    })
    .await;
    for g in 0..3 {
        let r = h
            .send(
                "POST",
                "/scim/v2/Groups",
                Some(json!({"displayName": format!("root-{g}")})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        expected.push(r.body["id"].as_str().unwrap_or_default().to_string());
    }
    let r = h
        .send(
            "POST",
            "/scim/v2/.search",
            Some(json!({"startIndex": 301, "count": 100})),
        )
        .await;
    assert_eq!(r.body["totalResults"], 403, "{}", r.body);
    assert_eq!(r.body["itemsPerPage"], 100, "a window past the first 5 MB");
    expected.sort();
    for count in [100, 1000] {
        let (mut seen, pages) = walk_root_search(&h, count).await;
        assert_eq!(seen.len(), 403, "count={count}: pages {pages:?}");
        seen.sort();
        assert_eq!(seen, expected, "count={count}");
        if count == 1000 {
            assert!(pages.len() > 2, "short pages under the cut: {pages:?}");
        }
    }
}

/// A page of groups stops before the group whose members would pass
/// `SCIM_MAX_LIST_MEMBERS` (the first is always listed), and paging on
/// reaches every group once, by index and by cursor.
async fn group_pages_stop_at_the_members_limit(d: Driver) {
    let mut c = config();
    c.limits.max_list_members = 5;
    let h = d.harness(&c).await;
    let users = import_named(&h, 4, "m", |_, _| {}).await;
    let mut groups = Vec::new();
    for g in 0..4 {
        // 4, 1, 4 and 1 members: pages of [4, 1], [4, 1].
        let n = if g % 2 == 0 { 4 } else { 1 };
        let members: Vec<Value> = users[..n].iter().map(|u| json!({"value": u})).collect();
        let r = h
            .send(
                "POST",
                "/scim/v2/Groups",
                Some(json!({"displayName": format!("g{g}"), "members": members})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        groups.push(r.body["id"].as_str().unwrap_or_default().to_string());
    }
    groups.sort();
    let mut seen = Vec::new();
    let mut start = 1;
    while start <= groups.len() {
        let r = h
            .send(
                "GET",
                &format!("/scim/v2/Groups?startIndex={start}&count=10"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 4);
        let listed: usize = r.body["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| g["members"].as_array().map_or(0, Vec::len))
            .sum();
        let n = r.body["itemsPerPage"].as_u64().unwrap_or(0) as usize;
        assert!(
            n >= 1 && (listed <= 5 || n == 1),
            "{listed} members in {n} groups"
        );
        assert!(n < 4, "the page was not cut: {}", r.body);
        seen.extend(ids(&r.body));
        start += n;
    }
    seen.sort();
    assert_eq!(seen, groups);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = h
            .send(
                "GET",
                &format!("/scim/v2/Groups?count=10&cursor={cursor}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(ids(&r.body));
        match r.body["nextCursor"].as_str() {
            Some(next) => cursor = form_urlencoded::byte_serialize(next.as_bytes()).collect(),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, groups, "cursor pages");
    // Without members, nothing counts against the limit.
    let r = h
        .send(
            "GET",
            "/scim/v2/Groups?count=10&excludedAttributes=members",
            None,
        )
        .await;
    assert_eq!(r.body["itemsPerPage"], 4, "{}", r.body);
}

/// `attributes` and `excludedAttributes` name at most 300 attributes
/// together; more is a 400 `invalidValue` saying so, on every route.
async fn attribute_lists_are_bounded(h: Harness) {
    let u = h
        .create_user(json!({"userName": "attrs@example.com"}))
        .await;
    let id = u["id"].as_str().unwrap_or_default();
    let names = |n: usize| vec!["userName"; n].join(",");
    let r = h
        .send(
            "GET",
            &format!("/scim/v2/Users?attributes={}", names(300)),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for path in [
        format!("/scim/v2/Users?attributes={}", names(200)),
        format!("/scim/v2/Users/{id}?attributes={}", names(301)),
    ] {
        let r = h
            .send(
                "GET",
                &format!("{path}&excludedAttributes={}", names(101)),
                None,
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap_or("")
                .contains("at most 300"),
            "{}",
            r.body
        );
    }
    let many: Vec<&str> = vec!["displayName"; 60_000];
    let started = std::time::Instant::now();
    let r = h
        .send(
            "POST",
            "/scim/v2/Users/.search",
            Some(json!({"attributes": many})),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    let r2 = h
        .send(
            "POST",
            "/scim/v2/.search",
            Some(json!({"excludedAttributes": many})),
        )
        .await;
    r2.assert_error(400, Some("invalidValue"));
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

/// Sorted pages keep only sort keys and ids while scanning, trimmed to
/// the window: small pages walked in turn give exactly the order of one
/// page holding everything, ties in id order.
async fn sorted_pages_agree_with_one_whole_sort(h: Harness) {
    import_named(&h, 400, "s", |i, doc| {
        // Few distinct values, mixed case, some missing: ties everywhere.
        if i % 7 != 0 {
            let nick = ["Bo", "al", "AL", "cy", "bo"][i * 31 % 5];
            doc.insert("nickName".into(), json!(nick));
        }
    })
    .await;
    for order in ["ascending", "descending"] {
        let query = format!("sortBy=nickName&sortOrder={order}&excludedAttributes=groups");
        let whole = h
            .send("GET", &format!("/scim/v2/Users?{query}&count=1000"), None)
            .await;
        assert_eq!(whole.body["totalResults"], 400);
        let expected = ids(&whole.body);
        let mut walked = Vec::new();
        for start in (1..=400).step_by(37) {
            let r = h
                .send(
                    "GET",
                    &format!("/scim/v2/Users?{query}&startIndex={start}&count=37"),
                    None,
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            walked.extend(ids(&r.body));
        }
        assert_eq!(walked, expected, "{order}");
        let filtered = h
            .send(
                "GET",
                &format!(
                    "/scim/v2/Users?{query}&startIndex=11&count=5&filter={}",
                    form_urlencoded::byte_serialize(b"nickName co \"o\"").collect::<String>()
                ),
                None,
            )
            .await;
        let with_o: Vec<&String> = expected
            .iter()
            .filter(|id| {
                whole.body["Resources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|u| {
                        u["id"] == id.as_str()
                            && u["nickName"]
                                .as_str()
                                .is_some_and(|n| n.to_lowercase().contains('o'))
                    })
            })
            .collect();
        let got: Vec<String> = ids(&filtered.body);
        let want: Vec<String> = with_o.into_iter().skip(10).take(5).cloned().collect();
        assert_eq!(got, want, "filtered {order}: {}", filtered.body);
    }
}

/// A long list lets other work run between batches (the embedded store's
/// reads never wait, so without that a scan held its thread to the end,
/// and neither the request timeout nor other requests could get in).
#[test]
fn a_long_scan_lets_other_tasks_run() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let h = Harness::embedded().await;
        // 200 users of 100 KB: a first batch of 100, then about 4 MB each.
        import_named(&h, 200, "y", |_, doc| {
            doc.insert("title".into(), json!("t".repeat(100_000)));
        })
        .await;
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    ticks.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            }
        });
        let f = form_urlencoded::byte_serialize(b"nickName co \"zz\"").collect::<String>();
        let before = ticks.load(Ordering::Relaxed);
        let r = h
            .send("GET", &format!("/scim/v2/Users?filter={f}&count=1"), None)
            .await;
        let during = ticks.load(Ordering::Relaxed) - before;
        ticker.abort();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 0);
        // At least 3 batches.
        assert!(
            during >= 3,
            "other tasks ran {during} times during the scan"
        );
    });
}

crate::on_both_drivers!(
    root_search_pages_reach_every_resource_past_the_response_cut,
    attribute_lists_are_bounded,
    sorted_pages_agree_with_one_whole_sort,
);

crate::on_both_drivers_with_config!(group_pages_stop_at_the_members_limit);
