//! The citizen's public lookup page (Tra cứu hồ sơ), without sign-in, laid out for a 360 px
//! phone: a form for the dossier code and the lookup secret printed on slip 01, and, given
//! both (`GET /tra-cuu?ma=CODE&mk=SECRET`, the address of slip 01's QR code, or the form
//! posted), the dossier's status in words, its receipt and due times, an apology's new
//! appointment, what a supplement request asks for, and whether the result is ready.
//!
//! The lookup is the JSON route's own (`routes::views::public_lookup`): the same rate limit
//! per client address, the same latency floor, and the same single "not found" answer for an
//! unknown code and a wrong secret. The secret travels in the query of the QR code's address,
//! so the page is answered `Cache-Control: no-store` and `Referrer-Policy: no-referrer` (the
//! console's headers), and the request trace logs the path only (`server::router`).
//!
//! The form has no CSRF token: it changes nothing and needs no session, and a forged post
//! could only spend the victim's own rate limit.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use motcua_engine::projection::views::PublicStatus;
use serde::Deserialize;

use crate::console::layout::{self, datetime_vi};
use crate::console::message_vi;
use crate::errors::ApiError;
use crate::extract::ClientIp;
use crate::routes::views::public_lookup;
use crate::state::AppState;

/// The page's title and heading.
const TITLE: &str = "Tra cứu hồ sơ";

/// What the form (or the QR code's query) carries; both optional, so the bare page is the form.
#[derive(Debug, Default, Deserialize)]
pub struct LookupForm {
    /// Mã hồ sơ.
    pub ma: Option<String>,
    /// Mã tra cứu (the lookup secret).
    pub mk: Option<String>,
}

/// The address of the lookup page for `code` and `secret` under `base` (slip 01's QR code).
pub fn lookup_url(base: &str, code: &str, secret: &str) -> String {
    // Codes and secrets are ASCII letters, digits, dots and dashes: nothing to escape in a
    // query, which keeps the QR code small.
    format!("{base}/tra-cuu?ma={code}&mk={secret}")
}

/// `GET /tra-cuu`: the form, or the answer for `?ma=&mk=`.
pub async fn page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    q: Result<Query<LookupForm>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    answer(&state, ip, q).await
}

/// `POST /tra-cuu`: the form posted (the secret stays out of the address bar and history).
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    f: Result<Form<LookupForm>, FormRejection>,
) -> Response {
    let f = f.map(|Form(f)| f).unwrap_or_default();
    answer(&state, ip, f).await
}

async fn answer(state: &AppState, ip: std::net::IpAddr, q: LookupForm) -> Response {
    let code = q.ma.as_deref().unwrap_or("").trim().to_owned();
    // Secrets are printed in capitals, in groups a citizen may type with spaces.
    let secret: String =
        q.mk.as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
    if q.ma.is_none() && q.mk.is_none() {
        return respond(StatusCode::OK, form(&code), None);
    }
    if code.is_empty() || secret.is_empty() {
        let body = html! {
            (layout::message(true, "Hãy nhập cả mã hồ sơ và mã tra cứu in trên giấy tiếp nhận."))
            (form(&code))
        };
        return respond(StatusCode::OK, body, None);
    }
    match public_lookup(state, ip, &code, secret).await {
        Ok(Some(found)) => {
            let body = html! {
                (status_of(&found))
                p { a href="/tra-cuu" { "Tra cứu hồ sơ khác" } " · " a href="/thu-tuc" { "Thủ tục hành chính" } }
            };
            respond(StatusCode::OK, body, None)
        }
        Ok(None) => {
            let body = html! {
                (layout::message(true, "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu này. Hãy kiểm tra lại hai mã in trên giấy tiếp nhận."))
                (form(&code))
            };
            respond(StatusCode::NOT_FOUND, body, None)
        }
        Err(ApiError::RateLimited { retry_after_s }) => {
            let text =
                format!("Bạn đã tra cứu quá nhiều lần. Hãy thử lại sau {retry_after_s} giây.");
            let body = html! { (layout::message(true, &text)) (form(&code)) };
            respond(StatusCode::TOO_MANY_REQUESTS, body, Some(retry_after_s))
        }
        Err(e) => {
            if e.status().is_server_error() {
                tracing::error!(error = %e, "public lookup page failed");
            }
            let body = html! { (layout::message(true, &message_vi(&e))) (form(&code)) };
            respond(e.status(), body, None)
        }
    }
}

/// The form; the code is kept after a miss, the secret never written back into the page.
fn form(code: &str) -> Markup {
    html! {
        form.lookup method="post" action="/tra-cuu" {
            label for="ma" { "Mã hồ sơ" }
            input type="text" id="ma" name="ma" value=(code) required maxlength="40"
                autocomplete="off" spellcheck="false" autocapitalize="characters";
            label for="mk" { "Mã tra cứu (in trên giấy tiếp nhận)" }
            input type="text" id="mk" name="mk" required maxlength="40"
                autocomplete="off" spellcheck="false" autocapitalize="characters";
            div { button type="submit" { "Tra cứu" } }
        }
    }
}

/// The dossier's public status in words (this page's, and a signed-in citizen's dossier page,
/// `console::citizen_dossiers`).
pub(crate) fn status_of(p: &PublicStatus) -> Markup {
    html! {
        section.lookup-result aria-labelledby="ket-qua" {
            h2 id="ket-qua" { "Hồ sơ " (p.code) }
            dl.facts {
                dt { "Thủ tục" } dd { (p.procedure_name) }
                dt { "Trạng thái" } dd { strong.status { (p.status) } }
                @if let Some(t) = p.received_at {
                    dt { "Ngày tiếp nhận" } dd { (datetime_vi(t)) }
                }
                @if let Some(t) = p.due {
                    dt { "Ngày hẹn trả kết quả" } dd { (datetime_vi(t)) }
                }
                @if let Some(t) = p.new_appointment {
                    dt { "Hẹn lại ngày trả kết quả" } dd { strong { (datetime_vi(t)) } }
                }
            }
            @if let Some(s) = &p.supplement {
                h3 { "Cần bổ sung hồ sơ" }
                p { "Ngày yêu cầu: " (datetime_vi(s.requested_at)) }
                @if !s.reason.is_empty() { p { "Lý do: " (s.reason) } }
                ul { @for item in &s.items { li { (item) } } }
                p { "Hãy mang các giấy tờ trên đến bộ phận tiếp nhận để bổ sung hồ sơ." }
            }
            @if p.result_ready {
                (layout::message(false, "Đã có kết quả. Mời ông/bà đến bộ phận tiếp nhận để nhận kết quả, mang theo giấy tiếp nhận."))
            }
        }
    }
}

fn respond(status: StatusCode, body: Markup, retry_after_s: Option<u64>) -> Response {
    let body = html! {
        h1 { (TITLE) }
        (body)
    };
    let mut res = (status, Html(layout::page(TITLE, None, body).into_string())).into_response();
    let h = res.headers_mut();
    // Said here too, not only by the server's default: this page shows a dossier proved by a
    // secret that may sit in the address.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(s) = retry_after_s {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            h.insert(header::RETRY_AFTER, v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lookup_url_carries_code_and_secret() {
        assert_eq!(
            super::lookup_url(
                "https://motcua.xa.vn",
                "000.33.22.H05-230101-0001",
                "ABCDEFGHJK"
            ),
            "https://motcua.xa.vn/tra-cuu?ma=000.33.22.H05-230101-0001&mk=ABCDEFGHJK"
        );
    }
}
