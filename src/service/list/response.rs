//! A list response, as the HTTP layer only renders it: the list's
//! parameters checked against the resource type, its resources rendered
//! and cut to what one response may hold, the cursor of the next page, and
//! the root search's window over every type.

use serde_json::Value;

use super::{ListQuery, Position};
use crate::scim::ScimError;
use crate::scim::cursor::{self, CursorCodec};
use crate::scim::filter::{AttrPath, Filter, Resolved};
use crate::scim::list::{ListParams, PageBudget, Paging, SortOrder, json_len};
use crate::scim::projection::Projection;
use crate::scim::schemas::ResourceType;
use crate::service::{Service, View, wants_refs};

type Result<T> = std::result::Result<T, ScimError>;

/// The most a list response's resources may take, under Lambda's 6 MB.
const MAX_LIST_BYTES: usize = 5_000_000;

/// What a `ListResponse` says, its resources rendered.
#[derive(Debug)]
pub struct ListPage {
    pub resources: Vec<Value>,
    pub total: Option<usize>,
    /// With index paging: the page's `startIndex`.
    pub start_index: Option<usize>,
    /// With cursor paging: the cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// One resource type's part of a list response, rendered.
struct TypePage {
    resources: Vec<Value>,
    total: Option<usize>,
    /// Stopped short at the response's limits.
    cut: bool,
    /// With cursor paging: the id after which the next page starts.
    next_after: Option<String>,
}

/// A list's filter, sort and projection, checked against one resource type.
type Parsed<'s> = (
    Option<Filter>,
    Option<(Resolved<'s>, SortOrder)>,
    Projection<'s>,
);

fn parse_list<'s>(rt: &'s ResourceType, lp: &ListParams) -> Result<Parsed<'s>> {
    let filter = lp
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, rt))
        .transpose()?;
    let sort = match &lp.sort_by {
        None => None,
        Some(by) => {
            let r = AttrPath::parse(by.trim())
                .and_then(|p| p.resolve(rt))
                .ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "sortBy '{by}' names no attribute of a {}",
                        rt.name()
                    ))
                })?;
            Some((r, lp.sort_order))
        }
    };
    let p = Projection::parse_bounded(
        lp.attributes.as_deref(),
        lp.excluded_attributes.as_deref(),
        rt,
    )?;
    Ok((filter, sort, p))
}

/// The id of the last resource kept when a page is cut before `cut`.
fn resources_last_id(views: &[View], cut: usize) -> Option<String> {
    views
        .get(cut.checked_sub(1)?)
        .map(|v| v.stored.meta.id.clone())
}

