//! Citizens' portal accounts against a real server on loopback: two citizens sign up (a phone
//! number, an e-mail address); A submits online from the catalog (the code and the secret shown
//! once; the log records `citizen:<account>`, never the phone), the desk receives it, a
//! specialist asks for a supplement, A reads what is asked and supplements online (the domain's
//! secret proof lets it through), the dossier goes to hand-over and A's pages say so in words;
//! B gets the same 404 for A's dossier as for an unknown code and B's posts on it write nothing;
//! A withdraws a second dossier; after a restart A signs in again and still owns the dossier;
//! sign-up refusals in Vietnamese store nothing; citizen and staff sessions never open each
//! other's pages.

mod console_common;
mod http_common;

use console_common::{signed_in, Browser, Page};
use http_common::{commune, TestServer};
use serde_json::{json, Value};

const PASSWORD: &str = "mật khẩu công dân 2026";
const PROCEDURE: &str = "1.004873";

/// The text between `start` and the next `end` in `body`.
fn between<'b>(body: &'b str, start: &str, end: &str) -> &'b str {
    let i = body
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {body}"))
        + start.len();
    let j = body[i..].find(end).unwrap() + i;
    &body[i..j]
}

/// A page without its session's CSRF token (to compare two pages of different sessions).
fn without_csrf(p: &Page) -> String {
    p.body.replace(&p.hidden("csrf"), "")
}

fn citizen_entries(s: &TestServer) -> usize {
    let tree = s.server.log().store().tree("http.citizens").unwrap();
    tree.count().unwrap()
}

async fn sign_up(b: &mut Browser, login: &str, password: &str, confirm: &str) -> Page {
    let form = b.get("/cong-dan/dang-ky").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.hidden("csrf");
    b.post(
        "/cong-dan/dang-ky",
        &[
            ("csrf", &csrf),
            ("login", login),
            ("password", password),
            ("confirm", confirm),
        ],
    )
    .await
}

