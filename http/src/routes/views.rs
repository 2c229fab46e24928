//! Read endpoints over the application's queries (`app.views()`): one dossier, the dossier
//! list, queues, a leader's approval inbox, a specialist's work list, statistics with
//! drill-down, the catalog view and the public lookup (rate-limited, answered at a latency
//! floor). They never write; read-your-writes comes from the write side waiting for the read
//! models before it answers.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use motcua_engine::domain::types::{Channel, DossierCode, Field, ProcedureId, Role, UnitCode};
use motcua_engine::projection::views::{ListFilter, PublicStatus, MAX_PAGE};
use motcua_engine::projection::{DossierState, Figure, StatsFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::decode::LoggedEvent;
use crate::app::reports::PeriodQuery;
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::{ApiPath, ApiQuery, ClientIp};
use crate::routes::parse;
use crate::routes::roles::{DOSSIER_READERS, QUEUE_READERS, STAFF_READERS};
use crate::state::AppState;

fn parse_state(s: &str) -> Result<DossierState, ApiError> {
    DossierState::ALL
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| {
            ApiError::validation(
                "state",
                format!(
                    "expected one of {}",
                    DossierState::ALL
                        .iter()
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

/// The unit a query is about: the caller's own unless given (and allowed).
fn query_unit(caller: &Caller, unit: &Option<String>) -> Result<UnitCode, ApiError> {
    let unit = parse::optional::<UnitCode>("unit", unit)?.unwrap_or_else(|| caller.unit().clone());
    caller.require_unit(&unit)?;
    Ok(unit)
}

/// One event of a dossier's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub seq: u64,
    pub version: u64,
    pub event_type: String,
    pub recorded_at_ms: i64,
    pub actor: String,
    pub role: String,
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

impl From<&LoggedEvent> for HistoryEntry {
    fn from(e: &LoggedEvent) -> HistoryEntry {
        let env = &e.envelope;
        HistoryEntry {
            seq: env.seq,
            version: env.version,
            event_type: env.event_type.clone(),
            recorded_at_ms: env.recorded_at_ms,
            actor: env.actor.staff.clone(),
            role: env.actor.role.clone(),
            event: e
                .event
                .as_ref()
                .and_then(|ev| serde_json::to_value(ev).ok())
                .unwrap_or(serde_json::Value::Null),
        }
    }
}

/// A dossier as staff see it (times are UTC milliseconds).
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierResponse {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub view: serde_json::Value,
    /// Lower-case state name (e.g. `in_processing`).
    pub state_name: String,
    /// Actions the caller may take now (empty when none).
    pub allowed_actions: Vec<String>,
    /// The applicant, opened with the person's key (the history shows the sealed record's
    /// pseudonym only); every field reads "(đã xoá)" once the person's data is erased.
    pub applicant: Option<ApplicantReply>,
    /// The files attached, oldest first (download each at `files/{sha256}`).
    pub files: Vec<crate::routes::files::FileReply>,
    pub history: Vec<HistoryEntry>,
}

/// The applicant of a dossier as staff read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicantReply {
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub address: String,
}

/// Get one dossier (xem hồ sơ): state, due time, history, the caller's allowed actions;
/// `ETag` is the stream version (use it as `If-Match`).
#[utoipa::path(get, path = "/v1/dossiers/{code}", tag = "dossiers",
    params(("code" = String, Path, description = "Mã hồ sơ, e.g. 000.33.22.H05-230105-0001")),
    security(("bearer" = [])),
    responses((status = 200, body = DossierResponse), (status = 401), (status = 403), (status = 404)))]
pub async fn get_dossier(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require_any(&DOSSIER_READERS)?;
    let code = parse::code(&code)?;
    let d = state.app().views().dossier(&caller, &code)?;
    let body = DossierResponse {
        state_name: d.view.state.as_str().to_owned(),
        view: serde_json::to_value(&d.view).map_err(ApiError::internal)?,
        allowed_actions: d
            .allowed_actions
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        applicant: d.applicant.map(|a| ApplicantReply {
            name: a.name,
            id_number: a.id_number,
            phone: a.phone,
            address: a.address,
        }),
        files: crate::app::files::files_of(&d.history)
            .iter()
            .map(|(seq, f)| crate::routes::files::FileReply::new(*seq, f))
            .collect(),
        history: d.history.iter().map(HistoryEntry::from).collect(),
    };
    let version = d.version;
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Unit code (default: the caller's unit).
    pub unit: Option<String>,
    pub field: Option<String>,
    /// State name, e.g. `in_processing`.
    pub state: Option<String>,
    /// desk, online or postal.
    pub channel: Option<String>,
    pub procedure: Option<String>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

/// List and search dossiers (danh sách hồ sơ), newest receipt first, cursor-paginated.
#[utoipa::path(get, path = "/v1/dossiers", tag = "dossiers", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 422)))]
pub async fn list_dossiers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&STAFF_READERS)?;
    let unit = query_unit(&caller, &q.unit)?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::validation("limit", "must be 1..=500"));
    }
    let filter = ListFilter {
        unit,
        field: parse::optional::<Field>("field", &q.field)?,
        state: q
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_state)
            .transpose()?,
        channel: parse::optional::<Channel>("channel", &q.channel)?,
        procedure: parse::optional::<ProcedureId>("procedure", &q.procedure)?,
    };
    if let Some(c) = &q.cursor {
        if hex::decode(c).is_err() {
            return Err(ApiError::validation(
                "cursor",
                "not a cursor returned by this API",
            ));
        }
    }
    let page = state
        .app()
        .views()
        .list(&filter, q.cursor.as_deref(), limit)?;
    Ok(Json(page).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitQuery {
    /// Unit code (default: the caller's unit).
    pub unit: Option<String>,
}

/// Queues of the desk (hàng đợi): counts by field and state, and what is overdue now.
#[utoipa::path(get, path = "/v1/queues", tag = "views", params(UnitQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403)))]
pub async fn queues(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UnitQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&QUEUE_READERS)?;
    let unit = query_unit(&caller, &q.unit)?;
    let queues = state.app().views().queues(unit)?;
    let counts: Vec<serde_json::Value> = queues
        .counts
        .into_iter()
        .map(|(field, st, n)| serde_json::json!({"field": field, "state": st.as_str(), "count": n}))
        .collect();
    Ok(Json(serde_json::json!({
        "unit": queues.unit, "counts": counts, "overdue": queues.overdue,
    }))
    .into_response())
}

