//! The dossier read model: one [`DossierRecord`] per dossier (the dossier view, the public
//! lookup and the statistics facts all read it) plus secondary indexes that are pure functions
//! of the record ([`derived_entries`]): live queues, approval inboxes, specialists' work lists,
//! the received-time list, and the open/finished-by-week indexes the statistics scan.
//!
//! Keys (tree `proj.dossiers.3`; see `keys` for the encodings):
//! - `r` code -> record
//! - `q` unit field\0 state due code -> [`QueueItem`] (every non-terminal state)
//! - `a` unit field\0 due code -> [`InboxItem`] (AwaitingApproval)
//! - `w` specialist\0 due code -> [`WorkItem`] (assigned, still being worked on)
//! - `l` unit time code -> () (time = received_at, or submitted_at before receipt)
//! - `o` unit code -> () (received and not finished: "open now")
//! - `m` unit week code -> () (finished: one entry per 7-day bucket from receipt to finish)
//! - `u` unit -> (), `f` unit field\0 -> () (units and fields seen, for unfiltered queries)
//! - `g` unit time code -> level code (a citizen's rating, `engine/src/domain/rating.rs`)

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::domain::events::{DossierChange, DossierEvent, DraftKind, Event, Recorded};
use crate::domain::rating::RatingEvent;
use crate::domain::secret::SecretDigest;
use crate::domain::types::{
    Channel, DossierCode, Field, ProcedureRef, StaffId, Timestamp, UnitCode,
};
use crate::domain::workflow::Phase;

use super::keys::{key, local_date, push_part, ts_be, week_index};
use super::store::{FastMap, FastSet, KvRead, Pack, Packing, Writes};
use super::{Projection, ProjectionError};

/// A dossier's state as the read models store it: the domain's [`Phase`] minus `None` (a
/// record exists only once a dossier does), mapped one to one by [`DossierState::phase`] and
/// [`DossierState::from_phase`]; the projection tests check it equals the domain fold's phase
/// on histories produced by `decide`.
///
/// Why the projection does not store `Phase` itself: this enum is a storage format (it is
/// bincode-encoded in every record and its position in [`DossierState::ALL`] is a byte of the
/// queue keys, so variants may only be appended), while `Phase` is the domain's working type
/// (not `Deserialize`, free to be reordered). The national status code is the workflows'
/// (`Workflow::status_code`, per workflow TOML); the events carry no workflow definition, so a
/// pure fold cannot ask it, and [`DossierState::national_code`] is the one mapping the builtin
/// workflows share, pinned to them by a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DossierState {
    Submitted,
    Received,
    Refused,
    InProcessing,
    AwaitingSupplement,
    AtOtherAgency,
    AwaitingPayment,
    AwaitingApproval,
    ResultReady,
    Rejected,
    Returned,
    Withdrawn,
    Stopped,
    /// Presented at the desk and guided to complete it: never received.
    NotReceived,
}

impl DossierState {
    pub const ALL: [DossierState; 14] = [
        DossierState::Submitted,
        DossierState::Received,
        DossierState::Refused,
        DossierState::InProcessing,
        DossierState::AwaitingSupplement,
        DossierState::AtOtherAgency,
        DossierState::AwaitingPayment,
        DossierState::AwaitingApproval,
        DossierState::ResultReady,
        DossierState::Rejected,
        DossierState::Returned,
        DossierState::Withdrawn,
        DossierState::Stopped,
        DossierState::NotReceived,
    ];

    /// The domain phase this state is.
    pub fn phase(self) -> Phase {
        match self {
            DossierState::Submitted => Phase::Submitted,
            DossierState::Received => Phase::Received,
            DossierState::Refused => Phase::Refused,
            DossierState::InProcessing => Phase::InProcessing,
            DossierState::AwaitingSupplement => Phase::AwaitingSupplement,
            DossierState::AtOtherAgency => Phase::AtOtherAgency,
            DossierState::AwaitingPayment => Phase::AwaitingPayment,
            DossierState::AwaitingApproval => Phase::AwaitingApproval,
            DossierState::ResultReady => Phase::ResultReady,
            DossierState::Rejected => Phase::Rejected,
            DossierState::Returned => Phase::Returned,
            DossierState::Withdrawn => Phase::Withdrawn,
            DossierState::Stopped => Phase::Stopped,
            DossierState::NotReceived => Phase::NotReceived,
        }
    }

    /// The state of a domain phase (`None` for `Phase::None`: no dossier, no record).
    pub fn from_phase(phase: Phase) -> Option<DossierState> {
        DossierState::ALL.into_iter().find(|s| s.phase() == phase)
    }

    /// The national portal's status code (1-10).
    pub fn national_code(self) -> u8 {
        match self {
            DossierState::Submitted => 1,
            DossierState::Received => 2,
            DossierState::Refused | DossierState::NotReceived => 3,
            DossierState::InProcessing
            | DossierState::AtOtherAgency
            | DossierState::AwaitingApproval => 4,
            DossierState::AwaitingSupplement => 5,
            DossierState::AwaitingPayment => 6,
            DossierState::Withdrawn => 7,
            DossierState::Stopped => 8,
            DossierState::ResultReady | DossierState::Rejected => 9,
            DossierState::Returned => 10,
        }
    }

