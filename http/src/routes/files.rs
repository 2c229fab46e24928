//! A dossier's files on the wire (`docs/files.md`): `POST /v1/dossiers/{code}/files` takes the
//! raw bytes of one file as the body (streamed, never buffered whole), `GET` on the same path
//! lists the files, `GET /v1/dossiers/{code}/files/{sha256}` streams one back as an attachment
//! (and records the download), `GET /v1/files/downloads` is the download trail for auditors.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use motcua_engine::domain::files::{clean_file_name, is_sha256_hex, AttachedFile, MAX_FILE_BYTES};
use motcua_engine::domain::types::Role;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use utoipa::{IntoParams, ToSchema};

use crate::app::files::{DocumentRef, Download, DownloadRecord, MAX_TRAIL_PAGE};
use crate::app::Caller;
use crate::errors::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::parse;
use crate::routes::roles::{DOSSIER_READERS, LOG_READERS};
use crate::state::AppState;

/// Who may attach a file: the desk, and the specialist the dossier is assigned to (the
/// workflow and the domain decide which of them, and when).
pub const FILE_WRITERS: [Role; 2] = [Role::Reception, Role::Specialist];
/// What a download reads from disk at a time.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The checklist document this file is: its name, or its number in the checklist (from 1).
    pub document: String,
    /// The file's name as the user knows it (cleaned: no path, no control characters, at
    /// most 120 characters).
    pub filename: Option<String>,
}

/// One attached file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileReply {
    /// The log seq of the event recording it.
    pub seq: u64,
    pub sha256: String,
    pub size: u64,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub media_type: String,
    pub document: String,
    pub file_name: String,
}

impl FileReply {
    pub(crate) fn new(seq: u64, f: &AttachedFile) -> FileReply {
        FileReply {
            seq,
            sha256: f.sha256.clone(),
            size: f.size,
            media_type: f.media_type.as_mime().to_owned(),
            document: f.document.clone(),
            file_name: f.file_name.clone(),
        }
    }
}

/// The answer to an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadReply {
    pub code: String,
    /// The dossier stream's version after the event.
    pub version: u64,
    pub file: FileReply,
}

/// Attach a file to a checklist document (đính kèm tệp): the body is the file's bytes, any
/// `Content-Type`; PDF, JPEG or PNG decided by the bytes; at most 20 MiB. The file is durable
/// before the event naming it is appended.
#[utoipa::path(post, path = "/v1/dossiers/{code}/files", tag = "files",
    params(("code" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("bearer" = [])),
    responses((status = 201, body = UploadReply), (status = 401), (status = 403), (status = 404),
        (status = 409), (status = 413), (status = 415), (status = 422)))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require_any(&FILE_WRITERS)?;
    let code = parse::code(&code)?;
    let document = DocumentRef::parse(&q.document);
    let limit = state.config().max_file_bytes.min(MAX_FILE_BYTES);
    let stream = body.into_data_stream();
    let (outcome, file) = state
        .app()
        .files()
        .attach(
            &caller,
            &code,
            &document,
            q.filename.as_deref(),
            limit,
            stream,
        )
        .await?;
    let reply = UploadReply {
        code: outcome.code.to_string(),
        version: outcome.version,
        file: FileReply::new(outcome.seq, &file),
    };
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

/// The files of a dossier, oldest first.
#[utoipa::path(get, path = "/v1/dossiers/{code}/files", tag = "files",
    params(("code" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<FileReply>), (status = 401), (status = 403), (status = 404)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require_any(&DOSSIER_READERS)?;
    let code = parse::code(&code)?;
    let files = state.app().files().list(&caller, &code)?;
    let body: Vec<FileReply> = files.iter().map(|(s, f)| FileReply::new(*s, f)).collect();
    Ok(Json(body).into_response())
}

/// Download one file of a dossier (its bytes, with its recorded type); recorded in the
/// download trail.
#[utoipa::path(get, path = "/v1/dossiers/{code}/files/{sha256}", tag = "files",
    params(("code" = String, Path), ("sha256" = String, Path, description = "64 lower-case hex digits")),
    security(("bearer" = [])),
    responses((status = 200, description = "The file's bytes",
            content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 401), (status = 403), (status = 404)))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((code, sha256)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require_any(&DOSSIER_READERS)?;
    let code = parse::code(&code)?;
    if !is_sha256_hex(&sha256) {
        return Err(ApiError::NotFound(format!("no file {sha256}")));
    }
    let d = state.app().files().download(&caller, &code, &sha256)?;
    Ok(file_response(d))
}

/// A download as an answer: the file streamed from disk with its recorded type, as an
/// attachment under its cleaned name, never cached (the console's download answers the same).
pub fn file_response(d: Download) -> Response {
    let file = tokio::fs::File::from_std(d.content);
    let stream = futures::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; READ_CHUNK];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let name = clean_file_name(&d.file.file_name);
    // RFC 6266: an ASCII fallback and the UTF-8 name percent-encoded.
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(&name)
    );
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(d.file.media_type.as_mime()),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(d.file.size));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrailQuery {
    /// 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One download of the trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadReply {
    /// RFC 3339.
    pub at: String,
    pub staff: String,
    pub code: String,
    pub sha256: String,
    pub document: String,
}

impl From<DownloadRecord> for DownloadReply {
    fn from(r: DownloadRecord) -> DownloadReply {
        DownloadReply {
            at: r.at.to_string(),
            staff: r.staff,
            code: r.code,
            sha256: r.sha256,
            document: r.document,
        }
    }
}

/// The download trail, newest first (auditors and admins).
#[utoipa::path(get, path = "/v1/files/downloads", tag = "files", params(TrailQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<DownloadReply>), (status = 401), (status = 403), (status = 422)))]
pub async fn downloads(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TrailQuery>,
) -> Result<Response, ApiError> {
    caller.require_any(&LOG_READERS)?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_TRAIL_PAGE {
        return Err(ApiError::validation("limit", "1..=1000"));
    }
    let rows = state.app().files().downloads(&caller, limit)?;
    let body: Vec<DownloadReply> = rows.into_iter().map(DownloadReply::from).collect();
    Ok(Json(body).into_response())
}
