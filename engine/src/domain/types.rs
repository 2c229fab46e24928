//! Domain value types that make illegal states unrepresentable: parse once at the edge
//! (`FromStr` / `new`), then carry the typed value everywhere.
//!
//! Stored types derive plain serde (no `tag`, `untagged`, `flatten` or `skip_serializing_if`:
//! bincode can encode those but not decode them).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a raw value could not become a domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {why}")]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
    pub why: &'static str,
}

fn parse_err(what: &'static str, value: &str, why: &'static str) -> ParseError {
    ParseError {
        what,
        value: value.chars().take(80).collect(),
        why,
    }
}

/// Millisecond UTC instant: the only time type stored in events (compact, total order,
/// no time-zone ambiguity). Wall-clock rendering happens in `calendar` with Asia/Ho_Chi_Minh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_utc(dt: chrono::DateTime<chrono::Utc>) -> Timestamp {
        Timestamp(dt.timestamp_millis())
    }
    pub fn to_utc(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.0).unwrap_or(chrono::DateTime::UNIX_EPOCH)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            self.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    }
}

/// Unit (agency) code of the national catalogue: `V1V2V3.Z1Z2.Y1Y2.MX1X2`,
/// e.g. `000.00.00.G10` or `000.33.22.H05`: three digits, two digits, two digits, then one
/// letter and two digits, separated by dots.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UnitCode(String);

impl UnitCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UnitCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        let ok = b.len() == 13
            && b[0..3].iter().all(u8::is_ascii_digit)
            && b[3] == b'.'
            && b[4..6].iter().all(u8::is_ascii_digit)
            && b[6] == b'.'
            && b[7..9].iter().all(u8::is_ascii_digit)
            && b[9] == b'.'
            && b[10].is_ascii_uppercase()
            && b[11..13].iter().all(u8::is_ascii_digit);
        if ok {
            Ok(UnitCode(s.to_owned()))
        } else {
            Err(parse_err(
                "unit code",
                s,
                "expected V1V2V3.Z1Z2.Y1Y2.MX1X2, e.g. 000.00.00.G10",
            ))
        }
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Dossier code (Thông tư 01/2018/TT-VPCP, Điều 19): `<unit code>-<YYMMDD>-<4-digit daily
/// sequence>`, e.g. `000.00.00.G10-230126-0001`. The sequence starts at 0001 each day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DossierCode(String);

impl DossierCode {
    /// The highest daily number of a code: four digits.
    pub const MAX_SEQUENCE: u16 = 9999;

    /// Builds the code for the `sequence`-th dossier of `unit` on `date` (1..=9999).
    pub fn new(
        unit: &UnitCode,
        date: chrono::NaiveDate,
        sequence: u16,
    ) -> Result<DossierCode, ParseError> {
        if !(1..=DossierCode::MAX_SEQUENCE).contains(&sequence) {
            return Err(parse_err(
                "dossier sequence",
                &sequence.to_string(),
                "must be 1..=9999",
            ));
        }
        Ok(DossierCode(format!(
            "{}-{}-{:04}",
            unit,
            date.format("%y%m%d"),
            sequence
        )))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn unit(&self) -> UnitCode {
        UnitCode(self.0[..13].to_owned())
    }
    pub fn date(&self) -> chrono::NaiveDate {
        // Validated at parse time; the fallback is unreachable for a parsed code.
        chrono::NaiveDate::parse_from_str(&self.0[14..20], "%y%m%d").unwrap_or_default()
    }
    pub fn sequence(&self) -> u16 {
        self.0[21..25].parse().unwrap_or(0)
    }
}

impl FromStr for DossierCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        const WHY: &str = "expected <unit code>-<YYMMDD>-<NNNN>, e.g. 000.00.00.G10-230126-0001";
        if s.len() != 25 || !s.is_char_boundary(13) || !s.is_ascii() {
            return Err(parse_err("dossier code", s, WHY));
        }
        let unit: UnitCode = s[..13]
            .parse()
            .map_err(|_| parse_err("dossier code", s, WHY))?;
        let b = s.as_bytes();
        if b[13] != b'-'
            || b[20] != b'-'
            || !b[14..20].iter().all(u8::is_ascii_digit)
            || !b[21..25].iter().all(u8::is_ascii_digit)
        {
            return Err(parse_err("dossier code", s, WHY));
        }
        let date = chrono::NaiveDate::parse_from_str(&s[14..20], "%y%m%d")
            .map_err(|_| parse_err("dossier code", s, "the YYMMDD part is not a date"))?;
        let seq: u16 = s[21..25]
            .parse()
            .map_err(|_| parse_err("dossier code", s, WHY))?;
        DossierCode::new(&unit, date, seq)
    }
}

impl fmt::Display for DossierCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may do what. One staff member may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// cán bộ tiếp nhận (Bộ phận tiếp nhận và trả kết quả)
    Reception,
    /// công chức chuyên môn
    Specialist,
    /// lãnh đạo thường trực (Chủ tịch / Phó Chủ tịch UBND)
    Leader,
    /// công dân, tổ chức (through the online portal, or via reception)
    Citizen,
    /// thanh tra, kiểm tra
    Auditor,
    /// cán bộ theo dõi CCHC
    Planner,
    /// system administrator
    Admin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Reception,
        Role::Specialist,
        Role::Leader,
        Role::Citizen,
        Role::Auditor,
        Role::Planner,
        Role::Admin,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reception => "reception",
            Role::Specialist => "specialist",
            Role::Leader => "leader",
            Role::Citizen => "citizen",
            Role::Auditor => "auditor",
            Role::Planner => "planner",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| parse_err("role", s, "expected one of reception, specialist, leader, citizen, auditor, planner, admin"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A short lower-case identifier: `[a-z0-9][a-z0-9-_.]{0,63}`. Used for fields, staff ids,
/// procedure ids, workflow ids, plan ids.
fn check_slug(what: &'static str, s: &str) -> Result<(), ParseError> {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(parse_err(what, s, "expected 1-64 characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit"))
    }
}

