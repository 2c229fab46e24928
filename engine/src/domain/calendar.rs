//! Working time: which days are working days, office hours per unit, and the due-date
//! arithmetic of docs/domain/calendar.md (Civil Code 2015, Art. 147-148).
//!
//! The calendar is a fold of `CalendarEvent`s, so a replay years later computes the same due
//! dates from the same published data. All arithmetic happens in local time
//! (Asia/Ho_Chi_Minh); instants are stored as UTC milliseconds ([`Timestamp`]).
//!
//! A year without a published calendar is not an error: its working days are Monday to Friday
//! (weekends only), so dossiers keep flowing when the government's calendar arrives late; the
//! year's calendar can be published afterwards and applies to due dates computed from then on
//! (a receipt's stored due date is never recomputed).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Asia::Ho_Chi_Minh;

use super::events::{CalendarEvent, Session, YearCalendar};
use super::types::{Timestamp, UnitCode, WorkingTime};

/// Default office sessions: 07:00-11:30 and 13:30-17:00 local time.
pub const DEFAULT_SESSIONS: [Session; 2] = [
    Session {
        start_minute: 7 * 60,
        end_minute: 11 * 60 + 30,
    },
    Session {
        start_minute: 13 * 60 + 30,
        end_minute: 17 * 60,
    },
];

/// How far the arithmetic looks for a working day before giving up (a guard against a
/// calendar with no working days at all; ten years of days off never happen).
const MAX_SCAN_DAYS: i64 = 3660;

/// Local wall-clock time of an instant in Asia/Ho_Chi_Minh.
pub fn local(t: Timestamp) -> NaiveDateTime {
    Ho_Chi_Minh
        .from_utc_datetime(&t.to_utc().naive_utc())
        .naive_local()
}

/// The instant of a local wall-clock time in Asia/Ho_Chi_Minh (UTC+7 without DST since 1975,
/// so the mapping is unique; the fallback only guards historical oddities).
pub fn from_local(dt: NaiveDateTime) -> Timestamp {
    match Ho_Chi_Minh.from_local_datetime(&dt).earliest() {
        Some(z) => Timestamp(z.timestamp_millis()),
        None => Timestamp((dt - Duration::hours(7)).and_utc().timestamp_millis()),
    }
}

/// Local date of an instant.
pub fn local_date(t: Timestamp) -> NaiveDate {
    local(t).date()
}

/// A local date and time given as numbers (tests, demo seeding).
pub fn at_local(y: i32, m: u32, d: u32, hh: u32, mm: u32) -> Option<Timestamp> {
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let time = NaiveTime::from_hms_opt(hh, mm, 0)?;
    Some(from_local(date.and_time(time)))
}

/// One year's days off and make-up days, as sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct YearDays {
    off: BTreeSet<NaiveDate>,
    makeup: BTreeSet<NaiveDate>,
}

/// The fold of every `CalendarEvent`: published years and per-unit office hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, YearDays>,
    /// Per unit: office sessions by effective date.
    hours: BTreeMap<UnitCode, BTreeMap<NaiveDate, Vec<Session>>>,
}

/// Checks a list of sessions: non-empty, each `start < end <= 24:00`, sorted, disjoint.
pub fn validate_sessions(sessions: &[Session]) -> Result<(), String> {
    if sessions.is_empty() {
        return Err("at least one office session is required".into());
    }
    let mut prev_end = 0u16;
    for (i, s) in sessions.iter().enumerate() {
        if s.start_minute >= s.end_minute || s.end_minute > 24 * 60 {
            return Err(format!("session {i} must have start < end <= 24:00"));
        }
        if i > 0 && s.start_minute < prev_end {
            return Err(format!("session {i} overlaps or precedes the previous one"));
        }
        prev_end = s.end_minute;
    }
    Ok(())
}

impl Calendar {
    /// An empty calendar: weekends only, default office hours everywhere.
    pub fn new() -> Calendar {
        Calendar::default()
    }

    /// The demo calendar of 2023 (docs/domain/calendar.md), already folded.
    pub fn demo_2023() -> Calendar {
        let mut c = Calendar::new();
        c.apply(&CalendarEvent::YearPublished(demo_year_2023()));
        c
    }

