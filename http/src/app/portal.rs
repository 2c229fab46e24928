//! What the public portal reads without a sign-in: the procedures a unit publishes (niêm yết
//! công khai thủ tục hành chính), each with its field, processing time, fees, required
//! documents and forms, as in force today. Reads only; reference data folded from the log.

use motcua_engine::domain::events::Level;
use motcua_engine::domain::text::finds;
use motcua_engine::domain::types::{UnitCode, WorkingTime};

use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;

/// One published procedure as a citizen reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicProcedure {
    pub id: String,
    pub name: String,
    pub field_name: String,
    /// Decided by another level (liên thông): the commune receives it.
    pub inter_level: bool,
    pub processing_time: WorkingTime,
    /// (what for, amount in đồng)
    pub fees: Vec<(String, u64)>,
    /// (document, originals, copies)
    pub documents: Vec<(String, u8, u8)>,
    pub forms: Vec<String>,
    pub legal_basis: String,
    pub at_desk: bool,
    pub online: bool,
}

/// A unit's public catalog today.
#[derive(Debug, Clone)]
pub struct PublicCatalog {
    pub unit: UnitCode,
    pub unit_name: String,
    /// Every published procedure matching the query, by field then name.
    pub procedures: Vec<PublicProcedure>,
    /// How many the unit publishes in all.
    pub published: usize,
}

/// The portal's reads of an [`App`].
pub struct Portal<'a> {
    app: &'a App,
}

impl App {
    /// The public portal's reads.
    pub fn portal(&self) -> Portal<'_> {
        Portal { app: self }
    }
}

impl Portal<'_> {
    /// The catalog of `unit` (default: the first unit registered), the procedures whose name
    /// or code `query` finds (folded: no diacritics needed).
    pub fn catalog(&self, unit: Option<&UnitCode>, query: &str) -> Result<PublicCatalog, AppError> {
        let today = clock::today();
        let found = self.app.service().with_reference(|r| {
            let info = match unit {
                Some(u) => r.directory.unit(u),
                None => r.directory.units().next(),
            }?;
            let field_name = |f: &motcua_engine::domain::types::Field| {
                info.fields
                    .iter()
                    .find(|x| &x.field == f)
                    .map_or_else(|| f.to_string(), |x| x.name.clone())
            };
            let mut published = 0;
            let mut procedures = Vec::new();
            for p in r.catalog.in_force(today) {
                let (at_desk, online) = r.catalog.publication(&info.code, &p.id, today);
                if !(at_desk || online) {
                    continue;
                }
                published += 1;
                if !finds(query, &p.name, p.id.as_str()) {
                    continue;
                }
                procedures.push(PublicProcedure {
                    id: p.id.to_string(),
                    name: p.name.clone(),
                    field_name: field_name(&p.field),
                    inter_level: p.level == Level::InterLevel,
                    processing_time: p.processing_time,
                    fees: p
                        .fees
                        .iter()
                        .map(|f| (f.name.clone(), f.amount.0))
                        .collect(),
                    documents: p
                        .documents
                        .iter()
                        .map(|d| (d.name.clone(), d.originals, d.copies))
                        .collect(),
                    forms: p.forms.clone(),
                    legal_basis: p.legal_basis.clone(),
                    at_desk,
                    online,
                });
            }
            procedures.sort_by(|a, b| (&a.field_name, &a.name).cmp(&(&b.field_name, &b.name)));
            Some(PublicCatalog {
                unit: info.code.clone(),
                unit_name: info.name.clone(),
                procedures,
                published,
            })
        })?;
        found.ok_or_else(|| AppError::NotFound("no such unit".into()))
    }
}
