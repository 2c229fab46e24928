//! Reform-plan routes (kế hoạch cải cách hành chính): the plan list, one plan with its events,
//! the dashboard (live, or "as of" any instant), and the planner's writes (issue a plan, add a
//! task, amend / cancel / report progress / complete / reopen a task).
//!
//! Thin over `app.plans()` (the engine's plan service): the engine checks the planner role and
//! unit, the plan rules, the expected version and idempotency; this module parses JSON into plan
//! commands and applies the read roles. Writes: planner only. Reads: leaders, planners and
//! auditors (auditors of any unit, the others of the plan's unit). Same rules as the dossier API: `If-Match` (the plan stream's version, given as
//! `ETag`) makes a write conditional (412 with the current version when stale), an
//! `Idempotency-Key` makes a retry return the first answer and record once, and a refusal (4xx)
//! means nothing was written (a 503 `fail-stopped` may follow a write: retry with the key). Plan reads fold the plan's stream from the log, so a write is
//! visible to the next read without waiting for a projection.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use motcua_engine::domain::events::Event;
use motcua_engine::domain::plan::{DerivedIndicator, Indicator, IndicatorSource, Target, TaskSpec};
use motcua_engine::domain::types::{PlanId, TaskId, Timestamp, UnitCode};
use motcua_engine::plan_service::{PlanCommand, PlanOutcome};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::idempotency::KeySpace;
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::{ApiPath, ApiQuery, HashedJson};
use crate::reply::{self, Reply};
use crate::routes::parse::{self, required};
use crate::routes::roles::{PLANNERS, PLAN_READERS};
use crate::state::AppState;

/// A plan to issue (ban hành kế hoạch).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    /// Plan id (a-z, 0-9, `-`), e.g. `35-kh-ubnd-2023`.
    pub id: String,
    /// Số hiệu, e.g. `35/KH-UBND`.
    pub number: String,
    /// Date of issue (YYYY-MM-DD).
    pub date: String,
    /// Unit (default: the caller's).
    pub unit: Option<String>,
    pub year: i32,
    pub title: String,
    #[serde(default)]
    pub legal_basis: String,
}

/// A task (nhiệm vụ) with its indicator and target.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskJson {
    pub id: String,
    pub title: String,
    /// Responsible unit or official, as the plan names it.
    pub responsible: String,
    /// YYYY-MM-DD.
    pub start: String,
    /// YYYY-MM-DD (the task is due by the end of that day).
    pub deadline: String,
    #[serde(default = "one")]
    pub weight: u32,
    /// The indicator's name (chỉ tiêu).
    pub indicator: String,
    /// `manual` (reported with evidence) or a derived figure: `published_at_desk_share`,
    /// `published_online_share`, `on_time_share`, `online_share_of_received`,
    /// `electronic_copy_certifications_resolved`, `average_processing_minutes`.
    pub source: String,
    /// The procedure of the last two derived figures (mã TTHC).
    pub procedure: Option<String>,
    /// `at_least` (default), `at_most`, `keep_at_least`, `keep_at_most`.
    pub target_kind: Option<String>,
    /// The target value: shares in basis points (10000 = 100%), counts, or minutes.
    pub target: i64,
}

fn one() -> u32 {
    1
}

