//! The dossier as its events have made it ([`DossierState`]), the fold that makes it ([`apply`],
//! [`fold`]: pure and total, time comes from the events), and what is read off a state: its
//! workflow, its calendar, the office time it has used, its timeliness.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::{local_date, UnitCalendar};
use crate::domain::events::{DossierChange, DossierEvent, DraftKind, Receipt, Submission};
use crate::domain::reference::ReferenceData;
use crate::domain::secret::SecretDigest;
use crate::domain::types::{Channel, DossierCode, Field, StaffId, Timestamp, UnitCode, WorkflowId};
use crate::domain::workflow::{Action, Phase, Target};

/// The dossier as its events have made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DossierState {
    pub phase: Phase,
    pub code: Option<DossierCode>,
    /// Number of events applied (the stream version).
    pub version: u64,
    pub submission: Option<Submission>,
    pub submitted_at: Option<Timestamp>,
    pub receipt: Option<Receipt>,
    pub received_at: Option<Timestamp>,
    /// The current due time: the receipt's, plus every pause.
    pub due: Option<Timestamp>,
    pub specialist: Option<StaffId>,
    pub supplements_requested: u8,
    pub payments_requested: u8,
    /// Set while the clock is stopped (supplement or financial obligation).
    pub paused_since: Option<Timestamp>,
    pub paused_office_minutes: u32,
    pub draft: Option<DraftKind>,
    pub forwarded: bool,
    pub agency_answered: bool,
    /// When the leader signed the result or the refusal.
    pub resolved_at: Option<Timestamp>,
    pub returned_at: Option<Timestamp>,
    /// When the dossier ended without resolution (refused, not received, withdrawn, stopped).
    pub closed_at: Option<Timestamp>,
    pub apologies: u32,
    pub new_appointment: Option<Timestamp>,
    pub last_event_at: Option<Timestamp>,
    /// Files attached so far and their bytes (the per-dossier limits of `domain::files`).
    pub files_attached: u32,
    pub file_bytes: u64,
}

impl Default for DossierState {
    fn default() -> Self {
        DossierState {
            phase: Phase::None,
            code: None,
            version: 0,
            submission: None,
            submitted_at: None,
            receipt: None,
            received_at: None,
            due: None,
            specialist: None,
            supplements_requested: 0,
            payments_requested: 0,
            paused_since: None,
            paused_office_minutes: 0,
            draft: None,
            forwarded: false,
            agency_answered: false,
            resolved_at: None,
            returned_at: None,
            closed_at: None,
            apologies: 0,
            new_appointment: None,
            last_event_at: None,
            files_attached: 0,
            file_bytes: 0,
        }
    }
}

/// How a resolution is judged against the due date, by local date (docs/domain/calendar.md):
/// early = finish date before the due date, on time = the same date, late = after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timeliness {
    Early,
    OnTime,
    Late,
}

impl Timeliness {
    pub fn label_vi(self) -> &'static str {
        match self {
            Timeliness::Early => "Trước hạn",
            Timeliness::OnTime => "Đúng hạn",
            Timeliness::Late => "Quá hạn",
        }
    }
}

/// Judges a finish time against a due time by their local dates.
pub fn judge(finished: Timestamp, due: Timestamp) -> Timeliness {
    let (f, d): (NaiveDate, NaiveDate) = (local_date(finished), local_date(due));
    match f.cmp(&d) {
        std::cmp::Ordering::Less => Timeliness::Early,
        std::cmp::Ordering::Equal => Timeliness::OnTime,
        std::cmp::Ordering::Greater => Timeliness::Late,
    }
}

impl DossierState {
    /// Unit and field of the dossier (from the receipt, else the submission).
    pub fn unit_and_field(&self) -> Option<(&UnitCode, &Field)> {
        if let Some(r) = &self.receipt {
            return Some((&r.unit, &r.field));
        }
        self.submission.as_ref().map(|s| (&s.unit, &s.field))
    }

    /// The digest of the dossier's lookup secret (recorded by its first event; a receipt of an
    /// online submission carries the submission's).
    pub fn lookup_secret(&self) -> Option<&SecretDigest> {
        self.receipt
            .as_ref()
            .map(|r| &r.lookup_secret)
            .or(self.submission.as_ref().map(|s| &s.lookup_secret))
    }

    /// The dossier's workflow id (receipt, else the submitted procedure version).
    pub fn workflow_id(&self, reference: &ReferenceData) -> Option<WorkflowId> {
        self.workflow_ref(reference).cloned()
    }

    /// [`DossierState::workflow_id`], borrowed (replay asks it once per recorded event).
    pub fn workflow_ref<'a>(&'a self, reference: &'a ReferenceData) -> Option<&'a WorkflowId> {
        if let Some(r) = &self.receipt {
            return Some(&r.workflow);
        }
        let s = self.submission.as_ref()?;
        reference.catalog.version(&s.procedure).map(|p| &p.workflow)
    }

    /// Resolved (result or refusal signed) and judged against the due time.
    pub fn timeliness(&self) -> Option<Timeliness> {
        Some(judge(self.resolved_at?, self.due?))
    }

    /// National status code of the current state (1-10), per the dossier's workflow.
    pub fn status_code(&self, reference: &ReferenceData) -> Option<u8> {
        let id = self.workflow_id(reference)?;
        reference.workflows.get(&id)?.status_code(self.phase)
    }
}

/// Folds a sequence of dossier events.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a DossierEvent>) -> DossierState {
    events.into_iter().fold(DossierState::default(), apply)
}

