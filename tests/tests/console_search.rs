//! The console's search (tra cứu hồ sơ) against the real server: a name without diacritics, an
//! identity number, a phone number, a code, a range of days, pages of 20; only the caller's
//! unit; nobody but staff who read dossiers; an erased person cannot be found by their name.

mod console_common;
mod http_common;

use console_common::signed_in;
use http_common::{commune, OTHER_UNIT};
use motcua_engine::domain::types::Role;
use serde_json::json;

async fn receive(
    s: &http_common::TestServer,
    token: &str,
    name: &str,
    id_number: &str,
    phone: &str,
) -> String {
    s.receive_for(
        token,
        json!({"name": name, "id_number": id_number, "phone": phone, "address": "thôn 3"}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_find_dossiers_by_folded_name_number_phone_code_and_day() {
    let (s, t) = commune().await;
    let an = receive(
        &s,
        &t["tn-01"],
        "Nguyễn Văn An",
        "001199011111",
        "0912 000 111",
    )
    .await;
    let binh = receive(
        &s,
        &t["tn-01"],
        "Trần Thị Bình",
        "001199022222",
        "0988000222",
    )
    .await;
    let mut b = signed_in(&s, "tn-01").await;
    let found = |body: &str, n: usize| body.contains(&format!("Tìm thấy {n} hồ sơ."));

    let page = b.get("/search?q=nguyen+van+an").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(found(&page.body, 1), "{}", page.body);
    assert!(page.body.contains(&an) && page.body.contains("Nguyễn Văn An"));
    assert!(!page.body.contains(&binh));
    for (q, code) in [
        ("NGUYỄN", &an),
        ("001199022222", &binh),
        ("0912000111", &an),
        (binh.as_str(), &binh),
    ] {
        let page = b.get(&format!("/search?q={}", urlencode(q))).await;
        assert!(
            found(&page.body, 1) && page.body.contains(code.as_str()),
            "{q}: {}",
            page.body
        );
    }
    let page = b.get("/search?q=nguyen+binh").await;
    assert!(found(&page.body, 0), "{}", page.body);

    // By day: today holds both; tomorrow none; a bad date is a message, not an error page.
    let today = motcua_engine::domain::calendar::local_date(
        motcua_engine::domain::types::Timestamp::from_utc(chrono::Utc::now()),
    );
    let tomorrow = today.succ_opt().unwrap();
    let page = b.get(&format!("/search?from={today}&to={today}")).await;
    assert!(found(&page.body, 2), "{}", page.body);
    let page = b.get(&format!("/search?q=nguyen&from={tomorrow}")).await;
    assert!(found(&page.body, 0), "{}", page.body);
    let page = b.get("/search?from=2026-13-40").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("không hợp lệ"), "{}", page.body);

    // Pages of 20, newest first.
    for i in 0..20 {
        receive(
            &s,
            &t["tn-01"],
            "Nguyễn Văn An",
            "001199011111",
            &format!("09120001{i:02}"),
        )
        .await;
    }
    let page = b.get("/search?q=nguyen+van+an").await;
    assert!(
        found(&page.body, 21) && page.body.contains("Trang 1 / 2"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&an), "the oldest is on page 2");
    let page = b.get("/search?q=nguyen+van+an&page=2").await;
    assert!(page.body.contains(&an) && page.body.contains("Trang 2 / 2"));

    // Text typed is shown as text.
    let page = b.get("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert!(!page.body.contains("<script>alert(1)"), "{}", page.body);

    // Another unit's reception finds nothing of this unit; a planner may not search.
    s.staff("tn-h06", OTHER_UNIT, &[Role::Reception], &[]).await;
    let mut other = signed_in(&s, "tn-h06").await;
    let page = other.get("/search?q=nguyen").await;
    assert!(found(&page.body, 0), "{}", page.body);
    let mut planner = signed_in(&s, "kh-01").await;
    assert_eq!(planner.get("/search?q=nguyen").await.status, 403);

    // Erased: not found by name any more (the code still finds the dossier, unnamed).
    let r = s
        .post("/v1/personal/erasures", &t["qt-01"])
        .json(&json!({"id_number": "001199011111"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = b.get("/search?q=nguyen+van+an").await;
    assert!(found(&page.body, 0), "{}", page.body);
    let page = b.get(&format!("/search?q={an}")).await;
    assert!(
        found(&page.body, 1) && page.body.contains("(đã xoá)"),
        "{}",
        page.body
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The admin's personal-data screen erases a person (only with the confirmation, only as
/// admin); the person is then neither found nor named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_erases_a_person_from_the_console() {
    let (s, t) = commune().await;
    let code = receive(&s, &t["tn-01"], "Lý Thị Xoá", "001199033333", "0900000333").await;
    let mut desk = signed_in(&s, "tn-01").await;
    assert_eq!(desk.get("/personal").await.status, 403);
    let csrf = desk.csrf().await;
    let r = desk
        .post(
            "/personal/erase",
            &[
                ("csrf", &csrf),
                ("id_number", "001199033333"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);

    let mut admin = signed_in(&s, "qt-01").await;
    let page = admin.get("/personal").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.hidden("csrf");
    let r = admin
        .post(
            "/personal/erase",
            &[("csrf", &csrf), ("id_number", "001199033333")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Hãy xác nhận"), "{}", r.body);
    let r = admin
        .post(
            "/personal/erase",
            &[
                ("csrf", "forged"),
                ("id_number", "001199033333"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    let page = desk.get("/search?q=ly+thi+xoa").await;
    assert!(page.body.contains("Tìm thấy 1 hồ sơ."), "{}", page.body);
    let r = admin
        .post(
            "/personal/erase",
            &[
                ("csrf", &csrf),
                ("id_number", "001199033333"),
                ("note", "đơn số 7/2026"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Đã xoá dữ liệu cá nhân của 1 người."),
        "{}",
        r.body
    );
    let r = admin
        .post(
            "/personal/erase",
            &[
                ("csrf", &csrf),
                ("id_number", "001199033333"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("hoặc đã xoá"), "{}", r.body);
    let page = desk.get("/search?q=ly+thi+xoa").await;
    assert!(page.body.contains("Tìm thấy 0 hồ sơ."), "{}", page.body);
    let page = desk.get(&format!("/dossiers/{code}")).await;
    assert!(page.body.contains("(đã xoá)") && !page.body.contains("Lý Thị Xoá"));
}
