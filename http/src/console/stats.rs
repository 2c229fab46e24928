//! The statistics dashboard (Thống kê kết quả giải quyết TTHC) for leaders, auditors, admins
//! and planners: a period (this month, quarter or year, or any two days) and filters (field,
//! procedure, channel); every figure of the project's statistics definitions
//! (`docs/domain/statistics.md`) under its Vietnamese heading, each a link to the dossiers
//! behind it; a chart drawn here as SVG, month by month: resolved early, on time and late.
//!
//! The same parsing and the same application call as `GET /v1/stats`
//! (`app::reports::PeriodQuery::parse`, `app.views().stats`): the page shows what the API
//! answers.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, Months, NaiveDate};
use maud::{html, Markup};
use motcua_engine::domain::rating::SatisfactionLevel;
use motcua_engine::domain::types::Role;
use motcua_engine::projection::{Figure, StatsFilter, StatsReport};

use crate::app::clock;
use crate::app::reports::PeriodQuery;
use crate::console::layout;
use crate::console::{app_failure, forbidden, render, Signed};
use crate::routes::roles::REGISTER_READERS;
use crate::state::AppState;

const TITLE: &str = "Thống kê kết quả giải quyết hồ sơ";
/// The most months the chart draws (a longer period shows its totals without the chart).
const MAX_CHART_MONTHS: u32 = 24;
/// The most codes a drill-down lists on one page.
const MAX_LISTED: usize = 1_000;

const READERS: [Role; 4] = [Role::Leader, Role::Auditor, Role::Admin, Role::Planner];

/// The figures shown, in the report's order, with their headings.
const ROWS: [(Figure, &str); 15] = [
    (Figure::CarriedOver, "Số hồ sơ kỳ trước chuyển qua"),
    (Figure::Received, "Số hồ sơ tiếp nhận mới trong kỳ"),
    (Figure::ReceivedOnline, "trong đó: trực tuyến"),
    (Figure::Resolved, "Số hồ sơ đã giải quyết"),
    (Figure::ResolvedEarly, "trước hạn"),
    (Figure::ResolvedOnTime, "đúng hạn"),
    (Figure::ResolvedLate, "quá hạn"),
    (Figure::InProgress, "Số hồ sơ đang giải quyết"),
    (Figure::InProgressWithinTime, "trong hạn"),
    (Figure::InProgressOverdue, "quá hạn"),
    (Figure::Paused, "Tạm dừng"),
    (Figure::Stopped, "Dừng xử lý"),
    (Figure::Withdrawn, "Rút hồ sơ"),
    (Figure::SupplementsRequested, "Yêu cầu bổ sung"),
    (Figure::ApologiesIssued, "Xin lỗi, hẹn lại"),
];

fn is_detail(f: Figure) -> bool {
    matches!(
        f,
        Figure::ReceivedOnline
            | Figure::ResolvedEarly
            | Figure::ResolvedOnTime
            | Figure::ResolvedLate
            | Figure::InProgressWithinTime
            | Figure::InProgressOverdue
    )
}

/// The page's query: the API's, every field optional (the bare page is this month).
#[derive(Debug, Default, serde::Deserialize)]
pub struct DashboardQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub procedure: String,
    #[serde(default)]
    pub channel: String,
    /// A figure's name: list the dossiers behind it.
    #[serde(default)]
    pub figure: String,
}

impl DashboardQuery {
    fn period(&self, from: NaiveDate, to: NaiveDate) -> PeriodQuery {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        PeriodQuery {
            from: from.to_string(),
            to: to.to_string(),
            unit: None,
            field: some(&self.field),
            procedure: some(&self.procedure),
            channel: some(&self.channel),
        }
    }

