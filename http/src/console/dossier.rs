//! The queue per field, a specialist's work list, a leader's approval inbox, and the dossier
//! page: its state in Vietnamese words, due time, the timeline of every event (who by name,
//! their role, when, what), and a form for each action the workflow allows this caller now
//! (`allowed_actions`, computed by the engine for the caller's roles): every workflow action a
//! staff role may take has its form (the citizen's own online submission excepted; an online
//! submission's first step, receive, guide to complete or refuse, included), and the
//! timeline says what each event recorded (amounts, reasons, appointments, agencies).
//!
//! An action form becomes the API's `ActionBody`, the API's `routes::dossiers::command` makes
//! the domain command, and `app.dossiers().act` runs it (as `POST
//! /v1/dossiers/{code}/actions/{action}`), conditional on the version the page showed: an
//! action on a page gone stale is refused with a Vietnamese message, never applied to a state
//! the officer did not see.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use motcua_engine::domain::events::{DossierChange, Event};
use motcua_engine::domain::slips;
use motcua_engine::domain::types::{Role, Timestamp, UnitCode};
use motcua_engine::domain::{Action, DomainError};
use motcua_engine::service::ServiceError;

use crate::app::desk::{DueClock, DUE_SOON_OFFICE_HOURS};
use crate::app::views::DossierDetail;
use crate::app::{clock, AppError};
use crate::console::layout::{
    self, action_vi, date_vi, datetime_vi, event_vi, money_vi, role_vi_str, state_vi, timeliness,
};
use crate::console::{
    app_failure, forbidden, render, render_refreshing, signed_form, signed_form_of, Fields, Signed,
};
use crate::routes::dossiers::{command, ActionBody};
use crate::routes::roles::{DOSSIER_READERS, QUEUE_READERS};
use crate::state::AppState;

fn has_any(s: &Signed, roles: &[Role]) -> bool {
    roles.iter().any(|r| s.caller.has(*r))
}

fn failed(state: &AppState, s: &Signed, title: &str, e: AppError) -> Response {
    if matches!(e, AppError::Forbidden(_)) {
        return forbidden(state, s);
    }
    let (status, text) = app_failure(e);
    let mut res = render(state, s, title, layout::message(true, &text));
    *res.status_mut() = status;
    res
}

/// Where due times stand in `unit`'s office hours now; if the reference data cannot be read,
/// only what is overdue is marked (and the failure logged).
fn due_clock(state: &AppState, unit: &UnitCode) -> DueClock {
    state.app().desk().due_clock(unit).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "office calendar unreadable: due-soon not marked");
        let now = clock::now();
        DueClock {
            now,
            soon_until: now,
        }
    })
}

/// A row's due time and its standing, in words and colour (`.late`, `.soon`, `.intime`).
fn due_cell(due: Timestamp, dc: &DueClock) -> Markup {
    let (words, class) = timeliness(dc.of(due));
    html! {
        td class=(class) { (datetime_vi(due)) }
        td class=(class) { (words) }
    }
}

/// What "sắp đến hạn" means on a list, said once above it.
fn due_legend() -> Markup {
    html! {
        p.muted {
            "“Sắp đến hạn”: còn không quá " (DUE_SOON_OFFICE_HOURS) " giờ làm việc (một ngày làm việc) theo lịch làm việc của đơn vị; “Quá hạn”: đã qua ngày hẹn trả kết quả."
        }
    }
}

