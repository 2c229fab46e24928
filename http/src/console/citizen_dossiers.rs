//! A signed-in citizen's dossiers, laid out for a 360 px phone: the list (`/cong-dan`: code,
//! procedure, status in words, submitted, received and due), submitting online from a
//! procedure of the catalog (`/cong-dan/nop/{procedure}`: the applicant, the procedure's
//! documents as a checklist; then the code and the lookup secret shown once), and one dossier
//! (`/cong-dan/ho-so/{code}`: its status as the public lookup words it, what a supplement
//! request asks for, the "Nộp bổ sung" form while it waits for one, "Rút hồ sơ" while it may be
//! withdrawn, and once the result is handed over "Đánh giá mức độ hài lòng": one rating, then
//! the thanks and the level given).
//!
//! Every read and write is `app.citizens()`'s, which proves ownership with the dossier's own
//! lookup secret: a code that is not the citizen's answers the same 404 page as an unknown
//! code, and a post on it writes nothing. The submission form is parsed by the JSON route's
//! own `routes::dossiers::arrival` and counted against the same online quotas; the actions by
//! `routes::dossiers::command`. Each form carries the session's CSRF token and its own
//! idempotency key (`reference::form_key`), so a form sent twice is one write.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use motcua_engine::domain::rating::{SatisfactionLevel, MAX_RATING_COMMENT_CHARS};
use motcua_engine::domain::types::{Channel, DossierCode, UnitCode};
use motcua_engine::domain::Action;

use crate::app::citizens::OwnDossier;
use crate::app::clock;
use crate::app::portal::PublicProcedure;
use crate::app::AppError;
use crate::console::citizen::{render, CitizenSigned};
use crate::console::layout::{self, datetime_vi};
use crate::console::lookup::status_of;
use crate::console::reference::{form_key, key_of};
use crate::console::{app_failure, Fields};
use crate::extract::ClientIp;
use crate::routes::dossiers::{arrival, command, ActionBody, ApplicantJson, NewDossier};
use crate::state::AppState;

