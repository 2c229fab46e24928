//! The desk (Tiếp nhận hồ sơ): pick a procedure from the catalog published at the desk, fill
//! in the applicant and tick the documents handed in, receive; then slip 01 (Giấy tiếp nhận
//! hồ sơ và hẹn trả kết quả) is shown printable on A4 with the lookup secret, shown once, and
//! a QR code of the public lookup's address for it (`--public-url`). The
//! same form guides the applicant to complete the dossier (what is missing) or refuses it
//! (the reason; slip 03), the desk's other two first steps.
//!
//! The receipt is the API's own: the form becomes the API's `NewDossier`, parsed by
//! `routes::dossiers::arrival`, and recorded by `app.dossiers().create` (as `POST
//! /v1/dossiers`). The form carries an idempotency key made when it was shown, so a double
//! click or a resend records one dossier and shows the same secret.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup, PreEscaped};
use motcua_engine::domain::calendar::local_date;
use motcua_engine::domain::slips::Slip01;
use motcua_engine::domain::types::{Channel, Role, UnitCode};
use motcua_engine::domain::Action;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde::Deserialize;

use crate::app::desk::DeskProcedure;
use crate::app::idempotency::IdempotencyKey;
use crate::app::AppError;
use crate::console::layout::{self, datetime_vi};
use crate::console::lookup::lookup_url;
use crate::console::{app_failure, forbidden, render, signed_form_of, Fields, Signed};
use crate::crypto::random_bytes;
use crate::routes::dossiers::{arrival, ApplicantJson, NewDossier};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct DeskQuery {
    /// The procedure picked in the first step.
    pub procedure: Option<String>,
    /// Part of a procedure's name (diacritics optional) or code, narrowing the list.
    pub tim: Option<String>,
}

fn procedure_picker(procs: &[DeskProcedure], chosen: Option<&str>, filter: &str) -> Markup {
    let shown: Vec<&DeskProcedure> = procs.iter().filter(|p| p.matches(filter)).collect();
    // One match is as good as picked; the officer still confirms it.
    let chosen = chosen.or(match shown.as_slice() {
        [only] if !filter.trim().is_empty() => Some(only.id.as_str()),
        _ => None,
    });
    html! {
        form method="get" action="/desk" class="search" {
            div {
                label for="tim" { "Tìm thủ tục theo tên hoặc mã (không cần gõ dấu)" }
                input id="tim" name="tim" type="search" value=(filter) maxlength="100";
            }
            div { button.secondary type="submit" { "Lọc" } }
        }
        @if shown.is_empty() {
            (layout::message(true, "Không có thủ tục nào khớp; hãy thử một phần khác của tên hoặc mã."))
        }
        form method="get" action="/desk" {
            label for="procedure" { "Thủ tục hành chính" }
            select id="procedure" name="procedure" required autofocus[chosen.is_none()] {
                option value="" { "— Chọn thủ tục —" }
                @for p in &shown {
                    option value=(p.id) selected[chosen == Some(p.id.as_str())] {
                        (p.name) " (" (p.id) ")"
                    }
                }
            }
            div { button.secondary type="submit" { "Chọn thủ tục" } }
        }
    }
}

/// What the form held, to show it again after a refusal.
#[derive(Debug, Default)]
struct Entered {
    name: String,
    id_number: String,
    phone: String,
    address: String,
    channel: String,
    documents: Vec<String>,
    extra: String,
    step: String,
    missing: String,
    reason: String,
    legal_basis: String,
}

