//! The AWS SDK clients, built once at start, with retries and timeouts
//! chosen on purpose: a SCIM request makes a few DynamoDB calls in a row and
//! must answer within API Gateway's 29 s (the function's timeout is 28 s by
//! default), so each call gets a bounded number of quick attempts, and what
//! still fails becomes a 503 with Retry-After, which every IdP retries.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Attempts per call (the first and three retries), for throttling, 5xx,
/// timeouts and lost connections; the SDK's standard mode adds a client-side
/// retry budget so that a struggling table is not flooded with retries.
pub const MAX_ATTEMPTS: u32 = 4;

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(25))
        .with_max_backoff(Duration::from_secs(1))
}

/// One attempt may take 3 s (a DynamoDB call takes milliseconds; a slow one
/// is retried rather than waited for); a call with its retries at most 8 s.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

pub fn dynamodb(aws: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(aws)
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

pub fn secrets_manager(aws: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::config::Builder::from(aws)
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

pub fn eventbridge(aws: &SdkConfig) -> aws_sdk_eventbridge::Client {
    let conf = aws_sdk_eventbridge::config::Builder::from(aws)
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .build();
    aws_sdk_eventbridge::Client::from_conf(conf)
}

pub fn sqs(aws: &SdkConfig) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::config::Builder::from(aws)
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}