/// A leader's approval inbox (hồ sơ chờ ký duyệt).
#[utoipa::path(get, path = "/v1/inbox", tag = "views",
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403)))]
pub async fn inbox(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Leader])?;
    let items = state.app().views().inbox(&caller)?;
    Ok(Json(serde_json::json!({"count": items.len(), "items": items})).into_response())
}

/// A specialist's work list (danh sách việc của chuyên viên).
#[utoipa::path(get, path = "/v1/worklist", tag = "views",
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403)))]
pub async fn worklist(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_any(&[Role::Specialist])?;
    let items = state.app().views().worklist(&caller)?;
    Ok(Json(serde_json::json!({"count": items.len(), "items": items})).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day (YYYY-MM-DD, local).
    #[param(format = Date)]
    pub from: String,
    /// Last day, inclusive.
    #[param(format = Date)]
    pub to: String,
    /// Unit (default: the caller's; auditors and admins may pass `all`).
    pub unit: Option<String>,
    pub field: Option<String>,
    pub procedure: Option<String>,
    pub channel: Option<String>,
    /// For `/v1/stats/codes`: the figure to list (e.g. `resolved_on_time`).
    pub figure: Option<String>,
}

impl StatsQuery {
    /// The period and filters of this query, for the application's one parse.
    pub fn period(&self) -> PeriodQuery {
        PeriodQuery {
            from: self.from.clone(),
            to: self.to.clone(),
            unit: self.unit.clone(),
            field: self.field.clone(),
            procedure: self.procedure.clone(),
            channel: self.channel.clone(),
        }
    }
}

/// The period and filter of a statistics query (`PeriodQuery::parse`).
pub fn stats_filter(
    caller: &Caller,
    q: &StatsQuery,
) -> Result<(NaiveDate, NaiveDate, StatsFilter), ApiError> {
    Ok(q.period().parse(caller)?)
}

/// Statistics of a period (số liệu giải quyết TTHC): received, resolved early/on time/late, in
/// progress, paused, withdrawn, supplements, apologies, online share.
#[utoipa::path(get, path = "/v1/stats", tag = "views", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 422)))]
pub async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&STAFF_READERS)?;
    let (from, to, filter) = stats_filter(&caller, &q)?;
    let report = state.app().views().stats(from, to, &filter)?;
    let share = report.figures.online_share_percent();
    Ok(Json(serde_json::json!({
        "from": from, "to": to, "filter": report.filter,
        "figures": report.figures,
        "online_share_percent": share,
        "satisfaction": report.satisfaction,
        "satisfied_share_percent": report.satisfaction.satisfied_share_percent(),
    }))
    .into_response())
}

