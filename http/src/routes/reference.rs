//! Reference data writes and reads besides the catalog view: a year's working calendar (read by
//! every token holder, published by admins), the unit's office hours (admin), and the procedure
//! catalog's writes (admin: issue, amend into a new version, abolish, publish or unpublish at
//! the caller's unit), through `app.reference()` (the command service's reference commands
//! validate them; the console's admin screens call the same functions). Like the calendar,
//! these are `Idempotency-Key` writes without `If-Match`: the catalog is one stream for every
//! procedure, so its version says nothing of the one procedure changed; an amendment names its
//! version number instead (the latest + 1), which the engine checks.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use chrono::NaiveDate;
use motcua_engine::domain::calendar::parse_hhmm;
use motcua_engine::domain::events::{Procedure, Session, YearCalendar};
use motcua_engine::domain::types::{Field, ProcedureId, WorkflowId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::idempotency::KeySpace;
use crate::app::reference::{ProcedureIssue, Publication};
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::{ApiPath, HashedJson};
use crate::reply::{self, Reply};
use crate::routes::parse;
use crate::routes::roles::ADMINS;
use crate::state::AppState;

/// A year's working calendar (lịch làm việc năm), as published.
#[utoipa::path(get, path = "/v1/calendar/{year}", tag = "reference",
    params(("year" = i32, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 404)))]
pub async fn calendar(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(year): ApiPath<String>,
) -> Result<Json<YearCalendar>, ApiError> {
    let year: i32 = year
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no calendar {year}")))?;
    state
        .app()
        .reference()
        .calendar(year)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no calendar published for {year}")))
}

/// A year's calendar to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    pub year: i32,
    /// Weekdays off (YYYY-MM-DD).
    #[schema(value_type = Vec<String>)]
    pub days_off: Vec<NaiveDate>,
    /// Weekend days worked (làm bù).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub makeup_working_days: Vec<NaiveDate>,
    #[serde(default)]
    pub note: String,
    /// Replaces the calendar of a year already published (otherwise 422): due times already
    /// recorded keep the calendar they were computed with.
    #[serde(default)]
    pub replace: bool,
}

/// Publish a year's working calendar (công bố lịch làm việc), admin only.
#[utoipa::path(post, path = "/v1/calendar", tag = "reference", request_body = CalendarBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401), (status = 403), (status = 422)))]
pub async fn publish_calendar(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<CalendarBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let b = body.value()?;
    let calendar = YearCalendar {
        year: b.year,
        days_off: b.days_off,
        makeup_working_days: b.makeup_working_days,
        note: b.note,
    };
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        body.sha256,
        |key| async move {
            let o = app
                .reference()
                .publish_calendar(caller, calendar, b.replace, key.as_ref())
                .await?;
            Ok(Reply::at(
                StatusCode::CREATED,
                serde_json::json!({"stream": o.stream, "seq": o.seq}),
                format!("/v1/calendar/{}", b.year),
            ))
        },
    )
    .await
}

// The JSON of the stored `Procedure` (plain serde derives, no `ToSchema` in the engine), for the
// document only: it was `Object`, so schemathesis could only send bodies the parser refused.
// The `issue_procedure` tests send bodies of this shape; a drift shows there as 422s.
/// A procedure (thủ tục hành chính): version 1 to issue it, the latest version + 1 to amend it.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ProcedureDoc {
    /// Mã TTHC, e.g. `1.001193`.
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    id: String,
    #[schema(minimum = 1)]
    version: u32,
    name: String,
    /// A field slug of the unit, e.g. `ho-tich`.
    field: String,
    level: LevelDoc,
    documents: Vec<DocumentDoc>,
    forms: Vec<String>,
    processing_time: WorkingTimeDoc,
    fees: Vec<FeeDoc>,
    /// A workflow id: `standard`, `same-day` or `lien-thong`.
    workflow: String,
    legal_basis: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
