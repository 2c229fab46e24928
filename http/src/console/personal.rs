//! The admin's personal-data screen (Dữ liệu cá nhân): erase one person's data at their
//! request (by identity number, with the request's reference and an explicit confirmation),
//! and erase everyone whose retention period ended (a cut-off day). Both through
//! `app.personal()`, the functions the JSON routes call; the rule is `docs/personal-data.md`.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use chrono::NaiveDate;
use maud::html;
use motcua_engine::domain::types::Role;

use crate::app::personal::Erased;
use crate::app::AppError;
use crate::console::layout::{self, csrf_field};
use crate::console::{app_failure, forbidden, render, signed_form_of, Signed};
use crate::state::AppState;

const TITLE: &str = "Dữ liệu cá nhân";

fn personal_page(
    state: &AppState,
    s: &Signed,
    msg: Option<(bool, &str)>,
    status: StatusCode,
) -> Response {
    let body = html! {
        h1 { (TITLE) }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        p {
            "Họ tên, số CCCD, số điện thoại và địa chỉ của người nộp được mã hoá bằng khoá riêng của từng người. "
            "Xoá dữ liệu là huỷ khoá: mọi bản sao nhật ký, kể cả bản sao lưu, không còn đọc được thông tin của người đó; "
            "hồ sơ, thời hạn và số liệu thống kê vẫn giữ nguyên. Việc xoá được ghi vào nhật ký và không thể hoàn tác."
        }
        h2 { "Xoá theo yêu cầu của người có dữ liệu" }
        form method="post" action="/personal/erase" {
            (csrf_field(&s.csrf))
            div {
                label for="id_number" { "Số CCCD/định danh cá nhân" }
                input id="id_number" name="id_number" required maxlength="20" autocomplete="off";
            }
            div {
                label for="note" { "Căn cứ (số, ngày của đơn đề nghị; không ghi thông tin cá nhân)" }
                input id="note" name="note" maxlength="500";
            }
            div {
                input id="confirm" name="confirm" type="checkbox" value="yes" required;
                label for="confirm" { " Tôi đã kiểm tra: không có quy định nào buộc phải tiếp tục lưu dữ liệu này." }
            }
            div { button type="submit" { "Xoá dữ liệu cá nhân" } }
        }
        h2 { "Xoá khi hết thời hạn lưu trữ" }
        p.muted { "Xoá dữ liệu của mọi người có hồ sơ cuối cùng được tiếp nhận trước ngày chọn (hôm nay trừ thời hạn bảo quản theo danh mục hồ sơ của đơn vị, trừ thêm một năm)." }
        form method="post" action="/personal/sweep" {
            (csrf_field(&s.csrf))
            div {
                label for="sealed_before" { "Tiếp nhận trước ngày" }
                input id="sealed_before" name="sealed_before" type="date" required;
            }
            div {
                label for="sweep_note" { "Căn cứ (văn bản, danh mục hồ sơ)" }
                input id="sweep_note" name="note" maxlength="500";
            }
            div { button type="submit" { "Xoá dữ liệu hết thời hạn" } }
        }
    };
    let mut res = render(state, s, TITLE, body);
    *res.status_mut() = status;
    res
}

fn done(state: &AppState, s: &Signed, e: &Erased) -> Response {
    let mut text = format!("Đã xoá dữ liệu cá nhân của {} người.", e.subjects.len());
    if e.more {
        text.push_str(" Còn người cần xoá: hãy thực hiện lại.");
    }
    personal_page(state, s, Some((false, &text)), StatusCode::OK)
}

fn refused(state: &AppState, s: &Signed, e: AppError) -> Response {
    if matches!(e, AppError::Forbidden(_)) {
        return forbidden(state, s);
    }
    let text = match &e {
        AppError::NotFound(_) => {
            "Không có dữ liệu cá nhân nào được lưu cho số định danh này (hoặc đã xoá).".to_owned()
        }
        _ => app_failure(e).1,
    };
    personal_page(
        state,
        s,
        Some((true, &text)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// `GET /personal` (admin).
pub async fn page(State(state): State<AppState>, s: Signed) -> Response {
    if !s.caller.has(Role::Admin) {
        return forbidden(&state, &s);
    }
    personal_page(&state, &s, None, StatusCode::OK)
}

/// `POST /personal/erase` (admin).
pub async fn erase(
    State(state): State<AppState>,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Admin) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if f.get("confirm") != "yes" {
        let text = "Hãy xác nhận đã kiểm tra quy định lưu trữ trước khi xoá.";
        return personal_page(
            &state,
            &s,
            Some((true, text)),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let id = f.get("id_number").trim();
    if id.is_empty() || id.len() > 20 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        let text = "Số định danh chỉ gồm chữ và số (tối đa 20 ký tự).";
        return personal_page(
            &state,
            &s,
            Some((true, text)),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match state
        .app()
        .personal()
        .erase_person(&s.caller, id, f.get("note"))
        .await
    {
        Ok(e) => done(&state, &s, &e),
        Err(e) => refused(&state, &s, e),
    }
}

/// `POST /personal/sweep` (admin).
pub async fn sweep(
    State(state): State<AppState>,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Admin) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(before) = NaiveDate::parse_from_str(f.get("sealed_before").trim(), "%Y-%m-%d") else {
        let text = "Ngày không hợp lệ.";
        return personal_page(
            &state,
            &s,
            Some((true, text)),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match state
        .app()
        .personal()
        .sweep(&s.caller, before, f.get("note"))
        .await
    {
        Ok(e) => done(&state, &s, &e),
        Err(e) => refused(&state, &s, e),
    }
}