/// Applies one event. Pure and total: whatever the log holds, the fold goes on.
pub fn apply(mut s: DossierState, ev: &DossierEvent) -> DossierState {
    s.version += 1;
    if s.code.is_none() {
        s.code = Some(ev.code.clone());
    }
    s.last_event_at = Some(ev.at);
    match &ev.change {
        DossierChange::SubmittedOnline(_)
        | DossierChange::Received(_)
        | DossierChange::GuidedToComplete { .. }
        | DossierChange::RefusedToReceive { .. } => apply_intake(&mut s, &ev.change, ev.at),
        other => apply_processing(&mut s, other, ev.at),
    }
    s
}

/// The changes of the desk's first answer: submitted, received, guided, refused.
fn apply_intake(s: &mut DossierState, change: &DossierChange, at: Timestamp) {
    match change {
        DossierChange::SubmittedOnline(sub) => {
            s.phase = Phase::Submitted;
            s.submission = Some(sub.clone());
            s.submitted_at = Some(at);
        }
        DossierChange::Received(r) => {
            s.phase = Phase::Received;
            s.due = Some(r.due);
            s.receipt = Some(r.clone());
            s.received_at = Some(at);
        }
        DossierChange::GuidedToComplete { .. } => {
            // An online submission stays with the citizen to complete; a dossier presented at
            // the desk is simply not received.
            let online = s
                .submission
                .as_ref()
                .is_some_and(|x| x.channel == Channel::Online);
            if !online {
                s.phase = Phase::NotReceived;
                s.closed_at = Some(at);
            }
        }
        DossierChange::RefusedToReceive { .. } => {
            s.phase = Phase::Refused;
            s.closed_at = Some(at);
        }
        _ => {}
    }
}

/// The changes of a received dossier's processing, its pauses, its resolution and its end.
fn apply_processing(s: &mut DossierState, change: &DossierChange, at: Timestamp) {
    match change {
        DossierChange::Assigned { specialist, .. } => {
            s.phase = Phase::InProcessing;
            s.specialist = Some(specialist.clone());
        }
        DossierChange::SupplementRequested { .. } => {
            s.phase = Phase::AwaitingSupplement;
            s.supplements_requested = s.supplements_requested.saturating_add(1);
            s.paused_since = Some(at);
        }
        DossierChange::SupplementReceived {
            paused_office_minutes,
            new_due,
            ..
        }
        | DossierChange::PaymentRecorded {
            paused_office_minutes,
            new_due,
            ..
        } => {
            s.phase = Phase::InProcessing;
            s.paused_since = None;
            s.paused_office_minutes = s
                .paused_office_minutes
                .saturating_add(*paused_office_minutes);
            s.due = Some(*new_due);
        }
        DossierChange::Forwarded { .. } => {
            s.phase = Phase::AtOtherAgency;
            s.forwarded = true;
            s.agency_answered = false;
        }
        DossierChange::OtherAgencyAnswered { .. } => {
            s.phase = Phase::InProcessing;
            s.agency_answered = true;
        }
        DossierChange::PaymentRequested { .. } => {
            s.phase = Phase::AwaitingPayment;
            s.payments_requested = s.payments_requested.saturating_add(1);
            s.paused_since = Some(at);
        }
        DossierChange::SubmittedForSigning { draft, .. } => {
            s.phase = Phase::AwaitingApproval;
            s.draft = Some(*draft);
        }
        DossierChange::Approved { .. } => {
            s.phase = Phase::ResultReady;
            s.resolved_at = Some(at);
        }
        DossierChange::RefusalSigned { .. } => {
            s.phase = Phase::Rejected;
            s.resolved_at = Some(at);
        }
        DossierChange::SentBack { .. } => {
            s.phase = Phase::InProcessing;
            s.draft = None;
        }
        DossierChange::Apologised {
            new_appointment, ..
        } => {
            s.apologies = s.apologies.saturating_add(1);
            s.new_appointment = Some(*new_appointment);
        }
        DossierChange::HandedOver { .. } => {
            s.phase = Phase::Returned;
            s.returned_at = Some(at);
        }
        DossierChange::Withdrawn { .. } => {
            s.phase = Phase::Withdrawn;
            s.closed_at = Some(at);
        }
        DossierChange::Stopped { .. } => {
            s.phase = Phase::Stopped;
            s.closed_at = Some(at);
        }
        DossierChange::FileAttached(f) => {
            s.files_attached = s.files_attached.saturating_add(1);
            s.file_bytes = s.file_bytes.saturating_add(f.size);
        }
        _ => {}
    }
}

/// The state `decide`'s transition promises after `action` from `from`.
pub fn expected_phase(from: Phase, action: Action) -> Phase {
    match action.target(from) {
        Target::To(p) => p,
        Target::Same => from,
    }
}

/// The dossier unit's calendar (the default office hours before a receipt).
pub fn unit_calendar<'r>(reference: &'r ReferenceData, state: &DossierState) -> UnitCalendar<'r> {
    match &state.receipt {
        Some(r) => reference.calendar.unit(&r.unit),
        None => reference.calendar.default_unit(),
    }
}

/// Office minutes a dossier has used from its clock start to `end`, its pauses excluded (None
/// before a receipt).
pub fn office_minutes_used(
    reference: &ReferenceData,
    state: &DossierState,
    end: Timestamp,
) -> Option<u32> {
    let start = state.receipt.as_ref()?.clock_start;
    let cal = unit_calendar(reference, state);
    let mut used = cal
        .office_minutes_between(start, end)
        .saturating_sub(state.paused_office_minutes);
    // A pause still running at `end` is not time used either.
    if let Some(since) = state.paused_since {
        used = used.saturating_sub(cal.office_minutes_between(since, end));
    }
    Some(used)
}