/// `GET /queue`: the unit's open dossiers per field, the soonest due first.
pub async fn queue(State(state): State<AppState>, s: Signed) -> Response {
    if !has_any(&s, &QUEUE_READERS) {
        return forbidden(&state, &s);
    }
    let queues = match state.app().desk().queues(&s.caller) {
        Ok(q) => q,
        Err(e) => return failed(&state, &s, "Hàng chờ theo lĩnh vực", e),
    };
    let dc = due_clock(&state, s.caller.unit());
    let body = html! {
        h1 { "Hàng chờ theo lĩnh vực" }
        p.muted { "Sắp xếp theo ngày hẹn trả kết quả, sớm nhất trước; trang tự cập nhật mỗi phút." }
        (due_legend())
        @if queues.iter().all(|q| q.entries.is_empty()) {
            p { "Không có hồ sơ nào đang chờ." }
        }
        @for q in queues.iter().filter(|q| !q.entries.is_empty()) {
            h2 { (q.field_name) " (" (q.entries.len()) " hồ sơ)" }
            table {
                thead { tr { th { "Mã hồ sơ" } th { "Trạng thái" } th { "Ngày tiếp nhận" } th { "Ngày hẹn trả" } th { "Thời hạn" } } }
                tbody {
                    @for e in &q.entries {
                        tr {
                            td { a href=(format!("/dossiers/{}", e.code)) { (e.code) } }
                            td { (state_vi(e.state)) }
                            td { @if let Some(r) = e.received_at { (date_vi(r)) } }
                            @if e.state == motcua_engine::projection::DossierState::Submitted {
                                td { "—" } td { "Chờ tiếp nhận" }
                            } @else {
                                (due_cell(e.due, &dc))
                            }
                        }
                    }
                }
            }
        }
    };
    let refresh = Some(layout::LIST_REFRESH_SECONDS);
    render_refreshing(&state, &s, "Hàng chờ theo lĩnh vực", body, refresh)
}

/// `GET /worklist`: a specialist's dossiers, the soonest due first.
pub async fn worklist(State(state): State<AppState>, s: Signed) -> Response {
    if !s.caller.has(Role::Specialist) {
        return forbidden(&state, &s);
    }
    let mut items = match state.app().views().worklist(&s.caller) {
        Ok(i) => i,
        Err(e) => return failed(&state, &s, "Hồ sơ cần xử lý", e),
    };
    items.sort_by_key(|i| (i.due, i.code.to_string()));
    let dc = due_clock(&state, s.caller.unit());
    let body = html! {
        h1 { "Hồ sơ cần xử lý" }
        @if items.is_empty() { p { "Không có hồ sơ nào được phân công cho bạn." } }
        @else {
            p.muted { "Sắp xếp theo ngày hẹn trả kết quả, sớm nhất trước; trang tự cập nhật mỗi phút." }
            (due_legend())
            table {
                thead { tr { th { "Mã hồ sơ" } th { "Thủ tục" } th { "Trạng thái" } th { "Ngày hẹn trả" } th { "Thời hạn" } } }
                tbody {
                    @for i in &items {
                        tr {
                            td { a href=(format!("/dossiers/{}", i.code)) { (i.code) } }
                            td { (i.procedure_name) }
                            td { (state_vi(i.state)) }
                            (due_cell(i.due, &dc))
                        }
                    }
                }
            }
        }
    };
    let refresh = Some(layout::LIST_REFRESH_SECONDS);
    render_refreshing(&state, &s, "Hồ sơ cần xử lý", body, refresh)
}

/// Dossiers one "approve the selected" form may approve: a page of an inbox, and a bound on
/// the work of one request.
pub const MAX_BULK_APPROVALS: usize = 50;

