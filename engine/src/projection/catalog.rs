//! The catalog read model: procedures with their versions and abolition, units with their
//! fields, and each unit's publication (niêm yết) history, so "share of the unit's procedures
//! published" is computed from the catalog events for any date, never typed in.
//!
//! Keys (tree `proj.catalog`): `p` procedure id -> [`ProcedureFacts`]; `u` unit ->
//! [`UnitFacts`]; `b` unit procedure id -> [`Vec<PublicationEntry>`].
//!
//! "The unit's procedures" on a date: procedures in force that date (some version effective,
//! not abolished with an effective date on or before it) whose field (as of the version in
//! force) is one of the unit's registered fields. Published at the desk / online: the unit's
//! latest publication entry effective on or before the date says so.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::codec;
use crate::domain::events::{CatalogEvent, Event, FieldInfo, Recorded, UnitEvent};
use crate::domain::types::{Field, ProcedureId, UnitCode};

use super::keys::{key, push_part};
use super::store::{Overlay, Writes};
use super::{KvRead, Projection, ProjectionError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedureVersionFacts {
    pub version: u32,
    pub effective: NaiveDate,
    pub name: String,
    pub field: Field,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedureFacts {
    pub id: ProcedureId,
    pub versions: Vec<ProcedureVersionFacts>,
    pub abolished: Option<NaiveDate>,
}

impl ProcedureFacts {
    /// The version in force on `date`, if the procedure is in force then.
    pub fn in_force(&self, date: NaiveDate) -> Option<&ProcedureVersionFacts> {
        if self.abolished.is_some_and(|a| a <= date) {
            return None;
        }
        self.versions
            .iter()
            .filter(|v| v.effective <= date)
            .max_by_key(|v| (v.effective, v.version))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFacts {
    pub code: UnitCode,
    pub name: String,
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationEntry {
    pub effective: NaiveDate,
    pub at_desk: bool,
    pub online: bool,
}

/// Publication figures of one field of a unit on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldPublication {
    pub field: Field,
    pub field_name: String,
    /// Procedures of the field in force.
    pub procedures: u32,
    pub published_at_desk: u32,
    pub published_online: u32,
    /// Ids in force but not published at the desk (what to fix).
    pub unpublished_at_desk: Vec<ProcedureId>,
    pub unpublished_online: Vec<ProcedureId>,
}

/// A unit's publication share on a date, per field and in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogView {
    pub unit: UnitCode,
    pub date: NaiveDate,
    pub fields: Vec<FieldPublication>,
    pub procedures: u32,
    pub published_at_desk: u32,
    pub published_online: u32,
}

impl CatalogView {
    /// Share published at the desk, percent (None when the unit has no procedure in force).
    pub fn desk_share_percent(&self) -> Option<f64> {
        (self.procedures > 0)
            .then(|| f64::from(self.published_at_desk) * 100.0 / f64::from(self.procedures))
    }
    pub fn online_share_percent(&self) -> Option<f64> {
        (self.procedures > 0)
            .then(|| f64::from(self.published_online) * 100.0 / f64::from(self.procedures))
    }
}

const T_PROC: u8 = b'p';
const T_UNITF: u8 = b'u';
const T_PUB: u8 = b'b';

fn proc_key(id: &ProcedureId) -> Vec<u8> {
    let mut k = key(T_PROC);
    k.extend_from_slice(id.as_str().as_bytes());
    k
}
fn unit_key(u: &UnitCode) -> Vec<u8> {
    let mut k = key(T_UNITF);
    k.extend_from_slice(u.as_str().as_bytes());
    k
}
fn pub_prefix(u: &UnitCode) -> Vec<u8> {
    let mut k = key(T_PUB);
    k.extend_from_slice(u.as_str().as_bytes());
    k
}
fn pub_key(u: &UnitCode, id: &ProcedureId) -> Vec<u8> {
    let mut k = pub_prefix(u);
    push_part(&mut k, id.as_str());
    k
}

fn decode_value<T: DeserializeOwned>(k: &[u8], v: &[u8]) -> Result<T, ProjectionError> {
    codec::decode(v).map_err(|source| ProjectionError::Corrupt {
        key: String::from_utf8_lossy(k).into_owned(),
        source,
    })
}

/// The catalog projection (tree `proj.catalog`). Catalog events are few, so a batch simply
/// writes through an overlay of its own pending writes.
#[derive(Debug, Default, Clone, Copy)]
pub struct CatalogProjection;

impl Projection for CatalogProjection {
    const NAME: &'static str = "catalog";
    type Pending = Writes;

    fn apply(
        &self,
        base: &dyn KvRead,
        pending: &mut Writes,
        rec: &Recorded,
    ) -> Result<(), ProjectionError> {
        let get = |k: &[u8], pending: &Writes| -> Result<Option<Vec<u8>>, ProjectionError> {
            Overlay {
                base,
                writes: pending,
            }
            .get(k)
        };
        match &rec.event {
            Event::Unit(UnitEvent::Registered(info)) => {
                let facts = UnitFacts {
                    code: info.code.clone(),
                    name: info.name.clone(),
                    fields: info.fields.clone(),
                };
                pending.put(unit_key(&info.code), codec::encode(&facts));
            }
            Event::Catalog(CatalogEvent::ProcedureIssued {
                procedure,
                effective,
            })
            | Event::Catalog(CatalogEvent::ProcedureAmended {
                procedure,
                effective,
            }) => {
                let k = proc_key(&procedure.id);
                let mut facts = match get(&k, pending)? {
                    Some(v) => decode_value::<ProcedureFacts>(&k, &v)?,
                    None => ProcedureFacts {
                        id: procedure.id.clone(),
                        versions: Vec::new(),
                        abolished: None,
                    },
                };
                facts.versions.retain(|v| v.version != procedure.version);
                facts.versions.push(ProcedureVersionFacts {
                    version: procedure.version,
                    effective: *effective,
                    name: procedure.name.clone(),
                    field: procedure.field.clone(),
                });
                pending.put(k, codec::encode(&facts));
            }
            Event::Catalog(CatalogEvent::ProcedureAbolished { id, effective, .. }) => {
                let k = proc_key(id);
                if let Some(v) = get(&k, pending)? {
                    let mut facts = decode_value::<ProcedureFacts>(&k, &v)?;
                    facts.abolished = Some(*effective);
                    pending.put(k, codec::encode(&facts));
                }
            }
            Event::Catalog(CatalogEvent::ProcedurePublished {
                unit,
                id,
                at_desk,
                online,
                effective,
            }) => {
                let k = pub_key(unit, id);
                let mut entries: Vec<PublicationEntry> = match get(&k, pending)? {
                    Some(v) => decode_value(&k, &v)?,
                    None => Vec::new(),
                };
                entries.push(PublicationEntry {
                    effective: *effective,
                    at_desk: *at_desk,
                    online: *online,
                });
                pending.put(k, codec::encode(&entries));
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(
        &self,
        _base: &dyn KvRead,
        pending: Writes,
        out: &mut Writes,
    ) -> Result<(), ProjectionError> {
        for (k, v) in pending.into_ops() {
            match v {
                Some(v) => out.put(k, v),
                None => out.delete(k),
            }
        }
        Ok(())
    }
}

/// A unit's publication share per field on `date`.
pub fn catalog_view(
    catalog: &dyn KvRead,
    unit: &UnitCode,
    date: NaiveDate,
) -> Result<Option<CatalogView>, ProjectionError> {
    let uk = unit_key(unit);
    let Some(uv) = catalog.get(&uk)? else {
        return Ok(None);
    };
    let facts: UnitFacts = decode_value(&uk, &uv)?;
    // Latest publication entry effective by `date`, per procedure.
    let mut published: BTreeMap<String, PublicationEntry> = BTreeMap::new();
    let prefix = pub_prefix(unit);
    for kv in catalog.scan_prefix(&prefix) {
        let (k, v) = kv?;
        let id = String::from_utf8_lossy(&k[prefix.len()..k.len().saturating_sub(1)]).into_owned();
        let entries: Vec<PublicationEntry> = decode_value(&k, &v)?;
        if let Some(e) = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.effective <= date)
            .max_by_key(|(i, e)| (e.effective, *i))
            .map(|(_, e)| *e)
        {
            published.insert(id, e);
        }
    }
    let mut by_field: BTreeMap<Field, FieldPublication> = facts
        .fields
        .iter()
        .map(|f| {
            (
                f.field.clone(),
                FieldPublication {
                    field: f.field.clone(),
                    field_name: f.name.clone(),
                    procedures: 0,
                    published_at_desk: 0,
                    published_online: 0,
                    unpublished_at_desk: Vec::new(),
                    unpublished_online: Vec::new(),
                },
            )
        })
        .collect();
    for kv in catalog.scan_prefix(&[T_PROC]) {
        let (k, v) = kv?;
        let p: ProcedureFacts = decode_value(&k, &v)?;
        let Some(version) = p.in_force(date) else {
            continue;
        };
        let Some(fp) = by_field.get_mut(&version.field) else {
            continue;
        };
        fp.procedures += 1;
        let publ = published.get(p.id.as_str());
        if publ.is_some_and(|e| e.at_desk) {
            fp.published_at_desk += 1;
        } else {
            fp.unpublished_at_desk.push(p.id.clone());
        }
        if publ.is_some_and(|e| e.online) {
            fp.published_online += 1;
        } else {
            fp.unpublished_online.push(p.id.clone());
        }
    }
    let fields: Vec<FieldPublication> = facts
        .fields
        .iter()
        .filter_map(|f| by_field.remove(&f.field))
        .collect();
    Ok(Some(CatalogView {
        unit: unit.clone(),
        date,
        procedures: fields.iter().map(|f| f.procedures).sum(),
        published_at_desk: fields.iter().map(|f| f.published_at_desk).sum(),
        published_online: fields.iter().map(|f| f.published_online).sum(),
        fields,
    }))
}
