//! Lists for every resource type: filters, sorting, index paging and
//! cursor paging. Filters with an `eq` that a key or index answers (alone or
//! on one side of an `and`, see [`INDEXED`]) use it; others examine the
//! type's partition, at most `max_filter_scan` resources a request, a batch
//! at a time, keeping only what the page needs (the window's matches, or
//! for `sortBy` the sort keys and ids of the best `startIndex + count`), so
//! memory follows the page, not the scan.
//!
//! Rooms: this file (the pages), `indexed` (equalities a key or index
//! answers, and references checked against edges), `scan` (walking a type a
//! batch at a time, and what a page keeps of it), `response` (a list
//! response: parameters checked, resources rendered and cut to the
//! response's size, cursors, the root search's window).

mod indexed;
mod response;
mod scan;

pub use indexed::INDEXED;
pub use response::ListPage;
use scan::{BATCH_RANGE, Picker, Scan};

use std::collections::HashMap;

use futures_util::StreamExt;

use super::{Service, View};
use crate::scim::Kind;
use crate::scim::ScimError;
use crate::scim::filter::{Filter, Resolved};
use crate::scim::list::{PageBudget, Paging, SortOrder};
use crate::scim::resource::Ref;
use crate::scim::schemas::ResourceType;
use crate::store::Stored;

/// How a list pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// RFC 7644 index paging.
    Index(Paging),
    /// RFC 9865 cursor paging: resources after this id (`None`: from the
    /// start), at most `count`.
    After { after: Option<String>, count: usize },
}

/// A list request, parsed and checked against its resource type.
#[derive(Debug, Clone)]
pub struct ListQuery<'s> {
    pub filter: Option<Filter>,
    pub sort: Option<(Resolved<'s>, SortOrder)>,
    pub position: Position,
    /// Compute each resource's references (a user's groups, a group's members).
    pub with_refs: bool,
    /// What the page's response may hold: references stop being computed
    /// once the page is sure to be cut.
    pub budget: PageBudget,
}

#[derive(Debug)]
pub struct ListResult {
    pub resources: Vec<View>,
    /// Unknown for a cursor page of a filter that examines the partition.
    pub total: Option<usize>,
    /// With cursor paging: the id after which the next page starts.
    pub next_after: Option<String>,
    /// The page stopped short at its budget: what follows comes on the next
    /// page (startIndex + itemsPerPage, or the cursor).
    pub cut: bool,
}

/// Whether index pages of this query are marked for the next page: those
/// read in id order from the type index (unfiltered, unsorted). Filtered
/// pages gather or examine their matches whole, whatever the depth.
fn marks_pages(q: &ListQuery<'_>) -> bool {
    q.filter.is_none() && q.sort.is_none()
}

/// Reference computations kept in flight at once for one list.
const REFS_CONCURRENCY: usize = 8;

impl Service {
    pub async fn list(
        &self,
        rt: &ResourceType,
        q: &ListQuery<'_>,
    ) -> Result<ListResult, ScimError> {
        let (stored, total, next_after) = match &q.position {
            Position::Index(paging) => {
                let (page, total) = self.index_page(rt, q, *paging).await?;
                (page, Some(total), None)
            }
            Position::After { after, count } => {
                if q.sort.is_some() {
                    return Err(ScimError::invalid_value(
                        "sortBy is not available with cursor paging; cursor pages come in id order",
                    ));
                }
                self.cursor_page(rt, q.filter.as_ref(), after.as_deref(), *count)
                    .await?
            }
        };
        // A page read in id order from the type index holds a run of
        // consecutive ids: its users' groups are one Query.
        let (resources, cut) = if q.with_refs && rt.kind == Kind::User && marks_pages(q) {
            self.user_views(stored, q.budget).await?
        } else {
            self.views(rt, stored, q.with_refs, q.budget).await?
        };
        if let (Position::Index(paging), Some(total)) = (&q.position, total) {
            if marks_pages(q) {
                self.mark_next_page(rt, *paging, &resources, total).await;
            }
        }
        let next_after = match (cut, &q.position) {
            (true, Position::After { .. }) => resources.last().map(|v| v.stored.meta.id.clone()),
            _ => next_after,
        };
        Ok(ListResult {
            resources,
            total,
            next_after,
            cut,
        })
    }

