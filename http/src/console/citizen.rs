//! The citizens' portal accounts in the browser, laid out for a 360 px phone: sign up
//! (`/cong-dan/dang-ky`) with a phone number or an e-mail address and a password, sign in
//! (`/cong-dan/dang-nhap`), sign out; the [`CitizenSigned`] extractor of every page of a
//! signed-in citizen, and their page frame.
//!
//! A citizen's session is not a staff session: its own cookie [`CITIZEN_COOKIE`] names a
//! session of the citizens' own store (`App::authenticate_citizen_session`), so a citizen's
//! cookie never opens a staff screen and a staff member's never opens a citizen's page. Like
//! the staff's, it is `HttpOnly; SameSite=Strict`, and every form carries the session's CSRF
//! token; the sign-up and sign-in forms, before any session, carry a double-submit token bound
//! to the cookie [`CITIZEN_FORM_COOKIE`]. Failed sign-ins take from the staff sign-in's
//! buckets (per address, and per login); every sign-up attempt takes from the address's, so
//! one address cannot open accounts in bulk.
//!
//! The account's own page (`/cong-dan/tai-khoan`): change the password (the current one
//! asked; the account's other sessions end) and close the account (the password asked; every
//! session ends, the login and its hash are removed, the dossiers stay: `Citizens::close`).

use axum::extract::rejection::FormRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use motcua_engine::domain::types::{ProcedureId, UnitCode};
use serde::Deserialize;

use crate::app::accounts::{PasswordError, SignInKind, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
use crate::app::citizens::{Login, LoginError, SignUpError};
use crate::console::layout;
use crate::console::{
    clear_session_cookie, cookie, csrf_ok, error_page, fields, session_cookie, session_id,
    set_cookie, Fields, Refusal,
};
use crate::crypto::random_bytes;
use crate::extract::ClientIp;
use crate::state::AppState;

/// The citizen's session cookie (apart from the staff's `motcua_session`).
pub const CITIZEN_COOKIE: &str = "motcua_citizen";
/// The double-submit cookie of the sign-up and sign-in forms.
pub const CITIZEN_FORM_COOKIE: &str = "motcua_citizen_form";
/// Where a citizen signs in.
pub const SIGNIN_PATH: &str = "/cong-dan/dang-nhap";
/// How long a sign-up or sign-in form stays valid.
const FORM_MAX_AGE_S: u64 = 15 * 60;

/// Where a citizen goes after signing in or up when they came from a procedure's "Nộp
/// trực tuyến" link: that procedure's submission form. Only a procedure id and a unit code,
/// both parsed, so the sign-in can send nobody anywhere else.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NextQuery {
    #[serde(default, rename = "thu-tuc")]
    pub procedure: Option<String>,
    #[serde(default, rename = "don-vi")]
    pub unit: Option<String>,
}

/// A parsed [`NextQuery`].
#[derive(Debug, Clone)]
struct Next {
    procedure: ProcedureId,
    unit: Option<UnitCode>,
}

impl Next {
    fn parse(procedure: &str, unit: &str) -> Option<Next> {
        Some(Next {
            procedure: procedure.parse().ok()?,
            unit: unit.parse().ok(),
        })
    }

    fn of(q: &NextQuery) -> Option<Next> {
        Next::parse(
            q.procedure.as_deref().unwrap_or(""),
            q.unit.as_deref().unwrap_or(""),
        )
    }

    /// The query that carries it to a door.
    fn query(&self) -> String {
        match &self.unit {
            Some(u) => format!("?thu-tuc={}&don-vi={u}", self.procedure),
            None => format!("?thu-tuc={}", self.procedure),
        }
    }

    /// The submission form it names.
    fn form(&self) -> String {
        match &self.unit {
            Some(u) => format!("/cong-dan/nop/{}?don-vi={u}", self.procedure),
            None => format!("/cong-dan/nop/{}", self.procedure),
        }
    }
}

/// Where a signed-out request for `parts` is sent: the sign-in, with the submission form to
/// come back to when it was one.
fn signin_for(parts: &Parts) -> String {
    let path = parts.uri.path();
    let unit = parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("don-vi=")))
        .unwrap_or("");
    match path
        .strip_prefix("/cong-dan/nop/")
        .and_then(|id| Next::parse(id, unit))
    {
        Some(next) => format!("{SIGNIN_PATH}{}", next.query()),
        None => SIGNIN_PATH.to_owned(),
    }
}

