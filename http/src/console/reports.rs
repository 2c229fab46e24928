//! The statistics page's downloads (`/thong-ke/bao-cao` and `/thong-ke/so-theo-doi`): the
//! official report (xlsx, CSV) and the register of slip 06 (xlsx, CSV, printable HTML) for the
//! period and filters on the page. The same parsing, roles and files as
//! `GET /v1/reports/procedures` and `/v1/reports/register` (`routes::reports`); a refusal is
//! a page in Vietnamese.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::app::reports::PeriodQuery;
use crate::app::reports::MAX_REPORT_DAYS;
use crate::console::layout;
use crate::console::{app_failure, forbidden, render, Signed};
use crate::errors::ApiError;
use crate::routes::reports::{procedures_file, register_file, FileFormat};
use crate::routes::roles::{REGISTER_READERS, REPORT_READERS};
use crate::state::AppState;

const TITLE: &str = "Tải báo cáo";

/// The downloads' query: the statistics page's period and filters, and the format.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub format: String,
}

impl DownloadQuery {
    fn period(&self) -> PeriodQuery {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        PeriodQuery {
            from: self.from.trim().to_owned(),
            to: self.to.trim().to_owned(),
            unit: None,
            field: some(&self.field),
            procedure: None,
            channel: some(&self.channel),
        }
    }

    fn format(&self) -> Option<&str> {
        Some(self.format.trim()).filter(|f| !f.is_empty())
    }
}

fn refused(state: &AppState, s: &Signed, e: ApiError, max_rows: usize) -> Response {
    let (status, text) = app_failure(e);
    let body = html! {
        h1 { (TITLE) }
        (layout::message(true, &text))
        p {
            "Một báo cáo tính cho tối đa " (MAX_REPORT_DAYS) " ngày; mỗi lần tải sổ theo dõi "
            "hồ sơ có tối đa " (max_rows) " hồ sơ. Hãy chọn kỳ ngắn hơn."
        }
        p { a href="/thong-ke" { "Về trang thống kê" } }
    };
    let mut res = render(state, s, TITLE, body);
    *res.status_mut() = status;
    res
}

/// `GET /thong-ke/bao-cao?from=&to=[&field=][&channel=]&format=xlsx|csv`.
pub async fn procedures(
    State(state): State<AppState>,
    s: Signed,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Response {
    if s.caller.require_any(&REPORT_READERS).is_err() {
        return forbidden(&state, &s);
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let max_rows = state.config().register_max_rows;
    let file = async {
        let format = FileFormat::parse(q.format(), &[FileFormat::Xlsx, FileFormat::Csv])?;
        let (from, to, filter) = q.period().parse(&s.caller)?;
        procedures_file(state.app(), from, to, filter, format).await
    };
    match file.await {
        Ok(f) => f.into_response(),
        Err(e) => refused(&state, &s, e, max_rows),
    }
}

/// `GET /thong-ke/so-theo-doi?from=&to=[&field=][&channel=]&format=xlsx|csv|html`.
pub async fn register(
    State(state): State<AppState>,
    s: Signed,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Response {
    if s.caller.require_any(&REGISTER_READERS).is_err() {
        return forbidden(&state, &s);
    }
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let max_rows = state.config().register_max_rows;
    let file = async {
        let format = FileFormat::parse(
            q.format(),
            &[FileFormat::Xlsx, FileFormat::Csv, FileFormat::Html],
        )?;
        let (from, to, filter) = q.period().parse(&s.caller)?;
        register_file(state.app(), &s.caller, from, to, filter, format, max_rows).await
    };
    match file.await {
        Ok(f) => f.into_response(),
        Err(e) => refused(&state, &s, e, max_rows),
    }
}
