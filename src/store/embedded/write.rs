//! The embedded driver's one writer: group commits of queued writes, each
//! job's conditions checked and its writes applied (with their index
//! entries) inside one redb write transaction, all or none.

use std::sync::mpsc;

use redb::{Database, ReadableTable, WriteTransaction};

use super::changes::{CHANGES, Logged, NEXT, NEXT_KEY, PENDING};
use super::{ITEMS, Job, MAX_GROUP_WRITES, backend, decode, index_table};
use crate::store::changes::makes_event;
use crate::store::keys::{INDEXES, Key, attr};
use crate::store::table::{Claim, Condition, Item, StoreError, Write, unix_ms};

pub(super) fn write_loop(db: &Database, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut size = first.writes.len();
        let mut group = vec![first];
        while size < MAX_GROUP_WRITES {
            let Ok(job) = queue.try_recv() else { break };
            size += job.writes.len();
            group.push(job);
        }
        let results = commit_group(db, &group);
        for (job, result) in group.into_iter().zip(results) {
            // The requester may have gone (its client hung up); the write
            // stands regardless, as it would on DynamoDB.
            let _ = job.done.send(result);
        }
    }
}

/// Commits a group of jobs in one transaction, each job all-or-none: a job
/// whose condition fails is left out and told so. Should the transaction
/// itself fail, each job is retried in a transaction of its own, so one bad
/// job cannot fail the others.
pub(super) fn commit_group(db: &Database, group: &[Job]) -> Vec<Result<(), StoreError>> {
    if group.len() > 1 {
        if let Ok(results) = try_group(db, group) {
            return results;
        }
    }
    group
        .iter()
        .map(|job| {
            let tx = db.begin_write().map_err(backend)?;
            apply(&mut Tables::open(&tx)?, &job.writes)?;
            tx.commit().map_err(backend)
        })
        .collect()
}

pub(super) fn try_group(
    db: &Database,
    group: &[Job],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let tx = db.begin_write().map_err(backend)?;
    let mut tables = Tables::open(&tx)?;
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        match apply(&mut tables, &job.writes) {
            Ok(()) => results.push(Ok(())),
            // Conditions are checked before anything is written, so a
            // refused job has left no trace in the transaction.
            Err(refused @ StoreError::ConditionFailed { .. }) => results.push(Err(refused)),
            Err(failed) => return Err(failed),
        }
    }
    drop(tables);
    tx.commit().map_err(backend)?;
    Ok(results)
}

type IndexKey = (&'static str, &'static str, &'static str, &'static str);

/// The tables of a write transaction, opened once for all its writes
/// (opening and closing a redb table costs a lookup and an update of the
/// table directory).
pub(super) struct Tables<'tx> {
    items: redb::Table<'tx, (&'static str, &'static str), &'static [u8]>,
    indexes: Vec<redb::Table<'tx, IndexKey, ()>>,
    /// The change log, appended to in the same transaction.
    changes: redb::Table<'tx, u64, &'static [u8]>,
    next: redb::Table<'tx, &'static str, u64>,
    pending: redb::Table<'tx, (&'static str, u64), ()>,
    /// The log's next position, once read.
    next_change: Option<u64>,
    at_ms: i64,
}