    /// Folds one calendar event. Invalid office hours (which the service refuses before they
    /// are recorded) are ignored rather than poisoning the fold.
    pub fn apply(&mut self, ev: &CalendarEvent) {
        match ev {
            CalendarEvent::YearPublished(y) => {
                // A republished year replaces the earlier publication entirely.
                self.years.insert(
                    y.year,
                    YearDays {
                        off: y.days_off.iter().copied().collect(),
                        makeup: y.makeup_working_days.iter().copied().collect(),
                    },
                );
            }
            CalendarEvent::OfficeHoursSet {
                unit,
                sessions,
                effective,
            } => {
                if validate_sessions(sessions).is_ok() {
                    self.hours
                        .entry(unit.clone())
                        .or_default()
                        .insert(*effective, sessions.clone());
                }
            }
        }
    }

    /// Whether the year's calendar was published (else weekends-only applies).
    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Working day: a make-up day, or a weekday that is not a day off.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        match self.years.get(&date.year()) {
            Some(y) => {
                if y.makeup.contains(&date) {
                    true
                } else {
                    !weekend && !y.off.contains(&date)
                }
            }
            None => !weekend,
        }
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        for _ in 0..MAX_SCAN_DAYS {
            d = d.succ_opt().unwrap_or(d);
            if self.is_working_day(d) {
                return d;
            }
        }
        d
    }

    /// The office-hours view of one unit.
    pub fn unit<'a>(&'a self, unit: &UnitCode) -> UnitCalendar<'a> {
        UnitCalendar {
            cal: self,
            hours: self.hours.get(unit),
        }
    }

    /// The office-hours view with the default sessions (a unit that never set its own).
    pub fn default_unit(&self) -> UnitCalendar<'_> {
        UnitCalendar {
            cal: self,
            hours: None,
        }
    }
}

/// The demo `YearCalendar` of 2023 (docs/domain/calendar.md), as the HTTP demo seeds it.
pub fn demo_year_2023() -> YearCalendar {
    let d = |m, day| NaiveDate::from_ymd_opt(2023, m, day).unwrap_or_default();
    let mut days_off = vec![d(1, 2)];
    days_off.extend((20..=26).map(|x| d(1, x)));
    days_off.extend([d(4, 29), d(4, 30), d(5, 1), d(5, 2), d(5, 3)]);
    days_off.extend([d(9, 1), d(9, 2), d(9, 3), d(9, 4)]);
    YearCalendar {
        year: 2023,
        days_off,
        makeup_working_days: vec![d(5, 6)],
        note: "Lịch làm việc 2023 (demo): nghỉ 2/1; Tết 20/1-26/1; 29/4-3/5; 1/9-4/9; làm bù thứ Bảy 6/5"
            .into(),
    }
}

/// Due-date and office-time arithmetic for one unit's office hours.
#[derive(Debug, Clone, Copy)]
pub struct UnitCalendar<'a> {
    cal: &'a Calendar,
    hours: Option<&'a BTreeMap<NaiveDate, Vec<Session>>>,
}

