//! Dossier writes: receive at the desk (`POST /v1/dossiers`), submit online
//! (`POST /v1/submissions`), and every action of the transition table
//! (`POST /v1/dossiers/{code}/actions/{action}`).
//!
//! Every write: role check, the body parsed into the domain's command (or a new dossier's
//! [`Arrival`]), `If-Match` (stream version) for an exact append, `Idempotency-Key` (derived
//! event ids + stored first response, `reply::run`), then `app.dossiers()` executes it and waits
//! for the read models (read-your-writes); the answer carries the new version as `ETag`.
//! [`command`] is the one pure body-to-`Command` function (the fuzz target calls it).

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use motcua_engine::domain::events::{Applicant, DraftKind};
use motcua_engine::domain::types::{
    Channel, DossierCode, ProcedureId, Role, StaffId, UnitCode, Vnd,
};
use motcua_engine::domain::{Action, Command};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock;
use crate::app::dossiers::{Arrival, FirstStep, WriteOutcome};
use crate::app::idempotency::KeySpace;
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::{ApiPath, ClientIp, HashedJson};
use crate::reply::{self, Reply};
use crate::routes::parse::{self, required};
use crate::state::AppState;

/// The applicant (người nộp hồ sơ).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantJson {
    pub name: String,
    /// CCCD number.
    pub id_number: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
}

/// A new dossier at the desk (tiếp nhận hồ sơ) or online (nộp trực tuyến).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDossier {
    /// Mã TTHC, e.g. `1.001193`.
    pub procedure: String,
    /// Unit code (default: the caller's unit).
    pub unit: Option<String>,
    /// `desk` (default) or `postal` at the desk; ignored online.
    pub channel: Option<String>,
    pub applicant: ApplicantJson,
    /// Documents handed in (thành phần hồ sơ).
    #[serde(default)]
    pub documents: Vec<String>,
    /// At the desk: `receive` (default), `guide_to_complete` or `refuse_to_receive`.
    pub action: Option<String>,
    /// guide_to_complete: what is missing.
    #[serde(default)]
    pub missing: Vec<String>,
    pub note: Option<String>,
    /// refuse_to_receive: reason and legal basis.
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
}

/// The body of a transition (fields depend on the action; unknown fields are refused).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    pub note: Option<String>,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    /// guide_to_complete: missing documents.
    pub missing: Option<Vec<String>>,
    /// request_supplement: items requested.
    pub items: Option<Vec<String>>,
    /// assign: the specialist's staff id.
    pub specialist: Option<String>,
    /// forward: the other agency.
    pub agency: Option<String>,
    /// request_payment: amount in VND.
    pub amount: Option<u64>,
    /// record_payment: the receipt number.
    pub receipt_number: Option<String>,
    /// submit_for_signing: `result` or `refusal`.
    pub draft: Option<String>,
    /// sign_refusal: the written reasons.
    pub reasons: Option<String>,
    /// send_back: the leader's comments.
    pub comments: Option<String>,
    /// apologise: the new appointment (RFC 3339).
    pub new_appointment: Option<String>,
    /// withdraw by a citizen: the lookup secret printed on the dossier's receipt, which proves
    /// the dossier is theirs (staff leave it out).
    pub lookup_secret: Option<String>,
}