enum LevelDoc {
    Commune,
    InterLevel,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct DocumentDoc {
    name: String,
    originals: u8,
    copies: u8,
}

/// Processing time: working days, office hours or calendar days.
#[derive(ToSchema)]
#[allow(dead_code)]
enum WorkingTimeDoc {
    WorkingDays(u16),
    OfficeHours(u16),
    CalendarDays(u16),
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct FeeDoc {
    name: String,
    /// VND.
    amount: u64,
}

/// A procedure to issue, and where it is published.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    /// The procedure (version 1): id, name, field, level, documents, forms,
    /// processing_time, fees, workflow, legal_basis.
    #[schema(value_type = ProcedureDoc)]
    pub procedure: Procedure,
    /// In force from (YYYY-MM-DD).
    #[schema(value_type = String)]
    pub effective: NaiveDate,
    /// Publish at the caller's unit: at the desk and/or online (niêm yết).
    #[serde(default)]
    pub publish_at_desk: bool,
    #[serde(default)]
    pub publish_online: bool,
}

impl IssueBody {
    /// Refuses identifiers their own parsers would refuse (see [`check_slugs`]).
    pub fn validate(&self) -> Result<(), ApiError> {
        check_slugs(&self.procedure)
    }
}

/// Refuses identifiers their own parsers would refuse: `Procedure` derives plain serde (it is a
/// stored type), so JSON reaches its slug fields without `FromStr` (found by fuzzing: any string
/// was accepted as the procedure id and field).
pub fn check_slugs(p: &Procedure) -> Result<(), ApiError> {
    let checks = [
        ("procedure.id", p.id.as_str().parse::<ProcedureId>().err()),
        ("procedure.field", p.field.as_str().parse::<Field>().err()),
        (
            "procedure.workflow",
            p.workflow.as_str().parse::<WorkflowId>().err(),
        ),
    ];
    match checks.into_iter().find_map(|(f, e)| e.map(|e| (f, e))) {
        Some((field, e)) => Err(ApiError::validation(field, e.to_string())),
        None => Ok(()),
    }
}

/// Issue a procedure into the catalog (ban hành TTHC), admin only.
#[utoipa::path(post, path = "/v1/procedures", tag = "reference", request_body = IssueBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401), (status = 403), (status = 422)))]
pub async fn issue_procedure(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<IssueBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let b = body.value()?;
    b.validate()?;
    let issue = ProcedureIssue {
        procedure: b.procedure,
        effective: b.effective,
        publish_at_desk: b.publish_at_desk,
        publish_online: b.publish_online,
    };
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        body.sha256,
        |key| async move {
            let (id, seq) = app
                .reference()
                .issue_procedure(caller, issue, key.as_ref())
                .await?;
            Ok(Reply::at(
                StatusCode::CREATED,
                serde_json::json!({"procedure": id, "seq": seq}),
                "/v1/catalog".into(),
            ))
        },
    )
    .await
}

/// The procedure a path names (404 for an id that cannot name one).
fn procedure_of_path(id: &str) -> Result<ProcedureId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("no procedure {id}")))
}

/// A new version of a procedure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendBody {
    /// The whole new version: the path's id, the latest version + 1, and every field as it is
    /// to be from `effective`.
    #[schema(value_type = ProcedureDoc)]
    pub procedure: Procedure,
    /// In force from (YYYY-MM-DD).
    #[schema(value_type = String)]
    pub effective: NaiveDate,
}

/// Amend a procedure (sửa đổi, bổ sung TTHC): a new version, admin only. Dossiers received
/// before keep the version they were received under; new ones are received under the version in
/// force on their day. A version number other than the latest + 1 is refused (422 on
/// `version`), so two admins amending at once cannot both succeed with the same number.
#[utoipa::path(post, path = "/v1/procedures/{procedure}/versions", tag = "reference",
    request_body = AmendBody,
    params(("procedure" = String, Path, description = "Mã TTHC"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401), (status = 403), (status = 404),
        (status = 422)))]
pub async fn amend_procedure(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: HashedJson<AmendBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let id = procedure_of_path(&id)?;
    let b = body.value()?;
    check_slugs(&b.procedure)?;
    if b.procedure.id != id {
        return Err(ApiError::validation(
            "procedure.id",
            format!("must be {id}, the procedure of the path"),
        ));
    }
    let version = b.procedure.version;
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    let request = parse::fingerprint(body.sha256, &["versions", id.as_str()]);
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        request,
        |key| async move {
            let o = app
                .reference()
                .amend_procedure(caller, b.procedure, b.effective, key.as_ref())
                .await?;
            Ok(Reply::at(
                StatusCode::CREATED,
                serde_json::json!({
                    "procedure": id, "version": version, "effective": b.effective, "seq": o.seq,
                }),
                "/v1/catalog".into(),
            ))
        },
    )
    .await
}

/// The abolition of a procedure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbolishBody {
    /// No dossier of it is received from this date (YYYY-MM-DD).
    #[schema(value_type = String)]
    pub effective: NaiveDate,
    /// Why (e.g. the decision that abolishes it); not empty, at most 1 500 characters.
    pub reason: String,
}

