//! Rule sets as data with an effective date: the law moves, so the rules a dossier is judged
//! by are chosen by the date it was received (`Receipt::rule_set`) and never change after.
//!
//! Shipped rule sets live in `engine/rules/*.toml`, embedded at build time ([`BUILTIN`]). This
//! module only parses text: reading rule files from a directory is
//! `crate::reference_files`'s job, so the domain performs no I/O.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::calendar::parse_hhmm;
use super::types::RuleSetId;

/// The embedded rule set files: (file name, contents).
pub const BUILTIN: [(&str, &str); 2] = [
    ("nd61-2018.toml", include_str!("../../rules/nd61-2018.toml")),
    (
        "nd118-2025.toml",
        include_str!("../../rules/nd118-2025.toml"),
    ),
];

/// The slips of Thông tư 01/2018 a rule set may provide.
pub const KNOWN_SLIPS: [&str; 6] = ["01", "02", "03", "04", "05", "06"];

/// One rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSet {
    pub id: RuleSetId,
    pub name: String,
    pub effective_from: NaiveDate,
    /// How many times a supplement may be requested per dossier.
    pub supplement_limit: u8,
    /// Same-day procedures received after this local minute are due next working day.
    pub same_day_cutoff_minute: u16,
    /// Apology allowed once at most this many office minutes remain before the due time.
    pub apology_window_office_minutes: u32,
    /// Whether a unit receives dossiers from anywhere in the province (2025 rules).
    pub accepts_province_wide: bool,
    /// Which slips (01-06) exist under this rule set.
    pub slips: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSetFile {
    id: String,
    name: String,
    effective_from: toml::value::Datetime,
    supplement_limit: u8,
    same_day_cutoff: String,
    apology_window_office_minutes: u32,
    accepts_province_wide: bool,
    slips: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleSetError {
    #[error("{file}: {detail}")]
    Parse { file: String, detail: String },
    #[error("{file}: {field}: {why}")]
    Invalid {
        file: String,
        field: &'static str,
        why: String,
    },
    #[error("{file}: rule set {id} is defined twice")]
    Duplicate { file: String, id: String },
}

impl RuleSet {
    /// Parses one rule set file.
    pub fn from_toml(file: &str, text: &str) -> Result<RuleSet, RuleSetError> {
        let raw: RuleSetFile = toml::from_str(text).map_err(|e| RuleSetError::Parse {
            file: file.to_owned(),
            detail: e.to_string(),
        })?;
        let invalid = |field, why: String| RuleSetError::Invalid {
            file: file.to_owned(),
            field,
            why,
        };
        let id = raw
            .id
            .parse::<RuleSetId>()
            .map_err(|e| invalid("id", e.to_string()))?;
        let effective_from = match raw.effective_from.date {
            Some(d) if raw.effective_from.time.is_none() => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
            }
            _ => None,
        }
        .ok_or_else(|| invalid("effective_from", "expected a date like 2025-07-01".into()))?;
        let same_day_cutoff_minute = parse_hhmm(&raw.same_day_cutoff)
            .ok_or_else(|| invalid("same_day_cutoff", "expected HH:MM".into()))?;
        if raw.supplement_limit == 0 {
            return Err(invalid("supplement_limit", "must be at least 1".into()));
        }
        for s in &raw.slips {
            if !KNOWN_SLIPS.contains(&s.as_str()) {
                return Err(invalid("slips", format!("unknown slip {s:?}")));
            }
        }
        Ok(RuleSet {
            id,
            name: raw.name,
            effective_from,
            supplement_limit: raw.supplement_limit,
            same_day_cutoff_minute,
            apology_window_office_minutes: raw.apology_window_office_minutes,
            accepts_province_wide: raw.accepts_province_wide,
            slips: raw.slips,
        })
    }

    pub fn has_slip(&self, slip: &str) -> bool {
        self.slips.iter().any(|s| s == slip)
    }
}

/// All rule sets, ordered by effective date.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RuleSets {
    sets: Vec<RuleSet>,
}

impl RuleSets {
    /// Builds from parsed sets; ids must be unique.
    pub fn new(mut sets: Vec<RuleSet>) -> Result<RuleSets, RuleSetError> {
        sets.sort_by_key(|s| s.effective_from);
        for (i, s) in sets.iter().enumerate() {
            if sets[..i].iter().any(|o| o.id == s.id) {
                return Err(RuleSetError::Duplicate {
                    file: s.id.to_string(),
                    id: s.id.to_string(),
                });
            }
        }
        Ok(RuleSets { sets })
    }

    /// The shipped rule sets (2018 and 2025).
    pub fn builtin() -> Result<RuleSets, RuleSetError> {
        RuleSets::from_files(BUILTIN.iter().map(|(f, t)| (*f, *t)))
    }

    /// The rule sets of some files' texts, each given with its file name (named in errors).
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RuleSets, RuleSetError> {
        let sets = files
            .into_iter()
            .map(|(f, t)| RuleSet::from_toml(f, t))
            .collect::<Result<Vec<_>, _>>()?;
        RuleSets::new(sets)
    }

    /// The rule set in force on `date`: the latest one effective on or before it.
    pub fn in_force(&self, date: NaiveDate) -> Option<&RuleSet> {
        self.sets.iter().rev().find(|s| s.effective_from <= date)
    }

    pub fn get(&self, id: &RuleSetId) -> Option<&RuleSet> {
        self.sets.iter().find(|s| &s.id == id)
    }

    pub fn all(&self) -> &[RuleSet] {
        &self.sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn builtin_rule_sets_by_date() {
        let r = RuleSets::builtin().unwrap();
        assert_eq!(r.in_force(d(2023, 1, 26)).unwrap().id.as_str(), "nd61-2018");
        assert_eq!(r.in_force(d(2025, 6, 30)).unwrap().id.as_str(), "nd61-2018");
        let new = r.in_force(d(2025, 7, 1)).unwrap();
        assert_eq!(new.id.as_str(), "nd118-2025");
        assert!(new.accepts_province_wide);
        assert!(r.in_force(d(2017, 1, 1)).is_none());
        let old = r.get(&"nd61-2018".parse().unwrap()).unwrap();
        assert_eq!(old.supplement_limit, 1);
        assert_eq!(old.same_day_cutoff_minute, 900);
        assert!(old.has_slip("04"));
    }

    #[test]
    fn bad_rule_files_are_refused_with_the_file_name() {
        let bad = BUILTIN[0].1.replace("15:00", "3pm");
        let e = RuleSet::from_toml("x.toml", &bad).unwrap_err();
        assert!(e.to_string().starts_with("x.toml: same_day_cutoff"), "{e}");
        let e = RuleSet::from_toml("y.toml", "id = 1").unwrap_err();
        assert!(e.to_string().starts_with("y.toml:"), "{e}");
    }

    #[test]
    fn rule_sets_from_files_are_the_shipped_ones_and_ids_are_unique() {
        assert_eq!(
            RuleSets::from_files(BUILTIN).unwrap(),
            RuleSets::builtin().unwrap()
        );
        let twice = [BUILTIN[0], ("copy.toml", BUILTIN[0].1)];
        let e = RuleSets::from_files(twice).unwrap_err();
        assert!(matches!(e, RuleSetError::Duplicate { .. }), "{e}");
    }
}