fn desk_page(
    state: &AppState,
    s: &Signed,
    (chosen, filter): (Option<&str>, &str),
    entered: &Entered,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let procs = match state.app().desk().procedures(&s.caller) {
        Ok(p) => p,
        Err(e) => {
            let (status, text) = app_failure(e);
            let mut res = render(state, s, "Tiếp nhận hồ sơ", layout::message(true, &text));
            *res.status_mut() = status;
            return res;
        }
    };
    let picked = chosen.and_then(|c| procs.iter().find(|p| p.id == c));
    let key = hex::encode(&random_bytes()[..16]);
    let fresh = entered.name.is_empty() && entered.documents.is_empty();
    let body = html! {
        h1 { "Tiếp nhận hồ sơ" }
        @if let Some(e) = error { (layout::message(true, e)) }
        (procedure_picker(&procs, chosen, filter))
        @if let Some(p) = picked {
            form method="post" action="/desk" {
                (layout::csrf_field(&s.csrf))
                input type="hidden" name="key" value=(key);
                input type="hidden" name="procedure" value=(p.id);
                h2 { (p.name) }
                fieldset {
                    legend { "Người nộp" }
                    label for="name" { "Họ và tên" }
                    input type="text" id="name" name="name" value=(entered.name) required autofocus maxlength="200";
                    label for="id_number" { "Số CCCD/định danh cá nhân" }
                    input type="text" id="id_number" name="id_number" value=(entered.id_number) required inputmode="numeric" maxlength="20";
                    label for="phone" { "Số điện thoại" }
                    input type="text" id="phone" name="phone" value=(entered.phone) inputmode="tel" maxlength="20";
                    label for="address" { "Địa chỉ" }
                    input type="text" id="address" name="address" value=(entered.address) maxlength="500";
                }
                fieldset.checklist {
                    legend { "Thành phần hồ sơ" }
                    @for (i, (doc, originals, copies)) in p.documents.iter().enumerate() {
                        @let id = format!("doc{i}");
                        label for=(id) {
                            input type="checkbox" id=(id) name="doc" value=(doc)
                                checked[fresh || entered.documents.contains(doc)];
                            span { (doc) " — " (originals) " bản chính, " (copies) " bản sao" }
                        }
                    }
                    label for="extra" { "Giấy tờ khác (mỗi dòng một giấy tờ)" }
                    textarea id="extra" name="extra" { (entered.extra) }
                }
                label for="channel" { "Hình thức nộp" }
                select id="channel" name="channel" {
                    option value="desk" selected[entered.channel != "postal"] { "Trực tiếp tại bộ phận tiếp nhận" }
                    option value="postal" selected[entered.channel == "postal"] { "Qua dịch vụ bưu chính" }
                }
                fieldset {
                    legend { "Kết quả tại bàn tiếp nhận" }
                    label for="step-receive" {
                        input type="radio" id="step-receive" name="step" value="receive"
                            checked[entered.step != "guide_to_complete" && entered.step != "refuse_to_receive"];
                        " Tiếp nhận (in giấy tiếp nhận và hẹn trả kết quả)"
                    }
                    label for="step-guide" {
                        input type="radio" id="step-guide" name="step" value="guide_to_complete"
                            checked[entered.step == "guide_to_complete"];
                        " Hướng dẫn hoàn thiện (hồ sơ chưa đủ, chưa tiếp nhận)"
                    }
                    label for="missing" { "Giấy tờ còn thiếu (mỗi dòng một giấy tờ)" }
                    textarea id="missing" name="missing" { (entered.missing) }
                    label for="step-refuse" {
                        input type="radio" id="step-refuse" name="step" value="refuse_to_receive"
                            checked[entered.step == "refuse_to_receive"];
                        " Từ chối tiếp nhận (in phiếu từ chối, mẫu 03)"
                    }
                    label for="reason" { "Lý do từ chối" }
                    textarea id="reason" name="reason" { (entered.reason) }
                    label for="legal_basis" { "Căn cứ pháp lý" }
                    input type="text" id="legal_basis" name="legal_basis" value=(entered.legal_basis) maxlength="500";
                }
                div { button type="submit" { "Ghi nhận và in phiếu" } }
            }
        }
        p { a href="/queue" { "Xem hàng chờ theo lĩnh vực" } }
    };
    let mut res = render(state, s, "Tiếp nhận hồ sơ", body);
    *res.status_mut() = status;
    res
}

/// `GET /desk`: step one, the procedure; step two (`?procedure=`), the applicant and the
/// documents.
pub async fn form(
    State(state): State<AppState>,
    s: Signed,
    Query(q): Query<DeskQuery>,
) -> Response {
    if !s.caller.has(Role::Reception) {
        return forbidden(&state, &s);
    }
    let chosen = q.procedure.as_deref().filter(|p| !p.is_empty());
    desk_page(
        &state,
        &s,
        (chosen, q.tim.as_deref().unwrap_or("")),
        &Entered::default(),
        None,
        StatusCode::OK,
    )
}