impl TaskJson {
    fn into_spec(self) -> Result<TaskSpec, ApiError> {
        let procedure = || -> Result<_, ApiError> {
            let p = self
                .procedure
                .as_deref()
                .ok_or_else(|| ApiError::validation("procedure", "required by this source"))?;
            parse::field("procedure", p)
        };
        let source = match self.source.as_str() {
            "manual" => IndicatorSource::Manual,
            "published_at_desk_share" => {
                IndicatorSource::Derived(DerivedIndicator::PublishedAtDeskShare)
            }
            "published_online_share" => {
                IndicatorSource::Derived(DerivedIndicator::PublishedOnlineShare)
            }
            "on_time_share" => IndicatorSource::Derived(DerivedIndicator::OnTimeShare),
            "online_share_of_received" => {
                IndicatorSource::Derived(DerivedIndicator::OnlineShareOfReceived)
            }
            "electronic_copy_certifications_resolved" => {
                IndicatorSource::Derived(DerivedIndicator::ElectronicCopyCertificationsResolved {
                    procedure: procedure()?,
                })
            }
            "average_processing_minutes" => {
                IndicatorSource::Derived(DerivedIndicator::AverageProcessingMinutes {
                    procedure: procedure()?,
                })
            }
            _ => return Err(ApiError::validation("source", "unknown indicator source")),
        };
        let target = match self.target_kind.as_deref() {
            None | Some("at_least") => Target::AtLeast(self.target),
            Some("at_most") => Target::AtMost(self.target),
            Some("keep_at_least") => Target::KeepAtLeast(self.target),
            Some("keep_at_most") => Target::KeepAtMost(self.target),
            Some(_) => {
                return Err(ApiError::validation(
                    "target_kind",
                    "expected at_least, at_most, keep_at_least or keep_at_most",
                ))
            }
        };
        Ok(TaskSpec {
            id: parse::field("id", &self.id)?,
            title: self.title,
            responsible: self.responsible,
            start: parse::date("start", &self.start)?,
            deadline: parse::date("deadline", &self.deadline)?,
            weight: self.weight,
            indicator: Indicator {
                name: self.indicator,
                source,
                target,
            },
        })
    }
}

/// The body of a task action; the fields depend on the action (unknown fields are refused).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskActionBody {
    /// report_progress: the value (shares in basis points, counts, minutes).
    pub value: Option<i64>,
    /// report_progress: the evidence (required).
    pub evidence: Option<String>,
    /// report_progress: links to the documents behind the evidence.
    pub links: Option<Vec<String>>,
    /// complete: a note.
    pub note: Option<String>,
    /// cancel, reopen: why (required).
    pub reason: Option<String>,
    /// amend: the whole new task (its id must be the path's).
    pub task: Option<TaskJson>,
    /// Business time of the event (RFC 3339; default now, never in the future).
    pub at: Option<String>,
}

pub fn task_command(
    task: TaskId,
    action: &str,
    b: TaskActionBody,
) -> Result<PlanCommand, ApiError> {
    Ok(match action {
        "amend" => {
            let spec = b
                .task
                .ok_or_else(|| ApiError::validation("task", "required"))?
                .into_spec()?;
            if spec.id != task {
                return Err(ApiError::validation("task.id", "must be the path's task"));
            }
            PlanCommand::AmendTask(spec)
        }
        "cancel" => PlanCommand::CancelTask {
            task,
            reason: required("reason", b.reason)?,
        },
        "report_progress" => PlanCommand::ReportProgress {
            task,
            value: b
                .value
                .ok_or_else(|| ApiError::validation("value", "required"))?,
            evidence: required("evidence", b.evidence)?,
            links: b.links.unwrap_or_default(),
        },
        "complete" => PlanCommand::CompleteTask {
            task,
            note: b.note.unwrap_or_default(),
        },
        "reopen" => PlanCommand::ReopenTask {
            task,
            reason: required("reason", b.reason)?,
        },
        other => return Err(ApiError::NotFound(format!("no task action {other:?}"))),
    })
}

/// The answer of a plan write. The body is built from this type, so the documented schema is
/// the answer's.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanWriteReply {
    pub plan: String,
    /// The plan stream's version after the write (also the `ETag`: the next `If-Match`).
    pub version: u64,
    /// Log seq of the event.
    pub seq: u64,
    /// The event type written, e.g. `plan.task_added`.
    pub event: String,
    /// True when an `Idempotency-Key` retry found its event already in the log.
    pub deduplicated: bool,
}