impl<'tx> Tables<'tx> {
    fn open(tx: &'tx WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            items: tx.open_table(ITEMS).map_err(backend)?,
            indexes: INDEXES
                .iter()
                .map(|ix| tx.open_table(index_table(ix)).map_err(backend))
                .collect::<Result<_, _>>()?,
            changes: tx.open_table(CHANGES).map_err(backend)?,
            next: tx.open_table(NEXT).map_err(backend)?,
            pending: tx.open_table(PENDING).map_err(backend)?,
            next_change: None,
            at_ms: unix_ms(),
        })
    }

    /// Appends one change of a resource's item or an edge to the log.
    fn record(
        &mut self,
        key: &Key,
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> Result<(), StoreError> {
        if !makes_event(key, old, new) {
            return Ok(());
        }
        let Some((tenant, _)) = crate::store::keys::changed(key) else {
            return Ok(());
        };
        let position = match self.next_change {
            Some(p) => p,
            None => {
                let kept = self.next.get(NEXT_KEY).map_err(backend)?.map(|v| v.value());
                let after_last = self
                    .changes
                    .last()
                    .map_err(backend)?
                    .map_or(1, |(k, _)| k.value() + 1);
                kept.unwrap_or(1).max(after_last)
            }
        };
        let logged = Logged {
            at_ms: self.at_ms,
            directory: tenant.log_name().to_string(),
            old: old.cloned(),
            new: new.cloned(),
        };
        let bytes = serde_json::to_vec(&logged).map_err(backend)?;
        self.changes
            .insert(position, bytes.as_slice())
            .map_err(backend)?;
        self.next_change = Some(position + 1);
        self.next.insert(NEXT_KEY, position + 1).map_err(backend)?;
        self.pending
            .insert((tenant.log_name(), position), ())
            .map_err(backend)?;
        Ok(())
    }

    fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let got = self
            .items
            .get((key.pk.as_str(), key.sk.as_str()))
            .map_err(backend)?;
        got.map(|v| decode(v.value())).transpose()
    }

    /// Replaces the item at `key` (`old`) with `new` (or nothing), and its
    /// index entries with the new ones; entries in both are left alone.
    fn replace(
        &mut self,
        key: &Key,
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> Result<(), StoreError> {
        self.record(key, old, new)?;
        let entries = |item: Option<&Item>| item.map(index_entries).unwrap_or_default();
        let (before, after) = (entries(old), entries(new));
        for (i, ipk, isk) in &before {
            if !after.contains(&(*i, ipk.clone(), isk.clone())) {
                self.indexes[*i]
                    .remove((ipk.as_str(), isk.as_str(), key.pk.as_str(), key.sk.as_str()))
                    .map_err(backend)?;
            }
        }
        for (i, ipk, isk) in &after {
            if !before.contains(&(*i, ipk.clone(), isk.clone())) {
                self.indexes[*i]
                    .insert(
                        (ipk.as_str(), isk.as_str(), key.pk.as_str(), key.sk.as_str()),
                        (),
                    )
                    .map_err(backend)?;
            }
        }
        let k = (key.pk.as_str(), key.sk.as_str());
        match new {
            Some(item) => {
                let bytes = serde_json::to_vec(item).map_err(backend)?;
                self.items.insert(k, bytes.as_slice()).map_err(backend)?;
            }
            None if old.is_some() => {
                self.items.remove(k).map_err(backend)?;
            }
            None => {}
        }
        Ok(())
    }
}

pub(super) fn holds(condition: Condition, current: Option<&Item>, now_ms: i64) -> bool {
    let unclaimed = |i: &Item| i.n(attr::CLAIMED_UNTIL).is_none_or(|until| until < now_ms);
    let version = current.and_then(|i| i.n(attr::VERSION));
    match condition {
        Condition::None => true,
        Condition::NotExists => current.is_none(),
        Condition::Exists => current.is_some_and(unclaimed),
        Condition::VersionIs(v) => version == Some(v) && current.is_some_and(unclaimed),
        Condition::Claimed(v) => version == Some(v),
    }
}

/// An item's index entries: (position in `INDEXES`, index pk, index sk).
pub(super) fn index_entries(item: &Item) -> Vec<(usize, String, String)> {
    INDEXES
        .iter()
        .enumerate()
        .filter_map(|(i, ix)| Some((i, item.s(ix.pk)?.to_string(), item.s(ix.sk)?.to_string())))
        .collect()
}

/// Checks every condition, then applies every write; a failed condition
/// returns before anything is written.
pub(super) fn apply(tables: &mut Tables<'_>, writes: &[Write]) -> Result<(), StoreError> {
    let now_ms = unix_ms();
    let mut olds = Vec::with_capacity(writes.len());
    for (index, w) in writes.iter().enumerate() {
        let (key, condition) = (w.key(), w.condition());
        let old = tables.get(&key)?;
        let condition = match (w, condition) {
            // An update, like DynamoDB's, needs an item to update.
            (Write::Touch { .. }, Condition::None) => Condition::Exists,
            (_, c) => c,
        };
        if !holds(condition, old.as_ref(), now_ms) {
            return Err(StoreError::ConditionFailed { index });
        }
        olds.push((key, old));
    }
    for (w, (key, old)) in writes.iter().zip(olds) {
        match w {
            Write::Put { item, .. } => tables.replace(&key, old.as_ref(), Some(item))?,
            Write::Delete { .. } => tables.replace(&key, old.as_ref(), None)?,
            Write::Touch {
                last_modified,
                claim,
                ..
            } => {
                if let Some(mut item) = old.clone() {
                    let version = item.n(attr::VERSION).unwrap_or(0) + 1;
                    item.set_n(attr::VERSION, version)
                        .set_s(attr::LAST_MODIFIED, last_modified.clone());
                    match claim {
                        Claim::Keep => {}
                        Claim::Take(until) => {
                            item.set_n(attr::CLAIMED_UNTIL, *until);
                        }
                        Claim::Release => {
                            item.0.remove(attr::CLAIMED_UNTIL);
                        }
                    }
                    tables.replace(&key, old.as_ref(), Some(&item))?;
                }
            }
            Write::Add {
                attribute, delta, ..
            } => {
                let mut item = old.clone().unwrap_or_else(|| Item::new(key.clone()));
                let n = item.n(attribute).unwrap_or(0).saturating_add(*delta);
                item.set_n(attribute, n);
                tables.replace(&key, old.as_ref(), Some(&item))?;
            }
        }
    }
    Ok(())
}