    /// The page's resources with their references when wanted, in order,
    /// until the references would outgrow the budget (the first is always
    /// kept, so a page is never empty for that); and whether it stopped.
    async fn views(
        &self,
        rt: &ResourceType,
        stored: Vec<Stored>,
        with_refs: bool,
        budget: PageBudget,
    ) -> Result<(Vec<View>, bool), ScimError> {
        let mut out = Vec::with_capacity(stored.len());
        let mut refs = 0usize;
        let mut views = futures_util::stream::iter(
            stored
                .into_iter()
                .map(|s| Box::pin(self.view(rt, s, with_refs))),
        )
        .buffered(REFS_CONCURRENCY);
        while let Some(v) = views.next().await {
            let v = v?;
            refs += v.refs.as_ref().map_or(0, Vec::len);
            if budget.over(refs) && !out.is_empty() {
                return Ok((out, true));
            }
            out.push(v);
            // Embedded reads finish without waiting: a long page lets the
            // request timeout and other requests in between resources.
            tokio::task::yield_now().await;
        }
        Ok((out, false))
    }

    /// A page of users in id order with their groups, read for the whole
    /// page at once: the edges of its run of ids (1 Query a MB of them),
    /// then the groups' names (1 BatchGetItem per 100 distinct groups).
    /// Cut at the budget as [`Service::views`] cuts.
    async fn user_views(
        &self,
        stored: Vec<Stored>,
        budget: PageBudget,
    ) -> Result<(Vec<View>, bool), ScimError> {
        let (Some(first), Some(last)) = (stored.first(), stored.last()) else {
            return Ok((Vec::new(), false));
        };
        // No more edges than the page may list: past them, the page is cut
        // after the last user whose edges were all read.
        let (edges, more) = self
            .dir
            .edges_of_members_between(&first.meta.id, &last.meta.id, budget.refs)
            .await?;
        let mut stored = stored;
        let mut short = false;
        if more {
            let reached = edges
                .last()
                .map(|e| e.member_id.clone())
                .unwrap_or_default();
            let complete = stored.iter().take_while(|s| s.meta.id < reached).count();
            if complete == 0 {
                // The first user alone has more groups than a page lists:
                // it comes alone, as a page always holds one.
                let one = stored.swap_remove(0);
                let view = self.view(self.resource_type(Kind::User), one, true).await?;
                return Ok((vec![view], true));
            }
            stored.truncate(complete);
            short = true;
        }
        let on_page: std::collections::HashSet<&str> =
            stored.iter().map(|s| s.meta.id.as_str()).collect();
        let edges: Vec<_> = edges
            .into_iter()
            .filter(|e| e.member_type == Kind::User && on_page.contains(e.member_id.as_str()))
            .collect();
        let wanted: Vec<(Kind, &str)> = edges
            .iter()
            .map(|e| (Kind::Group, e.group_id.as_str()))
            .collect();
        // The groups that still exist (a deleted one's edges may linger
        // until its cleanup), by id.
        let groups: HashMap<String, Ref> = self
            .refs(&wanted)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut of_member: HashMap<&str, Vec<Ref>> = HashMap::new();
        for e in &edges {
            if let Some(g) = groups.get(&e.group_id) {
                of_member
                    .entry(e.member_id.as_str())
                    .or_default()
                    .push(g.clone());
            }
        }
        for refs in of_member.values_mut() {
            refs.sort_by(|a, b| a.id.cmp(&b.id));
        }
        let mut out = Vec::with_capacity(stored.len());
        let mut refs = 0usize;
        for s in stored {
            let mine = of_member.remove(s.meta.id.as_str()).unwrap_or_default();
            refs += mine.len();
            if budget.over(refs) && !out.is_empty() {
                return Ok((out, true));
            }
            out.push(View {
                stored: s,
                refs: Some(mine),
            });
        }
        Ok((out, short))
    }

    /// A resource by id, with its references when wanted.
    pub async fn get_view(
        &self,
        rt: &ResourceType,
        id: &str,
        with_refs: bool,
    ) -> Result<View, ScimError> {
        let stored = self.get(rt, id).await?;
        self.view(rt, stored, with_refs).await
    }

