//! Reform plans in the browser (kế hoạch cải cách hành chính) for planners, leaders and
//! auditors: the unit's plans, and a plan's dashboard as of any day: progress, tasks per
//! status, each task with its owner, deadline, status in words, indicator, value against its
//! target and the evidence reported. A planner reports a manual task's progress with its
//! evidence, or marks a task done, from the same page. Through `app.plans()`, the functions
//! `GET /v1/plans`, `/v1/plans/{plan}/dashboard` and the task actions call (the action parsed by
//! the API's own `routes::plans::task_command`); the plan rules are the engine's.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use chrono::NaiveDate;
use maud::html;
use motcua_engine::domain::plan::TaskProgress;
use motcua_engine::domain::plan::{day_start, Target, TaskStatus};
use motcua_engine::domain::types::{PlanId, Role, TaskId, Timestamp};

use crate::app::AppError;
use crate::console::layout::{self, csrf_field};
use crate::console::reference::{form_key, key_of};
use crate::console::{app_failure, forbidden, render, signed_form_of, Signed};
use crate::routes::plans::{task_command, TaskActionBody};
use crate::routes::roles::PLAN_READERS;
use crate::state::AppState;

const TITLE: &str = "Kế hoạch cải cách hành chính";

fn reads_plans(s: &Signed) -> bool {
    PLAN_READERS.iter().any(|r| s.caller.has(*r))
}

fn failed(state: &AppState, s: &Signed, e: AppError) -> Response {
    if matches!(e, AppError::Forbidden(_)) {
        return forbidden(state, s);
    }
    let (status, text) = app_failure(e);
    let mut res = render(state, s, TITLE, layout::message(true, &text));
    *res.status_mut() = status;
    res
}

/// The Vietnamese words of a task's status.
pub fn status_vi(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::NotStarted => "Chưa thực hiện",
        TaskStatus::OnTrack => "Đang thực hiện, đúng tiến độ",
        TaskStatus::AtRisk => "Chậm tiến độ",
        TaskStatus::Done => "Hoàn thành",
        TaskStatus::Overdue => "Quá hạn",
        TaskStatus::Cancelled => "Đã huỷ",
    }
}

fn status_class(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::AtRisk => "soon",
        TaskStatus::Overdue => "late",
        _ => "",
    }
}

fn target_vi(t: &Target) -> String {
    match t {
        Target::AtLeast(v) => format!("≥ {v}"),
        Target::AtMost(v) => format!("≤ {v}"),
        Target::KeepAtLeast(v) => format!("giữ ≥ {v}"),
        Target::KeepAtMost(v) => format!("giữ ≤ {v}"),
    }
}

fn percent(bp: i64) -> String {
    format!("{:.1}%", bp as f64 / 100.0)
}

/// `GET /ke-hoach`.
pub async fn list(State(state): State<AppState>, s: Signed) -> Response {
    if !reads_plans(&s) {
        return forbidden(&state, &s);
    }
    let plans = match state.app().plans().list(&s.caller) {
        Ok(p) => p,
        Err(e) => return failed(&state, &s, e),
    };
    let body = html! {
        h1 { (TITLE) }
        @if plans.is_empty() { p { "Đơn vị chưa ban hành kế hoạch nào." } }
        @else {
            table {
                thead { tr { th { "Số, ký hiệu" } th { "Ngày ban hành" } th { "Tên kế hoạch" } th { "Số nhiệm vụ" } } }
                tbody {
                    @for p in &plans {
                        tr {
                            td { a href=(format!("/ke-hoach/{}", p.plan)) { (p.number) } }
                            td { (p.date.format("%d/%m/%Y")) }
                            td { (p.title) }
                            td { (p.tasks) }
                        }
                    }
                }
            }
        }
    };
    render(&state, &s, TITLE, body)
}

/// The as-of day of a dashboard (`?ngay=YYYY-MM-DD`; default now).
#[derive(Debug, Default, serde::Deserialize)]
pub struct AsOfQuery {
    #[serde(default)]
    pub ngay: String,
}

/// `GET /ke-hoach/{plan}`.
pub async fn dashboard(
    State(state): State<AppState>,
    s: Signed,
    Path(plan): Path<String>,
    query: Result<Query<AsOfQuery>, QueryRejection>,
) -> Response {
    if !reads_plans(&s) {
        return forbidden(&state, &s);
    }
    let Ok(plan) = plan.parse::<PlanId>() else {
        return failed(&state, &s, AppError::NotFound(format!("no plan {plan}")));
    };
    let day = query
        .ok()
        .and_then(|Query(q)| NaiveDate::parse_from_str(q.ngay.trim(), "%Y-%m-%d").ok());
    dashboard_page(&state, &s, &plan, day, None).await
}

/// The manual-task form of a planner (live view only): report progress with its evidence, or
/// mark the task done.
fn task_forms(s: &Signed, plan: &PlanId, t: &TaskProgress) -> maud::Markup {
    let base = format!("/ke-hoach/{plan}/tasks/{}", t.task);
    html! {
        details {
            summary { "Báo cáo" }
            form method="post" action=(format!("{base}/report")) {
                (csrf_field(&s.csrf)) (form_key())
                label for=(format!("value-{}", t.task)) { "Giá trị đạt được" }
                input id=(format!("value-{}", t.task)) name="value" inputmode="numeric" required;
                label for=(format!("evidence-{}", t.task)) { "Minh chứng" }
                textarea id=(format!("evidence-{}", t.task)) name="evidence" required {}
                div { button type="submit" { "Gửi báo cáo tiến độ" } }
            }
            form method="post" action=(format!("{base}/complete")) {
                (csrf_field(&s.csrf)) (form_key())
                label for=(format!("note-{}", t.task)) { "Ghi chú hoàn thành" }
                input id=(format!("note-{}", t.task)) name="note";
                div { button.secondary type="submit" { "Đánh dấu hoàn thành" } }
            }
        }
    }
}