/// Builds the domain command of `action` from its JSON body.
pub fn command(action: Action, b: ActionBody) -> Result<Command, ApiError> {
    let note = b.note.clone().unwrap_or_default();
    Ok(match action {
        Action::SubmitOnline => {
            return Err(ApiError::validation(
                "action",
                "submit online with POST /v1/submissions",
            ))
        }
        Action::AttachFile => {
            return Err(ApiError::validation(
                "action",
                "attach a file with POST /v1/dossiers/{code}/files",
            ))
        }
        Action::Receive => Command::Receive { intake: None },
        Action::GuideToComplete => Command::GuideToComplete {
            intake: None,
            missing: b
                .missing
                .filter(|m| !m.is_empty())
                .ok_or_else(|| ApiError::validation("missing", "required"))?,
            note,
        },
        Action::RefuseToReceive => Command::RefuseToReceive {
            intake: None,
            reason: required("reason", b.reason)?,
            legal_basis: b.legal_basis.unwrap_or_default(),
        },
        Action::Assign => Command::Assign {
            specialist: required("specialist", b.specialist)?
                .parse::<StaffId>()
                .map_err(|e| ApiError::validation("specialist", e.to_string()))?,
            note,
        },
        Action::RequestSupplement => Command::RequestSupplement {
            items: b
                .items
                .filter(|m| !m.is_empty())
                .ok_or_else(|| ApiError::validation("items", "required"))?,
            reason: b.reason.unwrap_or_default(),
        },
        Action::RecordSupplement => Command::RecordSupplement { note },
        Action::Forward => Command::Forward {
            agency: required("agency", b.agency)?,
            note,
        },
        Action::RecordAgencyAnswer => Command::RecordAgencyAnswer { note },
        Action::RequestPayment => Command::RequestPayment {
            amount: Vnd(b
                .amount
                .ok_or_else(|| ApiError::validation("amount", "required"))?),
            note,
        },
        Action::RecordPayment => Command::RecordPayment {
            receipt_number: required("receipt_number", b.receipt_number)?,
        },
        Action::SubmitForSigning => Command::SubmitForSigning {
            draft: match b.draft.as_deref() {
                None | Some("result") => DraftKind::Result,
                Some("refusal") => DraftKind::Refusal,
                Some(_) => return Err(ApiError::validation("draft", "expected result or refusal")),
            },
            note,
        },
        Action::Approve => Command::Approve { note },
        Action::SignRefusal => Command::SignRefusal {
            reasons: required("reasons", b.reasons)?,
        },
        Action::SendBack => Command::SendBack {
            comments: required("comments", b.comments)?,
        },
        Action::Apologise => Command::Apologise {
            reason: required("reason", b.reason)?,
            new_appointment: parse::instant(
                "new_appointment",
                &required("new_appointment", b.new_appointment)?,
            )?,
        },
        Action::HandOver => Command::HandOver { note },
        Action::Withdraw => Command::Withdraw {
            reason: required("reason", b.reason)?,
        },
        Action::Stop => Command::Stop {
            reason: required("reason", b.reason)?,
            legal_basis: b.legal_basis.unwrap_or_default(),
        },
    })
}

/// The dossier `b` describes, arriving on `channel` for `action` (submit online, or one of the
/// desk's three first actions), at the caller's unit unless it names one (which must be theirs).
pub(crate) fn arrival(
    caller: &Caller,
    b: NewDossier,
    channel: Channel,
    action: Action,
) -> Result<Arrival, ApiError> {
    let unit: UnitCode = match &b.unit {
        Some(u) => u
            .parse()
            .map_err(|e| ApiError::validation("unit", format!("{e}")))?,
        None => caller.unit().clone(),
    };
    caller.require_unit(&unit)?;
    let procedure: ProcedureId = b
        .procedure
        .parse()
        .map_err(|e| ApiError::validation("procedure", format!("{e}")))?;
    let first_step = match action {
        Action::SubmitOnline => FirstStep::SubmitOnline,
        Action::Receive => FirstStep::Receive,
        Action::GuideToComplete => {
            if b.missing.is_empty() {
                return Err(ApiError::validation("missing", "required"));
            }
            FirstStep::GuideToComplete {
                missing: b.missing,
                note: b.note.unwrap_or_default(),
            }
        }
        _ => FirstStep::RefuseToReceive {
            reason: required("reason", b.reason)?,
            legal_basis: b.legal_basis.unwrap_or_default(),
        },
    };
    Ok(Arrival {
        procedure,
        unit,
        channel,
        applicant: Applicant {
            name: b.applicant.name,
            id_number: b.applicant.id_number,
            phone: b.applicant.phone,
            address: b.applicant.address,
        },
        documents: b.documents,
        first_step,
    })
}

