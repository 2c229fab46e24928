//! The admin's staff screen (Cán bộ): every staff member with their console username and
//! whether their account is active; an admin sets or resets a password (the holder's sessions
//! end) and deactivates an account (a `staff.updated` event of the log: their tokens and
//! sessions stop at the next request). Both through `app.accounts()`, which checks the admin
//! role itself; the trail records who reset whose password.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::html;
use motcua_engine::domain::types::{Role, StaffId};

use crate::app::accounts::MIN_PASSWORD_CHARS;
use crate::app::AppError;
use crate::console::layout::{self, role_vi};
use crate::console::{app_failure, forbidden, render, signed_form_of, Signed};
use crate::extract::ClientIp;
use crate::state::AppState;

fn staff_page(
    state: &AppState,
    s: &Signed,
    msg: Option<(bool, &str)>,
    status: StatusCode,
) -> Response {
    let staff = match state.app().staff().list(&s.caller) {
        Ok(l) => l,
        Err(e) => {
            let (status, text) = app_failure(e);
            let mut res = render(state, s, "Cán bộ", layout::message(true, &text));
            *res.status_mut() = status;
            return res;
        }
    };
    let accounts = state.app().accounts();
    let body = html! {
        h1 { "Cán bộ" }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        table {
            thead { tr { th { "Họ và tên" } th { "Mã cán bộ" } th { "Vai trò" } th { "Tên đăng nhập" } th { "Trạng thái" } th { "Thao tác" } } }
            tbody {
                @for st in &staff {
                    @let username = accounts.username_of(&st.id).ok().flatten();
                    tr {
                        td { (st.name) }
                        td { (st.id) }
                        td {
                            @for (i, r) in st.roles.iter().enumerate() {
                                @if i > 0 { ", " }
                                (role_vi(*r))
                            }
                        }
                        td { (username.clone().unwrap_or_else(|| "—".into())) }
                        td {
                            @if st.active { span.intime { "Đang hoạt động" } }
                            @else { span.late { "Đã ngừng hoạt động" } }
                        }
                        td {
                            @if st.active {
                                form method="post" action=(format!("/staff/{}/password", st.id)) {
                                    (layout::csrf_field(&s.csrf))
                                    @let uid = format!("u-{}", st.id);
                                    @let pid = format!("p-{}", st.id);
                                    label for=(uid) { "Tên đăng nhập" }
                                    input type="text" id=(uid) name="username"
                                        value=(username.clone().unwrap_or_else(|| st.id.to_string()));
                                    label for=(pid) { "Mật khẩu mới (ít nhất " (MIN_PASSWORD_CHARS) " ký tự)" }
                                    input type="password" id=(pid) name="password" autocomplete="new-password" required;
                                    div { button type="submit" { "Đặt lại mật khẩu" } }
                                }
                                form method="post" action=(format!("/staff/{}/deactivate", st.id)) {
                                    (layout::csrf_field(&s.csrf))
                                    button.secondary type="submit" { "Ngừng hoạt động" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut res = render(state, s, "Cán bộ", body);
    *res.status_mut() = status;
    res
}

/// `GET /staff` (admin).
pub async fn list(State(state): State<AppState>, s: Signed) -> Response {
    if !s.caller.has(Role::Admin) {
        return forbidden(&state, &s);
    }
    staff_page(&state, &s, None, StatusCode::OK)
}

fn refused(state: &AppState, s: &Signed, e: AppError) -> Response {
    if matches!(e, AppError::Forbidden(_)) {
        return forbidden(state, s);
    }
    let text = match &e {
        AppError::Invalid { field, .. } if field == "password" => {
            format!("Mật khẩu mới phải có ít nhất {MIN_PASSWORD_CHARS} ký tự.")
        }
        AppError::Invalid { field, .. } if field == "username" => {
            "Tên đăng nhập không hợp lệ hoặc đã thuộc về cán bộ khác (chỉ dùng chữ cái không dấu, chữ số, '.', '-', '_').".to_owned()
        }
        _ => app_failure(e).1,
    };
    staff_page(
        state,
        s,
        Some((true, &text)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// `POST /staff/{id}/password` (admin): sets or resets the console password of staff `id`.
pub async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: Signed,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Admin) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(staff) = id.parse::<StaffId>() else {
        return refused(&state, &s, AppError::NotFound(id));
    };
    let password =
        f.0.iter()
            .find(|(k, _)| k == "password")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
    let r = state
        .app()
        .accounts()
        .set_password(
            Some(&s.caller),
            &staff,
            f.get("username"),
            password,
            &ip.to_string(),
        )
        .await;
    match r {
        Ok(()) => {
            let text = format!("Đã đặt lại mật khẩu cho cán bộ {staff}.");
            staff_page(&state, &s, Some((false, &text)), StatusCode::OK)
        }
        Err(e) => refused(&state, &s, e),
    }
}

/// `POST /staff/{id}/deactivate` (admin).
pub async fn deactivate(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    if let Err(r) = signed_form_of(&state, &s, form, Role::Admin) {
        return *r;
    }
    if let Err(e) = state.check_writable() {
        let (status, text) = app_failure(e);
        return staff_page(&state, &s, Some((true, &text)), status);
    }
    let Ok(staff) = id.parse::<StaffId>() else {
        return refused(&state, &s, AppError::NotFound(id));
    };
    match state.app().accounts().deactivate(&s.caller, &staff).await {
        Ok(()) => {
            let text = format!("Đã ngừng hoạt động tài khoản của cán bộ {staff}.");
            staff_page(&state, &s, Some((false, &text)), StatusCode::OK)
        }
        Err(e) => refused(&state, &s, e),
    }
}