/// The signed-in citizen of a portal request; without a live citizen session, a redirect to
/// the citizen's sign-in (a GET) or a 403 page (a form post, whose content is not read).
pub struct CitizenSigned {
    pub account: String,
    pub csrf: String,
    /// The session id (the cookie's value), to end it.
    pub session: String,
}

impl FromRequestParts<AppState> for CitizenSigned {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let id = session_id(&parts.headers, CITIZEN_COOKIE);
        match id.and_then(|id| state.app().authenticate_citizen_session(id)) {
            Some(s) => Ok(CitizenSigned {
                account: s.account,
                csrf: s.csrf,
                session: id.unwrap_or_default().to_owned(),
            }),
            None if parts.method == axum::http::Method::GET => {
                let mut res = Redirect::to(&signin_for(parts)).into_response();
                if cookie(&parts.headers, CITIZEN_COOKIE).is_some() {
                    set_cookie(
                        &mut res,
                        &clear_session_cookie(CITIZEN_COOKIE, state.config().secure_cookies),
                    );
                }
                Err(res)
            }
            None => Err(error_page(
                StatusCode::FORBIDDEN,
                "Phiên đăng nhập đã kết thúc. Hãy đăng nhập lại rồi thực hiện lại thao tác.",
            )),
        }
    }
}

impl CitizenSigned {
    /// The form of a post whose CSRF token is this session's, or the page refusing it.
    pub fn form(
        &self,
        form: Result<Form<Vec<(String, String)>>, FormRejection>,
    ) -> Result<Fields, Refusal> {
        let f = fields(form)?;
        if csrf_ok(&self.csrf, f.get("csrf")) {
            Ok(f)
        } else {
            Err(Refusal::Csrf)
        }
    }
}

/// A page of a signed-in citizen: their navigation (my dossiers, the catalog, sign out).
pub fn render(s: &CitizenSigned, title: &str, body: Markup) -> Response {
    let body = html! {
        nav.main aria-label="Điều hướng công dân" {
            a href="/cong-dan" { "Hồ sơ của tôi" }
            a href="/thu-tuc" { "Nộp hồ sơ mới" }
            a href="/cong-dan/tai-khoan" { "Tài khoản" }
            form method="post" action="/cong-dan/dang-xuat" {
                (layout::csrf_field(&s.csrf))
                button.secondary type="submit" { "Đăng xuất" }
            }
        }
        (body)
    };
    let mut res = Html(layout::page(title, None, body).into_string()).into_response();
    // Pages of one person's dossiers (a secret shown once among them): never cached.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Which of the two forms without a session.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Door {
    SignUp,
    SignIn,
}

fn door_page(
    door: Door,
    status: StatusCode,
    error: Option<&str>,
    login: &str,
    next: Option<&Next>,
) -> Response {
    let token = hex::encode(random_bytes());
    let (title, action) = match door {
        Door::SignUp => ("Đăng ký tài khoản công dân", "/cong-dan/dang-ky"),
        Door::SignIn => ("Đăng nhập tài khoản công dân", SIGNIN_PATH),
    };
    let carry = next.map(Next::query).unwrap_or_default();
    let body = html! {
        h1 { (title) }
        @if let Some(e) = error { (layout::message(true, e)) }
        @if next.is_some() && error.is_none() {
            p { "Hãy đăng nhập (hoặc đăng ký) để nộp hồ sơ trực tuyến." }
        }
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(token);
            @if let Some(n) = next {
                input type="hidden" name="thu-tuc" value=(n.procedure);
                @if let Some(u) = &n.unit { input type="hidden" name="don-vi" value=(u); }
            }
            label for="login" { "Số điện thoại di động hoặc thư điện tử" }
            input type="text" id="login" name="login" value=(login) required maxlength="254"
                autocomplete="username" inputmode="email" spellcheck="false" autocapitalize="off";
            @if door == Door::SignUp {
                label for="password" { "Mật khẩu (ít nhất " (MIN_PASSWORD_CHARS) " ký tự)" }
                input type="password" id="password" name="password" required
                    autocomplete="new-password";
                label for="confirm" { "Nhập lại mật khẩu" }
                input type="password" id="confirm" name="confirm" required
                    autocomplete="new-password";
                div { button type="submit" { "Đăng ký" } }
            } @else {
                label for="password" { "Mật khẩu" }
                input type="password" id="password" name="password" required
                    autocomplete="current-password";
                div { button type="submit" { "Đăng nhập" } }
            }
        }
        @if door == Door::SignUp {
            p.muted { "Số điện thoại hoặc thư điện tử chỉ dùng để đăng nhập; không ghi vào hồ sơ và không công khai." }
            p { "Đã có tài khoản? " a href=(format!("{SIGNIN_PATH}{carry}")) { "Đăng nhập" } }
        } @else {
            p { "Chưa có tài khoản? " a href=(format!("/cong-dan/dang-ky{carry}")) { "Đăng ký" } }
        }
        p { a href="/thu-tuc" { "Thủ tục hành chính" } " · " a href="/tra-cuu" { "Tra cứu hồ sơ bằng mã" } }
    };
    let mut res = (status, Html(layout::page(title, None, body).into_string())).into_response();
    set_cookie(
        &mut res,
        &format!(
            "{CITIZEN_FORM_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/cong-dan; Max-Age={FORM_MAX_AGE_S}"
        ),
    );
    res
}

