//! Publishing events to an EventBridge bus: PutEvents with at most 10
//! entries and 256 KB a call, in commit order, each entry's `detail` the
//! SET's claims as JSON. Failed entries (throttling, partial failures) are
//! sent again with backoff; what still fails is reported by position, so
//! that the stream front door hands it back to Lambda.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

/// EventBridge's limits on one PutEvents call.
pub const MAX_ENTRIES: usize = 10;
pub const MAX_CALL_BYTES: usize = 256 * 1024;

/// Attempts of one call's entries before giving up on them.
const ATTEMPTS: u32 = 4;

/// The time one call may take with its attempts (the SDK's 8 s operation
/// timeout, 4 times, and the waits between), kept free before a deadline.
pub const CALL_RESERVE: Duration = Duration::from_secs(36);

/// One event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub detail_type: String,
    /// The SET's claims, as JSON.
    pub detail: String,
    /// What the event is about (tenant, type, id): two entries of one
    /// subject never share a call, so a retried entry cannot fall behind a
    /// later one of the same resource.
    pub subject: String,
    /// When the change was committed (the entry's `time`), in milliseconds.
    pub at_ms: i64,
}

impl Entry {
    /// Its size as EventBridge counts it (source, detail-type, detail and
    /// the time stamp).
    fn size(&self, source: &str) -> usize {
        source.len() + self.detail_type.len() + self.detail.len() + 14
    }
}

/// Where entries go: the bus (or, in tests, a bus with faults injected).
#[async_trait]
pub trait Sink: Send + Sync {
    /// One PutEvents call: for each entry, whether it was accepted (or
    /// set aside for good, see [`Sink::park`]); an error when the call as a
    /// whole failed.
    async fn put(&self, entries: &[Entry]) -> Result<Vec<bool>, String>;
    /// The `source` the entries carry.
    fn source(&self) -> &str;
    /// Sets aside what can never be published (a stream record that cannot
    /// be read, an entry the bus refuses for good) in the dead-letter
    /// queue, so that the records after it go on. Without a queue: an
    /// error, and the record is handed back to Lambda.
    async fn park(&self, what: &str, body: &str) -> Result<(), String> {
        let _ = body;
        Err(format!("no dead-letter queue for {what}"))
    }
}

/// An EventBridge bus through the SDK, with the dead-letter queue.
pub struct Bus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    source: String,
    dead_letters: Option<(aws_sdk_sqs::Client, String)>,
}

impl Bus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: String, source: String) -> Self {
        Self {
            client,
            bus,
            source,
            dead_letters: None,
        }
    }

    /// The SQS queue (by URL) what can never be published goes to.
    pub fn with_dead_letters(mut self, sqs: aws_sdk_sqs::Client, queue_url: String) -> Self {
        self.dead_letters = Some((sqs, queue_url));
        self
    }
}

/// PutEvents' per-entry errors that a retry may cure; any other (a
/// malformed detail, an invalid argument) never will.
fn passing(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException" | "InternalFailure" | "InternalException" | "ServiceUnavailable"
    )
}

#[async_trait]
impl Sink for Bus {
    async fn put(&self, entries: &[Entry]) -> Result<Vec<bool>, String> {
        let request = entries.iter().map(|e| {
            PutEventsRequestEntry::builder()
                .event_bus_name(&self.bus)
                .source(&self.source)
                .detail_type(&e.detail_type)
                .detail(&e.detail)
                .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                    e.at_ms,
                ))
                .build()
        });
        let out = self
            .client
            .put_events()
            .set_entries(Some(request.collect()))
            .send()
            .await
            .map_err(|e| aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string())?;
        let results = out.entries();
        if results.len() != entries.len() {
            return Err(format!(
                "PutEvents answered {} results for {} entries",
                results.len(),
                entries.len()
            ));
        }
        let mut accepted = Vec::with_capacity(entries.len());
        for (r, e) in results.iter().zip(entries) {
            let ok = match r.error_code() {
                None => r.event_id().is_some(),
                Some(code) if passing(code) => false,
                Some(code) => {
                    let why = format!(
                        "PutEvents refused it: {code} {}",
                        r.error_message().unwrap_or_default()
                    );
                    self.park(&why, &e.detail).await.is_ok()
                }
            };
            accepted.push(ok);
        }
        Ok(accepted)
    }

    fn source(&self) -> &str {
        &self.source
    }

    async fn park(&self, what: &str, body: &str) -> Result<(), String> {
        let Some((sqs, url)) = &self.dead_letters else {
            return Err(format!("no dead-letter queue for {what}"));
        };
        tracing::error!(reason = %what, "set aside in the dead-letter queue");
        let message = serde_json::json!({"reason": what, "body": body}).to_string();
        sqs.send_message()
            .queue_url(url)
            .message_body(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
    }
}