    /// The national status name, as the citizen sees it.
    pub fn national_name_vi(self) -> &'static str {
        match self.national_code() {
            1 => "Mới đăng ký",
            2 => "Được tiếp nhận",
            3 => "Không được tiếp nhận",
            4 => "Đang xử lý",
            5 => "Yêu cầu bổ sung giấy tờ",
            6 => "Yêu cầu thực hiện nghĩa vụ tài chính",
            7 => "Công dân yêu cầu rút hồ sơ",
            8 => "Dừng xử lý",
            9 => "Đã xử lý xong",
            _ => "Đã trả kết quả",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DossierState::Submitted => "submitted",
            DossierState::Received => "received",
            DossierState::Refused => "refused",
            DossierState::InProcessing => "in_processing",
            DossierState::AwaitingSupplement => "awaiting_supplement",
            DossierState::AtOtherAgency => "at_other_agency",
            DossierState::AwaitingPayment => "awaiting_payment",
            DossierState::AwaitingApproval => "awaiting_approval",
            DossierState::ResultReady => "result_ready",
            DossierState::Rejected => "rejected",
            DossierState::Returned => "returned",
            DossierState::Withdrawn => "withdrawn",
            DossierState::Stopped => "stopped",
            DossierState::NotReceived => "not_received",
        }
    }

    /// Still on some desk's queue (everything but Returned, Refused, NotReceived, Withdrawn,
    /// Stopped).
    pub fn in_queue(self) -> bool {
        !matches!(
            self,
            DossierState::Returned
                | DossierState::Refused
                | DossierState::NotReceived
                | DossierState::Withdrawn
                | DossierState::Stopped
        )
    }

    /// The clock is stopped (waiting for the citizen's supplement or payment).
    pub fn is_paused(self) -> bool {
        matches!(
            self,
            DossierState::AwaitingSupplement | DossierState::AwaitingPayment
        )
    }

    /// Being processed: counts toward "overdue now" once its due time has passed.
    pub fn is_processing(self) -> bool {
        matches!(
            self,
            DossierState::Received
                | DossierState::InProcessing
                | DossierState::AtOtherAgency
                | DossierState::AwaitingApproval
        )
    }

    fn tag(self) -> u8 {
        // Position in ALL: stable because variants are only appended.
        DossierState::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or(0) as u8
    }
}

/// How a resolved dossier is judged: finish local date against due local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    Early,
    OnTime,
    Late,
}

impl Verdict {
    pub fn judge(finished: Timestamp, due: Timestamp) -> Verdict {
        let (f, d) = (local_date(finished), local_date(due));
        match f.cmp(&d) {
            std::cmp::Ordering::Less => Verdict::Early,
            std::cmp::Ordering::Equal => Verdict::OnTime,
            std::cmp::Ordering::Greater => Verdict::Late,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Early => "early",
            Verdict::OnTime => "on_time",
            Verdict::Late => "late",
        }
    }
}

/// How a dossier left processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FinishKind {
    /// Approved (result signed).
    Approved,
    /// Refusal signed (counts as resolved).
    Rejected,
    Withdrawn,
    Stopped,
    /// Refused at reception (never received).
    Refused,
}