/// Drill-down (danh sách hồ sơ sau một chỉ tiêu): the dossier codes behind one figure.
#[utoipa::path(get, path = "/v1/stats/codes", tag = "views", params(StatsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 422)))]
pub async fn stats_codes(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&STAFF_READERS)?;
    let figure = q.figure.as_deref().and_then(Figure::parse).ok_or_else(|| {
        ApiError::validation(
            "figure",
            format!(
                "expected one of {}",
                Figure::ALL
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let (from, to, filter) = stats_filter(&caller, &q)?;
    let report = state.app().views().stats(from, to, &filter)?;
    let codes = report.codes(figure);
    Ok(Json(serde_json::json!({
        "figure": figure.as_str(), "count": codes.len(), "codes": codes,
    }))
    .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    pub unit: Option<String>,
    /// Date the catalog is in force (default today).
    #[param(format = Date)]
    pub date: Option<String>,
}

/// The procedure catalog in force (danh mục TTHC) and the published shares.
#[utoipa::path(get, path = "/v1/catalog", tag = "reference", params(CatalogQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401), (status = 404)))]
pub async fn catalog(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CatalogQuery>,
) -> Result<Response, ApiError> {
    let unit =
        parse::optional::<UnitCode>("unit", &q.unit)?.unwrap_or_else(|| caller.unit().clone());
    let date = q
        .date
        .as_deref()
        .map(|d| parse::date("date", d))
        .transpose()?;
    let view = state
        .app()
        .views()
        .catalog(&unit, date)?
        .ok_or_else(|| ApiError::NotFound(format!("no catalog for unit {unit}")))?;
    let desk = view.desk_share_percent();
    let online = view.online_share_percent();
    Ok(Json(serde_json::json!({
        "catalog": view, "published_at_desk_percent": desk, "published_online_percent": online,
    }))
    .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// The lookup secret printed on the receipt.
    pub secret: String,
}

/// Citizen lookup (tra cứu hồ sơ), no token: a wrong code and a wrong secret both give the same
/// 404; rate-limited per client address.
#[utoipa::path(get, path = "/v1/lookup/{code}", tag = "public", params(
    ("code" = String, Path, description = "Mã hồ sơ"), LookupQuery),
    responses((status = 200, body = Object), (status = 404), (status = 429)))]
pub async fn lookup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    code: Result<Path<String>, PathRejection>,
    ApiQuery(q): ApiQuery<LookupQuery>,
) -> Result<Json<PublicStatus>, ApiError> {
    // A segment that does not even decode is one more malformed code: limited, hashed and
    // answered like the others.
    let code = code.map(|Path(c)| c).unwrap_or_default();
    let found = public_lookup(&state, ip, &code, q.secret).await?;
    // Same answer for every failure, so codes cannot be enumerated.
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no dossier with this code and secret".into()))
}

/// The public lookup, as both `GET /v1/lookup/{code}` and the console's page `/tra-cuu` run
/// it: the per-address rate limit first (429 at once), then `app.views().lookup`, answered no
/// earlier than `lookup_min_latency` after the request began, found or not (a code that does
/// not parse, an unknown code and a wrong secret all take the same time and give `None`).
pub async fn public_lookup(
    state: &AppState,
    ip: std::net::IpAddr,
    code: &str,
    secret: String,
) -> Result<Option<PublicStatus>, ApiError> {
    if let Err(retry_after_s) = state.lookup_limiter().check(ip) {
        return Err(ApiError::RateLimited { retry_after_s });
    }
    let floor = tokio::time::Instant::now() + state.config().lookup_min_latency;
    let code = code.parse::<DossierCode>().ok();
    let found = state.app().views().lookup(code, secret).await;
    tokio::time::sleep_until(floor).await;
    Ok(found?)
}
