//! Between the log and the domain: what a stored [`Envelope`] means to the domain.
//!
//! The log stores a payload's bytes under an event type and a schema version and knows nothing
//! of dossiers; the domain folds [`Recorded`] events and knows nothing of the log. This module is
//! the one place that turns the first into the second, for every reader (the command services,
//! the projection runner, the HTTP layer, the auditor's replay): the schema version is checked,
//! the payload decoded with the codec's limits, the actor's role parsed, and any failure is one
//! [`DecodeError`] naming the seq.
//!
//! Readers that hand envelopes to another thread before decoding them (the projection runner's
//! catch-up, `motcua-replay verify`) copy the fields the domain reads into an
//! [`EnvelopeBatch`]: one reused buffer, so the allocations of a decoded event are made and freed
//! by the thread that folds it. An [`EnvelopeView`] (borrowed from an envelope or a batch) is
//! what both decoders read. [`encode_events`] is the way in: a command's events as the log
//! appends them.

use std::ops::Range;

use thiserror::Error;

use crate::codec::{self, CodecError, Upcast};
use crate::domain::events::{Event, Recorded, SCHEMA_VERSION};
use crate::domain::events_v1::{EventV1, EventV2};
use crate::domain::types::{Role, Timestamp};
use crate::idempotency::CommandKey;
use crate::log::{Actor, Envelope, NewEvent};

/// A stored event the domain cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("event seq {seq}: {problem}")]
pub struct DecodeError {
    pub seq: u64,
    pub problem: DecodeProblem,
}

/// What is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeProblem {
    /// A schema version this build has no decoder for.
    #[error("unknown schema version {0}")]
    SchemaVersion(u16),
    /// The payload does not decode to an [`Event`].
    #[error("{0}")]
    Payload(CodecError),
    /// The envelope's actor role is not one of the domain's roles.
    #[error("{0}")]
    Role(String),
}

/// The domain event of a payload written with `schema_version`: today's, or an older one
/// upcast (a stored payload is never rewritten; its meaning today is computed on every read).
pub fn decode_payload(seq: u64, schema_version: u16, payload: &[u8]) -> Result<Event, DecodeError> {
    codec::decode_payload::<Event>(schema_version, payload).map_err(|e| DecodeError {
        seq,
        problem: match e {
            CodecError::UnknownSchema { version, .. } => DecodeProblem::SchemaVersion(version),
            e => DecodeProblem::Payload(e),
        },
    })
}

impl Upcast for Event {
    const CURRENT_SCHEMA: u16 = SCHEMA_VERSION;
    const TYPE_NAME: &'static str = "Event";

    /// Version 1: a dossier's lookup secret was its unsalted SHA-256, read as
    /// `SecretDigest::Sha256`; versions 1 and 2: its applicant was in clear, read as
    /// `ApplicantRecord::Clear` (`engine/src/domain/events_v1.rs`).
    fn upcast(schema_version: u16, bytes: &[u8]) -> Result<Event, CodecError> {
        match schema_version {
            1 => Ok(codec::decode::<EventV1>(bytes)?.into()),
            2 => Ok(codec::decode::<EventV2>(bytes)?.into()),
            version => Err(CodecError::UnknownSchema {
                type_name: Self::TYPE_NAME,
                version,
            }),
        }
    }
}

/// The domain event an envelope holds.
pub fn decode_event(env: &Envelope) -> Result<Event, DecodeError> {
    EnvelopeView::of(env).event()
}

/// An envelope as the domain's folds see it.
pub fn decode_recorded(env: &Envelope) -> Result<Recorded, DecodeError> {
    EnvelopeView::of(env).recorded()
}

/// The fields of an envelope the domain reads, borrowed (from an [`Envelope`] or an
/// [`EnvelopeBatch`]).
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeView<'a> {
    pub seq: u64,
    pub stream: &'a str,
    pub version: u64,
    pub event_type: &'a str,
    pub schema_version: u16,
    pub recorded_at_ms: i64,
    /// The actor's staff id.
    pub staff: &'a str,
    /// The actor's role, as stored.
    pub role: &'a str,
    pub payload: &'a [u8],
}

