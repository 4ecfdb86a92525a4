//! The local front door's connections: a connection that sends no request
//! head, or trickles one, is closed at the header-read timeout; one on which
//! nothing moves is closed at the idle timeout; past the connection cap,
//! connections wait; SIGTERM lets an in-flight request finish and the
//! process exit 0.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scim_lambda::auth::Auth;
use scim_lambda::serve::{Limits, serve};
use scim_lambda::store::Table;

const TOKEN: &str = "front-door-token-0123456789";

/// The router on a loopback port, with these limits; dropped, it stops.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn server(limits: Limits) -> Server {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = scim_lambda::store::embedded::Embedded::open(&dir.path().join("f.redb"))
        .unwrap_or_else(|e| panic!("{e}"));
    let config =
        scim_lambda::config::Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    let router =
        scim_lambda::app_router(&config, Table::new(Arc::new(db)), Auth::fixed(TOKEN.into()))
            .unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, router, limits, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        done,
        _dir: dir,
    }
}

fn limits(header_s: u64, idle_s: u64, max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(header_s),
        idle_timeout: Duration::from_secs(idle_s),
        max_connections,
    }
}

/// Reads until the server closes the connection (or `within` passes);
/// returns what came and how long it took.
fn read_to_close(s: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    s.set_read_timeout(Some(within))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // Reset by the server: closed too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

/// Opens a connection and sends a user's POST but for the end of its body,
/// which it returns: a request in flight until the rest is sent.
fn begin_create(addr: SocketAddr, user_name: &str) -> (TcpStream, String) {
    let body = format!(r#"{{"userName": "{user_name}"}}"#);
    let (head, rest) = body.split_at(10);
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    write!(s, "{}{head}", post_head(body.len())).unwrap_or_else(|e| panic!("{e}"));
    (s, rest.to_string())
}

fn post_head(length: usize) -> String {
    format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// Connects, sends `send`, and reads until the server closes the connection:
/// what came back and how long that took.
async fn send_then_wait_for_close(addr: SocketAddr, send: String) -> (String, Duration) {
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        s.write_all(send.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        read_to_close(&mut s, Duration::from_secs(5))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn get_request() -> String {
    format!(
        "GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_read_timeout() {
    let srv = server(limits(1, 60, 16)).await;
    let (_, took) = send_then_wait_for_close(srv.addr, String::new()).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_request_head_is_cut_at_the_header_read_timeout() {
    let srv = server(limits(1, 60, 16)).await;
    let addr = srv.addr;
    let took = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        // One byte every 100 ms: 40 bytes would take 4 s.
        for b in get_request().bytes().take(40) {
            if s.write_all(&[b]).is_err() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = read_to_close(&mut s, Duration::from_secs(5));
        started.elapsed()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_answered_then_closed_when_idle() {
    let srv = server(limits(1, 60, 16)).await;
    let (answer, took) = send_then_wait_for_close(srv.addr, get_request()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_is_closed_at_the_idle_timeout() {
    // A 1 s idle timeout, given directly: from the environment it is kept
    // above the request timeout (25 s), which would otherwise answer first.
    let srv = server(limits(30, 1, 16)).await;
    let (_, took) = send_then_wait_for_close(srv.addr, format!("{}{{", post_head(100))).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_one() {
    let srv = server(limits(30, 60, 1)).await;
    let addr = srv.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let first = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        // Accepted by the kernel, not served: the one connection is taken.
        let mut second = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        second
            .write_all(get_request().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        second
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut buf = [0u8; 64];
        let early = second.read(&mut buf);
        assert!(
            early
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "answered past the cap: {early:?}"
        );
        drop(first);
        second
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("{e}"));
        let n = second.read(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_the_request_in_flight_finish() {
    let mut srv = server(limits(30, 60, 16)).await;
    let addr = srv.addr;
    let (mut s, rest) = begin_create(addr, "in-flight@example.com");
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Some(stop) = srv.stop.take() {
        let _ = stop.send(());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(rest.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let (answer, _) =
        tokio::task::spawn_blocking(move || read_to_close(&mut s, Duration::from_secs(5)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    tokio::time::timeout(Duration::from_secs(5), &mut srv.done)
        .await
        .unwrap_or_else(|e| panic!("serve did not return: {e}"))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The built binary, serving the embedded store on a free loopback port.
struct Process {
    child: Child,
    addr: SocketAddr,
    /// What the server wrote to stdout after its first line.
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

/// A server a test started never outlives it, whatever the test asserted.
impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn start_binary() -> Process {
    start_binary_with(&[])
}

fn start_binary_with(vars: &[(&str, &str)]) -> Process {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-lambda"))
        .env_clear()
        .envs(vars.iter().copied())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SCIM_DB_PATH", dir.path().join("p.redb"))
        .env("SCIM_TENANTS_FILE", dir.path().join("tenants.json"))
        .env("SCIM_TOKEN", TOKEN)
        .env("SCIM_LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut text = String::new();
    let mut byte = [0u8; 1];
    // The first line names the address: "SCIM base URL: http://127.0.0.1:PORT/scim/v2".
    while !text.ends_with('\n') {
        match out.read(&mut byte) {
            Ok(1) => text.push(char::from(byte[0])),
            _ => panic!("the server exited before it listened: {text}"),
        }
    }
    let addr = text
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {text:?}"));
    // Keep reading its stdout so that it never blocks on a full pipe, and
    // keep the lines for the tests that read them.
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&lines);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            kept.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    });
    Process {
        child,
        addr,
        lines,
        _dir: dir,
    }
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let mut p = start_binary();
    let (mut s, rest) = begin_create(p.addr, "sigterm@example.com");
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect_timeout(&p.addr, Duration::from_secs(1)).is_err(),
        "still accepting after SIGTERM"
    );
    s.write_all(rest.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let (answer, _) = read_to_close(&mut s, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let started = Instant::now();
    let status = loop {
        if let Some(st) = p.child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break st;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = p.child.kill();
            panic!("still running 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// One request on a connection of its own; the whole answer.
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    s.write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    read_to_close(&mut s, Duration::from_secs(10)).0
}

#[test]
fn the_environments_basic_pair_and_oauth_client_open_the_built_server() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let p = start_binary_with(&[
        ("SCIM_BASIC_USER", "okta"),
        ("SCIM_BASIC_PASSWORD", "basic-password-for-the-front-door"),
        ("SCIM_OAUTH_CLIENT_ID", "entra"),
        (
            "SCIM_OAUTH_CLIENT_SECRET",
            "client-secret-for-the-front-door",
        ),
    ]);
    let get = |authorization: &str| {
        exchange(
            p.addr,
            &format!(
                "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    let basic = format!("Basic {}", b64("okta:basic-password-for-the-front-door"));
    assert!(get(&basic).starts_with("HTTP/1.1 200"), "{}", get(&basic));
    let form = "grant_type=client_credentials";
    let answer = exchange(
        p.addr,
        &format!(
            "POST /scim/v2/oauth2/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            b64("entra:client-secret-for-the-front-door"),
            form.len()
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let token: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    let access = token["access_token"].as_str().unwrap_or_default();
    assert!(get(&format!("Bearer {access}")).starts_with("HTTP/1.1 200"));
    assert!(get(&format!("Basic {}", b64("okta:wrong"))).starts_with("HTTP/1.1 401"));
}

/// With a metrics namespace, each request also writes one CloudWatch
/// embedded metric format line to stdout: its directory and outcome, and
/// nothing of what it carried.
#[test]
fn each_request_writes_one_emf_line_of_its_directorys_metrics() {
    let p = start_binary_with(&[("SCIM_METRICS_NAMESPACE", "scim-lambda-test")]);
    let get = |token: &str| {
        exchange(
            p.addr,
            &format!(
                "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    assert!(get(TOKEN).starts_with("HTTP/1.1 200"));
    assert!(get("wrong-token-for-the-metrics").starts_with("HTTP/1.1 401"));
    let deadline = Instant::now() + Duration::from_secs(5);
    let emf: Vec<serde_json::Value> = loop {
        let lines = p.lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let emf: Vec<serde_json::Value> = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect();
        if emf.len() >= 2 || Instant::now() > deadline {
            assert!(
                lines
                    .iter()
                    .all(|l| !l.contains("wrong-token") && !l.contains(TOKEN)),
                "{lines:?}"
            );
            break emf;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(emf.len(), 2, "{emf:?}");
    let spec = &emf[0]["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(spec["Namespace"], "scim-lambda-test");
    // A request whose credential opened nothing is not counted by the
    // directory its path names (anyone can name one).
    for ((doc, client_errors), directory) in
        emf.iter().zip([0, 1]).zip(["default", "unauthenticated"])
    {
        assert_eq!(doc["Directory"], directory, "{doc}");
        assert_eq!(doc["Requests"], 1);
        assert_eq!(doc["ClientErrors"], client_errors, "{doc}");
        assert_eq!(doc["ServerErrors"], 0);
    }
    // Without the namespace, no such line.
    let quiet = start_binary();
    let _ = exchange(
        quiet.addr,
        &format!(
            "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        ),
    );
    std::thread::sleep(Duration::from_millis(300));
    let lines = quiet
        .lines
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert!(lines.iter().all(|l| !l.contains("_aws")), "{lines:?}");
}