impl FinishKind {
    pub fn is_resolved(self) -> bool {
        matches!(self, FinishKind::Approved | FinishKind::Rejected)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplementEntry {
    pub requested_at: Timestamp,
    pub items: Vec<String>,
    pub reason: String,
    pub received_at: Option<Timestamp>,
    pub paused_office_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEntry {
    pub requested_at: Timestamp,
    pub amount: u64,
    pub recorded_at: Option<Timestamp>,
    pub paused_office_minutes: u32,
    pub receipt_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApologyEntry {
    pub at: Timestamp,
    pub by: String,
    pub reason: String,
    pub new_appointment: Timestamp,
}

/// The draft waiting for a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningEntry {
    pub at: Timestamp,
    pub by: String,
    pub draft: DraftKind,
    pub note: String,
}

/// Everything the read models know about one dossier, updated by the fold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DossierRecord {
    pub code: DossierCode,
    pub state: DossierState,
    pub unit: UnitCode,
    pub field: Option<Field>,
    pub procedure: Option<ProcedureRef>,
    pub procedure_name: String,
    pub channel: Channel,
    pub submitted_at: Option<Timestamp>,
    pub received_at: Option<Timestamp>,
    /// Due time fixed at receipt.
    pub original_due: Option<Timestamp>,
    /// Current due time (after pauses).
    pub due: Option<Timestamp>,
    pub paused_office_minutes: u32,
    /// When the current pause started (awaiting supplement or payment).
    pub paused_since: Option<Timestamp>,
    pub supplements: Vec<SupplementEntry>,
    pub payments: Vec<PaymentEntry>,
    pub apologies: Vec<ApologyEntry>,
    pub specialist: Option<StaffId>,
    pub signing: Option<SigningEntry>,
    pub resolved_at: Option<Timestamp>,
    pub verdict: Option<Verdict>,
    /// Resolved, withdrawn, stopped or refused at reception.
    pub finished_at: Option<Timestamp>,
    pub finish: Option<FinishKind>,
    pub returned_at: Option<Timestamp>,
    /// The digest of the lookup secret, for the public lookup (`None` before the first event).
    pub lookup_secret: Option<SecretDigest>,
    /// (from, state): the state timeline, for "state at the period's end".
    pub states: Vec<(Timestamp, DossierState)>,
    /// (from, due): the due timeline, for "due at the period's end".
    pub dues: Vec<(Timestamp, Timestamp)>,
    pub last_seq: u64,
    pub version: u64,
}

impl DossierRecord {
    fn new(code: &DossierCode) -> DossierRecord {
        DossierRecord {
            unit: code.unit(),
            code: code.clone(),
            state: DossierState::Submitted,
            field: None,
            procedure: None,
            procedure_name: String::new(),
            channel: Channel::Desk,
            submitted_at: None,
            received_at: None,
            original_due: None,
            due: None,
            paused_office_minutes: 0,
            paused_since: None,
            supplements: Vec::new(),
            payments: Vec::new(),
            apologies: Vec::new(),
            specialist: None,
            signing: None,
            resolved_at: None,
            verdict: None,
            finished_at: None,
            finish: None,
            returned_at: None,
            lookup_secret: None,
            states: Vec::new(),
            dues: Vec::new(),
            last_seq: 0,
            version: 0,
        }
    }

    /// State at instant `t` (None: the dossier did not exist yet).
    pub fn state_at(&self, t: Timestamp) -> Option<DossierState> {
        self.states
            .iter()
            .take_while(|(from, _)| *from <= t)
            .last()
            .map(|(_, s)| *s)
    }

    /// Due time in force at instant `t`.
    pub fn due_at(&self, t: Timestamp) -> Option<Timestamp> {
        self.dues
            .iter()
            .take_while(|(from, _)| *from <= t)
            .last()
            .map(|(_, d)| *d)
    }

    /// Whether a dossier paused at `t` was already past its due time when the pause began
    /// (a stopped clock does not make an overdue dossier on time again).
    pub fn pause_started_overdue(&self, t: Timestamp) -> bool {
        let since = self
            .states
            .iter()
            .take_while(|(from, _)| *from <= t)
            .last()
            .map(|(from, _)| *from);
        match (since, self.due_at(t)) {
            (Some(s), Some(d)) => s > d,
            _ => false,
        }
    }

    /// Open (received, not finished) at instant `t`.
    pub fn open_at(&self, t: Timestamp) -> bool {
        match self.received_at {
            Some(r) if r < t => self.finished_at.is_none_or(|f| f >= t),
            _ => false,
        }
    }

    fn set_state(&mut self, at: Timestamp, state: DossierState) {
        self.state = state;
        self.states.push((at, state));
    }

    fn finish(&mut self, at: Timestamp, kind: FinishKind) {
        if self.finished_at.is_none() {
            self.finished_at = Some(at);
            self.finish = Some(kind);
        }
    }

    /// Folds one dossier event. Never fails: the log holds only events the domain accepted, and
    /// a fold that refused one would stall every read model behind it.
    pub fn apply(&mut self, rec: &Recorded, ev: &DossierEvent) {
        let at = ev.at;
        match &ev.change {
            DossierChange::SubmittedOnline(s) => {
                self.unit = s.unit.clone();
                self.field = Some(s.field.clone());
                self.procedure = Some(s.procedure.clone());
                self.channel = s.channel;
                self.submitted_at = Some(at);
                self.lookup_secret = Some(s.lookup_secret.clone());
                self.set_state(at, DossierState::Submitted);
            }
            DossierChange::Received(r) => {
                self.unit = r.unit.clone();
                self.field = Some(r.field.clone());
                self.procedure = Some(r.procedure.clone());
                self.procedure_name = r.procedure_name.clone();
                self.channel = r.channel;
                self.received_at = Some(at);
                self.original_due = Some(r.due);
                self.due = Some(r.due);
                self.dues.push((at, r.due));
                self.lookup_secret = Some(r.lookup_secret.clone());
                self.set_state(at, DossierState::Received);
            }
            DossierChange::GuidedToComplete { .. } => {
                // As the domain: an online submission stays with the citizen to complete (still
                // Submitted); a dossier presented at the desk is simply not received.
                if self.submitted_at.is_none() || self.channel != Channel::Online {
                    self.set_state(at, DossierState::NotReceived);
                }
            }
            DossierChange::RefusedToReceive { .. } => {
                self.set_state(at, DossierState::Refused);
                self.finish(at, FinishKind::Refused);
            }
            DossierChange::Assigned { specialist, .. } => {
                self.specialist = Some(specialist.clone());
                self.set_state(at, DossierState::InProcessing);
            }
            DossierChange::SupplementRequested { items, reason } => {
                self.supplements.push(SupplementEntry {
                    requested_at: at,
                    items: items.clone(),
                    reason: reason.clone(),
                    received_at: None,
                    paused_office_minutes: 0,
                });
                self.paused_since = Some(at);
                self.set_state(at, DossierState::AwaitingSupplement);
            }
            DossierChange::SupplementReceived {
                paused_office_minutes,
                new_due,
                ..
            } => {
                if let Some(s) = self.supplements.last_mut() {
                    s.received_at = Some(at);
                    s.paused_office_minutes = *paused_office_minutes;
                }
                self.resume(at, *paused_office_minutes, *new_due);
            }
            DossierChange::Forwarded { .. } => {
                self.set_state(at, DossierState::AtOtherAgency);
            }
            DossierChange::OtherAgencyAnswered { .. } => {
                self.set_state(at, DossierState::InProcessing);
            }
            DossierChange::PaymentRequested { amount, .. } => {
                self.payments.push(PaymentEntry {
                    requested_at: at,
                    amount: amount.0,
                    recorded_at: None,
                    paused_office_minutes: 0,
                    receipt_number: String::new(),
                });
                self.paused_since = Some(at);
                self.set_state(at, DossierState::AwaitingPayment);
            }
            DossierChange::PaymentRecorded {
                paused_office_minutes,
                new_due,
                receipt_number,
            } => {
                if let Some(p) = self.payments.last_mut() {
                    p.recorded_at = Some(at);
                    p.paused_office_minutes = *paused_office_minutes;
                    p.receipt_number = receipt_number.clone();
                }
                self.resume(at, *paused_office_minutes, *new_due);
            }
            DossierChange::SubmittedForSigning { draft, note: n } => {
                self.signing = Some(SigningEntry {
                    at,
                    by: rec.actor.clone(),
                    draft: *draft,
                    note: n.clone(),
                });
                self.set_state(at, DossierState::AwaitingApproval);
            }
            DossierChange::Approved { .. } => {
                self.resolve(at, FinishKind::Approved);
                self.set_state(at, DossierState::ResultReady);
            }
            DossierChange::RefusalSigned { .. } => {
                self.resolve(at, FinishKind::Rejected);
                self.set_state(at, DossierState::Rejected);
            }
            DossierChange::SentBack { .. } => {
                self.signing = None;
                self.set_state(at, DossierState::InProcessing);
            }
            DossierChange::Apologised {
                reason,
                new_appointment,
            } => {
                self.apologies.push(ApologyEntry {
                    at,
                    by: rec.actor.clone(),
                    reason: reason.clone(),
                    new_appointment: *new_appointment,
                });
            }
            DossierChange::HandedOver { .. } => {
                self.returned_at = Some(at);
                self.set_state(at, DossierState::Returned);
            }
            DossierChange::Withdrawn { .. } => {
                self.paused_since = None;
                self.finish(at, FinishKind::Withdrawn);
                self.set_state(at, DossierState::Withdrawn);
            }
            DossierChange::Stopped { .. } => {
                self.paused_since = None;
                self.finish(at, FinishKind::Stopped);
                self.set_state(at, DossierState::Stopped);
            }
            // A file changes no figure, queue or state; the dossier's page lists its files
            // from the dossier's own stream, so the stored record keeps its format.
            DossierChange::FileAttached(_) => {}
        }
        self.last_seq = rec.seq;
        self.version = rec.version;
    }

    fn resume(&mut self, at: Timestamp, paused: u32, new_due: Timestamp) {
        self.paused_office_minutes = self.paused_office_minutes.saturating_add(paused);
        self.paused_since = None;
        self.due = Some(new_due);
        self.dues.push((at, new_due));
        self.set_state(at, DossierState::InProcessing);
    }

    fn resolve(&mut self, at: Timestamp, kind: FinishKind) {
        self.resolved_at = Some(at);
        self.verdict = self.due.map(|d| Verdict::judge(at, d));
        self.signing = None;
        self.finish(at, kind);
    }
}

/// A live-queue entry's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    pub received_at: Option<Timestamp>,
    pub specialist: Option<StaffId>,
    /// Paused after its due time had already passed: still overdue.
    pub overdue_on_pause: bool,
}

/// An approval-inbox entry's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxItem {
    pub specialist: String,
    pub draft: DraftKind,
    pub note: String,
    pub submitted_at: Timestamp,
    pub procedure_name: String,
}