/// The inbox page, with the outcome of a bulk approval when there was one.
fn inbox_page(state: &AppState, s: &Signed, outcome: &[(String, Result<(), String>)]) -> Response {
    let mut items = match state.app().views().inbox(&s.caller) {
        Ok(i) => i,
        Err(e) => return failed(state, s, "Hồ sơ chờ ký duyệt", e),
    };
    items.sort_by_key(|i| (i.due, i.code.to_string()));
    let desk = state.app().desk();
    let dc = due_clock(state, s.caller.unit());
    let body = html! {
        h1 { "Hồ sơ chờ ký duyệt" }
        @for (code, r) in outcome {
            @match r {
                Ok(()) => { (layout::message(false, &format!("Đã ký duyệt hồ sơ {code}."))) }
                Err(why) => { (layout::message(true, &format!("Hồ sơ {code}: {why}"))) }
            }
        }
        @if items.is_empty() { p { "Không có hồ sơ nào chờ ký duyệt." } }
        @else {
            p.muted { "Sắp xếp theo ngày hẹn trả kết quả, sớm nhất trước; trang tự cập nhật mỗi phút." }
            (due_legend())
            form method="post" action="/inbox" {
                (layout::csrf_field(&s.csrf))
                table {
                    thead { tr { th { "Chọn" } th { "Mã hồ sơ" } th { "Thủ tục" } th { "Người trình" } th { "Trình lúc" } th { "Ngày hẹn trả" } th { "Thời hạn" } } }
                    tbody {
                        @for i in &items {
                            @let id = format!("pick-{}", i.code);
                            tr {
                                td {
                                    input type="checkbox" id=(id) name="code" value=(i.code.to_string());
                                    label.muted for=(id) { "Chọn hồ sơ " (i.code) }
                                }
                                td { a href=(format!("/dossiers/{}", i.code)) { (i.code) } }
                                td { (i.procedure_name) }
                                td { (desk.staff(&i.specialist).map(|st| st.name).unwrap_or_else(|| i.specialist.clone())) }
                                td { (datetime_vi(i.submitted_for_signing_at)) }
                                (due_cell(i.due, &dc))
                            }
                        }
                    }
                }
                label for="bulk-note" { "Ý kiến (chung cho các hồ sơ đã chọn)" }
                textarea id="bulk-note" name="note" {}
                div { button type="submit" { "Ký duyệt các hồ sơ đã chọn" } }
            }
        }
    };
    let refresh = outcome.is_empty().then_some(layout::LIST_REFRESH_SECONDS);
    render_refreshing(state, s, "Hồ sơ chờ ký duyệt", body, refresh)
}

/// `GET /inbox`: a leader's dossiers waiting for a signature, the soonest due first.
pub async fn inbox(State(state): State<AppState>, s: Signed) -> Response {
    if !s.caller.has(Role::Leader) {
        return forbidden(&state, &s);
    }
    inbox_page(&state, &s, &[])
}

/// `POST /inbox`: approves the selected dossiers, one `approve` each through the same
/// application call as the dossier page (each judged on its own: one refused does not stop
/// the others); the inbox again, with each outcome in words.
pub async fn approve_selected(
    State(state): State<AppState>,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Leader) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let codes = f.all("code");
    let mut outcome = Vec::new();
    if codes.len() > MAX_BULK_APPROVALS {
        let why = format!("Mỗi lần ký duyệt tối đa {MAX_BULK_APPROVALS} hồ sơ.");
        outcome.push((String::new(), Err(why)));
        return inbox_page(&state, &s, &outcome);
    }
    if let Err(e) = state.check_writable() {
        let (_, why) = app_failure(e);
        outcome.push((String::new(), Err(why)));
        return inbox_page(&state, &s, &outcome);
    }
    let note = f.get("note").to_owned();
    for raw in codes {
        let r = match crate::routes::parse::code(&raw) {
            Err(e) => Err(app_failure(e).1),
            Ok(code) => {
                let cmd = motcua_engine::domain::Command::Approve { note: note.clone() };
                state
                    .app()
                    .dossiers()
                    .act(&s.caller, &code, cmd, None, None, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| app_failure(e).1)
            }
        };
        outcome.push((raw, r));
    }
    inbox_page(&state, &s, &outcome)
}

/// A form field of an action: (name, label, kind).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Input {
    /// One line of text.
    Line,
    /// Several lines.
    Text,
    /// A list, one item per line.
    Lines,
    /// A specialist of the dossier's field.
    Specialist,
    /// Result or refusal.
    Draft,
    /// A sum of money in đồng (digits; `.` or spaces between thousands allowed).
    Amount,
    /// A local date and time (the browser's date-time picker, Asia/Ho_Chi_Minh).
    DateTime,
}