macro_rules! slug_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(String);
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                check_slug($what, s)?;
                Ok($name(s.to_owned()))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_type!(
    /// Lĩnh vực: a field of work (e.g. `ho-tich` civil status, `chung-thuc` certification, `dat-dai` land).
    Field, "field");
slug_type!(
    /// A staff member's id (e.g. `tn-01`).
    StaffId, "staff id");
slug_type!(
    /// A procedure's catalogue code (mã TTHC), lower-cased (e.g. `1.001193`).
    ProcedureId, "procedure id");
slug_type!(
    /// A workflow definition's id (e.g. `standard`, `lien-thong`, `same-day`).
    WorkflowId, "workflow id");
slug_type!(
    /// A reform plan's id (e.g. `35-kh-ubnd-2023`).
    PlanId, "plan id");
slug_type!(
    /// A task's id within a plan.
    TaskId, "task id");
slug_type!(
    /// A rule set's id (e.g. `nd61-2018`, `nd118-2025`).
    RuleSetId, "rule set id");

/// A procedure as of one of its versions: what a dossier is received under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProcedureRef {
    pub id: ProcedureId,
    pub version: u32,
}

/// How a dossier reached the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// trực tiếp tại Bộ phận một cửa
    Desk,
    /// trực tuyến qua Cổng dịch vụ công
    Online,
    /// qua dịch vụ bưu chính công ích
    Postal,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Desk => "desk",
            Channel::Online => "online",
            Channel::Postal => "postal",
        }
    }
}

impl FromStr for Channel {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "desk" => Ok(Channel::Desk),
            "online" => Ok(Channel::Online),
            "postal" => Ok(Channel::Postal),
            _ => Err(parse_err("channel", s, "expected desk, online or postal")),
        }
    }
}

/// A legal processing time. Zero working days means "same day" (the 15:00 rule applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WorkingTime {
    /// ngày làm việc
    WorkingDays(u16),
    /// giờ làm việc (office hours)
    OfficeHours(u16),
    /// ngày (calendar days; the end still moves to the next working day's close)
    CalendarDays(u16),
}

impl WorkingTime {
    /// Longest processing time a procedure may declare, per unit. No one-stop procedure takes a
    /// year; the limit keeps every due date well inside the calendar's scan horizon (ten years),
    /// beyond which a due date could not be computed.
    pub const MAX_WORKING_DAYS: u16 = 250;
    pub const MAX_OFFICE_HOURS: u16 = 250 * 8;
    pub const MAX_CALENDAR_DAYS: u16 = 366;

    /// Whether the amount is within the limits above.
    pub fn within_limits(self) -> bool {
        match self {
            WorkingTime::WorkingDays(n) => n <= Self::MAX_WORKING_DAYS,
            WorkingTime::OfficeHours(n) => n <= Self::MAX_OFFICE_HOURS,
            WorkingTime::CalendarDays(n) => n <= Self::MAX_CALENDAR_DAYS,
        }
    }
}

/// An amount in Vietnamese đồng.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Vnd(pub u64);

/// A staff member as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    pub id: StaffId,
    pub name: String,
    pub unit: UnitCode,
    pub roles: Vec<Role>,
    pub fields: Vec<Field>,
    pub active: bool,
}

impl Staff {
    pub fn has_role(&self, role: Role) -> bool {
        self.active && self.roles.contains(&role)
    }
    pub fn has_field(&self, field: &Field) -> bool {
        self.fields.contains(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dossier_code_round_trips_and_rejects_garbage() {
        let unit: UnitCode = "000.00.00.G10".parse().unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2023, 1, 26).unwrap();
        let code = DossierCode::new(&unit, date, 1).unwrap();
        assert_eq!(code.as_str(), "000.00.00.G10-230126-0001");
        let parsed: DossierCode = "000.00.00.G10-230126-0001".parse().unwrap();
        assert_eq!(parsed, code);
        assert_eq!(parsed.unit(), unit);
        assert_eq!(parsed.date(), date);
        assert_eq!(parsed.sequence(), 1);
        for bad in [
            "",
            "000.00.00.G10-230126-001",
            "000.00.00.G10-231326-0001",
            "000.00.00.G10-230126-0000",
            "00.00.00.G10-230126-00001",
            "000.00.00.g10-230126-0001",
            "ÂÂÂ.00.00.G10-230126-000",
        ] {
            assert!(bad.parse::<DossierCode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_parse_and_print() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("mayor".parse::<Role>().is_err());
    }

    #[test]
    fn slugs_reject_spaces_and_upper_case() {
        assert!("ho-tich".parse::<Field>().is_ok());
        assert!("Ho tich".parse::<Field>().is_err());
        assert!("".parse::<StaffId>().is_err());
    }
}
