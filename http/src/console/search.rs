//! `GET /search`: tra cứu hồ sơ. One form (a code, a name without diacritics, an identity or
//! phone number, a range of days received) and a page of results, newest first, each linking
//! to its dossier. A GET form: the query is in the address, so a result list can be bookmarked
//! and the back button works; it carries personal data only the signed-in caller typed, and
//! answers are never cached (`Cache-Control: no-store` on every console page).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;

use crate::app::search::{SearchQuery, MAX_HITS, PAGE_SIZE};
use crate::console::layout::{self, date_vi, state_vi};
use crate::console::{app_failure, forbidden, render, Signed};
use crate::state::AppState;

/// The form's fields, as the address carries them (all optional; dates as `YYYY-MM-DD`, what
/// a date input sends).
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub page: Option<usize>,
}

const TITLE: &str = "Tra cứu hồ sơ";

fn day(s: &str) -> Result<Option<NaiveDate>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| format!("Ngày \"{s}\" không hợp lệ (định dạng năm-tháng-ngày)."))
}

/// The page link for page `n` of the same query.
fn page_link(p: &SearchParams, n: usize) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "/search?q={}&from={}&to={}&page={n}",
        enc(&p.q),
        enc(&p.from),
        enc(&p.to)
    )
}

/// `GET /search`.
pub async fn search(
    State(state): State<AppState>,
    s: Signed,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    // A hand-edited address (`page=abc`) shows the empty form, not an error page.
    let p = params.map(|Query(p)| p).unwrap_or_default();
    let asked = !(p.q.trim().is_empty() && p.from.trim().is_empty() && p.to.trim().is_empty());
    let query = match (day(&p.from), day(&p.to)) {
        (Ok(from), Ok(to)) => Ok(SearchQuery {
            text: p.q.clone(),
            from,
            to,
            page: p.page.unwrap_or(1),
        }),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let result = match query {
        Ok(q) if asked => Some(
            state
                .app()
                .search()
                .find(&s.caller, &q)
                .map_err(|e| match e {
                    crate::app::AppError::Forbidden(_) => None,
                    e => Some(app_failure(e).1),
                }),
        ),
        Ok(_) => None,
        Err(e) => Some(Err(Some(e))),
    };
    if let Some(Err(None)) = result {
        return forbidden(&state, &s);
    }
    let body = html! {
        h1 { (TITLE) }
        form method="get" action="/search" class="search" {
            div {
                label for="q" { "Mã hồ sơ, họ tên, số CCCD hoặc số điện thoại" }
                input id="q" name="q" type="search" value=(p.q) maxlength="200"
                    placeholder="ví dụ: nguyen van a";
            }
            div {
                label for="from" { "Tiếp nhận từ ngày" }
                input id="from" name="from" type="date" value=(p.from);
            }
            div {
                label for="to" { "đến ngày" }
                input id="to" name="to" type="date" value=(p.to);
            }
            div { button type="submit" { "Tìm" } }
        }
        p.muted { "Không cần gõ dấu: \"nguyen van a\" tìm được \"Nguyễn Văn A\". Mỗi trang " (PAGE_SIZE) " hồ sơ, mới nhất trước." }
        @match &result {
            None => {}
            Some(Err(Some(text))) => { (layout::message(true, text)) }
            Some(Err(None)) => {}
            Some(Ok(page)) => {
                p { "Tìm thấy " (page.total) " hồ sơ." }
                @if page.cut {
                    (layout::message(true, &format!("Có hơn {MAX_HITS} hồ sơ phù hợp; chỉ hiện {MAX_HITS} hồ sơ mới nhất. Hãy thu hẹp tìm kiếm.")))
                }
                @if !page.hits.is_empty() {
                    table {
                        thead { tr { th { "Mã hồ sơ" } th { "Người nộp" } th { "Thủ tục" } th { "Trạng thái" } th { "Ngày tiếp nhận" } } }
                        tbody {
                            @for h in &page.hits {
                                tr {
                                    td { a href=(format!("/dossiers/{}", h.view.code)) { (h.view.code) } }
                                    td { (h.applicant_name) }
                                    td { (h.view.procedure_name) }
                                    td { (state_vi(h.view.state)) }
                                    td { @if let Some(t) = h.view.received_at.or(h.view.submitted_at) { (date_vi(t)) } }
                                }
                            }
                        }
                    }
                    @if page.pages > 1 {
                        nav aria-label="Phân trang" {
                            @if page.page > 1 { a href=(page_link(&p, page.page - 1)) { "‹ Trang trước" } " " }
                            "Trang " (page.page) " / " (page.pages)
                            @if page.page < page.pages { " " a href=(page_link(&p, page.page + 1)) { "Trang sau ›" } }
                        }
                    }
                }
            }
        }
    };
    render(&state, &s, TITLE, body)
}
