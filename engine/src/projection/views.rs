//! The queries HTTP and replay call: live queues, approval inboxes, work lists, the dossier
//! view, the dossier list, the public lookup, statistics and the catalog view. They run on
//! [`ReadModels`], which wraps the keyspaces of either backend (live sled trees or an "as of T"
//! in-memory fold), so both answer through the same code.
//!
//! Every list query is a prefix or range scan of an index ordered the way it answers, so it
//! reads about as many entries as it returns (counts read one key per counted dossier).

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::domain::calendar::UnitCalendar;
use crate::domain::events::DraftKind;
use crate::domain::secret::verify_nothing;
use crate::domain::types::{
    Channel, DossierCode, Field, ProcedureId, ProcedureRef, Staff, StaffId, Timestamp, UnitCode,
};

use super::catalog::{catalog_view, CatalogView};
use super::dossier::{
    inbox_prefix, load_record, queue_prefix, unit_prefix, work_prefix, ApologyEntry, DossierRecord,
    DossierState, InboxItem, PaymentEntry, QueueItem, SupplementEntry, Verdict, WorkItem, T_FIELD,
    T_LIST,
};
use super::keys::{ts_be, ts_from_be};
use super::stats::{
    period_breakdown, period_breakdowns, period_report, received_codes, Group, GroupBy,
    StatsFilter, StatsReport,
};
use super::store::{count_pairs, prefix_end, KvRead, PackedView};
use super::ProjectionError;

/// A keyspace shared between the runner and the query side.
pub type SharedKv = Arc<dyn KvRead + Send + Sync>;

/// Largest page a list query returns.
pub const MAX_PAGE: usize = 500;

/// The read models of one moment (live or as of T).
#[derive(Clone)]
pub struct ReadModels {
    pub dossiers: SharedKv,
    pub catalog: SharedKv,
}

/// One dossier in a live queue or a due/overdue list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub code: DossierCode,
    pub field: Field,
    pub state: DossierState,
    /// Due time (or, before receipt, the submission time the queue sorts by).
    pub due: Timestamp,
    pub received_at: Option<Timestamp>,
    pub specialist: Option<StaffId>,
}

/// A queue's first entries and its full count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePage {
    pub count: u64,
    pub items: Vec<QueueEntry>,
}

/// One dossier waiting for a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub code: DossierCode,
    pub field: Field,
    pub due: Timestamp,
    pub specialist: String,
    pub draft: DraftKind,
    pub note: String,
    pub procedure_name: String,
    pub submitted_for_signing_at: Timestamp,
    /// Milliseconds since it was submitted for signing, at the query's `now`.
    pub age_ms: i64,
    pub overdue: bool,
}

/// One dossier on a specialist's work list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkEntry {
    pub code: DossierCode,
    pub unit: UnitCode,
    pub state: DossierState,
    pub due: Timestamp,
    pub procedure_name: String,
    pub overdue: bool,
}

/// The staff-facing dossier view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DossierView {
    pub code: DossierCode,
    pub state: DossierState,
    pub national_status: u8,
    pub national_status_name: String,
    pub procedure: Option<ProcedureRef>,
    pub procedure_name: String,
    pub unit: UnitCode,
    pub field: Option<Field>,
    pub channel: Channel,
    pub submitted_at: Option<Timestamp>,
    pub received_at: Option<Timestamp>,
    pub original_due: Option<Timestamp>,
    pub due: Option<Timestamp>,
    pub paused_office_minutes: u32,
    pub supplements: Vec<SupplementEntry>,
    pub payments: Vec<PaymentEntry>,
    pub apologies: Vec<ApologyEntry>,
    pub specialist: Option<StaffId>,
    pub verdict: Option<Verdict>,
    pub resolved_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub returned_at: Option<Timestamp>,
    pub version: u64,
}

impl From<DossierRecord> for DossierView {
    fn from(r: DossierRecord) -> DossierView {
        DossierView {
            state: r.state,
            national_status: r.state.national_code(),
            national_status_name: r.state.national_name_vi().to_owned(),
            code: r.code,
            procedure: r.procedure,
            procedure_name: r.procedure_name,
            unit: r.unit,
            field: r.field,
            channel: r.channel,
            submitted_at: r.submitted_at,
            received_at: r.received_at,
            original_due: r.original_due,
            due: r.due,
            paused_office_minutes: r.paused_office_minutes,
            supplements: r.supplements,
            payments: r.payments,
            apologies: r.apologies,
            specialist: r.specialist,
            verdict: r.verdict,
            resolved_at: r.resolved_at,
            finished_at: r.finished_at,
            returned_at: r.returned_at,
            version: r.version,
        }
    }
}