/// The actions the console offers, with their fields: every staff action of the workflows
/// (online submission is the citizen's). The three first steps are here for an online
/// submission (a desk arrival takes them on the desk's form, which records the intake).
fn action_inputs(a: Action) -> Option<&'static [(&'static str, &'static str, Input, bool)]> {
    use Input::*;
    Some(match a {
        Action::Receive => &[],
        Action::GuideToComplete => &[
            (
                "missing",
                "Giấy tờ còn thiếu (mỗi dòng một giấy tờ)",
                Lines,
                true,
            ),
            ("note", "Ghi chú", Text, false),
        ],
        Action::RefuseToReceive => &[
            ("reason", "Lý do từ chối tiếp nhận", Text, true),
            ("legal_basis", "Căn cứ pháp lý", Line, false),
        ],
        Action::Assign => &[
            ("specialist", "Công chức xử lý", Specialist, true),
            ("note", "Ghi chú", Text, false),
        ],
        Action::RequestSupplement => &[
            (
                "items",
                "Nội dung cần bổ sung (mỗi dòng một nội dung)",
                Lines,
                true,
            ),
            ("reason", "Lý do", Text, false),
        ],
        Action::RecordSupplement | Action::RecordAgencyAnswer | Action::HandOver => {
            &[("note", "Ghi chú", Text, false)]
        }
        Action::Forward => &[
            ("agency", "Cơ quan nhận liên thông", Line, true),
            ("note", "Ghi chú", Text, false),
        ],
        Action::SubmitForSigning => &[
            ("draft", "Dự thảo trình ký", Draft, true),
            ("note", "Ghi chú trình ký", Text, false),
        ],
        Action::Approve => &[("note", "Ý kiến", Text, false)],
        Action::SendBack => &[("comments", "Ý kiến trả lại", Text, true)],
        Action::SignRefusal => &[("reasons", "Lý do từ chối giải quyết", Text, true)],
        Action::RequestPayment => &[
            ("amount", "Số tiền phí, lệ phí (đồng)", Amount, true),
            ("note", "Nội dung nghĩa vụ tài chính", Text, false),
        ],
        Action::RecordPayment => &[("receipt_number", "Số biên lai", Line, true)],
        Action::Apologise => &[
            ("reason", "Lý do xin lỗi", Text, true),
            (
                "new_appointment",
                "Ngày giờ hẹn trả kết quả mới",
                DateTime,
                true,
            ),
        ],
        Action::Withdraw => &[("reason", "Lý do rút hồ sơ", Text, true)],
        Action::Stop => &[
            ("reason", "Lý do dừng xử lý", Text, true),
            ("legal_basis", "Căn cứ pháp lý", Line, false),
        ],
        _ => return None,
    })
}

fn action_form(state: &AppState, s: &Signed, d: &DossierDetail, a: Action) -> Markup {
    let Some(inputs) = action_inputs(a) else {
        return html! {};
    };
    let code = d.view.code.to_string();
    let specialists = state
        .app()
        .desk()
        .specialists_for(&s.caller, d.view.field.as_ref());
    html! {
        form method="post" action=(format!("/dossiers/{code}")) {
            h3 { (action_vi(a)) }
            (layout::csrf_field(&s.csrf))
            input type="hidden" name="action" value=(a.as_str());
            input type="hidden" name="version" value=(d.version);
            @for (name, label, kind, required) in inputs.iter().copied() {
                @let id = format!("{}-{}", a.as_str(), name);
                label for=(id) { (label) }
                @match kind {
                    Input::Line => {
                        input type="text" id=(id) name=(name) required[required];
                    }
                    Input::Text | Input::Lines => {
                        textarea id=(id) name=(name) required[required] {}
                    }
                    Input::Specialist => {
                        select id=(id) name=(name) required[required] {
                            @for sp in &specialists { option value=(sp.id) { (sp.name) } }
                        }
                    }
                    Input::Amount => {
                        input type="text" id=(id) name=(name) inputmode="numeric" required[required];
                    }
                    Input::DateTime => {
                        input type="datetime-local" id=(id) name=(name) required[required];
                    }
                    Input::Draft => {
                        select id=(id) name=(name) {
                            option value="result" { "Dự thảo kết quả giải quyết" }
                            option value="refusal" { "Dự thảo văn bản từ chối giải quyết" }
                        }
                    }
                }
            }
            div { button type="submit" { (action_vi(a)) } }
        }
    }
}