/// The page's query of the submission form: which unit publishes the procedure (the catalog's
/// `don-vi`; default, the first unit, as the catalog's).
#[derive(Debug, Default, serde::Deserialize)]
pub struct UnitQuery {
    #[serde(default, rename = "don-vi")]
    pub unit: Option<String>,
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

/// The one "not found" page of a dossier: an unknown code and another citizen's alike.
fn not_found(s: &CitizenSigned) -> Response {
    let body = html! {
        h1 { "Không tìm thấy hồ sơ" }
        (layout::message(true, "Không có hồ sơ này trong tài khoản của bạn."))
        p { a href="/cong-dan" { "Về danh sách hồ sơ của tôi" } }
    };
    with_status(
        render(s, "Không tìm thấy hồ sơ", body),
        StatusCode::NOT_FOUND,
    )
}

/// `GET /cong-dan`: the citizen's dossiers, newest first.
pub async fn list(State(state): State<AppState>, s: CitizenSigned) -> Response {
    let dossiers = match state.app().citizens().dossiers(&s.account) {
        Ok(d) => d,
        Err(e) => {
            let (status, text) = app_failure(e);
            return with_status(
                render(&s, "Hồ sơ của tôi", layout::message(true, &text)),
                status,
            );
        }
    };
    let body = html! {
        h1 { "Hồ sơ của tôi" }
        @if dossiers.is_empty() {
            p { "Bạn chưa nộp hồ sơ trực tuyến nào." }
        }
        p { a href="/thu-tuc" { "Nộp hồ sơ mới: chọn thủ tục hành chính" } }
        @for d in &dossiers {
            section.dossier aria-label=(d.code) {
                h2 { a href=(format!("/cong-dan/ho-so/{}", d.code)) { (d.code) } }
                dl.facts {
                    dt { "Thủ tục" } dd { (d.procedure_name) }
                    dt { "Trạng thái" } dd { strong.status { (d.national_status_name) } }
                    @if let Some(t) = d.submitted_at { dt { "Ngày nộp" } dd { (datetime_vi(t)) } }
                    @if let Some(t) = d.received_at { dt { "Ngày tiếp nhận" } dd { (datetime_vi(t)) } }
                    @if let Some(t) = d.due { dt { "Ngày hẹn trả kết quả" } dd { (datetime_vi(t)) } }
                }
            }
        }
    };
    render(&s, "Hồ sơ của tôi", body)
}

/// The procedure `id` as `unit`'s catalog publishes it online today.
fn online_procedure(
    state: &AppState,
    unit: Option<&UnitCode>,
    id: &str,
) -> Result<Option<(UnitCode, PublicProcedure)>, AppError> {
    let catalog = state.app().portal().catalog(unit, "")?;
    Ok(catalog
        .procedures
        .into_iter()
        .find(|p| p.id == id && p.online)
        .map(|p| (catalog.unit, p)))
}

fn submit_form(s: &CitizenSigned, unit: &UnitCode, p: &PublicProcedure, f: &Fields) -> Markup {
    let checked: Vec<String> = f.all("documents");
    html! {
        form method="post" action=(format!("/cong-dan/nop/{}", p.id)) {
            (layout::csrf_field(&s.csrf))
            (form_key())
            input type="hidden" name="unit" value=(unit);
            label for="name" { "Họ và tên người nộp" }
            input type="text" id="name" name="name" value=(f.get("name")) required maxlength="200"
                autocomplete="name";
            label for="id_number" { "Số CCCD/định danh cá nhân" }
            input type="text" id="id_number" name="id_number" value=(f.get("id_number"))
                required maxlength="12" inputmode="numeric" autocomplete="off";
            label for="phone" { "Số điện thoại liên hệ" }
            input type="text" id="phone" name="phone" value=(f.get("phone")) maxlength="20"
                inputmode="tel" autocomplete="tel";
            label for="address" { "Địa chỉ" }
            input type="text" id="address" name="address" value=(f.get("address"))
                maxlength="300" autocomplete="street-address";
            fieldset.checklist {
                legend { "Thành phần hồ sơ đã chuẩn bị" }
                @for (i, (doc, originals, copies)) in p.documents.iter().enumerate() {
                    label for=(format!("doc-{i}")) {
                        input type="checkbox" id=(format!("doc-{i}")) name="documents" value=(doc)
                            checked[checked.contains(doc)];
                        span { (doc) " (" (originals) " bản chính, " (copies) " bản sao)" }
                    }
                }
            }
            div { button type="submit" { "Nộp hồ sơ" } }
        }
    }
}

fn submit_page(
    s: &CitizenSigned,
    unit: &UnitCode,
    p: &PublicProcedure,
    f: &Fields,
    error: Option<&str>,
) -> Response {
    let body = html! {
        h1 { "Nộp hồ sơ trực tuyến" }
        p { strong { (p.name) } " (" (p.id) ")" }
        @if let Some(e) = error { (layout::message(true, e)) }
        (submit_form(s, unit, p, f))
    };
    render(s, "Nộp hồ sơ trực tuyến", body)
}

fn no_procedure(s: &CitizenSigned) -> Response {
    let body = html! {
        h1 { "Nộp hồ sơ trực tuyến" }
        (layout::message(true, "Thủ tục này không nhận hồ sơ trực tuyến tại đơn vị này."))
        p { a href="/thu-tuc" { "Xem các thủ tục hành chính" } }
    };
    with_status(
        render(s, "Nộp hồ sơ trực tuyến", body),
        StatusCode::NOT_FOUND,
    )
}

/// `GET /cong-dan/nop/{procedure}?don-vi=`: the submission form.
pub async fn submit_get(
    State(state): State<AppState>,
    s: CitizenSigned,
    Path(id): Path<String>,
    q: Result<Query<UnitQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let unit = q.unit.as_deref().and_then(|u| u.parse::<UnitCode>().ok());
    match online_procedure(&state, unit.as_ref(), &id) {
        Ok(Some((unit, p))) => submit_page(&s, &unit, &p, &Fields(Vec::new()), None),
        Ok(None) | Err(AppError::NotFound(_)) => no_procedure(&s),
        Err(e) => {
            let (status, text) = app_failure(e);
            with_status(
                render(&s, "Nộp hồ sơ trực tuyến", layout::message(true, &text)),
                status,
            )
        }
    }
}

/// `POST /cong-dan/nop/{procedure}`: records the submission as the citizen; the code and the
/// lookup secret shown once.
pub async fn submit_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: CitizenSigned,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match s.form(form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let unit = f.get("unit").parse::<UnitCode>().ok();
    let (unit, p) = match online_procedure(&state, unit.as_ref(), &id) {
        Ok(Some(found)) => found,
        Ok(None) | Err(AppError::NotFound(_)) => return no_procedure(&s),
        Err(e) => {
            let (status, text) = app_failure(e);
            return with_status(
                render(&s, "Nộp hồ sơ trực tuyến", layout::message(true, &text)),
                status,
            );
        }
    };
    let body = NewDossier {
        procedure: p.id.clone(),
        unit: Some(unit.to_string()),
        channel: None,
        applicant: ApplicantJson {
            name: f.get("name").to_owned(),
            id_number: f.get("id_number").to_owned(),
            phone: f.get("phone").to_owned(),
            address: f.get("address").to_owned(),
        },
        documents: f.all("documents"),
        action: None,
        missing: Vec::new(),
        note: None,
        reason: None,
        legal_basis: None,
    };
    let refused = |e: crate::errors::ApiError| {
        let (status, text) = app_failure(e);
        with_status(submit_page(&s, &unit, &p, &f, Some(&text)), status)
    };
    let citizens = state.app().citizens();
    let caller = match citizens.caller(&s.account, &unit) {
        Ok(c) => c,
        Err(e) => return refused(e.into()),
    };
    let parsed = match arrival(&caller, body, Channel::Online, Action::SubmitOnline) {
        Ok(a) => a,
        Err(e) => return refused(e),
    };
    let key = key_of(&f, "submission");
    // The JSON route's quotas: counted before the write, given back when it recorded nothing.
    let quota = state.online_quota();
    let today = clock::today();
    if let Err(e) = quota.take(&s.account, ip, today) {
        return refused(e.into());
    }
    let r = citizens.submit(&s.account, parsed, key.as_ref()).await;
    if !matches!(&r, Ok(r) if !r.outcome.deduplicated) {
        quota.give_back(&s.account, ip, today);
    }
    let receipt = match r {
        Ok(r) => r,
        Err(e) => return refused(e.into()),
    };
    let code = receipt.outcome.code;
    let body = html! {
        h1 { "Đã nộp hồ sơ" }
        (layout::message(false, "Hồ sơ đã được gửi đến bộ phận tiếp nhận. Bộ phận tiếp nhận sẽ kiểm tra và tiếp nhận hồ sơ."))
        dl.facts {
            dt { "Thủ tục" } dd { (p.name) }
            dt { "Mã hồ sơ" } dd { strong { (code) } }
            dt { "Mã tra cứu" } dd { span.secret { (receipt.lookup_secret) } }
        }
        p { "Mã tra cứu chỉ hiện một lần. Hãy ghi lại: dùng nó để tra cứu hồ sơ tại trang "
            a href="/tra-cuu" { "Tra cứu hồ sơ" } " hoặc khi làm việc tại bộ phận tiếp nhận." }
        p { a href=(format!("/cong-dan/ho-so/{code}")) { "Xem hồ sơ này" } " · " a href="/cong-dan" { "Hồ sơ của tôi" } }
    };
    with_status(render(&s, "Đã nộp hồ sơ", body), StatusCode::CREATED)
}

fn dossier_page(
    s: &CitizenSigned,
    code: &DossierCode,
    d: &OwnDossier,
    msg: Option<(bool, &str)>,
) -> Response {
    let body = html! {
        h1 { "Chi tiết hồ sơ" }
        @if let Some((error, text)) = msg { (layout::message(error, text)) }
        (status_of(&d.status))
        @if d.actions.contains(&Action::RecordSupplement) {
            section.actions aria-labelledby="bo-sung" {
                h2 id="bo-sung" { "Nộp bổ sung" }
                form method="post" action=(format!("/cong-dan/ho-so/{code}/bo-sung")) {
                    (layout::csrf_field(&s.csrf))
                    (form_key())
                    label for="supplement-note" { "Nội dung bổ sung (giấy tờ đã bổ sung, ghi chú)" }
                    textarea id="supplement-note" name="note" required maxlength="2000" {}
                    div { button type="submit" { "Nộp bổ sung" } }
                }
            }
        }
        @if d.actions.contains(&Action::Withdraw) {
            section.actions aria-labelledby="rut" {
                h2 id="rut" { "Rút hồ sơ" }
                form method="post" action=(format!("/cong-dan/ho-so/{code}/rut")) {
                    (layout::csrf_field(&s.csrf))
                    (form_key())
                    label for="withdraw-reason" { "Lý do rút hồ sơ" }
                    textarea id="withdraw-reason" name="reason" required maxlength="2000" {}
                    div { button.secondary type="submit" { "Rút hồ sơ" } }
                }
            }
        }
        (rating_section(s, code, d))
        p { a href="/cong-dan" { "Về danh sách hồ sơ của tôi" } }
    };
    render(s, "Hồ sơ của tôi", body)
}

/// After hand-over: the rating form, or the thanks and the level given.
fn rating_section(s: &CitizenSigned, code: &DossierCode, d: &OwnDossier) -> Markup {
    html! {
        @if let Some(level) = d.rating {
            section.actions aria-labelledby="danh-gia" {
                h2 id="danh-gia" { "Đánh giá mức độ hài lòng" }
                p.rated { "Cảm ơn bạn đã đánh giá. Mức độ bạn đã chọn: " strong { (level.label()) } "." }
            }
        } @else if d.handed_over {
            section.actions aria-labelledby="danh-gia" {
                h2 id="danh-gia" { "Đánh giá mức độ hài lòng" }
                form method="post" action=(format!("/cong-dan/ho-so/{code}/{RATE_ACTION}")) {
                    (layout::csrf_field(&s.csrf))
                    (form_key())
                    fieldset.levels {
                        legend { "Bạn hài lòng thế nào với việc giải quyết hồ sơ này?" }
                        @for level in SatisfactionLevel::ALL {
                            div {
                                input type="radio" id=(format!("level-{}", level.as_str())) name="level"
                                    value=(level.as_str()) required;
                                label for=(format!("level-{}", level.as_str())) { (level.label()) }
                            }
                        }
                    }
                    label for="rating-comment" { "Góp ý (không bắt buộc)" }
                    input type="text" id="rating-comment" name="comment"
                        maxlength=(MAX_RATING_COMMENT_CHARS);
                    div { button type="submit" { "Gửi đánh giá" } }
                }
            }
        }
    }
}

/// The path segment of the rating form's post.
const RATE_ACTION: &str = "danh-gia";

/// `POST /cong-dan/ho-so/{code}/danh-gia`: the citizen rates their handed-over dossier; then
/// its page, with the refusal in words for a second rating or one before hand-over.
async fn rate(state: &AppState, s: &CitizenSigned, code: &DossierCode, f: &Fields) -> Response {
    let Some(level) = SatisfactionLevel::parse(f.get("level")) else {
        return with_status(
            show(
                state,
                s,
                code,
                Some((true, "Hãy chọn một mức độ hài lòng.")),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let key = key_of(f, "citizen-rating");
    let citizens = state.app().citizens();
    match citizens
        .rate(&s.account, code, level, f.get("comment"), key.as_ref())
        .await
    {
        Ok(_) => show(
            state,
            s,
            code,
            Some((false, "Đã ghi nhận đánh giá của bạn.")),
        ),
        Err(AppError::NotFound(_)) => not_found(s),
        Err(e) => {
            let (status, text) = app_failure(e);
            // The dossier read once: for the refusal's words and for the page itself.
            let d = match citizens.dossier(&s.account, code) {
                Ok(d) => d,
                Err(e) => return failed(s, e),
            };
            let words = if d.rating.is_some() {
                "Hồ sơ này đã được đánh giá. Mỗi hồ sơ chỉ được đánh giá một lần."
            } else if !d.handed_over {
                "Chỉ đánh giá được sau khi đã nhận kết quả."
            } else {
                text.as_str()
            };
            with_status(dossier_page(s, code, &d, Some((true, words))), status)
        }
    }
}

/// `GET /cong-dan/ho-so/{code}`.
pub async fn dossier(
    State(state): State<AppState>,
    s: CitizenSigned,
    Path(code): Path<String>,
) -> Response {
    let Ok(code) = code.parse::<DossierCode>() else {
        return not_found(&s);
    };
    show(&state, &s, &code, None)
}

fn show(
    state: &AppState,
    s: &CitizenSigned,
    code: &DossierCode,
    msg: Option<(bool, &str)>,
) -> Response {
    match state.app().citizens().dossier(&s.account, code) {
        Ok(d) => dossier_page(s, code, &d, msg),
        Err(e) => failed(s, e),
    }
}

/// The page of a dossier that could not be read: the one 404 page, or the failure in words.
fn failed(s: &CitizenSigned, e: AppError) -> Response {
    match e {
        AppError::NotFound(_) => not_found(s),
        e => {
            let (status, text) = app_failure(e);
            with_status(
                render(s, "Hồ sơ của tôi", layout::message(true, &text)),
                status,
            )
        }
    }
}

/// `POST /cong-dan/ho-so/{code}/{bo-sung|rut}`: the citizen supplements or withdraws their
/// own dossier; then its page. Another citizen's code: the 404 page, nothing written.
pub async fn act(
    State(state): State<AppState>,
    s: CitizenSigned,
    Path((code, what)): Path<(String, String)>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match s.form(form) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Ok(code) = code.parse::<DossierCode>() else {
        return not_found(&s);
    };
    if what == RATE_ACTION {
        return rate(&state, &s, &code, &f).await;
    }
    let (action, body, done) = match what.as_str() {
        "bo-sung" => (
            Action::RecordSupplement,
            ActionBody {
                note: Some(f.get("note").to_owned()),
                ..ActionBody::default()
            },
            "Đã nộp bổ sung. Hồ sơ tiếp tục được xử lý.",
        ),
        "rut" => (
            Action::Withdraw,
            ActionBody {
                reason: Some(f.get("reason").to_owned()).filter(|r| !r.is_empty()),
                ..ActionBody::default()
            },
            "Đã rút hồ sơ.",
        ),
        _ => return not_found(&s),
    };
    let cmd = match command(action, body) {
        Ok(c) => c,
        Err(e) => {
            let (_, text) = app_failure(e);
            return with_status(
                show(&state, &s, &code, Some((true, &text))),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let key = key_of(&f, &format!("citizen-{what}"));
    match state
        .app()
        .citizens()
        .act(&s.account, &code, cmd, key.as_ref())
        .await
    {
        // The page itself, not a redirect: a reload posts again, which the form's key makes
        // the same write.
        Ok(_) => show(&state, &s, &code, Some((false, done))),
        Err(AppError::NotFound(_)) => not_found(&s),
        Err(e) => {
            let (status, text) = app_failure(e);
            with_status(show(&state, &s, &code, Some((true, &text))), status)
        }
    }
}
