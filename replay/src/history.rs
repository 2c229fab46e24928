//! `history`: one dossier's timeline from the log (seq, time, actor and role, action, state and
//! due after it), its office time used and pauses, its verdict, and its slip 05, Phiếu kiểm soát
//! quá trình giải quyết hồ sơ (Thông tư 01/2018/TT-VPCP, mẫu 05): every hand-off, who gave it,
//! who took it, when, and whether that step was on time, as the domain's
//! [`slips::slips`](motcua_engine::domain::slips::slips) computes it for the server.
//!
//! The record is folded by the projections' own dossier fold, so the history agrees with what
//! the server showed; office time is counted with the domain calendar folded from the log's
//! calendar events (as they stood at the dossier's last event).

use motcua_engine::domain::events::{DossierChange, Event, Recorded};
use motcua_engine::domain::types::{DossierCode, Timestamp};
use motcua_engine::log::StreamId;
use motcua_engine::projection::{fold_as_of, DossierRecord, ProjectionError};
use serde::Serialize;

use motcua_engine::domain::personal::Opened;
use motcua_engine::domain::slips;
use motcua_engine::domain::ReferenceData;

use crate::domain_check::office_minutes_used;
use crate::output::Table;
use crate::progress::Progress;
use crate::replay::{local_time, Events, ReplayError};
use crate::source::Source;

/// One event of the dossier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineRow {
    pub seq: u64,
    pub version: u64,
    /// Business time, local.
    pub time: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    /// State after the event.
    pub state: String,
    /// Due time in force after the event, local.
    pub due: Option<String>,
    pub note: String,
}

/// One hand-off of slip 05 (the domain's [`slips::HandOff`], with local times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slip05Row {
    /// The event type of the step (e.g. `dossier.assigned`).
    pub step: String,
    /// Giao: who handed the dossier over.
    pub from: String,
    /// Nhận: who took it.
    pub to: String,
    /// Thời gian giao, nhận hồ sơ.
    pub time: String,
    /// The due time in force at the hand-off.
    pub due: Option<String>,
    /// Kết quả: on time (before or on the due date) or late.
    pub on_time: bool,
    pub result: String,
}

/// A paused stretch (supplement or financial obligation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseRow {
    pub kind: String,
    pub from: String,
    pub until: Option<String>,
    pub office_minutes: u32,
}

/// Everything `history` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub code: String,
    pub state: String,
    pub national_status: u8,
    pub national_status_name: String,
    pub unit: String,
    pub field: Option<String>,
    pub procedure: Option<String>,
    pub procedure_name: String,
    pub channel: String,
    pub received_at: Option<String>,
    pub original_due: Option<String>,
    pub due: Option<String>,
    pub paused_office_minutes: u32,
    /// Office minutes the dossier was with the desk from clock start to resolution (or to the
    /// last event), pauses excluded, per the calendar events of the log.
    pub office_minutes_used: Option<u32>,
    pub pauses: Vec<PauseRow>,
    pub verdict: Option<String>,
    pub resolved_at: Option<String>,
    pub timeline: Vec<TimelineRow>,
    pub slip05: Vec<Slip05Row>,
}

/// Builds the history of `code` from `source`.
pub fn build(
    source: Source,
    code: &DossierCode,
    progress: &Progress,
) -> Result<History, ReplayError> {
    let stream = StreamId::dossier(code).to_string();
    let mut reference = ReferenceData::builtin().map_err(|e| ReplayError::Usage(e.to_string()))?;
    // Reference events are applied once a later event of the dossier shows they were in force
    // during its life; those after its last event are dropped.
    let mut pending: Vec<Event> = Vec::new();
    let mut events: Vec<Recorded> = Vec::new();
    for rec in Events::new(source, progress) {
        let rec = rec?;
        if rec.stream == stream {
            for ev in pending.drain(..) {
                reference.apply(&ev);
            }
            events.push(rec);
        } else if ReferenceData::is_reference(&rec.event) {
            pending.push(rec.event);
        }
    }
    progress.finish();
    if events.is_empty() {
        return Err(ReplayError::Usage(format!(
            "dossier {code} is not in the log"
        )));
    }
    let folded = fold_as_of(
        events.iter().cloned().map(Ok::<_, ProjectionError>),
        Timestamp(i64::MAX),
    )?;
    let record: DossierRecord = folded
        .read_models()
        .record(code)?
        .ok_or_else(|| ReplayError::Usage(format!("dossier {code} has no record")))?;

    let mut timeline = Vec::new();
    // The domain's own fold gives the state after each event.
    let mut state = motcua_engine::domain::dossier::DossierState::default();
    for rec in &events {
        let Event::Dossier(ev) = &rec.event else {
            continue;
        };
        state = motcua_engine::domain::apply(state, ev);
        timeline.push(TimelineRow {
            seq: rec.seq,
            version: rec.version,
            time: local_time(ev.at),
            actor: rec.actor.clone(),
            role: rec.role.as_str().to_owned(),
            action: ev
                .change
                .event_type()
                .trim_start_matches("dossier.")
                .to_owned(),
            state: state.phase.as_str().to_owned(),
            due: record.due_at(ev.at).map(local_time),
            note: note_of(&ev.change),
        });
    }

    let mut pauses = Vec::new();
    for s in &record.supplements {
        pauses.push(PauseRow {
            kind: "supplement".into(),
            from: local_time(s.requested_at),
            until: s.received_at.map(local_time),
            office_minutes: s.paused_office_minutes,
        });
    }
    for p in &record.payments {
        pauses.push(PauseRow {
            kind: "payment".into(),
            from: local_time(p.requested_at),
            until: p.recorded_at.map(local_time),
            office_minutes: p.paused_office_minutes,
        });
    }
    let end = state
        .resolved_at
        .or(state.closed_at)
        .or(state.last_event_at);
    let office_minutes_used = end.and_then(|e| office_minutes_used(&reference, &state, e));

    Ok(History {
        code: code.to_string(),
        state: record.state.as_str().to_owned(),
        national_status: record.state.national_code(),
        national_status_name: record.state.national_name_vi().to_owned(),
        unit: record.unit.to_string(),
        field: record.field.as_ref().map(ToString::to_string),
        procedure: record
            .procedure
            .as_ref()
            .map(|p| format!("{} v{}", p.id, p.version)),
        procedure_name: record.procedure_name.clone(),
        channel: record.channel.as_str().to_owned(),
        received_at: record.received_at.map(local_time),
        original_due: record.original_due.map(local_time),
        due: record.due.map(local_time),
        paused_office_minutes: record.paused_office_minutes,
        office_minutes_used,
        pauses,
        verdict: record.verdict.map(|v| v.as_str().to_owned()),
        resolved_at: record.resolved_at.map(local_time),
        slip05: slip05(&events),
        timeline,
    })
}