    /// A resource with its references when wanted: a user's `groups`, a
    /// group's `members`.
    pub(super) async fn view(
        &self,
        rt: &ResourceType,
        stored: Stored,
        with_refs: bool,
    ) -> Result<View, ScimError> {
        let refs = match (with_refs, rt.kind) {
            (false, _) => None,
            (true, Kind::Group) => Some(self.members_of(&stored.meta.id).await?),
            (true, Kind::User) => Some(self.groups_of(&stored.meta.id).await?),
        };
        Ok(View { stored, refs })
    }

    /// Marks where the page after this one begins, so that it costs what
    /// this one did. A mark that cannot be written costs the next page its
    /// skip, nothing more: the failure is logged, not answered.
    async fn mark_next_page(&self, rt: &ResourceType, paging: Paging, page: &[View], total: usize) {
        let Some(last) = page.last() else {
            return;
        };
        let next = paging.start_index + page.len();
        if next > total {
            return;
        }
        if let Err(e) = self
            .dir
            .mark_page(rt.kind, paging.count, next, &last.stored.meta.id)
            .await
        {
            tracing::warn!(error = ?e, start_index = next, "the next page's mark was not written");
        }
    }

    fn too_many(&self) -> ScimError {
        ScimError::too_many(format!(
            "the request would examine more than {} resources; narrow the filter with an eq on an indexed attribute",
            self.limits.max_filter_scan
        ))
    }

    /// Index paging: unfiltered and unsorted lists count the type and read
    /// only up to the page; others examine every match (bounded) and keep
    /// what the window needs.
    async fn index_page(
        &self,
        rt: &ResourceType,
        q: &ListQuery<'_>,
        paging: Paging,
    ) -> Result<(Vec<Stored>, usize), ScimError> {
        if marks_pages(q) {
            return self.unfiltered_page(rt, paging).await;
        }
        if let Some(f) = &q.filter {
            if let Some((candidates, known)) = self.indexed_candidates(rt, f).await? {
                let matching = self.matching(rt, f, candidates, known.as_ref()).await?;
                let mut picker = Picker::new(q.sort.as_ref(), paging);
                let offered = picker.offer(rt, matching);
                let total = picker.total();
                let page = match picker {
                    Picker::Window(w) => w.page,
                    Picker::Sorted(top) => {
                        let mut by_id: HashMap<String, Stored> = offered
                            .into_iter()
                            .map(|s| (s.meta.id.clone(), s))
                            .collect();
                        let ids = top.window(paging);
                        ids.iter().filter_map(|id| by_id.remove(id)).collect()
                    }
                };
                return Ok((page, total));
            }
        }
        self.scanned_page(rt, q, paging).await
    }

    /// An unfiltered, unsorted page: the count and the page's mark (1
    /// BatchGetItem), then the page from where the mark says it begins. A
    /// page nobody marked (a jump ahead) reads the resources before the
    /// window a batch at a time and drops them.
    async fn unfiltered_page(
        &self,
        rt: &ResourceType,
        paging: Paging,
    ) -> Result<(Vec<Stored>, usize), ScimError> {
        let mark = (paging.start_index > 1).then_some((paging.count, paging.start_index));
        let start = self.dir.page_start(rt.kind, mark).await?;
        let total = start.total;
        if paging.count == 0 {
            return Ok((Vec::new(), total));
        }
        if let Some(after) = start.after {
            let (page, more) = self
                .dir
                .scan_type_after(rt.kind, Some(&after), paging.count)
                .await?;
            // The walk's own count: resources deleted behind it since its
            // first page would otherwise end it before its last one (a
            // client stops at totalResults), and those created behind it
            // are not its to return: at its last page, it is the count.
            let sequence = paging.start_index - 1 + page.len();
            let total = match more {
                true => total.max(sequence + 1),
                false => sequence,
            };
            return Ok((page, total));
        }
        if paging.start_index > total {
            return Ok((Vec::new(), total));
        }
        let mut scan = Scan::default();
        let mut skip = paging.start_index - 1;
        while skip > 0 && scan.more {
            let batch = scan.next(self, rt, scan.batch.min(skip)).await?;
            skip = skip.saturating_sub(batch.len());
        }
        if !scan.more {
            return Ok((Vec::new(), total));
        }
        Ok((scan.next(self, rt, paging.count).await?, total))
    }

