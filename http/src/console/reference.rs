//! The admin's reference screens: the procedure catalog (Thủ tục hành chính: every procedure with
//! its version, field, processing time, status and publication at the unit; issue one, amend it
//! into a new version, abolish it with a reason, publish it at the unit), the year's working
//! calendar (Lịch làm việc: a year as published; publish days off and make-up working days with
//! a note, a year already published only with the explicit "thay thế" box, the API's
//! `replace: true`), and the unit's office hours (Giờ làm việc: sessions from a date).
//!
//! Each post is parsed here into the application's types once (dates, numbers, the procedure
//! version), then runs the one function of `app.reference()` the JSON routes call; a form the
//! parser refuses says which field in Vietnamese and writes nothing.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use chrono::{Datelike, NaiveDate};
use maud::{html, Markup};
use motcua_engine::domain::calendar::parse_hhmm;
use motcua_engine::domain::events::{
    Fee, Level, Procedure, RequiredDocument, Session, YearCalendar,
};
use motcua_engine::domain::types::{Field, ProcedureId, Role, Vnd, WorkflowId, WorkingTime};
use serde::Deserialize;

use crate::app::idempotency::IdempotencyKey;
use crate::app::reference::{ProcedureIssue, ProcedureRow, ProcedureStatus, Publication};
use crate::app::{clock, AppError};
use crate::console::layout::{self, money_vi, processing_time_vi};
use crate::console::{app_failure, forbidden, render, signed_form_of, Fields, Signed};
use crate::crypto::{random_bytes, sha256};
use crate::errors::ApiError;
use crate::state::AppState;

/// A form the console refuses before the application sees it: the page's status and words.
type Refused = (StatusCode, String);

fn invalid(text: impl Into<String>) -> Refused {
    (StatusCode::UNPROCESSABLE_ENTITY, text.into())
}

/// The Vietnamese words of an application error on these screens: the reference fields the
/// console's shared words do not name, then the shared words.
fn failure(e: impl Into<ApiError>) -> Refused {
    let e: ApiError = e.into();
    let field_words = match &e {
        ApiError::Validation { field, why } => match field.as_str() {
            "replace" => Some(
                "Lịch làm việc của năm này đã được công bố. Muốn công bố lại, hãy đánh dấu ô \
                 “Thay thế lịch đã công bố” (các hạn giải quyết đã tính giữ nguyên lịch cũ)."
                    .to_owned(),
            ),
            "version" => Some(format!(
                "Số phiên bản không đúng ({why}): thủ tục vừa được sửa đổi ở nơi khác. Hãy tải lại trang."
            )),
            "procedure" if why.contains("already exists") => Some(
                "Mã thủ tục này đã có trong danh mục: hãy sửa đổi thủ tục đó thay vì ban hành mới."
                    .to_owned(),
            ),
            "procedure.workflow" => Some("Quy trình xử lý không tồn tại.".to_owned()),
            "processing_time" => Some(format!("Thời hạn giải quyết vượt quá giới hạn ({why}).")),
            "name" => Some("Tên thủ tục không được để trống và chỉ gồm một dòng.".to_owned()),
            "reason" => Some("Lý do bãi bỏ không được để trống (tối đa 1.500 ký tự).".to_owned()),
            "sessions" => Some(
                "Các buổi làm việc phải theo thứ tự, không chồng lên nhau, giờ bắt đầu trước giờ kết thúc."
                    .to_owned(),
            ),
            "year" => Some("Năm nằm ngoài khoảng cho phép (1945–2100).".to_owned()),
            "calendar" => Some(format!("Có ngày không thuộc năm được công bố ({why}).")),
            "makeup_working_days" => Some(format!(
                "Ngày làm bù phải là thứ Bảy hoặc Chủ nhật ({why})."
            )),
            _ => None,
        },
        ApiError::NotFound(_) => Some("Không tìm thấy thủ tục hành chính này.".to_owned()),
        ApiError::Conflict(_) | ApiError::IdempotencyKeyReused => Some(
            "Biểu mẫu này đã được gửi trước đó với nội dung khác. Hãy tải lại trang rồi thực hiện lại."
                .to_owned(),
        ),
        _ => None,
    };
    match field_words {
        Some(text) => (e.status(), text),
        None => app_failure(e),
    }
}

