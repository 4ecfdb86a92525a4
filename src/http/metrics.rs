//! Per-directory metrics as CloudWatch embedded metric format (EMF) lines:
//! one JSON object a request, written to standard output beside the
//! request's log line, which CloudWatch Logs turns into metrics. No API
//! call is made, and nothing but the directory's name is in the line.

use serde_json::{Value, json};

/// The metrics of one request, by directory (`default` or the tenant's id)
/// and for all directories together.
pub struct RequestMetrics<'a> {
    pub directory: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub dynamodb_requests: u64,
}

impl RequestMetrics<'_> {
    /// The EMF document under `namespace`, stamped `timestamp_ms`.
    pub fn emf(&self, namespace: &str, timestamp_ms: u128) -> Value {
        let metric = |name: &str, unit: &str| json!({"Name": name, "Unit": unit});
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["Directory"], []],
                    "Metrics": [
                        metric("Requests", "Count"),
                        metric("ClientErrors", "Count"),
                        metric("ServerErrors", "Count"),
                        metric("DynamoDBRequests", "Count"),
                        metric("Latency", "Milliseconds"),
                    ],
                }],
            },
            "Directory": self.directory,
            "Requests": 1,
            "ClientErrors": u8::from((400..500).contains(&self.status)),
            "ServerErrors": u8::from(self.status >= 500),
            "DynamoDBRequests": self.dynamodb_requests,
            "Latency": self.latency_ms,
        })
    }

    /// Writes the EMF line to standard output, now.
    pub fn write(&self, namespace: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        println!("{}", self.emf(namespace, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_one_emf_document_with_its_directory_and_outcome() {
        let m = RequestMetrics {
            directory: "acme",
            status: 404,
            latency_ms: 12.5,
            dynamodb_requests: 2,
        };
        let doc = m.emf("scim-lambda", 1_700_000_000_000);
        let spec = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], "scim-lambda");
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        // Every metric named in the directive is a number at the top level.
        for metric in spec["Metrics"].as_array().into_iter().flatten() {
            let name = metric["Name"].as_str().unwrap_or_default();
            assert!(doc[name].is_number(), "{name} in {doc}");
        }
        for dims in spec["Dimensions"].as_array().into_iter().flatten() {
            for d in dims.as_array().into_iter().flatten() {
                assert!(doc[d.as_str().unwrap_or_default()].is_string(), "{d}");
            }
        }
        assert_eq!(doc["Directory"], "acme");
        assert_eq!(
            (doc["ClientErrors"].as_u64(), doc["ServerErrors"].as_u64()),
            (Some(1), Some(0))
        );
        let failed = RequestMetrics { status: 503, ..m };
        let doc = failed.emf("n", 0);
        assert_eq!(
            (doc["ClientErrors"].as_u64(), doc["ServerErrors"].as_u64()),
            (Some(0), Some(1))
        );
        assert_eq!(doc["DynamoDBRequests"], 2);
    }
}
