//! `ListResponse` (RFC 7644 §3.4.2, RFC 9865) and the query parameters that
//! shape it, from a GET's query string or a POST `/.search` body.

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimType};
use super::schema::{LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA};

/// Index paging parameters, parsed leniently per RFC 7644 §3.4.2.4: a
/// `startIndex` below 1 means 1, a negative `count` means 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// Everything a list or search request asks for, before it is checked
/// against a resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: SortOrder,
    pub paging: Paging,
    /// Cursor paging (RFC 9865): `Some("")` asks for the first page.
    pub cursor: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// Raw values of the parameters, from either source.
#[derive(Default)]
struct Raw {
    filter: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    cursor: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

fn int(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("'{name}' must be an integer, not '{v}'")))
}

impl Raw {
    fn parse(self, default_count: usize, max_count: usize) -> Result<ListParams, ScimError> {
        let sort_order = match self
            .sort_order
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("ascending") => SortOrder::Ascending,
            Some("descending") => SortOrder::Descending,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be \"ascending\" or \"descending\", not '{other}'"
                )));
            }
        };
        if self.cursor.is_some() && self.start_index.is_some() {
            return Err(ScimError::invalid_value(
                "use either startIndex or cursor, not both",
            ));
        }
        let start = match &self.start_index {
            Some(v) => int("startIndex", v)?.max(1),
            None => 1,
        };
        let count = match &self.count {
            Some(v) => int("count", v)?.max(0),
            None => default_count as i64,
        };
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if self.cursor.is_some() && count > max_count {
            return Err(ScimError::bad_request(
                ScimType::InvalidCount,
                format!("count must be between 0 and {max_count}"),
            ));
        }
        Ok(ListParams {
            filter: self.filter.filter(|f| !f.trim().is_empty()),
            sort_by: self.sort_by.filter(|s| !s.trim().is_empty()),
            sort_order,
            paging: Paging {
                start_index: usize::try_from(start).unwrap_or(usize::MAX),
                count: count.min(max_count),
            },
            cursor: self.cursor,
            attributes: self.attributes,
            excluded_attributes: self.excluded_attributes,
        })
    }
}

impl ListParams {
    /// From a query string's parameters (names matched case-insensitively).
    pub fn from_query<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
        default_count: usize,
        max_count: usize,
    ) -> Result<Self, ScimError> {
        let s = |n: &str| get(n).map(str::to_string);
        Raw {
            filter: s("filter"),
            sort_by: s("sortBy"),
            sort_order: s("sortOrder"),
            start_index: s("startIndex"),
            count: s("count"),
            cursor: s("cursor"),
            attributes: s("attributes"),
            excluded_attributes: s("excludedAttributes"),
        }
        .parse(default_count, max_count)
    }

    /// From a `SearchRequest` body (RFC 7644 §3.4.3).
    pub fn from_search(
        body: &Value,
        default_count: usize,
        max_count: usize,
    ) -> Result<Self, ScimError> {
        let Value::Object(obj) = body else {
            return Err(ScimError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        };
        let field = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{name}' must be a string"
                ))),
            }
        };
        let number = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                _ => text(name),
            }
        };
        let list = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            ScimError::invalid_value(format!("'{name}' must list strings"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| Some(v.join(","))),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{name}' must be a list of strings"
                ))),
            }
        };
        if let Some(v) = field("schemas").filter(|v| !v.is_array() && !v.is_null()) {
            return Err(ScimError::invalid_value(format!(
                "a SearchRequest's schemas must be a list including {SEARCH_REQUEST_SCHEMA}, not {v}"
            )));
        }
        if let Some(Value::Array(schemas)) = field("schemas") {
            if !schemas.is_empty()
                && !schemas
                    .iter()
                    .any(|s| s.as_str() == Some(SEARCH_REQUEST_SCHEMA))
            {
                return Err(ScimError::invalid_value(format!(
                    "a SearchRequest's schemas must include {SEARCH_REQUEST_SCHEMA}"
                )));
            }
        }
        Raw {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: number("startIndex")?,
            count: number("count")?,
            cursor: text("cursor")?,
            attributes: list("attributes")?,
            excluded_attributes: list("excludedAttributes")?,
        }
        .parse(default_count, max_count)
    }
}

