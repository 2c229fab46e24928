//! The public catalog page (niêm yết công khai thủ tục hành chính), without sign-in, laid out
//! for a 360 px phone: every procedure the unit publishes today, with its field, processing
//! time, fees, required documents and forms, and a search by part of a name (no diacritics
//! needed) or a code. Each procedure opens in place (`<details>`): no script. A procedure
//! published online links to its submission form for a signed-in citizen
//! (`/cong-dan/nop/{procedure}`, `console::citizen_dossiers`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use motcua_engine::domain::types::UnitCode;
use serde::Deserialize;

use crate::app::AppError;
use crate::console::layout::{self, money_vi, processing_time_vi};
use crate::state::AppState;

const TITLE: &str = "Thủ tục hành chính";

/// The page's query: a search text and, for a commune with several units, which one.
#[derive(Debug, Default, Deserialize)]
pub struct CatalogQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default, rename = "don-vi")]
    pub unit: Option<String>,
}

/// `GET /thu-tuc`.
pub async fn page(
    State(state): State<AppState>,
    query: Result<Query<CatalogQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let unit = q.unit.as_deref().and_then(|u| u.parse::<UnitCode>().ok());
    let text: String = q.q.chars().take(100).collect();
    let catalog = match state.app().portal().catalog(unit.as_ref(), &text) {
        Ok(c) => c,
        Err(AppError::NotFound(_)) => {
            let body = html! {
                h1 { (TITLE) }
                (layout::message(true, "Không có đơn vị này."))
                p { a href="/thu-tuc" { "Xem thủ tục của đơn vị" } }
            };
            let page = layout::page(TITLE, None, body).into_string();
            return (StatusCode::NOT_FOUND, Html(page)).into_response();
        }
        Err(e) => {
            let (status, text) = crate::console::app_failure(e);
            let page = layout::page(TITLE, None, layout::message(true, &text)).into_string();
            return (status, Html(page)).into_response();
        }
    };
    let body = html! {
        h1 { (TITLE) }
        p { (catalog.unit_name) " công khai " (catalog.published) " thủ tục hành chính." }
        form method="get" action="/thu-tuc" class="search" {
            @if q.unit.is_some() { input type="hidden" name="don-vi" value=(catalog.unit); }
            div {
                label for="q" { "Tìm theo tên hoặc mã thủ tục (không cần gõ dấu)" }
                input id="q" name="q" type="search" value=(text) maxlength="100";
            }
            div { button type="submit" { "Tìm" } }
        }
        @if catalog.procedures.is_empty() {
            p { "Không có thủ tục nào khớp với tìm kiếm." }
        }
        @for p in &catalog.procedures {
            details.procedure {
                summary { (p.name) " (" (p.id) ")" }
                dl {
                    dt { "Lĩnh vực" } dd { (p.field_name) }
                    dt { "Thời hạn giải quyết" } dd { (processing_time_vi(p.processing_time)) }
                    dt { "Cách nộp" }
                    dd {
                        @match (p.at_desk, p.online) {
                            (true, true) => "Tại bộ phận tiếp nhận và trả kết quả, hoặc trực tuyến",
                            (true, false) => "Tại bộ phận tiếp nhận và trả kết quả",
                            _ => "Trực tuyến",
                        }
                        @if p.inter_level { " (liên thông: cấp khác giải quyết)" }
                    }
                    dt { "Phí, lệ phí" }
                    dd {
                        @if p.fees.is_empty() { "Không" }
                        @for (name, amount) in &p.fees { (name) ": " (money_vi(*amount)) br; }
                    }
                    dt { "Thành phần hồ sơ" }
                    dd {
                        ul {
                            @for (name, originals, copies) in &p.documents {
                                li { (name) " (" (originals) " bản chính, " (copies) " bản sao)" }
                            }
                        }
                    }
                    @if !p.forms.is_empty() {
                        dt { "Mẫu đơn, tờ khai" }
                        dd { ul { @for f in &p.forms { li { (f) } } } }
                    }
                    dt { "Căn cứ pháp lý" } dd { (p.legal_basis) }
                }
                @if p.online {
                    p { a href=(format!("/cong-dan/nop/{}?don-vi={}", p.id, catalog.unit)) { "Nộp trực tuyến" } }
                }
            }
        }
        p { a href="/tra-cuu" { "Tra cứu hồ sơ đã nộp" } }
    };
    Html(layout::page(TITLE, None, body).into_string()).into_response()
}