/// The free text a change carries (reason, note, comments).
fn note_of(change: &DossierChange) -> String {
    use DossierChange as C;
    match change {
        C::SubmittedOnline(_) | C::Received(_) => String::new(),
        C::GuidedToComplete { note, .. }
        | C::Assigned { note, .. }
        | C::SupplementReceived { note, .. }
        | C::Forwarded { note, .. }
        | C::OtherAgencyAnswered { note }
        | C::PaymentRequested { note, .. }
        | C::SubmittedForSigning { note, .. }
        | C::Approved { note }
        | C::HandedOver { note } => note.clone(),
        C::RefusedToReceive { reason, .. }
        | C::SupplementRequested { reason, .. }
        | C::Apologised { reason, .. }
        | C::Withdrawn { reason }
        | C::Stopped { reason, .. } => reason.clone(),
        C::PaymentRecorded { receipt_number, .. } => receipt_number.clone(),
        C::RefusalSigned { reasons } => reasons.clone(),
        C::SentBack { comments } => comments.clone(),
        C::FileAttached(f) => format!(
            "{} ({}, {} B, sha256 {})",
            f.document, f.file_name, f.size, f.sha256
        ),
    }
}

/// Slip 05 as the domain computes it.
fn slip05(events: &[Recorded]) -> Vec<Slip05Row> {
    // The auditor's tool holds no keys: slip 05 names no applicant anyway.
    let Some(s05) = slips::slips(events, &|_| Opened::Erased.or_erased()).s05 else {
        return Vec::new();
    };
    s05.hand_offs
        .into_iter()
        .map(|h| Slip05Row {
            step: h.step.trim_start_matches("dossier.").to_owned(),
            from: h.from,
            to: h.to,
            time: local_time(h.at),
            due: h.due.map(local_time),
            on_time: h.on_time,
            result: if h.on_time {
                "đúng hạn"
            } else {
                "quá hạn"
            }
            .to_owned(),
        })
        .collect()
}

impl History {
    pub fn timeline_table(&self) -> Table {
        let mut t = Table::new([
            "seq", "time", "actor", "role", "action", "state", "due", "note",
        ]);
        for r in &self.timeline {
            t.push([
                r.seq.to_string(),
                r.time.clone(),
                r.actor.clone(),
                r.role.clone(),
                r.action.clone(),
                r.state.clone(),
                r.due.clone().unwrap_or_default(),
                r.note.clone(),
            ]);
        }
        t
    }

    /// The readable rendering: summary, timeline, pauses, slip 05.
    pub fn render(&self) -> String {
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let mut s = String::new();
        s.push_str(&format!("dossier {}\n", self.code));
        s.push_str(&format!(
            "state {} (national status {} {})\n",
            self.state, self.national_status, self.national_status_name
        ));
        s.push_str(&format!(
            "procedure {} {} | field {} | unit {} | channel {}\n",
            opt(&self.procedure),
            self.procedure_name,
            opt(&self.field),
            self.unit,
            self.channel
        ));
        s.push_str(&format!(
            "received {} | due at receipt {} | due {} | paused {} office min | office time used {} | verdict {} at {}\n\n",
            opt(&self.received_at),
            opt(&self.original_due),
            opt(&self.due),
            self.paused_office_minutes,
            self.office_minutes_used
                .map_or("-".into(), |m| format!("{}h{:02}", m / 60, m % 60)),
            opt(&self.verdict),
            opt(&self.resolved_at),
        ));
        s.push_str(&self.timeline_table().render());
        if !self.pauses.is_empty() {
            let mut t = Table::new(["pause", "from", "until", "office minutes"]);
            for p in &self.pauses {
                t.push([
                    p.kind.clone(),
                    p.from.clone(),
                    opt(&p.until),
                    p.office_minutes.to_string(),
                ]);
            }
            s.push('\n');
            s.push_str(&t.render());
        }
        s.push_str(&format!("\n{} (mẫu 05)\n", slips::TITLE_05.to_uppercase()));
        s.push_str(&format!("Mã hồ sơ: {}\n", self.code));
        let mut t = Table::new([
            "Bước",
            "Giao",
            "Nhận",
            "Thời gian giao, nhận",
            "Hạn",
            "Kết quả",
        ]);
        for r in &self.slip05 {
            t.push([
                r.step.clone(),
                r.from.clone(),
                r.to.clone(),
                r.time.clone(),
                opt(&r.due),
                r.result.clone(),
            ]);
        }
        s.push_str(&t.render());
        s
    }
}