    /// A page of a filter no index answers, or of a sort: the type's
    /// resources examined a batch at a time (at most `max_filter_scan`),
    /// keeping the window's matches, or the sort keys of the best ones
    /// and then the page read by id.
    async fn scanned_page(
        &self,
        rt: &ResourceType,
        q: &ListQuery<'_>,
        paging: Paging,
    ) -> Result<(Vec<Stored>, usize), ScimError> {
        let max = self.limits.max_filter_scan;
        let mut picker = Picker::new(q.sort.as_ref(), paging);
        let mut scan = Scan::default();
        while scan.more {
            let want = scan.batch.min(max - scan.examined.min(max)).max(1);
            let batch = scan.next(self, rt, want).await?;
            if scan.more && scan.examined >= max {
                return Err(self.too_many());
            }
            let matched = match &q.filter {
                Some(f) => self.matching(rt, f, batch, None).await?,
                None => batch,
            };
            // Only the sort keys are kept: the documents go with the batch.
            drop(picker.offer(rt, matched));
        }
        let total = picker.total();
        match picker {
            Picker::Window(w) => Ok((w.page, total)),
            Picker::Sorted(top) => Ok((self.in_order(rt, &top.window(paging)).await?, total)),
        }
    }

    /// Resources by id, in the order given (those that still exist).
    async fn in_order(&self, rt: &ResourceType, ids: &[String]) -> Result<Vec<Stored>, ScimError> {
        let wanted: Vec<(Kind, &str)> = ids.iter().map(|id| (rt.kind, id.as_str())).collect();
        let mut by_id: HashMap<String, Stored> = self
            .dir
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(|(_, s)| (s.meta.id.clone(), s))
            .collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Cursor paging: the resources after `after` in id order. Unfiltered, it
    /// reads just the page from the type index; an indexed filter gathers
    /// its (few) matches; any other filter examines the partition from the
    /// cursor on, a batch at a time, until the page is full or
    /// `max_filter_scan` were examined.
    async fn cursor_page(
        &self,
        rt: &ResourceType,
        filter: Option<&Filter>,
        after: Option<&str>,
        count: usize,
    ) -> Result<(Vec<Stored>, Option<usize>, Option<String>), ScimError> {
        let Some(f) = filter else {
            // totalResults only on the first page: counting reads the whole
            // type index, which would make every page cost O(all).
            let total = match after {
                None => Some(self.dir.count(rt.kind).await?),
                Some(_) => None,
            };
            if count == 0 {
                return Ok((Vec::new(), total, None));
            }
            let (page, more) = self.dir.scan_type_after(rt.kind, after, count).await?;
            let next = more
                .then(|| page.last().map(|s| s.meta.id.clone()))
                .flatten();
            return Ok((page, total, next));
        };
        if let Some((candidates, known)) = self.indexed_candidates(rt, f).await? {
            let matching = self.matching(rt, f, candidates, known.as_ref()).await?;
            let total = matching.len();
            let rest: Vec<Stored> = matching
                .into_iter()
                .filter(|s| after.is_none_or(|a| s.meta.id.as_str() > a))
                .collect();
            let more = rest.len() > count;
            let page: Vec<Stored> = rest.into_iter().take(count).collect();
            let next = more
                .then(|| page.last().map(|s| s.meta.id.clone()))
                .flatten();
            return Ok((page, Some(total), next));
        }
        if count == 0 {
            return Err(ScimError::too_many(
                "count=0 would have to examine every resource for this filter",
            ));
        }
        let mut page = Vec::new();
        let mut scan = Scan {
            after: after.map(str::to_string),
            batch: count.clamp(50, BATCH_RANGE.1),
            ..Scan::default()
        };
        loop {
            let batch = scan.next(self, rt, scan.batch).await?;
            let last_examined = scan.after.clone();
            for s in self.matching(rt, f, batch, None).await? {
                if page.len() == count {
                    break;
                }
                page.push(s);
            }
            if page.len() == count {
                // The next page starts after the last one returned; what
                // followed it in this batch is examined again then.
                let next = page.last().map(|s| s.meta.id.clone());
                let any_left = scan.more || next != last_examined;
                return Ok((page, None, next.filter(|_| any_left)));
            }
            if !scan.more {
                return Ok((page, None, None));
            }
            if scan.examined >= self.limits.max_filter_scan {
                // A short page: the client goes on from where this stopped.
                return Ok((page, None, scan.after));
            }
        }
    }
}
