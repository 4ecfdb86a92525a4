//! Lists for every resource type: filters, sorting, index paging and
//! cursor paging. Filters with an `eq` that a key or index answers (alone or
//! on one side of an `and`, see [`INDEXED`]) use it; others examine the
//! type's partition, at most `max_filter_scan` resources a request, a batch
//! at a time, keeping only what the page needs (the window's matches, or
//! for `sortBy` the sort keys and ids of the best `startIndex + count`), so
//! memory follows the page, not the scan.

use std::cmp::Ordering;
use std::collections::HashMap;

use futures_util::StreamExt;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Service, View};
use crate::scim::Kind;
use crate::scim::ScimError;
use crate::scim::filter::{Filter, Resolved};
use crate::scim::list::{MIN_REF_BYTES, PageBudget, Paging, SortOrder, json_len};
use crate::scim::resource::{self, Ref};
use crate::scim::schema::AttrType;
use crate::scim::schemas::ResourceType;
use crate::store::{Stored, keys};

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

/// How a key or index answers an equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The resource's own key.
    Id,
    /// The `userName` guard.
    UserName,
    /// `gsi2`.
    ExternalId,
    /// The email lookup items, on `gsi2`.
    Email,
    /// `gsi3`.
    DisplayName,
    /// The inverted edges, on `gsi2`.
    Member,
}

/// The equalities a key or index answers: (kind, or any; attribute;
/// sub-attribute; how), tried in this order.
pub const INDEXED: &[(Option<Kind>, &str, Option<&str>, Lookup)] = &[
    (None, "id", None, Lookup::Id),
    (Some(Kind::User), "userName", None, Lookup::UserName),
    (None, "externalId", None, Lookup::ExternalId),
    (Some(Kind::User), "emails", Some("value"), Lookup::Email),
    (Some(Kind::Group), "displayName", None, Lookup::DisplayName),
    (Some(Kind::Group), "members", Some("value"), Lookup::Member),
];

/// Reference computations kept in flight at once for one list.
const REFS_CONCURRENCY: usize = 8;

