//! The procedure catalog (thủ tục hành chính) as a fold of `CatalogEvent`s: every version of
//! every procedure with its effective date, abolitions, and each unit's publication (niêm yết
//! at the desk and online). "100% of procedures published" is computed here from events.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::events::{CatalogEvent, Procedure};
use super::types::{Field, ProcedureId, ProcedureRef, UnitCode};

/// One procedure's history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcedureHistory {
    /// (effective date, version), in version order.
    pub versions: Vec<(NaiveDate, Procedure)>,
    pub abolished: Option<(NaiveDate, String)>,
}

/// A publication decision of one unit for one procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Publication {
    at_desk: bool,
    online: bool,
}

/// Published share for one field (or in total): how many procedures in force, and how many of
/// them the unit publishes at the desk / online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Share {
    pub in_force: u32,
    pub at_desk: u32,
    pub online: u32,
}

impl Share {
    /// Percentage published at the desk (100 when nothing is in force).
    pub fn at_desk_percent(&self) -> f64 {
        percent(self.at_desk, self.in_force)
    }
    pub fn online_percent(&self) -> f64 {
        percent(self.online, self.in_force)
    }
}

fn percent(n: u32, d: u32) -> f64 {
    if d == 0 {
        100.0
    } else {
        f64::from(n) * 100.0 / f64::from(d)
    }
}

/// A unit's publication figures on a date.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PublishedShare {
    pub unit: Option<UnitCode>,
    pub date: Option<NaiveDate>,
    pub total: Share,
    pub by_field: BTreeMap<Field, Share>,
    /// Procedures in force that the unit does not publish at the desk (the figure's evidence).
    pub not_at_desk: Vec<ProcedureId>,
}