/// What a citizen may see of `r`: the one mapping of a record to its public status.
fn public_status_of(r: &DossierRecord) -> PublicStatus {
    let supplement = (r.state == DossierState::AwaitingSupplement)
        .then(|| r.supplements.last())
        .flatten()
        .filter(|x| x.received_at.is_none())
        .map(|x| PublicSupplement {
            requested_at: x.requested_at,
            items: x.items.clone(),
            reason: x.reason.clone(),
        });
    PublicStatus {
        new_appointment: r.apologies.last().map(|a| a.new_appointment),
        supplement,
        national_status: r.state.national_code(),
        status: r.state.national_name_vi().to_owned(),
        code: r.code.clone(),
        procedure_name: r.procedure_name.clone(),
        received_at: r.received_at,
        due: r.due,
        result_ready: matches!(r.state, DossierState::ResultReady | DossierState::Rejected),
    }
}

/// What a citizen may see of a dossier (nothing personal beyond the receipt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicStatus {
    pub code: DossierCode,
    pub national_status: u8,
    /// Vietnamese status name, e.g. "Đang xử lý".
    pub status: String,
    pub procedure_name: String,
    pub received_at: Option<Timestamp>,
    pub due: Option<Timestamp>,
    pub result_ready: bool,
    /// The new appointment of the latest apology (xin lỗi và hẹn lại), if any.
    pub new_appointment: Option<Timestamp>,
    /// While the dossier waits for a supplement: what the request asks for.
    pub supplement: Option<PublicSupplement>,
}

/// An open supplement request as the citizen sees it: the documents asked for and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicSupplement {
    pub requested_at: Timestamp,
    pub items: Vec<String>,
    pub reason: String,
}

/// Filters of the dossier list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFilter {
    pub unit: UnitCode,
    pub field: Option<Field>,
    pub state: Option<DossierState>,
    pub channel: Option<Channel>,
    pub procedure: Option<ProcedureId>,
}

/// One page of the dossier list, newest receipt first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    pub items: Vec<DossierView>,
    /// Pass back to get the next page (None: no more).
    pub next_cursor: Option<String>,
}

fn parse_code(bytes: &[u8]) -> Result<DossierCode, ProjectionError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ProjectionError::Storage(format!("index key without a dossier code: {bytes:?}"))
        })
}

fn decode_value<T: serde::de::DeserializeOwned>(k: &[u8], v: &[u8]) -> Result<T, ProjectionError> {
    codec::decode(v).map_err(|source| ProjectionError::Corrupt {
        key: String::from_utf8_lossy(k).into_owned(),
        source,
    })
}

/// Splits the tail `due(8) code(25)` of an index key.
fn due_and_code(k: &[u8]) -> Result<(Timestamp, DossierCode), ProjectionError> {
    if k.len() < 33 {
        return Err(ProjectionError::Storage("short index key".into()));
    }
    let tail = &k[k.len() - 33..];
    let due = ts_from_be(&tail[..8]).ok_or_else(|| ProjectionError::Storage("bad due".into()))?;
    Ok((due, parse_code(&tail[8..])?))
}

impl ReadModels {
    /// Wraps the two keyspaces as stored (the dossier keyspace is packed: queries read it
    /// through its logical view).
    pub fn new(dossiers: SharedKv, catalog: SharedKv) -> ReadModels {
        ReadModels {
            dossiers: Arc::new(PackedView::new(dossiers, super::dossier::packing)),
            catalog,
        }
    }

