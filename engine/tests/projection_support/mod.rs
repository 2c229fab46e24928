//! Helpers shared by the projection tests: hand-built dossier events.
#![allow(dead_code)]

use chrono::{NaiveDate, TimeZone};
use motcua_engine::domain::events::{
    Applicant, DossierChange, DossierEvent, Event, Receipt, Recorded, Submission,
};
use motcua_engine::domain::personal::ApplicantRecord;
use motcua_engine::domain::types::{
    Channel, DossierCode, Field, ProcedureRef, Role, Timestamp, UnitCode, Vnd, WorkingTime,
};
use motcua_engine::domain::SecretDigest;

pub fn unit() -> UnitCode {
    "000.00.00.G10".parse().unwrap()
}

pub fn field(f: &str) -> Field {
    f.parse().unwrap()
}

/// Local (UTC+7) wall time.
pub fn local(y: i32, m: u32, d: u32, h: u32, mi: u32) -> Timestamp {
    let off = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    Timestamp::from_utc(
        off.with_ymd_and_hms(y, m, d, h, mi, 0)
            .unwrap()
            .with_timezone(&chrono::Utc),
    )
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn code(y: i32, m: u32, d: u32, seq: u16) -> DossierCode {
    DossierCode::new(&unit(), date(y, m, d), seq).unwrap()
}

/// The lookup secret of the fixtures' dossiers.
pub const SECRET: &str = "bi-mat";

/// The digest of [`SECRET`], computed once (each is an Argon2id evaluation, and the fixtures
/// make thousands of dossiers).
pub fn secret_digest() -> SecretDigest {
    static DIGEST: std::sync::LazyLock<SecretDigest> = std::sync::LazyLock::new(|| {
        SecretDigest::argon2id(SECRET, [5; 16]).expect("fixed parameters")
    });
    DIGEST.clone()
}

/// In clear: these histories are written straight to the log, not through the command service
/// (which seals applicants); a fold reads either the same.
pub fn applicant() -> ApplicantRecord {
    ApplicantRecord::Clear(Applicant {
        name: "Trần Thị B".into(),
        id_number: "001199000002".into(),
        phone: "0911000000".into(),
        address: "Thôn 2".into(),
    })
}

pub fn receipt(f: &str, channel: Channel, due: Timestamp, at: Timestamp) -> DossierChange {
    DossierChange::Received(Receipt {
        procedure: ProcedureRef {
            id: "1.001193".parse().unwrap(),
            version: 1,
        },
        procedure_name: "Đăng ký khai sinh".into(),
        field: field(f),
        unit: unit(),
        channel,
        workflow: "standard".parse().unwrap(),
        rule_set: "nd61-2018".parse().unwrap(),
        applicant: applicant(),
        documents: vec!["Tờ khai".into()],
        processing_time: WorkingTime::WorkingDays(3),
        clock_start: at,
        due,
        lookup_secret: secret_digest(),
        fees: Vnd(0),
    })
}

pub fn submission(f: &str) -> DossierChange {
    DossierChange::SubmittedOnline(Submission {
        procedure: ProcedureRef {
            id: "1.001193".parse().unwrap(),
            version: 1,
        },
        field: field(f),
        unit: unit(),
        channel: Channel::Online,
        applicant: applicant(),
        documents: vec!["Tờ khai".into()],
        lookup_secret: secret_digest(),
    })
}

/// Builds a log-like sequence: seq in push order, per-stream versions.
#[derive(Default)]
pub struct History {
    pub events: Vec<Recorded>,
}

impl History {
    pub fn push(&mut self, c: &DossierCode, at: Timestamp, role: Role, change: DossierChange) {
        let stream = motcua_engine::log::StreamId::dossier(c).to_string();
        let version = self.events.iter().filter(|e| e.stream == stream).count() as u64 + 1;
        self.events.push(Recorded {
            seq: self.events.len() as u64 + 1,
            stream,
            version,
            recorded_at: at,
            actor: match role {
                Role::Specialist => "cm-01".into(),
                Role::Leader => "ld-01".into(),
                Role::Citizen => "citizen:cong-dvc".into(),
                _ => "tn-01".into(),
            },
            role,
            event: Event::Dossier(DossierEvent {
                code: c.clone(),
                at,
                change,
            }),
        });
    }

    /// Events sorted by business time (seq renumbered), like the log would hold them.
    pub fn in_time_order(mut self) -> Vec<Recorded> {
        self.events.sort_by_key(|e| match &e.event {
            Event::Dossier(d) => d.at,
            _ => e.recorded_at,
        });
        let mut versions = std::collections::HashMap::new();
        for (i, e) in self.events.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
            let v = versions.entry(e.stream.clone()).or_insert(0u64);
            *v += 1;
            e.version = *v;
        }
        self.events
    }
}