/// A work-list entry's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    pub state: DossierState,
    pub unit: UnitCode,
    pub procedure_name: String,
}

pub(crate) const T_RECORD: u8 = b'r';
pub(crate) const T_QUEUE: u8 = b'q';
pub(crate) const T_INBOX: u8 = b'a';
pub(crate) const T_WORK: u8 = b'w';
pub(crate) const T_LIST: u8 = b'l';
pub(crate) const T_OPEN: u8 = b'o';
pub(crate) const T_MONTH: u8 = b'm';
pub(crate) const T_UNIT: u8 = b'u';
pub(crate) const T_FIELD: u8 = b'f';
/// A citizen's rating: `g` unit, rating time, dossier code -> the level's code
/// (`engine/src/domain/rating.rs`); written once, never changed (one rating per dossier).
pub(crate) const T_RATING: u8 = b'g';

/// The rating index's key of `code` rated at `at` for `unit`.
pub(crate) fn rating_key(unit: &UnitCode, at: Timestamp, code: &DossierCode) -> Vec<u8> {
    let mut k = unit_prefix(T_RATING, unit);
    k.extend_from_slice(&ts_be(at));
    k.extend_from_slice(code.as_str().as_bytes());
    k
}

/// The dossier read model's packing (see [`Packing`]). These are the rows a history piles up (a
/// rebuild of 1,000,000 events wrote 166,000 records, 161,000 list rows and 184,000 week rows),
/// so they share physical keys; the live queues, inboxes and work lists stay one key per row
/// (they are few, and change often). What one write costs is bounded by a constant, whatever
/// the volume of a unit's day or week:
/// - records (`r` + code), read row by row: a bucket per code but its last digit
///   (`unit-YYMMDD-SSS`), so at most 10 records share one;
/// - the received-time list (`l` + unit + time + code) and the finished-by-week index (`m` +
///   unit + week + code), read by range: content-defined chunks under the unit ([`Pack::Chunks`],
///   64 rows each on average).
pub fn packing(tag: u8) -> Option<Pack> {
    match tag {
        T_RECORD => Some(Pack::Bucket(RECORD_BUCKET_LEN)),
        T_LIST | T_MONTH => Some(Pack::Chunks {
            prefix: 1 + 13,
            mean: INDEX_CHUNK_MEAN_ROWS,
        }),
        _ => None,
    }
}