/// The answer of a dossier write (receipt, submission, action). The body is built from this type,
/// so the documented schema is the answer's.
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierWriteReply {
    /// Mã hồ sơ.
    pub code: String,
    /// The dossier stream's version after the write (also the `ETag`: the next `If-Match`).
    pub version: u64,
    /// Log seq of the last event written.
    pub seq: u64,
    /// Lower-case state name; null when the read models did not catch up within 2 s.
    pub state: Option<String>,
    /// Due time (UTC milliseconds); null when the dossier has none.
    pub due: Option<i64>,
    /// The event types written.
    pub events: Vec<String>,
    /// True when an `Idempotency-Key` retry found its events already in the log.
    pub deduplicated: bool,
    /// Receipts and submissions only: the lookup secret to print on the receipt (shown once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_secret: Option<String>,
}

fn outcome_reply(
    o: &WriteOutcome,
    status: StatusCode,
    secret: Option<&str>,
) -> Result<Reply, ApiError> {
    let body = serde_json::to_value(DossierWriteReply {
        code: o.code.to_string(),
        version: o.version,
        seq: o.seq,
        state: o.state.map(|s| s.as_str().to_owned()),
        due: o.due.map(|t| t.0),
        events: o.event_types.clone(),
        deduplicated: o.deduplicated,
        lookup_secret: secret.map(str::to_owned),
    })
    .map_err(ApiError::internal)?;
    Ok(Reply {
        status,
        body,
        etag: Some(o.version),
        location: Some(format!("/v1/dossiers/{}", o.code)),
    })
}

/// A new dossier, at the desk (`online_from: None`, reception) or online from a client address
/// (citizen; counted against the daily quotas).
async fn create(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<NewDossier>,
    online_from: Option<IpAddr>,
) -> Result<Response, ApiError> {
    let online = online_from.is_some();
    caller.require_any(if online {
        &[Role::Citizen]
    } else {
        &[Role::Reception]
    })?;
    state.check_writable()?;
    let b = body.value()?;
    let channel = if online {
        Channel::Online
    } else {
        match b.channel.as_deref() {
            None | Some("desk") => Channel::Desk,
            Some("postal") => Channel::Postal,
            Some(_) => return Err(ApiError::validation("channel", "expected desk or postal")),
        }
    };
    let action = match (online, b.action.as_deref()) {
        (true, None) => Action::SubmitOnline,
        (true, Some(_)) => return Err(ApiError::validation("action", "not accepted online")),
        (false, None | Some("receive")) => Action::Receive,
        (false, Some("guide_to_complete")) => Action::GuideToComplete,
        (false, Some("refuse_to_receive")) => Action::RefuseToReceive,
        (false, Some(_)) => {
            return Err(ApiError::validation(
                "action",
                "expected receive, guide_to_complete or refuse_to_receive",
            ))
        }
    };
    let key = reply::idempotency_key(&headers)?;
    let arrival = arrival(&caller, b, channel, action)?;
    let app = state.app();
    let quota = state.online_quota();
    let caller = &caller;
    // One key sent to the desk and online names two requests (two dossiers).
    let space = if online {
        KeySpace::Submissions
    } else {
        KeySpace::Staff
    };
    reply::run(
        app.idempotency(),
        caller,
        space,
        key,
        body.sha256,
        |key| async move {
            // Counted before the write (so concurrent submissions cannot overshoot), given back
            // when it recorded no new dossier (after a fail-stop it may have: the quotas are a
            // day's courtesy, the desk's reserve of codes is the engine's and always holds).
            let today = clock::today();
            if let Some(ip) = online_from {
                quota.take(caller.id().as_str(), ip, today)?;
            }
            let r = app.dossiers().create(caller, arrival, key.as_ref()).await;
            if let Some(ip) = online_from {
                if !matches!(&r, Ok(r) if !r.outcome.deduplicated) {
                    quota.give_back(caller.id().as_str(), ip, today);
                }
            }
            let r = r?;
            outcome_reply(&r.outcome, StatusCode::CREATED, Some(&r.lookup_secret))
        },
    )
    .await
}