    /// This page's address with another period or figure.
    fn link(&self, from: NaiveDate, to: NaiveDate, figure: Option<Figure>) -> String {
        let mut out = format!("/thong-ke?from={from}&to={to}");
        for (k, v) in [
            ("field", &self.field),
            ("procedure", &self.procedure),
            ("channel", &self.channel),
        ] {
            if !v.trim().is_empty() {
                out.push_str(&format!("&{k}={}", enc(v.trim())));
            }
        }
        if let Some(f) = figure {
            out.push_str(&format!("&figure={}", f.as_str()));
        }
        out
    }

    /// A download's address (`console::reports`) for this page's period, field and channel
    /// (the report has a row per procedure, so the procedure filter is not carried).
    fn download(&self, path: &str, from: NaiveDate, to: NaiveDate, format: &str) -> String {
        let mut out = format!("{path}?from={from}&to={to}");
        for (k, v) in [("field", &self.field), ("channel", &self.channel)] {
            if !v.trim().is_empty() {
                out.push_str(&format!("&{k}={}", enc(v.trim())));
            }
        }
        out.push_str(&format!("&format={format}"));
        out
    }
}

/// The downloads of the period on the page: the official report for the dashboard's readers,
/// the register (applicants' names) for those of `REGISTER_READERS`.
fn downloads(s: &Signed, q: &DashboardQuery, from: NaiveDate, to: NaiveDate) -> Markup {
    let register = s.caller.require_any(&REGISTER_READERS).is_ok();
    let report = "/thong-ke/bao-cao";
    let book = "/thong-ke/so-theo-doi";
    html! {
        section.downloads.noprint aria-labelledby="downloads" {
            h2 id="downloads" { "Tải báo cáo của kỳ này" }
            ul {
                li {
                    "Báo cáo tình hình, kết quả giải quyết TTHC (theo từng thủ tục): "
                    a href=(q.download(report, from, to, "xlsx")) data-download="report-xlsx" { "Excel (.xlsx)" }
                    " · "
                    a href=(q.download(report, from, to, "csv")) data-download="report-csv" { "CSV" }
                }
                @if register {
                    li {
                        "Sổ theo dõi hồ sơ (mẫu 06, mỗi hồ sơ tiếp nhận trong kỳ một dòng): "
                        a href=(q.download(book, from, to, "xlsx")) data-download="register-xlsx" { "Excel (.xlsx)" }
                        " · "
                        a href=(q.download(book, from, to, "csv")) data-download="register-csv" { "CSV" }
                        " · "
                        a href=(q.download(book, from, to, "html")) data-download="register-html" { "Bản in (A4)" }
                    }
                }
            }
        }
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// The first and last day of the month of `d`.
fn month_of(d: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = d.with_day(1).unwrap_or(d);
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|n| n.pred_opt())
        .unwrap_or(first);
    (first, last)
}

/// `GET /thong-ke`.
pub async fn page(
    State(state): State<AppState>,
    s: Signed,
    query: Result<Query<DashboardQuery>, QueryRejection>,
) -> Response {
    if !READERS.iter().any(|r| s.caller.has(*r)) {
        return forbidden(&state, &s);
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let today = clock::today();
    let (month_start, month_end) = month_of(today);
    let from = parse_day(&q.from).unwrap_or(month_start);
    let to = parse_day(&q.to).unwrap_or(month_end);
    let report = q
        .period(from, to)
        .parse(&s.caller)
        .map_err(|e| crate::console::message_vi(&e.into()))
        .and_then(|(from, to, filter)| {
            state
                .app()
                .views()
                .stats(from, to, &filter)
                .map(|r| (r, filter))
                .map_err(|e| app_failure(e).1)
        });
    let (report, filter) = match report {
        Ok(r) => r,
        Err(text) => {
            let body = html! { h1 { (TITLE) } (form(&q, from, to)) (layout::message(true, &text)) };
            let mut res = render(&state, &s, TITLE, body);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return res;
        }
    };
    let figure = Figure::parse(&q.figure);
    let body = html! {
        h1 { (TITLE) }
        (form(&q, from, to))
        p {
            "Kỳ báo cáo: từ " (from.format("%d/%m/%Y")) " đến " (to.format("%d/%m/%Y")) ". "
            @if let Some(share) = report.figures.online_share_percent() {
                "Tỷ lệ hồ sơ tiếp nhận trực tuyến: " (format!("{share:.1}")) "%."
            }
        }
        (figures_table(&q, &report, from, to))
        (satisfaction_table(&report))
        (downloads(&s, &q, from, to))
        p.muted.checkpoint {
            (crate::app::checkpoints::fingerprint_line(state.checkpoints().fingerprint().as_deref()))
        }
        (chart(&state, &filter, from, to))
        @if let Some(f) = figure { (drill_down(&report, f)) }
    };
    render(&state, &s, TITLE, body)
}

fn form(q: &DashboardQuery, from: NaiveDate, to: NaiveDate) -> Markup {
    let today = clock::today();
    let (m0, m1) = month_of(today);
    let q0 = NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1).unwrap_or(m0);
    let q1 = q0
        .checked_add_months(Months::new(3))
        .and_then(|d| d.pred_opt())
        .unwrap_or(m1);
    let y0 = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(m0);
    let y1 = NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap_or(m1);
    html! {
        form method="get" action="/thong-ke" class="search" {
            div { label for="from" { "Từ ngày" } input id="from" name="from" type="date" value=(from); }
            div { label for="to" { "Đến ngày" } input id="to" name="to" type="date" value=(to); }
            div { label for="field" { "Lĩnh vực (mã)" } input id="field" name="field" value=(q.field); }
            div { label for="procedure" { "Thủ tục (mã)" } input id="procedure" name="procedure" value=(q.procedure); }
            div {
                label for="channel" { "Hình thức nộp" }
                select id="channel" name="channel" {
                    option value="" selected[q.channel.is_empty()] { "Tất cả" }
                    option value="desk" selected[q.channel == "desk"] { "Trực tiếp" }
                    option value="online" selected[q.channel == "online"] { "Trực tuyến" }
                    option value="postal" selected[q.channel == "postal"] { "Bưu chính" }
                }
            }
            div { button type="submit" { "Xem" } }
        }
        p {
            "Kỳ nhanh: "
            a href=(q.link(m0, m1, None)) { "tháng này" } " · "
            a href=(q.link(q0, q1, None)) { "quý này" } " · "
            a href=(q.link(y0, y1, None)) { "năm nay" }
        }
    }
}

/// The satisfaction group of the service-quality index: ratings given in the period by level
/// and the satisfied share (`docs/domain/statistics.md`).
fn satisfaction_table(r: &StatsReport) -> Markup {
    let sat = &r.satisfaction;
    html! {
        section aria-labelledby="hai-long" {
            h2 id="hai-long" { "Đánh giá mức độ hài lòng" }
            table.satisfaction {
                thead { tr { th { "Mức độ" } th { "Số lượt đánh giá" } } }
                tbody {
                    @for level in SatisfactionLevel::ALL {
                        tr data-level=(level.as_str()) { td { (level.label()) } td { (sat.count(level)) } }
                    }
                    tr data-level="all" { td { "Tổng số lượt đánh giá" } td { (sat.ratings) } }
                }
            }
            p {
                @match sat.satisfied_share_percent() {
                    Some(share) => { "Tỷ lệ hài lòng (rất hài lòng và hài lòng): " (format!("{share:.1}")) "%." }
                    None => { "Chưa có lượt đánh giá nào trong kỳ." }
                }
            }
        }
    }
}

fn figures_table(q: &DashboardQuery, r: &StatsReport, from: NaiveDate, to: NaiveDate) -> Markup {
    html! {
        table.figures {
            thead { tr { th { "Chỉ tiêu" } th { "Số hồ sơ" } } }
            tbody {
                @for (f, heading) in ROWS {
                    tr {
                        @if is_detail(f) { th.detail scope="row" { "– " (heading) } }
                        @else { th scope="row" { (heading) } }
                        td data-figure=(f.as_str()) {
                            a href=(q.link(from, to, Some(f))) { (r.figures.get(f)) }
                        }
                    }
                }
            }
        }
    }
}

/// Resolved early, on time and late, month by month, as stacked bars (SVG attributes only: the
/// Content-Security-Policy allows no inline style).
fn chart(state: &AppState, filter: &StatsFilter, from: NaiveDate, to: NaiveDate) -> Markup {
    let mut months = Vec::new();
    let mut start = month_of(from).0;
    while start <= to && months.len() < MAX_CHART_MONTHS as usize + 1 {
        let end = month_of(start).1.min(to);
        let first = start.max(from);
        let figures = state
            .app()
            .views()
            .stats(first, end, filter)
            .map(|r| r.figures)
            .unwrap_or_default();
        months.push((start, figures));
        match start.checked_add_months(Months::new(1)) {
            Some(n) => start = n,
            None => break,
        }
    }
    if months.len() > MAX_CHART_MONTHS as usize || months.is_empty() {
        return html! { p.muted { "Biểu đồ theo tháng chỉ vẽ cho kỳ không quá " (MAX_CHART_MONTHS) " tháng." } };
    }
    let top = months
        .iter()
        .map(|(_, f)| f.resolved)
        .max()
        .unwrap_or(0)
        .max(1);
    let (bar, gap, height) = (36u64, 14u64, 160u64);
    let width = (bar + gap) * months.len() as u64 + gap;
    let label = "Số hồ sơ đã giải quyết theo tháng: trước hạn, đúng hạn, quá hạn";
    html! {
        h2 { "Giải quyết theo tháng" }
        p.legend {
            span.early { "■ trước hạn" } " " span.ontime { "■ đúng hạn" } " " span.late { "■ quá hạn" }
        }
        svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            width=(width) height=(height + 40) viewBox=(format!("0 0 {width} {}", height + 40)) {
            title { (label) }
            @for (i, (month, f)) in months.iter().enumerate() {
                @let x = gap + i as u64 * (bar + gap);
                @let h = |n: u64| n * height / top;
                @let (he, ho, hl) = (h(f.resolved_early), h(f.resolved_on_time), h(f.resolved_late));
                rect x=(x) y=(height - he) width=(bar) height=(he) fill="#2e7d32" {
                    title { (month.format("%m/%Y")) ": " (f.resolved_early) " trước hạn" }
                }
                rect x=(x) y=(height - he - ho) width=(bar) height=(ho) fill="#1565c0" {
                    title { (month.format("%m/%Y")) ": " (f.resolved_on_time) " đúng hạn" }
                }
                rect x=(x) y=(height - he - ho - hl) width=(bar) height=(hl) fill="#c62828" {
                    title { (month.format("%m/%Y")) ": " (f.resolved_late) " quá hạn" }
                }
                text x=(x + bar / 2) y=(height + 16) text-anchor="middle" font-size="11" { (month.format("%m/%y")) }
                text x=(x + bar / 2) y=(height + 32) text-anchor="middle" font-size="11" { (f.resolved) }
            }
        }
    }
}

fn drill_down(r: &StatsReport, f: Figure) -> Markup {
    let codes = r.codes(f);
    let heading = ROWS
        .iter()
        .find(|(x, _)| *x == f)
        .map_or(f.as_str(), |(_, h)| h);
    html! {
        h2 id="ho-so" { "Hồ sơ: " (heading) " (" (codes.len()) ")" }
        @if codes.len() > MAX_LISTED { p.muted { "Hiện " (MAX_LISTED) " hồ sơ đầu tiên." } }
        ul.codes {
            @for c in codes.iter().take(MAX_LISTED) {
                li { a href=(format!("/dossiers/{c}")) { (c) } }
            }
        }
    }
}
