//! The official reports as downloads (`docs/reports.md`): `GET /v1/reports/procedures`, the
//! periodic report on receiving and resolving procedure dossiers (xlsx or CSV), and
//! `GET /v1/reports/register`, slip 06 as the register of a period (xlsx, CSV or printable
//! HTML). The period and filters are parsed as `GET /v1/stats` parses them
//! (`app::reports::PeriodQuery::parse`); the figures are the application's (`app.reports()`), the files
//! `crate::sheets`'. Both run on a blocking thread: a register reads every dossier's events.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::reports::{PeriodQuery, ProceduresReport, Register};
use crate::app::{App, AppError, Caller};
use crate::errors::ApiError;
use crate::extract::ApiQuery;
use crate::routes::roles::{REGISTER_READERS, REPORT_READERS};
use crate::sheets;
use crate::state::AppState;

/// A report's query: the statistics' period and filters, and the file's format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day (YYYY-MM-DD, local).
    #[param(format = Date)]
    pub from: String,
    /// Last day, inclusive; the period is at most `MAX_REPORT_DAYS` (366) days.
    #[param(format = Date)]
    pub to: String,
    /// Unit (default: the caller's; auditors and admins may pass `all`).
    pub unit: Option<String>,
    pub field: Option<String>,
    /// `desk`, `online` or `postal`.
    pub channel: Option<String>,
    /// `xlsx` (the default) or `csv`; the register also `html`.
    pub format: Option<String>,
}

impl ReportQuery {
    fn period(&self) -> PeriodQuery {
        PeriodQuery {
            from: self.from.clone(),
            to: self.to.clone(),
            unit: self.unit.clone(),
            field: self.field.clone(),
            procedure: None,
            channel: self.channel.clone(),
        }
    }
}

/// A report file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Xlsx,
    Csv,
    Html,
}

impl FileFormat {
    /// `format=` among `allowed` (absent: xlsx).
    pub fn parse(raw: Option<&str>, allowed: &[FileFormat]) -> Result<FileFormat, ApiError> {
        let format = match raw.unwrap_or("xlsx") {
            "xlsx" => Some(FileFormat::Xlsx),
            "csv" => Some(FileFormat::Csv),
            "html" => Some(FileFormat::Html),
            _ => None,
        };
        format.filter(|f| allowed.contains(f)).ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|f| f.extension()).collect();
            ApiError::validation("format", format!("expected one of {}", names.join(", ")))
        })
    }

    fn extension(self) -> &'static str {
        match self {
            FileFormat::Xlsx => "xlsx",
            FileFormat::Csv => "csv",
            FileFormat::Html => "html",
        }
    }
}

/// A report's bytes with their media type and file name.
pub struct ReportFile {
    pub media_type: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// Saved as a file (`Content-Disposition: attachment`); the printable page opens in place.
    pub download: bool,
}

impl IntoResponse for ReportFile {
    fn into_response(self) -> Response {
        let disposition = format!("attachment; filename=\"{}\"", self.file_name);
        let mut res = self.bytes.into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.media_type),
        );
        if self.download {
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
        }
        res
    }
}

fn file_name(stem: &str, from: NaiveDate, to: NaiveDate, format: FileFormat) -> String {
    format!("{stem}-{from}-{to}.{}", format.extension())
}

/// The procedures report of a period as a file (the application call and the rendering, on
/// a blocking thread); the console's download runs the same function.
pub async fn procedures_file(
    app: &App,
    from: NaiveDate,
    to: NaiveDate,
    filter: motcua_engine::projection::StatsFilter,
    format: FileFormat,
) -> Result<ReportFile, ApiError> {
    let app = app.clone();
    let report: ProceduresReport =
        tokio::task::spawn_blocking(move || app.reports().procedures(from, to, &filter))
            .await
            .map_err(AppError::internal)??;
    let grid = sheets::procedures_grid(&report);
    let (media_type, bytes) = match format {
        FileFormat::Csv => (sheets::CSV, sheets::csv(&grid).into_bytes()),
        _ => (
            sheets::XLSX,
            sheets::xlsx(&grid).map_err(ApiError::internal)?,
        ),
    };
    Ok(ReportFile {
        media_type,
        file_name: file_name("bao-cao-tthc", from, to, format),
        bytes,
        download: true,
    })
}

/// The register of a period as a file; the console's download runs the same function.
pub async fn register_file(
    app: &App,
    caller: &Caller,
    from: NaiveDate,
    to: NaiveDate,
    filter: motcua_engine::projection::StatsFilter,
    format: FileFormat,
    max_rows: usize,
) -> Result<ReportFile, ApiError> {
    let app = app.clone();
    let caller = caller.clone();
    let register: Register = tokio::task::spawn_blocking(move || {
        app.reports().register(&caller, from, to, &filter, max_rows)
    })
    .await
    .map_err(AppError::internal)??;
    let (media_type, bytes) = match format {
        FileFormat::Html => (
            "text/html; charset=utf-8",
            sheets::register_html(&register).into_bytes(),
        ),
        FileFormat::Csv => (
            sheets::CSV,
            sheets::csv(&sheets::register_grid(&register)).into_bytes(),
        ),
        FileFormat::Xlsx => (
            sheets::XLSX,
            sheets::xlsx(&sheets::register_grid(&register)).map_err(ApiError::internal)?,
        ),
    };
    Ok(ReportFile {
        media_type,
        file_name: file_name("so-theo-doi-ho-so", from, to, format),
        bytes,
        download: format != FileFormat::Html,
    })
}

/// The periodic report on receiving and resolving procedure dossiers (Tình hình, kết quả giải
/// quyết TTHC): one row per procedure under its field's subtotal, and the total, every number
/// the statistics' (`GET /v1/stats`) for that row; `.xlsx` or CSV.
#[utoipa::path(get, path = "/v1/reports/procedures", tag = "views", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The report as .xlsx or CSV",
            content((String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "text/csv"))),
        (status = 401), (status = 403), (status = 422)))]
pub async fn procedures(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&REPORT_READERS)?;
    let format = FileFormat::parse(q.format.as_deref(), &[FileFormat::Xlsx, FileFormat::Csv])?;
    let (from, to, filter) = q.period().parse(&caller)?;
    Ok(procedures_file(state.app(), from, to, filter, format)
        .await?
        .into_response())
}

/// Slip 06 (Sổ theo dõi hồ sơ) as the register of a period: one row per dossier received in
/// it (the codes behind the `received` figure); at most `register_max_rows` rows (422 beyond);
/// `.xlsx`, CSV or printable A4 HTML.
#[utoipa::path(get, path = "/v1/reports/register", tag = "views", params(ReportQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The register as .xlsx, CSV or printable HTML",
            content((String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "text/csv"), (String = "text/html"))),
        (status = 401), (status = 403), (status = 422)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&REGISTER_READERS)?;
    let format = FileFormat::parse(
        q.format.as_deref(),
        &[FileFormat::Xlsx, FileFormat::Csv, FileFormat::Html],
    )?;
    let (from, to, filter) = q.period().parse(&caller)?;
    let max_rows = state.config().register_max_rows;
    Ok(
        register_file(state.app(), &caller, from, to, filter, format, max_rows)
            .await?
            .into_response(),
    )
}
