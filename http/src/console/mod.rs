//! The staff console: server-rendered HTML pages in Vietnamese, each useful without
//! JavaScript, beside the JSON API (which it does not change: bearer tokens stay for API
//! clients, and the API never accepts the console's cookie, so no JSON route can be driven by
//! a cross-site form).
//!
//! A console handler is a route like the API's: it parses the form into the application's
//! types (reusing the API's own parsing: `routes::dossiers::arrival` and `command`), checks the
//! session and its CSRF token, calls ONE function of `crate::app` (the same one the JSON route
//! calls), and renders the answer; an application error becomes a Vietnamese message on the
//! page (`message_vi`), never a 500 page of text.
//!
//! Sessions: the cookie [`SESSION_COOKIE`] (`HttpOnly; SameSite=Strict; Path=/`, `Secure`
//! with `--secure-cookies`) names a server-side session (`app::sessions`); every form carries
//! the session's synchronizer token, checked before anything else is read. The sign-in form,
//! which has no session yet, carries a double-submit token bound to the `SameSite=Strict`
//! cookie [`SIGNIN_COOKIE`]. Every page answers with a strict Content-Security-Policy (one
//! same-origin script, `/static/console.js`, which only the self-reloading lists load and
//! which nothing needs; styles from `/static/console.css` only). Two pages need no sign-in: the
//! citizen's public lookup, `/tra-cuu` (`lookup`), and the catalog, `/thu-tuc` (`catalog`).
//! Citizens sign in apart, with a session of their own (`citizen`), to the pages under
//! `/cong-dan` (`citizen_dossiers`); a staff session never opens those, nor theirs a staff
//! screen.

pub mod admin;
pub mod catalog;
pub mod citizen;
pub mod citizen_dossiers;
pub mod desk;
pub mod dossier;
pub mod files;
pub mod layout;
pub mod lookup;
pub mod personal;
pub mod plans;
pub mod reference;
pub mod reports;
pub mod search;
pub mod signin;
pub mod stats;

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use motcua_engine::domain::types::Role;

use crate::app::sessions::SessionCaller;
use crate::app::{clock, Caller};
use crate::crypto::sha256;
use crate::errors::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "motcua_session";
/// The sign-in form's double-submit cookie.
pub const SIGNIN_COOKIE: &str = "motcua_signin";
/// How long a sign-in form stays valid.
pub const SIGNIN_FORM_MAX_AGE_S: u64 = 15 * 60;

/// The Content-Security-Policy of every console page: nothing but our own style sheet, our
/// one script (`/static/console.js`, the lists' self-refresh; no inline script, no eval) and
/// forms posted to ourselves; no frame.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's one script: queues, work lists and inboxes reload themselves, but not while
/// a form on them is being filled, and a button stops it (WCAG 2.2.1). Without script the
/// pages reload through a `<noscript>` meta refresh (`layout::page_refreshing`).
pub const SCRIPT: &str = include_str!("refresh.js");

