//! Signing in and out, changing one's password, and the auditor's sign-in trail.
//!
//! A sign-in is refused before its password is checked while the account's or the address's
//! failure bucket is empty (`SIGNIN_FAILURES_PER_ACCOUNT`, `SIGNIN_FAILURES_PER_ADDRESS` in
//! `config.rs`): 429 with `Retry-After`. Only failures take from the buckets, so an officer
//! who signs in correctly many times a day is never throttled. Every attempt, the throttled
//! ones too, goes to the sign-in trail (`app::accounts`), which `GET /audit` shows.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;

use crate::app::accounts::{
    normalise_username, PasswordError, SignInError, SignInKind, MAX_PASSWORD_BYTES,
    MIN_PASSWORD_CHARS,
};
use crate::console::layout::{self, datetime_vi};
use crate::console::{
    clear_session_cookie, cookie, csrf_ok, csrf_refused, fields, forbidden, landing, render,
    session_cookie, set_cookie, signed_form, Signed, SESSION_COOKIE, SIGNIN_COOKIE,
    SIGNIN_FORM_MAX_AGE_S,
};
use crate::crypto::random_bytes;
use crate::extract::ClientIp;
use crate::state::AppState;

/// Lines of the sign-in trail the audit page shows.
pub const AUDIT_PAGE_ROWS: usize = 500;

fn signin_page(status: StatusCode, error: Option<&str>, username: &str) -> Response {
    let token = hex::encode(random_bytes());
    let body = html! {
        h1 { "Đăng nhập" }
        @if let Some(e) = error { (layout::message(true, e)) }
        form method="post" action="/signin" {
            input type="hidden" name="csrf" value=(token);
            label for="username" { "Tên đăng nhập" }
            input type="text" id="username" name="username" value=(username)
                autocomplete="username" required autofocus;
            label for="password" { "Mật khẩu" }
            input type="password" id="password" name="password"
                autocomplete="current-password" required;
            div { button type="submit" { "Đăng nhập" } }
        }
    };
    let mut res = (
        status,
        Html(layout::page("Đăng nhập", None, body).into_string()),
    )
        .into_response();
    let cookie = format!(
        "{SIGNIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/signin; Max-Age={SIGNIN_FORM_MAX_AGE_S}"
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// `GET /signin`.
pub async fn form() -> Response {
    signin_page(StatusCode::OK, None, "")
}

/// `POST /signin`: username and password; a session on success.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match fields(form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    if !csrf_ok(cookie(&headers, SIGNIN_COOKIE).unwrap_or(""), f.get("csrf")) {
        return csrf_refused();
    }
    let username = normalise_username(f.get("username"));
    // The password is read as sent (spaces are characters of a password).
    let password = f.raw("password");
    let address = ip.to_string();
    let accounts = state.app().accounts();
    let wait = state
        .signin_address_limiter()
        .blocked(ip)
        .max(state.signin_account_limiter().blocked_key(&username));
    if let Some(retry_after) = wait {
        accounts.record(SignInKind::Throttled, &username, None, None, &address);
        let text = format!("Đăng nhập sai quá nhiều lần. Hãy thử lại sau {retry_after} giây.");
        let mut res = signin_page(StatusCode::TOO_MANY_REQUESTS, Some(&text), &username);
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    match accounts.sign_in(&username, password, &address).await {
        Ok(Ok(staff)) => {
            let session = state.app().open_session(&staff.id);
            let mut res = Redirect::to("/").into_response();
            let secure = state.config().secure_cookies;
            set_cookie(
                &mut res,
                &session_cookie(SESSION_COOKIE, &session.id, secure),
            );
            res
        }
        Ok(Err(why)) => {
            // Both buckets pay for a failure; the next attempt is judged before its password.
            let _ = state.signin_address_limiter().check(ip);
            let _ = state.signin_account_limiter().check_key(username.clone());
            let text = match why {
                SignInError::BadCredentials => "Tên đăng nhập hoặc mật khẩu không đúng.",
                SignInError::Deactivated => {
                    "Tài khoản này đã ngừng hoạt động. Hãy liên hệ quản trị hệ thống."
                }
            };
            signin_page(StatusCode::UNAUTHORIZED, Some(text), &username)
        }
        Err(e) => {
            let (status, text) = crate::console::app_failure(e);
            signin_page(status, Some(&text), &username)
        }
    }
}

/// `POST /signout`: ends the session (with its CSRF token: a foreign page cannot sign anyone
/// out).
pub async fn signout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    if let Err(r) = signed_form(&s, form) {
        return r.into_response();
    }
    state.app().sessions().end(&s.session);
    let accounts = state.app().accounts();
    let username = accounts
        .username_of(s.caller.id())
        .ok()
        .flatten()
        .unwrap_or_default();
    accounts.record(
        SignInKind::SignedOut,
        &username,
        Some(s.caller.id()),
        None,
        &ip.to_string(),
    );
    let mut res = Redirect::to("/signin").into_response();
    let secure = state.config().secure_cookies;
    set_cookie(&mut res, &clear_session_cookie(SESSION_COOKIE, secure));
    res
}