async fn citizen(s: &TestServer, login: &str) -> Browser {
    let mut b = Browser::new(s);
    let r = sign_up(&mut b, login, PASSWORD, PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/cong-dan");
    assert!(b.cookies.contains_key("motcua_citizen"));
    b
}

/// Submits procedure `procedure` online from the catalog's link; the answer page.
async fn submit(b: &mut Browser, procedure: &str) -> Page {
    let catalog = b.get("/thu-tuc").await;
    let link = format!("/cong-dan/nop/{procedure}?don-vi=000.33.22.H05");
    assert!(
        catalog
            .body
            .contains(&format!("href=\"{link}\">Nộp trực tuyến")),
        "{}",
        catalog.body
    );
    let form = b.get(&link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("<label for=\"name\">"));
    let fields = [
        ("csrf", form.hidden("csrf")),
        ("key", form.hidden("key")),
        ("unit", form.hidden("unit")),
        ("name", "Trần Thị Lan".to_owned()),
        ("id_number", "006190004321".to_owned()),
        ("phone", "0987654321".to_owned()),
        ("address", "thôn Nà Pài, xã Dương Phong".to_owned()),
        (
            "documents",
            "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân".to_owned(),
        ),
    ];
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(&format!("/cong-dan/nop/{procedure}"), &form).await
}

async fn api(s: &TestServer, token: &str, code: &str, action: &str, body: Value) {
    let r = s
        .post(&format!("/v1/dossiers/{code}/actions/{action}"), token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, 200, "{action}: {}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_submits_supplements_and_gets_the_result_and_nobody_else_sees_it() {
    let (s, t) = commune().await;
    let mut a = citizen(&s, "091 234 5678").await;
    let mut b = citizen(&s, "Binh.Tran@Example.VN").await;

    // Bad input: the page says what is wrong, in Vietnamese, and nothing is written.
    let before = s.head();
    let nowhere = a.get("/cong-dan/nop/9.999999").await;
    assert_eq!(nowhere.status, 404);
    assert!(nowhere.body.contains("không nhận hồ sơ trực tuyến"));
    let form = a.get(&format!("/cong-dan/nop/{PROCEDURE}")).await;
    let bad = a
        .post(
            &format!("/cong-dan/nop/{PROCEDURE}"),
            &[
                ("csrf", &form.hidden("csrf")),
                ("key", &form.hidden("key")),
                ("name", ""),
                ("id_number", "006190004321"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("Thông tin chưa hợp lệ: họ tên người nộp"),
        "{}",
        bad.body
    );
    assert_eq!(s.head(), before);

    // A submits online: the code and the secret, shown once.
    let page = submit(&mut a, PROCEDURE).await;
    assert_eq!(page.status, 201, "{}", page.body);
    let code = between(&page.body, "<dt>Mã hồ sơ</dt><dd><strong>", "<").to_owned();
    let secret = between(&page.body, "<span class=\"secret\">", "<").to_owned();
    assert!(code.starts_with("000.33.22.H05-"), "{code}");
    assert_eq!(secret.len(), 10);
    assert_eq!(s.head(), before + 1, "one submission, one event");
    // The public lookup knows it by that secret.
    let lookup = a.get(&format!("/tra-cuu?ma={code}&mk={secret}")).await;
    assert_eq!(lookup.status, 200, "{}", lookup.body);
    assert!(lookup.body.contains("Mới đăng ký"));

    // The log records the account, never the phone number.
    let view: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    let actor = view["history"][0]["actor"].as_str().unwrap().to_owned();
    assert!(
        actor.starts_with("citizen:cd-") && actor.len() == 27,
        "{actor}"
    );
    assert_eq!(view["history"][0]["role"], "citizen");
    assert_eq!(view["channel"], "Online", "{view}");
    let archive = s.client.get(s.url("/v1/export")).bearer_auth(&t["qt-01"]);
    let bytes = archive.send().await.unwrap().bytes().await.unwrap();
    let needle = b"0912345678";
    assert!(!bytes.windows(needle.len()).any(|w| w == needle));

    // A's list shows it in words.
    let list = a.get("/cong-dan").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains(&code) && list.body.contains("Mới đăng ký"));
    assert!(list.body.contains("Cấp Giấy xác nhận tình trạng hôn nhân"));

    // The desk receives it; the specialist asks for a supplement.
    api(&s, &t["tn-01"], &code, "receive", json!({})).await;
    api(
        &s,
        &t["tn-01"],
        &code,
        "assign",
        json!({"specialist": "cm-tp-01"}),
    )
    .await;
    api(
        &s,
        &t["cm-tp-01"],
        &code,
        "request_supplement",
        json!({"items": ["Bản sao CCCD có chứng thực"], "reason": "Thiếu giấy tờ tùy thân"}),
    )
    .await;
    let mine = a.get(&format!("/cong-dan/ho-so/{code}")).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(mine.body.contains("Yêu cầu bổ sung giấy tờ"));
    assert!(mine.body.contains("Bản sao CCCD có chứng thực"));
    assert!(mine.body.contains("Thiếu giấy tờ tùy thân"));
    assert!(mine.body.contains("<h2 id=\"bo-sung\">Nộp bổ sung</h2>"));
    assert!(mine.body.contains("<h2 id=\"rut\">Rút hồ sơ</h2>"));
    assert!(mine.body.contains("<label for=\"supplement-note\">"));

    // B: A's dossier answers exactly as an unknown code, and B's posts write nothing.
    let other = b.get(&format!("/cong-dan/ho-so/{code}")).await;
    let unknown = b.get("/cong-dan/ho-so/000.33.22.H05-990101-9999").await;
    assert_eq!(other.status, 404);
    assert_eq!(unknown.status, 404);
    assert_eq!(without_csrf(&other), without_csrf(&unknown));
    assert!(!other.body.contains("Bản sao CCCD"));
    let b_csrf = other.hidden("csrf");
    let head = s.head();
    for (what, field) in [("bo-sung", "note"), ("rut", "reason")] {
        let r = b
            .post(
                &format!("/cong-dan/ho-so/{code}/{what}"),
                &[("csrf", &b_csrf), (field, "của tôi")],
            )
            .await;
        assert_eq!(r.status, 404, "{what}: {}", r.body);
        assert_eq!(without_csrf(&r), without_csrf(&unknown));
    }
    assert_eq!(s.head(), head, "B's posts wrote nothing");
    assert!(!b.get("/cong-dan").await.body.contains(&code));
    // Nor does a post without A's own CSRF token.
    let forged = a
        .post(
            &format!("/cong-dan/ho-so/{code}/bo-sung"),
            &[("csrf", &b_csrf), ("note", "giả mạo")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(s.head(), head);

    // A supplements online: the domain's proof of the secret lets it through.
    let csrf = mine.hidden("csrf");
    let key = mine.hidden("key");
    let form = [
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("note", "Đã tải lên bản sao CCCD có chứng thực"),
    ];
    let done = a
        .post(&format!("/cong-dan/ho-so/{code}/bo-sung"), &form)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Đã nộp bổ sung"));
    assert!(done.body.contains("Đang xử lý"));
    assert!(!done.body.contains("id=\"bo-sung\""));
    assert_eq!(s.head(), head + 1);
    // The same form sent again is the same write.
    let again = a
        .post(&format!("/cong-dan/ho-so/{code}/bo-sung"), &form)
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(s.head(), head + 1, "a resent form is one write");
    let view: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert_eq!(view["state_name"], "in_processing");
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event_type"], "dossier.supplement_received");
    assert_eq!(last["actor"].as_str(), Some(actor.as_str()));
    assert_eq!(last["role"], "citizen");

    // To hand-over; A's pages say so.
    api(
        &s,
        &t["cm-tp-01"],
        &code,
        "submit_for_signing",
        json!({"draft": "result"}),
    )
    .await;
    api(&s, &t["ld-01"], &code, "approve", json!({})).await;
    let ready = a.get(&format!("/cong-dan/ho-so/{code}")).await;
    assert!(ready.body.contains("Đã xử lý xong") && ready.body.contains("Đã có kết quả"));
    api(&s, &t["tn-02"], &code, "hand_over", json!({})).await;
    let returned = a.get(&format!("/cong-dan/ho-so/{code}")).await;
    assert_eq!(returned.status, 200);
    assert!(
        returned.body.contains("Đã trả kết quả"),
        "{}",
        returned.body
    );
    assert!(!returned.body.contains("id=\"rut\""));
    assert!(a.get("/cong-dan").await.body.contains("Đã trả kết quả"));

    // A withdraws a second dossier; a withdrawal needs its reason.
    let second = submit(&mut a, "1.001193").await;
    assert_eq!(second.status, 201, "{}", second.body);
    let code2 = between(&second.body, "<dt>Mã hồ sơ</dt><dd><strong>", "<").to_owned();
    let page2 = a.get(&format!("/cong-dan/ho-so/{code2}")).await;
    assert!(page2.body.contains("<h2 id=\"rut\">Rút hồ sơ</h2>"));
    assert!(!page2.body.contains("id=\"bo-sung\""));
    let head = s.head();
    let csrf = page2.hidden("csrf");
    let empty = a
        .post(
            &format!("/cong-dan/ho-so/{code2}/rut"),
            &[("csrf", csrf.as_str()), ("reason", "  ")],
        )
        .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert!(empty.body.contains("Thông tin chưa hợp lệ: lý do"));
    assert_eq!(s.head(), head);
    let withdrawn = a
        .post(
            &format!("/cong-dan/ho-so/{code2}/rut"),
            &[("csrf", csrf.as_str()), ("reason", "Không còn nhu cầu")],
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.body);
    assert!(withdrawn.body.contains("Đã rút hồ sơ"));
    assert!(withdrawn.body.contains("Công dân yêu cầu rút hồ sơ"));
    assert_eq!(s.head(), head + 1);
    let list = a.get("/cong-dan").await;
    assert!(list.body.contains(&code) && list.body.contains(&code2));

    // Signing out ends the session; signing in again with the number written another way.
    let csrf = list.hidden("csrf");
    let out = a.post("/cong-dan/dang-xuat", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(!a.cookies.contains_key("motcua_citizen"));
    let gone = a.get("/cong-dan").await;
    assert_eq!(gone.location(), "/cong-dan/dang-nhap");
    let form = a.get("/cong-dan/dang-nhap").await;
    let csrf = form.hidden("csrf");
    let wrong = a
        .post(
            "/cong-dan/dang-nhap",
            &[
                ("csrf", &csrf),
                ("login", "0912345678"),
                ("password", "sai mật khẩu rồi"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("không đúng"));
    let form = a.get("/cong-dan/dang-nhap").await;
    let csrf = form.hidden("csrf");
    let back = a
        .post(
            "/cong-dan/dang-nhap",
            &[
                ("csrf", &csrf),
                ("login", "+84 912 345 678"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(a.get("/cong-dan").await.body.contains(&code2));

    // The auditor's sign-in trail names the account, never the phone number.
    let auditor = signed_in(&s, "tt-01").await;
    let mut auditor = auditor;
    let trail = auditor.get("/audit").await;
    assert!(trail.body.contains(&actor), "{}", trail.body);
    assert!(trail.body.contains("Đăng ký tài khoản công dân"));
    assert!(!trail.body.contains("0912345678"));

    // A restart ends the sessions but keeps the account, its dossiers and the server's salt:
    // the secret derived again still proves the dossier.
    let s = s.restart().await;
    let mut a = Browser::new(&s);
    assert_eq!(a.get("/cong-dan").await.location(), "/cong-dan/dang-nhap");
    let form = a.get("/cong-dan/dang-nhap").await;
    let csrf = form.hidden("csrf");
    let back = a
        .post(
            "/cong-dan/dang-nhap",
            &[
                ("csrf", &csrf),
                ("login", "0912345678"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    let after = a.get(&format!("/cong-dan/ho-so/{code}")).await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(after.body.contains("Đã trả kết quả"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_refusals_store_nothing_and_sessions_stay_apart() {
    let (s, _t) = commune().await;
    let _a = citizen(&s, "0912345678").await;
    let stored = citizen_entries(&s);
    let mut c = Browser::new(&s);
    for (login, password, confirm, words) in [
        (
            "0123",
            PASSWORD,
            PASSWORD,
            "Số điện thoại không hợp lệ: hãy nhập số di động 10 chữ số bắt đầu bằng 0",
        ),
        (
            "ten@khong-co-dau-cham",
            PASSWORD,
            PASSWORD,
            "Địa chỉ thư điện tử không hợp lệ",
        ),
        (
            "0987654321",
            "ngắn",
            "ngắn",
            "Mật khẩu phải có ít nhất 10 ký tự.",
        ),
        (
            "0987654321",
            PASSWORD,
            "mật khẩu khác hẳn",
            "Hai lần nhập mật khẩu không khớp nhau.",
        ),
        (
            "+84 912 345 678",
            PASSWORD,
            PASSWORD,
            "Số điện thoại hoặc thư điện tử này đã có tài khoản. Hãy đăng nhập.",
        ),
    ] {
        let r = sign_up(&mut c, login, password, confirm).await;
        assert_eq!(r.status, 422, "{login}: {}", r.body);
        assert!(r.body.contains(words), "{login}: {}", r.body);
        assert!(!c.cookies.contains_key("motcua_citizen"), "{login}");
        assert_eq!(citizen_entries(&s), stored, "{login}: nothing stored");
    }
    // A sign-up form without its double-submit token is refused before anything is read.
    let r = c
        .post(
            "/cong-dan/dang-ky",
            &[
                ("csrf", "x"),
                ("login", "0987654321"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(citizen_entries(&s), stored);

    // A staff session never opens a citizen's page, nor a citizen's session a staff screen.
    let mut staff = signed_in(&s, "tn-01").await;
    let r = staff.get("/cong-dan").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/cong-dan/dang-nhap");
    let mut a = citizen(&s, "0398765432").await;
    for screen in ["/desk", "/queue", "/search", "/password"] {
        let r = a.get(screen).await;
        assert_eq!(r.status, 303, "{screen}");
        assert_eq!(r.location(), "/signin", "{screen}");
    }
    // Nor does a staff session's id sent under the citizen's cookie name, or the reverse.
    let staff_id = staff.cookies["motcua_session"].clone();
    let citizen_id = a.cookies["motcua_citizen"].clone();
    let mut swapped = Browser::new(&s);
    swapped.cookies.insert("motcua_citizen".into(), staff_id);
    swapped.cookies.insert("motcua_session".into(), citizen_id);
    assert_eq!(
        swapped.get("/cong-dan").await.location(),
        "/cong-dan/dang-nhap"
    );
    assert_eq!(swapped.get("/desk").await.location(), "/signin");

    // Signed out, the catalog's "Nộp trực tuyến" leads through sign-up back to the form; the
    // way back names a procedure and a unit only, never another address.
    let mut d = Browser::new(&s);
    let form = "/cong-dan/nop/1.004873?don-vi=000.33.22.H05";
    let r = d.get(form).await;
    assert_eq!(r.status, 303);
    let door = "/cong-dan/dang-nhap?thu-tuc=1.004873&don-vi=000.33.22.H05";
    assert_eq!(r.location(), door);
    let signin = d.get(door).await;
    assert!(signin
        .body
        .contains("href=\"/cong-dan/dang-ky?thu-tuc=1.004873&amp;don-vi=000.33.22.H05\""));
    let signup = d
        .get("/cong-dan/dang-ky?thu-tuc=1.004873&don-vi=000.33.22.H05")
        .await;
    assert_eq!(signup.hidden("thu-tuc"), "1.004873");
    assert_eq!(signup.hidden("don-vi"), "000.33.22.H05");
    let csrf = signup.hidden("csrf");
    let r = d
        .post(
            "/cong-dan/dang-ky",
            &[
                ("csrf", csrf.as_str()),
                ("login", "0356789012"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
                ("thu-tuc", "1.004873"),
                ("don-vi", "000.33.22.H05"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), form);
    assert_eq!(d.get(form).await.status, 200);
    let mut e = Browser::new(&s);
    let signup = e.get("/cong-dan/dang-ky").await;
    let csrf = signup.hidden("csrf");
    let r = e
        .post(
            "/cong-dan/dang-ky",
            &[
                ("csrf", csrf.as_str()),
                ("login", "0356789013"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
                ("thu-tuc", "https://example.com/"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/cong-dan");

    // An identity provider's subject maps to one account, apart per issuer.
    let citizens = s.server.app().citizens();
    let vneid = |sub: &str| motcua_http::app::citizens::ExternalIdentity {
        issuer: "https://vneid.gov.vn".into(),
        subject: sub.into(),
    };
    let first = citizens.account_for_identity(&vneid("sub-1")).unwrap();
    assert!(first.starts_with("cd-"));
    assert_eq!(
        citizens.account_for_identity(&vneid("sub-1")).unwrap(),
        first
    );
    assert_ne!(
        citizens.account_for_identity(&vneid("sub-2")).unwrap(),
        first
    );
    let other_issuer = motcua_http::app::citizens::ExternalIdentity {
        issuer: "https://idp.example.vn".into(),
        subject: "sub-1".into(),
    };
    assert_ne!(citizens.account_for_identity(&other_issuer).unwrap(), first);
    assert!(citizens.account_for_identity(&vneid("")).is_err());
}

/// `motcua-replay` run as a child process: (exit code, stdout, stderr).
async fn replay_tool(args: Vec<String>) -> (i32, String, String) {
    let bin = motcua_tests::workspace_bin("motcua-replay", "motcua-replay");
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(bin)
            .args(&args)
            .output()
            .expect("motcua-replay runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("the process's thread")
}

/// `motcua-replay verify --format json` of `archive`: its (seq, rule) findings.
async fn findings(archive: &std::path::Path) -> Vec<(u64, String)> {
    let (code, out, err) = replay_tool(vec![
        "verify".into(),
        archive.display().to_string(),
        "--format".into(),
        "json".into(),
        "--no-progress".into(),
    ])
    .await;
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let found: Vec<(u64, String)> = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|f| {
            (
                f["seq"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(code == 0, found.is_empty(), "exit {code}: {out}{err}");
    found
}

/// Issue 14: after hand-over the citizen rates their satisfaction, once; the period's
/// statistics count it (API and `/thong-ke`); nobody else rates their dossier; a rating
/// before hand-over is refused; the exported log verifies clean, and a rating forged as a
/// clerk's (re-hashed) is a finding of `motcua-replay verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_hand_over_the_citizen_rates_once_and_the_statistics_count_it() {
    let (s, t) = commune().await;
    let mut a = citizen(&s, "0903 111 222").await;
    let mut b = citizen(&s, "hoa.le@example.vn").await;
    let page = submit(&mut a, PROCEDURE).await;
    assert_eq!(page.status, 201, "{}", page.body);
    let code = between(&page.body, "<dt>Mã hồ sơ</dt><dd><strong>", "<").to_owned();
    let secret = between(&page.body, "<span class=\"secret\">", "<").to_owned();
    let rate_path = format!("/cong-dan/ho-so/{code}/danh-gia");

    // Before hand-over: no form, and a post is refused in words, writing nothing.
    let open = a.get(&format!("/cong-dan/ho-so/{code}")).await;
    assert!(!open.body.contains("id=\"danh-gia\""), "{}", open.body);
    let head = s.head();
    let early = a
        .post(
            &rate_path,
            &[("csrf", &open.hidden("csrf")), ("level", "satisfied")],
        )
        .await;
    assert_eq!(early.status, 422, "{}", early.body);
    assert!(
        early
            .body
            .contains("Chỉ đánh giá được sau khi đã nhận kết quả."),
        "{}",
        early.body
    );
    assert_eq!(s.head(), head);

    for (token, action, body) in [
        ("tn-01", "receive", json!({})),
        ("tn-01", "assign", json!({"specialist": "cm-tp-01"})),
        ("cm-tp-01", "submit_for_signing", json!({"draft": "result"})),
        ("ld-01", "approve", json!({})),
        ("tn-02", "hand_over", json!({})),
    ] {
        api(&s, &t[token], &code, action, body).await;
    }

    // The form: three levels as labelled radio buttons, the CSRF token and a form key.
    let returned = a.get(&format!("/cong-dan/ho-so/{code}")).await;
    assert!(
        returned
            .body
            .contains("<h2 id=\"danh-gia\">Đánh giá mức độ hài lòng</h2>"),
        "{}",
        returned.body
    );
    for (value, label) in [
        ("very_satisfied", "Rất hài lòng"),
        ("satisfied", "Hài lòng"),
        ("dissatisfied", "Không hài lòng"),
    ] {
        assert!(returned.body.contains(&format!(
            "<input type=\"radio\" id=\"level-{value}\" name=\"level\" value=\"{value}\" required>"
        )));
        assert!(returned
            .body
            .contains(&format!("<label for=\"level-{value}\">{label}</label>")));
    }

    // B: A's dossier is the same 404 as an unknown code, and nothing is written.
    let unknown = b.get("/cong-dan/ho-so/000.33.22.H05-990101-9999").await;
    let b_csrf = unknown.hidden("csrf");
    let head = s.head();
    let by_b = b
        .post(&rate_path, &[("csrf", &b_csrf), ("level", "dissatisfied")])
        .await;
    assert_eq!(by_b.status, 404, "{}", by_b.body);
    assert_eq!(without_csrf(&by_b), without_csrf(&unknown));
    assert_eq!(s.head(), head);

    // A rates: one event, the thanks and the level; the same form sent again is one write.
    let form = [
        ("csrf", returned.hidden("csrf")),
        ("key", returned.hidden("key")),
        ("level", "satisfied".to_owned()),
        ("comment", "Cán bộ hướng dẫn tận tình".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let rated = a.post(&rate_path, &form).await;
    assert_eq!(rated.status, 200, "{}", rated.body);
    assert!(rated.body.contains("Đã ghi nhận đánh giá của bạn."));
    assert!(
        rated
            .body
            .contains("Cảm ơn bạn đã đánh giá. Mức độ bạn đã chọn: <strong>Hài lòng</strong>."),
        "{}",
        rated.body
    );
    assert!(!rated.body.contains("name=\"level\""));
    assert_eq!(s.head(), head + 1);
    let again = a.post(&rate_path, &form).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(s.head(), head + 1, "a resent form is one write");

    // A second rating (another form) is refused in words; the log head is unchanged.
    let second = a
        .post(
            &rate_path,
            &[
                ("csrf", &returned.hidden("csrf")),
                ("key", "another-form"),
                ("level", "dissatisfied"),
            ],
        )
        .await;
    assert_eq!(second.status, 422, "{}", second.body);
    assert!(second
        .body
        .contains("Hồ sơ này đã được đánh giá. Mỗi hồ sơ chỉ được đánh giá một lần."));
    assert!(second.body.contains("<strong>Hài lòng</strong>"));
    assert_eq!(s.head(), head + 1);

    // The JSON route: citizen accounts only; the portal's account with the secret is refused
    // a second rating too.
    for (token, status) in [("tn-01", 403), ("cong-dvc", 422)] {
        let r = s
            .post(&format!("/v1/dossiers/{code}/rating"), &t[token])
            .json(&json!({"level": "very_satisfied", "lookup_secret": secret}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{token}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{token}"
        );
    }
    let bad = s
        .post(&format!("/v1/dossiers/{code}/rating"), &t["cong-dvc"])
        .json(&json!({"level": "so-so", "lookup_secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(s.head(), head + 1);
    // An over-long secret is refused before its slow check on every route that proves one:
    // the rating and a citizen's action alike (`Dossiers::prove`), each a 422 naming the field.
    let long = "A".repeat(65);
    for (path, body) in [
        (
            format!("/v1/dossiers/{code}/rating"),
            json!({"level": "satisfied", "lookup_secret": long}),
        ),
        (
            format!("/v1/dossiers/{code}/actions/withdraw"),
            json!({"reason": "thôi", "lookup_secret": long}),
        ),
    ] {
        let r = s
            .post(&path, &t["cong-dvc"])
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 422, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: Value = r.json().await.unwrap();
        assert!(
            problem.to_string().contains("lookup_secret"),
            "{path}: {problem}"
        );
    }
    assert_eq!(s.head(), head + 1);

    // The period's statistics: exactly one rating, at "satisfied"; 100 % satisfied.
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
        .date_naive();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let stats: Value = s
        .get_json(&format!("/v1/stats?from={from}&to={to}"), &t["ld-01"])
        .await;
    assert_eq!(
        stats["satisfaction"],
        json!({"ratings": 1, "very_satisfied": 0, "satisfied": 1, "dissatisfied": 0}),
        "{stats}"
    );
    assert_eq!(stats["satisfied_share_percent"], json!(100.0));
    let mut leader = signed_in(&s, "ld-01").await;
    let dash = leader.get(&format!("/thong-ke?from={from}&to={to}")).await;
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert!(dash
        .body
        .contains("<h2 id=\"hai-long\">Đánh giá mức độ hài lòng</h2>"));
    for (level, label, n) in [
        ("very_satisfied", "Rất hài lòng", 0),
        ("satisfied", "Hài lòng", 1),
        ("dissatisfied", "Không hài lòng", 0),
        ("all", "Tổng số lượt đánh giá", 1),
    ] {
        let row = format!("<tr data-level=\"{level}\"><td>{label}</td><td>{n}</td></tr>");
        assert!(dash.body.contains(&row), "{row} in {}", dash.body);
    }
    assert!(dash
        .body
        .contains("Tỷ lệ hài lòng (rất hài lòng và hài lòng): 100.0%."));

    // The exported log verifies clean; a rating forged as the clerk's does not.
    let archive = s
        .get("/v1/export", &t["qt-01"])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let dir = tempfile::tempdir().unwrap();
    let genuine = dir.path().join("genuine.motcua");
    std::fs::write(&genuine, &archive).unwrap();
    assert_eq!(findings(&genuine).await, vec![]);
    // The auditor's tool counts the same rating (the engine's one statistics fold), by
    // procedure too.
    for by in [None, Some("procedure")] {
        let mut args = vec![
            "stats".to_owned(),
            genuine.display().to_string(),
            format!("--from={from}"),
            format!("--to={to}"),
            "--format=json".into(),
            "--no-progress".into(),
        ];
        args.extend(by.map(|b| format!("--by={b}")));
        let (exit, out, err) = replay_tool(args).await;
        assert_eq!(exit, 0, "{out}{err}");
        let answer: Value = serde_json::from_str(&out).unwrap();
        let group = &answer["groups"][0];
        assert_eq!(answer["groups"].as_array().unwrap().len(), 1, "{answer}");
        assert_eq!(
            group["satisfaction"], stats["satisfaction"],
            "{by:?}: {answer}"
        );
        assert_eq!(group["satisfied_share_percent"], "100.00");
        if by.is_some() {
            assert_eq!(group["key"], PROCEDURE);
        }
    }

    use motcua_replay::archive::{decode_record, ArchiveReader};
    let mut reader = ArchiveReader::open(archive.as_slice()).unwrap();
    let header = reader.header().clone();
    let mut envs = Vec::new();
    while let Some(rec) = reader.next_record().unwrap() {
        envs.push(decode_record(&rec.bytes).unwrap());
    }
    let i = envs
        .iter()
        .position(|e| e.event_type == "rating.given")
        .expect("the rating is exported");
    assert_eq!(envs[i].stream.as_str(), format!("rating/{code}"));
    assert_eq!(envs[i].actor.role, "citizen");
    envs[i].actor.staff = "tn-01".into();
    envs[i].actor.role = "reception".into();
    let mut prev = if i == 0 {
        header.first_prev_hash
    } else {
        envs[i - 1].hash
    };
    for env in envs.iter_mut().skip(i) {
        env.prev_hash = prev;
        env.hash = env.compute_hash();
        prev = env.hash;
    }
    let seq = envs[i].seq;
    let forged = dir.path().join("forged.motcua");
    let file = std::fs::File::create(&forged).unwrap();
    let events = envs.into_iter().map(Ok::<_, std::convert::Infallible>);
    motcua_replay::archive::write_archive_from(header, events, file).unwrap();
    assert_eq!(findings(&forged).await, vec![(seq, "rating".to_owned())]);
}

/// Every value of the portal accounts' tree, in key order (to see that a refusal changed none).
fn citizen_tree(s: &TestServer) -> Vec<(Vec<u8>, Vec<u8>)> {
    let tree = s.server.log().store().tree("http.citizens").unwrap();
    tree.scan_prefix(b"")
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// A citizen's own account: a wrong current password changes nothing; the right one changes
/// the password and ends the account's other sessions; closing the account with a wrong
/// password changes nothing; with the right one every session ends at once (the old cookie is
/// sent back to the sign-in), signing in fails, the login and its hash are gone from the
/// server's tree and from its answers (the login signs up again as a new account that holds
/// none of the old dossiers), the sign-in trail records the closing under the account id, and
/// the dossier the account submitted is still found by its code and lookup secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_changes_the_password_then_closes_the_account_and_the_dossier_stays() {
    let (s, _t) = commune().await;
    const LOGIN: &str = "0904 555 666";
    const NEW_PASSWORD: &str = "mật khẩu mới của tôi 2026";
    let before = citizen_entries(&s);
    let mut a = citizen(&s, LOGIN).await;
    let page = submit(&mut a, PROCEDURE).await;
    assert_eq!(page.status, 201, "{}", page.body);
    let code = between(&page.body, "<dt>Mã hồ sơ</dt><dd><strong>", "<").to_owned();
    let secret = between(&page.body, "<span class=\"secret\">", "<").to_owned();
    // A second session of the same account, on another device.
    let mut other = Browser::new(&s);
    let signin = other.get("/cong-dan/dang-nhap").await;
    let r = other
        .post(
            "/cong-dan/dang-nhap",
            &[
                ("csrf", &signin.hidden("csrf")),
                ("login", LOGIN),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let account = a.get("/cong-dan/tai-khoan").await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(account
        .body
        .contains("<h2 id=\"doi-mat-khau\">Đổi mật khẩu</h2>"));
    assert!(account
        .body
        .contains("<h2 id=\"xoa-tai-khoan\">Xoá tài khoản</h2>"));
    let csrf = account.hidden("csrf");

    // A wrong current password: refused in words, nothing changed, both sessions live.
    let tree = citizen_tree(&s);
    let head = s.head();
    let wrong = a
        .post(
            "/cong-dan/tai-khoan/mat-khau",
            &[
                ("csrf", &csrf),
                ("current", "không phải mật khẩu"),
                ("new", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("Mật khẩu hiện tại không đúng."));
    assert_eq!(citizen_tree(&s), tree);
    assert_eq!(other.get("/cong-dan").await.status, 200);

    // The right one: changed; the other session ends, this one goes on.
    let changed = a
        .post(
            "/cong-dan/tai-khoan/mat-khau",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert!(changed.body.contains("Đã đổi mật khẩu."));
    assert_ne!(citizen_tree(&s), tree);
    let ended = other.get("/cong-dan").await;
    assert_eq!(ended.status, 303);
    assert_eq!(ended.location(), "/cong-dan/dang-nhap");
    assert_eq!(a.get("/cong-dan").await.status, 200);
    let sign_in = |password: &'static str| {
        let s = &s;
        async move {
            let mut b = Browser::new(s);
            let form = b.get("/cong-dan/dang-nhap").await;
            b.post(
                "/cong-dan/dang-nhap",
                &[
                    ("csrf", &form.hidden("csrf")),
                    ("login", LOGIN),
                    ("password", password),
                ],
            )
            .await
            .status
        }
    };
    assert_eq!(sign_in(PASSWORD).await, 401, "the old password");
    assert_eq!(sign_in(NEW_PASSWORD).await, 303, "the new password");

    // Closing with a wrong password changes nothing.
    let tree = citizen_tree(&s);
    let refused = a
        .post(
            "/cong-dan/tai-khoan/xoa",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused
        .body
        .contains("Mật khẩu không đúng. Tài khoản chưa bị xoá."));
    assert_eq!(citizen_tree(&s), tree);
    assert_eq!(a.get("/cong-dan").await.status, 200);

    // Closing with the right one.
    let old_cookie = a.cookies["motcua_citizen"].clone();
    let closed = a
        .post(
            "/cong-dan/tai-khoan/xoa",
            &[("csrf", &csrf), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert!(closed.body.contains("<h1>Đã xoá tài khoản</h1>"));
    assert!(
        !a.cookies.contains_key("motcua_citizen"),
        "the cookie removed"
    );
    assert_eq!(s.head(), head, "the log records nothing of an account");
    // The old session is over at once, for a page and for a form.
    let mut replayed = Browser::new(&s);
    replayed
        .cookies
        .insert("motcua_citizen".into(), old_cookie.clone());
    let gone = replayed.get("/cong-dan").await;
    assert_eq!(gone.status, 303);
    assert_eq!(gone.location(), "/cong-dan/dang-nhap");
    replayed.cookies.insert("motcua_citizen".into(), old_cookie);
    let post = replayed
        .post(
            &format!("/cong-dan/ho-so/{code}/rut"),
            &[("csrf", &csrf), ("reason", "thôi")],
        )
        .await;
    assert_eq!(post.status, 403);
    assert_eq!(s.head(), head);
    assert_eq!(sign_in(NEW_PASSWORD).await, 401, "no sign-in after closing");
    // Nothing of the account is left in its tree: not the login, not its hash, not its
    // dossiers' pairs.
    assert_eq!(citizen_entries(&s), before, "{:?}", citizen_tree(&s));
    let phone = b"0904555666";
    assert!(citizen_tree(&s)
        .iter()
        .all(|(k, v)| !k.windows(phone.len()).any(|w| w == phone)
            && !v.windows(phone.len()).any(|w| w == phone)));
    // The login is free again: a new account, which holds none of the old dossiers.
    let mut again = citizen(&s, LOGIN).await;
    let mine = again.get("/cong-dan").await;
    assert!(!mine.body.contains(&code), "{}", mine.body);
    assert_eq!(
        again.get(&format!("/cong-dan/ho-so/{code}")).await.status,
        404
    );
    // The dossier stays, found by its code and secret as before.
    let lookup = Browser::new(&s)
        .get(&format!("/tra-cuu?ma={code}&mk={secret}"))
        .await;
    assert_eq!(lookup.status, 200, "{}", lookup.body);
    assert!(lookup.body.contains(&code));
    // The sign-in trail appended the change and the closing under the account id, never the
    // login.
    let mut admin = signed_in(&s, "qt-01").await;
    let audit = admin.get("/audit").await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(audit.body.contains("Đổi mật khẩu"));
    assert!(
        audit.body.contains("Xoá tài khoản công dân"),
        "{}",
        audit.body
    );
    assert!(!audit.body.contains("0904555666"));
    assert!(!audit.body.contains(LOGIN));
}