impl<'a> UnitCalendar<'a> {
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.cal.is_working_day(date)
    }

    /// Office sessions of a date (empty on a day off): the latest `OfficeHoursSet` in effect on
    /// that date, else the defaults.
    pub fn sessions(&self, date: NaiveDate) -> &'a [Session] {
        if !self.cal.is_working_day(date) {
            return &[];
        }
        self.sessions_in_force(date)
    }

    /// The sessions a working day has as of `date`, whether or not `date` is one (what the
    /// admin's screen shows on a weekend too): the latest `OfficeHoursSet` in effect on that
    /// date, else the defaults.
    pub fn sessions_in_force(&self, date: NaiveDate) -> &'a [Session] {
        self.hours
            .and_then(|h| h.range(..=date).next_back())
            .map(|(_, s)| s.as_slice())
            .unwrap_or(&DEFAULT_SESSIONS)
    }

    fn intervals(
        &self,
        date: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDateTime, NaiveDateTime)> + 'a {
        self.sessions(date).iter().map(move |s| {
            let base = date.and_time(NaiveTime::MIN);
            (
                base + Duration::minutes(i64::from(s.start_minute)),
                base + Duration::minutes(i64::from(s.end_minute)),
            )
        })
    }

    /// Close of office hours of a working date (end of its last session).
    pub fn close_of(&self, date: NaiveDate) -> Option<Timestamp> {
        self.intervals(date).last().map(|(_, e)| from_local(e))
    }

    /// Whether the instant falls inside an office session.
    pub fn in_office_hours(&self, t: Timestamp) -> bool {
        let l = local(t);
        self.intervals(l.date()).any(|(s, e)| s <= l && l < e)
    }

    /// When counting starts for something received at `t`: `t` itself inside office hours,
    /// else the next session opening (the next working morning after hours or on a day off;
    /// 13:30 for a receipt during the lunch break).
    pub fn clock_start(&self, t: Timestamp) -> Timestamp {
        let l = local(t);
        let mut date = l.date();
        for _ in 0..MAX_SCAN_DAYS {
            for (s, e) in self.intervals(date) {
                if l < e {
                    return from_local(if l >= s { l } else { s });
                }
            }
            date = date.succ_opt().unwrap_or(date);
        }
        t
    }

    /// The close of the `n`-th working day after `date` (n = 0: `date`'s own close, moved to
    /// the next working day if `date` is off).
    fn close_after_working_days(&self, date: NaiveDate, n: u16) -> Timestamp {
        let mut d = date;
        if n == 0 && !self.cal.is_working_day(d) {
            d = self.cal.next_working_day(d);
        }
        for _ in 0..n {
            d = self.cal.next_working_day(d);
        }
        self.close_of(d)
            .unwrap_or_else(|| from_local(d.and_time(NaiveTime::MIN)))
    }

    /// Ngày hẹn trả for something received at `received_at` (docs/domain/calendar.md):
    /// - `WorkingDays(n)`, n >= 1: counting starts the working day after the receipt day (the
    ///   receipt day is the day of [`clock_start`](Self::clock_start)); due at the close of the
    ///   n-th working day after it.
    /// - `WorkingDays(0)` (same day): due at the receipt day's close, or at the next working
    ///   day's close if the clock starts after `same_day_cutoff_minute` (15:00).
    /// - `OfficeHours(h)`: h office hours counted from the clock start.
    /// - `CalendarDays(n)`: the n-th calendar day after the receipt day; if that is not a
    ///   working day the end moves to the next working day; due at its close.
    pub fn due(
        &self,
        received_at: Timestamp,
        time: WorkingTime,
        same_day_cutoff_minute: u16,
    ) -> Timestamp {
        let start = self.clock_start(received_at);
        let start_local = local(start);
        let receipt_day = start_local.date();
        match time {
            WorkingTime::WorkingDays(0) => {
                let minute = start_local.time().signed_duration_since(NaiveTime::MIN);
                if minute > Duration::minutes(i64::from(same_day_cutoff_minute)) {
                    self.close_after_working_days(receipt_day, 1)
                } else {
                    self.close_after_working_days(receipt_day, 0)
                }
            }
            WorkingTime::WorkingDays(n) => self.close_after_working_days(receipt_day, n),
            WorkingTime::OfficeHours(h) => self.add_office_minutes(start, u32::from(h) * 60),
            WorkingTime::CalendarDays(n) => {
                let end = receipt_day + Duration::days(i64::from(n));
                self.close_after_working_days(end, 0)
            }
        }
    }

    /// Office time between two instants, in whole minutes (0 if `b <= a`).
    pub fn office_minutes_between(&self, a: Timestamp, b: Timestamp) -> u32 {
        if b <= a {
            return 0;
        }
        let (la, lb) = (local(a), local(b));
        let mut total_ms: i64 = 0;
        let mut date = la.date();
        while date <= lb.date() {
            for (s, e) in self.intervals(date) {
                let from = s.max(la);
                let to = e.min(lb);
                if to > from {
                    total_ms += (to - from).num_milliseconds();
                }
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        u32::try_from(total_ms / 60_000).unwrap_or(u32::MAX)
    }

    /// The instant reached by counting `minutes` of office time from `t`. Zero returns `t`;
    /// a count that ends exactly at a session's end returns that end (the earliest instant).
    pub fn add_office_minutes(&self, t: Timestamp, minutes: u32) -> Timestamp {
        if minutes == 0 {
            return t;
        }
        let mut remaining = Duration::minutes(i64::from(minutes));
        let cur = local(t);
        let mut date = cur.date();
        for _ in 0..MAX_SCAN_DAYS {
            for (s, e) in self.intervals(date) {
                if e <= cur {
                    continue;
                }
                let from = s.max(cur);
                let avail = e - from;
                if remaining <= avail {
                    return from_local(from + remaining);
                }
                remaining -= avail;
            }
            date = date.succ_opt().unwrap_or(date);
        }
        t
    }
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(m: u32, d: u32, hh: u32, mm: u32) -> Timestamp {
        at_local(2023, m, d, hh, mm).unwrap()
    }

    const CUTOFF: u16 = 15 * 60;

    #[test]
    fn worked_example_1_tet_in_between() {
        let c = Calendar::demo_2023();
        let u = c.default_unit();
        assert_eq!(
            u.due(t(1, 19, 10, 0), WorkingTime::WorkingDays(3), CUTOFF),
            t(1, 31, 17, 0)
        );
    }

    #[test]
    fn worked_example_2_friday_afternoon_before_the_april_holiday() {
        let c = Calendar::demo_2023();
        let u = c.default_unit();
        assert_eq!(
            u.due(t(4, 28, 16, 0), WorkingTime::WorkingDays(2), CUTOFF),
            t(5, 5, 17, 0)
        );
    }

    #[test]
    fn worked_example_3_makeup_saturday() {
        let c = Calendar::demo_2023();
        let u = c.default_unit();
        assert_eq!(
            u.due(t(5, 4, 9, 0), WorkingTime::WorkingDays(2), CUTOFF),
            t(5, 6, 17, 0)
        );
    }

    #[test]
    fn worked_example_4_supplement_pause() {
        let c = Calendar::demo_2023();
        let u = c.default_unit();
        let due = u.due(t(3, 6, 9, 0), WorkingTime::WorkingDays(5), CUTOFF);
        assert_eq!(due, t(3, 13, 17, 0));
        let paused = u.office_minutes_between(t(3, 8, 10, 0), t(3, 15, 14, 0));
        assert_eq!(paused, 42 * 60);
        assert_eq!(paused, 2520);
        assert_eq!(u.add_office_minutes(due, paused), t(3, 21, 9, 0));
    }

    #[test]
    fn after_hours_receipt_counts_from_next_working_morning() {
        let c = Calendar::demo_2023();
        let u = c.default_unit();
        // Friday 17:30 before Tết: the next working morning is Friday 27 January.
        assert_eq!(u.clock_start(t(1, 13, 17, 30)), t(1, 16, 7, 0));
        assert_eq!(u.clock_start(t(1, 19, 18, 0)), t(1, 27, 7, 0));
        assert_eq!(u.clock_start(t(3, 6, 6, 15)), t(3, 6, 7, 0));
        assert_eq!(u.clock_start(t(3, 6, 12, 0)), t(3, 6, 13, 30));
        assert_eq!(u.clock_start(t(3, 6, 9, 0)), t(3, 6, 9, 0));
        // Received Monday 18:00 with 1 working day: receipt day is Tuesday, due Wednesday.
        assert_eq!(
            u.due(t(3, 6, 18, 0), WorkingTime::WorkingDays(1), CUTOFF),
            t(3, 8, 17, 0)
        );
    }

    #[test]
    fn same_day_rule_cutoff_at_15_00() {
        let c = Calendar::demo_2023();
        let u = c.default_unit();
        let same = WorkingTime::WorkingDays(0);
        assert_eq!(u.due(t(3, 6, 14, 59), same, CUTOFF), t(3, 6, 17, 0));
        assert_eq!(u.due(t(3, 6, 15, 0), same, CUTOFF), t(3, 6, 17, 0));
        assert_eq!(u.due(t(3, 6, 15, 1), same, CUTOFF), t(3, 7, 17, 0));
        // Friday after 15:00: the next working day is Monday.
        assert_eq!(u.due(t(3, 10, 16, 0), same, CUTOFF), t(3, 13, 17, 0));
        // After hours: counting starts next morning, which is before 15:00.
        assert_eq!(u.due(t(3, 6, 19, 0), same, CUTOFF), t(3, 7, 17, 0));
    }

    #[test]
    fn office_hours_and_calendar_day_periods() {
        let c = Calendar::demo_2023();
        let u = c.default_unit();
        // 8 office hours from Monday 09:00 -> Tuesday 09:00.
        assert_eq!(
            u.due(t(3, 6, 9, 0), WorkingTime::OfficeHours(8), CUTOFF),
            t(3, 7, 9, 0)
        );
        // 4 office hours from Monday 10:00: 1h30 morning + 2h30 afternoon -> 16:00.
        assert_eq!(
            u.due(t(3, 6, 10, 0), WorkingTime::OfficeHours(4), CUTOFF),
            t(3, 6, 16, 0)
        );
        // 5 calendar days from Tuesday 25 April: Sunday 30 April is off, and so is the whole
        // holiday up to 3 May: the end moves to Thursday 4 May's close.
        assert_eq!(
            u.due(t(4, 25, 9, 0), WorkingTime::CalendarDays(5), CUTOFF),
            t(5, 4, 17, 0)
        );
        // 3 calendar days from Monday 6 March: Thursday 9 March.
        assert_eq!(
            u.due(t(3, 6, 9, 0), WorkingTime::CalendarDays(3), CUTOFF),
            t(3, 9, 17, 0)
        );
    }

    #[test]
    fn a_year_without_published_calendar_uses_weekends_only() {
        let c = Calendar::demo_2023();
        assert!(!c.has_year(2024));
        // 1 January 2024 is a Monday; without a published calendar it is a working day.
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        assert!(c.is_working_day(d));
        assert!(!c.is_working_day(NaiveDate::from_ymd_opt(2024, 1, 6).unwrap()));
        let u = c.default_unit();
        // Friday 29 Dec 2023 09:00 + 2 working days -> Tuesday 2 Jan 2024 close.
        assert_eq!(
            u.due(t(12, 29, 9, 0), WorkingTime::WorkingDays(2), CUTOFF),
            at_local(2024, 1, 2, 17, 0).unwrap()
        );
    }

    #[test]
    fn unit_office_hours_follow_their_effective_date() {
        let unit: UnitCode = "000.00.00.G10".parse().unwrap();
        let mut c = Calendar::demo_2023();
        c.apply(&CalendarEvent::OfficeHoursSet {
            unit: unit.clone(),
            sessions: vec![
                Session {
                    start_minute: 7 * 60 + 30,
                    end_minute: 11 * 60 + 30,
                },
                Session {
                    start_minute: 13 * 60,
                    end_minute: 16 * 60 + 30,
                },
            ],
            effective: NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
        });
        let u = c.unit(&unit);
        assert_eq!(
            u.close_of(NaiveDate::from_ymd_opt(2023, 5, 31).unwrap()),
            Some(t(5, 31, 17, 0))
        );
        assert_eq!(
            u.close_of(NaiveDate::from_ymd_opt(2023, 6, 1).unwrap()),
            Some(t(6, 1, 16, 30))
        );
        assert_eq!(u.clock_start(t(6, 1, 7, 0)), t(6, 1, 7, 30));
        // Invalid sessions are ignored by the fold.
        c.apply(&CalendarEvent::OfficeHoursSet {
            unit: unit.clone(),
            sessions: vec![],
            effective: NaiveDate::from_ymd_opt(2023, 7, 1).unwrap(),
        });
        assert_eq!(
            c.unit(&unit)
                .close_of(NaiveDate::from_ymd_opt(2023, 7, 3).unwrap()),
            Some(t(7, 3, 16, 30))
        );
    }

    #[test]
    fn parse_hhmm_accepts_clock_times_only() {
        assert_eq!(parse_hhmm("15:00"), Some(900));
        assert_eq!(parse_hhmm("07:30"), Some(450));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("7h"), None);
    }

    fn any_instant() -> impl Strategy<Value = Timestamp> {
        // 2022-12-01 .. 2024-02-01, minute resolution.
        let lo = at_local(2022, 12, 1, 0, 0).unwrap().0;
        let hi = at_local(2024, 2, 1, 0, 0).unwrap().0;
        (0..(hi - lo) / 60_000).prop_map(move |m| Timestamp(lo + m * 60_000))
    }

    fn any_time() -> impl Strategy<Value = WorkingTime> {
        prop_oneof![
            (0u16..30).prop_map(WorkingTime::WorkingDays),
            (1u16..80).prop_map(WorkingTime::OfficeHours),
            (0u16..40).prop_map(WorkingTime::CalendarDays),
        ]
    }

    proptest! {
        #[test]
        fn due_never_falls_on_a_day_off(at in any_instant(), wt in any_time()) {
            let c = Calendar::demo_2023();
            let u = c.default_unit();
            let due = u.due(at, wt, CUTOFF);
            prop_assert!(c.is_working_day(local_date(due)), "due {} on a day off", local(due));
            prop_assert!(due >= at);
        }

        #[test]
        fn adding_office_minutes_is_monotonic(a in any_instant(), b in any_instant(), m1 in 0u32..20_000, m2 in 0u32..20_000) {
            let c = Calendar::demo_2023();
            let u = c.default_unit();
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            let (m1, m2) = if m1 <= m2 { (m1, m2) } else { (m2, m1) };
            prop_assert!(u.add_office_minutes(a, m1) <= u.add_office_minutes(b, m1));
            prop_assert!(u.add_office_minutes(a, m1) <= u.add_office_minutes(a, m2));
            prop_assert!(u.add_office_minutes(a, m1) >= a);
            // Counting the minutes back gives the same office time.
            let end = u.add_office_minutes(a, m1);
            prop_assert_eq!(u.office_minutes_between(a, end), m1);
        }

        #[test]
        fn a_pause_of_zero_changes_nothing(at in any_instant()) {
            let c = Calendar::demo_2023();
            let u = c.default_unit();
            prop_assert_eq!(u.add_office_minutes(at, 0), at);
            prop_assert_eq!(u.office_minutes_between(at, at), 0);
        }
    }
}
