//! The names of the engine's streams: one spelling of each, as typed constructors on the log's
//! [`StreamId`] (an inherent impl may live in any module of its crate, so the log itself stays
//! ignorant of dossiers, staff and plans).
//!
//! | stream | holds |
//! |---|---|
//! | `dossier/<dossier code>` | one dossier's events |
//! | `staff/<staff id>` | a staff member's registration, updates and tokens |
//! | `unit/<unit code>` | a unit's registration |
//! | `catalog` | procedures issued, amended, abolished, published |
//! | `calendar/<year>` | the year's days off and make-up working days |
//! | `calendar/hours-<unit code>` | a unit's office hours |
//! | `plan/<plan id>` | one reform plan's events |
//! | `personal/<subject id>` | the erasure of one person's personal data |
//! | `rating/<dossier code>` | a citizen's rating of a handed-over dossier (at most one) |
//!
//! Every part is a validated domain value (ASCII, at most 64 bytes), so each name is a valid
//! stream id by construction; the test below pins the longest of each.

use chrono::NaiveDate;

use crate::domain::personal::SubjectId;
use crate::domain::types::{DossierCode, PlanId, StaffId, UnitCode};
use crate::log::StreamId;

const DOSSIER: &str = "dossier";
const STAFF: &str = "staff";
const UNIT: &str = "unit";
const CATALOG: &str = "catalog";
const CALENDAR: &str = "calendar";
const PLAN: &str = "plan";
const PERSONAL: &str = "personal";
const RATING: &str = "rating";
/// Office hours share the `calendar` category (the calendar a due date is computed with).
const OFFICE_HOURS_PREFIX: &str = "hours-";

/// The categories of reference data: what the command service folds into its
/// `ReferenceData` (and what admin-only commands write).
const REFERENCE_CATEGORIES: [&str; 4] = [CATALOG, CALENDAR, UNIT, STAFF];

impl StreamId {
    /// `dossier/<code>`.
    pub fn dossier(code: &DossierCode) -> StreamId {
        StreamId::from_valid(format!("{DOSSIER}/{code}"))
    }

    /// `staff/<id>`.
    pub fn staff(id: &StaffId) -> StreamId {
        StreamId::from_valid(format!("{STAFF}/{id}"))
    }

    /// `unit/<code>`.
    pub fn unit(code: &UnitCode) -> StreamId {
        StreamId::from_valid(format!("{UNIT}/{code}"))
    }

    /// `plan/<id>`.
    pub fn plan(id: &PlanId) -> StreamId {
        StreamId::from_valid(format!("{PLAN}/{id}"))
    }

    /// `personal/<subject hex>`.
    pub fn personal(subject: &SubjectId) -> StreamId {
        StreamId::from_valid(format!("{PERSONAL}/{subject}"))
    }

    /// Whether the stream records a person's erasure.
    pub fn is_personal(&self) -> bool {
        self.category() == PERSONAL
    }

    /// `rating/<dossier code>`.
    pub fn rating(code: &DossierCode) -> StreamId {
        StreamId::from_valid(format!("{RATING}/{code}"))
    }

    /// The dossier whose rating stream this is.
    pub fn rated_dossier(&self) -> Option<DossierCode> {
        self.key_of(RATING)?.parse().ok()
    }

    /// `calendar/<year>`.
    pub fn calendar_year(year: i32) -> StreamId {
        StreamId::from_valid(format!("{CALENDAR}/{year}"))
    }

    /// `calendar/hours-<unit>`.
    pub fn office_hours(unit: &UnitCode) -> StreamId {
        StreamId::from_valid(format!("{CALENDAR}/{OFFICE_HOURS_PREFIX}{unit}"))
    }

    /// `catalog`.
    pub fn catalog() -> StreamId {
        StreamId::from_valid(CATALOG.to_owned())
    }

    /// The prefix shared by the streams of every dossier `unit` receives on `date`
    /// (`dossier/<unit>-<YYMMDD>-`): the daily code allocation looks up the last one.
    pub fn dossier_day_prefix(unit: &UnitCode, date: NaiveDate) -> String {
        format!("{DOSSIER}/{unit}-{}-", date.format("%y%m%d"))
    }

    /// The dossier whose stream this is.
    pub fn dossier_code(&self) -> Option<DossierCode> {
        self.key_of(DOSSIER)?.parse().ok()
    }

    /// The plan whose stream this is.
    pub fn plan_id(&self) -> Option<PlanId> {
        self.key_of(PLAN)?.parse().ok()
    }

    /// The unit whose registration stream this is.
    pub fn unit_code(&self) -> Option<UnitCode> {
        self.key_of(UNIT)?.parse().ok()
    }

    /// Whether the stream holds a calendar: a year's days off or a unit's office hours.
    pub fn is_calendar(&self) -> bool {
        self.category() == CALENDAR
    }

    /// Whether the stream holds reference data (catalog, calendars, units, staff).
    pub fn is_reference(&self) -> bool {
        REFERENCE_CATEGORIES.contains(&self.category())
    }