/// A record bucket's key: `r` and a dossier code but its last digit.
pub const RECORD_BUCKET_LEN: usize = 1 + 24;
/// Rows per chunk of the list and week indexes, on average.
pub const INDEX_CHUNK_MEAN_ROWS: u64 = 64;

pub(crate) fn record_key(code: &DossierCode) -> Vec<u8> {
    let mut k = key(T_RECORD);
    k.extend_from_slice(code.as_str().as_bytes());
    k
}

pub(crate) fn queue_prefix(unit: &UnitCode, field: &Field, state: Option<DossierState>) -> Vec<u8> {
    let mut k = key(T_QUEUE);
    k.extend_from_slice(unit.as_str().as_bytes());
    push_part(&mut k, field.as_str());
    if let Some(s) = state {
        k.push(s.tag());
    }
    k
}

pub(crate) fn inbox_prefix(unit: &UnitCode, field: Option<&Field>) -> Vec<u8> {
    let mut k = key(T_INBOX);
    k.extend_from_slice(unit.as_str().as_bytes());
    if let Some(f) = field {
        push_part(&mut k, f.as_str());
    }
    k
}

pub(crate) fn work_prefix(specialist: &str) -> Vec<u8> {
    let mut k = key(T_WORK);
    push_part(&mut k, specialist);
    k
}

pub(crate) fn unit_prefix(tag: u8, unit: &UnitCode) -> Vec<u8> {
    let mut k = key(tag);
    k.extend_from_slice(unit.as_str().as_bytes());
    k
}

pub(crate) fn week_key(unit: &UnitCode, week: u32) -> Vec<u8> {
    let mut k = unit_prefix(T_MONTH, unit);
    k.extend_from_slice(&week.to_be_bytes());
    k
}

/// The sort time of the dossier in its queue: the due time, or for a submission not yet
/// received (no due time yet) the submission time, so reception works oldest first.
fn queue_time(r: &DossierRecord) -> Timestamp {
    r.due.or(r.submitted_at).unwrap_or(Timestamp(0))
}

/// Every key/value the read model holds for this dossier (the record included). A pure function
/// of the record: what makes incremental folds and rebuilds byte-identical. With
/// `encode_record` false the record's own value is left empty (enough to diff old keys away
/// without paying for an encoding nobody writes).
///
/// A list rather than a map: a dossier has a handful of entries (about eight, more for a long
/// finished one), each under a distinct key, and building a map of them cost more than the
/// linear look-ups `finish` does.
pub fn derived_entries(r: &DossierRecord, encode_record: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = DerivedEntries(Vec::with_capacity(12));
    let code = r.code.as_str().as_bytes();
    let value = if encode_record {
        encode_exact(r)
    } else {
        Vec::new()
    };
    out.insert(record_key(&r.code), value);
    out.insert(unit_prefix(T_UNIT, &r.unit), Vec::new());

    if let Some(field) = &r.field {
        let mut fk = unit_prefix(T_FIELD, &r.unit);
        push_part(&mut fk, field.as_str());
        out.insert(fk, Vec::new());

        if r.state.in_queue() {
            let mut k = queue_prefix(&r.unit, field, Some(r.state));
            k.extend_from_slice(&ts_be(queue_time(r)));
            k.extend_from_slice(code);
            let item = QueueItem {
                received_at: r.received_at,
                specialist: r.specialist.clone(),
                overdue_on_pause: r.state.is_paused()
                    && matches!((r.paused_since, r.due), (Some(p), Some(d)) if p > d),
            };
            out.insert(k, codec::encode(&item));
        }
        if r.state == DossierState::AwaitingApproval {
            if let (Some(signing), Some(due)) = (&r.signing, r.due) {
                let mut k = inbox_prefix(&r.unit, Some(field));
                k.extend_from_slice(&ts_be(due));
                k.extend_from_slice(code);
                let item = InboxItem {
                    specialist: signing.by.clone(),
                    draft: signing.draft,
                    note: signing.note.clone(),
                    submitted_at: signing.at,
                    procedure_name: r.procedure_name.clone(),
                };
                out.insert(k, codec::encode(&item));
            }
        }
    }
    if let Some(spec) = &r.specialist {
        let working = matches!(
            r.state,
            DossierState::InProcessing
                | DossierState::AwaitingSupplement
                | DossierState::AtOtherAgency
                | DossierState::AwaitingPayment
                | DossierState::AwaitingApproval
        );
        if working {
            let mut k = work_prefix(spec.as_str());
            k.extend_from_slice(&ts_be(queue_time(r)));
            k.extend_from_slice(code);
            let item = WorkItem {
                state: r.state,
                unit: r.unit.clone(),
                procedure_name: r.procedure_name.clone(),
            };
            out.insert(k, codec::encode(&item));
        }
    }
    if let Some(t) = r.received_at.or(r.submitted_at) {
        let mut k = unit_prefix(T_LIST, &r.unit);
        k.extend_from_slice(&ts_be(t));
        k.extend_from_slice(code);
        out.insert(k, Vec::new());
    }
    if let Some(received) = r.received_at {
        match r.finished_at {
            None => {
                let mut k = unit_prefix(T_OPEN, &r.unit);
                k.extend_from_slice(code);
                out.insert(k, Vec::new());
            }
            Some(finished) => {
                let first = week_index(local_date(received));
                let last = week_index(local_date(finished)).max(first);
                for m in first..=last {
                    let mut k = week_key(&r.unit, m);
                    k.extend_from_slice(code);
                    out.insert(k, Vec::new());
                }
            }
        }
    }
    out.0
}

