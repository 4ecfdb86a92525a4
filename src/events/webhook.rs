//! Push delivery for the embedded store (RFC 8935): the change log's
//! events, in order, one signed SET a `POST` to the webhook, with
//! `Content-Type: application/secevent+jwt`. A 2xx answer acknowledges
//! it; a 400 (the receiver refused this SET, RFC 8935 §2.3) is logged and
//! passed; anything else (5xx, a timeout, no connection) is retried with
//! backoff until it succeeds. The position delivered so far is saved in
//! the store after each batch, so a restart sends again what was not
//! acknowledged (with the same `jti`), and nothing out of order.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::sign::hs256;
use super::{ChangeEvent, Issuer, event_of};
use crate::store::changes::ChangeLog;

/// The consumer name the delivery saves its position under.
pub const CONSUMER: &str = "webhook";

/// How many changes one round reads from the log.
const BATCH: usize = 100;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The delivery's settings.
pub struct Webhook {
    /// The receiver's URL; `{tenant}` in it stands for the tenant's id
    /// (`default` for the single-tenant directory), so that each tenant's
    /// events go to its own receiver.
    pub url: String,
    pub key: Vec<u8>,
    pub timeout: Duration,
    /// How long an idle delivery waits before looking at the log again.
    pub idle: Duration,
    /// The longest wait between two attempts at one SET.
    pub max_backoff: Duration,
}

/// What became of one SET.
enum Sent {
    Accepted,
    /// The receiver refused it for good (400): retrying cannot help.
    Refused(u16, String),
    /// Try again later.
    Failed(String),
}

/// Delivers the log's events to the webhook, for as long as it is polled
/// (the caller stops it by dropping it). Without a usable client it logs
/// why and delivers nothing, keeping every event.
pub async fn run(log: Arc<dyn ChangeLog>, issuer: Issuer, hook: Webhook) {
    let client = match client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the event webhook cannot be used; events are kept");
            return std::future::pending().await;
        }
    };
    loop {
        match deliver_batch(log.as_ref(), &issuer, &hook, &client).await {
            Ok(true) => {}
            Ok(false) => tokio::time::sleep(hook.idle).await,
            Err(e) => {
                tracing::error!(error = %e, "reading the change log failed");
                tokio::time::sleep(hook.max_backoff).await;
            }
        }
    }
}

fn client() -> Result<HttpsClient, String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Delivers one batch and saves the position; `Ok(false)` when the log had
/// nothing new.
async fn deliver_batch(
    log: &dyn ChangeLog,
    issuer: &Issuer,
    hook: &Webhook,
    client: &HttpsClient,
) -> Result<bool, String> {
    let after = log.position(CONSUMER).await.map_err(|e| e.to_string())?;
    let batch = log
        .read_after(after, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let Some(&(last, _)) = batch.last() else {
        return Ok(false);
    };
    for (position, change) in &batch {
        match event_of(change) {
            Ok(Some(ev)) => deliver(&ev, issuer, hook, client).await,
            Ok(None) => {}
            Err(e) => {
                tracing::error!(position, error = %e, "a logged change cannot be read; not delivered")
            }
        }
    }
    log.save_position(CONSUMER, last)
        .await
        .map_err(|e| e.to_string())?;
    Ok(true)
}

/// Sends one SET until the receiver takes it (or refuses it for good).
async fn deliver(ev: &ChangeEvent, issuer: &Issuer, hook: &Webhook, client: &HttpsClient) {
    let set = hs256(&issuer.claims(ev), &hook.key);
    let url = hook.url.replace("{tenant}", ev.tenant.log_name());
    let mut wait = Duration::from_millis(100);
    loop {
        match send(client, &url, &set, hook.timeout).await {
            Sent::Accepted => return,
            Sent::Refused(status, body) => {
                tracing::error!(jti = %ev.change_id, status, body = %body, "the event webhook refused a SET; passed");
                return;
            }
            Sent::Failed(why) => {
                tracing::warn!(jti = %ev.change_id, error = %why, retry_in_ms = wait.as_millis() as u64, "event delivery failed");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(hook.max_backoff);
            }
        }
    }
}

async fn send(client: &HttpsClient, url: &str, set: &str, timeout: Duration) -> Sent {
    let request = hyper::Request::post(url)
        .header("content-type", "application/secevent+jwt")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(set.to_string())));
    let request = match request {
        Ok(r) => r,
        Err(e) => return Sent::Refused(0, format!("bad webhook URL: {e}")),
    };
    let answer = tokio::time::timeout(timeout, async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        Ok::<_, String>((status, body))
    })
    .await;
    match answer {
        Err(_) => Sent::Failed(format!("no answer within {timeout:?}")),
        Ok(Err(e)) => Sent::Failed(e),
        Ok(Ok((status, _))) if (200..300).contains(&status) => Sent::Accepted,
        Ok(Ok((400, body))) => Sent::Refused(400, body.chars().take(300).collect()),
        Ok(Ok((status, _))) => Sent::Failed(format!("status {status}")),
    }
}