fn outcome_reply(o: &PlanOutcome, status: StatusCode) -> Result<Reply, ApiError> {
    let reply = PlanWriteReply {
        plan: o.plan.to_string(),
        version: o.version,
        seq: o.seq,
        event: Event::Plan(o.event.clone()).event_type().to_string(),
        deduplicated: o.deduplicated,
    };
    Ok(Reply {
        status,
        body: serde_json::to_value(reply).map_err(ApiError::internal)?,
        etag: Some(o.version),
        location: Some(format!("/v1/plans/{}", o.plan)),
    })
}

/// Runs one planner write under `If-Match` and `Idempotency-Key`.
async fn write(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    plan: PlanId,
    cmd: PlanCommand,
    at: Option<Timestamp>,
    (body_sha256, status): ([u8; 32], StatusCode),
) -> Result<Response, ApiError> {
    caller.require_any(&PLANNERS)?;
    let if_match = parse::if_match(&headers)?;
    state.check_writable()?;
    // `If-Match: *` holds on an existing plan (plans never go away, so the check stays true
    // until the write); on a missing one, an issue included, it fails.
    if if_match == Some(parse::IfMatch::Any) {
        state
            .app()
            .plans()
            .get(&caller, &plan)
            .map_err(|e| parse::missing_under_any(e.into(), if_match, &format!("plan {plan}")))?;
    }
    let expected = if_match.and_then(parse::IfMatch::version);
    // The stored response is keyed per plan and action too: a key reused elsewhere is another
    // request.
    let request = parse::fingerprint(body_sha256, &[plan.as_str(), cmd.action()]);
    let key = reply::idempotency_key(&headers)?;
    let app = state.app();
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        request,
        |key| async move {
            let o = app
                .plans()
                .execute(caller, &plan, cmd, at, expected, key.as_ref())
                .await?;
            outcome_reply(&o, status)
        },
    )
    .await
}

/// The plans (kế hoạch CCHC), with their number, unit, year and version.
#[utoipa::path(get, path = "/v1/plans", tag = "plans", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_any(&PLAN_READERS)?;
    let visible = state.app().plans().list(&caller)?;
    Ok(Json(serde_json::json!({ "plans": visible })).into_response())
}

/// Issue a plan (ban hành kế hoạch), planner only. `If-Match: "0"` insists the plan is new.
#[utoipa::path(post, path = "/v1/plans", tag = "plans", request_body = NewPlan,
    params(("If-Match" = Option<String>, Header, description = "0: the plan must not exist"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = PlanWriteReply), (status = 400), (status = 401), (status = 403),
        (status = 409), (status = 412), (status = 413), (status = 415), (status = 422),
        (status = 429), (status = 503)))]
pub async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<NewPlan>,
) -> Result<Response, ApiError> {
    // The role first: a caller who may not write plans learns nothing from body validation.
    caller.require_any(&PLANNERS)?;
    let b = body.value()?;
    let plan: PlanId = parse::field("id", &b.id)?;
    let unit: UnitCode = match &b.unit {
        Some(u) => parse::field("unit", u)?,
        None => caller.unit().clone(),
    };
    let cmd = PlanCommand::Issue {
        number: b.number,
        date: parse::date("date", &b.date)?,
        unit,
        year: b.year,
        title: b.title,
        legal_basis: b.legal_basis,
    };
    write(
        state,
        caller,
        headers,
        plan,
        cmd,
        None,
        (body.sha256, StatusCode::CREATED),
    )
    .await
}