/// The console's routes (HTML; not part of the OpenAPI document of `/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/home", get(landing_page))
        .route("/static/console.css", get(css))
        .route("/static/console.js", get(script))
        .route("/signin", get(signin::form).post(signin::submit))
        .route("/signout", post(signin::signout))
        .route(
            "/password",
            get(signin::password_form).post(signin::change_password),
        )
        .route("/audit", get(signin::audit))
        .route("/desk", get(desk::form).post(desk::receive))
        .route("/dossiers/{code}/slip01", get(desk::slip01))
        .route("/dossiers/{code}/slips/{n}", get(dossier::slip))
        .route("/queue", get(dossier::queue))
        .route("/search", get(search::search))
        .route("/thong-ke", get(stats::page))
        .route("/thong-ke/bao-cao", get(reports::procedures))
        .route("/thong-ke/so-theo-doi", get(reports::register))
        .route("/ke-hoach", get(plans::list))
        .route("/ke-hoach/{plan}", get(plans::dashboard))
        .route(
            "/ke-hoach/{plan}/tasks/{task}/{action}",
            post(plans::task_action),
        )
        .route("/personal", get(personal::page))
        .route("/personal/erase", post(personal::erase))
        .route("/personal/sweep", post(personal::sweep))
        .route("/worklist", get(dossier::worklist))
        .route(
            "/inbox",
            get(dossier::inbox).post(dossier::approve_selected),
        )
        .route("/dossiers/{code}", get(dossier::page).post(dossier::act))
        .route(
            "/dossiers/{code}/files",
            // The scan streams through `app.files().attach`, which bounds it itself; the
            // multipart envelope may exceed a file's limit by its headers.
            post(files::upload).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(motcua_engine::domain::files::MAX_FILE_BYTES)
                    .unwrap_or(usize::MAX)
                    .saturating_add(64 * 1024),
            )),
        )
        .route("/dossiers/{code}/files/{sha256}", get(files::download))
        .route("/tra-cuu", get(lookup::page).post(lookup::submit))
        .route("/thu-tuc", get(catalog::page))
        .route(
            "/cong-dan/dang-ky",
            get(citizen::signup_form).post(citizen::signup),
        )
        .route(
            citizen::SIGNIN_PATH,
            get(citizen::signin_form).post(citizen::signin),
        )
        .route("/cong-dan/dang-xuat", post(citizen::signout))
        .route("/cong-dan", get(citizen_dossiers::list))
        .route("/cong-dan/tai-khoan", get(citizen::account_page))
        .route(
            "/cong-dan/tai-khoan/mat-khau",
            post(citizen::change_password),
        )
        .route("/cong-dan/tai-khoan/xoa", post(citizen::close_account))
        .route(
            "/cong-dan/nop/{procedure}",
            get(citizen_dossiers::submit_get).post(citizen_dossiers::submit_post),
        )
        .route("/cong-dan/ho-so/{code}", get(citizen_dossiers::dossier))
        .route(
            "/cong-dan/ho-so/{code}/{action}",
            post(citizen_dossiers::act),
        )
        .route("/staff", get(admin::list).post(admin::create))
        .route("/staff/{id}/password", post(admin::reset_password))
        .route("/staff/{id}/deactivate", post(admin::deactivate))
        .route(
            "/procedures",
            get(reference::procedures).post(reference::issue),
        )
        .route("/procedures/{id}", get(reference::procedure))
        .route("/procedures/{id}/amend", post(reference::amend))
        .route("/procedures/{id}/publish", post(reference::publish))
        .route("/procedures/{id}/abolish", post(reference::abolish))
        .route(
            "/calendar",
            get(reference::calendar).post(reference::publish_calendar),
        )
        .route(
            "/office-hours",
            get(reference::office_hours).post(reference::set_office_hours),
        )
        .layer(middleware::map_response(security_headers))
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Lookup secrets and dossier codes are in some URLs: never sent to another site.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        layout::CSS,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// The first screen of a caller's role (`../shared/UI.md`, "Roles and their first screen").
pub fn landing(caller: &Caller) -> &'static str {
    if caller.has(Role::Reception) {
        "/desk"
    } else if caller.has(Role::Specialist) {
        "/worklist"
    } else if caller.has(Role::Leader) {
        "/inbox"
    } else if caller.has(Role::Auditor) {
        "/audit"
    } else if caller.has(Role::Admin) {
        "/staff"
    } else {
        "/home"
    }
}

/// `GET /`: the sign-in page, or the caller's first screen.
async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session_of(&state, &headers) {
        Some(s) => Redirect::to(landing(&s.caller)).into_response(),
        None => Redirect::to("/signin").into_response(),
    }
}