impl<'a> EnvelopeView<'a> {
    pub fn of(env: &'a Envelope) -> EnvelopeView<'a> {
        EnvelopeView {
            seq: env.seq,
            stream: env.stream.as_str(),
            version: env.version,
            event_type: &env.event_type,
            schema_version: env.schema_version,
            recorded_at_ms: env.recorded_at_ms,
            staff: &env.actor.staff,
            role: &env.actor.role,
            payload: &env.payload,
        }
    }

    /// The domain event (schema version checked, payload decoded).
    pub fn event(&self) -> Result<Event, DecodeError> {
        decode_payload(self.seq, self.schema_version, self.payload)
    }

    /// The role the actor acted in.
    pub fn role(&self) -> Result<Role, DecodeError> {
        self.role
            .parse()
            .map_err(|e: crate::domain::types::ParseError| DecodeError {
                seq: self.seq,
                problem: DecodeProblem::Role(e.to_string()),
            })
    }

    /// The event as the domain's folds see it.
    pub fn recorded(&self) -> Result<Recorded, DecodeError> {
        let event = self.event()?;
        Ok(Recorded {
            seq: self.seq,
            stream: self.stream.to_owned(),
            version: self.version,
            recorded_at: Timestamp(self.recorded_at_ms),
            actor: self.staff.to_owned(),
            role: self.role()?,
            event,
        })
    }
}

/// Where one envelope's fields lie in an [`EnvelopeBatch`].
#[derive(Debug)]
struct BatchEntry {
    seq: u64,
    version: u64,
    schema_version: u16,
    recorded_at_ms: i64,
    stream: Range<usize>,
    event_type: Range<usize>,
    staff: Range<usize>,
    role: Range<usize>,
    payload: Range<usize>,
}

/// The fields of many envelopes copied into one reused buffer, to be decoded later (on the
/// thread that folds them). Handing decoded envelopes or events across threads instead kept
/// their many small allocations alive there, and the allocator's cost of freeing them in
/// bursts was as large as the work itself (BENCHMARKS.md, the projections' second round).
#[derive(Debug, Default)]
pub struct EnvelopeBatch {
    bytes: Vec<u8>,
    entries: Vec<BatchEntry>,
}

impl EnvelopeBatch {
    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Seq of the last envelope pushed.
    pub fn last_seq(&self) -> Option<u64> {
        self.entries.last().map(|e| e.seq)
    }

    fn put(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        start..self.bytes.len()
    }

    /// Copies the fields of `env` the domain reads.
    pub fn push(&mut self, env: &Envelope) {
        let entry = BatchEntry {
            seq: env.seq,
            version: env.version,
            schema_version: env.schema_version,
            recorded_at_ms: env.recorded_at_ms,
            stream: self.put(env.stream.as_str().as_bytes()),
            event_type: self.put(env.event_type.as_bytes()),
            staff: self.put(env.actor.staff.as_bytes()),
            role: self.put(env.actor.role.as_bytes()),
            payload: self.put(&env.payload),
        };
        self.entries.push(entry);
    }

    /// The `i`-th envelope pushed.
    pub fn get(&self, i: usize) -> Option<EnvelopeView<'_>> {
        self.entries.get(i).map(|e| self.view(e))
    }

    /// The envelopes in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = EnvelopeView<'_>> {
        self.entries.iter().map(|e| self.view(e))
    }

    fn view(&self, e: &BatchEntry) -> EnvelopeView<'_> {
        // The strings were whole `str`s when copied in, so they are valid UTF-8 within the
        // buffer's bounds; the fallback (an empty string) is unreachable.
        let text = |r: &Range<usize>| {
            self.bytes
                .get(r.clone())
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default()
        };
        EnvelopeView {
            seq: e.seq,
            stream: text(&e.stream),
            version: e.version,
            event_type: text(&e.event_type),
            schema_version: e.schema_version,
            recorded_at_ms: e.recorded_at_ms,
            staff: text(&e.staff),
            role: text(&e.role),
            payload: self.bytes.get(e.payload.clone()).unwrap_or_default(),
        }
    }
}

