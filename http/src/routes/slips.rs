//! The slips of Thông tư 01/2018/TT-VPCP for one dossier, computed by the domain's `slips` view
//! from its events (this route picks one and renders it): 01 receipt
//! and appointment, 02 supplement request, 03 refusal to receive, 04 apology, 05 process control
//! sheet, 06 the tracking-ledger row. JSON by default; printable HTML with `Accept: text/html`
//! or `?format=html`. A slip the dossier's history does not contain is 404.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use motcua_engine::domain::slips;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use crate::app::{checkpoints, Caller};
use crate::errors::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::parse;
use crate::routes::roles::DOSSIER_READERS;
use crate::state::AppState;

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
#[into_params(parameter_in = Query)]
pub struct SlipQuery {
    /// `html` for the printable page.
    pub format: Option<String>,
}

/// A slip (phiếu / giấy) of TT 01/2018 for one dossier, as JSON or printable HTML.
#[utoipa::path(get, path = "/v1/dossiers/{code}/slips/{slip}", tag = "dossiers",
    params(("code" = String, Path), ("slip" = String, Path, description = "01..06"), SlipQuery),
    security(("bearer" = [])),
    // One 200 with both media types: two `(status = 200, ..)` entries kept only the last, so the
    // default JSON answer was undocumented (schemathesis).
    responses((status = 200, description = "The slip as JSON, or printable HTML",
            content((Object = "application/json"), (String = "text/html"))),
        (status = 401), (status = 403), (status = 404)))]
pub async fn slip(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((code, slip)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<SlipQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&DOSSIER_READERS)?;
    let code = parse::code(&code)?;
    let title =
        title(&slip).ok_or_else(|| ApiError::NotFound(format!("no slip {slip}; 01..06")))?;
    // The slips are the domain's views of the dossier's events; this route picks one.
    let all = state.app().views().slips(&caller, &code)?;
    let only = all
        .only(&slip)
        .ok_or_else(|| ApiError::NotFound(format!("dossier {code} has no slip {slip}")))?;
    let content = match slip.as_str() {
        "01" => json!(only.s01),
        "02" => json!(only.s02),
        "03" => json!(only.s03),
        "04" => json!(only.s04),
        "05" => json!(only.s05),
        _ => json!(only.s06),
    };
    let wants_html = q.format.as_deref() == Some("html")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    // Slip 06, the ledger row, carries the newest signed checkpoint of the log (issue 17).
    let fingerprint = (slip == "06")
        .then(|| state.checkpoints().fingerprint())
        .flatten();
    if wants_html {
        let html = slips::render_html(&only);
        Ok(Html(if slip == "06" {
            checkpoints::stamp_html(html, fingerprint.as_deref())
        } else {
            html
        })
        .into_response())
    } else {
        let mut answer = json!({"slip": slip, "title": title, "code": code, "content": content});
        if slip == "06" {
            answer["checkpoint"] = json!(fingerprint);
        }
        Ok(Json(answer).into_response())
    }
}