/// Abolish a procedure (bãi bỏ TTHC), admin only: from `effective` a dossier of it is refused
/// at receipt (422 naming the procedure); dossiers already received go on under their version.
#[utoipa::path(post, path = "/v1/procedures/{procedure}/abolish", tag = "reference",
    request_body = AbolishBody,
    params(("procedure" = String, Path, description = "Mã TTHC"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 404),
        (status = 422)))]
pub async fn abolish_procedure(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: HashedJson<AbolishBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let id = procedure_of_path(&id)?;
    let b = body.value()?;
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    let request = parse::fingerprint(body.sha256, &["abolish", id.as_str()]);
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        request,
        |key| async move {
            let o = app
                .reference()
                .abolish_procedure(caller, &id, b.effective, b.reason, key.as_ref())
                .await?;
            Ok(Reply::ok(serde_json::json!({
                "procedure": id, "abolished_from": b.effective, "seq": o.seq,
            })))
        },
    )
    .await
}

/// A publication decision (niêm yết) of the caller's unit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicationBody {
    /// Published at the desk (niêm yết tại Bộ phận Một cửa).
    pub at_desk: bool,
    /// Published online (công khai trên Cổng dịch vụ công).
    pub online: bool,
    /// From this date (YYYY-MM-DD). Both false unpublishes from then.
    #[schema(value_type = String)]
    pub effective: NaiveDate,
}

/// Publish or unpublish a procedure at the caller's unit (niêm yết TTHC), admin only.
#[utoipa::path(post, path = "/v1/procedures/{procedure}/publications", tag = "reference",
    request_body = PublicationBody,
    params(("procedure" = String, Path, description = "Mã TTHC"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401), (status = 403), (status = 404),
        (status = 422)))]
pub async fn publish_procedure(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: HashedJson<PublicationBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let id = procedure_of_path(&id)?;
    let b = body.value()?;
    let publication = Publication {
        at_desk: b.at_desk,
        online: b.online,
        effective: b.effective,
    };
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    let request = parse::fingerprint(body.sha256, &["publications", id.as_str()]);
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        request,
        |key| async move {
            let o = app
                .reference()
                .publish_procedure(caller, &id, publication, key.as_ref())
                .await?;
            Ok(Reply::at(
                StatusCode::CREATED,
                serde_json::json!({
                    "procedure": id, "unit": caller.unit(), "at_desk": b.at_desk,
                    "online": b.online, "effective": b.effective, "seq": o.seq,
                }),
                format!("/v1/catalog?date={}", b.effective),
            ))
        },
    )
    .await
}

/// One office session, local time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// Opening, `HH:MM` (e.g. `07:00`).
    #[schema(pattern = r"^[0-9]{2}:[0-9]{2}$")]
    pub start: String,
    /// Closing, `HH:MM`, after the opening (at most `24:00`).
    #[schema(pattern = r"^[0-9]{2}:[0-9]{2}$")]
    pub end: String,
}

/// The caller's unit's office hours from a date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficeHoursBody {
    /// In order, none overlapping, at least one.
    pub sessions: Vec<SessionBody>,
    /// From this date (YYYY-MM-DD).
    #[schema(value_type = String)]
    pub effective: NaiveDate,
}

impl OfficeHoursBody {
    /// The sessions as the domain's, or 422 on the first time that is not `HH:MM`.
    fn sessions(&self) -> Result<Vec<Session>, ApiError> {
        let time = |field: String, v: &str| {
            parse_hhmm(v).ok_or_else(|| ApiError::validation(field, "must be HH:MM"))
        };
        self.sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(Session {
                    start_minute: time(format!("sessions[{i}].start"), &s.start)?,
                    end_minute: time(format!("sessions[{i}].end"), &s.end)?,
                })
            })
            .collect()
    }
}

/// Set the office hours of the caller's unit (giờ làm việc), admin only: due times computed
/// from `effective` on count these sessions; those already recorded keep theirs.
#[utoipa::path(post, path = "/v1/office-hours", tag = "reference", request_body = OfficeHoursBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = Object), (status = 401), (status = 403), (status = 422)))]
pub async fn set_office_hours(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<OfficeHoursBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&ADMINS)?;
    state.check_writable()?;
    let b = body.value()?;
    let sessions = b.sessions()?;
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        body.sha256,
        |key| async move {
            let o = app
                .reference()
                .set_office_hours(caller, sessions, b.effective, key.as_ref())
                .await?;
            Ok(Reply::at(
                StatusCode::CREATED,
                serde_json::json!({
                    "unit": caller.unit(), "effective": b.effective, "stream": o.stream,
                    "seq": o.seq,
                }),
                format!("/v1/calendar/{}", b.effective.format("%Y")),
            ))
        },
    )
    .await
}
