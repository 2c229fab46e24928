//! The official reports of a period (`docs/reports.md`): the periodic report on receiving and
//! resolving administrative procedure dossiers, one row per procedure under its field's subtotal
//! and a total, and the register of slip 06 (Sổ theo dõi hồ sơ) for every dossier received in
//! the period. Every figure is the engine's statistics (`period_report`, `period_breakdown`),
//! the figures `GET /v1/stats` and `motcua-replay stats` answer; every register row is the
//! domain's slip 06 of that dossier. Rendering (xlsx, CSV, HTML) is the HTTP layer's.

use chrono::NaiveDate;
use motcua_engine::domain::slips::RegisterRow;
use motcua_engine::domain::types::{DossierCode, Field, Role, UnitCode};
use motcua_engine::projection::{Figures, Group, GroupBy, StatsFilter};

use crate::app::caller::Caller;
use crate::app::error::AppError;
use crate::app::handle::App;

/// The longest period a report covers, in days (a year, leap or not): the official reports
/// are monthly, quarterly, half-yearly and yearly, and a longer period would only be a way to
/// make the server walk the whole history at once.
pub const MAX_REPORT_DAYS: i64 = 366;

/// A period and its filters as a query writes them: the JSON API's `GET /v1/stats` and its
/// reports, the console's statistics page and its downloads. Parsed once, by
/// [`PeriodQuery::parse`], for all of them. An empty value counts as absent.
#[derive(Debug, Clone, Default)]
pub struct PeriodQuery {
    /// First day (YYYY-MM-DD, local).
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// A unit code, `all` (auditors and admins), or absent: the caller's unit.
    pub unit: Option<String>,
    pub field: Option<String>,
    pub procedure: Option<String>,
    pub channel: Option<String>,
}

/// An optional query value (absent or empty: `None`), or 422 on `name`.
fn optional<T: std::str::FromStr>(name: &str, v: &Option<String>) -> Result<Option<T>, AppError>
where
    T::Err: std::fmt::Display,
{
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|e: T::Err| AppError::invalid(name, e.to_string())),
    }
}

impl PeriodQuery {
    /// The period `[from, to]` and the statistics filter, for `caller`: a unit other than
    /// the caller's is refused unless the caller may read it, `all` unless an auditor or admin.
    pub fn parse(&self, caller: &Caller) -> Result<(NaiveDate, NaiveDate, StatsFilter), AppError> {
        let date = |name: &str, s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| AppError::invalid(name, "expected YYYY-MM-DD"))
        };
        let from = date("from", &self.from)?;
        let to = date("to", &self.to)?;
        if to < from {
            return Err(AppError::invalid("to", "must not be before from"));
        }
        let unit = if self.unit.as_deref() == Some("all") {
            if !(caller.has(Role::Auditor) || caller.has(Role::Admin)) {
                return Err(AppError::Forbidden(
                    "only auditors and admins may query all units".into(),
                ));
            }
            None
        } else {
            let unit =
                optional::<UnitCode>("unit", &self.unit)?.unwrap_or_else(|| caller.unit().clone());
            caller.require_unit(&unit)?;
            Some(unit)
        };
        Ok((
            from,
            to,
            StatsFilter {
                unit,
                field: optional("field", &self.field)?,
                procedure: optional("procedure", &self.procedure)?,
                channel: optional("channel", &self.channel)?,
            },
        ))
    }
}

/// What a row of the procedures report sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// Every dossier of the report (Tổng cộng).
    Total,
    /// A field's subtotal (Lĩnh vực).
    Field,
    /// One procedure.
    Procedure,
}

/// One row of the procedures report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub kind: RowKind,
    /// The form's STT: roman numerals for fields, 1, 2 ... for the procedures under each.
    pub number: String,
    /// The field's code or the procedure's id (empty on the total).
    pub code: String,
    pub name: String,
    pub figures: Figures,
}

/// The procedures report of `[from, to]`.
#[derive(Debug, Clone)]
pub struct ProceduresReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The reporting unit's name (every unit: "Tất cả đơn vị").
    pub unit_name: String,
    /// Total first, then each field's subtotal followed by its procedures.
    pub rows: Vec<ReportRow>,
}

/// The register (slip 06) of the dossiers received in `[from, to]`.
#[derive(Debug, Clone)]
pub struct Register {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub unit_name: String,
    /// One row per dossier received in the period, in code order (unit, day, number).
    pub rows: Vec<RegisterRow>,
}

/// The reports of an [`App`].
pub struct Reports<'a> {
    app: &'a App,
}

impl App {
    /// The official reports.
    pub fn reports(&self) -> Reports<'_> {
        Reports { app: self }
    }
}

/// Refuses a period longer than [`MAX_REPORT_DAYS`] (the caller checked `from <= to`).
pub fn check_period(from: NaiveDate, to: NaiveDate) -> Result<(), AppError> {
    let days = (to - from).num_days() + 1;
    if days > MAX_REPORT_DAYS {
        return Err(AppError::invalid(
            "to",
            format!("a report covers at most {MAX_REPORT_DAYS} days; this period has {days}"),
        ));
    }
    Ok(())
}