/// The slips of TT 01/2018 the console prints besides 01 (the domain's printable page).
const SLIPS: [(&str, &str); 5] = [
    ("02", "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ"),
    ("03", "Phiếu từ chối tiếp nhận giải quyết hồ sơ"),
    ("04", "Phiếu xin lỗi và hẹn lại ngày trả kết quả"),
    ("05", "Phiếu kiểm soát quá trình giải quyết hồ sơ"),
    ("06", "Sổ theo dõi hồ sơ"),
];

fn dossier_body(state: &AppState, s: &Signed, d: &DossierDetail, error: Option<&str>) -> Markup {
    let v = &d.view;
    let desk = state.app().desk();
    let name_of = |id: &str| {
        desk.staff(id)
            .map(|st| st.name)
            .unwrap_or_else(|| id.to_owned())
    };
    let offered: Vec<Action> = d
        .allowed_actions
        .iter()
        .copied()
        .filter(|a| action_inputs(*a).is_some())
        .collect();
    html! {
        h1 { "Hồ sơ " (v.code) }
        @if let Some(e) = error { (layout::message(true, e)) }
        table {
            tr { th { "Thủ tục" } td { (v.procedure_name) } }
            @if let Some(a) = &d.applicant {
                tr { th { "Người nộp" } td { (a.name) } }
                tr { th { "Số CCCD/định danh cá nhân" } td { (a.id_number) } }
                tr { th { "Số điện thoại" } td { (a.phone) } }
                tr { th { "Địa chỉ" } td { (a.address) } }
            }
            tr { th { "Trạng thái" } td { strong { (state_vi(v.state)) } " (mã trạng thái " (v.national_status) ": " (v.national_status_name) ")" } }
            tr { th { "Ngày tiếp nhận" } td { @if let Some(r) = v.received_at { (datetime_vi(r)) } } }
            tr { th { "Ngày hẹn trả kết quả" } td {
                @if let Some(due) = v.due {
                    (datetime_vi(due))
                    @if v.state.in_queue() && v.state != motcua_engine::projection::DossierState::Returned {
                        @let (words, class) = timeliness(due_clock(state, &v.unit).of(due));
                        " – " span class=(class) { (words) }
                    }
                }
            } }
            tr { th { "Công chức xử lý" } td { @if let Some(sp) = &v.specialist { (name_of(sp.as_str())) } } }
        }
        p.noprint {
            a href=(format!("/dossiers/{}/slip01", v.code)) { "In giấy tiếp nhận (mẫu 01)" }
            @for (n, title) in SLIPS {
                " · " a href=(format!("/dossiers/{}/slips/{n}", v.code)) { (title) " (mẫu " (n) ")" }
            }
        }
        h2 { "Quá trình xử lý" }
        table {
            thead { tr { th { "Thời gian" } th { "Người thực hiện" } th { "Vai trò" } th { "Nội dung" } th { "Chi tiết" } } }
            tbody {
                @for ev in &d.history {
                    @let env = &ev.envelope;
                    tr {
                        td { (datetime_vi(motcua_engine::domain::types::Timestamp(env.recorded_at_ms))) }
                        td { (name_of(&env.actor.staff)) }
                        td { (role_vi_str(&env.actor.role)) }
                        td { (event_vi(&env.event_type)) }
                        td {
                            @if let Some(Event::Dossier(e)) = &ev.event {
                                (change_detail(&e.change, &name_of))
                            }
                        }
                    }
                }
            }
        }
        (super::files::section(s, d))
        section.actions {
            h2 { "Thao tác" }
            @if offered.is_empty() {
                p { "Không có thao tác nào bạn có thể thực hiện với hồ sơ này lúc này." }
            }
            @for a in &offered { (action_form(state, s, d, *a)) }
        }
    }
}

pub(crate) fn dossier_page(
    state: &AppState,
    s: &Signed,
    code: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let title = format!("Hồ sơ {code}");
    let Ok(parsed) = crate::routes::parse::code(code) else {
        return failed(state, s, &title, AppError::NotFound(code.to_owned()));
    };
    match state.app().views().dossier(&s.caller, &parsed) {
        Ok(d) => {
            let mut res = render(state, s, &title, dossier_body(state, s, &d, error));
            *res.status_mut() = status;
            res
        }
        Err(e) => failed(state, s, &title, e),
    }
}