/// The first screen of the roles whose own screens are not in the console yet.
async fn landing_page(State(state): State<AppState>, s: Signed) -> Response {
    let body = html! {
        h1 { "Xin chào, " (s.caller.staff.name) }
        p { "Các màn hình của vai trò này (kế hoạch cải cách hành chính, cổng công dân) chưa có trong bảng điều khiển; các chức năng đó đang dùng qua giao diện lập trình (API)." }
    };
    render(&state, &s, "Trang chính", body)
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The session id cookie `name` carries: 64 hex digits, or none (anything else names no
/// session and is not hashed). The one check of the staff's and the citizens' cookies.
pub fn session_id<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie(headers, name).filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn session_of(state: &AppState, headers: &HeaderMap) -> Option<SessionCaller> {
    state
        .app()
        .authenticate_session(session_id(headers, SESSION_COOKIE)?)
}

/// The `Set-Cookie` of a new session under cookie `name` (the staff's [`SESSION_COOKIE`] or
/// the citizens' `citizen::CITIZEN_COOKIE`).
pub fn session_cookie(name: &str, id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={id}; HttpOnly; SameSite=Strict; Path=/{secure}")
}

/// The `Set-Cookie` that removes the session cookie `name`.
pub fn clear_session_cookie(name: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// Adds a `Set-Cookie` to `res` (a value that is not a header value is dropped: every value
/// here is ASCII made by this module).
pub fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The signed-in caller of a console request; without a live session, a redirect to the
/// sign-in page (a GET) or a 403 page (a form post, whose content is not read).
pub struct Signed {
    pub caller: Caller,
    pub csrf: String,
    /// The session id (the cookie's value), to end it.
    pub session: String,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match session_of(state, &parts.headers) {
            Some(s) => Ok(Signed {
                caller: s.caller,
                csrf: s.csrf,
                session: cookie(&parts.headers, SESSION_COOKIE)
                    .unwrap_or_default()
                    .to_owned(),
            }),
            None if parts.method == axum::http::Method::GET => {
                let mut res = Redirect::to("/signin").into_response();
                // A cookie that names no live session is removed.
                if cookie(&parts.headers, SESSION_COOKIE).is_some() {
                    let secure = state.config().secure_cookies;
                    set_cookie(&mut res, &clear_session_cookie(SESSION_COOKIE, secure));
                }
                Err(res)
            }
            None => Err(error_page(
                StatusCode::FORBIDDEN,
                "Phiên làm việc đã kết thúc. Hãy đăng nhập lại rồi thực hiện lại thao tác.",
            )),
        }
    }
}

/// A form's fields, in order (a field may repeat: the document checklist).
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name` ("" if absent), trimmed.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// The first value of `name` as sent, untrimmed ("" if absent): a password, whose spaces are
    /// characters of it.
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// The non-empty lines of the value of `name`.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Why a console form is refused before anything in it is used (nothing is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The body is not a form (400).
    #[error("the body is not a form")]
    BadForm,
    /// The form does not carry its session's CSRF token (403).
    #[error("the form lacks its session's CSRF token")]
    Csrf,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::BadForm => error_page(
                StatusCode::BAD_REQUEST,
                "Biểu mẫu gửi lên không đọc được. Hãy tải lại trang và thử lại.",
            ),
            Refusal::Csrf => csrf_refused(),
        }
    }
}

/// The form of a post, or why not (a 400 page).
pub fn fields(form: Result<Form<Vec<(String, String)>>, FormRejection>) -> Result<Fields, Refusal> {
    form.map(|Form(v)| Fields(v)).map_err(|_| Refusal::BadForm)
}

/// Whether `sent` is the expected synchronizer token (compared by digest: the time taken does
/// not depend on how much of it matches).
pub fn csrf_ok(expected: &str, sent: &str) -> bool {
    !expected.is_empty() && sha256(expected.as_bytes()) == sha256(sent.as_bytes())
}

/// The 403 page of a form without its session's CSRF token (nothing was read or written).
pub fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Biểu mẫu không hợp lệ hoặc đã hết hạn (thiếu mã chống giả mạo). Hãy tải lại trang và thực hiện lại.",
    )
}

/// Checks the form's CSRF token against the session's.
pub fn check_csrf(s: &Signed, f: &Fields) -> Result<(), Refusal> {
    if csrf_ok(&s.csrf, f.get("csrf")) {
        Ok(())
    } else {
        Err(Refusal::Csrf)
    }
}

/// The form of a signed-in post whose CSRF token is the session's, or the page refusing it (400
/// for an unreadable form, 403 for a missing or foreign token; nothing was read or written).
pub fn signed_form(
    s: &Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Fields, Refusal> {
    let f = fields(form)?;
    check_csrf(s, &f)?;
    Ok(f)
}

/// [`signed_form`] of a post only `role` may make: the 403 page for anyone else (checked after
/// the token, so a forged post learns nothing of roles).
pub fn signed_form_of(
    state: &AppState,
    s: &Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    role: Role,
) -> Result<Fields, Box<Response>> {
    let f = signed_form(s, form).map_err(|r| Box::new(r.into_response()))?;
    if !s.caller.has(role) {
        return Err(Box::new(forbidden(state, s)));
    }
    Ok(f)
}

/// The 403 page of a screen the caller's role does not open.
pub fn forbidden(state: &AppState, s: &Signed) -> Response {
    let body = html! {
        h1 { "Không có quyền truy cập" }
        (layout::message(true, "Vai trò của bạn không được mở trang này."))
        p { a href=(landing(&s.caller)) { "Về màn hình chính của bạn" } }
    };
    let mut res = render(state, s, "Không có quyền truy cập", body);
    *res.status_mut() = StatusCode::FORBIDDEN;
    res
}

/// A page in the frame of the signed-in caller.
pub fn render(state: &AppState, s: &Signed, title: &str, body: Markup) -> Response {
    render_refreshing(state, s, title, body, None)
}

/// A page in the frame of the signed-in caller that reloads itself every `refresh` seconds.
pub fn render_refreshing(
    state: &AppState,
    s: &Signed,
    title: &str,
    body: Markup,
    refresh: Option<u32>,
) -> Response {
    let unit_name = state.app().desk().unit_name(s.caller.unit());
    let frame = layout::Frame {
        caller: &s.caller,
        csrf: &s.csrf,
        unit_name: &unit_name,
        today: clock::today(),
    };
    Html(layout::page_refreshing(title, Some(&frame), body, refresh).into_string()).into_response()
}

/// A page without the frame: an error before a session is known.
pub fn error_page(status: StatusCode, text: &str) -> Response {
    let body = html! {
        h1 { "Không thực hiện được" }
        (layout::message(true, text))
        p { a href="/" { "Về trang chính" } }
    };
    (status, Html(layout::page("Lỗi", None, body).into_string())).into_response()
}

/// The Vietnamese words of an application error (the API's problem, as the console says it).
pub fn message_vi(e: &ApiError) -> String {
    match e {
        ApiError::Validation { field, .. } => {
            format!(
                "Thông tin chưa hợp lệ: {}. Hãy kiểm tra lại rồi gửi lại.",
                field_vi(field)
            )
        }
        ApiError::IllegalTransition { .. } => {
            "Thao tác này không được phép ở trạng thái hiện tại của hồ sơ.".into()
        }
        ApiError::PreconditionFailed { .. } | ApiError::NothingToMatch(_) => {
            "Hồ sơ vừa được người khác cập nhật. Hãy xem lại hồ sơ rồi thực hiện lại.".into()
        }
        ApiError::Forbidden(_) => "Bạn không có quyền thực hiện thao tác này.".into(),
        ApiError::NotFound(_) => "Không tìm thấy hồ sơ hoặc dữ liệu được yêu cầu.".into(),
        ApiError::Conflict(_) | ApiError::IdempotencyKeyReused => {
            "Thao tác trùng hoặc xung đột với một thao tác khác. Hãy xem lại hồ sơ.".into()
        }
        ApiError::Overloaded { .. }
        | ApiError::RateLimited { .. }
        | ApiError::QuotaExceeded { .. } => "Hệ thống đang bận. Hãy thử lại sau ít phút.".into(),
        ApiError::FailStopped(_) | ApiError::ShuttingDown => {
            "Hệ thống đang tạm ngừng ghi dữ liệu. Hãy báo quản trị hệ thống; thao tác có thể chưa được ghi nhận.".into()
        }
        _ => "Đã có lỗi khi xử lý yêu cầu. Hãy thử lại hoặc báo quản trị hệ thống.".into(),
    }
}

/// The Vietnamese label of a refused field.
pub fn field_vi(field: &str) -> &str {
    match field {
        "applicant.name" | "name" => "họ tên người nộp",
        "applicant.id_number" | "id_number" => "số CCCD/định danh cá nhân",
        "applicant.phone" | "phone" => "số điện thoại",
        "applicant.address" | "address" => "địa chỉ",
        "procedure" => "thủ tục hành chính",
        "documents" => "thành phần hồ sơ",
        "channel" => "hình thức nộp",
        "unit" => "đơn vị",
        "specialist" => "công chức xử lý",
        "note" => "ghi chú",
        "reason" => "lý do",
        "reasons" => "lý do từ chối",
        "comments" => "ý kiến trả lại",
        "items" => "nội dung cần bổ sung",
        "agency" => "cơ quan liên thông",
        "amount" => "số tiền",
        "receipt_number" => "số biên lai",
        "draft" => "loại dự thảo",
        "legal_basis" => "căn cứ pháp lý",
        "missing" => "giấy tờ còn thiếu",
        other => other,
    }
}

/// An application error as the console's page status and words.
pub fn app_failure(e: impl Into<ApiError>) -> (StatusCode, String) {
    let e: ApiError = e.into();
    let status = e.status();
    if status.is_server_error() {
        tracing::error!(error = %e, "console request failed");
    }
    (status, message_vi(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_and_written_exactly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; motcua_session=abc ; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(
            session_cookie(SESSION_COOKIE, "ff", false),
            "motcua_session=ff; HttpOnly; SameSite=Strict; Path=/"
        );
        assert!(session_cookie(SESSION_COOKIE, "ff", true).ends_with("; Secure"));
        assert!(csrf_ok("x", "x"));
        assert!(!csrf_ok("x", "y"));
        assert!(!csrf_ok("", ""));
        assert_eq!(
            message_vi(&ApiError::validation("applicant.name", "is empty")),
            "Thông tin chưa hợp lệ: họ tên người nộp. Hãy kiểm tra lại rồi gửi lại."
        );
    }
}