/// The hidden idempotency key of one form, made when the form is shown: a form sent twice (a
/// double click, a reload that posts again) is one write, answered the second time from the
/// log. One key per form, so two forms of a page never share one.
pub(crate) fn form_key() -> Markup {
    html! { input type="hidden" name="key" value=(hex::encode(&random_bytes()[..16])); }
}

/// The key a form carries, bound to what the form says (every field but the token and the key):
/// the same form sent again is the same request; the key sent with other values (a form edited
/// after going back in the browser) is refused as a conflict instead of answered with the first
/// outcome. A form without a usable key still works, without the retry safety.
pub(crate) fn key_of(f: &Fields, what: &str) -> Option<IdempotencyKey> {
    if f.get("key").is_empty() {
        return None;
    }
    let key = IdempotencyKey::parse(&format!("console-{what}-{}", f.get("key"))).ok()?;
    let mut request = Vec::new();
    for (k, v) in f.0.iter().filter(|(k, _)| k != "csrf" && k != "key") {
        request.extend_from_slice(k.as_bytes());
        request.push(0);
        request.extend_from_slice(v.as_bytes());
        request.push(0);
    }
    Some(key.for_request(sha256(&request)))
}

/// The admin check of every screen here: the 403 page for anyone else.
fn admin_only(state: &AppState, s: &Signed) -> Result<(), Box<Response>> {
    if s.caller.has(Role::Admin) {
        Ok(())
    } else {
        Err(Box::new(forbidden(state, s)))
    }
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

/// A date of a form: `YYYY-MM-DD` (a date input) or `dd/mm/yyyy` (typed by hand).
fn date_of(v: &str) -> Option<NaiveDate> {
    let v = v.trim();
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(v, "%d/%m/%Y"))
        .ok()
}

fn required_date(f: &Fields, name: &str, words: &str) -> Result<NaiveDate, Refused> {
    date_of(f.get(name)).ok_or_else(|| {
        invalid(format!(
            "{words} chưa hợp lệ: hãy nhập ngày theo dạng dd/mm/yyyy."
        ))
    })
}

fn checked(f: &Fields, name: &str) -> bool {
    !f.get(name).is_empty()
}

