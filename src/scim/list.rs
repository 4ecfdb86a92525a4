//! `ListResponse` (RFC 7644 §3.4.2) and the query parameters that shape it.

use serde_json::{Value, json};

use super::error::ScimError;
use super::schema::LIST_RESPONSE_SCHEMA;

/// Index paging parameters, parsed leniently per RFC 7644 §3.4.2.4: a
/// `startIndex` below 1 means 1, a negative `count` means 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
}

impl Paging {
    pub fn parse(
        start_index: Option<&str>,
        count: Option<&str>,
        default_count: usize,
        max_count: usize,
    ) -> Result<Self, ScimError> {
        let int = |name: &str, v: &str| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("'{name}' must be an integer, not '{v}'"))
            })
        };
        let start = match start_index {
            Some(v) => int("startIndex", v)?.max(1),
            None => 1,
        };
        let count = match count {
            Some(v) => int("count", v)?.max(0),
            None => default_count as i64,
        };
        Ok(Self {
            start_index: usize::try_from(start).unwrap_or(usize::MAX),
            count: usize::try_from(count).unwrap_or(usize::MAX).min(max_count),
        })
    }
}

/// A `ListResponse` body.
pub fn list_response(resources: Vec<Value>, total_results: usize, start_index: usize) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_clamps_like_the_rfc_says() {
        let p = Paging::parse(Some("0"), Some("-5"), 100, 1000).ok();
        assert_eq!(
            p,
            Some(Paging {
                start_index: 1,
                count: 0
            })
        );
        let p = Paging::parse(None, Some("5000"), 100, 1000).ok();
        assert_eq!(
            p,
            Some(Paging {
                start_index: 1,
                count: 1000
            })
        );
        assert!(Paging::parse(Some("abc"), None, 100, 1000).is_err());
    }
}
