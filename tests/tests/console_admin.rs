//! The console's admin screens and the dossier page's newer forms against the real server: an
//! admin issues a procedure through the console (then amends and abolishes it) and the desk's
//! pick list follows; other roles are refused the admin screens and their posts write nothing;
//! republishing a year's calendar without the "thay thế" box is refused in Vietnamese, with it
//! replaces the year; office hours are set from a date; a payment request and an apology made
//! on the dossier page show in its timeline with their exact values, and a malformed amount is
//! refused in Vietnamese without a write; an online submission is guided, then received, from
//! its page.

mod console_common;
mod http_common;

use console_common::{signed_in, Browser, Page};
use http_common::commune;
use motcua_http::app::clock;
use serde_json::{json, Value};

const ID: &str = "1.003005";

/// The fields of the console's procedure form for the guardianship procedure.
fn procedure_form<'a>(csrf: &'a str, name: &'a str, effective: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("field", "ho-tich"),
        ("level", "commune"),
        ("processing_time", "3"),
        ("processing_unit", "working_days"),
        ("workflow", "standard"),
        (
            "documents",
            "Tờ khai đăng ký giám hộ | 1 | 0\nGiấy tờ chứng minh điều kiện giám hộ | 0 | 1",
        ),
        ("forms", "Tờ khai đăng ký giám hộ (mẫu TT 04/2020)"),
        ("fees", "Lệ phí đăng ký giám hộ | 5.000"),
        ("legal_basis", "Luật Hộ tịch 2014"),
        ("effective", effective),
    ]
}