/// A record's encoding in an allocation of exactly its size. Encoding straight into a fresh
/// vector grew it by doubling (six or seven reallocations for a few hundred bytes: half of
/// the encode's cost in a rebuild); this encodes into one reused buffer per thread and copies
/// the result out once.
fn encode_exact(r: &DossierRecord) -> Vec<u8> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            codec::encode_into(r, &mut buf);
            buf.as_slice().to_vec()
        }
        // Unreachable (nothing re-enters while the buffer is borrowed); plain encode then.
        Err(_) => codec::encode(r),
    })
}

/// The entries of one dossier while [`derived_entries`] collects them (keys are distinct).
struct DerivedEntries(Vec<(Vec<u8>, Vec<u8>)>);

impl DerivedEntries {
    fn insert(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.0.push((k, v));
    }
}

fn is_shared(k: &[u8]) -> bool {
    matches!(k.first(), Some(&T_UNIT) | Some(&T_FIELD))
}

/// Loads a dossier's committed record.
pub fn load_record(
    base: &dyn KvRead,
    code: &DossierCode,
) -> Result<Option<DossierRecord>, ProjectionError> {
    let k = record_key(code);
    match base.get(&k)? {
        None => Ok(None),
        Some(bytes) => codec::decode(&bytes)
            .map(Some)
            .map_err(|source| ProjectionError::Corrupt {
                key: code.to_string(),
                source,
            }),
    }
}

/// The dossier projection (tree `proj.dossiers.3`; `proj.dossiers` held the layout before
/// [`packing`] bounded its buckets, `proj.dossiers.2` the records whose lookup digest was a
/// bare SHA-256).
#[derive(Debug, Default, Clone, Copy)]
pub struct DossierProjection;