    /// The part after `<category>/`, if this stream is of that category.
    fn key_of(&self, category: &str) -> Option<&str> {
        self.as_str()
            .strip_prefix(category)
            .and_then(|rest| rest.strip_prefix('/'))
    }
}

/// Whether a stream holds reference data ([`StreamId::is_reference`]).
pub fn is_reference_stream(stream: &StreamId) -> bool {
    stream.is_reference()
}

/// Whether `stream` names `code`'s stream (`dossier/<code>`), without building the name: an
/// auditor checks this for every dossier event of a log.
pub fn is_dossier_stream_of(stream: &str, code: &DossierCode) -> bool {
    stream
        .strip_prefix(DOSSIER)
        .and_then(|rest| rest.strip_prefix('/'))
        == Some(code.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longest_slug<T: std::str::FromStr>() -> T
    where
        T::Err: std::fmt::Debug,
    {
        "a".repeat(64).parse().unwrap()
    }

    #[test]
    fn every_name_is_a_valid_stream_id_spelled_once() {
        let code: DossierCode = "000.00.00.G10-230126-0001".parse().unwrap();
        let unit = code.unit();
        let plan: PlanId = "35-kh-ubnd-2023".parse().unwrap();
        let staff: StaffId = "tn-01".parse().unwrap();
        let cases = [
            (
                StreamId::dossier(&code),
                "dossier/000.00.00.G10-230126-0001",
            ),
            (StreamId::staff(&staff), "staff/tn-01"),
            (StreamId::unit(&unit), "unit/000.00.00.G10"),
            (StreamId::plan(&plan), "plan/35-kh-ubnd-2023"),
            (StreamId::calendar_year(2025), "calendar/2025"),
            (StreamId::calendar_year(i32::MIN), "calendar/-2147483648"),
            (
                StreamId::office_hours(&unit),
                "calendar/hours-000.00.00.G10",
            ),
            (StreamId::catalog(), "catalog"),
            (
                StreamId::staff(&longest_slug()),
                &format!("staff/{}", "a".repeat(64)),
            ),
            (
                StreamId::plan(&longest_slug()),
                &format!("plan/{}", "a".repeat(64)),
            ),
        ];
        for (id, name) in cases {
            assert_eq!(id.as_str(), name);
            assert_eq!(StreamId::new(name).unwrap(), id);
        }
    }

    #[test]
    fn names_read_back_and_the_day_prefix_matches_the_codes() {
        let code: DossierCode = "000.00.00.G10-230126-0042".parse().unwrap();
        let stream = StreamId::dossier(&code);
        assert_eq!(stream.dossier_code(), Some(code.clone()));
        assert_eq!(stream.plan_id(), None);
        let prefix = StreamId::dossier_day_prefix(&code.unit(), code.date());
        assert_eq!(prefix, "dossier/000.00.00.G10-230126-");
        assert!(stream.as_str().starts_with(&prefix));
        assert!(is_dossier_stream_of(stream.as_str(), &code));
        let rating = StreamId::rating(&code);
        assert_eq!(rating.as_str(), "rating/000.00.00.G10-230126-0042");
        assert_eq!(rating.rated_dossier(), Some(code.clone()));
        assert_eq!(stream.rated_dossier(), None);
        assert!(!is_dossier_stream_of(rating.as_str(), &code));
        assert!(!is_dossier_stream_of(
            "dossierx/000.00.00.G10-230126-0042",
            &code
        ));
        assert!(!is_dossier_stream_of(
            "dossier/000.00.00.G10-230126-0043",
            &code
        ));
        let plan: PlanId = "kh-1".parse().unwrap();
        assert_eq!(StreamId::plan(&plan).plan_id(), Some(plan));
        assert_eq!(StreamId::unit(&code.unit()).unit_code(), Some(code.unit()));
        // A category is a whole path segment: `dossiers/x` is not a dossier stream.
        assert_eq!(
            StreamId::new("dossierx/000.00.00.G10-230126-0042")
                .unwrap()
                .dossier_code(),
            None
        );
    }

    #[test]
    fn reference_streams_are_the_admin_ones() {
        let unit: UnitCode = "000.00.00.G10".parse().unwrap();
        for s in [
            StreamId::catalog(),
            StreamId::calendar_year(2024),
            StreamId::office_hours(&unit),
            StreamId::unit(&unit),
            StreamId::staff(&"tn-01".parse().unwrap()),
        ] {
            assert!(is_reference_stream(&s), "{s}");
        }
        assert!(StreamId::calendar_year(2024).is_calendar());
        assert!(StreamId::office_hours(&unit).is_calendar());
        assert!(!StreamId::catalog().is_calendar());
        let code: DossierCode = "000.00.00.G10-230126-0001".parse().unwrap();
        assert!(!StreamId::dossier(&code).is_reference());
        assert!(!StreamId::plan(&"kh-1".parse().unwrap()).is_reference());
    }
}