/// A `ListResponse` body. Index paging gives `startIndex`; cursor paging
/// gives `nextCursor` when more follow; `totalResults` when it is known.
pub fn list_response(
    resources: Vec<Value>,
    total_results: Option<usize>,
    start_index: Option<usize>,
    next_cursor: Option<String>,
) -> Value {
    let mut m = Map::new();
    m.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
    if let Some(t) = total_results {
        m.insert("totalResults".into(), json!(t));
    }
    if let Some(s) = start_index {
        m.insert("startIndex".into(), json!(s));
    }
    m.insert("itemsPerPage".into(), json!(resources.len()));
    if let Some(c) = next_cursor {
        m.insert("nextCursor".into(), json!(c));
    }
    m.insert("Resources".into(), Value::Array(resources));
    Value::Object(m)
}

/// The most one page's response may hold. The HTTP layer cuts the rendered
/// page exactly; the service stops computing references once a page is
/// sure to be cut, so it never builds what will not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageBudget {
    /// Rendered bytes.
    pub bytes: usize,
    /// References (a group's members, a user's groups) listed in all.
    pub refs: usize,
}

impl PageBudget {
    /// Whether a page listing `refs` references in all is past the budget.
    pub fn over(&self, refs: usize) -> bool {
        refs > self.refs || refs.saturating_mul(MIN_REF_BYTES) > self.bytes
    }
}

/// The fewest bytes one rendered reference takes (`{"value":"<uuid>"}` and
/// its comma), so that references times this never overestimates a page.
pub const MIN_REF_BYTES: usize = 48;

/// How many bytes a value takes as JSON, counted without building the text.
pub fn json_len(v: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    // Writing to a counter cannot fail, and a value's map keys are strings.
    let _ = serde_json::to_writer(&mut n, v);
    n.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn q(pairs: &[(&str, &str)]) -> Result<ListParams, ScimError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_string()))
            .collect();
        ListParams::from_query(|k| m.get(&k.to_lowercase()).map(String::as_str), 100, 1000)
    }

    #[test]
    fn paging_clamps_like_the_rfc_says() {
        assert_eq!(
            q(&[("startIndex", "0"), ("count", "-5")]).map(|p| p.paging),
            Ok(Paging {
                start_index: 1,
                count: 0
            })
        );
        assert_eq!(
            q(&[("count", "5000")]).map(|p| p.paging),
            Ok(Paging {
                start_index: 1,
                count: 1000
            })
        );
        assert!(q(&[("startIndex", "abc")]).is_err());
    }

    #[test]
    fn cursor_paging_checks_count_and_excludes_start_index() {
        let e = q(&[("cursor", ""), ("count", "5000")])
            .err()
            .and_then(|e| e.scim_type);
        assert_eq!(e, Some(ScimType::InvalidCount));
        assert!(q(&[("cursor", ""), ("startIndex", "2")]).is_err());
        assert_eq!(
            q(&[("cursor", "")]).map(|p| p.cursor),
            Ok(Some(String::new()))
        );
    }

    #[test]
    fn search_bodies_give_the_same_parameters_as_query_strings() {
        let body = json!({
            "schemas": [SEARCH_REQUEST_SCHEMA],
            "filter": "userName sw \"a\"", "attributes": ["userName", "emails"],
            "sortBy": "userName", "sortOrder": "descending", "startIndex": 2, "count": 10
        });
        let from_body = ListParams::from_search(&body, 100, 1000);
        let from_query = q(&[
            ("filter", "userName sw \"a\""),
            ("attributes", "userName,emails"),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("startIndex", "2"),
            ("count", "10"),
        ]);
        assert_eq!(from_body, from_query);
        assert!(ListParams::from_search(&json!({"sortOrder": "sideways"}), 100, 1000).is_err());
    }
}