/// A command's events as the log appends them, in today's schema: under the ids `key` derives
/// (the i-th event gets `key.event_id(i)`; each names the first as its correlation id and the
/// key's request mark, if any, as its causation id), or under ids the log assigns when there
/// is no key.
pub fn encode_events(events: &[Event], actor: &Actor, key: Option<&CommandKey>) -> Vec<NewEvent> {
    let correlation_id = key.map(|k| k.event_id(0));
    events
        .iter()
        .zip(0u32..)
        .map(|(e, i)| NewEvent {
            event_id: key.map(|k| k.event_id(i)),
            event_type: e.event_type().to_owned(),
            schema_version: SCHEMA_VERSION,
            actor: actor.clone(),
            correlation_id,
            // The request that caused them (its fingerprint's mark), for a keyed retry
            // answered from the log to recognise another request sent with the same key.
            causation_id: key.and_then(CommandKey::request_mark),
            payload: codec::encode(e),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{
        Applicant, CalendarEvent, DossierChange, DossierEvent, DraftKind, StaffEvent, YearCalendar,
    };
    use crate::domain::events_v1::{
        DossierChangeOld, DossierChangeV1, DossierEventOld, DossierEventV1, EventOld, ReceiptV1,
        ReceiptV2, SubmissionV1,
    };
    use crate::domain::personal::{ApplicantRecord, SealedApplicant, SubjectId};
    use crate::domain::secret::SecretDigest;
    use crate::domain::types::{Channel, DossierCode, ProcedureRef, Vnd, WorkingTime};
    use crate::log::{Actor, EventId, StreamId};
    use sha2::Digest;

    fn envelope(event: &Event, role: &str, schema_version: u16) -> Envelope {
        Envelope {
            seq: 12,
            stream: StreamId::calendar_year(2024),
            version: 3,
            event_id: EventId([1; 16]),
            event_type: event.event_type().to_owned(),
            schema_version,
            recorded_at_ms: 1_700_000_000_000,
            actor: Actor {
                staff: "qt-01".into(),
                role: role.into(),
            },
            correlation_id: None,
            causation_id: None,
            payload: codec::encode(event),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn calendar() -> Event {
        Event::Calendar(CalendarEvent::YearPublished(YearCalendar {
            year: 2024,
            days_off: vec![],
            makeup_working_days: vec![],
            note: String::new(),
        }))
    }

    #[test]
    fn a_valid_envelope_decodes_into_its_recorded_event() {
        let rec = decode_recorded(&envelope(&calendar(), "admin", SCHEMA_VERSION)).unwrap();
        assert_eq!(rec.seq, 12);
        assert_eq!(rec.stream, "calendar/2024");
        assert_eq!((rec.version, rec.recorded_at.0), (3, 1_700_000_000_000));
        assert_eq!((rec.actor.as_str(), rec.role), ("qt-01", Role::Admin));
        assert_eq!(rec.event, calendar());
    }

    #[test]
    fn a_batch_gives_back_what_was_pushed() {
        let mut batch = EnvelopeBatch::default();
        let envs = [
            envelope(&calendar(), "admin", SCHEMA_VERSION),
            envelope(&calendar(), "leader", 3),
        ];
        for e in &envs {
            batch.push(e);
        }
        assert_eq!((batch.len(), batch.last_seq()), (2, Some(12)));
        for (view, env) in batch.iter().zip(&envs) {
            let direct = EnvelopeView::of(env);
            assert_eq!(
                (
                    view.stream,
                    view.event_type,
                    view.staff,
                    view.role,
                    view.payload
                ),
                (
                    direct.stream,
                    direct.event_type,
                    direct.staff,
                    direct.role,
                    direct.payload
                )
            );
            assert_eq!(view.recorded(), decode_recorded(env));
        }
        assert!(batch.get(2).is_none());
        batch.clear();
        assert!(batch.is_empty());
    }

    fn dossier(change: DossierChange) -> Event {
        Event::Dossier(DossierEvent {
            code: "000.00.00.G10-230126-0001".parse().unwrap(),
            at: Timestamp(1_674_700_000_000),
            change,
        })
    }

    /// One of each dossier change whose shape schema versions 2 and 3 kept.
    fn unchanged_changes() -> Vec<DossierChange> {
        let (s, t) = (|| "x".to_owned(), Timestamp(1_674_800_000_000));
        vec![
            DossierChange::GuidedToComplete {
                missing: vec![s()],
                note: s(),
            },
            DossierChange::RefusedToReceive {
                reason: s(),
                legal_basis: s(),
            },
            DossierChange::Assigned {
                specialist: "cm-01".parse().unwrap(),
                note: s(),
            },
            DossierChange::SupplementRequested {
                items: vec![s()],
                reason: s(),
            },
            DossierChange::SupplementReceived {
                paused_office_minutes: 90,
                new_due: t,
                note: s(),
            },
            DossierChange::Forwarded {
                agency: s(),
                note: s(),
            },
            DossierChange::OtherAgencyAnswered { note: s() },
            DossierChange::PaymentRequested {
                amount: Vnd(50_000),
                note: s(),
            },
            DossierChange::PaymentRecorded {
                paused_office_minutes: 30,
                new_due: t,
                receipt_number: s(),
            },
            DossierChange::SubmittedForSigning {
                draft: DraftKind::Refusal,
                note: s(),
            },
            DossierChange::Approved { note: s() },
            DossierChange::RefusalSigned { reasons: s() },
            DossierChange::SentBack { comments: s() },
            DossierChange::Apologised {
                reason: s(),
                new_appointment: t,
            },
            DossierChange::HandedOver { note: s() },
            DossierChange::Withdrawn { reason: s() },
            DossierChange::Stopped {
                reason: s(),
                legal_basis: s(),
            },
        ]
    }

    #[test]
    fn every_event_but_a_submission_and_a_receipt_reads_the_same_under_every_version() {
        let mut events: Vec<Event> = unchanged_changes().into_iter().map(dossier).collect();
        events.push(calendar());
        events.push(Event::Staff(StaffEvent::TokenRevoked {
            staff: "tn-01".parse().unwrap(),
            token_id: "t1".into(),
            at: Timestamp(1),
        }));
        for e in events {
            let bytes = codec::encode(&e);
            assert_eq!(decode_payload(1, 1, &bytes), Ok(e.clone()), "{e:?}");
            assert_eq!(decode_payload(1, 2, &bytes), Ok(e.clone()), "{e:?}");
            assert_eq!(decode_payload(1, SCHEMA_VERSION, &bytes), Ok(e));
        }
    }

    fn applicant() -> Applicant {
        Applicant {
            name: "Nguyễn Văn A".into(),
            id_number: "001090000001".into(),
            phone: "0912345678".into(),
            address: "Thôn 1".into(),
        }
    }

    /// A receipt and a submission recorded under schema version 1 (an unsalted SHA-256 of the
    /// secret) are read as `SecretDigest::Sha256`, which still verifies their secret.
    #[test]
    fn a_schema_1_digest_is_upcast_and_still_proves_its_secret() {
        let sha: [u8; 32] = sha2::Sha256::digest(b"ABCDEFGH23").into();
        let procedure = ProcedureRef {
            id: "1.001193".parse().unwrap(),
            version: 1,
        };
        let code: DossierCode = "000.00.00.G10-230126-0001".parse().unwrap();
        let receipt = EventV1::Dossier(DossierEventV1 {
            code: code.clone(),
            at: Timestamp(1_674_700_000_000),
            change: DossierChangeV1::Received(ReceiptV1 {
                procedure: procedure.clone(),
                procedure_name: "Đăng ký khai sinh".into(),
                field: "ho-tich".parse().unwrap(),
                unit: code.unit(),
                channel: Channel::Desk,
                workflow: "standard".parse().unwrap(),
                rule_set: "nd61-2018".parse().unwrap(),
                applicant: applicant(),
                documents: vec!["Tờ khai".into()],
                processing_time: WorkingTime::WorkingDays(3),
                clock_start: Timestamp(1_674_700_000_000),
                due: Timestamp(1_674_900_000_000),
                lookup_secret_sha256: sha,
                fees: Vnd(0),
            }),
        });
        let submission = EventV1::Dossier(DossierEventV1 {
            code: code.clone(),
            at: Timestamp(1_674_600_000_000),
            change: DossierChangeV1::SubmittedOnline(SubmissionV1 {
                procedure,
                field: "ho-tich".parse().unwrap(),
                unit: code.unit(),
                channel: Channel::Online,
                applicant: applicant(),
                documents: vec!["Tờ khai".into()],
                lookup_secret_sha256: sha,
            }),
        });
        for v1 in [receipt, submission] {
            let bytes = codec::encode(&v1);
            let event = decode_payload(5, 1, &bytes).unwrap();
            let digest = match &event {
                Event::Dossier(DossierEvent {
                    change: DossierChange::Received(r),
                    ..
                }) => &r.lookup_secret,
                Event::Dossier(DossierEvent {
                    change: DossierChange::SubmittedOnline(s),
                    ..
                }) => &s.lookup_secret,
                other => panic!("{other:?}"),
            };
            assert_eq!(digest, &SecretDigest::Sha256(sha));
            assert!(digest.prove("ABCDEFGH23").is_some_and(|p| p.proves(digest)));
            assert!(digest.prove("ABCDEFGH24").is_none());
            // The stored bytes are never rewritten: read under today's version they are not
            // this event, which is why the envelope's version decides how they are read.
            assert_ne!(decode_payload(5, SCHEMA_VERSION, &bytes).ok(), Some(event));
        }
    }

    /// A receipt recorded under schema version 2 (the applicant in clear) is read with its
    /// applicant as `ApplicantRecord::Clear`; today's receipts store it sealed.
    #[test]
    fn a_schema_2_applicant_is_read_in_clear_and_todays_is_sealed() {
        let code: DossierCode = "000.00.00.G10-230126-0001".parse().unwrap();
        let digest = SecretDigest::Sha256([9; 32]);
        let v2 = ReceiptV2 {
            procedure: ProcedureRef {
                id: "1.001193".parse().unwrap(),
                version: 1,
            },
            procedure_name: "Đăng ký khai sinh".into(),
            field: "ho-tich".parse().unwrap(),
            unit: code.unit(),
            channel: Channel::Desk,
            workflow: "standard".parse().unwrap(),
            rule_set: "nd61-2018".parse().unwrap(),
            applicant: applicant(),
            documents: vec!["Tờ khai".into()],
            processing_time: WorkingTime::WorkingDays(3),
            clock_start: Timestamp(1_674_700_000_000),
            due: Timestamp(1_674_900_000_000),
            lookup_secret: digest.clone(),
            fees: Vnd(0),
        };
        let old: EventOld<crate::domain::events_v1::SubmissionV2, ReceiptV2> =
            EventOld::Dossier(DossierEventOld {
                code: code.clone(),
                at: Timestamp(1_674_700_000_000),
                change: DossierChangeOld::Received(v2.clone()),
            });
        let bytes = codec::encode(&old);
        let event = decode_payload(5, 2, &bytes).unwrap();
        let Event::Dossier(DossierEvent {
            change: DossierChange::Received(r),
            ..
        }) = &event
        else {
            panic!("{event:?}");
        };
        assert_eq!(r.applicant, ApplicantRecord::Clear(applicant()));
        assert_eq!(r.lookup_secret, digest);
        // Today's shape with a sealed applicant: its stored bytes hold the seal's fields raw
        // (variant 1, the 16 subject bytes, the 24 nonce bytes, the ciphertext).
        let sealed = SealedApplicant {
            subject: SubjectId([5; 16]),
            nonce: [6; 24],
            ciphertext: vec![7; 3],
        };
        let bytes = codec::encode(&ApplicantRecord::Sealed(sealed.clone()));
        assert_eq!(
            hex::encode(&bytes),
            format!(
                "01{}{}03{}",
                "05".repeat(16),
                "06".repeat(24),
                "07".repeat(3)
            )
        );
        assert_eq!(
            codec::decode::<ApplicantRecord>(&bytes),
            Ok(ApplicantRecord::Sealed(sealed))
        );
    }

    /// The stored encoding of a digest is the one `derive(Serialize)` gives (its `Serialize`
    /// is written by hand to show people the scheme only).
    #[test]
    fn a_secret_digest_is_stored_as_its_derived_shape() {
        #[derive(serde::Serialize)]
        enum Derived {
            Sha256([u8; 32]),
            Argon2id { salt: [u8; 16], hash: [u8; 32] },
        }
        let old = SecretDigest::Sha256([3; 32]);
        assert_eq!(
            codec::encode(&old),
            codec::encode(&Derived::Sha256([3; 32]))
        );
        let new = SecretDigest::Argon2id {
            salt: [1; 16],
            hash: [2; 32],
        };
        let bytes = codec::encode(&new);
        assert_eq!(
            bytes,
            codec::encode(&Derived::Argon2id {
                salt: [1; 16],
                hash: [2; 32]
            })
        );
        // Variant index 1, then the 16 salt bytes and the 32 hash bytes, raw.
        assert_eq!(
            hex::encode(&bytes),
            format!("01{}{}", "01".repeat(16), "02".repeat(32))
        );
        assert_eq!(codec::decode::<SecretDigest>(&bytes), Ok(new));
        assert_eq!(codec::decode::<SecretDigest>(&codec::encode(&old)), Ok(old));
    }

    #[test]
    fn each_problem_names_the_seq() {
        let e = decode_event(&envelope(&calendar(), "admin", 4)).unwrap_err();
        assert_eq!(e.problem, DecodeProblem::SchemaVersion(4));
        assert_eq!(e.to_string(), "event seq 12: unknown schema version 4");
        let e = decode_event(&envelope(&calendar(), "admin", 0)).unwrap_err();
        assert_eq!(e.problem, DecodeProblem::SchemaVersion(0));
        let e = decode_recorded(&envelope(&calendar(), "mayor", SCHEMA_VERSION)).unwrap_err();
        assert!(matches!(e.problem, DecodeProblem::Role(_)), "{e}");
        let mut env = envelope(&calendar(), "admin", SCHEMA_VERSION);
        env.payload.truncate(3);
        let e = decode_recorded(&env).unwrap_err();
        assert!(matches!(e.problem, DecodeProblem::Payload(_)), "{e}");
        assert_eq!(e.seq, 12);
    }
}