/// Resources read in the first batch of a scan, before their size is known.
const FIRST_BATCH: usize = 100;
/// About how much stored JSON one scan batch holds: batches are sized from
/// the last one's resources, so that large resources come a few at a time.
const BATCH_BYTES: usize = 4 << 20;
/// Resources in a scan batch, whatever their size. Each batch ends in a
/// part-filled 1 MB Query page, so a scan of small resources costs one
/// Query more than its pages (the first batch) rather than one a thousand.
const BATCH_RANGE: (usize, usize) = (10, 10_000);

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
        let (resources, cut) = self.views(rt, stored, q.with_refs, q.budget).await?;
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
            let over = refs > budget.refs || refs.saturating_mul(MIN_REF_BYTES) > budget.bytes;
            if over && !out.is_empty() {
                return Ok((out, true));
            }
            out.push(v);
            // Embedded reads finish without waiting: a long page lets the
            // request timeout and other requests in between resources.
            tokio::task::yield_now().await;
        }
        Ok((out, false))
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
        if q.filter.is_none() && q.sort.is_none() {
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

    /// An unfiltered, unsorted page: the count, then the resources before
    /// the window read a batch at a time and dropped, then the window.
    async fn unfiltered_page(
        &self,
        rt: &ResourceType,
        paging: Paging,
    ) -> Result<(Vec<Stored>, usize), ScimError> {
        let total = self.dir.count(rt.kind).await?;
        if paging.count == 0 || paging.start_index > total {
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

    /// The candidates an index answers for this filter, if one applies, and
    /// a reference every candidate is already known to hold (the member whose
    /// edges found them).
    async fn indexed_candidates(
        &self,
        rt: &ResourceType,
        filter: &Filter,
    ) -> Result<Option<(Vec<Stored>, Option<Ref>)>, ScimError> {
        let mut applies = INDEXED
            .iter()
            .filter(|(kind, ..)| kind.is_none_or(|k| k == rt.kind))
            .filter_map(|(_, attr, sub, how)| {
                Some((*attr, filter.eq_lookup(rt, attr, *sub)?, *how))
            });
        let Some((attr, value, how)) = applies.next() else {
            return Ok(None);
        };
        if keys::check_key_value(attr, &value).is_err() {
            // An equality on a key no resource can have (too long for one).
            return Ok(Some((Vec::new(), None)));
        }
        let max = self.limits.max_filter_scan;
        let mut known = None;
        let (candidates, truncated) = match how {
            Lookup::Id => (
                self.dir.get(rt.kind, &value).await?.into_iter().collect(),
                false,
            ),
            Lookup::UserName => {
                let found = self.dir.find_by_user_name(rt.kind, &value).await?;
                (found.into_iter().collect(), false)
            }
            Lookup::ExternalId => self.dir.find_by_external_id(rt.kind, &value, max).await?,
            Lookup::Email => self.dir.find_by_email(rt.kind, &value, max).await?,
            Lookup::DisplayName => self.dir.find_by_display_name(&value, max).await?,
            Lookup::Member => {
                let (groups, member) = self.groups_with_member(&value, max).await?;
                known = member;
                (groups, false)
            }
        };
        if truncated {
            return Err(self.too_many());
        }
        let mut candidates: Vec<Stored> = candidates;
        candidates.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok(Some((candidates, known)))
    }

    /// The candidates the filter matches. References can be filtered on only
    /// as `<attr>.value eq "<id>"`; those are checked against the edges.
    async fn matching(
        &self,
        rt: &ResourceType,
        filter: &Filter,
        candidates: Vec<Stored>,
        known: Option<&Ref>,
    ) -> Result<Vec<Stored>, ScimError> {
        let refs_attr = rt.kind.refs_attribute();
        let ref_ids = filter.value_eqs(rt, refs_attr).ok_or_else(|| {
            ScimError::invalid_filter(format!(
                "filters on '{refs_attr}' are answered only as '{refs_attr}.value eq \"<id>\"'"
            ))
        })?;
        let related = self.related(rt, &candidates, &ref_ids, known).await?;
        Ok(candidates
            .into_iter()
            .filter(|s| {
                let refs = related.get(&s.meta.id).map(Vec::as_slice);
                let doc = resource::render(&s.doc, &s.meta, rt, "", refs.or(Some(&[])));
                filter.matches(&doc, rt)
            })
            .collect())
    }

    /// For each candidate, which of `ids` it is related to by an existing
    /// edge whose other end exists: a group's members, a user's groups.
    /// `known` is related to every candidate already (no need to look).
    async fn related(
        &self,
        rt: &ResourceType,
        candidates: &[Stored],
        ids: &[String],
        known: Option<&Ref>,
    ) -> Result<HashMap<String, Vec<Ref>>, ScimError> {
        let mut out: HashMap<String, Vec<Ref>> = HashMap::new();
        if let Some(known) = known.filter(|k| ids.contains(&k.id)) {
            for c in candidates {
                out.entry(c.meta.id.clone())
                    .or_default()
                    .push(known.clone());
            }
        }
        let ids: Vec<&String> = ids
            .iter()
            .filter(|i| keys::check_key_value("value", i).is_ok())
            .filter(|i| known.is_none_or(|k| &k.id != *i))
            .collect();
        if ids.is_empty() || candidates.is_empty() {
            return Ok(out);
        }
        let is_group = rt.kind == Kind::Group;
        // The other ends that still exist: a group's members are users and
        // groups, a user's groups are groups.
        let mut wanted: Vec<(Kind, &str)> = Vec::new();
        for id in &ids {
            wanted.push((Kind::Group, id.as_str()));
            if is_group {
                wanted.push((Kind::User, id.as_str()));
            }
        }
        let alive: HashMap<String, Kind> = self
            .dir
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(|(kind, s)| (s.meta.id, kind))
            .collect();
        let pairs: Vec<(String, String)> = candidates
            .iter()
            .flat_map(|c| {
                ids.iter()
                    .filter(|i| alive.contains_key(i.as_str()))
                    .map(move |i| (c.meta.id.clone(), (*i).clone()))
            })
            .collect();
        let edge_keys: Vec<(String, String)> = pairs
            .iter()
            .map(|(c, i)| {
                if is_group {
                    (c.clone(), i.clone())
                } else {
                    (i.clone(), c.clone())
                }
            })
            .collect();
        for edge in self.dir.existing_edges(&edge_keys).await? {
            let (candidate, other) = if is_group {
                (edge.group_id, edge.member_id)
            } else {
                (edge.member_id, edge.group_id)
            };
            let resource_type = alive.get(&other).copied().unwrap_or(Kind::User);
            out.entry(candidate).or_default().push(Ref {
                id: other,
                resource_type,
                display: None,
            });
        }
        Ok(out)
    }

    /// Groups that have `member` as a direct member, and the member: its
    /// inverted edges, then BatchGetItems for the groups and the member
    /// itself. Nothing when the member no longer exists (its edges may not
    /// be cleaned up yet).
    async fn groups_with_member(
        &self,
        member: &str,
        max: usize,
    ) -> Result<(Vec<Stored>, Option<Ref>), ScimError> {
        let (edges, more) = self.dir.edges_of_member(member, max).await?;
        if more {
            return Err(ScimError::too_many(format!(
                "the member belongs to more than {max} groups"
            )));
        }
        let Some(first) = edges.first() else {
            return Ok((Vec::new(), None));
        };
        let member_kind = first.member_type;
        let mut wanted: Vec<(Kind, &str)> = edges
            .iter()
            .map(|e| (Kind::Group, e.group_id.as_str()))
            .collect();
        wanted.push((member_kind, member));
        let mut groups = Vec::with_capacity(edges.len());
        let mut found = None;
        for (kind, s) in self.dir.get_many(&wanted).await? {
            if s.meta.id == member && kind == member_kind {
                found = Some(super::groups::to_ref(kind, s));
            } else if kind == Kind::Group {
                groups.push(s);
            }
        }
        if found.is_none() {
            return Ok((Vec::new(), None));
        }
        groups.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok((groups, found))
    }
}

/// A walk through a type's resources in id order, a batch at a time.
struct Scan {
    /// The last id read.
    after: Option<String>,
    /// How many to read next, from the size of the last batch.
    batch: usize,
    examined: usize,
    /// Whether resources may follow.
    more: bool,
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
    async fn next(
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
enum Picker<'a> {
    /// In id order: the window's matches, counting the rest.
    Window(Window),
    /// Sorted: the best keys and ids.
    Sorted(TopKeys<'a>),
}

impl<'a> Picker<'a> {
    fn new(sort: Option<&'a (Resolved<'a>, SortOrder)>, paging: Paging) -> Self {
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
    fn offer(&mut self, rt: &ResourceType, matches: Vec<Stored>) -> Vec<Stored> {
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
    fn total(&self) -> usize {
        match self {
            Self::Window(w) => w.seen,
            Self::Sorted(top) => top.seen,
        }
    }
}

/// The matches of an index window, offered in id order.
struct Window {
    skip: usize,
    count: usize,
    /// Matches offered so far (the total, at the end).
    seen: usize,
    page: Vec<Stored>,
}

impl Window {
    fn offer(&mut self, s: Stored) {
        if self.seen >= self.skip && self.page.len() < self.count {
            self.page.push(s);
        }
        self.seen += 1;
    }
}

/// The sort keys and ids of the `keep` first matches in sort order, ties in
/// id order (as the matches come), trimmed as they grow: memory is
/// O(startIndex + count) keys, not the matches' documents.
struct TopKeys<'a> {
    by: &'a Resolved<'a>,
    order: SortOrder,
    keep: usize,
    keys: Vec<(Option<Value>, String)>,
    seen: usize,
}

impl TopKeys<'_> {
    fn offer_all(&mut self, rt: &ResourceType, matches: &[Stored]) {
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

    fn trim(&mut self) {
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
    fn window(mut self, paging: Paging) -> Vec<String> {
        self.trim();
        self.keys
            .into_iter()
            .skip(paging.start_index - 1)
            .take(paging.count)
            .map(|(_, id)| id)
            .collect()
    }
}