fn next_of(q: Result<Query<NextQuery>, QueryRejection>) -> Option<Next> {
    q.ok().and_then(|Query(q)| Next::of(&q))
}

/// `GET /cong-dan/dang-ky`.
pub async fn signup_form(q: Result<Query<NextQuery>, QueryRejection>) -> Response {
    door_page(Door::SignUp, StatusCode::OK, None, "", next_of(q).as_ref())
}

/// `GET /cong-dan/dang-nhap`.
pub async fn signin_form(q: Result<Query<NextQuery>, QueryRejection>) -> Response {
    door_page(Door::SignIn, StatusCode::OK, None, "", next_of(q).as_ref())
}

/// The form of a door, its double-submit token checked first.
fn door_form(
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Fields, Refusal> {
    let f = fields(form)?;
    if !csrf_ok(
        cookie(headers, CITIZEN_FORM_COOKIE).unwrap_or(""),
        f.get("csrf"),
    ) {
        return Err(Refusal::Csrf);
    }
    Ok(f)
}

/// Signs the account in: a session, its cookie, and the way to the citizen's dossiers.
fn signed_in(state: &AppState, account: &str, next: Option<&Next>) -> Response {
    let session = state.app().open_citizen_session(account);
    let to = next.map_or_else(|| "/cong-dan".to_owned(), Next::form);
    let mut res = Redirect::to(&to).into_response();
    set_cookie(
        &mut res,
        &session_cookie(CITIZEN_COOKIE, &session.id, state.config().secure_cookies),
    );
    res
}

fn throttled(door: Door, login: &str, retry_after: u64, next: Option<&Next>) -> Response {
    let text = format!("Bạn đã thử quá nhiều lần. Hãy thử lại sau {retry_after} giây.");
    let mut res = door_page(
        door,
        StatusCode::TOO_MANY_REQUESTS,
        Some(&text),
        login,
        next,
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// `POST /cong-dan/dang-ky`: a login, a password twice; an account and a session, or the
/// form again with why not (422, nothing stored).
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match door_form(&headers, form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let login = f.get("login").to_owned();
    let next = Next::parse(f.get("thu-tuc"), f.get("don-vi"));
    let next = next.as_ref();
    if let Some(wait) = state.signin_address_limiter().blocked(ip) {
        return throttled(Door::SignUp, &login, wait, next);
    }
    // Every attempt costs the address a token: accounts are not opened in bulk from one place.
    let _ = state.signin_address_limiter().check(ip);
    let password = f.raw("password");
    if password != f.raw("confirm") {
        let text = "Hai lần nhập mật khẩu không khớp nhau.";
        return door_page(
            Door::SignUp,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(text),
            &login,
            next,
        );
    }
    let address = ip.to_string();
    match state
        .app()
        .citizens()
        .sign_up(&login, password, &address)
        .await
    {
        Ok(Ok(account)) => signed_in(&state, &account, next),
        Ok(Err(why)) => {
            let text = match why {
                SignUpError::Login(LoginError::BadPhone) => "Số điện thoại không hợp lệ: hãy nhập số di động 10 chữ số bắt đầu bằng 0 (ví dụ 0912 345 678).".to_owned(),
                SignUpError::Login(LoginError::BadEmail) => "Địa chỉ thư điện tử không hợp lệ (ví dụ ten@example.vn).".to_owned(),
                SignUpError::PasswordTooShort => format!("Mật khẩu phải có ít nhất {MIN_PASSWORD_CHARS} ký tự."),
                SignUpError::PasswordTooLong => "Mật khẩu quá dài.".to_owned(),
                SignUpError::Taken => "Số điện thoại hoặc thư điện tử này đã có tài khoản. Hãy đăng nhập.".to_owned(),
            };
            door_page(
                Door::SignUp,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&text),
                &login,
                next,
            )
        }
        Err(e) => {
            let (status, text) = crate::console::app_failure(e);
            door_page(Door::SignUp, status, Some(&text), &login, next)
        }
    }
}

/// `POST /cong-dan/dang-nhap`: a login and a password; a session on success.
pub async fn signin(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match door_form(&headers, form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let login = f.get("login").to_owned();
    let next = Next::parse(f.get("thu-tuc"), f.get("don-vi"));
    let next = next.as_ref();
    // The per-login bucket is keyed apart from staff usernames, by the login as parsed (so
    // "0912 345 678" and "+84912345678" share one); it lives in memory only.
    let bucket = match Login::parse(&login) {
        Ok(parsed) => format!("citizen/{}", parsed.as_str()),
        Err(_) => format!("citizen/{}", login.trim().to_lowercase()),
    };
    let wait = state
        .signin_address_limiter()
        .blocked(ip)
        .max(state.signin_account_limiter().blocked_key(&bucket));
    let citizens = state.app().citizens();
    let address = ip.to_string();
    if let Some(retry_after) = wait {
        citizens.record(SignInKind::Throttled, None, &address);
        return throttled(Door::SignIn, &login, retry_after, next);
    }
    match citizens.sign_in(&login, f.raw("password"), &address).await {
        Ok(Ok(account)) => signed_in(&state, &account, next),
        Ok(Err(_)) => {
            let _ = state.signin_address_limiter().check(ip);
            let _ = state.signin_account_limiter().check_key(bucket);
            door_page(
                Door::SignIn,
                StatusCode::UNAUTHORIZED,
                Some("Số điện thoại, thư điện tử hoặc mật khẩu không đúng."),
                &login,
                next,
            )
        }
        Err(e) => {
            let (status, text) = crate::console::app_failure(e);
            door_page(Door::SignIn, status, Some(&text), &login, next)
        }
    }
}

/// `POST /cong-dan/dang-xuat`: ends the session (with its CSRF token).
pub async fn signout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: CitizenSigned,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    if let Err(r) = s.form(form) {
        return r.into_response();
    }
    state.app().citizen_sessions().end(&s.session);
    state
        .app()
        .citizens()
        .record(SignInKind::SignedOut, Some(&s.account), &ip.to_string());
    let mut res = Redirect::to(SIGNIN_PATH).into_response();
    let secure = state.config().secure_cookies;
    set_cookie(&mut res, &clear_session_cookie(CITIZEN_COOKIE, secure));
    res
}

fn account_view(s: &CitizenSigned, status: StatusCode, msg: Option<(bool, &str)>) -> Response {
    let body = html! {
        h1 { "Tài khoản của tôi" }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        section.actions aria-labelledby="doi-mat-khau" {
            h2 id="doi-mat-khau" { "Đổi mật khẩu" }
            form method="post" action="/cong-dan/tai-khoan/mat-khau" {
                (layout::csrf_field(&s.csrf))
                label for="current" { "Mật khẩu hiện tại" }
                input type="password" id="current" name="current" autocomplete="current-password" required;
                label for="new" { "Mật khẩu mới (ít nhất " (MIN_PASSWORD_CHARS) " ký tự)" }
                input type="password" id="new" name="new" autocomplete="new-password" required;
                label for="confirm" { "Nhập lại mật khẩu mới" }
                input type="password" id="confirm" name="confirm" autocomplete="new-password" required;
                div { button type="submit" { "Đổi mật khẩu" } }
            }
            p.muted { "Sau khi đổi, các phiên đăng nhập khác của bạn (trên máy khác) sẽ kết thúc." }
        }
        section.actions aria-labelledby="xoa-tai-khoan" {
            h2 id="xoa-tai-khoan" { "Xoá tài khoản" }
            p { "Khi xoá tài khoản, số điện thoại hoặc thư điện tử và mật khẩu của bạn bị xoá; bạn không đăng nhập được nữa. "
                "Các hồ sơ đã nộp vẫn được lưu theo quy định và vẫn tra cứu được bằng mã hồ sơ và mã tra cứu." }
            form method="post" action="/cong-dan/tai-khoan/xoa" {
                (layout::csrf_field(&s.csrf))
                label for="close-password" { "Mật khẩu" }
                input type="password" id="close-password" name="password" autocomplete="current-password" required;
                div { button.secondary type="submit" { "Xoá tài khoản" } }
            }
        }
    };
    let mut res = render(s, "Tài khoản của tôi", body);
    *res.status_mut() = status;
    res
}

/// `GET /cong-dan/tai-khoan`: change the password, close the account.
pub async fn account_page(s: CitizenSigned) -> Response {
    account_view(&s, StatusCode::OK, None)
}

/// `POST /cong-dan/tai-khoan/mat-khau`: the current password, the new one twice; the
/// account's other sessions end. A refusal changes nothing (422).
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: CitizenSigned,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match s.form(form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let (current, new) = (f.raw("current"), f.raw("new"));
    if new != f.raw("confirm") {
        let text = "Hai lần nhập mật khẩu mới không khớp nhau.";
        return account_view(&s, StatusCode::UNPROCESSABLE_ENTITY, Some((true, text)));
    }
    let r = state
        .app()
        .citizens()
        .change_password(&s.account, current, new, &ip.to_string())
        .await;
    match r {
        Ok(Ok(())) => {
            state
                .app()
                .citizen_sessions()
                .end_all_of_except(&s.account, Some(&s.session));
            account_view(&s, StatusCode::OK, Some((false, "Đã đổi mật khẩu.")))
        }
        Ok(Err(e)) => {
            let text = match e {
                PasswordError::TooShort => {
                    format!("Mật khẩu mới phải có ít nhất {MIN_PASSWORD_CHARS} ký tự.")
                }
                PasswordError::TooLong => {
                    format!("Mật khẩu mới dài quá {MAX_PASSWORD_BYTES} byte.")
                }
                _ => "Mật khẩu hiện tại không đúng.".to_owned(),
            };
            account_view(&s, StatusCode::UNPROCESSABLE_ENTITY, Some((true, &text)))
        }
        Err(e) => {
            let (status, text) = crate::console::app_failure(e);
            account_view(&s, status, Some((true, &text)))
        }
    }
}

/// `POST /cong-dan/tai-khoan/xoa`: the password; the account closed, every session of it
/// ended, the cookie removed, and the sign-in page with the news. A wrong password: 422,
/// nothing changed.
pub async fn close_account(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: CitizenSigned,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match s.form(form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let r = state
        .app()
        .citizens()
        .close(&s.account, f.raw("password"), &ip.to_string())
        .await;
    match r {
        Ok(Ok(())) => {
            let body = html! {
                h1 { "Đã xoá tài khoản" }
                (layout::message(false, "Tài khoản của bạn đã được xoá. Các hồ sơ đã nộp vẫn tra cứu được bằng mã hồ sơ và mã tra cứu."))
                p { a href="/tra-cuu" { "Tra cứu hồ sơ" } " · " a href="/thu-tuc" { "Thủ tục hành chính" } }
            };
            let mut res =
                Html(layout::page("Đã xoá tài khoản", None, body).into_string()).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            let secure = state.config().secure_cookies;
            set_cookie(&mut res, &clear_session_cookie(CITIZEN_COOKIE, secure));
            res
        }
        Ok(Err(_)) => account_view(
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((true, "Mật khẩu không đúng. Tài khoản chưa bị xoá.")),
        ),
        Err(e) => {
            let (status, text) = crate::console::app_failure(e);
            account_view(&s, status, Some((true, &text)))
        }
    }
}