/// A batch's touched dossiers: (committed record, folded record). Unordered: `finish` writes
/// into the ordered [`Writes`], so the order it visits them in changes no byte.
#[derive(Default)]
pub struct PendingDossiers {
    /// Boxed: a record is a few hundred bytes, and the map moves its entries when it grows.
    touched: FastMap<DossierCode, Box<(Option<DossierRecord>, DossierRecord)>>,
    /// Rating index rows of the batch (`T_RATING`).
    ratings: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Projection for DossierProjection {
    const NAME: &'static str = "dossiers.3";
    type Pending = PendingDossiers;
    const PACKING: Packing = packing;

    fn apply(
        &self,
        base: &dyn KvRead,
        pending: &mut PendingDossiers,
        rec: &Recorded,
    ) -> Result<(), ProjectionError> {
        let ev = match &rec.event {
            Event::Dossier(ev) => ev,
            Event::Rating(RatingEvent::Given {
                dossier,
                level,
                recorded_for,
                at,
                ..
            }) => {
                let k = rating_key(recorded_for, *at, dossier);
                pending.ratings.push((k, vec![level.code()]));
                return Ok(());
            }
            _ => return Ok(()),
        };
        // Two look-ups rather than `entry`, which would need an owned code (an allocation)
        // for every event, not only for a dossier's first in the batch.
        if !pending.touched.contains_key(&ev.code) {
            let old = load_record(base, &ev.code)?;
            let new = old.clone().unwrap_or_else(|| DossierRecord::new(&ev.code));
            pending
                .touched
                .insert(ev.code.clone(), Box::new((old, new)));
        }
        if let Some(entry) = pending.touched.get_mut(&ev.code) {
            entry.1.apply(rec, ev);
        }
        Ok(())
    }

    fn finish(
        &self,
        base: &dyn KvRead,
        pending: PendingDossiers,
        out: &mut Writes,
    ) -> Result<(), ProjectionError> {
        let mut shared_seen: FastSet<Vec<u8>> = FastSet::default();
        for (k, v) in pending.ratings {
            out.put(k, v);
        }
        for (_, entry) in pending.touched {
            let (old, new) = *entry;
            let new_entries = derived_entries(&new, true);
            let old_entries = old
                .as_ref()
                .map(|o| derived_entries(o, false))
                .unwrap_or_default();
            let old_value = |k: &[u8]| {
                old_entries
                    .iter()
                    .find(|(ok, _)| ok.as_slice() == k)
                    .map(|(_, v)| v)
            };
            for (k, _) in &old_entries {
                if !is_shared(k) && !new_entries.iter().any(|(nk, _)| nk == k) {
                    out.delete(k.clone());
                }
            }
            for (k, v) in new_entries {
                if is_shared(&k) {
                    // Unit and field registry keys are shared by many dossiers: written once,
                    // never removed.
                    // Each asked once per batch: after the first commit of a rebuild they are
                    // all committed, and asking sled again for every dossier cost ~0.2 s.
                    if shared_seen.contains(&k) {
                        continue;
                    }
                    if out.pending(&k).is_none() && base.get(&k)?.is_none() {
                        out.put(k.clone(), v);
                    }
                    shared_seen.insert(k);
                } else if k.first() == Some(&T_RECORD) || old_value(&k) != Some(&v) {
                    out.put(k, v);
                }
            }
        }
        Ok(())
    }
}

/// The projection on exactly what the service can emit: histories produced by the domain's
/// `decide` (through the domain test kit), folded incrementally and from scratch.
#[cfg(test)]
mod decide_tests {
    use super::*;
    use crate::domain::dossier::ActorRef;
    use crate::domain::testkit::{path, reference, steps_to};
    use crate::domain::types::Role;
    use crate::domain::workflow::Workflows;
    use crate::projection::{fold_into_mem, MemStore};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The national codes of the projection's states are the builtin workflows' codes.
    #[test]
    fn national_codes_match_the_builtin_workflows() {
        let workflows = Workflows::builtin().unwrap();
        let mut checked = 0;
        for state in DossierState::ALL {
            assert_eq!(DossierState::from_phase(state.phase()), Some(state));
            for wf in workflows.iter() {
                if let Some(code) = wf.status_code(state.phase()) {
                    assert_eq!(code, state.national_code(), "{:?} in {:?}", state, wf.id);
                    checked += 1;
                }
            }
        }
        assert!(checked >= 30, "{checked}");
        assert_eq!(DossierState::from_phase(Phase::None), None);
    }

    fn actor_of(a: &ActorRef) -> (String, Role) {
        match a {
            ActorRef::Staff(s) => (
                s.id.to_string(),
                s.roles.first().copied().unwrap_or(Role::Specialist),
            ),
            ActorRef::Citizen { account, .. } => (format!("citizen:{account}"), Role::Citizen),
        }
    }

    /// `n`-th dossier driven by `decide` into `phase`: its events under its own code, with the
    /// domain fold's final phase.
    fn dossier(
        n: u16,
        phase: Phase,
        draft: DraftKind,
    ) -> (Vec<(DossierEvent, String, Role)>, Phase) {
        let r = reference();
        let steps = steps_to(phase, draft);
        let actors: Vec<(String, Role)> = steps.iter().map(|(_, a, _)| actor_of(a)).collect();
        let mut out = Vec::new();
        let mut state = crate::domain::dossier::DossierState::default();
        for ((cmd, actor, now), who) in steps.into_iter().zip(actors) {
            let (next, evs) = crate::domain::testkit::run(&r, &state, cmd, &actor, now).unwrap();
            state = next;
            for mut ev in evs {
                ev.code = crate::domain::testkit::code(n);
                out.push((ev, who.0.clone(), who.1));
            }
        }
        let _ = path; // `path` is the same walk without the actors.
        (out, state.phase)
    }