/// The catalog fold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    procedures: BTreeMap<ProcedureId, ProcedureHistory>,
    /// (unit, procedure) -> publications by effective date.
    published: BTreeMap<(UnitCode, ProcedureId), BTreeMap<NaiveDate, Publication>>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Folds one catalog event. The service validates versions before recording; the fold
    /// keeps versions in version order whatever happens.
    pub fn apply(&mut self, ev: &CatalogEvent) {
        match ev {
            CatalogEvent::ProcedureIssued {
                procedure,
                effective,
            }
            | CatalogEvent::ProcedureAmended {
                procedure,
                effective,
            } => {
                let h = self.procedures.entry(procedure.id.clone()).or_default();
                h.versions.retain(|(_, p)| p.version != procedure.version);
                h.versions.push((*effective, procedure.clone()));
                h.versions.sort_by_key(|(_, p)| p.version);
            }
            CatalogEvent::ProcedureAbolished {
                id,
                effective,
                reason,
            } => {
                self.procedures.entry(id.clone()).or_default().abolished =
                    Some((*effective, reason.clone()));
            }
            CatalogEvent::ProcedurePublished {
                unit,
                id,
                at_desk,
                online,
                effective,
            } => {
                self.published
                    .entry((unit.clone(), id.clone()))
                    .or_default()
                    .insert(
                        *effective,
                        Publication {
                            at_desk: *at_desk,
                            online: *online,
                        },
                    );
            }
        }
    }

    pub fn history(&self, id: &ProcedureId) -> Option<&ProcedureHistory> {
        self.procedures.get(id)
    }

    /// Every procedure ever issued, abolished ones included, by id (the admin's list).
    pub fn histories(&self) -> impl Iterator<Item = (&ProcedureId, &ProcedureHistory)> {
        self.procedures.iter()
    }

    /// The latest version number recorded for a procedure.
    pub fn latest_version(&self, id: &ProcedureId) -> Option<u32> {
        self.procedures
            .get(id)
            .and_then(|h| h.versions.last())
            .map(|(_, p)| p.version)
    }

    /// The version in force on `date`: the highest version effective on or before it, unless
    /// the procedure was abolished on or before `date`.
    pub fn procedure_as_of(&self, id: &ProcedureId, date: NaiveDate) -> Option<&Procedure> {
        let h = self.procedures.get(id)?;
        if h.abolished.as_ref().is_some_and(|(d, _)| *d <= date) {
            return None;
        }
        h.versions
            .iter()
            .filter(|(eff, _)| *eff <= date)
            .max_by_key(|(eff, p)| (*eff, p.version))
            .map(|(_, p)| p)
    }

    /// One exact version (what a dossier was received under), whatever its dates.
    pub fn version(&self, r: &ProcedureRef) -> Option<&Procedure> {
        self.procedures
            .get(&r.id)?
            .versions
            .iter()
            .find(|(_, p)| p.version == r.version)
            .map(|(_, p)| p)
    }

    pub fn is_abolished(&self, id: &ProcedureId, date: NaiveDate) -> bool {
        self.procedures
            .get(id)
            .and_then(|h| h.abolished.as_ref())
            .is_some_and(|(d, _)| *d <= date)
    }

    /// Every procedure in force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> impl Iterator<Item = &Procedure> {
        self.procedures
            .keys()
            .filter_map(move |id| self.procedure_as_of(id, date))
    }

    /// Whether `unit` publishes `id` (at desk, online) on `date`.
    pub fn publication(&self, unit: &UnitCode, id: &ProcedureId, date: NaiveDate) -> (bool, bool) {
        self.published
            .get(&(unit.clone(), id.clone()))
            .and_then(|m| m.range(..=date).next_back())
            .map(|(_, p)| (p.at_desk, p.online))
            .unwrap_or((false, false))
    }

    /// Published share of the procedures in force on `date` in `fields` (all fields if empty),
    /// per field and in total.
    pub fn published_share(
        &self,
        unit: &UnitCode,
        date: NaiveDate,
        fields: &[Field],
    ) -> PublishedShare {
        let mut out = PublishedShare {
            unit: Some(unit.clone()),
            date: Some(date),
            ..PublishedShare::default()
        };
        for p in self.in_force(date) {
            if !fields.is_empty() && !fields.contains(&p.field) {
                continue;
            }
            let (desk, online) = self.publication(unit, &p.id, date);
            for s in [
                &mut out.total,
                out.by_field.entry(p.field.clone()).or_default(),
            ] {
                s.in_force += 1;
                s.at_desk += u32::from(desk);
                s.online += u32::from(online);
            }
            if !desk {
                out.not_at_desk.push(p.id.clone());
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::events::{Fee, Level, RequiredDocument};
    use crate::domain::types::{Vnd, WorkingTime};

    pub(crate) fn procedure(
        id: &str,
        version: u32,
        field: &str,
        time: WorkingTime,
        workflow: &str,
    ) -> Procedure {
        Procedure {
            id: id.parse().unwrap(),
            version,
            name: format!("Thủ tục {id} v{version}"),
            field: field.parse().unwrap(),
            level: Level::Commune,
            documents: vec![RequiredDocument {
                name: "Tờ khai".into(),
                originals: 1,
                copies: 0,
            }],
            forms: vec!["Mẫu tờ khai".into()],
            processing_time: time,
            fees: vec![Fee {
                name: "Lệ phí".into(),
                amount: Vnd(10_000),
            }],
            workflow: workflow.parse().unwrap(),
            legal_basis: "Luật Hộ tịch 2014".into(),
        }
    }

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, m, day).unwrap()
    }

    #[test]
    fn versions_by_effective_date_and_abolition() {
        let mut c = Catalog::new();
        let id: ProcedureId = "1.001193".parse().unwrap();
        c.apply(&CatalogEvent::ProcedureIssued {
            procedure: procedure(
                "1.001193",
                1,
                "ho-tich",
                WorkingTime::WorkingDays(3),
                "standard",
            ),
            effective: d(1, 1),
        });
        c.apply(&CatalogEvent::ProcedureAmended {
            procedure: procedure(
                "1.001193",
                2,
                "ho-tich",
                WorkingTime::WorkingDays(2),
                "standard",
            ),
            effective: d(6, 1),
        });
        assert_eq!(c.procedure_as_of(&id, d(5, 31)).unwrap().version, 1);
        assert_eq!(c.procedure_as_of(&id, d(6, 1)).unwrap().version, 2);
        assert!(c
            .procedure_as_of(&id, NaiveDate::from_ymd_opt(2022, 12, 31).unwrap())
            .is_none());
        c.apply(&CatalogEvent::ProcedureAbolished {
            id: id.clone(),
            effective: d(9, 1),
            reason: "bãi bỏ".into(),
        });
        assert!(c.procedure_as_of(&id, d(9, 1)).is_none());
        assert_eq!(c.procedure_as_of(&id, d(8, 31)).unwrap().version, 2);
        assert!(c.is_abolished(&id, d(9, 2)));
        // A dossier received under v1 still finds v1.
        assert_eq!(
            c.version(&ProcedureRef {
                id: id.clone(),
                version: 1
            })
            .unwrap()
            .processing_time,
            WorkingTime::WorkingDays(3)
        );
        assert_eq!(c.latest_version(&id), Some(2));
    }

    #[test]
    fn published_share_is_computed_per_field() {
        let unit: UnitCode = "000.00.00.G10".parse().unwrap();
        let mut c = Catalog::new();
        for (id, field) in [
            ("1.1", "ho-tich"),
            ("1.2", "ho-tich"),
            ("2.1", "chung-thuc"),
        ] {
            c.apply(&CatalogEvent::ProcedureIssued {
                procedure: procedure(id, 1, field, WorkingTime::WorkingDays(1), "standard"),
                effective: d(1, 1),
            });
        }
        for (id, desk, online) in [("1.1", true, true), ("1.2", true, false)] {
            c.apply(&CatalogEvent::ProcedurePublished {
                unit: unit.clone(),
                id: id.parse().unwrap(),
                at_desk: desk,
                online,
                effective: d(1, 10),
            });
        }
        let s = c.published_share(&unit, d(2, 1), &[]);
        assert_eq!(
            s.total,
            Share {
                in_force: 3,
                at_desk: 2,
                online: 1
            }
        );
        assert_eq!(
            s.by_field[&"ho-tich".parse::<Field>().unwrap()],
            Share {
                in_force: 2,
                at_desk: 2,
                online: 1
            }
        );
        assert_eq!(
            s.by_field[&"chung-thuc".parse::<Field>().unwrap()].at_desk,
            0
        );
        assert_eq!(s.not_at_desk, vec!["2.1".parse::<ProcedureId>().unwrap()]);
        // Before the publication date nothing is published.
        assert_eq!(c.published_share(&unit, d(1, 5), &[]).total.at_desk, 0);
        c.apply(&CatalogEvent::ProcedurePublished {
            unit: unit.clone(),
            id: "2.1".parse().unwrap(),
            at_desk: true,
            online: true,
            effective: d(2, 1),
        });
        let s = c.published_share(&unit, d(2, 1), &[]);
        assert_eq!(s.total.at_desk_percent(), 100.0);
        assert_eq!(
            c.published_share(&unit, d(2, 1), &["ho-tich".parse().unwrap()])
                .total
                .in_force,
            2
        );
    }
}