/// `n` in roman numerals (the form numbers its sections I, II, III ...).
fn roman(mut n: usize) -> String {
    const DIGITS: [(usize, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (value, digits) in DIGITS {
        while n >= value {
            out.push_str(digits);
            n -= value;
        }
    }
    out
}

impl Reports<'_> {
    /// The reporting unit's name, and each field's name as the unit registered it.
    fn names(&self, filter: &StatsFilter) -> Result<(String, Vec<(Field, String)>), AppError> {
        Ok(self.app.service().with_reference(|r| {
            let units: Vec<_> = match &filter.unit {
                Some(u) => r.directory.unit(u).into_iter().collect(),
                None => r.directory.units().collect(),
            };
            let unit_name = match (&filter.unit, units.first()) {
                (Some(_), Some(u)) => u.name.clone(),
                (Some(u), None) => u.to_string(),
                (None, _) => "Tất cả đơn vị".to_owned(),
            };
            let fields = units
                .iter()
                .flat_map(|u| u.fields.iter().map(|f| (f.field.clone(), f.name.clone())))
                .collect();
            (unit_name, fields)
        })?)
    }

    /// The procedures report: the total, and per field its subtotal and its procedures, each
    /// row the engine's figures for the filter narrowed to it. Only fields and procedures with
    /// a dossier behind some figure of the period have a row.
    pub fn procedures(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        filter: &StatsFilter,
    ) -> Result<ProceduresReport, AppError> {
        check_period(from, to)?;
        // One walk of the period: the total, the fields and the procedures together.
        let (total, mut breakdowns) = self.app.read_models().stats_breakdowns(
            from,
            to,
            filter,
            &[GroupBy::Field, GroupBy::Procedure],
        )?;
        // The form's rows count dossiers: a group with ratings only (its dossiers resolved in
        // an earlier period, rated in this one) has no row of the form.
        let counted = |groups: Vec<Group>| -> Vec<Group> {
            groups
                .into_iter()
                .filter(|g| !g.report.codes.is_empty())
                .collect()
        };
        let procedures = counted(breakdowns.pop().unwrap_or_default());
        let fields = counted(breakdowns.pop().unwrap_or_default());
        let (unit_name, field_names) = self.names(filter)?;
        let mut rows = vec![ReportRow {
            kind: RowKind::Total,
            number: String::new(),
            code: String::new(),
            name: "Tổng cộng".to_owned(),
            figures: total.figures,
        }];
        for (i, field) in fields.iter().enumerate() {
            let name = field_names
                .iter()
                .find(|(f, _)| Some(f) == field.field.as_ref())
                .map_or_else(|| field.key.clone(), |(_, n)| n.clone());
            rows.push(ReportRow {
                kind: RowKind::Field,
                number: roman(i + 1),
                code: field.key.clone(),
                name: format!("Lĩnh vực {name}"),
                figures: field.report.figures.clone(),
            });
            let under = procedures.iter().filter(|p| p.field == field.field);
            for (j, p) in under.enumerate() {
                rows.push(ReportRow {
                    kind: RowKind::Procedure,
                    number: (j + 1).to_string(),
                    code: p.key.clone(),
                    name: p.procedure_name.clone(),
                    figures: p.report.figures.clone(),
                });
            }
        }
        Ok(ProceduresReport {
            from,
            to,
            unit_name,
            rows,
        })
    }

    /// The register of the dossiers received in `[from, to]`: the codes behind the period's
    /// `received` figure, each dossier's slip 06 as its slips answer it (the applicant opened
    /// with the person's key, "(đã xoá)" once erased). More than `max_rows` dossiers is
    /// refused before any is read.
    pub fn register(
        &self,
        caller: &Caller,
        from: NaiveDate,
        to: NaiveDate,
        filter: &StatsFilter,
        max_rows: usize,
    ) -> Result<Register, AppError> {
        check_period(from, to)?;
        let codes: Vec<DossierCode> = self.app.read_models().received_codes(from, to, filter)?;
        if codes.len() > max_rows {
            return Err(AppError::invalid(
                "to",
                format!(
                    "the register of this period has {} dossiers, more than the {max_rows} one \
                     download holds; choose a shorter period",
                    codes.len()
                ),
            ));
        }
        let views = self.app.views();
        let mut rows = Vec::with_capacity(codes.len());
        for code in &codes {
            let row = views.slips(caller, code)?.s06.ok_or_else(|| {
                AppError::Internal(format!("received dossier {code} has no register row"))
            })?;
            rows.push(row);
        }
        let (unit_name, _) = self.names(filter)?;
        Ok(Register {
            from,
            to,
            unit_name,
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roman_numerals_number_the_fields() {
        let got: Vec<String> = [1, 2, 3, 4, 9, 14, 40].into_iter().map(roman).collect();
        assert_eq!(got, ["I", "II", "III", "IV", "IX", "XIV", "XL"]);
    }

    #[test]
    fn a_period_is_at_most_a_leap_year() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(check_period(d("2024-01-01"), d("2024-12-31")).is_ok());
        assert!(check_period(d("2023-01-01"), d("2024-01-01")).is_ok());
        assert!(matches!(
            check_period(d("2023-01-01"), d("2024-01-02")),
            Err(AppError::Invalid { .. })
        ));
    }
}
