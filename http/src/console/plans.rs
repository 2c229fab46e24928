//! Reform plans in the browser (kế hoạch cải cách hành chính) for planners, leaders and
//! auditors: the unit's plans, and a plan's dashboard as of any day: progress, tasks per
//! status, each task with its owner, deadline, status in words, indicator, value against its
//! target and the evidence reported. Through `app.plans()`, the functions `GET /v1/plans` and
//! `/v1/plans/{plan}/dashboard` call; the plan rules are the engine's.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use maud::html;
use motcua_engine::domain::plan::{day_start, Target, TaskStatus};
use motcua_engine::domain::types::{PlanId, Timestamp};

use crate::app::AppError;
use crate::console::layout;
use crate::console::{app_failure, forbidden, render, Signed};
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
            let mut res = render(&state, &s, TITLE, body);
            *res.status_mut() = StatusCode::NOT_FOUND;
            return res;
        }
        Err(e) => return failed(&state, &s, e),
    };
    let body = html! {
        h1 { (progress.title) }
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
                        td { @if let Some(r) = &t.report { (r.evidence) } }
                    }
                }
            }
        }
        p { a href="/ke-hoach" { "Các kế hoạch khác" } }
    };
    render(&state, &s, TITLE, body)
}