/// The hidden key of the form posting to `action` on a page.
fn key_in_form(body: &str, action: &str) -> String {
    let form = &body[body
        .find(&format!("action=\"{action}\""))
        .expect("the form")..];
    let marker = "name=\"key\" value=\"";
    let start = form.find(marker).expect("a key") + marker.len();
    form[start..start + form[start..].find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_issues_a_procedure_and_the_desk_lists_it() {
    let (s, t) = commune().await;
    let today = clock::today().to_string();
    let mut desk = signed_in(&s, "tn-01").await;
    let before = desk.get("/desk").await;
    assert_eq!(before.status, 200);
    assert!(!before.body.contains("Đăng ký giám hộ"));

    let mut admin = signed_in(&s, "qt-01").await;
    let list = admin.get("/procedures").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("href=\"/procedures\""), "the nav entry");
    assert!(list.body.contains("Ban hành thủ tục mới"));
    let csrf = list.hidden("csrf");
    let mut f = procedure_form(&csrf, "Đăng ký giám hộ", &today);
    f.extend([("id", ID), ("publish_at_desk", "1")]);
    let r = admin.post("/procedures", &f).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Đã ban hành thủ tục 1.003005."),
        "{}",
        r.body
    );
    let row = format!(
        "<td>{ID}</td><td>Đăng ký giám hộ</td><td>1</td><td>Hộ tịch</td><td>3 ngày làm việc</td>\
         <td>Đang có hiệu lực</td><td>Tại Bộ phận Một cửa</td>"
    );
    assert!(r.body.contains(&row), "{}", r.body);

    // The desk's pick list has it, with its checklist.
    let after = desk.get(&format!("/desk?procedure={ID}")).await;
    assert_eq!(after.status, 200);
    assert!(after.body.contains("Đăng ký giám hộ"), "{}", after.body);
    assert!(after.body.contains("Giấy tờ chứng minh điều kiện giám hộ"));
    // The API's catalog says the same: version 1 of the procedure is received under.
    let code = s.receive(&t["tn-01"], ID).await;
    let v: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert_eq!(v["procedure"], json!({"id": ID, "version": 1}));

    // Issuing the same id again is refused in Vietnamese and writes nothing.
    let head = s.head();
    let r = admin.post("/procedures", &f).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Mã thủ tục này đã có trong danh mục"),
        "{}",
        r.body
    );
    // A processing time that is not a number: refused before the application.
    let mut bad = procedure_form(&csrf, "Khác", &today);
    bad.extend([("id", "1.003006")]);
    bad.retain(|(k, _)| *k != "processing_time");
    bad.push(("processing_time", "ba ngày"));
    let r = admin.post("/procedures", &bad).await;
    assert_eq!(r.status, 422);
    assert!(r
        .body
        .contains("Thời hạn giải quyết phải là một số nguyên không âm."));
    assert_eq!(s.head(), head);

    // Amend: the page's form carries the next version; the list then shows version 2.
    let page = admin.get(&format!("/procedures/{ID}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.hidden("version"), "2");
    // Prefilled with every field of version 1, so nothing unchanged is lost.
    assert!(page
        .body
        .contains(">Tờ khai đăng ký giám hộ (mẫu TT 04/2020)</textarea>"));
    assert!(page
        .body
        .contains(">Lệ phí đăng ký giám hộ | 5000</textarea>"));
    assert!(page.body.contains("Lệ phí đăng ký giám hộ: 5.000 đ"));
    let mut f = procedure_form(&csrf, "Đăng ký giám hộ (sửa đổi)", &today);
    f.push(("version", "2"));
    let r = admin.post(&format!("/procedures/{ID}/amend"), &f).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = format!(
        "Đã ban hành phiên bản 2 của thủ tục {ID}, có hiệu lực từ {}.",
        clock::today().format("%d/%m/%Y")
    );
    assert!(r.body.contains(&done), "{}", r.body);
    // The same form sent again (a stale page): the version is refused, nothing written.
    let head = s.head();
    let r = admin.post(&format!("/procedures/{ID}/amend"), &f).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Số phiên bản không đúng (must be 3)"),
        "{}",
        r.body
    );
    assert_eq!(s.head(), head);
    let code2 = s.receive(&t["tn-01"], ID).await;
    let v: Value = s
        .get_json(&format!("/v1/dossiers/{code2}"), &t["tn-01"])
        .await;
    assert_eq!(v["procedure"], json!({"id": ID, "version": 2}));

    // Abolish from today with a reason: the desk no longer lists it. The form's own key makes
    // the same form sent twice one write; the key sent with another reason is refused.
    let page = admin.get(&format!("/procedures/{ID}")).await;
    let action = format!("/procedures/{ID}/abolish");
    let key = key_in_form(&page.body, &action);
    let abolish = |reason: &'static str| {
        vec![
            ("csrf", csrf.as_str()),
            ("key", key.as_str()),
            ("effective", today.as_str()),
            ("reason", reason),
        ]
    };
    let r = admin.post(&action, &abolish("")).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Hãy nhập lý do bãi bỏ thủ tục."));
    let r = admin.post(&action, &abolish("Quyết định 12/QĐ-UBND")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Quyết định 12/QĐ-UBND"));
    let head = s.head();
    let r = admin.post(&action, &abolish("Quyết định 12/QĐ-UBND")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(&format!("Đã bãi bỏ thủ tục {ID} từ")));
    assert_eq!(s.head(), head, "the same form twice is one write");
    let r = admin.post(&action, &abolish("Quyết định khác")).await;
    assert_eq!(r.status, 422);
    assert!(r
        .body
        .contains("Biểu mẫu này đã được gửi trước đó với nội dung khác."));
    assert_eq!(s.head(), head);
    let list = desk.get("/desk").await;
    assert!(!list.body.contains("Đăng ký giám hộ"), "{}", list.body);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_roles_are_refused_the_admin_screens_and_write_nothing() {
    let (s, _) = commune().await;
    for who in ["tn-01", "cm-tp-01", "ld-01", "tt-01", "kh-01"] {
        let mut b = signed_in(&s, who).await;
        for path in [
            "/procedures",
            "/procedures/1.001193",
            "/calendar",
            "/office-hours",
        ] {
            let r = b.get(path).await;
            assert_eq!(r.status, 403, "{who} {path}");
            assert!(r.body.contains("Không có quyền truy cập"), "{who} {path}");
            assert!(
                !r.body.contains("href=\"/procedures\""),
                "no nav entry for {who}"
            );
        }
        let csrf = b.csrf().await;
        let head = s.head();
        let mut f = procedure_form(&csrf, "Đăng ký giám hộ", "2026-01-01");
        f.push(("id", ID));
        for (path, form) in [
            ("/procedures", f.clone()),
            (
                "/procedures/1.001193/abolish",
                vec![
                    ("csrf", csrf.as_str()),
                    ("effective", "2026-01-01"),
                    ("reason", "x"),
                ],
            ),
            (
                "/calendar",
                vec![("csrf", csrf.as_str()), ("year", "2031"), ("days_off", "")],
            ),
            (
                "/office-hours",
                vec![
                    ("csrf", csrf.as_str()),
                    ("sessions", "07:00-11:00"),
                    ("effective", "2031-01-01"),
                ],
            ),
        ] {
            let r = b.post(path, &form).await;
            assert_eq!(r.status, 403, "{who} {path}");
        }
        assert_eq!(s.head(), head, "{who} wrote nothing");
    }
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republishing_a_calendar_needs_the_replace_box() {
    let (s, t) = commune().await;
    let mut admin = signed_in(&s, "qt-01").await;
    let page = admin.get("/calendar?year=2023").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Lịch đã công bố"));
    let csrf = page.hidden("csrf");
    let head = s.head();
    let form = |replace: bool| {
        let mut f = vec![
            ("csrf", csrf.as_str()),
            ("year", "2023"),
            ("days_off", "02/01/2023\n2023-09-04"),
            ("makeup_working_days", ""),
            ("note", "Lịch sửa lại"),
        ];
        if replace {
            f.push(("replace", "1"));
        }
        f
    };
    let r = admin.post("/calendar", &form(false)).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains(
            "Lịch làm việc của năm này đã được công bố. Muốn công bố lại, hãy đánh dấu ô \
             “Thay thế lịch đã công bố”"
        ),
        "{}",
        r.body
    );
    assert_eq!(s.head(), head, "nothing written");
    let r = admin.post("/calendar", &form(true)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Đã công bố lịch làm việc năm 2023."));
    let api: Value = s.get_json("/v1/calendar/2023", &t["qt-01"]).await;
    assert_eq!(api["days_off"], json!(["2023-01-02", "2023-09-04"]));
    assert_eq!(api["note"], "Lịch sửa lại");

    // A new year needs no box; a make-up day on a weekday is refused in Vietnamese.
    let r = admin
        .post(
            "/calendar",
            &[
                ("csrf", csrf.as_str()),
                ("year", "2031"),
                ("makeup_working_days", "06/01/2031"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Ngày làm bù phải là thứ Bảy hoặc Chủ nhật"),
        "{}",
        r.body
    );
    let r = admin
        .post(
            "/calendar",
            &[
                ("csrf", csrf.as_str()),
                ("year", "2031"),
                ("days_off", "1/1/2031 nghỉ"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r
        .body
        .contains("“1/1/2031 nghỉ” không phải một ngày (dd/mm/yyyy)."));

    // Office hours from a date.
    let r = admin
        .post(
            "/office-hours",
            &[
                ("csrf", csrf.as_str()),
                ("sessions", "07:30-11:30\n13:30-17:00"),
                ("effective", "2031-01-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Đã cập nhật giờ làm việc từ 01/01/2031."));
    let r = admin
        .post(
            "/office-hours",
            &[
                ("csrf", csrf.as_str()),
                ("sessions", "13:30-17:00\n07:30-11:30"),
                ("effective", "2031-01-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Các buổi làm việc phải theo thứ tự"));
    s.server.shutdown().await.unwrap();
}

/// Posts action `action` from the dossier page as `b` (the page's CSRF token and version).
async fn act(b: &mut Browser, code: &str, action: &str, extra: &[(&str, &str)]) -> Page {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_request_and_an_apology_show_in_the_timeline() {
    let (s, t) = commune().await;
    // A procedure of four office hours: its due time is within the apology window (one working
    // day of office time) from receipt, so the specialist may apologise at once.
    let r = s
        .post("/v1/procedures", &t["qt-01"])
        .json(&json!({
            "procedure": {
                "id": ID, "version": 1, "name": "Cấp bản sao trích lục hộ tịch", "field": "ho-tich",
                "level": "Commune", "documents": [], "forms": [],
                "processing_time": {"OfficeHours": 4}, "fees": [], "workflow": "standard",
                "legal_basis": "Luật Hộ tịch 2014"
            },
            "effective": "2024-01-01", "publish_at_desk": true
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let code = s.receive(&t["tn-01"], ID).await;
    let r = s
        .post(&format!("/v1/dossiers/{code}/actions/assign"), &t["tn-01"])
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut sp = signed_in(&s, "cm-tp-01").await;
    let page = sp.get(&format!("/dossiers/{code}")).await;
    assert!(
        page.body.contains("Số tiền phí, lệ phí (đồng)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Ngày giờ hẹn trả kết quả mới"));

    let head = s.head();
    let r = act(
        &mut sp,
        &code,
        "request_payment",
        &[("amount", "năm mươi nghìn")],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Thông tin chưa hợp lệ: số tiền."),
        "{}",
        r.body
    );
    assert_eq!(s.head(), head);

    let r = act(
        &mut sp,
        &code,
        "request_payment",
        &[
            ("amount", "50.000"),
            ("note", "Lệ phí cấp bản sao trích lục"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = act(
        &mut sp,
        &code,
        "apologise",
        &[
            ("reason", "Chờ xác minh thông tin"),
            ("new_appointment", "2031-03-17T08:30"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let page = sp.get(&format!("/dossiers/{code}")).await;
    assert!(
        page.body
            .contains("<td>Số tiền: 50.000 đ. Ghi chú: Lệ phí cấp bản sao trích lục</td>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            "<td>Lý do: Chờ xác minh thông tin. Hẹn trả kết quả lại: 08:30 17/03/2031</td>"
        ),
        "{}",
        page.body
    );
    let v: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert_eq!(v["state_name"], "awaiting_payment", "{v}");
    assert_eq!(v["payments"][0]["amount"], 50000, "{v}");

    // A dossier days from its due time: too early to apologise, said in words, nothing written.
    let early = s.receive(&t["tn-01"], "1.001193").await;
    let r = s
        .post(&format!("/v1/dossiers/{early}/actions/assign"), &t["tn-01"])
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let head = s.head();
    let r = act(
        &mut sp,
        &early,
        "apologise",
        &[
            ("reason", "Chờ xác minh"),
            ("new_appointment", "2031-03-17T08:30"),
        ],
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(
        r.body
            .contains("Chỉ lập phiếu xin lỗi và hẹn lại khi hồ sơ đã quá hạn"),
        "{}",
        r.body
    );
    assert_eq!(s.head(), head);

    // The desk records the payment with its receipt number on the same page.
    let mut desk = signed_in(&s, "tn-01").await;
    let r = act(
        &mut desk,
        &code,
        "record_payment",
        &[("receipt_number", "BL-0042")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = desk.get(&format!("/dossiers/{code}")).await;
    assert!(
        page.body.contains("Số biên lai: BL-0042. Hạn mới: "),
        "{}",
        page.body
    );
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_submission_is_guided_then_received_from_its_page() {
    let (s, t) = commune().await;
    let r = s
        .post("/v1/submissions", &t["cong-dvc"])
        .json(&http_common::new_dossier("2.001035"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let code = r.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut desk = signed_in(&s, "tn-01").await;
    let page = desk.get(&format!("/dossiers/{code}")).await;
    assert_eq!(page.status, 200);
    for words in [
        "Giấy tờ còn thiếu (mỗi dòng một giấy tờ)",
        "Lý do từ chối tiếp nhận",
        "value=\"receive\"",
    ] {
        assert!(page.body.contains(words), "{words}: {}", page.body);
    }
    // Guidance needs what is missing; without it nothing is written.
    let head = s.head();
    let r = act(
        &mut desk,
        &code,
        "guide_to_complete",
        &[("missing", " \n ")],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Thông tin chưa hợp lệ: giấy tờ còn thiếu."),
        "{}",
        r.body
    );
    assert_eq!(s.head(), head);
    let r = act(
        &mut desk,
        &code,
        "guide_to_complete",
        &[
            ("missing", "Bản sao giấy chứng thực\nẢnh chân dung"),
            ("note", "Nộp bổ sung trực tuyến"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = act(&mut desk, &code, "receive", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = desk.get(&format!("/dossiers/{code}")).await;
    assert!(
        page.body.contains(
            "<td>Cần bổ sung: Bản sao giấy chứng thực; Ảnh chân dung. Ghi chú: Nộp bổ sung trực tuyến</td>"
        ),
        "{}",
        page.body
    );
    let v: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert_eq!(v["state_name"], "received", "{v}");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_hours_set_through_the_api_show_on_the_console_screen() {
    let (s, t) = commune().await;
    let admin = &t["qt-01"];
    let today = clock::today();
    let send = |body: Value| s.post("/v1/office-hours", admin).json(&body).send();
    let head = s.head();
    let r = send(json!({"sessions": [{"start": "7h", "end": "11:00"}], "effective": today}))
        .await
        .unwrap();
    let p = http_common::problem(r, 422, "validation").await;
    assert_eq!(p["field"], "sessions[0].start", "{p}");
    let r = send(json!({"sessions": [{"start": "13:30", "end": "17:00"},
                                      {"start": "07:30", "end": "11:30"}], "effective": today}))
    .await
    .unwrap();
    let p = http_common::problem(r, 422, "validation").await;
    assert_eq!(p["field"], "sessions", "{p}");
    assert_eq!(s.head(), head, "refusals write nothing");

    let r = send(json!({"sessions": [{"start": "07:30", "end": "11:30"},
                                      {"start": "13:00", "end": "16:30"}], "effective": today}))
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["unit"], "000.33.22.H05");
    assert_eq!(body["effective"], today.to_string());
    assert_eq!(body["stream"], "calendar/hours-000.33.22.H05");

    let mut b = signed_in(&s, "qt-01").await;
    let page = b.get("/office-hours").await;
    assert_eq!(page.status, 200);
    let shown = format!(
        "Các buổi làm việc đang áp dụng (ngày {}): 07:30-11:30, 13:00-16:30",
        today.format("%d/%m/%Y")
    );
    assert!(page.body.contains(&shown), "{}", page.body);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_staff_member_who_then_signs_in() {
    let (s, tokens) = commune().await;
    let mut admin = signed_in(&s, "qt-01").await;
    let page = admin.get("/staff").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Thêm cán bộ"), "{}", page.body);
    assert!(
        page.body.contains("value=\"ho-tich\""),
        "the unit's fields offered"
    );
    let csrf = page.hidden("csrf");
    let key = key_in_form(&page.body, "/staff");
    let form = |roles: &'static str, field: &'static str, password: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("key", key.clone()),
            ("id", "cm-moi-01".to_owned()),
            ("name", "Lê Thị Mới".to_owned()),
            ("roles", roles.to_owned()),
            ("fields", field.to_owned()),
            ("username", "lethimoi".to_owned()),
            ("password", password.to_owned()),
        ]
    };
    // Another role is refused and nothing is written.
    let mut desk = signed_in(&s, "tn-01").await;
    let theirs = desk.csrf().await;
    let head = s.head();
    let r = desk
        .post(
            "/staff",
            &[
                ("csrf", &theirs),
                ("id", "cm-moi-01"),
                ("name", "Lê Thị Mới"),
                ("roles", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(s.head(), head);

    // A specialist without a field: the domain's rule, in the admin's words; nothing written.
    let r = post_owned(&mut admin, &form("specialist", "", "mật khẩu mới 2026")).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("phải phụ trách ít nhất một lĩnh vực"),
        "{}",
        r.body
    );
    assert_eq!(s.head(), head);
    // A password too short registers nobody either.
    let r = post_owned(&mut admin, &form("specialist", "ho-tich", "ngan")).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("Mật khẩu mới phải có ít nhất"),
        "{}",
        r.body
    );
    assert_eq!(s.head(), head);

    // Registered with a password: one registration in the log, listed on the screen.
    let r = post_owned(
        &mut admin,
        &form("specialist", "ho-tich", "mật khẩu mới 2026"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body
            .contains("Đã thêm cán bộ Lê Thị Mới (cm-moi-01) và đặt mật khẩu đăng nhập."),
        "{}",
        r.body
    );
    let after = s.head();
    assert!(after > head);
    // The same form sent again (a double click) is the same registration, not a second one.
    let r = post_owned(
        &mut admin,
        &form("specialist", "ho-tich", "mật khẩu mới 2026"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(s.head(), after);
    // The same key with another role is refused, not answered with the first outcome.
    let r = post_owned(&mut admin, &form("leader", "ho-tich", "mật khẩu mới 2026")).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("tải lại trang"), "{}", r.body);
    assert_eq!(s.head(), after);

    // The JSON API reads the same record.
    let staff: Value = s
        .get("/v1/staff", &tokens["qt-01"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = staff
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "cm-moi-01")
        .expect("listed");
    assert_eq!(new["name"], "Lê Thị Mới");
    assert_eq!(new["roles"], json!(["specialist"]));
    assert_eq!(new["fields"], json!(["ho-tich"]));

    // The new specialist signs in with that password and lands on the work list.
    let mut b = Browser::new(&s);
    let r = b.sign_in("lethimoi", "mật khẩu mới 2026").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(b.get("/").await.location(), "/worklist");
    s.server.shutdown().await.unwrap();
}

/// Posts a form of owned values to `/staff`.
async fn post_owned(b: &mut Browser, form: &[(&str, String)]) -> Page {
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post("/staff", &refs).await
}