/// One plan: its tasks with every report (evidence, links, reporter, seq) and its events.
#[utoipa::path(get, path = "/v1/plans/{plan}", tag = "plans", params(("plan" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 404)))]
pub async fn get_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(plan): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require_any(&PLAN_READERS)?;
    let plan = parse::plan(&plan)?;
    let loaded = state.app().plans().get(&caller, &plan)?;
    let events: Vec<_> = loaded
        .events
        .iter()
        .map(|r| {
            let at = match &r.event {
                Event::Plan(p) => Some(p.at()),
                _ => None,
            };
            serde_json::json!({
                "seq": r.seq,
                "version": r.version,
                "type": r.event.event_type(),
                "actor": r.actor,
                "at": at,
                "recorded_at": r.recorded_at,
            })
        })
        .collect();
    let mut resp = Json(serde_json::json!({
        "version": loaded.version,
        "plan": loaded.state,
        "events": events,
    }))
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("\"{}\"", loaded.version)) {
        resp.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// The instant to answer for (RFC 3339). Default: now, over the live read models; an
    /// earlier instant folds the log up to it (dossiers by business time).
    pub as_of: Option<String>,
}

/// The plan dashboard: each task's status (not_started, on_track, at_risk, done, overdue,
/// cancelled), value, target, progress against the linear pace, the evidence or derived figure
/// behind it (figure name, parts, dossier codes, event seq range), the weighted progress, and
/// the overdue tasks per responsible unit.
#[utoipa::path(get, path = "/v1/plans/{plan}/dashboard", tag = "plans",
    params(("plan" = String, Path), DashboardQuery), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 404),
        (status = 422)))]
pub async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(plan): ApiPath<String>,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&PLAN_READERS)?;
    let plan = parse::plan(&plan)?;
    let as_of = q
        .as_of
        .as_deref()
        .map(|s| parse::instant("as_of", s))
        .transpose()?;
    match state.app().plans().dashboard(&caller, &plan, as_of).await? {
        Some(p) => Ok(Json(p).into_response()),
        None => Err(ApiError::NotFound(format!(
            "plan {plan} was not issued by then"
        ))),
    }
}

/// Add a task to a plan, planner only.
#[utoipa::path(post, path = "/v1/plans/{plan}/tasks", tag = "plans", request_body = TaskJson,
    params(("plan" = String, Path),
        ("If-Match" = Option<String>, Header, description = "The plan's ETag last seen"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = PlanWriteReply), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409), (status = 412), (status = 413), (status = 415),
        (status = 422), (status = 429), (status = 503)))]
pub async fn add_task(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(plan): ApiPath<String>,
    body: HashedJson<TaskJson>,
) -> Result<Response, ApiError> {
    caller.require_any(&PLANNERS)?;
    let plan = parse::plan(&plan)?;
    let spec = body.value()?.into_spec()?;
    write(
        state,
        caller,
        headers,
        plan,
        PlanCommand::AddTask(spec),
        None,
        (body.sha256, StatusCode::CREATED),
    )
    .await
}

/// Act on a task, planner only: `amend`, `cancel`, `report_progress`, `complete`, `reopen`.
#[utoipa::path(post, path = "/v1/plans/{plan}/tasks/{task}/actions/{action}", tag = "plans",
    request_body = TaskActionBody,
    params(("plan" = String, Path), ("task" = String, Path), ("action" = String, Path),
        ("If-Match" = Option<String>, Header, description = "The plan's ETag last seen"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 200, body = PlanWriteReply), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409), (status = 412), (status = 413), (status = 415),
        (status = 422), (status = 429), (status = 503)))]
pub async fn task_action(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((plan, task, action)): ApiPath<(String, String, String)>,
    body: HashedJson<TaskActionBody>,
) -> Result<Response, ApiError> {
    caller.require_any(&PLANNERS)?;
    let plan = parse::plan(&plan)?;
    let task: TaskId = parse::task(&task)?;
    let b = body.value()?;
    let at =
        b.at.as_deref()
            .map(|s| parse::instant("at", s))
            .transpose()?;
    let cmd = task_command(task, &action, b)?;
    write(
        state,
        caller,
        headers,
        plan,
        cmd,
        at,
        (body.sha256, StatusCode::OK),
    )
    .await
}
