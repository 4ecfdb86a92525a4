//! A directory as lines of SCIM JSON, and back: `export` and `import`.
//!
//! Every line is one resource as the SCIM API returns it (`schemas`, `id`,
//! `meta` with `created`, `lastModified` and `version`, but no `location`,
//! which belongs to a deployment), users first, then groups. A group's
//! `members` are `{"value", "type"}` pairs; a group of more than
//! [`MEMBERS_A_LINE`] members takes several lines in a row, each the whole
//! group with the next members. Pages are read from where the last one
//! ended, so the cost and the memory of each line are the same at any depth.

use serde_json::{Map, Value};

use super::Service;
use crate::scim::resource::{Meta, render};
use crate::scim::{Kind, ScimError};
use crate::store::{Edge, Stored, keys};

/// Members on one line of a group.
pub const MEMBERS_A_LINE: usize = 1000;

/// Resources read at once while exporting.
const RESOURCES_A_PAGE: usize = 200;

/// What an imported line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// A new resource, with this many members.
    Created { members: usize },
    /// The resource was there already (an import run again); its members
    /// on this line are written again, which changes nothing.
    Present { members: usize },
}

/// Where an export stands, for a progress line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Exported {
    pub users: usize,
    pub groups: usize,
    pub members: usize,
}

impl Service {
    /// Writes every resource of the directory as lines to `out`, users then
    /// groups; `progress` sees the counts after each page.
    pub async fn export(
        &self,
        out: &mut dyn FnMut(&Value) -> std::io::Result<()>,
        progress: &mut dyn FnMut(&Exported),
    ) -> Result<Exported, String> {
        let mut done = Exported::default();
        for kind in Kind::ALL {
            let mut after: Option<String> = None;
            loop {
                let (page, more) = self
                    .dir
                    .scan_type_after(kind, after.as_deref(), RESOURCES_A_PAGE)
                    .await
                    .map_err(|e| format!("reading {}s failed: {e:?}", kind.name()))?;
                for s in &page {
                    match kind {
                        Kind::User => {
                            out(&self.export_line(kind, s, None)).map_err(write_failed)?;
                            done.users += 1;
                        }
                        Kind::Group => {
                            done.members += self.export_group(s, out).await?;
                            done.groups += 1;
                        }
                    }
                }
                progress(&done);
                match page.last() {
                    Some(last) if more => after = Some(last.meta.id.clone()),
                    _ => break,
                }
            }
        }
        Ok(done)
    }

    /// A group's lines: the group with its first members, then again with
    /// the next ones, until all are written. Returns how many.
    async fn export_group(
        &self,
        s: &Stored,
        out: &mut dyn FnMut(&Value) -> std::io::Result<()>,
    ) -> Result<usize, String> {
        let (mut after, mut written) = (None::<String>, 0);
        loop {
            let (edges, more) = self
                .dir
                .edges_of_group_after(&s.meta.id, after.as_deref(), MEMBERS_A_LINE)
                .await
                .map_err(|e| format!("reading members of group {} failed: {e:?}", s.meta.id))?;
            out(&self.export_line(Kind::Group, s, Some(&edges))).map_err(write_failed)?;
            written += edges.len();
            match edges.last() {
                Some(last) if more => after = Some(last.member_id.clone()),
                _ => return Ok(written),
            }
        }
    }

    fn export_line(&self, kind: Kind, s: &Stored, members: Option<&[Edge]>) -> Value {
        let mut line = render(&s.doc, &s.meta, self.resource_type(kind), "", None);
        if let Some(meta) = line.get_mut("meta").and_then(Value::as_object_mut) {
            meta.remove("location");
        }
        if let (Some(edges), Some(obj)) = (members.filter(|m| !m.is_empty()), line.as_object_mut())
        {
            let members = edges
                .iter()
                .map(|e| {
                    let mut m = Map::new();
                    m.insert("value".into(), Value::String(e.member_id.clone()));
                    m.insert("type".into(), Value::String(e.member_type.name().into()));
                    Value::Object(m)
                })
                .collect();
            obj.insert("members".into(), Value::Array(members));
        }
        line
    }

