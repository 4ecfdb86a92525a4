//! What each kind of credential costs a request: GET /ServiceProviderConfig
//! (no store read, so the check is most of the work) with a bearer token,
//! an HTTP Basic pair, and an access token of the token endpoint, and the
//! token endpoint's own answer. Sequential requests through the router in
//! process, `REQUESTS` a run, medians of `RUNS`; prints Markdown and writes
//! `target/bench/credentials.json`.

mod support;

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use scim_lambda::auth::{Auth, Credential, CredentialSet, Kind, Scope};
use serde_json::{Value, json};
use support::{embedded_table, exchange, invoked_as_benchmark, median, write_json};

const RUNS: usize = 5;
const REQUESTS: usize = 2_000;

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn request(method: &str, path: &str, authorization: &str, form: Option<&str>) -> Request<Body> {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "bench.local")
        .header("authorization", authorization);
    if form.is_some() {
        r = r.header("content-type", "application/x-www-form-urlencoded");
    }
    r.body(
        form.map(|f| Body::from(f.to_string()))
            .unwrap_or_else(Body::empty),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Microseconds a request, median over the runs (with min and max).
async fn per_request(router: &axum::Router, make: impl Fn() -> Request<Body>) -> (f64, f64, f64) {
    let mut runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        for _ in 0..REQUESTS {
            let (status, _, _) = exchange::exchange(router, make()).await;
            assert_eq!(status, 200);
        }
        runs.push(started.elapsed().as_secs_f64() * 1e6 / REQUESTS as f64);
    }
    median(runs)
}

#[tokio::main]
async fn main() {
    if !invoked_as_benchmark("credentials") {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut set = CredentialSet::token("bench-bearer-token");
    let mut b = Credential::new(
        "b".into(),
        Kind::Basic,
        Scope::ReadWrite,
        "bench-password",
        0,
    );
    b.username = Some("okta".into());
    set.credentials.push(b);
    set.credentials.push(Credential::new(
        "client".into(),
        Kind::OauthClient,
        Scope::ReadWrite,
        "bench-client-secret",
        0,
    ));
    let config =
        scim_lambda::config::Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    let router = scim_lambda::app_router(&config, embedded_table(dir.path()), Auth::fixed_set(set))
        .unwrap_or_else(|e| panic!("{e}"));
    let client = basic("client", "bench-client-secret");
    let (_, _, bytes) = exchange::exchange(
        &router,
        request("POST", "/scim/v2/oauth2/token", &client, Some("")),
    )
    .await;
    let token: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let access = format!(
        "Bearer {}",
        token["access_token"].as_str().unwrap_or_default()
    );
    let spc = "/scim/v2/ServiceProviderConfig";
    let rows = [
        (
            "bearer token",
            per_request(&router, || {
                request("GET", spc, "Bearer bench-bearer-token", None)
            })
            .await,
        ),
        (
            "HTTP Basic",
            per_request(&router, || {
                request("GET", spc, &basic("okta", "bench-password"), None)
            })
            .await,
        ),
        (
            "access token",
            per_request(&router, || request("GET", spc, &access, None)).await,
        ),
        (
            "token endpoint (a new access token)",
            per_request(&router, || {
                request(
                    "POST",
                    "/scim/v2/oauth2/token",
                    &client,
                    Some("grant_type=client_credentials"),
                )
            })
            .await,
        ),
    ];
    println!("| request | µs a request, median [min–max] | requests a second, one core |");
    println!("|---|---|---|");
    let mut out = Vec::new();
    for (what, (med, min, max)) in rows {
        println!(
            "| {what} | {med:.1} [{min:.1}–{max:.1}] | {:.0} |",
            1e6 / med
        );
        out.push(json!({"request": what, "median_us": med, "min_us": min, "max_us": max}));
    }
    write_json("credentials.json", &json!(out));
}