fn password_page(
    state: &AppState,
    s: &Signed,
    status: StatusCode,
    msg: Option<(bool, &str)>,
) -> Response {
    let body = html! {
        h1 { "Đổi mật khẩu" }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        form method="post" action="/password" {
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
    };
    let mut res = render(state, s, "Đổi mật khẩu", body);
    *res.status_mut() = status;
    res
}

/// `GET /password`.
pub async fn password_form(State(state): State<AppState>, s: Signed) -> Response {
    password_page(&state, &s, StatusCode::OK, None)
}

/// `POST /password`: the current password, the new one twice. The caller's other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form(&s, form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let (current, new, confirm) = (f.raw("current"), f.raw("new"), f.raw("confirm"));
    if new != confirm {
        return password_page(
            &state,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((true, "Hai lần nhập mật khẩu mới không khớp nhau.")),
        );
    }
    let r = state
        .app()
        .accounts()
        .change_own(&s.caller, current, new, &ip.to_string())
        .await;
    match r {
        Ok(Ok(())) => {
            state
                .app()
                .sessions()
                .end_all_of_except(s.caller.id(), Some(&s.session));
            password_page(
                &state,
                &s,
                StatusCode::OK,
                Some((false, "Đã đổi mật khẩu.")),
            )
        }
        Ok(Err(e)) => {
            let text = match e {
                PasswordError::WrongCurrent => "Mật khẩu hiện tại không đúng.".to_owned(),
                PasswordError::TooShort => {
                    format!("Mật khẩu mới phải có ít nhất {MIN_PASSWORD_CHARS} ký tự.")
                }
                PasswordError::TooLong => {
                    format!("Mật khẩu mới dài quá {MAX_PASSWORD_BYTES} byte.")
                }
                PasswordError::UsernameTaken | PasswordError::BadUsername => {
                    "Tên đăng nhập không hợp lệ.".to_owned()
                }
            };
            password_page(
                &state,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some((true, &text)),
            )
        }
        Err(e) => {
            let (status, text) = crate::console::app_failure(e);
            password_page(&state, &s, status, Some((true, &text)))
        }
    }
}

/// `GET /audit`: the newest lines of the sign-in trail (auditors and admins).
pub async fn audit(State(state): State<AppState>, s: Signed) -> Response {
    let lines = match state.app().accounts().trail(&s.caller, AUDIT_PAGE_ROWS) {
        Ok(l) => l,
        Err(crate::app::AppError::Forbidden(_)) => return forbidden(&state, &s),
        Err(e) => {
            let (status, text) = crate::console::app_failure(e);
            let mut res = render(
                &state,
                &s,
                "Nhật ký đăng nhập",
                layout::message(true, &text),
            );
            *res.status_mut() = status;
            return res;
        }
    };
    let desk = state.app().desk();
    let name = |id: &Option<String>| {
        id.as_deref()
            .map(|i| {
                desk.staff(i)
                    .map(|st| st.name)
                    .unwrap_or_else(|| i.to_owned())
            })
            .unwrap_or_default()
    };
    let body = html! {
        h1 { "Nhật ký đăng nhập" }
        p.muted { "Đăng nhập, đăng nhập không thành công, đăng xuất và thay đổi mật khẩu; mới nhất trước ("
            (lines.len()) " dòng)." }
        table {
            thead { tr { th { "Thời gian" } th { "Sự kiện" } th { "Tên đăng nhập" } th { "Cán bộ" } th { "Người thực hiện" } th { "Địa chỉ máy" } } }
            tbody {
                @for l in &lines {
                    tr {
                        td { (datetime_vi(l.at)) }
                        td { (l.kind.vi()) }
                        td { (l.username) }
                        td { (name(&l.staff)) }
                        td { (name(&l.by)) }
                        td { (l.address) }
                    }
                }
            }
        }
        p { a href=(landing(&s.caller)) { "Về màn hình chính" } }
    };
    render(&state, &s, "Nhật ký đăng nhập", body)
}