    /// Loads one exported line: the resource with its id and meta kept
    /// (one transaction, as a create), then a group's members on the line
    /// (BatchWriteItems). The document is checked as a create's body is.
    pub async fn import_line(&self, line: &Value) -> Result<Imported, ScimError> {
        let kind = line_kind(line, |k| &*self.resource_type(k).schema.id)?;
        let rt = self.resource_type(kind);
        let meta = line_meta(line)?;
        let mut doc = crate::scim::resource::normalize(line, rt)?;
        let members = match kind {
            Kind::Group => {
                doc.remove("members");
                line_members(&meta.id, line.get("members"))?
            }
            Kind::User => Vec::new(),
        };
        super::check_keys(rt, &doc)?;
        let created = self.dir.restore(kind, &Stored { meta, doc }).await?;
        self.dir.write_edges(&members, &[]).await?;
        let members = members.len();
        Ok(match created {
            true => Imported::Created { members },
            false => Imported::Present { members },
        })
    }
}

fn write_failed(e: std::io::Error) -> String {
    format!("writing the export failed: {e}")
}

/// The line's resource type: `meta.resourceType`, else its core schema.
fn line_kind<'a>(line: &Value, core: impl Fn(Kind) -> &'a str) -> Result<Kind, ScimError> {
    let named = line
        .pointer("/meta/resourceType")
        .and_then(Value::as_str)
        .and_then(Kind::from_name);
    let by_schema = || {
        let schemas = line.get("schemas").and_then(Value::as_array)?;
        Kind::ALL
            .into_iter()
            .find(|k| schemas.iter().any(|s| s.as_str() == Some(core(*k))))
    };
    named.or_else(by_schema).ok_or_else(|| {
        ScimError::invalid_value("a line must be a User or a Group (meta.resourceType or schemas)")
    })
}

/// The id, the times and the version a line carries; missing times are now,
/// a missing version is 1.
fn line_meta(line: &Value) -> Result<Meta, ScimError> {
    let id = line
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_value("a line must carry the resource's id"))?;
    keys::check_key_value("id", id)?;
    let time = |name: &str| match line.pointer(&format!("/meta/{name}")) {
        None | Some(Value::Null) => Ok(super::now()),
        Some(Value::String(t))
            if time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .is_ok() =>
        {
            Ok(t.clone())
        }
        Some(other) => Err(ScimError::invalid_value(format!(
            "meta.{name} {other} is not an RFC 3339 time"
        ))),
    };
    let version = match line.pointer("/meta/version") {
        None | Some(Value::Null) => 1,
        Some(v) => parse_version(v).ok_or_else(|| {
            ScimError::invalid_value(format!("meta.version {v} is not W/\"n\" (n from 1)"))
        })?,
    };
    Ok(Meta {
        id: id.to_string(),
        created: time("created")?,
        last_modified: time("lastModified")?,
        version,
    })
}

/// `W/"n"` (as `export` writes it) or `"n"`, with 1 ≤ n ≤ i64::MAX (what
/// the table keeps).
fn parse_version(v: &Value) -> Option<u64> {
    let text = v.as_str()?;
    let quoted = text.strip_prefix("W/").unwrap_or(text);
    let n: u64 = quoted.strip_prefix('"')?.strip_suffix('"')?.parse().ok()?;
    (1..=i64::MAX as u64).contains(&n).then_some(n)
}

/// A group line's members as edges; a member without a `type` is a user.
fn line_members(group: &str, members: Option<&Value>) -> Result<Vec<Edge>, ScimError> {
    let Some(members) = members.filter(|m| !m.is_null()) else {
        return Ok(Vec::new());
    };
    let list = members
        .as_array()
        .ok_or_else(|| ScimError::invalid_value("members must be an array"))?;
    list.iter()
        .map(|m| {
            let id = m
                .get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::invalid_value("each member needs a value"))?;
            keys::check_key_value("members.value", id)?;
            let member_type = match m.get("type").and_then(Value::as_str) {
                None => Kind::User,
                Some(t) => Kind::ALL
                    .into_iter()
                    .find(|k| k.name().eq_ignore_ascii_case(t))
                    .ok_or_else(|| {
                        ScimError::invalid_value(format!("member type '{t}' is not User or Group"))
                    })?,
            };
            Ok(Edge {
                group_id: group.to_string(),
                member_id: id.to_string(),
                member_type,
            })
        })
        .collect()
}