/// Receive a dossier at the desk (tiếp nhận hồ sơ trực tiếp), reception only. Returns the code,
/// the due date and the lookup secret to print on the receipt (shown once).
#[utoipa::path(post, path = "/v1/dossiers", tag = "dossiers", request_body = NewDossier,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = DossierWriteReply), (status = 400), (status = 401), (status = 403),
        (status = 409), (status = 413), (status = 415), (status = 422), (status = 429), (status = 503)))]
pub async fn receive(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<NewDossier>,
) -> Result<Response, ApiError> {
    create(state, caller, headers, body, None).await
}

/// Submit a dossier online (nộp hồ sơ trực tuyến), citizen role. Daily quotas per account and
/// per client address, and the day's last codes kept for the desk: 429 `quota-exceeded`.
#[utoipa::path(post, path = "/v1/submissions", tag = "dossiers", request_body = NewDossier,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 201, body = DossierWriteReply), (status = 400), (status = 401), (status = 403),
        (status = 409), (status = 413), (status = 415), (status = 422), (status = 429), (status = 503)))]
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    headers: HeaderMap,
    body: HashedJson<NewDossier>,
) -> Result<Response, ApiError> {
    create(state, caller, headers, body, Some(ip)).await
}

/// Take an action on a dossier (xử lý hồ sơ): `receive`, `guide_to_complete`,
/// `refuse_to_receive`, `assign`, `request_supplement`, `record_supplement`, `forward`,
/// `record_agency_answer`, `request_payment`, `record_payment`, `submit_for_signing`, `approve`,
/// `sign_refusal`, `send_back`, `apologise`, `hand_over`, `withdraw`, `stop`. `If-Match` makes it
/// conditional on the dossier's version.
#[utoipa::path(post, path = "/v1/dossiers/{code}/actions/{action}", tag = "dossiers",
    request_body = ActionBody,
    params(("code" = String, Path), ("action" = String, Path),
        ("If-Match" = Option<String>, Header, description = "The ETag (stream version) last seen"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = [])),
    responses((status = 200, body = DossierWriteReply), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409), (status = 412), (status = 413), (status = 415),
        (status = 422), (status = 429), (status = 503)))]
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((code, action)): ApiPath<(String, String)>,
    body: HashedJson<ActionBody>,
) -> Result<Response, ApiError> {
    let code: DossierCode = parse::code(&code)?;
    let action: Action = action
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no action {action:?}")))?;
    let expected = parse::if_match(&headers)?;
    state.check_writable()?;
    let b = body.value()?;
    let lookup_secret = b.lookup_secret.clone();
    let cmd = command(action, b)?;
    // The stored response is keyed per dossier and action too: a key reused on another dossier
    // is another request.
    let request = parse::fingerprint(body.sha256, &[code.as_str(), action.as_str()]);
    let app = state.app();
    let key = reply::idempotency_key(&headers)?;
    let caller = &caller;
    reply::run(
        app.idempotency(),
        caller,
        KeySpace::Staff,
        key,
        request,
        |key| async move {
            let o = app
                .dossiers()
                .act(
                    caller,
                    &code,
                    cmd,
                    lookup_secret.as_deref(),
                    expected.and_then(parse::IfMatch::version),
                    key.as_ref(),
                )
                .await
                .map_err(|e| {
                    parse::missing_under_any(e.into(), expected, &format!("dossier {code}"))
                })?;
            outcome_reply(&o, StatusCode::OK, None)
        },
    )
    .await
}