/// Splits entries into calls: at most 10 entries and 256 KB each, and no
/// two entries of one subject in one call. Returns the calls as ranges.
pub fn calls(entries: &[Entry], source: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    let mut subjects = std::collections::HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        let size = e.size(source);
        let full = i - start == MAX_ENTRIES
            || (i > start && bytes + size > MAX_CALL_BYTES)
            || subjects.contains(e.subject.as_str());
        if full {
            out.push(start..i);
            start = i;
            bytes = 0;
            subjects.clear();
        }
        bytes += size;
        subjects.insert(e.subject.as_str());
    }
    if start < entries.len() {
        out.push(start..entries.len());
    }
    out
}

/// Publishes entries in order. `Err(i)`: entry `i` and those after it are
/// not known to be published (entries after `i` may be; a retry sends
/// them again, with the same `jti`).
///
/// A call is begun only while at least [`CALL_RESERVE`] is left before
/// `deadline` (the Lambda invocation's): what is left is handed back rather
/// than cut by the function's timeout, which would retry the whole batch.
pub async fn publish(
    sink: &dyn Sink,
    entries: &[Entry],
    deadline: Option<std::time::SystemTime>,
) -> Result<(), usize> {
    let out_of_time = || {
        deadline.is_some_and(|d| {
            d.duration_since(std::time::SystemTime::now())
                .map_or(true, |left| left < CALL_RESERVE)
        })
    };
    for range in calls(entries, sink.source()) {
        if out_of_time() {
            tracing::warn!("the invocation's time is running out; the rest is handed back");
            return Err(range.start);
        }
        let mut pending: Vec<usize> = range.collect();
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            let batch: Vec<Entry> = pending.iter().map(|&i| entries[i].clone()).collect();
            match sink.put(&batch).await {
                Ok(accepted) => {
                    pending = pending
                        .into_iter()
                        .zip(accepted)
                        .filter_map(|(i, ok)| (!ok).then_some(i))
                        .collect();
                }
                Err(e) => tracing::warn!(error = %e, attempt, "PutEvents failed"),
            }
            if pending.is_empty() {
                break;
            }
            if attempt < ATTEMPTS && !out_of_time() {
                tokio::time::sleep(wait).await;
                wait *= 4;
            }
        }
        if let Some(&first) = pending.first() {
            tracing::warn!(
                entries = pending.len(),
                "events not published after {ATTEMPTS} attempts; handed back for retry"
            );
            return Err(first);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(subject: &str, bytes: usize) -> Entry {
        Entry {
            detail_type: "User Patched".into(),
            detail: "x".repeat(bytes),
            subject: subject.into(),
            at_ms: 0,
        }
    }

    #[test]
    fn a_call_holds_at_most_ten_entries_and_256_kb() {
        let many: Vec<Entry> = (0..23).map(|i| entry(&i.to_string(), 10)).collect();
        let sizes: Vec<usize> = calls(&many, "s").into_iter().map(|r| r.len()).collect();
        assert_eq!(sizes, vec![10, 10, 3]);
        let big: Vec<Entry> = (0..5).map(|i| entry(&i.to_string(), 100 * 1024)).collect();
        let sizes: Vec<usize> = calls(&big, "s").into_iter().map(|r| r.len()).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[test]
    fn two_events_of_one_resource_never_share_a_call() {
        let es = vec![entry("a", 1), entry("b", 1), entry("a", 1), entry("c", 1)];
        assert_eq!(calls(&es, "s"), vec![0..2, 2..4]);
    }

    /// Accepts everything, counting calls.
    #[derive(Default)]
    struct Counting(std::sync::atomic::AtomicUsize);

    #[async_trait]
    impl Sink for Counting {
        async fn put(&self, entries: &[Entry]) -> Result<Vec<bool>, String> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(vec![true; entries.len()])
        }
        fn source(&self) -> &str {
            "s"
        }
    }

    #[tokio::test]
    async fn no_call_is_begun_that_the_invocation_has_no_time_left_for() {
        let es: Vec<Entry> = (0..15).map(|i| entry(&i.to_string(), 10)).collect();
        let sink = Counting::default();
        let soon = std::time::SystemTime::now() + Duration::from_secs(5);
        assert_eq!(publish(&sink, &es, Some(soon)).await, Err(0));
        assert_eq!(sink.0.load(std::sync::atomic::Ordering::SeqCst), 0);
        let later = std::time::SystemTime::now() + Duration::from_secs(600);
        assert_eq!(publish(&sink, &es, Some(later)).await, Ok(()));
        assert_eq!(sink.0.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