    /// Ratings count in the period they are given (not the one their dossier was resolved
    /// in), by level, under the rating's unit, and through a field filter by the rated
    /// dossier's record; the satisfied share is very satisfied and satisfied over all.
    #[test]
    fn ratings_count_in_the_period_they_are_given() {
        use crate::domain::rating::{RatingEvent, SatisfactionLevel};
        use crate::domain::testkit::{code, other_unit, unit};
        use crate::projection::stats::{period_breakdown, period_report, GroupBy, StatsFilter};
        let mut events: Vec<Recorded> = Vec::new();
        let mut last_at = Timestamp(0);
        for n in [1u16, 2] {
            let (evs, phase) = dossier(n, Phase::Returned, DraftKind::Result);
            assert_eq!(phase, Phase::Returned);
            for (version, (ev, actor, role)) in evs.into_iter().enumerate() {
                last_at = last_at.max(ev.at);
                events.push(Recorded {
                    seq: events.len() as u64 + 1,
                    stream: crate::log::StreamId::dossier(&ev.code).to_string(),
                    version: version as u64 + 1,
                    recorded_at: ev.at,
                    actor,
                    role,
                    event: Event::Dossier(ev),
                });
            }
        }
        const DAY_MS: i64 = 86_400_000;
        let rated = [
            (1u16, SatisfactionLevel::Satisfied, last_at.0 + DAY_MS),
            (2, SatisfactionLevel::Dissatisfied, last_at.0 + 40 * DAY_MS),
        ];
        for (n, level, at) in rated {
            events.push(Recorded {
                seq: events.len() as u64 + 1,
                stream: crate::log::StreamId::rating(&code(n)).to_string(),
                version: 1,
                recorded_at: Timestamp(at),
                actor: "citizen:cd-1".into(),
                role: Role::Citizen,
                event: Event::Rating(RatingEvent::Given {
                    dossier: code(n),
                    level,
                    recorded_for: unit(),
                    comment: String::new(),
                    at: Timestamp(at),
                }),
            });
        }
        let mut store = MemStore::new();
        fold_into_mem(&DossierProjection, &mut store, &events, 7).unwrap();
        let store = crate::projection::store::PackedView::new(&store, packing);
        let first = local_date(Timestamp(rated[0].2));
        let second = local_date(Timestamp(rated[1].2));
        let all = StatsFilter::default();
        let sat = |from, to, filter: &StatsFilter| {
            period_report(&store, from, to, filter)
                .unwrap()
                .satisfaction
        };
        let one = sat(first, first, &all);
        assert_eq!(
            (
                one.ratings,
                one.very_satisfied,
                one.satisfied,
                one.dissatisfied
            ),
            (1, 0, 1, 0)
        );
        assert_eq!(one.satisfied_share_percent(), Some(100.0));
        let both = sat(first, second, &all);
        assert_eq!((both.ratings, both.satisfied, both.dissatisfied), (2, 1, 1));
        assert_eq!(both.satisfied_share_percent(), Some(50.0));
        let between = sat(first.succ_opt().unwrap(), second.pred_opt().unwrap(), &all);
        assert_eq!(between.ratings, 0);
        assert_eq!(between.satisfied_share_percent(), None);
        let elsewhere = StatsFilter {
            unit: Some(other_unit()),
            ..StatsFilter::default()
        };
        assert_eq!(sat(first, second, &elsewhere).ratings, 0);
        let record = load_record(&store, &code(1)).unwrap().unwrap();
        let field = StatsFilter {
            field: record.field.clone(),
            ..StatsFilter::default()
        };
        assert_eq!(sat(first, second, &field).ratings, 2);
        let no_field = StatsFilter {
            field: Some("khong-co".parse().unwrap()),
            ..StatsFilter::default()
        };
        assert_eq!(sat(first, second, &no_field).ratings, 0);
        // The breakdown: the dossiers resolved long before, their ratings in one group.
        let groups = period_breakdown(&store, second, second, &all, GroupBy::Field).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].report.satisfaction.dissatisfied, 1);
        assert!(groups[0].report.codes.is_empty());
    }

    fn phases() -> Vec<Phase> {
        Phase::ALL
            .into_iter()
            .filter(|p| *p != Phase::None)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Any mix of dossiers walked by `decide`: the record's state is the domain's phase,
        /// and any batch split ends in the same bytes as one batch.
        #[test]
        fn decide_histories_fold_to_the_domain_phase_in_any_batches(
            picks in proptest::collection::vec((0usize..14, any::<bool>()), 1..12),
            batch in 1usize..9,
        ) {
            let all = phases();
            let mut timeline = Vec::new();
            let mut expected = Vec::new();
            for (i, (p, result)) in picks.iter().enumerate() {
                let draft = if *result { DraftKind::Result } else { DraftKind::Refusal };
                let n = u16::try_from(i + 1).unwrap();
                let (evs, phase) = dossier(n, all[p % all.len()], draft);
                expected.push((crate::domain::testkit::code(n), phase));
                timeline.extend(evs);
            }
            // Interleave the dossiers as the log would: by business time (stable).
            timeline.sort_by_key(|(ev, _, _)| ev.at);
            let mut versions: BTreeMap<DossierCode, u64> = BTreeMap::new();
            let events: Vec<Recorded> = timeline
                .into_iter()
                .enumerate()
                .map(|(i, (ev, actor, role))| {
                    let v = versions.entry(ev.code.clone()).or_insert(0);
                    *v += 1;
                    Recorded {
                        seq: i as u64 + 1,
                        stream: crate::log::StreamId::dossier(&ev.code).to_string(),
                        version: *v,
                        recorded_at: ev.at,
                        actor,
                        role,
                        event: Event::Dossier(ev),
                    }
                })
                .collect();
            let mut whole = MemStore::new();
            fold_into_mem(&DossierProjection, &mut whole, &events, usize::MAX).unwrap();
            let mut split = MemStore::new();
            fold_into_mem(&DossierProjection, &mut split, &events, batch).unwrap();
            prop_assert_eq!(whole.dump(), split.dump());
            let view = crate::projection::store::PackedView::new(&whole, packing);
            for (code, phase) in expected {
                let r = load_record(&view, &code).unwrap().unwrap();
                prop_assert_eq!(r.state.phase(), phase, "{}", code);
            }
        }
    }
}
