//! Cold start in Lambda mode: the release binary's size, the size of its
//! deployment zip, the time from process start to the first served request
//! against a local emulation of the Lambda runtime API, and peak RSS.
//! Median of 10 runs. Run by `scripts/bench` (which builds the release
//! binary first); prints Markdown and writes `target/bench/cold_start.json`.
//!
//! The request is `GET /scim/v2/ServiceProviderConfig` from `events/`, with
//! the token set in the environment: no call to AWS is made, at start or for
//! the request, so the figure is the process's own start-up.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::{Mutex, mpsc};

const RUNS: usize = 10;

#[derive(Clone)]
struct Emulator {
    event: Arc<String>,
    served: Arc<Mutex<bool>>,
    done: mpsc::UnboundedSender<Result<(Instant, String), String>>,
}

async fn next(State(e): State<Emulator>) -> (StatusCode, HeaderMap, String) {
    let mut served = e.served.lock().await;
    if *served {
        drop(served);
        // The function waits here for its next event until it is stopped.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return (StatusCode::NO_CONTENT, HeaderMap::new(), String::new());
    }
    *served = true;
    let mut h = HeaderMap::new();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or(0);
    for (k, v) in [
        (
            "lambda-runtime-aws-request-id",
            "bench-request-1".to_string(),
        ),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:scim".to_string(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".to_string(),
        ),
    ] {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    }
    (StatusCode::OK, h, e.event.as_str().to_string())
}

async fn response(State(e): State<Emulator>, body: String) -> StatusCode {
    let _ = e.done.send(Ok((Instant::now(), body)));
    StatusCode::ACCEPTED
}

async fn error(State(e): State<Emulator>, body: String) -> StatusCode {
    let _ = e.done.send(Err(body));
    StatusCode::ACCEPTED
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

async fn one_run(binary: &str, event: &str) -> Result<(f64, u64), String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let emulator = Emulator {
        event: Arc::new(event.to_string()),
        served: Arc::new(Mutex::new(false)),
        done: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(emulator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "scim")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/scim")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("TABLE_NAME", "scim-bench")
        .env("SCIM_TOKEN", "event-token-for-local-invocations")
        .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{binary}: {e}"))?;
    let pid = child.id().unwrap_or(0);
    let outcome = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    let rss = peak_rss_kb(pid).unwrap_or(0);
    let _ = child.kill().await;
    server.abort();
    match outcome {
        Ok(Some(Ok((at, body)))) => {
            let status = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["statusCode"].as_u64());
            if status != Some(200) {
                return Err(format!("the function answered {body}"));
            }
            Ok((at.duration_since(started).as_secs_f64() * 1000.0, rss))
        }
        Ok(Some(Err(e))) => Err(format!("the function reported an error: {e}")),
        _ => Err("no response within 10 s".into()),
    }
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("cold-start benchmark: run with scripts/bench (cargo bench --bench cold_start)");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let binary = format!("{root}/target/release/scim-lambda");
    let binary_bytes = std::fs::metadata(&binary)
        .unwrap_or_else(|e| {
            panic!("{binary}: {e} (scripts/bench builds it with cargo build --release)")
        })
        .len();
    let zip = format!("{root}/target/bench/bootstrap.zip");
    let _ = std::fs::create_dir_all(format!("{root}/target/bench"));
    let zipped = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9); z.write(sys.argv[1], 'bootstrap'); z.close()",
            &binary,
            &zip,
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let zip_bytes = if zipped {
        std::fs::metadata(&zip).map(|m| m.len()).unwrap_or(0)
    } else {
        0
    };
    let event = std::fs::read_to_string(format!(
        "{root}/events/apigw-v2-service-provider-config.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        match one_run(&binary, &event).await {
            Ok((ms, kb)) => {
                times.push(ms);
                rss.push(kb as f64);
            }
            Err(e) => panic!("cold start run failed: {e}"),
        }
    }
    let (t_med, t_min, t_max) = median(times.clone());
    let (r_med, r_min, r_max) = median(rss.clone());
    let arch = std::env::consts::ARCH;
    println!("## Cold start in Lambda mode ({arch} release build, {RUNS} runs)\n");
    println!("| figure | median | min | max | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| stripped binary | {:.2} MB | | | |",
        binary_bytes as f64 / 1e6
    );
    println!(
        "| deployment zip | {:.2} MB | | | ≤ 6 MB |",
        zip_bytes as f64 / 1e6
    );
    println!(
        "| process start → first response | {t_med:.1} ms | {t_min:.1} ms | {t_max:.1} ms | ≤ 25 ms |"
    );
    println!(
        "| peak RSS | {:.1} MB | {:.1} MB | {:.1} MB | ≤ 30 MB |",
        r_med / 1024.0,
        r_min / 1024.0,
        r_max / 1024.0
    );
    let out = json!({"arch": arch, "binary_bytes": binary_bytes, "zip_bytes": zip_bytes,
        "start_to_first_response_ms": times, "peak_rss_kb": rss});
    let _ = std::fs::write(
        format!("{root}/target/bench/cold_start.json"),
        serde_json::to_string_pretty(&out).unwrap_or_default(),
    );
}