/// Seconds since the Unix epoch, for cursor lifetimes.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Service {
    /// What a whole list response may hold.
    fn page_budget(&self) -> PageBudget {
        PageBudget {
            bytes: MAX_LIST_BYTES,
            refs: self.limits.max_list_members,
        }
    }

    /// A list or search of one resource type (GET `/{type}`, POST
    /// `/{type}/.search`), index or cursor paged.
    pub async fn list_page(
        &self,
        rt: &ResourceType,
        base: &str,
        lp: &ListParams,
        cursors: &CursorCodec,
    ) -> Result<ListPage> {
        // A cursor belongs to one query: the type, the filter and the sort,
        // and for a tenant, the tenant.
        let mut query = vec![
            rt.name(),
            lp.filter.as_deref().unwrap_or(""),
            lp.sort_by.as_deref().unwrap_or(""),
        ];
        if let Some(t) = self.tenant().id() {
            query.push(t.as_str());
        }
        let query_id = cursor::fingerprint(&query);
        let now = unix_now();
        let count = lp.paging.count;
        let position = match lp.cursor.as_deref() {
            None => Position::Index(lp.paging),
            Some("") => Position::After { after: None, count },
            Some(c) => Position::After {
                after: Some(cursors.decode(c, &query_id, count, now)?.after),
                count,
            },
        };
        let cursor_mode = lp.cursor.is_some();
        let mut budget = self.page_budget();
        let page = self
            .type_page(rt, base, lp, position, &mut budget, true)
            .await?;
        let next_cursor = page
            .next_after
            .map(|a| cursors.encode(&a, &query_id, count, now))
            .transpose()?;
        Ok(ListPage {
            resources: page.resources,
            total: page.total,
            start_index: (!cursor_mode).then_some(lp.paging.start_index),
            next_cursor,
        })
    }

    /// POST `/.search` at the root: every resource type the filter applies
    /// to, Users first, index paging over the whole. A filter naming
    /// attributes a type does not have leaves that type out.
    pub async fn search_all(&self, base: &str, lp: &ListParams) -> Result<ListPage> {
        if lp.cursor.is_some() || lp.sort_by.is_some() {
            return Err(ScimError::invalid_value(
                "cursor and sortBy are available per resource type (POST /Users/.search, /Groups/.search)",
            ));
        }
        // Reaching a window deep in a type reads the type from its start
        // (no index skips), so the window is bounded like a non-indexed
        // filter's scan.
        let window_end = (lp.paging.start_index - 1).saturating_add(lp.paging.count);
        if window_end > self.limits.max_filter_scan {
            return Err(ScimError::too_many(format!(
                "a root search reaches at most {} resources; page through /Users/.search and /Groups/.search",
                self.limits.max_filter_scan
            )));
        }
        // The window over all types: whole types before it are skipped by
        // their totals, then each type gives what is left of the window
        // from its offset. Once the response is cut, later types only
        // count, so startIndex + itemsPerPage is exactly where the next
        // page starts.
        let mut skip = lp.paging.start_index - 1;
        let mut want = lp.paging.count;
        let mut budget = self.page_budget();
        let mut resources = Vec::new();
        let mut total = 0usize;
        let mut cut = false;
        let mut first_error = None;
        let mut answered = false;
        for rt in self.schemas().resource_types() {
            let paging = Paging {
                start_index: skip + 1,
                count: if cut { 0 } else { want },
            };
            let first = resources.is_empty();
            let position = Position::Index(paging);
            match self
                .type_page(rt, base, lp, position, &mut budget, first)
                .await
            {
                Ok(page) => {
                    answered = true;
                    let type_total = page.total.unwrap_or(0);
                    total += type_total;
                    skip = skip.saturating_sub(type_total);
                    want = want.saturating_sub(page.resources.len());
                    cut |= page.cut;
                    resources.extend(page.resources);
                }
                Err(e) if e.scim_type == Some(crate::scim::ScimType::InvalidFilter) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        if !answered {
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok(ListPage {
            resources,
            total: Some(total),
            start_index: Some(lp.paging.start_index),
            next_cursor: None,
        })
    }

    /// One type's page of a list, or its part of a root search's window.
    async fn type_page(
        &self,
        rt: &ResourceType,
        base: &str,
        lp: &ListParams,
        position: Position,
        budget: &mut PageBudget,
        response_empty: bool,
    ) -> Result<TypePage> {
        let (filter, sort, p) = parse_list(rt, lp)?;
        let q = ListQuery {
            filter,
            sort,
            position,
            with_refs: wants_refs(rt, &p),
            budget: *budget,
        };
        self.rendered_page(rt, base, &p, q, budget, response_empty)
            .await
    }

    /// Lists one type and renders what fits in `budget` (what the response
    /// has left), taking it down. A page cut short lets the client page on
    /// (the next cursor, or startIndex + itemsPerPage); the first resource
    /// of a response is always sent, so paging always moves.
    async fn rendered_page(
        &self,
        rt: &ResourceType,
        base: &str,
        p: &Projection<'_>,
        q: ListQuery<'_>,
        budget: &mut PageBudget,
        response_empty: bool,
    ) -> Result<TypePage> {
        let cursor_mode = matches!(q.position, Position::After { .. });
        let result = self.list(rt, &q).await?;
        let mut page = TypePage {
            resources: Vec::with_capacity(result.resources.len()),
            total: result.total,
            cut: result.cut,
            next_after: result.next_after,
        };
        for (i, v) in result.resources.iter().enumerate() {
            let r = v.render(rt, base, p);
            let bytes = json_len(&r);
            let refs = v.refs.as_ref().map_or(0, Vec::len);
            let first = response_empty && i == 0;
            if !first && (bytes > budget.bytes || refs > budget.refs) {
                page.cut = true;
                if cursor_mode {
                    page.next_after = resources_last_id(&result.resources, i);
                }
                break;
            }
            budget.bytes = budget.bytes.saturating_sub(bytes);
            budget.refs = budget.refs.saturating_sub(refs);
            page.resources.push(r);
        }
        Ok(page)
    }
}