/// `GET /dossiers/{code}`.
pub async fn page(State(state): State<AppState>, s: Signed, Path(code): Path<String>) -> Response {
    if !has_any(&s, &DOSSIER_READERS) {
        return forbidden(&state, &s);
    }
    dossier_page(&state, &s, &code, None, StatusCode::OK)
}

fn action_body(f: &Fields) -> ActionBody {
    let opt = |name: &str| Some(f.get(name).to_owned()).filter(|v| !v.is_empty());
    let lines = f.lines("items");
    let missing = f.lines("missing");
    ActionBody {
        missing: (!missing.is_empty()).then_some(missing),
        note: opt("note"),
        reason: opt("reason"),
        legal_basis: opt("legal_basis"),
        items: (!lines.is_empty()).then_some(lines),
        specialist: opt("specialist"),
        agency: opt("agency"),
        receipt_number: opt("receipt_number"),
        draft: opt("draft"),
        reasons: opt("reasons"),
        comments: opt("comments"),
        amount: amount_of(f.get("amount")),
        new_appointment: opt("new_appointment").map(|v| appointment_of(&v)),
        ..ActionBody::default()
    }
}

/// A sum typed as `50000`, `50.000` or `50 000`; anything else is no amount (the command then
/// refuses the field: "số tiền").
fn amount_of(v: &str) -> Option<u64> {
    let digits: String = v.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
    digits.parse().ok()
}

/// The date-time picker's local `YYYY-MM-DDTHH:MM` as the API's RFC 3339 instant; the commune's
/// zone has no daylight saving, so its offset is always +07:00. Anything else goes on as typed,
/// for the API's parser to refuse on `new_appointment`.
fn appointment_of(v: &str) -> String {
    match chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M") {
        Ok(t) => format!("{}+07:00", t.format("%Y-%m-%dT%H:%M:%S")),
        Err(_) => v.to_owned(),
    }
}

/// What an event recorded, in words (the timeline's detail column).
fn change_detail(change: &DossierChange, name_of: &dyn Fn(&str) -> String) -> String {
    let with_note = |head: String, note: &str| {
        if note.trim().is_empty() {
            head
        } else if head.is_empty() {
            format!("Ghi chú: {note}")
        } else {
            format!("{head}. Ghi chú: {note}")
        }
    };
    match change {
        DossierChange::GuidedToComplete { missing, note } => {
            with_note(format!("Cần bổ sung: {}", missing.join("; ")), note)
        }
        DossierChange::RefusedToReceive {
            reason,
            legal_basis,
        }
        | DossierChange::Stopped {
            reason,
            legal_basis,
        } => {
            if legal_basis.trim().is_empty() {
                format!("Lý do: {reason}")
            } else {
                format!("Lý do: {reason}. Căn cứ: {legal_basis}")
            }
        }
        DossierChange::Assigned { specialist, note } => {
            with_note(format!("Giao cho: {}", name_of(specialist.as_str())), note)
        }
        DossierChange::SupplementRequested { items, reason } => {
            let head = format!("Nội dung cần bổ sung: {}", items.join("; "));
            if reason.trim().is_empty() {
                head
            } else {
                format!("{head}. Lý do: {reason}")
            }
        }
        DossierChange::SupplementReceived { new_due, note, .. } => {
            with_note(format!("Hạn mới: {}", datetime_vi(*new_due)), note)
        }
        DossierChange::Forwarded { agency, note } => {
            with_note(format!("Cơ quan nhận: {agency}"), note)
        }
        DossierChange::PaymentRequested { amount, note } => {
            with_note(format!("Số tiền: {}", money_vi(amount.0)), note)
        }
        DossierChange::PaymentRecorded {
            receipt_number,
            new_due,
            ..
        } => format!(
            "Số biên lai: {receipt_number}. Hạn mới: {}",
            datetime_vi(*new_due)
        ),
        DossierChange::Apologised {
            reason,
            new_appointment,
        } => format!(
            "Lý do: {reason}. Hẹn trả kết quả lại: {}",
            datetime_vi(*new_appointment)
        ),
        DossierChange::RefusalSigned { reasons } => format!("Lý do từ chối: {reasons}"),
        DossierChange::SentBack { comments } => format!("Ý kiến trả lại: {comments}"),
        DossierChange::Withdrawn { reason } => format!("Lý do: {reason}"),
        DossierChange::OtherAgencyAnswered { note }
        | DossierChange::SubmittedForSigning { note, .. }
        | DossierChange::Approved { note }
        | DossierChange::HandedOver { note } => with_note(String::new(), note),
        DossierChange::FileAttached(f) => {
            format!("{}: tệp {} ({} byte)", f.document, f.file_name, f.size)
        }
        // Receipt and submission: the applicant and documents are shown above the timeline.
        _ => String::new(),
    }
}

