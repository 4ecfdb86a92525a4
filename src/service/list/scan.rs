//! Walking a type's resources in id order, a batch at a time, and what a
//! page keeps of the matches as they stream past: the window's, or the
//! sort keys and ids of the best ones.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::super::Service;
use crate::scim::ScimError;
use crate::scim::filter::Resolved;
use crate::scim::list::{Paging, SortOrder, json_len};
use crate::scim::resource;
use crate::scim::schema::AttrType;
use crate::scim::schemas::ResourceType;
use crate::store::Stored;

/// Resources read in the first batch of a scan, before their size is known.
pub(super) const FIRST_BATCH: usize = 100;
/// About how much stored JSON one scan batch holds: batches are sized from
/// the last one's resources, so that large resources come a few at a time.
pub(super) const BATCH_BYTES: usize = 4 << 20;
/// Resources in a scan batch, whatever their size. Each batch ends in a
/// part-filled 1 MB Query page, so a scan of small resources costs one
/// Query more than its pages (the first batch) rather than one a thousand.
pub(super) const BATCH_RANGE: (usize, usize) = (10, 10_000);

/// The value a resource sorts by: for a multi-valued attribute, its primary
/// value or else its first (RFC 7644 §3.4.2.3).
fn sort_value<'a>(doc: &'a Value, by: &Resolved) -> Option<&'a Value> {
    let v = by.container(doc)?;
    let v = match v {
        Value::Array(items) => items
            .iter()
            .find(|i| i.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?,
        other => other,
    };
    let sub = by.sub.or_else(|| {
        (by.attr.ty == AttrType::Complex)
            .then(|| by.attr.sub("value"))
            .flatten()
    });
    match sub {
        Some(s) => v.get(&*s.name),
        None => Some(v),
    }
}

fn compare_values(by: &Resolved, a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let leaf = by.sub.unwrap_or(by.attr);
    match (a, b) {
        (None, None) => Ordering::Equal,
        // Resources without a value come last.
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::String(x)), Some(Value::String(y))) => match leaf.ty {
            AttrType::DateTime => match (
                OffsetDateTime::parse(x, &Rfc3339),
                OffsetDateTime::parse(y, &Rfc3339),
            ) {
                (Ok(p), Ok(q)) => p.cmp(&q),
                _ => x.cmp(y),
            },
            _ if leaf.case_exact => x.cmp(y),
            _ => x.to_lowercase().cmp(&y.to_lowercase()),
        },
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

/// A walk through a type's resources in id order, a batch at a time.
pub(super) struct Scan {
    /// The last id read.
    pub(super) after: Option<String>,
    /// How many to read next, from the size of the last batch.
    pub(super) batch: usize,
    pub(super) examined: usize,
    /// Whether resources may follow.
    pub(super) more: bool,
}

impl Default for Scan {
    fn default() -> Self {
        Self {
            after: None,
            batch: FIRST_BATCH,
            examined: 0,
            more: true,
        }
    }
}

impl Scan {
    /// The next `n` resources (fewer at the end).
    pub(super) async fn next(
        &mut self,
        service: &Service,
        rt: &ResourceType,
        n: usize,
    ) -> Result<Vec<Stored>, ScimError> {
        let (batch, more) = service
            .dir
            .scan_type_after(rt.kind, self.after.as_deref(), n)
            .await?;
        self.examined += batch.len();
        self.more = more && !batch.is_empty();
        if let Some(last) = batch.last() {
            self.after = Some(last.meta.id.clone());
        }
        let bytes: usize = batch.iter().map(|s| json_len(&s.doc)).sum();
        if let Some(each) = bytes.checked_div(batch.len()) {
            self.batch = (BATCH_BYTES / each.max(1)).clamp(BATCH_RANGE.0, BATCH_RANGE.1);
        }
        // Embedded reads finish without waiting: between batches, the
        // request timeout can stop a long scan and other requests run.
        tokio::task::yield_now().await;
        Ok(batch)
    }
}

/// What an index page keeps of the matches as they stream past.
pub(super) enum Picker<'a> {
    /// In id order: the window's matches, counting the rest.
    Window(Window),
    /// Sorted: the best keys and ids.
    Sorted(TopKeys<'a>),
}

impl<'a> Picker<'a> {
    pub(super) fn new(sort: Option<&'a (Resolved<'a>, SortOrder)>, paging: Paging) -> Self {
        match sort {
            None => Self::Window(Window {
                skip: paging.start_index - 1,
                count: paging.count,
                seen: 0,
                page: Vec::new(),
            }),
            Some((by, order)) => Self::Sorted(TopKeys {
                by,
                order: *order,
                keep: (paging.start_index - 1).saturating_add(paging.count),
                keys: Vec::new(),
                seen: 0,
            }),
        }
    }

    /// Offers matches in id order. Gives back those a sorted page may
    /// still take by id (all of them; none for a window, which keeps its own).
    pub(super) fn offer(&mut self, rt: &ResourceType, matches: Vec<Stored>) -> Vec<Stored> {
        match self {
            Self::Window(w) => {
                matches.into_iter().for_each(|s| w.offer(s));
                Vec::new()
            }
            Self::Sorted(top) => {
                top.offer_all(rt, &matches);
                matches
            }
        }
    }

    /// Matches offered so far.
    pub(super) fn total(&self) -> usize {
        match self {
            Self::Window(w) => w.seen,
            Self::Sorted(top) => top.seen,
        }
    }
}

/// The matches of an index window, offered in id order.
pub(super) struct Window {
    pub(super) skip: usize,
    pub(super) count: usize,
    /// Matches offered so far (the total, at the end).
    pub(super) seen: usize,
    pub(super) page: Vec<Stored>,
}

impl Window {
    pub(super) fn offer(&mut self, s: Stored) {
        if self.seen >= self.skip && self.page.len() < self.count {
            self.page.push(s);
        }
        self.seen += 1;
    }
}

/// The sort keys and ids of the `keep` first matches in sort order, ties in
/// id order (as the matches come), trimmed as they grow: memory is
/// O(startIndex + count) keys, not the matches' documents.
pub(super) struct TopKeys<'a> {
    pub(super) by: &'a Resolved<'a>,
    pub(super) order: SortOrder,
    pub(super) keep: usize,
    pub(super) keys: Vec<(Option<Value>, String)>,
    pub(super) seen: usize,
}

impl TopKeys<'_> {
    pub(super) fn offer_all(&mut self, rt: &ResourceType, matches: &[Stored]) {
        for s in matches {
            let doc = resource::render(&s.doc, &s.meta, rt, "", None);
            let key = sort_value(&doc, self.by).cloned();
            self.keys.push((key, s.meta.id.clone()));
            self.seen += 1;
        }
        if self.keys.len() >= self.keep.max(64).saturating_mul(2) {
            self.trim();
        }
    }

    pub(super) fn trim(&mut self) {
        let (by, order) = (self.by, self.order);
        self.keys.sort_by(|a, b| {
            let o = compare_values(by, a.0.as_ref(), b.0.as_ref());
            let o = if order == SortOrder::Descending {
                o.reverse()
            } else {
                o
            };
            o.then_with(|| a.1.cmp(&b.1))
        });
        self.keys.truncate(self.keep);
    }

    /// The window's ids, in sort order.
    pub(super) fn window(mut self, paging: Paging) -> Vec<String> {
        self.trim();
        self.keys
            .into_iter()
            .skip(paging.start_index - 1)
            .take(paging.count)
            .map(|(_, id)| id)
            .collect()
    }
}