fn dd_mm_yyyy(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn status_vi(row: &ProcedureRow) -> String {
    match (row.status, &row.abolished) {
        (ProcedureStatus::Abolished, Some((d, _))) => format!("Đã bãi bỏ từ {}", dd_mm_yyyy(*d)),
        (ProcedureStatus::Abolished, None) => "Đã bãi bỏ".into(),
        (ProcedureStatus::NotYetInForce, _) => {
            format!("Có hiệu lực từ {}", dd_mm_yyyy(row.latest_effective))
        }
        (ProcedureStatus::InForce, Some((d, _))) => {
            format!("Đang có hiệu lực (bãi bỏ từ {})", dd_mm_yyyy(*d))
        }
        (ProcedureStatus::InForce, None) => "Đang có hiệu lực".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Procedures

/// The workflows a procedure may name, in words.
const WORKFLOWS: [(&str, &str); 3] = [
    ("standard", "Quy trình thông thường"),
    ("same-day", "Giải quyết trong ngày"),
    ("lien-thong", "Liên thông"),
];

/// The fields of a procedure form, filled with `p` when amending.
fn procedure_fields(state: &AppState, s: &Signed, p: Option<&Procedure>, prefix: &str) -> Markup {
    let fields = state
        .app()
        .reference()
        .unit_fields(&s.caller)
        .unwrap_or_default();
    let (time_n, time_unit) = match p.map(|p| p.processing_time) {
        Some(WorkingTime::WorkingDays(n)) => (n.to_string(), "working_days"),
        Some(WorkingTime::OfficeHours(n)) => (n.to_string(), "office_hours"),
        Some(WorkingTime::CalendarDays(n)) => (n.to_string(), "calendar_days"),
        None => (String::new(), "working_days"),
    };
    let documents = p.map_or(String::new(), |p| {
        p.documents
            .iter()
            .map(|d| format!("{} | {} | {}", d.name, d.originals, d.copies))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let forms = p.map_or(String::new(), |p| p.forms.join("\n"));
    let fees = p.map_or(String::new(), |p| {
        p.fees
            .iter()
            .map(|f| format!("{} | {}", f.name, f.amount.0))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let id = |n: &str| format!("{prefix}-{n}");
    html! {
        label for=(id("name")) { "Tên thủ tục" }
        input type="text" id=(id("name")) name="name" required value=(p.map_or("", |p| p.name.as_str()));
        label for=(id("field")) { "Lĩnh vực" }
        select id=(id("field")) name="field" required {
            @for fi in &fields {
                option value=(fi.field) selected[p.is_some_and(|p| p.field == fi.field)] { (fi.name) }
            }
        }
        label for=(id("level")) { "Cấp giải quyết" }
        select id=(id("level")) name="level" {
            option value="commune" selected[p.is_none_or(|p| p.level == Level::Commune)] { "Cấp xã" }
            option value="inter_level" selected[p.is_some_and(|p| p.level == Level::InterLevel)] { "Liên thông nhiều cấp" }
        }
        label for=(id("time")) { "Thời hạn giải quyết" }
        input type="number" id=(id("time")) name="processing_time" min="1" required value=(time_n);
        label for=(id("time-unit")) { "Đơn vị thời hạn" }
        select id=(id("time-unit")) name="processing_unit" {
            option value="working_days" selected[time_unit == "working_days"] { "ngày làm việc" }
            option value="office_hours" selected[time_unit == "office_hours"] { "giờ làm việc" }
            option value="calendar_days" selected[time_unit == "calendar_days"] { "ngày" }
        }
        label for=(id("workflow")) { "Quy trình xử lý" }
        select id=(id("workflow")) name="workflow" {
            @for (w, words) in WORKFLOWS {
                option value=(w) selected[p.is_some_and(|p| p.workflow.as_str() == w)] { (words) }
            }
        }
        label for=(id("documents")) { "Thành phần hồ sơ (mỗi dòng một giấy tờ: tên | số bản chính | số bản sao)" }
        textarea id=(id("documents")) name="documents" { (documents) }
        label for=(id("forms")) { "Mẫu đơn, tờ khai (mỗi dòng một mẫu)" }
        textarea id=(id("forms")) name="forms" { (forms) }
        label for=(id("fees")) { "Phí, lệ phí (mỗi dòng: tên | số tiền, đồng)" }
        textarea id=(id("fees")) name="fees" { (fees) }
        label for=(id("legal")) { "Căn cứ pháp lý" }
        input type="text" id=(id("legal")) name="legal_basis" value=(p.map_or("", |p| p.legal_basis.as_str()));
        label for=(id("effective")) { "Ngày có hiệu lực" }
        input type="date" id=(id("effective")) name="effective" required;
    }
}

/// A number of a form field, or the refusal naming it.
fn number<T: std::str::FromStr>(v: &str, words: &str) -> Result<T, Refused> {
    let digits: String = v.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
    digits
        .parse()
        .map_err(|_| invalid(format!("{words} phải là một số nguyên không âm.")))
}

/// The procedure a form describes, as version `version` of `id`.
fn procedure_of(f: &Fields, id: ProcedureId, version: u32) -> Result<Procedure, Refused> {
    let field: Field = f
        .get("field")
        .parse()
        .map_err(|_| invalid("Hãy chọn lĩnh vực của thủ tục."))?;
    let level = match f.get("level") {
        "inter_level" => Level::InterLevel,
        _ => Level::Commune,
    };
    let n: u16 = number(f.get("processing_time"), "Thời hạn giải quyết")?;
    if n == 0 {
        return Err(invalid("Thời hạn giải quyết phải lớn hơn 0."));
    }
    let processing_time = match f.get("processing_unit") {
        "office_hours" => WorkingTime::OfficeHours(n),
        "calendar_days" => WorkingTime::CalendarDays(n),
        _ => WorkingTime::WorkingDays(n),
    };
    let workflow: WorkflowId = f
        .get("workflow")
        .parse()
        .map_err(|_| invalid("Hãy chọn quy trình xử lý."))?;
    let mut documents = Vec::new();
    for line in f.lines("documents") {
        let mut parts = line.split('|').map(str::trim);
        let name = parts.next().unwrap_or("").to_owned();
        if name.is_empty() {
            return Err(invalid(
                "Mỗi dòng thành phần hồ sơ phải bắt đầu bằng tên giấy tờ.",
            ));
        }
        let originals = parts.next().map_or(Ok(1), |v| number(v, "Số bản chính"))?;
        let copies = parts.next().map_or(Ok(0), |v| number(v, "Số bản sao"))?;
        documents.push(RequiredDocument {
            name,
            originals,
            copies,
        });
    }
    let mut fees = Vec::new();
    for line in f.lines("fees") {
        let (name, amount) = line
            .rsplit_once('|')
            .ok_or_else(|| invalid("Mỗi dòng phí, lệ phí phải có dạng: tên | số tiền."))?;
        if name.trim().is_empty() {
            return Err(invalid("Mỗi dòng phí, lệ phí phải có tên trước số tiền."));
        }
        fees.push(Fee {
            name: name.trim().to_owned(),
            amount: Vnd(number(amount, "Số tiền phí, lệ phí")?),
        });
    }
    Ok(Procedure {
        id,
        version,
        name: f.get("name").to_owned(),
        field,
        level,
        documents,
        // Every field of a version is on the form (the amend form prefilled with the latest),
        // so an amendment carries over what the admin did not change.
        forms: f.lines("forms"),
        processing_time,
        fees,
        workflow,
        legal_basis: f.get("legal_basis").to_owned(),
    })
}

fn procedures_page(
    state: &AppState,
    s: &Signed,
    msg: Option<(bool, &str)>,
    status: StatusCode,
) -> Response {
    let rows = match state.app().reference().procedures(&s.caller) {
        Ok(r) => r,
        Err(e) => {
            let (status, text) = failure(e);
            let res = render(state, s, "Thủ tục hành chính", layout::message(true, &text));
            return with_status(res, status);
        }
    };
    let fields = state
        .app()
        .reference()
        .unit_fields(&s.caller)
        .unwrap_or_default();
    let field_name = |f: &Field| {
        fields
            .iter()
            .find(|fi| &fi.field == f)
            .map_or_else(|| f.to_string(), |fi| fi.name.clone())
    };
    let body = html! {
        h1 { "Thủ tục hành chính" }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        table {
            thead { tr {
                th { "Mã TTHC" } th { "Tên thủ tục" } th { "Phiên bản" } th { "Lĩnh vực" }
                th { "Thời hạn giải quyết" } th { "Trạng thái" } th { "Niêm yết" } th { "Thao tác" }
            } }
            tbody {
                @for r in &rows {
                    tr {
                        td { (r.id) }
                        td { (r.name) }
                        td {
                            (r.latest_version)
                            @if let Some(v) = r.in_force_version {
                                @if v != r.latest_version { " (đang áp dụng: " (v) ")" }
                            }
                        }
                        td { (field_name(&r.field)) }
                        td { (processing_time_vi(r.processing_time)) }
                        td { (status_vi(r)) }
                        td {
                            (match r.published {
                                (true, true) => "Tại Bộ phận Một cửa và trực tuyến",
                                (true, false) => "Tại Bộ phận Một cửa",
                                (false, true) => "Trực tuyến",
                                (false, false) => "Chưa niêm yết",
                            })
                        }
                        td { a href=(format!("/procedures/{}", r.id)) { "Sửa đổi, bãi bỏ, niêm yết" } }
                    }
                }
            }
        }
        h2 { "Ban hành thủ tục mới" }
        form method="post" action="/procedures" {
            (layout::csrf_field(&s.csrf))
            (form_key())
            label for="new-id" { "Mã TTHC (ví dụ 1.001193)" }
            input type="text" id="new-id" name="id" required;
            (procedure_fields(state, s, None, "new"))
            fieldset {
                legend { "Niêm yết tại đơn vị" }
                label { input type="checkbox" name="publish_at_desk" value="1" checked; " Tại Bộ phận Một cửa" }
                label { input type="checkbox" name="publish_online" value="1"; " Trực tuyến" }
            }
            div { button type="submit" { "Ban hành thủ tục" } }
        }
    };
    with_status(render(state, s, "Thủ tục hành chính", body), status)
}

/// `GET /procedures` (admin).
pub async fn procedures(State(state): State<AppState>, s: Signed) -> Response {
    if let Err(r) = admin_only(&state, &s) {
        return *r;
    }
    procedures_page(&state, &s, None, StatusCode::OK)
}

/// `POST /procedures` (admin): issues a procedure (version 1), published at the unit as ticked.
pub async fn issue(
    State(state): State<AppState>,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Admin) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let parsed = (|| {
        let id: ProcedureId = f.get("id").parse().map_err(|_| {
            invalid("Mã TTHC chưa hợp lệ (chữ thường không dấu, chữ số, '.', '-').")
        })?;
        Ok::<_, Refused>(ProcedureIssue {
            procedure: procedure_of(&f, id, 1)?,
            effective: required_date(&f, "effective", "Ngày có hiệu lực")?,
            publish_at_desk: checked(&f, "publish_at_desk"),
            publish_online: checked(&f, "publish_online"),
        })
    })();
    let issue = match parsed {
        Ok(i) => i,
        Err((status, text)) => return procedures_page(&state, &s, Some((true, &text)), status),
    };
    if let Err(e) = state.check_writable() {
        let (status, text) = failure(e);
        return procedures_page(&state, &s, Some((true, &text)), status);
    }
    match state
        .app()
        .reference()
        .issue_procedure(&s.caller, issue, key_of(&f, "issue").as_ref())
        .await
    {
        Ok((id, _)) => {
            let text = format!("Đã ban hành thủ tục {id}.");
            procedures_page(&state, &s, Some((false, &text)), StatusCode::OK)
        }
        Err(e) => {
            let (status, text) = failure(e);
            procedures_page(&state, &s, Some((true, &text)), status)
        }
    }
}

fn procedure_page(
    state: &AppState,
    s: &Signed,
    id: &str,
    msg: Option<(bool, &str)>,
    status: StatusCode,
) -> Response {
    let row = id.parse::<ProcedureId>().ok().and_then(|id| {
        state
            .app()
            .reference()
            .procedures(&s.caller)
            .ok()?
            .into_iter()
            .find(|r| r.id == id)
    });
    let Some(r) = row else {
        let (status, text) = failure(AppError::NotFound(id.to_owned()));
        let body = html! {
            h1 { "Thủ tục hành chính" }
            (layout::message(true, &text))
            p { a href="/procedures" { "Về danh sách thủ tục" } }
        };
        return with_status(render(state, s, "Thủ tục hành chính", body), status);
    };
    let title = format!("Thủ tục {}", r.id);
    let next = r.latest_version + 1;
    let body = html! {
        h1 { "Thủ tục " (r.id) ": " (r.name) }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        table {
            tr { th { "Phiên bản mới nhất" } td { (r.latest_version) " (hiệu lực từ " (dd_mm_yyyy(r.latest_effective)) ")" } }
            tr { th { "Thời hạn giải quyết" } td { (processing_time_vi(r.processing_time)) } }
            tr { th { "Trạng thái" } td { (status_vi(&r)) } }
            @if let Some((_, reason)) = &r.abolished { tr { th { "Lý do bãi bỏ" } td { (reason) } } }
            tr { th { "Phí, lệ phí" } td {
                @for (i, fee) in r.latest.fees.iter().enumerate() {
                    @if i > 0 { "; " }
                    (fee.name) ": " (money_vi(fee.amount.0))
                }
            } }
        }
        p { a href="/procedures" { "Về danh sách thủ tục" } }
        @if r.status != ProcedureStatus::Abolished {
            form method="post" action=(format!("/procedures/{}/amend", r.id)) {
                h2 { "Sửa đổi, bổ sung (phiên bản " (next) ")" }
                (layout::csrf_field(&s.csrf))
            (form_key())
                input type="hidden" name="version" value=(next);
                (procedure_fields(state, s, Some(&r.latest), "amend"))
                div { button type="submit" { "Ban hành phiên bản " (next) } }
            }
            form method="post" action=(format!("/procedures/{}/publish", r.id)) {
                h2 { "Niêm yết tại đơn vị" }
                (layout::csrf_field(&s.csrf))
            (form_key())
                label { input type="checkbox" name="at_desk" value="1" checked[r.published.0]; " Tại Bộ phận Một cửa" }
                label { input type="checkbox" name="online" value="1" checked[r.published.1]; " Trực tuyến" }
                label for="publish-effective" { "Từ ngày" }
                input type="date" id="publish-effective" name="effective" required;
                div { button type="submit" { "Cập nhật niêm yết" } }
            }
            form method="post" action=(format!("/procedures/{}/abolish", r.id)) {
                h2 { "Bãi bỏ thủ tục" }
                (layout::csrf_field(&s.csrf))
            (form_key())
                label for="abolish-effective" { "Bãi bỏ từ ngày" }
                input type="date" id="abolish-effective" name="effective" required;
                label for="abolish-reason" { "Lý do bãi bỏ (căn cứ quyết định)" }
                textarea id="abolish-reason" name="reason" required {}
                div { button.secondary type="submit" { "Bãi bỏ thủ tục" } }
            }
        }
    };
    with_status(render(state, s, &title, body), status)
}

/// `GET /procedures/{id}` (admin): one procedure, with the forms to amend, publish, abolish it.
pub async fn procedure(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = admin_only(&state, &s) {
        return *r;
    }
    procedure_page(&state, &s, &id, None, StatusCode::OK)
}

/// What a post on one procedure asks, parsed.
enum ProcedureWrite {
    Amend(Procedure, NaiveDate),
    Publish(Publication),
    Abolish(NaiveDate, String),
}

async fn procedure_write(
    state: AppState,
    s: Signed,
    id: String,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    parse: impl FnOnce(&Fields, ProcedureId) -> Result<ProcedureWrite, Refused>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Admin) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(pid) = id.parse::<ProcedureId>() else {
        return procedure_page(&state, &s, &id, None, StatusCode::NOT_FOUND);
    };
    let write = match parse(&f, pid.clone()) {
        Ok(w) => w,
        Err((status, text)) => return procedure_page(&state, &s, &id, Some((true, &text)), status),
    };
    if let Err(e) = state.check_writable() {
        let (status, text) = failure(e);
        return procedure_page(&state, &s, &id, Some((true, &text)), status);
    }
    let key = key_of(&f, &format!("procedure-{pid}"));
    let reference = state.app().reference();
    let (done, r) = match write {
        ProcedureWrite::Amend(p, effective) => {
            let v = p.version;
            (
                format!(
                    "Đã ban hành phiên bản {v} của thủ tục {pid}, có hiệu lực từ {}.",
                    dd_mm_yyyy(effective)
                ),
                reference
                    .amend_procedure(&s.caller, p, effective, key.as_ref())
                    .await,
            )
        }
        ProcedureWrite::Publish(p) => (
            format!(
                "Đã cập nhật niêm yết thủ tục {pid} từ {}.",
                dd_mm_yyyy(p.effective)
            ),
            reference
                .publish_procedure(&s.caller, &pid, p, key.as_ref())
                .await,
        ),
        ProcedureWrite::Abolish(effective, reason) => (
            format!("Đã bãi bỏ thủ tục {pid} từ {}.", dd_mm_yyyy(effective)),
            reference
                .abolish_procedure(&s.caller, &pid, effective, reason, key.as_ref())
                .await,
        ),
    };
    match r {
        Ok(_) => procedure_page(&state, &s, &id, Some((false, &done)), StatusCode::OK),
        Err(e) => {
            let (status, text) = failure(e);
            procedure_page(&state, &s, &id, Some((true, &text)), status)
        }
    }
}

/// `POST /procedures/{id}/amend` (admin): a new version, numbered by the page the admin saw.
pub async fn amend(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    procedure_write(state, s, id, form, |f, pid| {
        let version: u32 = number(f.get("version"), "Số phiên bản")?;
        let p = procedure_of(f, pid, version)?;
        let effective = required_date(f, "effective", "Ngày có hiệu lực")?;
        Ok(ProcedureWrite::Amend(p, effective))
    })
    .await
}

/// `POST /procedures/{id}/publish` (admin): at the desk and/or online from a date.
pub async fn publish(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    procedure_write(state, s, id, form, |f, _| {
        Ok(ProcedureWrite::Publish(Publication {
            at_desk: checked(f, "at_desk"),
            online: checked(f, "online"),
            effective: required_date(f, "effective", "Ngày niêm yết")?,
        }))
    })
    .await
}

/// `POST /procedures/{id}/abolish` (admin): from a date, with a reason.
pub async fn abolish(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    procedure_write(state, s, id, form, |f, _| {
        let effective = required_date(f, "effective", "Ngày bãi bỏ")?;
        let reason = f.get("reason");
        if reason.is_empty() {
            return Err(invalid("Hãy nhập lý do bãi bỏ thủ tục."));
        }
        Ok(ProcedureWrite::Abolish(effective, reason.to_owned()))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The working calendar

#[derive(Debug, Deserialize)]
pub struct YearQuery {
    year: Option<String>,
}

fn calendar_page(
    state: &AppState,
    s: &Signed,
    year: i32,
    msg: Option<(bool, &str)>,
    status: StatusCode,
) -> Response {
    let published = match state.app().reference().calendar(year) {
        Ok(c) => c,
        Err(e) => {
            let (status, text) = failure(e);
            let res = render(state, s, "Lịch làm việc", layout::message(true, &text));
            return with_status(res, status);
        }
    };
    let lines = |days: &[NaiveDate]| {
        days.iter()
            .map(|d| dd_mm_yyyy(*d))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let body = html! {
        h1 { "Lịch làm việc năm " (year) }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        form method="get" action="/calendar" {
            label for="show-year" { "Xem năm" }
            input type="number" id="show-year" name="year" min="1945" max="2100" value=(year);
            div { button.secondary type="submit" { "Xem" } }
        }
        @match &published {
            Some(c) => {
                h2 { "Lịch đã công bố" }
                table {
                    tr { th { "Ngày nghỉ (ngày thường)" } td {
                        @for (i, d) in c.days_off.iter().enumerate() { @if i > 0 { ", " } (dd_mm_yyyy(*d)) }
                    } }
                    tr { th { "Ngày làm bù (thứ Bảy, Chủ nhật)" } td {
                        @for (i, d) in c.makeup_working_days.iter().enumerate() { @if i > 0 { ", " } (dd_mm_yyyy(*d)) }
                    } }
                    tr { th { "Ghi chú" } td { (c.note) } }
                }
            }
            None => { p { "Lịch làm việc năm " (year) " chưa được công bố." } }
        }
        h2 { "Công bố lịch làm việc" }
        form method="post" action="/calendar" {
            (layout::csrf_field(&s.csrf))
            (form_key())
            label for="cal-year" { "Năm" }
            input type="number" id="cal-year" name="year" min="1945" max="2100" required value=(year);
            label for="cal-off" { "Ngày nghỉ (mỗi dòng một ngày, dd/mm/yyyy)" }
            textarea id="cal-off" name="days_off" { (published.as_ref().map_or(String::new(), |c| lines(&c.days_off))) }
            label for="cal-makeup" { "Ngày làm bù (mỗi dòng một ngày, dd/mm/yyyy)" }
            textarea id="cal-makeup" name="makeup_working_days" { (published.as_ref().map_or(String::new(), |c| lines(&c.makeup_working_days))) }
            label for="cal-note" { "Ghi chú" }
            textarea id="cal-note" name="note" { (published.as_ref().map_or("", |c| c.note.as_str())) }
            label {
                input type="checkbox" name="replace" value="1";
                " Thay thế lịch đã công bố (các hạn giải quyết đã tính giữ nguyên lịch cũ)"
            }
            div { button type="submit" { "Công bố lịch làm việc" } }
        }
    };
    with_status(render(state, s, "Lịch làm việc", body), status)
}

/// `GET /calendar?year=YYYY` (admin): a year's calendar (this year by default).
pub async fn calendar(
    State(state): State<AppState>,
    s: Signed,
    Query(q): Query<YearQuery>,
) -> Response {
    if let Err(r) = admin_only(&state, &s) {
        return *r;
    }
    let this_year = clock::today().year();
    let year = q
        .year
        .and_then(|y| y.trim().parse::<i32>().ok())
        .unwrap_or(this_year);
    calendar_page(&state, &s, year, None, StatusCode::OK)
}

fn dates_of(f: &Fields, name: &str, words: &str) -> Result<Vec<NaiveDate>, Refused> {
    f.lines(name)
        .iter()
        .map(|l| {
            date_of(l)
                .ok_or_else(|| invalid(format!("{words}: “{l}” không phải một ngày (dd/mm/yyyy).")))
        })
        .collect()
}

/// `POST /calendar` (admin): publishes a year; one already published only with "thay thế".
pub async fn publish_calendar(
    State(state): State<AppState>,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Admin) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let this_year = clock::today().year();
    let year = f.get("year").parse::<i32>().ok();
    let shown = year.unwrap_or(this_year);
    let parsed = (|| {
        let year = year.ok_or_else(|| invalid("Năm chưa hợp lệ."))?;
        Ok::<_, Refused>(YearCalendar {
            year,
            days_off: dates_of(&f, "days_off", "Ngày nghỉ")?,
            makeup_working_days: dates_of(&f, "makeup_working_days", "Ngày làm bù")?,
            note: f.get("note").to_owned(),
        })
    })();
    let calendar = match parsed {
        Ok(c) => c,
        Err((status, text)) => {
            return calendar_page(&state, &s, shown, Some((true, &text)), status)
        }
    };
    if let Err(e) = state.check_writable() {
        let (status, text) = failure(e);
        return calendar_page(&state, &s, shown, Some((true, &text)), status);
    }
    let replace = checked(&f, "replace");
    match state
        .app()
        .reference()
        .publish_calendar(
            &s.caller,
            calendar,
            replace,
            key_of(&f, "calendar").as_ref(),
        )
        .await
    {
        Ok(_) => {
            let text = format!("Đã công bố lịch làm việc năm {shown}.");
            calendar_page(&state, &s, shown, Some((false, &text)), StatusCode::OK)
        }
        Err(e) => {
            let (status, text) = failure(e);
            calendar_page(&state, &s, shown, Some((true, &text)), status)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Office hours

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn office_hours_page(
    state: &AppState,
    s: &Signed,
    msg: Option<(bool, &str)>,
    status: StatusCode,
) -> Response {
    let today = clock::today();
    let sessions = state
        .app()
        .reference()
        .office_hours(&s.caller, today)
        .unwrap_or_default();
    let lines = sessions
        .iter()
        .map(|x| format!("{}-{}", hhmm(x.start_minute), hhmm(x.end_minute)))
        .collect::<Vec<_>>();
    let body = html! {
        h1 { "Giờ làm việc của đơn vị" }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        p { "Các buổi làm việc đang áp dụng (ngày " (dd_mm_yyyy(today)) "): " (lines.join(", ")) }
        form method="post" action="/office-hours" {
            (layout::csrf_field(&s.csrf))
            (form_key())
            label for="oh-sessions" { "Các buổi làm việc (mỗi dòng một buổi, HH:mm-HH:mm)" }
            textarea id="oh-sessions" name="sessions" required { (lines.join("\n")) }
            label for="oh-effective" { "Áp dụng từ ngày" }
            input type="date" id="oh-effective" name="effective" required;
            div { button type="submit" { "Cập nhật giờ làm việc" } }
        }
    };
    with_status(render(state, s, "Giờ làm việc", body), status)
}

/// `GET /office-hours` (admin).
pub async fn office_hours(State(state): State<AppState>, s: Signed) -> Response {
    if let Err(r) = admin_only(&state, &s) {
        return *r;
    }
    office_hours_page(&state, &s, None, StatusCode::OK)
}

fn session_of(line: &str) -> Option<Session> {
    let (a, b) = line.split_once('-')?;
    Some(Session {
        start_minute: parse_hhmm(a.trim())?,
        end_minute: parse_hhmm(b.trim())?,
    })
}

/// `POST /office-hours` (admin): the unit's sessions from a date.
pub async fn set_office_hours(
    State(state): State<AppState>,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Admin) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let parsed = (|| {
        let sessions = f
            .lines("sessions")
            .iter()
            .map(|l| {
                session_of(l).ok_or_else(|| {
                    invalid(format!(
                        "Buổi làm việc “{l}” chưa đúng dạng HH:mm-HH:mm (ví dụ 07:00-11:30)."
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let effective = required_date(&f, "effective", "Ngày áp dụng")?;
        Ok::<_, Refused>((sessions, effective))
    })();
    let (sessions, effective) = match parsed {
        Ok(p) => p,
        Err((status, text)) => return office_hours_page(&state, &s, Some((true, &text)), status),
    };
    if let Err(e) = state.check_writable() {
        let (status, text) = failure(e);
        return office_hours_page(&state, &s, Some((true, &text)), status);
    }
    match state
        .app()
        .reference()
        .set_office_hours(&s.caller, sessions, effective, key_of(&f, "hours").as_ref())
        .await
    {
        Ok(_) => {
            let text = format!("Đã cập nhật giờ làm việc từ {}.", dd_mm_yyyy(effective));
            office_hours_page(&state, &s, Some((false, &text)), StatusCode::OK)
        }
        Err(e) => {
            let (status, text) = failure(e);
            office_hours_page(&state, &s, Some((true, &text)), status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_parse_exactly() {
        assert_eq!(date_of("05/01/2027"), NaiveDate::from_ymd_opt(2027, 1, 5));
        assert_eq!(date_of("2027-01-05"), NaiveDate::from_ymd_opt(2027, 1, 5));
        assert_eq!(date_of("32/01/2027"), None);
        assert_eq!(money_vi(50_000), "50.000 đ");
        assert_eq!(money_vi(1_234_567), "1.234.567 đ");
        assert_eq!(money_vi(0), "0 đ");
        assert_eq!(
            session_of("07:00-11:30"),
            Some(Session {
                start_minute: 420,
                end_minute: 690
            })
        );
        assert_eq!(session_of("7h-11h"), None);
        assert_eq!(number::<u64>("50.000", "x"), Ok(50_000));
        assert!(number::<u16>("-1", "x").is_err());
    }
}