/// `POST /desk`: receives the dossier and shows slip 01 with the lookup secret.
pub async fn receive(
    State(state): State<AppState>,
    s: Signed,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let f = match signed_form_of(&state, &s, form, Role::Reception) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let entered = entered(&f);
    let procedure = f.get("procedure").to_owned();
    let refuse = |text: &str, status: StatusCode| {
        desk_page(
            &state,
            &s,
            (Some(&procedure), ""),
            &entered,
            Some(text),
            status,
        )
    };
    if let Err(e) = state.check_writable() {
        let (status, text) = app_failure(e);
        return refuse(&text, status);
    }
    let channel = if entered.channel == "postal" {
        Channel::Postal
    } else {
        Channel::Desk
    };
    let mut documents = entered.documents.clone();
    documents.extend(f.lines("extra"));
    let body = NewDossier {
        procedure: procedure.clone(),
        unit: None,
        channel: None,
        applicant: ApplicantJson {
            name: entered.name.clone(),
            id_number: entered.id_number.clone(),
            phone: entered.phone.clone(),
            address: entered.address.clone(),
        },
        documents,
        action: None,
        missing: f.lines("missing"),
        note: None,
        reason: Some(f.get("reason").to_owned()).filter(|r| !r.is_empty()),
        legal_basis: Some(f.get("legal_basis").to_owned()).filter(|r| !r.is_empty()),
    };
    let step = match f.get("step") {
        "guide_to_complete" => Action::GuideToComplete,
        "refuse_to_receive" => Action::RefuseToReceive,
        _ => Action::Receive,
    };
    let arrival = match arrival(&s.caller, body, channel, step) {
        Ok(a) => a,
        Err(e) => {
            let (status, text) = app_failure(e);
            return refuse(&text, status);
        }
    };
    let key = match IdempotencyKey::parse(&format!("console-{}", f.get("key"))) {
        Ok(k) => k,
        Err(e) => {
            let (status, text) = app_failure(e);
            return refuse(&text, status);
        }
    };
    let receipt = match state
        .app()
        .dossiers()
        .create(&s.caller, arrival, Some(&key))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let (status, text) = app_failure(e);
            return refuse(&text, status);
        }
    };
    let code = receipt.outcome.code;
    if step != Action::Receive {
        // Not received: no appointment and no secret to print; the desk hands over the
        // guidance or the refusal (slip 03).
        let (text, slip_link) = if step == Action::RefuseToReceive {
            (
                format!("Đã từ chối tiếp nhận hồ sơ {code}."),
                Some(("03", "In phiếu từ chối tiếp nhận (mẫu 03)")),
            )
        } else {
            (
                format!("Đã hướng dẫn hoàn thiện hồ sơ {code} (chưa tiếp nhận)."),
                None,
            )
        };
        let body = html! {
            (layout::message(false, &text))
            p {
                @if let Some((n, words)) = slip_link {
                    a href=(format!("/dossiers/{code}/slips/{n}")) { (words) } " · "
                }
                a href=(format!("/dossiers/{code}")) { "Xem hồ sơ" } " · "
                a href="/desk" { "Tiếp nhận hồ sơ khác" }
            }
        };
        return render(&state, &s, &format!("Hồ sơ {code}"), body);
    }
    let slip = state
        .app()
        .views()
        .slips(&s.caller, &code)
        .ok()
        .and_then(|x| x.s01);
    let body = html! {
        div.noprint {
            (layout::message(false, &format!("Đã tiếp nhận hồ sơ {code}. Hãy in giấy tiếp nhận (Ctrl+P) và giao cho người nộp.")))
        }
        @match &slip {
            Some(x) => {
                (slip01_markup(&state, x, Some(&receipt.lookup_secret)))
            }
            None => {
                p { "Mã hồ sơ: " strong { (code) } " · Mã tra cứu: " span.secret { (receipt.lookup_secret) } }
            }
        }
        p.noprint {
            a href="/desk" { "Tiếp nhận hồ sơ khác" } " · "
            a href=(format!("/dossiers/{code}")) { "Xem hồ sơ" }
        }
    };
    render(&state, &s, &format!("Giấy tiếp nhận {code}"), body)
}

fn entered(f: &Fields) -> Entered {
    Entered {
        name: f.get("name").to_owned(),
        id_number: f.get("id_number").to_owned(),
        phone: f.get("phone").to_owned(),
        address: f.get("address").to_owned(),
        channel: f.get("channel").to_owned(),
        documents: f.all("doc"),
        extra: f.get("extra").to_owned(),
        step: f.get("step").to_owned(),
        missing: f.get("missing").to_owned(),
        reason: f.get("reason").to_owned(),
        legal_basis: f.get("legal_basis").to_owned(),
    }
}