async fn dashboard_page(
    state: &AppState,
    s: &Signed,
    plan: &PlanId,
    day: Option<NaiveDate>,
    msg: Option<(bool, &str)>,
) -> Response {
    let (state, s, plan) = (state.clone(), s, plan.clone());
    // As of a day: the end of it (what was known when the day closed).
    let as_of: Option<Timestamp> = day
        .and_then(|d| d.succ_opt())
        .map(|d| Timestamp(day_start(d).0 - 1));
    let progress = match state.app().plans().dashboard(&s.caller, &plan, as_of).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            let body = html! {
                h1 { (TITLE) }
                (layout::message(true, "Kế hoạch chưa được ban hành vào ngày đã chọn."))
                p { a href=(format!("/ke-hoach/{plan}")) { "Xem hôm nay" } }
            };
            let mut res = render(&state, s, TITLE, body);
            *res.status_mut() = StatusCode::NOT_FOUND;
            return res;
        }
        Err(e) => return failed(&state, s, e),
    };
    let planner = s.caller.has(Role::Planner) && day.is_none();
    let body = html! {
        h1 { (progress.title) }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        p { "Số " (progress.number) ", ngày " (progress.date.format("%d/%m/%Y")) ". "
            "Tiến độ chung: " strong { (percent(progress.progress_bp)) } "." }
        form method="get" action=(format!("/ke-hoach/{plan}")) class="search" {
            div {
                label for="ngay" { "Xem tình hình tại ngày" }
                input id="ngay" name="ngay" type="date" value=(day.map(|d| d.to_string()).unwrap_or_default());
            }
            div { button type="submit" { "Xem" } }
        }
        p {
            @for st in TaskStatus::ALL {
                @let n = progress.counts.get(st.as_str()).copied().unwrap_or(0);
                span.count data-status=(st.as_str()) { (status_vi(st)) ": " (n) } " · "
            }
        }
        table {
            thead { tr {
                th { "Nhiệm vụ" } th { "Đơn vị chủ trì" } th { "Thời hạn" } th { "Tình trạng" }
                th { "Chỉ tiêu" } th { "Kết quả" } th { "Tiến độ" } th { "Minh chứng" }
            } }
            tbody {
                @for t in &progress.tasks {
                    tr data-task=(t.task) {
                        td { (t.title) }
                        td { (t.responsible) }
                        td { (t.deadline.format("%d/%m/%Y")) }
                        td class=(status_class(t.status)) { (status_vi(t.status)) }
                        td { (t.indicator) " (" (target_vi(&t.target)) ")" }
                        td { @if let Some(v) = t.value { (v) } @else { "—" } }
                        td { (percent(t.progress_bp)) }
                        td {
                            @if let Some(r) = &t.report { (r.evidence) }
                            @if planner && t.source == "manual" && t.status != TaskStatus::Done
                                && t.status != TaskStatus::Cancelled {
                                (task_forms(s, &plan, t))
                            }
                        }
                    }
                }
            }
        }
        p { a href="/ke-hoach" { "Các kế hoạch khác" } }
    };
    render(&state, s, TITLE, body)
}

/// `POST /ke-hoach/{plan}/tasks/{task}/{action}` (planner): `report` or `complete`.
pub async fn task_action(
    State(state): State<AppState>,
    s: Signed,
    Path((plan, task, action)): Path<(String, String, String)>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Planner) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (Ok(plan), Ok(task)) = (plan.parse::<PlanId>(), task.parse::<TaskId>()) else {
        return failed(
            &state,
            &s,
            AppError::NotFound("no such plan or task".into()),
        );
    };
    let (api_action, body) = match action.as_str() {
        "report" => {
            let Ok(value) = f.get("value").trim().parse::<i64>() else {
                let text = "Giá trị đạt được phải là một số nguyên.";
                return dashboard_page(&state, &s, &plan, None, Some((true, text))).await;
            };
            let body = TaskActionBody {
                value: Some(value),
                evidence: Some(f.get("evidence").to_owned()),
                links: None,
                note: None,
                reason: None,
                task: None,
                at: None,
            };
            ("report_progress", body)
        }
        "complete" => {
            let body = TaskActionBody {
                value: None,
                evidence: None,
                links: None,
                note: Some(f.get("note").to_owned()),
                reason: None,
                task: None,
                at: None,
            };
            ("complete", body)
        }
        _ => {
            return failed(
                &state,
                &s,
                AppError::NotFound(format!("no task action {action}")),
            )
        }
    };
    let cmd = match task_command(task, api_action, body) {
        Ok(c) => c,
        Err(e) => {
            let text = crate::console::message_vi(&e);
            return dashboard_page(&state, &s, &plan, None, Some((true, &text))).await;
        }
    };
    let key = key_of(&f, &format!("plan-{action}"));
    let r = state
        .app()
        .plans()
        .execute(&s.caller, &plan, cmd, None, None, key.as_ref())
        .await;
    match r {
        Ok(_) => {
            let text = if action == "report" {
                "Đã ghi nhận báo cáo tiến độ."
            } else {
                "Đã đánh dấu nhiệm vụ hoàn thành."
            };
            dashboard_page(&state, &s, &plan, None, Some((false, text))).await
        }
        Err(e) => {
            let (_, text) = app_failure(e);
            dashboard_page(&state, &s, &plan, None, Some((true, &text))).await
        }
    }
}
