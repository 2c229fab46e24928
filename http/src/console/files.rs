//! A dossier's files on its console page (`docs/files.md`): the list with a download link each,
//! and, for whoever the workflow lets attach now, a form sending one scan as
//! `multipart/form-data` (`POST /dossiers/{code}/files`). The form's first field is the CSRF
//! token, checked before anything else is read; the file, its last field, is streamed into
//! the same `app.files().attach` the JSON API calls (never buffered whole). A download
//! (`GET /dossiers/{code}/files/{sha256}`) is the API's answer, recorded in the same trail.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use motcua_engine::domain::files::{is_sha256_hex, MAX_FILE_BYTES};
use motcua_engine::domain::Action;

use crate::app::files::{files_of, DocumentRef};
use crate::app::views::DossierDetail;
use crate::app::AppError;
use crate::console::dossier::dossier_page;
use crate::console::{app_failure, csrf_ok, csrf_refused, forbidden, Signed};
use crate::routes::files::{file_response, FILE_WRITERS};
use crate::routes::roles::DOSSIER_READERS;
use crate::state::AppState;

/// A size in words: bytes, KB or MB.
fn size_vi(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} byte"),
        b if b < 1024 * 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// The files section of a dossier's page: the list, and the upload form when allowed.
pub fn section(s: &Signed, d: &DossierDetail) -> Markup {
    let code = d.view.code.to_string();
    let files = files_of(&d.history);
    let may_attach = d.allowed_actions.contains(&Action::AttachFile)
        && FILE_WRITERS.iter().any(|r| s.caller.has(*r));
    let checklist: &[String] = if may_attach { &d.checklist } else { &[] };
    html! {
        section.files {
            h2 { "Tệp đính kèm" }
            @if files.is_empty() {
                p { "Hồ sơ chưa có tệp nào." }
            } @else {
                table {
                    thead { tr { th { "Giấy tờ" } th { "Tên tệp" } th { "Loại" } th { "Dung lượng" } } }
                    tbody {
                        @for (_, f) in &files {
                            tr {
                                td { (f.document) }
                                td { a href=(format!("/dossiers/{code}/files/{}", f.sha256)) { (f.file_name) } }
                                td { (f.media_type.as_mime()) }
                                td { (size_vi(f.size)) }
                            }
                        }
                    }
                }
            }
            @if may_attach && !checklist.is_empty() {
                form method="post" action=(format!("/dossiers/{code}/files")) enctype="multipart/form-data" {
                    h3 { "Đính kèm tệp" }
                    (crate::console::layout::csrf_field(&s.csrf))
                    label for="file-document" { "Giấy tờ" }
                    select id="file-document" name="document" required {
                        @for (i, doc) in checklist.iter().enumerate() {
                            option value=(i + 1) { (doc) }
                        }
                    }
                    label for="file-content" { "Tệp (PDF, JPEG, PNG; tối đa 20 MB)" }
                    input type="file" id="file-content" name="file" required
                        accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png";
                    div { button type="submit" { "Đính kèm tệp" } }
                }
            }
        }
    }
}

/// `POST /dossiers/{code}/files`: the CSRF token, the document, then the file; back to the page
/// (303) on success, the page with the Vietnamese reason on a refusal.
pub async fn upload(
    State(state): State<AppState>,
    s: Signed,
    Path(code): Path<String>,
    mut form: Multipart,
) -> Response {
    let refuse = |e: AppError| {
        let (status, text) = app_failure(e);
        dossier_page(&state, &s, &code, Some(&text), status)
    };
    // The token comes first: nothing else of the request is read before it is checked.
    let token = match form.next_field().await {
        Ok(Some(f)) if f.name() == Some("csrf") => f.text().await.unwrap_or_default(),
        _ => String::new(),
    };
    if !csrf_ok(&s.csrf, &token) {
        return csrf_refused();
    }
    if !FILE_WRITERS.iter().any(|r| s.caller.has(*r)) {
        return forbidden(&state, &s);
    }
    let Ok(parsed) = crate::routes::parse::code(&code) else {
        return refuse(AppError::NotFound(code.clone()));
    };
    let document = match form.next_field().await {
        Ok(Some(f)) if f.name() == Some("document") => f.text().await.unwrap_or_default(),
        _ => return refuse(AppError::invalid("document", "required")),
    };
    let field = match form.next_field().await {
        Ok(Some(f)) if f.name() == Some("file") => f,
        _ => return refuse(AppError::invalid("body", "the file is empty")),
    };
    let name = field.file_name().map(str::to_owned);
    let limit = state.config().max_file_bytes.min(MAX_FILE_BYTES);
    let attached = state
        .app()
        .files()
        .attach(
            &s.caller,
            &parsed,
            &DocumentRef::parse(&document),
            name.as_deref(),
            limit,
            Box::pin(field),
        )
        .await;
    match attached {
        Ok(_) => Redirect::to(&format!("/dossiers/{parsed}")).into_response(),
        Err(e) => refuse(e),
    }
}

/// `GET /dossiers/{code}/files/{sha256}`: the file, for the dossier's readers; recorded in the
/// download trail.
pub async fn download(
    State(state): State<AppState>,
    s: Signed,
    Path((code, sha256)): Path<(String, String)>,
) -> Response {
    if !DOSSIER_READERS.iter().any(|r| s.caller.has(*r)) {
        return forbidden(&state, &s);
    }
    let Ok(parsed) = crate::routes::parse::code(&code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !is_sha256_hex(&sha256) {
        return dossier_page(
            &state,
            &s,
            &code,
            Some("Không có tệp này."),
            StatusCode::NOT_FOUND,
        );
    }
    match state.app().files().download(&s.caller, &parsed, &sha256) {
        Ok(d) => file_response(d),
        Err(e) => {
            let (status, text) = app_failure(e);
            dossier_page(&state, &s, &code, Some(&text), status)
        }
    }
}