    /// The fields a unit's dossiers have used.
    pub fn fields(&self, unit: &UnitCode) -> Result<Vec<Field>, ProjectionError> {
        let prefix = unit_prefix(T_FIELD, unit);
        let mut out = Vec::new();
        for kv in self.dossiers.scan_prefix(&prefix) {
            let (k, _) = kv?;
            let raw = &k[prefix.len()..k.len().saturating_sub(1)];
            let f = std::str::from_utf8(raw)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ProjectionError::Storage("bad field key".into()))?;
            out.push(f);
        }
        Ok(out)
    }

    fn scan_queue(
        &self,
        unit: &UnitCode,
        field: &Field,
        state: DossierState,
        (from, until): (Option<Timestamp>, Option<Timestamp>),
        limit: usize,
        out: &mut Vec<QueueEntry>,
    ) -> Result<(), ProjectionError> {
        let prefix = queue_prefix(unit, field, Some(state));
        let mut lo = prefix.clone();
        if let Some(f) = from {
            lo.extend_from_slice(&ts_be(f));
        }
        let hi = match until {
            Some(u) => {
                let mut h = prefix.clone();
                h.extend_from_slice(&ts_be(u));
                Some(h)
            }
            None => prefix_end(&prefix),
        };
        for kv in self.dossiers.range(&lo, hi.as_deref(), false).take(limit) {
            let (k, v) = kv?;
            let (due, code) = due_and_code(&k)?;
            let item: QueueItem = decode_value(&k, &v)?;
            out.push(QueueEntry {
                code,
                field: field.clone(),
                state,
                due,
                received_at: item.received_at,
                specialist: item.specialist,
            });
        }
        Ok(())
    }

    /// The live queue of one unit x field x state, by due time: its first `limit` entries
    /// and its count.
    pub fn queue(
        &self,
        unit: &UnitCode,
        field: &Field,
        state: DossierState,
        limit: usize,
    ) -> Result<QueuePage, ProjectionError> {
        let mut items = Vec::new();
        self.scan_queue(
            unit,
            field,
            state,
            (None, None),
            limit.min(MAX_PAGE),
            &mut items,
        )?;
        let count = count_pairs(self.dossiers.scan_prefix(&queue_prefix(
            unit,
            field,
            Some(state),
        )))?;
        Ok(QueuePage { count, items })
    }

    /// Counts of every non-empty queue of a unit: (field, state, count).
    pub fn queue_counts(
        &self,
        unit: &UnitCode,
    ) -> Result<Vec<(Field, DossierState, u64)>, ProjectionError> {
        let mut out = Vec::new();
        for field in self.fields(unit)? {
            for state in DossierState::ALL.into_iter().filter(|s| s.in_queue()) {
                let n = count_pairs(self.dossiers.scan_prefix(&queue_prefix(
                    unit,
                    &field,
                    Some(state),
                )))?;
                if n > 0 {
                    out.push((field.clone(), state, n));
                }
            }
        }
        Ok(out)
    }

    fn fields_or(
        &self,
        unit: &UnitCode,
        field: Option<&Field>,
    ) -> Result<Vec<Field>, ProjectionError> {
        match field {
            Some(f) => Ok(vec![f.clone()]),
            None => self.fields(unit),
        }
    }

    /// "Due within N office hours": dossiers being processed whose due time falls before the
    /// instant `hours` office hours after `now` on the unit's calendar (nights, weekends and
    /// days off do not count: on a Friday afternoon, 4 office hours reach into Monday), by due
    /// time.
    pub fn due_within_office_hours(
        &self,
        unit: &UnitCode,
        field: Option<&Field>,
        now: Timestamp,
        hours: u32,
        calendar: &UnitCalendar<'_>,
    ) -> Result<Vec<QueueEntry>, ProjectionError> {
        let until = calendar.add_office_minutes(now, hours.saturating_mul(60));
        self.due_within(unit, field, now, until)
    }

    /// Dossiers being processed whose due time falls in `[now, until)`, by due time (the
    /// office-hours horizon is [`ReadModels::due_within_office_hours`]).
    pub fn due_within(
        &self,
        unit: &UnitCode,
        field: Option<&Field>,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<QueueEntry>, ProjectionError> {
        let mut out = Vec::new();
        for f in self.fields_or(unit, field)? {
            for state in DossierState::ALL.into_iter().filter(|s| s.is_processing()) {
                self.scan_queue(
                    unit,
                    &f,
                    state,
                    (Some(now), Some(until)),
                    usize::MAX,
                    &mut out,
                )?;
            }
        }
        out.sort_by(|a, b| (a.due, &a.code).cmp(&(b.due, &b.code)));
        Ok(out)
    }

    /// Dossiers overdue at `now`: being processed with a due time before `now`, or paused after
    /// their due time had passed. By due time.
    pub fn overdue_now(
        &self,
        unit: &UnitCode,
        field: Option<&Field>,
        now: Timestamp,
    ) -> Result<Vec<QueueEntry>, ProjectionError> {
        let mut out = Vec::new();
        for f in self.fields_or(unit, field)? {
            for state in DossierState::ALL.into_iter().filter(|s| s.is_processing()) {
                self.scan_queue(unit, &f, state, (None, Some(now)), usize::MAX, &mut out)?;
            }
            for state in DossierState::ALL.into_iter().filter(|s| s.is_paused()) {
                let prefix = queue_prefix(unit, &f, Some(state));
                let mut hi = prefix.clone();
                hi.extend_from_slice(&ts_be(now));
                for kv in self.dossiers.range(&prefix, Some(&hi), false) {
                    let (k, v) = kv?;
                    let item: QueueItem = decode_value(&k, &v)?;
                    if item.overdue_on_pause {
                        let (due, code) = due_and_code(&k)?;
                        out.push(QueueEntry {
                            code,
                            field: f.clone(),
                            state,
                            due,
                            received_at: item.received_at,
                            specialist: item.specialist,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| (a.due, &a.code).cmp(&(b.due, &b.code)));
        Ok(out)
    }

    /// The approval inbox of a unit's leaders (all fields, or only `fields`), by due time.
    pub fn approval_inbox(
        &self,
        unit: &UnitCode,
        fields: Option<&[Field]>,
        now: Timestamp,
    ) -> Result<Vec<InboxEntry>, ProjectionError> {
        let fields = match fields {
            Some(f) => f.to_vec(),
            None => self.fields(unit)?,
        };
        let mut out = Vec::new();
        for field in fields {
            for kv in self.dossiers.scan_prefix(&inbox_prefix(unit, Some(&field))) {
                let (k, v) = kv?;
                let (due, code) = due_and_code(&k)?;
                let item: InboxItem = decode_value(&k, &v)?;
                out.push(InboxEntry {
                    code,
                    field: field.clone(),
                    due,
                    specialist: item.specialist,
                    draft: item.draft,
                    note: item.note,
                    procedure_name: item.procedure_name,
                    submitted_for_signing_at: item.submitted_at,
                    age_ms: now.0 - item.submitted_at.0,
                    overdue: due < now,
                });
            }
        }
        out.sort_by(|a, b| (a.due, &a.code).cmp(&(b.due, &b.code)));
        Ok(out)
    }

    /// One leader's inbox: the leader's unit, restricted to the leader's fields when the
    /// directory lists any (a leader without fields signs for the whole unit).
    pub fn approval_inbox_for_leader(
        &self,
        leader: &Staff,
        now: Timestamp,
    ) -> Result<Vec<InboxEntry>, ProjectionError> {
        let fields = (!leader.fields.is_empty()).then_some(leader.fields.as_slice());
        self.approval_inbox(&leader.unit, fields, now)
    }

    /// A specialist's open work, by due time.
    pub fn work_list(
        &self,
        specialist: &StaffId,
        now: Timestamp,
    ) -> Result<Vec<WorkEntry>, ProjectionError> {
        let mut out = Vec::new();
        for kv in self.dossiers.scan_prefix(&work_prefix(specialist.as_str())) {
            let (k, v) = kv?;
            let (due, code) = due_and_code(&k)?;
            let item: WorkItem = decode_value(&k, &v)?;
            out.push(WorkEntry {
                code,
                unit: item.unit,
                state: item.state,
                due,
                procedure_name: item.procedure_name,
                overdue: due < now && !item.state.is_paused(),
            });
        }
        Ok(out)
    }

    /// The full record of a dossier.
    pub fn record(&self, code: &DossierCode) -> Result<Option<DossierRecord>, ProjectionError> {
        load_record(self.dossiers.as_ref(), code)
    }

    /// The staff-facing view of a dossier.
    pub fn dossier(&self, code: &DossierCode) -> Result<Option<DossierView>, ProjectionError> {
        Ok(self.record(code)?.map(DossierView::from))
    }

    /// The citizen's lookup: answers only when `secret` is the dossier's lookup secret (an
    /// unknown code and a wrong secret look the same, so codes cannot be probed: both answer
    /// `None` after one Argon2id evaluation, `SecretDigest::verify` or `verify_nothing`). Slow
    /// by design (about a millisecond): an async caller runs it on a blocking thread.
    pub fn public_lookup(
        &self,
        code: &DossierCode,
        secret: &str,
    ) -> Result<Option<PublicStatus>, ProjectionError> {
        let record = self.record(code)?;
        let matches = match record.as_ref().and_then(|r| r.lookup_secret.as_ref()) {
            Some(digest) => digest.verify(secret),
            None => {
                verify_nothing(secret);
                false
            }
        };
        Ok(record.filter(|_| matches).map(|r| public_status_of(&r)))
    }

    /// A dossier's public status and its view, from one read of its record and without a
    /// secret: for a caller who has shown the dossier is theirs another way (a portal account
    /// holds the dossier's nonce: `app::citizens`), so a page of theirs costs no Argon2id
    /// evaluation. [`ReadModels::public_lookup`] answers the same status after the secret.
    pub fn public_status(
        &self,
        code: &DossierCode,
    ) -> Result<Option<(PublicStatus, DossierView)>, ProjectionError> {
        Ok(self
            .record(code)?
            .map(|r| (public_status_of(&r), DossierView::from(r))))
    }

    /// A [`ReadModels::list`] cursor that starts the walk at the dossiers received (or
    /// submitted) strictly before `t`: a list of a past period costs the entries of that
    /// period, not every newer one.
    pub fn list_cursor_before(t: Timestamp) -> String {
        hex::encode(ts_be(t))
    }

    /// The dossier list of a unit, newest receipt first, filtered, with cursor pagination.
    /// Cost: the index entries between the cursor and the last match returned.
    pub fn list(
        &self,
        filter: &ListFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, ProjectionError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let prefix = unit_prefix(T_LIST, &filter.unit);
        let hi = match cursor {
            None => prefix_end(&prefix),
            Some(c) => {
                let raw = hex::decode(c)
                    .map_err(|_| ProjectionError::Storage("bad list cursor".into()))?;
                let mut k = prefix.clone();
                k.extend_from_slice(&raw);
                Some(k)
            }
        };
        let mut items = Vec::new();
        let mut next_cursor = None;
        for kv in self.dossiers.range(&prefix, hi.as_deref(), true) {
            let (k, _) = kv?;
            let (_, code) = due_and_code(&k)?;
            let Some(r) = self.record(&code)? else {
                continue;
            };
            let ok = filter
                .field
                .as_ref()
                .is_none_or(|f| r.field.as_ref() == Some(f))
                && filter.state.is_none_or(|s| r.state == s)
                && filter.channel.is_none_or(|c| r.channel == c)
                && filter
                    .procedure
                    .as_ref()
                    .is_none_or(|p| r.procedure.as_ref().map(|x| &x.id) == Some(p));
            if ok {
                items.push(DossierView::from(r));
                if items.len() == limit {
                    next_cursor = Some(hex::encode(&k[prefix.len()..]));
                    break;
                }
            }
        }
        Ok(ListPage { items, next_cursor })
    }

    /// Statistics of the local-date period `[from, to]` (see `stats`).
    pub fn stats(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        filter: &StatsFilter,
    ) -> Result<StatsReport, ProjectionError> {
        period_report(self.dossiers.as_ref(), from, to, filter)
    }

    /// Statistics of `[from, to]` broken down by field, procedure or channel (see
    /// `stats::period_breakdown`).
    pub fn stats_breakdown(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        filter: &StatsFilter,
        by: GroupBy,
    ) -> Result<Vec<Group>, ProjectionError> {
        period_breakdown(self.dossiers.as_ref(), from, to, filter, by)
    }

    /// The total and several breakdowns of `[from, to]` in one walk (see
    /// `stats::period_breakdowns`).
    pub fn stats_breakdowns(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        filter: &StatsFilter,
        by: &[GroupBy],
    ) -> Result<(StatsReport, Vec<Vec<Group>>), ProjectionError> {
        period_breakdowns(self.dossiers.as_ref(), from, to, filter, by)
    }

    /// The codes of the dossiers received in `[from, to]` (see `stats::received_codes`).
    pub fn received_codes(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        filter: &StatsFilter,
    ) -> Result<Vec<DossierCode>, ProjectionError> {
        received_codes(self.dossiers.as_ref(), from, to, filter)
    }

    /// A unit's publication share per field on `date`.
    pub fn catalog(
        &self,
        unit: &UnitCode,
        date: NaiveDate,
    ) -> Result<Option<CatalogView>, ProjectionError> {
        catalog_view(self.catalog.as_ref(), unit, date)
    }
}
