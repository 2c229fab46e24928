//! The console's sign-in against the real server: wrong passwords and the throttle after
//! `SIGNIN_FAILURES_PER_ACCOUNT` failures, the session cookie's exact attributes, the role's
//! first screen, sign-out, a password change ending the other sessions, a deactivated account
//! thrown out at its next request, and the trail an auditor reads.

mod console_common;
mod http_common;

use console_common::{account, signed_in, Browser, PASSWORD};
use http_common::commune;
use motcua_http::app::accounts::SignInKind;
use motcua_http::config::SIGNIN_FAILURES_PER_ACCOUNT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_refused_then_the_account_is_throttled() {
    let (s, tokens) = commune().await;
    account(&s, "tn-01").await;
    let mut b = Browser::new(&s);
    for _ in 0..SIGNIN_FAILURES_PER_ACCOUNT {
        let r = b.sign_in("tn-01", "not the password").await;
        assert_eq!(r.status, 401);
        assert!(r.body.contains("Tên đăng nhập hoặc mật khẩu không đúng."));
        assert!(!b.cookies.contains_key("motcua_session"));
    }
    // An unknown username answers the same.
    let r = b.sign_in("khong-co-ai", PASSWORD).await;
    assert_eq!(r.status, 401);
    // The right password is now refused before it is checked.
    let r = b.sign_in("TN-01", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.body.contains("Đăng nhập sai quá nhiều lần"));
    assert!(!b.cookies.contains_key("motcua_session"));
    // Another account from the same address still signs in.
    account(&s, "ld-01").await;
    let r = Browser::new(&s).sign_in("ld-01", PASSWORD).await;
    assert_eq!(r.status, 303);

    let auditor = s.server.app().authenticate(&tokens["tt-01"]).unwrap();
    let trail = s.server.app().accounts().trail(&auditor, 100).unwrap();
    let count = |k: SignInKind| trail.iter().filter(|l| l.kind == k).count();
    assert_eq!(
        count(SignInKind::Failed),
        SIGNIN_FAILURES_PER_ACCOUNT as usize + 1
    );
    assert_eq!(count(SignInKind::Throttled), 1);
    assert_eq!(count(SignInKind::SignedIn), 1);
    assert!(trail.iter().all(|l| !l.username.contains("mật khẩu")));
    // The trail page is the auditor's first screen.
    let mut a = signed_in(&s, "tt-01").await;
    let home = a.get("/").await;
    assert_eq!(home.location(), "/audit");
    let page = a.get("/audit").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Đăng nhập không thành công"));
    assert!(page.body.contains("Tạm khóa do sai nhiều lần"));
    // Not for the desk.
    let mut desk = signed_in(&s, "tn-02").await;
    assert_eq!(desk.get("/audit").await.status, 403);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_password_opens_a_session_with_an_exact_cookie() {
    let (s, _) = commune().await;
    // Without a session, / and every screen lead to the sign-in page.
    let mut b = Browser::new(&s);
    let r = b.get("/").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    let r = b.get("/desk").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));

    account(&s, "tn-01").await;
    let r = b.sign_in("tn-01", PASSWORD).await;
    assert_eq!((r.status, r.location()), (303, "/"));
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let id = b.cookies["motcua_session"].clone();
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        cookies[0],
        format!("motcua_session={id}; HttpOnly; SameSite=Strict; Path=/")
    );
    let r = b.get("/").await;
    assert_eq!((r.status, r.location()), (303, "/desk"));
    let desk = b.get("/desk").await;
    assert_eq!(desk.status, 200);
    assert!(desk.body.contains("Tiếp nhận hồ sơ"));
    assert!(desk.body.contains("Hoàng Thị Hoa"), "the person's name");
    assert!(desk.body.contains("Cán bộ tiếp nhận"), "the person's role");
    assert!(desk.body.contains("UBND xã Dương Phong"), "the unit");
    let csp = desk.headers["content-security-policy"].to_str().unwrap();
    // One same-origin script file (the lists' refresh); nothing inline, no eval.
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self';"));
    assert!(!csp.contains("unsafe"));
    // The API does not take the cookie: bearer tokens only.
    let api = reqwest::Client::new()
        .get(s.url("/v1/staff"))
        .header("cookie", format!("motcua_session={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    // A forged session id is no session.
    let mut forged = Browser::new(&s);
    forged
        .cookies
        .insert("motcua_session".into(), "ab".repeat(32));
    assert_eq!(forged.get("/desk").await.location(), "/signin");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session() {
    let (s, _) = commune().await;
    let mut b = signed_in(&s, "cm-tp-01").await;
    let old = b.cookies["motcua_session"].clone();
    assert_eq!(b.get("/").await.location(), "/worklist");
    let csrf = b.csrf().await;
    // Without its token, sign-out is refused (a foreign page cannot sign anyone out).
    let r = b.post("/signout", &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(b.get("/worklist").await.status, 200);
    let r = b.post("/signout", &[("csrf", &csrf)]).await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    assert!(r.set_cookies()[0].contains("Max-Age=0"));
    let mut replay = Browser::new(&s);
    replay.cookies.insert("motcua_session".into(), old);
    let r = replay.get("/worklist").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    assert_eq!(s.server.app().sessions().len(), 0);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_account_is_thrown_out_at_once() {
    let (s, tokens) = commune().await;
    let mut b = signed_in(&s, "tn-02").await;
    assert_eq!(b.get("/desk").await.status, 200);
    let admin = s.server.app().authenticate(&tokens["qt-01"]).unwrap();
    s.server
        .app()
        .accounts()
        .deactivate(&admin, &"tn-02".parse().unwrap())
        .await
        .unwrap();
    let r = b.get("/desk").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    // Its bearer token stops too, and the password no longer opens a session.
    let api = s.get("/v1/staff", &tokens["tn-02"]).send().await.unwrap();
    assert_eq!(api.status(), 401);
    let r = Browser::new(&s).sign_in("tn-02", PASSWORD).await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("ngừng hoạt động"));
    // The deactivation is an event of the log, for replay and the auditor.
    let events = s.get_json("/v1/events?limit=500", &tokens["tt-01"]).await;
    let last = events["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event_type"], "staff.updated", "{last}");
    assert_eq!(last["actor"], "qt-01", "{last}");
    assert!(last["stream"].as_str().unwrap().contains("tn-02"), "{last}");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_the_other_sessions() {
    let (s, _) = commune().await;
    let mut a = signed_in(&s, "ld-01").await;
    let mut other = Browser::new(&s);
    assert_eq!(other.sign_in("ld-01", PASSWORD).await.status, 303);
    let csrf = a.csrf().await;
    let new = "một mật khẩu mới dài hơn";
    let r = a
        .post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", "sai"),
                ("new", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Mật khẩu hiện tại không đúng."));
    let r = a
        .post(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Đã đổi mật khẩu."));
    assert_eq!(a.get("/inbox").await.status, 200, "this session stays");
    assert_eq!(other.get("/inbox").await.location(), "/signin");
    assert_eq!(
        Browser::new(&s).sign_in("ld-01", PASSWORD).await.status,
        401
    );
    assert_eq!(Browser::new(&s).sign_in("ld-01", new).await.status, 303);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_resets_a_password_and_deactivates_an_account_on_the_staff_screen() {
    let (s, tokens) = commune().await;
    let mut admin = signed_in(&s, "qt-01").await;
    assert_eq!(admin.get("/").await.location(), "/staff");
    let page = admin.get("/staff").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Triệu Văn Dũng"));
    let csrf = page.hidden("csrf");
    let mut officer = signed_in(&s, "cm-tp-01").await;

    // Not for anyone else, and nothing changes.
    let mut desk = signed_in(&s, "tn-01").await;
    let theirs = desk.csrf().await;
    assert_eq!(desk.get("/staff").await.status, 403);
    let r = desk
        .post(
            "/staff/cm-tp-01/password",
            &[
                ("csrf", &theirs),
                ("username", "cm-tp-01"),
                ("password", "chiếm quyền 12345"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    let head = s.head();
    let r = desk
        .post("/staff/cm-tp-01/deactivate", &[("csrf", &theirs)])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(s.head(), head);
    assert_eq!(officer.get("/worklist").await.status, 200);

    // A password too short is refused in words; a reset ends the holder's sessions.
    let r = admin
        .post(
            "/staff/cm-tp-01/password",
            &[
                ("csrf", &csrf),
                ("username", "cm-tp-01"),
                ("password", "ngan"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("ít nhất"));
    let new = "mật khẩu do quản trị đặt";
    let r = admin
        .post(
            "/staff/cm-tp-01/password",
            &[("csrf", &csrf), ("username", "cm-tp-01"), ("password", new)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Đã đặt lại mật khẩu"));
    assert_eq!(officer.get("/worklist").await.location(), "/signin");
    assert_eq!(
        Browser::new(&s).sign_in("cm-tp-01", PASSWORD).await.status,
        401
    );
    let mut officer = Browser::new(&s);
    assert_eq!(officer.sign_in("cm-tp-01", new).await.status, 303);
    assert_eq!(officer.get("/worklist").await.status, 200);

    // Deactivation: one event of the log, and the session stops at once.
    let r = admin
        .post("/staff/cm-tp-01/deactivate", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Đã ngừng hoạt động"));
    assert_eq!(s.head(), head + 1);
    assert_eq!(officer.get("/worklist").await.location(), "/signin");
    let api = s
        .get("/v1/staff", &tokens["cm-tp-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);

    let auditor = s.server.app().authenticate(&tokens["tt-01"]).unwrap();
    let trail = s.server.app().accounts().trail(&auditor, 100).unwrap();
    assert!(trail.iter().any(|l| l.kind == SignInKind::PasswordSet
        && l.by.as_deref() == Some("qt-01")
        && l.staff.as_deref() == Some("cm-tp-01")));
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_set_on_a_stopped_directory_opens_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (s, _) = http_common::commune_in(http_common::config(&dir)).await;
    s.server.shutdown().await.unwrap();
    let line = motcua_http::cli::staff::staff_password(
        &dir,
        &"qt-01".parse().unwrap(),
        Some("QuanTri"),
        PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(line, "staff=qt-01 username=quantri");
    let s = http_common::TestServer::start_in(http_common::config(&dir)).await;
    let mut b = Browser::new(&s);
    let r = b.sign_in("quantri", PASSWORD).await;
    assert_eq!((r.status, r.location()), (303, "/"));
    assert_eq!(b.get("/").await.location(), "/staff");
    s.server.shutdown().await.unwrap();
}