/// Slip 01 (TT 01/2018/TT-VPCP, mẫu 01) for A4: the state header, the issuing unit (with the
/// desk's name in force on the day of receipt: a 2023 receipt reprinted today was issued by the
/// "Bộ phận Một cửa"), the receipt, the appointment, the names of the staff involved, and the
/// lookup secret when it is shown for the first and only time.
fn slip01_markup(state: &AppState, x: &Slip01, secret: Option<&str>) -> Markup {
    let desk = state.app().desk();
    let unit_code: Option<UnitCode> = x.unit.parse().ok();
    let unit_name = unit_code
        .as_ref()
        .map(|u| desk.unit_name(u))
        .unwrap_or_else(|| x.unit.clone());
    let received_by = desk
        .staff(&x.received_by)
        .map(|st| st.name)
        .unwrap_or_else(|| x.received_by.clone());
    let channel = match x.channel {
        Channel::Desk => "Trực tiếp",
        Channel::Postal => "Qua dịch vụ bưu chính",
        Channel::Online => "Trực tuyến",
    };
    html! {
        article.slip {
            div.issuer {
                div { (unit_name) br; strong { (layout::desk_name(local_date(x.received_at))) } }
                div.state { "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" span { "Độc lập - Tự do - Hạnh phúc" } }
            }
            h1 { "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" }
            p { "Mã hồ sơ: " strong { (x.code) } }
            table {
                tr { th { "Thủ tục" } td { (x.procedure_name) " (" (x.procedure_id) ")" } }
                tr { th { "Người nộp" } td { (x.applicant.name) } }
                tr { th { "Số CCCD/định danh cá nhân" } td { (x.applicant.id_number) } }
                tr { th { "Số điện thoại" } td { (x.applicant.phone) } }
                tr { th { "Địa chỉ" } td { (x.applicant.address) } }
                tr { th { "Thành phần hồ sơ" } td { ul { @for d in &x.documents { li { (d) } } } } }
                tr { th { "Hình thức nộp" } td { (channel) } }
                tr { th { "Ngày tiếp nhận" } td { (datetime_vi(x.received_at)) } }
                tr { th { "Ngày hẹn trả kết quả" } td { strong { (datetime_vi(x.due)) } } }
                tr { th { "Phí, lệ phí" } td { (layout::money_vi(x.fees_vnd)) } }
                tr { th { "Người tiếp nhận" } td { (received_by) } }
            }
            @if let Some(secret) = secret {
                p { "Mã tra cứu hồ sơ (giữ kín, chỉ in một lần): " span.secret { (secret) } }
                @let url = lookup_url(state.config().public_base(), &x.code, secret);
                @if let Some(svg) = qr_svg(&url) {
                    figure.qr data-url=(url) {
                        (PreEscaped(svg))
                        figcaption { "Quét mã QR để tra cứu hồ sơ: " span.url { (url) } }
                    }
                }
                p.muted { "Tra cứu tình trạng hồ sơ bằng mã hồ sơ và mã tra cứu tại bộ phận tiếp nhận hoặc trên trang tra cứu của xã." }
            }
        }
    }
}

/// The QR code of `url` as inline SVG (the `qrcode` crate's rendering, error correction M,
/// its default quiet zone), or `None` if the address is too long for a QR code (it never is:
/// a public base, a code and a secret). The XML prolog is dropped (inside HTML it would be a
/// bogus comment) and the image named for screen readers. The SVG sets colours through
/// presentation attributes (`fill`), not `style`, so the Content-Security-Policy's
/// `style-src 'self'` lets it draw; its size on paper comes from the style sheet (`.qr svg`).
pub fn qr_svg(url: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()?;
    let svg = code.render::<svg::Color<'_>>().build();
    let start = svg.find("<svg ")?;
    Some(svg[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"Mã QR tra cứu hồ sơ\" ",
        1,
    ))
}

/// `GET /dossiers/{code}/slip01`: slip 01 again, without the secret (shown once at receipt).
pub async fn slip01_page(state: &AppState, s: &Signed, code: &str) -> Response {
    let failed = |status: StatusCode, text: &str| {
        let mut res = render(state, s, "Giấy tiếp nhận", layout::message(true, text));
        *res.status_mut() = status;
        res
    };
    let Ok(code) = crate::routes::parse::code(code) else {
        return failed(StatusCode::NOT_FOUND, "Không tìm thấy hồ sơ.");
    };
    match state.app().views().slips(&s.caller, &code) {
        Ok(all) => match all.s01 {
            Some(x) => {
                let body = html! {
                    (slip01_markup(state, &x, None))
                    p.noprint.muted { "Mã tra cứu chỉ in một lần khi tiếp nhận; bản in lại không có mã." }
                };
                render(state, s, "Giấy tiếp nhận", body)
            }
            None => failed(StatusCode::NOT_FOUND, "Hồ sơ này không có giấy tiếp nhận."),
        },
        Err(AppError::Forbidden(_)) => forbidden(state, s),
        Err(e) => {
            let (status, text) = app_failure(e);
            failed(status, &text)
        }
    }
}

/// `GET /dossiers/{code}/slip01`.
pub async fn slip01(
    State(state): State<AppState>,
    s: Signed,
    Path(code): Path<String>,
) -> Response {
    if !crate::routes::roles::DOSSIER_READERS
        .iter()
        .any(|r| s.caller.has(*r))
    {
        return forbidden(&state, &s);
    }
    slip01_page(&state, &s, &code).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_qr_code_is_inline_svg_without_prolog_or_style() {
        let svg = super::qr_svg("http://127.0.0.1:8080/tra-cuu?ma=X&mk=Y").unwrap_or_default();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"Mã QR tra cứu hồ sơ\" "));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("style"));
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn money_has_dots_for_thousands() {
        assert_eq!(crate::console::layout::money_vi(0), "0 đ");
        assert_eq!(crate::console::layout::money_vi(50_000), "50.000 đ");
        assert_eq!(crate::console::layout::money_vi(1_234_567), "1.234.567 đ");
    }
}
