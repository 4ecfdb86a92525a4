//! The local server's delivery of change events (embedded store): the
//! webhook push when one is configured, and the log's retention.

use std::sync::Arc;
use std::time::Duration;

use super::{Issuer, webhook};
use crate::config::Config;
use crate::store::Table;
use crate::store::table::unix_ms;

/// How often the retention is applied.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How long an idle delivery waits before looking at the log again.
const IDLE: Duration = Duration::from_millis(50);
/// The longest wait between two attempts at one SET.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs until `stop` resolves: with a webhook, the log's events are pushed
/// to it; in any case, events older than the retention are forgotten
/// (with a webhook, only delivered ones). Nothing to do when the store
/// keeps no change log.
pub async fn deliver_events(
    config: &Config,
    table: &Table,
    issuer: Issuer,
    stop: impl std::future::Future<Output = ()>,
) {
    let Some(log) = table.change_log() else {
        return;
    };
    let pushed = config.events.webhook_url.is_some();
    let retention = i64::try_from(config.events.retention.as_millis()).unwrap_or(i64::MAX);
    let prune = {
        let log = Arc::clone(&log);
        async move {
            loop {
                let up_to = if pushed {
                    log.position(webhook::CONSUMER)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or(0)
                } else {
                    u64::MAX
                };
                match log.prune(unix_ms().saturating_sub(retention), up_to).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(events = n, "forgot events past the retention")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "pruning the change log failed"),
                }
                tokio::time::sleep(PRUNE_EVERY).await;
            }
        }
    };
    let push = async {
        match (&config.events.webhook_url, &config.events.signing_key) {
            (Some(url), Some(key)) => {
                let hook = webhook::Webhook {
                    url: url.clone(),
                    key: key.as_bytes().to_vec(),
                    timeout: config.events.webhook_timeout,
                    idle: IDLE,
                    max_backoff: MAX_BACKOFF,
                };
                webhook::run(log.clone(), issuer, hook).await;
            }
            _ => std::future::pending().await,
        }
    };
    tokio::select! {
        () = stop => {}
        () = prune => {}
        () = push => {}
    }
}
