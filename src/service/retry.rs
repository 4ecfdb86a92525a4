//! Redoing a write that lost a race: rounds with a jittered, growing wait,
//! bounded in number and in time, and a log line when they run out.

use std::time::{Duration, Instant};

use crate::scim::schemas::ResourceType;

/// How long, and how many rounds, a write that lost a race with another
/// write is redone (when the client did not pin a version with `If-Match`):
/// well inside the request timeout, so the answer is the write's own.
const WRITE_RETRY_BUDGET: Duration = Duration::from_secs(10);
const WRITE_RETRY_ROUNDS: u32 = 60;
/// The first wait between rounds, doubled each round up to the cap; each
/// wait is drawn at random below that bound (full jitter), so that writers
/// racing for one resource spread out instead of colliding again in step.
const WRITE_RETRY_FIRST_WAIT: Duration = Duration::from_millis(2);
const WRITE_RETRY_MAX_WAIT: Duration = Duration::from_millis(250);

/// The rounds of one write that redoes itself when another write of the
/// same resource came in between its read and its conditional write.
pub(crate) struct Retry {
    round: u32,
    until: Instant,
}

impl Retry {
    pub(crate) fn new() -> Self {
        Self {
            round: 0,
            until: Instant::now() + WRITE_RETRY_BUDGET,
        }
    }

    /// Waits before the next round; `false` (and a log line) once the
    /// rounds or the time are spent.
    pub(crate) async fn again(&mut self, rt: &ResourceType, id: &str) -> bool {
        self.round += 1;
        if self.round >= WRITE_RETRY_ROUNDS || Instant::now() >= self.until {
            tracing::warn!(
                resource_type = rt.name(),
                id,
                rounds = self.round,
                "a write kept losing races with other writes of the resource; answering 503"
            );
            return false;
        }
        let bound = WRITE_RETRY_FIRST_WAIT
            .saturating_mul(1 << self.round.min(16))
            .min(WRITE_RETRY_MAX_WAIT);
        let draw = getrandom::u32().unwrap_or(u32::MAX / 2);
        let wait = bound.mul_f64(f64::from(draw) / f64::from(u32::MAX));
        tokio::time::sleep(wait).await;
        true
    }
}