/// `POST /dossiers/{code}`: one action, conditional on the version the page showed; back to
/// the page (303) on success, the page with the Vietnamese reason on a refusal.
pub async fn act(
    State(state): State<AppState>,
    s: Signed,
    Path(code): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form(&s, form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let refuse = |e: crate::errors::ApiError| {
        let (status, text) = app_failure(e);
        dossier_page(&state, &s, &code, Some(&text), status)
    };
    let Ok(parsed) = crate::routes::parse::code(&code) else {
        return failed(&state, &s, "Hồ sơ", AppError::NotFound(code.clone()));
    };
    let Some(action) = f
        .get("action")
        .parse::<Action>()
        .ok()
        .filter(|a| action_inputs(*a).is_some())
    else {
        return refuse(crate::errors::ApiError::validation("action", "unknown"));
    };
    let version = f.get("version").parse::<u64>().ok();
    if let Err(e) = state.check_writable() {
        return refuse(e);
    }
    let cmd = match command(action, action_body(&f)) {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    match state
        .app()
        .dossiers()
        .act(&s.caller, &parsed, cmd, None, version, None)
        .await
    {
        Ok(_) => Redirect::to(&format!("/dossiers/{parsed}")).into_response(),
        Err(AppError::Service(ServiceError::Domain(DomainError::ApologyTooEarly { .. }))) => {
            // The shared words would say "conflict"; the officer needs the rule itself.
            let text = "Chỉ lập phiếu xin lỗi và hẹn lại khi hồ sơ đã quá hạn hoặc còn không quá một ngày làm việc đến hạn trả kết quả.";
            dossier_page(&state, &s, &code, Some(text), StatusCode::CONFLICT)
        }
        Err(e) => refuse(e.into()),
    }
}

/// `GET /dossiers/{code}/slips/{n}`: slips 02 to 06 as the domain prints them (A4), for the
/// staff who read the dossier; a slip the dossier's history does not hold says so.
pub async fn slip(
    State(state): State<AppState>,
    s: Signed,
    Path((code, n)): Path<(String, String)>,
) -> Response {
    if !has_any(&s, &DOSSIER_READERS) {
        return forbidden(&state, &s);
    }
    let title = format!("Hồ sơ {code}");
    let Ok(parsed) = crate::routes::parse::code(&code) else {
        return failed(&state, &s, &title, AppError::NotFound(code.clone()));
    };
    let all = match state.app().views().slips(&s.caller, &parsed) {
        Ok(all) => all,
        Err(e) => return failed(&state, &s, &title, e),
    };
    let Some(only) = all.only(&n).filter(|_| n != "01") else {
        let text = "Hồ sơ này không có phiếu này.";
        let mut res = render(&state, &s, &title, layout::message(true, text));
        *res.status_mut() = StatusCode::NOT_FOUND;
        return res;
    };
    // The domain's page: every field escaped there, no script, no style of its own. Slip 06
    // carries the newest signed checkpoint of the log.
    let html = slips::render_html(&only);
    let html = if n == "06" {
        crate::app::checkpoints::stamp_html(html, state.checkpoints().fingerprint().as_deref())
    } else {
        html
    };
    axum::response::Html(html).into_response()
}
