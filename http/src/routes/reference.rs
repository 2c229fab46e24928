//! Reference data writes and reads besides the catalog view: a year's working calendar (read by
//! every token holder, published by admins) and issuing a procedure (admin). Writes go through
//! the command service's reference commands, which validate them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use chrono::NaiveDate;
use motcua_engine::domain::events::{CalendarEvent, Event, Procedure, YearCalendar};
use motcua_engine::domain::types::{Field, ProcedureId, Role, UnitCode, WorkflowId};
use motcua_engine::domain::{ActorRef, DomainError};
use motcua_engine::log::StreamId;
use motcua_engine::service::{Authority, ReferenceCommand, ServiceError};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::engine::map_service_error;
use crate::errors::ApiError;
use crate::extract::{ApiPath, HashedJson};
use crate::idempotency::{self, Reply};
use crate::routes::views::now;
use crate::state::AppState;
use motcua_engine::idempotency::{CommandKey, KeyScope};
use motcua_engine::recorded::decode_event;

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
    let envs = state
        .log()
        .read_stream(&StreamId::calendar_year(year), 1)
        .map_err(ApiError::internal)?;
    envs.iter()
        .rev()
        .find_map(|e| match decode_event(e) {
            Ok(Event::Calendar(CalendarEvent::YearPublished(y))) => Some(y),
            _ => None,
        })
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
}

fn admin_of(caller: &Caller) -> Result<ActorRef, ApiError> {
    caller.require_any(&[Role::Admin])?;
    Ok(ActorRef::Staff(caller.staff.clone()))
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
    let actor = admin_of(&caller)?;
    state.check_writable()?;
    let b = body.value()?;
    let cmd = ReferenceCommand::PublishCalendarYear(YearCalendar {
        year: b.year,
        days_off: b.days_off,
        makeup_working_days: b.makeup_working_days,
        note: b.note,
    });
    let st = state.clone();
    let owner = caller.id().to_string();
    let who = owner.clone();
    idempotency::run(
        st.idempotency(),
        &owner,
        &headers,
        body.sha256,
        |key| async move {
            let key = key.map(|k| CommandKey::new(KeyScope::Reference, &who, k));
            let o = state
                .engine()
                .service()
                .execute_reference_keyed(cmd, Authority::Admin(&actor), now(), key.as_ref())
                .await
                .map_err(map_service_error)?;
            state.wait_for_read_models(o.seq).await;
            Ok(Reply {
                status: StatusCode::CREATED,
                body: serde_json::json!({"stream": o.stream, "seq": o.seq}),
                etag: None,
                location: Some(format!("/v1/calendar/{}", b.year)),
            })
        },
    )
    .await
}

// The JSON of the stored `Procedure` (plain serde derives, no `ToSchema` in the engine), for the
// document only: it was `Object`, so schemathesis could only send bodies the parser refused.
// The `issue_procedure` tests send bodies of this shape; a drift shows there as 422s.
/// A procedure (thủ tục hành chính), version 1.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ProcedureDoc {
    /// Mã TTHC, e.g. `1.001193`.
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    id: String,
    #[schema(minimum = 1, maximum = 1)]
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
    /// Refuses identifiers their own parsers would refuse: `Procedure` derives plain serde (it
    /// is a stored type), so JSON reaches its slug fields without `FromStr` (found by fuzzing:
    /// any string was accepted as the procedure id and field).
    pub fn validate(&self) -> Result<(), ApiError> {
        let p = &self.procedure;
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
}

/// The service refuses a procedure naming a workflow it does not know with `UnknownWorkflow`,
/// which on the dossier path means broken reference data (500); here it is the admin's input,
/// a 422 on `procedure.workflow` (it was a 500; found by probing after schemathesis).
fn map_issue_error(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Domain(DomainError::UnknownWorkflow(w)) => {
            ApiError::validation("procedure.workflow", format!("unknown workflow {w}"))
        }
        other => map_service_error(other),
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
    let actor = admin_of(&caller)?;
    state.check_writable()?;
    let b = body.value()?;
    b.validate()?;
    let unit: UnitCode = caller.unit().clone();
    let st = state.clone();
    let owner = caller.id().to_string();
    let who = owner.clone();
    idempotency::run(
        st.idempotency(),
        &owner,
        &headers,
        body.sha256,
        |key| async move {
            let svc = state.engine().service();
            let id = b.procedure.id.clone();
            // Two commands under one key: issuing is its first step, publishing its second.
            let key = key.map(|k| CommandKey::new(KeyScope::Reference, &who, k));
            let step = |i| key.as_ref().map(|k| k.step(i));
            let mut o = svc
                .execute_reference_keyed(
                    ReferenceCommand::IssueProcedure {
                        procedure: b.procedure,
                        effective: b.effective,
                    },
                    Authority::Admin(&actor),
                    now(),
                    step(0).as_ref(),
                )
                .await
                .map_err(map_issue_error)?;
            if b.publish_at_desk || b.publish_online {
                o = svc
                    .execute_reference_keyed(
                        ReferenceCommand::PublishProcedure {
                            unit,
                            id: id.clone(),
                            at_desk: b.publish_at_desk,
                            online: b.publish_online,
                            effective: b.effective,
                        },
                        Authority::Admin(&actor),
                        now(),
                        step(1).as_ref(),
                    )
                    .await
                    .map_err(map_service_error)?;
            }
            state.wait_for_read_models(o.seq).await;
            Ok(Reply {
                status: StatusCode::CREATED,
                body: serde_json::json!({"procedure": id, "seq": o.seq}),
                etag: None,
                location: Some("/v1/catalog".into()),
            })
        },
    )
    .await
}
