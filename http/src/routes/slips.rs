//! The slips of Thông tư 01/2018/TT-VPCP for one dossier, computed from its events: 01 receipt
//! and appointment, 02 supplement request, 03 refusal to receive, 04 apology, 05 process control
//! sheet, 06 the tracking-ledger row. JSON by default; printable HTML with `Accept: text/html`
//! or `?format=html`. A slip the dossier's history does not contain is 404.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use motcua_engine::domain::calendar::local;
use motcua_engine::domain::events::{DossierChange, Event};
use motcua_engine::domain::types::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::extract::ApiQuery;
use crate::routes::views::{parse_code, STAFF_READERS};
use crate::state::AppState;

fn fmt_time(t: Timestamp) -> String {
    local(t).format("%H:%M ngày %d/%m/%Y").to_string()
}

fn title(slip: &str) -> Option<&'static str> {
    Some(match slip {
        "01" => "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
        "02" => "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
        "03" => "Phiếu từ chối tiếp nhận giải quyết hồ sơ",
        "04" => "Phiếu xin lỗi và hẹn lại ngày trả kết quả",
        "05" => "Phiếu kiểm soát quá trình giải quyết hồ sơ",
        "06" => "Sổ theo dõi hồ sơ",
        _ => return None,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SlipQuery {
    /// `html` for the printable page.
    pub format: Option<String>,
}

/// A slip (phiếu / giấy) of TT 01/2018 for one dossier, as JSON or printable HTML.
#[utoipa::path(get, path = "/v1/dossiers/{code}/slips/{slip}", tag = "dossiers",
    params(("code" = String, Path), ("slip" = String, Path, description = "01..06"), SlipQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 200, content_type = "text/html", body = String),
        (status = 401), (status = 403), (status = 404)))]
pub async fn slip(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((code, slip)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<SlipQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&STAFF_READERS)?;
    let code = parse_code(&code)?;
    let title =
        title(&slip).ok_or_else(|| ApiError::NotFound(format!("no slip {slip}; 01..06")))?;
    let (st, recs) = state
        .engine()
        .service()
        .load_dossier(&code)
        .map_err(crate::engine::map_service_error)?;
    if let Some((unit, _)) = st.unit_and_field() {
        caller.require_unit(unit)?;
    }
    let changes: Vec<(Timestamp, String, DossierChange)> = recs
        .iter()
        .filter_map(|r| match &r.event {
            Event::Dossier(d) => Some((d.at, r.actor.clone(), d.change.clone())),
            _ => None,
        })
        .collect();
    let receipt = st.receipt.as_ref();
    let applicant = receipt
        .map(|r| &r.applicant)
        .or(st.submission.as_ref().map(|s| &s.applicant));
    let mut body = json!({
        "slip": slip, "title": title, "code": code,
        "applicant": applicant.map(|a| json!({"name": a.name, "address": a.address, "phone": a.phone})),
    });
    let missing = || ApiError::NotFound(format!("dossier {code} has no slip {slip}"));
    match slip.as_str() {
        "01" => {
            let r = receipt.ok_or_else(missing)?;
            body["procedure"] = json!(r.procedure_name);
            body["documents"] = json!(r.documents);
            body["received_at"] = json!(st.received_at.map(fmt_time));
            body["due"] = json!(fmt_time(r.due));
            body["fees_vnd"] = json!(r.fees.0);
        }
        "02" => {
            let (at, who, items, reason) = changes
                .iter()
                .find_map(|(at, who, c)| match c {
                    DossierChange::SupplementRequested { items, reason } => {
                        Some((at, who, items, reason))
                    }
                    _ => None,
                })
                .ok_or_else(missing)?;
            body["at"] = json!(fmt_time(*at));
            body["by"] = json!(who);
            body["items"] = json!(items);
            body["reason"] = json!(reason);
        }
        "03" => {
            let (at, who, reason, basis) = changes
                .iter()
                .find_map(|(at, who, c)| match c {
                    DossierChange::RefusedToReceive {
                        reason,
                        legal_basis,
                    } => Some((at, who, reason, legal_basis)),
                    _ => None,
                })
                .ok_or_else(missing)?;
            body["at"] = json!(fmt_time(*at));
            body["by"] = json!(who);
            body["reason"] = json!(reason);
            body["legal_basis"] = json!(basis);
        }
        "04" => {
            let list: Vec<Value> = changes
                .iter()
                .filter_map(|(at, who, c)| match c {
                    DossierChange::Apologised {
                        reason,
                        new_appointment,
                    } => Some(json!({
                        "at": fmt_time(*at), "by": who, "reason": reason,
                        "new_appointment": fmt_time(*new_appointment),
                    })),
                    _ => None,
                })
                .collect();
            if list.is_empty() {
                return Err(missing());
            }
            body["apologies"] = json!(list);
        }
        "05" => {
            let steps: Vec<Value> = changes
                .iter()
                .map(|(at, who, c)| json!({"at": fmt_time(*at), "by": who, "step": c.event_type()}))
                .collect();
            body["steps"] = json!(steps);
        }
        _ => {
            body["procedure"] = json!(receipt.map(|r| r.procedure_name.clone()));
            body["received_at"] = json!(st.received_at.map(fmt_time));
            body["due"] = json!(st.due.map(fmt_time));
            body["resolved_at"] = json!(st.resolved_at.map(fmt_time));
            body["returned_at"] = json!(st.returned_at.map(fmt_time));
            body["timeliness"] = json!(st.timeliness().map(|t| t.label_vi()));
        }
    }
    let wants_html = q.format.as_deref() == Some("html")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        Ok(Html(render_html(title, &body)).into_response())
    } else {
        Ok(Json(body).into_response())
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => esc(s),
        Value::Null => "—".into(),
        Value::Array(a) => format!(
            "<ul>{}</ul>",
            a.iter()
                .map(|x| format!("<li>{}</li>", cell(x)))
                .collect::<String>()
        ),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{}: {}", esc(k), cell(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => esc(&other.to_string()),
    }
}

fn render_html(title: &str, body: &Value) -> String {
    let rows: String = body
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| *k != "title")
                .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), cell(v)))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<style>body{{font-family:serif;max-width:48em;margin:2em auto}}th{{text-align:left;padding-right:1em;vertical-align:top}}</style>\
</head><body><p>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM<br>Độc lập - Tự do - Hạnh phúc</p>\
<h1>{t}</h1><table>{rows}</table></body></html>",
        t = esc(title)
    )
}
