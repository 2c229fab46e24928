//! The console's desk and dossier pages against the real server: a receipt through the desk
//! form is the API's (seen through `GET /v1/dossiers/{code}` and the public lookup) and prints
//! slip 01 with its code and secret; forms without their session's CSRF token are refused and
//! write nothing; the planner and the citizen account cannot open the desk; a dossier goes
//! from the desk to approval through the console, each role seeing only its own actions; an
//! applicant named `<script>` stays text; slip 01's QR code is the public lookup's address
//! (under `--public-url`); the public lookup page says a dossier's status in words without
//! sign-in, answers an unknown code and a wrong secret alike, and shares the JSON lookup's
//! rate limit.

mod console_common;
mod http_common;

use console_common::{signed_in, Browser};
use http_common::{commune, TestServer};
use motcua_engine::domain::types::Timestamp;
use serde_json::{json, Value};

const PROCEDURE: &str = "1.001193";

/// Fills and sends the desk form as `b`; the answer.
async fn receive(b: &mut Browser, name: &str) -> console_common::Page {
    let form = b.get(&format!("/desk?procedure={PROCEDURE}")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.hidden("csrf");
    let key = form.hidden("key");
    let doc = form.hidden("doc");
    b.post(
        "/desk",
        &[
            ("csrf", &csrf),
            ("key", &key),
            ("procedure", PROCEDURE),
            ("name", name),
            ("id_number", "006090001234"),
            ("phone", "0912345678"),
            ("address", "thôn Nà Pài, xã Dương Phong"),
            ("doc", &doc),
            ("extra", "Giấy ủy quyền\n"),
            ("channel", "desk"),
        ],
    )
    .await
}

/// The dossier code a slip page shows.
fn code_of(page: &str) -> String {
    let marker = "Mã hồ sơ: <strong>";
    let start = page.find(marker).expect("a code on the slip") + marker.len();
    let end = page[start..].find('<').unwrap() + start;
    page[start..end].to_owned()
}

fn secret_of(page: &str) -> String {
    let marker = "<span class=\"secret\">";
    let start = page.find(marker).expect("a secret on the slip") + marker.len();
    let end = page[start..].find('<').unwrap() + start;
    page[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_receipt_is_the_apis_and_prints_slip_01() {
    let (s, tokens) = commune().await;
    let mut b = signed_in(&s, "tn-01").await;
    let first = b.get("/desk").await;
    assert!(first.body.contains("Khai sinh") || first.body.contains(PROCEDURE));
    let r = receive(&mut b, "Nguyễn Văn An").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Giấy tiếp nhận hồ sơ và hẹn trả kết quả"));
    assert!(r.body.contains("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"));
    assert!(r.body.contains("Hoàng Thị Hoa"), "the receiver by name");
    let code = code_of(&r.body);
    let secret = secret_of(&r.body);
    assert_eq!(secret.len(), 10);

    let api: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &tokens["tn-01"])
        .await;
    assert_eq!(api["code"], code.as_str(), "{api}");
    assert_eq!(api["state_name"], "received", "{api}");
    let lookup = s
        .client
        .get(s.url(&format!("/v1/lookup/{code}?secret={secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 200);

    // Reprinted without the secret; in the queue with its due time.
    let again = b.get(&format!("/dossiers/{code}/slip01")).await;
    assert_eq!(again.status, 200);
    assert_eq!(code_of(&again.body), code);
    assert!(!again.body.contains(&secret));
    let page = b.get(&format!("/dossiers/{code}")).await;
    assert!(page.body.contains("Nguyễn Văn An"), "the applicant");
    let s05 = b.get(&format!("/dossiers/{code}/slips/05")).await;
    assert_eq!(s05.status, 200);
    assert!(s05.body.contains(&code));
    assert_eq!(
        b.get(&format!("/dossiers/{code}/slips/03")).await.status,
        404
    );
    let queue = b.get("/queue").await;
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains(&code));
    assert!(queue.body.contains("Mới tiếp nhận"));
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_their_csrf_token_are_refused_and_write_nothing() {
    let (s, _) = commune().await;
    let mut b = signed_in(&s, "tn-01").await;
    let form = b.get(&format!("/desk?procedure={PROCEDURE}")).await;
    let key = form.hidden("key");
    let head = s.head();
    let fields = |csrf: Option<&'static str>| {
        let mut f = vec![
            ("key", key.clone()),
            ("procedure", PROCEDURE.to_owned()),
            ("name", "Nguyễn Văn An".to_owned()),
            ("id_number", "006090001234".to_owned()),
        ];
        if let Some(c) = csrf {
            f.push(("csrf", c.to_owned()));
        }
        f
    };
    for csrf in [None, Some("0000"), Some("")] {
        let f = fields(csrf);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post("/desk", &f).await;
        assert_eq!(r.status, 403, "{csrf:?}");
        assert!(r.body.contains("mã chống giả mạo"));
    }
    // An action form too.
    let r = receive(&mut b, "Nguyễn Văn An").await;
    let code = code_of(&r.body);
    let head_after_receipt = s.head();
    assert!(head_after_receipt > head);
    let r = b
        .post(
            &format!("/dossiers/{code}"),
            &[("action", "assign"), ("specialist", "cm-tp-01")],
        )
        .await;
    assert_eq!(r.status, 403);
    // A signed-in browser's token does not work for another session.
    let mut other = signed_in(&s, "tn-02").await;
    let theirs = other.csrf().await;
    let r = b
        .post(
            &format!("/dossiers/{code}"),
            &[
                ("csrf", &theirs),
                ("action", "assign"),
                ("specialist", "cm-tp-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(s.head(), head_after_receipt, "nothing written");
    // Without a session at all: refused, not redirected into a write.
    let r = Browser::new(&s)
        .post(&format!("/dossiers/{code}"), &[("action", "assign")])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(s.head(), head_after_receipt);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planner_and_the_citizen_cannot_open_the_desk() {
    let (s, _) = commune().await;
    for id in ["kh-01", "cong-dvc"] {
        let mut b = signed_in(&s, id).await;
        assert_eq!(b.get("/").await.location(), "/home");
        let r = b.get("/desk").await;
        assert_eq!(r.status, 403, "{id}");
        assert!(r.body.contains("không được mở trang này"));
        let csrf = b.csrf().await;
        let head = s.head();
        let r = b
            .post(
                "/desk",
                &[
                    ("csrf", &csrf),
                    ("key", "k1"),
                    ("procedure", PROCEDURE),
                    ("name", "Nguyễn Văn An"),
                    ("id_number", "006090001234"),
                ],
            )
            .await;
        assert_eq!(r.status, 403, "{id}");
        assert_eq!(s.head(), head);
    }
    s.server.shutdown().await.unwrap();
}

async fn act(
    b: &mut Browser,
    code: &str,
    action: &str,
    extra: &[(&str, &str)],
) -> console_common::Page {
    let page = b.get(&format!("/dossiers/{code}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.hidden("csrf");
    let version = page.hidden("version");
    let mut f = vec![
        ("csrf", csrf.as_str()),
        ("action", action),
        ("version", version.as_str()),
    ];
    f.extend_from_slice(extra);
    b.post(&format!("/dossiers/{code}"), &f).await
}

async fn state(s: &TestServer, token: &str, code: &str) -> Value {
    s.get_json(&format!("/v1/dossiers/{code}"), token).await["state_name"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dossier_goes_from_the_desk_to_approval_through_the_console() {
    let (s, tokens) = commune().await;
    let mut desk = signed_in(&s, "tn-01").await;
    let mut specialist = signed_in(&s, "cm-tp-01").await;
    let mut leader = signed_in(&s, "ld-01").await;
    let receipt = receive(&mut desk, "Nguyễn Văn An").await.body;
    let (code, secret) = (code_of(&receipt), secret_of(&receipt));

    let page = desk.get(&format!("/dossiers/{code}")).await;
    assert!(page.body.contains("Phân công xử lý"));
    assert!(page.body.contains("Triệu Văn Dũng"), "specialists by name");
    assert!(!page.body.contains("Ký duyệt"), "not the leader's action");
    let r = act(&mut desk, &code, "assign", &[("specialist", "cm-tp-01")]).await;
    assert_eq!(
        (r.status, r.location()),
        (303, format!("/dossiers/{code}").as_str())
    );
    assert_eq!(state(&s, &tokens["tn-01"], &code).await, "in_processing");

    // The specialist's work list has it; their page offers their actions, not the leader's.
    let work = specialist.get("/worklist").await;
    assert!(work.body.contains(&code));
    let page = specialist.get(&format!("/dossiers/{code}")).await;
    assert!(page.body.contains("Trình ký"));
    assert!(!page.body.contains("Ký duyệt"));
    assert!(
        page.body.contains("Hoàng Thị Hoa"),
        "the timeline names the receiver"
    );
    assert!(page.body.contains("Tiếp nhận hồ sơ"));
    let r = act(
        &mut specialist,
        &code,
        "submit_for_signing",
        &[("draft", "result"), ("note", "Đủ điều kiện")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let inbox = leader.get("/inbox").await;
    assert!(inbox.body.contains(&code), "{}", inbox.body);
    // A stale page: the version it showed is no longer the dossier's.
    let stale = leader.get(&format!("/dossiers/{code}")).await;
    let csrf = stale.hidden("csrf");
    let r = act(&mut leader, &code, "approve", &[("note", "Đồng ý")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(state(&s, &tokens["ld-01"], &code).await, "result_ready");
    let r = leader
        .post(
            &format!("/dossiers/{code}"),
            &[
                ("csrf", &csrf),
                ("action", "send_back"),
                ("version", "3"),
                ("comments", "Xem lại"),
            ],
        )
        .await;
    assert!(r.status == 409 || r.status == 412, "{}", r.status);
    assert!(r.body.contains("class=\"msg error\""));
    assert_eq!(state(&s, &tokens["ld-01"], &code).await, "result_ready");
    let page = leader.get(&format!("/dossiers/{code}")).await;
    assert!(page.body.contains("Đã có kết quả"));
    assert!(page.body.contains("Lương Văn Thành"));
    // Approved, not handed over yet: the citizen's page says the result is ready.
    let ready = Browser::new(&s)
        .get(&format!("/tra-cuu?ma={code}&mk={secret}"))
        .await;
    assert!(ready.body.contains(
        "Đã có kết quả. Mời ông/bà đến bộ phận tiếp nhận để nhận kết quả, mang theo giấy tiếp nhận."
    ));

    // The desk hands the result over; the citizen's lookup says so.
    let r = act(
        &mut desk,
        &code,
        "hand_over",
        &[("note", "Đã giao bản chính")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(state(&s, &tokens["tn-01"], &code).await, "returned");
    let lookup: Value = s
        .client
        .get(s.url(&format!("/v1/lookup/{code}?secret={secret}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lookup["status"], "Đã trả kết quả", "{lookup}");
    // The citizen's page says so too, in the same words.
    let mut citizen = Browser::new(&s);
    let page = citizen
        .get(&format!("/tra-cuu?ma={code}&mk={secret}"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("<dt>Trạng thái</dt><dd><strong class=\"status\">Đã trả kết quả</strong></dd>"));
    assert!(
        !page.body.contains("Đã có kết quả. Mời"),
        "handed over, not waiting"
    );
    let page = desk.get(&format!("/dossiers/{code}")).await;
    assert!(page.body.contains("Đã trả kết quả"));
    assert!(
        page.body.contains("Trả kết quả"),
        "the timeline's last line"
    );
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applicant_named_script_stays_text_on_every_page() {
    let (s, _) = commune().await;
    let mut b = signed_in(&s, "tn-01").await;
    let evil = "<script>alert(1)</script>";
    let r = receive(&mut b, evil).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let code = code_of(&r.body);
    for page in [
        r.body.clone(),
        b.get(&format!("/dossiers/{code}/slip01")).await.body,
        b.get(&format!("/dossiers/{code}")).await.body,
        b.get(&format!("/dossiers/{code}/slips/05")).await.body,
    ] {
        assert!(!page.contains("<script"), "{page}");
    }
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    s.server.shutdown().await.unwrap();
}

/// A dossier received, assigned to cm-tp-01 and submitted for signing, through the API.
async fn awaiting_approval(
    s: &TestServer,
    tokens: &std::collections::HashMap<String, String>,
) -> String {
    let code = s.receive(&tokens["tn-01"], PROCEDURE).await;
    for (who, action, body) in [
        (
            "tn-01",
            "assign",
            serde_json::json!({"specialist": "cm-tp-01"}),
        ),
        (
            "cm-tp-01",
            "submit_for_signing",
            serde_json::json!({"note": "Trình ký"}),
        ),
    ] {
        let r = s
            .post(
                &format!("/v1/dossiers/{code}/actions/{action}"),
                &tokens[who],
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{action}");
    }
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_approves_several_dossiers_at_once_from_the_inbox() {
    let (s, tokens) = commune().await;
    let a = awaiting_approval(&s, &tokens).await;
    let b = awaiting_approval(&s, &tokens).await;
    let c = awaiting_approval(&s, &tokens).await;
    let mut leader = signed_in(&s, "ld-01").await;
    let inbox = leader.get("/inbox").await;
    assert_eq!(inbox.status, 200);
    // Reloaded by the console's script, or without script by a meta refresh.
    assert!(inbox
        .body
        .contains("<noscript><meta http-equiv=\"refresh\" content=\"60\"></noscript>"));
    assert!(inbox
        .body
        .contains("<script src=\"/static/console.js\" defer></script>"));
    for code in [&a, &b, &c] {
        assert!(inbox.body.contains(code.as_str()));
    }
    let csrf = inbox.hidden("csrf");
    // Without the token: nothing approved.
    let r = leader.post("/inbox", &[("code", &a)]).await;
    assert_eq!(r.status, 403);
    // A specialist cannot.
    let mut specialist = signed_in(&s, "cm-tp-01").await;
    let theirs = specialist.csrf().await;
    assert_eq!(
        specialist
            .post("/inbox", &[("csrf", &theirs), ("code", &a)])
            .await
            .status,
        403
    );
    assert_eq!(state(&s, &tokens["ld-01"], &a).await, "awaiting_approval");

    let r = leader
        .post(
            "/inbox",
            &[
                ("csrf", &csrf),
                ("code", &a),
                ("code", &b),
                ("code", "không-phải-mã"),
                ("note", "Đồng ý"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(&format!("Đã ký duyệt hồ sơ {a}.")));
    assert!(r.body.contains(&format!("Đã ký duyệt hồ sơ {b}.")));
    assert!(r.body.contains("Hồ sơ không-phải-mã: Không tìm thấy"));
    assert_eq!(state(&s, &tokens["ld-01"], &a).await, "result_ready");
    assert_eq!(state(&s, &tokens["ld-01"], &b).await, "result_ready");
    assert_eq!(state(&s, &tokens["ld-01"], &c).await, "awaiting_approval");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_guides_to_complete_or_refuses_with_slip_03() {
    let (s, tokens) = commune().await;
    let mut b = signed_in(&s, "tn-01").await;
    let mut outcome = Vec::new();
    for (step, extra, more) in [
        (
            "guide_to_complete",
            ("missing", "Giấy chứng sinh bản chính\n"),
            ("note", ""),
        ),
        (
            "refuse_to_receive",
            ("reason", "Không thuộc thẩm quyền của xã"),
            ("legal_basis", "Luật Hộ tịch 2014"),
        ),
    ] {
        let form = b.get(&format!("/desk?procedure={PROCEDURE}")).await;
        let csrf = form.hidden("csrf");
        let key = form.hidden("key");
        let r = b
            .post(
                "/desk",
                &[
                    ("csrf", &csrf),
                    ("key", &key),
                    ("procedure", PROCEDURE),
                    ("name", "Nguyễn Văn An"),
                    ("id_number", "006090001234"),
                    ("step", step),
                    extra,
                    more,
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.body.contains("class=\"secret\""), "nothing to look up");
        let marker = "Hồ sơ 000.";
        let start = r.body.find(marker).expect("the code") + "Hồ sơ ".len();
        let end = start + r.body[start..].find(' ').unwrap();
        outcome.push((step, r.body[start..end].to_owned(), r.body.clone()));
    }
    let (_, guided, page) = &outcome[0];
    assert!(page.contains("Đã hướng dẫn hoàn thiện hồ sơ"));
    assert_eq!(state(&s, &tokens["tn-01"], guided).await, "not_received");
    let (_, refused, page) = &outcome[1];
    assert!(page.contains("In phiếu từ chối tiếp nhận (mẫu 03)"));
    assert_eq!(state(&s, &tokens["tn-01"], refused).await, "refused");
    let s03 = b.get(&format!("/dossiers/{refused}/slips/03")).await;
    assert_eq!(s03.status, 200);
    assert!(s03.body.contains("Không thuộc thẩm quyền của xã"));
    // A refusal without its reason is refused in words, nothing written.
    let head = s.head();
    let form = b.get(&format!("/desk?procedure={PROCEDURE}")).await;
    let r = b
        .post(
            "/desk",
            &[
                ("csrf", &form.hidden("csrf")),
                ("key", &form.hidden("key")),
                ("procedure", PROCEDURE),
                ("name", "Nguyễn Văn An"),
                ("id_number", "006090001234"),
                ("step", "refuse_to_receive"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Thông tin chưa hợp lệ: lý do."),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("value=\"refuse_to_receive\" checked"),
        "the officer's choice is kept"
    );
    assert_eq!(s.head(), head);
    s.server.shutdown().await.unwrap();
}

/// `HH:mm dd/mm/yyyy` of an API timestamp (milliseconds), as the pages write it.
fn local_time(ms: &Value) -> String {
    let ms = ms.as_i64().unwrap_or_else(|| panic!("no timestamp: {ms}"));
    motcua_engine::domain::calendar::local(motcua_engine::domain::types::Timestamp(ms))
        .format("%H:%M %d/%m/%Y")
        .to_string()
}

/// The `<main>` of a page: what two answers are compared by.
fn main_of(body: &str) -> &str {
    let start = body.find("<main>").expect("a main element");
    let end = body.find("</main>").expect("the end of main");
    &body[start..end]
}

fn header<'a>(p: &'a console_common::Page, name: &str) -> &'a str {
    p.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The value of `data-url` on slip 01's QR code.
fn qr_url_of(page: &str) -> String {
    let marker = "<figure class=\"qr\" data-url=\"";
    let start = page.find(marker).expect("a QR code on the slip") + marker.len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].replace("&amp;", "&")
}

/// The path of the QR code of `url` as the `qrcode` crate draws it (error correction M).
fn qr_path_of(url: &str) -> String {
    let svg = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .unwrap()
        .render::<qrcode::render::svg::Color<'_>>()
        .build();
    let start = svg.find(" d=\"").unwrap() + 4;
    let end = svg[start..].find('"').unwrap() + start;
    svg[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slip_01_carries_a_qr_code_of_the_public_lookup_under_the_public_url() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = http_common::config(&tmp.path().join("data"));
    config.public_url = Some("https://motcua.duongphong.gov.vn".into());
    let (s, _) = http_common::commune_in(config).await;
    let mut b = signed_in(&s, "tn-01").await;
    let r = receive(&mut b, "Nguyễn Văn An").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (code, secret) = (code_of(&r.body), secret_of(&r.body));
    let url = qr_url_of(&r.body);
    assert_eq!(
        url,
        format!("https://motcua.duongphong.gov.vn/tra-cuu?ma={code}&mk={secret}")
    );
    // The SVG drawn is the QR code of exactly that address; no inline style for the CSP to block.
    assert!(r.body.contains(&format!(" d=\"{}\"", qr_path_of(&url))));
    assert!(r
        .body
        .contains("<svg role=\"img\" aria-label=\"Mã QR tra cứu hồ sơ\""));
    let svg = &r.body[r.body.find("<svg").unwrap()..r.body.find("</svg>").unwrap()];
    assert!(!svg.contains("style"), "{svg}");
    // The reprint has no secret, so no QR code either.
    let again = b.get(&format!("/dossiers/{code}/slip01")).await;
    assert!(!again.body.contains("<svg"));
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_lookup_page_says_the_status_in_words_without_sign_in() {
    let (s, _) = commune().await;
    let mut desk = signed_in(&s, "tn-01").await;
    let receipt = receive(&mut desk, "Nguyễn Văn An").await.body;
    let (code, secret) = (code_of(&receipt), secret_of(&receipt));
    // Without --public-url the QR code points to the address the server listens on.
    assert_eq!(
        qr_url_of(&receipt),
        s.url(&format!("/tra-cuu?ma={code}&mk={secret}"))
    );
    let json = |secret: String| {
        let (s, code) = (&s, code.clone());
        async move {
            let r = s
                .client
                .get(s.url(&format!("/v1/lookup/{code}?secret={secret}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let api = json(secret.clone()).await;

    let mut citizen = Browser::new(&s);
    let form = citizen.get("/tra-cuu").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("<label for=\"ma\">Mã hồ sơ</label>"));
    assert!(form
        .body
        .contains("<label for=\"mk\">Mã tra cứu (in trên giấy tiếp nhận)</label>"));
    assert!(form
        .body
        .contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));

    // The QR code's address: the status in words, receipt and due times; nothing personal.
    let page = citizen
        .get(&format!("/tra-cuu?ma={code}&mk={secret}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    for p in [&form, &page] {
        assert_eq!(header(p, "cache-control"), "no-store");
        assert_eq!(header(p, "referrer-policy"), "no-referrer");
        assert_eq!(
            header(p, "content-security-policy"),
            motcua_http::console::CSP
        );
    }
    assert!(page.body.contains("<h2 id=\"ket-qua\">Hồ sơ "));
    assert!(
        page.body.contains(
            "<dt>Trạng thái</dt><dd><strong class=\"status\">Được tiếp nhận</strong></dd>"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!(
        "<dt>Ngày tiếp nhận</dt><dd>{}</dd>",
        local_time(&api["received_at"])
    )));
    assert!(page.body.contains(&format!(
        "<dt>Ngày hẹn trả kết quả</dt><dd>{}</dd>",
        local_time(&api["due"])
    )));
    assert!(!page.body.contains("Nguyễn Văn An"), "no personal data");
    assert!(
        !page.body.contains(&secret),
        "the secret is not written back"
    );
    assert!(!page.body.contains("Hẹn lại ngày trả kết quả"));

    // The form posted, the secret typed in lower case with a space: the same answer.
    let typed = format!("{} {}", &secret[..5], &secret[5..]).to_lowercase();
    let posted = citizen
        .post("/tra-cuu", &[("ma", &code), ("mk", &typed)])
        .await;
    assert_eq!(posted.status, 200);
    assert_eq!(main_of(&posted.body), main_of(&page.body));

    // A wrong secret and an unknown code: the same 404 page (only the code typed differs).
    let other = format!("{}9998", &code[..code.len() - 4]);
    let wrong = citizen
        .get(&format!("/tra-cuu?ma={code}&mk=AAAAAAAAAA"))
        .await;
    let unknown = citizen
        .get(&format!("/tra-cuu?ma={other}&mk={secret}"))
        .await;
    assert_eq!((wrong.status, unknown.status), (404, 404));
    assert!(wrong
        .body
        .contains("Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu này."));
    assert_eq!(
        wrong.body.replace(&code, "CODE"),
        unknown.body.replace(&other, "CODE")
    );
    assert!(!wrong.body.contains("AAAAAAAAAA"));
    let empty = citizen.get(&format!("/tra-cuu?ma={code}&mk=")).await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("Hãy nhập cả mã hồ sơ và mã tra cứu"));

    // A supplement request: what it asks for and why.
    let r = act(&mut desk, &code, "assign", &[("specialist", "cm-tp-01")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut specialist = signed_in(&s, "cm-tp-01").await;
    let r = act(
        &mut specialist,
        &code,
        "request_supplement",
        &[
            ("items", "Bản sao Giấy chứng sinh có chứng thực\nSổ hộ khẩu"),
            ("reason", "Bản sao chưa được chứng thực"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = citizen
        .get(&format!("/tra-cuu?ma={code}&mk={secret}"))
        .await;
    assert!(
        page.body
            .contains("<strong class=\"status\">Yêu cầu bổ sung giấy tờ</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<h3>Cần bổ sung hồ sơ</h3>"));
    assert!(page
        .body
        .contains("<li>Bản sao Giấy chứng sinh có chứng thực</li><li>Sổ hộ khẩu</li>"));
    assert!(page
        .body
        .contains("<p>Lý do: Bản sao chưa được chứng thực</p>"));
    let api = json(secret.clone()).await;
    assert_eq!(
        api["supplement"]["items"],
        json!(["Bản sao Giấy chứng sinh có chứng thực", "Sổ hộ khẩu"])
    );

    // An apology (in the last office day before the due time): the new appointment.
    let due = api["due"].as_i64().unwrap();
    let later = Timestamp(due + 30 * 24 * 3600 * 1000);
    console_common::apologise_at(&s, &code, "cm-tp-01", Timestamp(due - 60_000), later).await;
    let page = citizen
        .get(&format!("/tra-cuu?ma={code}&mk={secret}"))
        .await;
    assert!(
        page.body.contains(&format!(
            "<dt>Hẹn lại ngày trả kết quả</dt><dd><strong>{}</strong></dd>",
            local_time(&json!(later.0))
        )),
        "{}",
        page.body
    );
    let api = json(secret.clone()).await;
    assert_eq!(api["new_appointment"], later.0);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_page_shares_the_json_lookups_rate_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = http_common::config(&tmp.path().join("data"));
    config.lookup_burst = 2;
    config.lookup_per_second = 0.001;
    let (s, _) = http_common::commune_in(config).await;
    let mut citizen = Browser::new(&s);
    let json = s
        .client
        .get(s.url("/v1/lookup/000.33.22.H05-230101-0001?secret=ABCDEFGHJK"))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 404);
    let page = citizen
        .get("/tra-cuu?ma=000.33.22.H05-230101-0001&mk=ABCDEFGHJK")
        .await;
    assert_eq!(page.status, 404);
    // The bare form is no lookup: it spends nothing.
    assert_eq!(citizen.get("/tra-cuu").await.status, 200);
    let limited = citizen
        .post(
            "/tra-cuu",
            &[("ma", "000.33.22.H05-230101-0001"), ("mk", "ABCDEFGHJK")],
        )
        .await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited
        .body
        .contains("Bạn đã tra cứu quá nhiều lần. Hãy thử lại sau"));
    assert!(!header(&limited, "retry-after").is_empty());
    let json = s
        .client
        .get(s.url("/v1/lookup/000.33.22.H05-230101-0001?secret=ABCDEFGHJK"))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 429);
    s.server.shutdown().await.unwrap();
}

/// The desk finds a procedure by typing part of its name (no diacritics needed) or its code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_filters_procedures_by_part_of_a_name_or_code() {
    let (s, _) = commune().await;
    let mut b = signed_in(&s, "tn-01").await;
    let options = |body: &str| -> Vec<String> {
        body.split("<option value=\"")
            .skip(1)
            .filter_map(|o| o.split('"').next().map(str::to_owned))
            .filter(|v| !v.is_empty() && v.contains('.'))
            .collect()
    };
    let all = options(&b.get("/desk").await.body);
    let page = b.get("/desk?tim=KHAI+SINH").await;
    let some = options(&page.body);
    assert!(
        !some.is_empty() && some.len() < all.len(),
        "{some:?} of {all:?}"
    );
    assert!(some.contains(&PROCEDURE.to_owned()), "{some:?}");
    let page = b.get(&format!("/desk?tim={PROCEDURE}")).await;
    assert_eq!(options(&page.body), [PROCEDURE]);
    assert!(
        page.body
            .contains(&format!("<option value=\"{PROCEDURE}\" selected>")),
        "{}",
        page.body
    );
    let page = b.get("/desk?tim=zzzz").await;
    assert!(options(&page.body).is_empty());
    assert!(page.body.contains("Không có thủ tục nào khớp"));
}
