//! The admin's staff screen (Cán bộ): every staff member with their console username and
//! whether their account is active; an admin adds a staff member (the JSON route's own
//! [`StaffDraft`] and `app.staff().register`, then their console password), sets or resets a
//! password (the holder's sessions end) and deactivates an account (a `staff.updated` event of
//! the log: their tokens and sessions stop at the next request). Through `app.staff()` and
//! `app.accounts()`, which check the admin role themselves; the trail records who reset whose
//! password.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::html;
use motcua_engine::domain::dossier::limits::MAX_NAME_CHARS;
use motcua_engine::domain::events::FieldInfo;
use motcua_engine::domain::types::{Role, StaffId};

use crate::app::accounts::{check_password, MIN_PASSWORD_CHARS};
use crate::app::staff::StaffDraft;
use crate::app::AppError;
use crate::console::layout::{self, role_vi};
use crate::console::reference::{form_key, key_of};
use crate::console::{app_failure, forbidden, render, signed_form_of, Signed};
use crate::errors::ApiError;
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
    // The unit's fields, for a specialist's checkboxes; a failed read only leaves them out.
    let fields = state
        .app()
        .reference()
        .unit_fields(&s.caller)
        .unwrap_or_default();
    let body = html! {
        h1 { "Cán bộ" }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        (new_staff_form(s, &fields))
        h2 { "Danh sách cán bộ" }
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

/// The "Thêm cán bộ" form: id, name, roles, the unit's fields, and an optional first console
/// password (without one the account gets its password later, with the reset form below).
fn new_staff_form(s: &Signed, fields: &[FieldInfo]) -> maud::Markup {
    html! {
        details {
            summary { "Thêm cán bộ" }
            form method="post" action="/staff" {
                (layout::csrf_field(&s.csrf))
                (form_key())
                label for="new-id" { "Mã cán bộ (chữ thường không dấu, chữ số, '-')" }
                input type="text" id="new-id" name="id" required maxlength="64" autocomplete="off";
                label for="new-name" { "Họ và tên" }
                input type="text" id="new-name" name="name" required maxlength=(MAX_NAME_CHARS);
                fieldset {
                    legend { "Vai trò" }
                    @for r in Role::ALL.iter().filter(|r| **r != Role::Citizen) {
                        @let rid = format!("new-role-{r}");
                        div {
                            input type="checkbox" id=(rid) name="roles" value=(r.to_string());
                            label for=(rid) { (role_vi(*r)) }
                        }
                    }
                }
                @if !fields.is_empty() {
                    fieldset {
                        legend { "Lĩnh vực phụ trách (bắt buộc với công chức chuyên môn)" }
                        @for f in fields {
                            @let fid = format!("new-field-{}", f.field);
                            div {
                                input type="checkbox" id=(fid) name="fields" value=(f.field.to_string());
                                label for=(fid) { (f.name) }
                            }
                        }
                    }
                }
                label for="new-username" { "Tên đăng nhập (để trống: dùng mã cán bộ)" }
                input type="text" id="new-username" name="username" autocomplete="off";
                label for="new-password" { "Mật khẩu ban đầu (ít nhất " (MIN_PASSWORD_CHARS) " ký tự; để trống: đặt sau)" }
                input type="password" id="new-password" name="password" autocomplete="new-password";
                div { button type="submit" { "Thêm cán bộ" } }
            }
        }
    }
}

/// `POST /staff` (admin): registers a staff member, then their console password if one is
/// given. The password's length is checked first, so a refused password registers nobody.
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Admin) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(e) = state.check_writable() {
        let (status, text) = app_failure(e);
        return staff_page(&state, &s, Some((true, &text)), status);
    }
    let draft = StaffDraft {
        id: f.get("id").to_owned(),
        name: f.get("name").to_owned(),
        unit: None,
        roles: f.all("roles"),
        fields: f.all("fields"),
    };
    let staff = match draft.parse(&s.caller) {
        Ok(st) => st,
        Err(e) => return refused(&state, &s, e),
    };
    let password = f.raw("password");
    // The accounts' own rule, checked before the registration: a refused password registers
    // nobody.
    if let Err(e) = (!password.is_empty())
        .then(|| check_password(password))
        .transpose()
    {
        return refused(&state, &s, AppError::invalid("password", e.to_string()));
    }
    let key = key_of(&f, "staff");
    if let Err(e) = state
        .app()
        .staff()
        .register(&s.caller, &staff, key.as_ref())
        .await
    {
        return refused(&state, &s, e);
    }
    if password.is_empty() {
        let text = format!(
            "Đã thêm cán bộ {} ({}). Hãy đặt mật khẩu để cán bộ đăng nhập.",
            staff.name, staff.id
        );
        return staff_page(&state, &s, Some((false, &text)), StatusCode::CREATED);
    }
    let set = state
        .app()
        .accounts()
        .set_password(
            Some(&s.caller),
            &staff.id,
            f.get("username"),
            password,
            &ip.to_string(),
        )
        .await;
    match set {
        Ok(()) => {
            let text = format!(
                "Đã thêm cán bộ {} ({}) và đặt mật khẩu đăng nhập.",
                staff.name, staff.id
            );
            staff_page(&state, &s, Some((false, &text)), StatusCode::CREATED)
        }
        Err(e) => {
            let why = refusal_words(e);
            let text = format!(
                "Đã thêm cán bộ {}, nhưng chưa đặt được mật khẩu: {why}",
                staff.id
            );
            staff_page(
                &state,
                &s,
                Some((true, &text)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
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
    let text = refusal_words(e);
    staff_page(
        state,
        s,
        Some((true, &text)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// A refusal in the admin's words: which value of the form to change. A value is refused by
/// the form's parsing or by the domain's staff rule; both reach here as the API's validation
/// problem naming the field, so the console says what the JSON route would.
fn refusal_words(e: AppError) -> String {
    let e = ApiError::from(e);
    let field = match &e {
        ApiError::Validation { field, .. } => field.as_str(),
        ApiError::Conflict(_) | ApiError::IdempotencyKeyReused => {
            return "Mã cán bộ này đã có, hoặc biểu mẫu đã được gửi với nội dung khác: hãy tải lại trang.".to_owned();
        }
        _ => "",
    };
    match field {
        "password" => format!("Mật khẩu mới phải có ít nhất {MIN_PASSWORD_CHARS} ký tự."),
        "username" => "Tên đăng nhập không hợp lệ hoặc đã thuộc về cán bộ khác (chỉ dùng chữ cái không dấu, chữ số, '.', '-', '_').".to_owned(),
        "id" => "Mã cán bộ không hợp lệ (chữ thường không dấu, chữ số và '-').".to_owned(),
        "name" => format!(
            "Họ và tên không được để trống, chỉ một dòng, tối đa {MAX_NAME_CHARS} ký tự."
        ),
        "roles" => "Hãy chọn ít nhất một vai trò.".to_owned(),
        "fields" => {
            "Công chức chuyên môn phải phụ trách ít nhất một lĩnh vực của đơn vị.".to_owned()
        }
        _ => app_failure(e).1,
    }
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
    let password = f.raw("password");
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
