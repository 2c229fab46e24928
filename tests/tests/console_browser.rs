//! The console in a real browser: Debian's headless Chromium driven over WebDriver (the
//! W3C protocol spoken with reqwest to `chromedriver`, no extra crate), at the commune PCs'
//! 1366x768. A desk officer signs in with a wrong password (the Vietnamese message), then the
//! right one, lands on the desk, picks a procedure, types the applicant and receives: slip 01
//! shows the dossier's code, the lookup secret and the QR code of the public lookup (drawn
//! under the CSP), and the API has the dossier. Then every screen (sign-in, home, desk, slip
//! 01, queue, search, work list, inbox, statistics, dossier page, slips 02-06, audit, staff, personal data,
//! procedures, calendar, office hours, the public lookup and catalog, also at a phone's 360 px) is checked
//! by axe-core for serious or critical accessibility violations and saved as a screenshot in
//! `target/screenshots/`. A second test takes one dossier from receipt to hand-over through
//! the console only (desk, specialist, leader's inbox, desk), then the public lookup says
//! "Đã trả kết quả". A third shows the refusals: sign-in throttled after five failures, a
//! tampered CSRF token, a specialist without the leader's actions, a deactivated officer
//! thrown out at the next page. A fourth is a citizen on a 360 px phone: sign up, submit
//! online from the catalog, supplement online when asked, the result in their list; another
//! citizen does not find that dossier, then closes their account from its page. A fifth is a
//! leader reading the demo commune's statistics (the demo report's figures, a figure clicked
//! through to as many dossiers) and the reform plan's dashboard.
//!
//! axe-core is the pinned npm release [`AXE_URL`], downloaded with `curl` once, checked
//! against [`AXE_TGZ_SHA256`] and kept in the target directory; without the network the test
//! fails and says so. It is injected through WebDriver's script execution, which Chromium runs
//! outside the page's Content-Security-Policy (the pages themselves allow no script).
//! `.ci/run` installs `chromium`, `chromium-driver` and `fonts-noto-core`; without
//! `chromedriver` the test fails under CI (`CI` set) and is skipped with a note elsewhere.

mod console_common;
mod http_common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use console_common::{account, signed_in, PASSWORD};
use http_common::{commune, TestServer};
use motcua_engine::domain::types::Timestamp;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The element key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The pinned axe-core release (the npm registry's tarball) and its SHA-256.
const AXE_URL: &str = "https://registry.npmjs.org/axe-core/-/axe-core-4.10.2.tgz";
const AXE_TGZ_SHA256: &str = "9ea2d2d6917da998122bdacfd3b473e31ead53f4b87146c716a12edf89158100";
const PROCEDURE: &str = "1.001193";

/// The target directory: `CARGO_TARGET_DIR` when set, else the workspace's `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `axe.min.js` of the pinned release, fetched once per test process: the tests of this file
/// run in parallel and each wants it.
fn axe_source() -> String {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AXE.get_or_init(axe_source_uncached).clone()
}

/// `axe.min.js` from the cached tarball when its digest is right, else downloaded again (and
/// checked) first. The download goes to a name of this process alone and is renamed into place,
/// so another test binary fetching at the same moment neither reads a half-written tarball nor
/// finds its own partial file renamed away.
fn axe_source_uncached() -> String {
    let cached = target_dir().join("axe-core-4.10.2.tgz");
    let fresh = std::fs::read(&cached)
        .map(|b| sha256_hex(&b) == AXE_TGZ_SHA256)
        .unwrap_or(false);
    if !fresh {
        std::fs::create_dir_all(target_dir()).unwrap();
        let part = cached.with_extension(format!("part-{}", std::process::id()));
        let out = Command::new("curl")
            .args(["-fsSL", "--max-time", "120", "-o"])
            .arg(&part)
            .arg(AXE_URL)
            .output()
            .unwrap_or_else(|e| {
                panic!("the accessibility check downloads axe-core with curl: {e}")
            });
        assert!(
            out.status.success(),
            "could not download axe-core from {AXE_URL} (the accessibility check needs the \
             network once; the tarball is then kept at {}): {}",
            cached.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&part).unwrap();
        assert_eq!(
            sha256_hex(&bytes),
            AXE_TGZ_SHA256,
            "{AXE_URL} is not the pinned axe-core 4.10.2 (SHA-256 differs)"
        );
        std::fs::rename(&part, &cached).unwrap();
    }
    let out = Command::new("tar")
        .arg("-xzOf")
        .arg(&cached)
        .arg("package/axe.min.js")
        .output()
        .expect("tar extracts axe.min.js");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("axe.min.js is UTF-8")
}

/// Where the screenshots go (`target/screenshots/`).
fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if r.status().is_success() {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not answer");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1366,768",
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        let d = Driver {
            child,
            base,
            session,
            http,
            _profile: profile,
        };
        // A click that submits a form returns before the next page is there: finding an
        // element waits for it (bounded). axe takes a few seconds on a long page.
        d.call(
            reqwest::Method::POST,
            "/timeouts",
            json!({"implicit": 10_000, "pageLoad": 30_000, "script": 60_000}),
        )
        .await;
        d.viewport(1366, 768).await;
        d
    }

    /// Sizes the window so that the page itself is `width` x `height` (the window's own
    /// frame added).
    async fn viewport(&self, width: u32, height: u32) {
        let frame = self
            .execute(
                "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
                json!([]),
            )
            .await;
        let (w, h) = (
            frame[0].as_u64().unwrap_or(0),
            frame[1].as_u64().unwrap_or(0),
        );
        self.window(width + w as u32, height + h as u32).await;
        let inner = self
            .execute("return [window.innerWidth, window.innerHeight];", json!([]))
            .await;
        assert_eq!(inner, json!([width, height]), "the page's size");
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.http.request(method.clone(), url);
        let req = if body.is_null() { req } else { req.json(&body) };
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(r["value"].get("error").is_none(), "{method} {path}: {r}");
        r["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            json!({}),
        )
        .await;
    }

    async fn source(&self) -> String {
        let v = self
            .call(reqwest::Method::GET, "/source", Value::Null)
            .await;
        v.as_str().unwrap().to_owned()
    }

    async fn url(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", Value::Null).await;
        v.as_str().unwrap().to_owned()
    }

    /// Runs `script` (a function body) in the page; its return value.
    async fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Runs `script`, which calls its last argument with the result.
    async fn execute_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            json!({"script": script, "args": []}),
        )
        .await
    }

    async fn window(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// Presses Tab; then the focused element (its id, else its tag) and its outline.
    async fn tab(&self) -> Value {
        let tab = "\u{E004}";
        self.call(
            reqwest::Method::POST,
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": tab}, {"type": "keyUp", "value": tab}]}]}),
        )
        .await;
        self.execute(
            "const e = document.activeElement; const st = getComputedStyle(e);
             return [e.id || e.tagName.toLowerCase(), st.outlineStyle, st.outlineWidth];",
            json!([]),
        )
        .await
    }

    /// Signs the browser in as the console session `cookie` (made over HTTP: faster than
    /// typing the form again for every role).
    async fn use_session(&self, cookie: &str) {
        self.call(reqwest::Method::DELETE, "/cookie", Value::Null)
            .await;
        self.call(
            reqwest::Method::POST,
            "/cookie",
            json!({"cookie": {"name": "motcua_session", "value": cookie, "path": "/",
                              "httpOnly": true, "sameSite": "Strict"}}),
        )
        .await;
    }

    /// Waits (bounded) until the page's address ends with `suffix` and its source contains
    /// `text`: a click that submits a form returns before the next page has loaded.
    async fn wait_for(&self, suffix: &str, text: &str) -> String {
        for _ in 0..100 {
            let source = self.source().await;
            if self.url().await.ends_with(suffix) && source.contains(text) {
                return source;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no page {suffix} with {text:?}: at {} with {}",
            self.url().await,
            self.source().await
        );
    }

    /// Checks the page with axe-core (serious and critical violations, as lines) and saves a
    /// screenshot named `name`.
    async fn check(&self, name: &str, axe: &str, found: &mut Vec<String>) {
        let loaded = self
            .execute(&format!("{axe}\nreturn typeof window.axe;"), json!([]))
            .await;
        assert_eq!(loaded, "object", "axe-core did not load on {name}");
        let v = self
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                       + v.nodes.map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
            )
            .await;
        for line in v.as_array().cloned().unwrap_or_default() {
            found.push(format!("{name}: {}", line.as_str().unwrap_or_default()));
        }
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot of {name}");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    async fn quit(self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
    }
}

fn skip_without_chromedriver() -> bool {
    if std::path::Path::new(CHROMEDRIVER).exists() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install chromium-driver (.ci/run)"
    );
    eprintln!("skipped: {CHROMEDRIVER} is not installed (apt-get install chromium chromium-driver fonts-noto-core)");
    true
}

/// A staff member's action through the API (200 asserted).
async fn api_act(s: &TestServer, token: &str, code: &str, action: &str, body: Value) {
    let r = s
        .post(&format!("/v1/dossiers/{code}/actions/{action}"), token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, 200, "{action}: {}", r.text().await.unwrap());
}

/// The session cookie of `id` signed in over HTTP.
async fn session_of(s: &TestServer, id: &str) -> String {
    signed_in(s, id).await.cookies["motcua_session"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_officer_receives_a_dossier_in_a_real_browser() {
    if skip_without_chromedriver() {
        return;
    }
    let (s, tokens) = commune().await;
    account(&s, "tn-01").await;
    let axe = axe_source();
    let mut found = Vec::new();
    let d = Driver::start().await;

    d.go(&s.url("/")).await;
    d.wait_for("/signin", "Đăng nhập").await;
    d.check("signin", &axe, &mut found).await;
    d.type_into("#username", "tn-01").await;
    d.type_into("#password", "sai mật khẩu").await;
    d.click("form[action='/signin'] button[type=submit]").await;
    d.wait_for("/signin", "Tên đăng nhập hoặc mật khẩu không đúng.")
        .await;
    d.check("signin-error", &axe, &mut found).await;

    d.type_into("#password", PASSWORD).await;
    d.click("form[action='/signin'] button[type=submit]").await;
    d.wait_for("/desk", "Hoàng Thị Hoa").await;
    d.check("desk-pick", &axe, &mut found).await;

    d.click("#procedure option[value='1.001193']").await;
    d.click("form:has(#procedure) button[type=submit]").await;
    d.wait_for("/desk?procedure=1.001193", "Thành phần hồ sơ")
        .await;
    // Keyboard first: the form opens on the applicant's name, Tab walks the fields in order,
    // each with a visible focus ring.
    assert_eq!(
        d.execute("return document.activeElement.id;", json!([]))
            .await,
        "name"
    );
    assert_eq!(d.tab().await, json!(["id_number", "solid", "3px"]));
    assert_eq!(d.tab().await, json!(["phone", "solid", "3px"]));
    assert_eq!(d.tab().await, json!(["address", "solid", "3px"]));
    assert_eq!(d.tab().await, json!(["doc0", "solid", "3px"]));
    d.type_into("#name", "Nguyễn Văn Bình").await;
    d.type_into("#id_number", "006090001234").await;
    d.type_into("#phone", "0912345678").await;
    d.type_into("#address", "thôn Nà Pài, xã Dương Phong").await;
    d.check("desk", &axe, &mut found).await;
    d.click("form[method='post'][action='/desk'] button[type=submit]")
        .await;
    let slip = d
        .wait_for("/desk", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
        .await;
    assert!(slip.contains("Nguyễn Văn Bình"));
    let marker = "Mã hồ sơ: <strong>";
    let start = slip.find(marker).expect("the code") + marker.len();
    let code = slip[start..start + slip[start..].find('<').unwrap()].to_owned();
    assert!(slip.contains("class=\"secret\""));
    let secret = d
        .execute(
            "return document.querySelector('.secret').textContent;",
            json!([]),
        )
        .await;
    let secret = secret.as_str().unwrap().to_owned();
    // The QR code is drawn (the CSP blocks nothing of it): 32 mm wide, dark modules painted.
    let qr = d
        .execute(
            "const svg = document.querySelector('figure.qr svg');
             const r = svg.getBoundingClientRect();
             const path = svg.querySelector('path');
             return [Math.round(r.width), Math.round(r.height), getComputedStyle(path).fill,
                     svg.closest('figure').dataset.url];",
            json!([]),
        )
        .await;
    assert_eq!(qr[0], 121, "{qr}");
    assert_eq!(qr[1], 121, "{qr}");
    assert_eq!(qr[2], "rgb(0, 0, 0)", "{qr}");
    assert_eq!(
        qr[3],
        s.url(&format!("/tra-cuu?ma={code}&mk={secret}")).as_str()
    );
    d.check("slip01", &axe, &mut found).await;

    let api: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &tokens["tn-01"])
        .await;
    assert_eq!(api["state_name"], "received", "{api}");

    // Every slip: a supplement request (02), an apology (04), the control slip (05), the
    // book (06), and a refusal at the desk (03) of another dossier.
    api_act(
        &s,
        &tokens["tn-01"],
        &code,
        "assign",
        json!({"specialist": "cm-tp-01"}),
    )
    .await;
    api_act(
        &s,
        &tokens["cm-tp-01"],
        &code,
        "request_supplement",
        json!({"items": ["Bản sao Giấy chứng sinh có chứng thực"], "reason": "Bản sao chưa chứng thực"}),
    )
    .await;
    let due: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &tokens["tn-01"])
        .await;
    let due = due["due"]
        .as_i64()
        .unwrap_or_else(|| panic!("a due time: {due}"));
    console_common::apologise_at(
        &s,
        &code,
        "cm-tp-01",
        Timestamp(due - 60_000),
        Timestamp(due + 30 * 24 * 3600 * 1000),
    )
    .await;
    let refused = s
        .post("/v1/dossiers", &tokens["tn-01"])
        .json(&json!({
            "procedure": PROCEDURE, "action": "refuse_to_receive",
            "reason": "Thủ tục không thuộc thẩm quyền của xã", "legal_basis": "Điều 19 Nghị định 61/2018/NĐ-CP",
            "applicant": {"name": "Lò Văn Sáng", "id_number": "006090001235", "phone": "", "address": ""},
            "documents": ["Tờ khai"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 201, "{}", refused.text().await.unwrap());
    let refused: Value = refused.json().await.unwrap();
    let refused = refused["code"].as_str().unwrap().to_owned();
    // A second dossier waits for the leader's signature.
    let signing = s.receive(&tokens["tn-01"], PROCEDURE).await;
    api_act(
        &s,
        &tokens["tn-01"],
        &signing,
        "assign",
        json!({"specialist": "cm-tp-01"}),
    )
    .await;
    api_act(
        &s,
        &tokens["cm-tp-01"],
        &signing,
        "submit_for_signing",
        json!({"draft": "result", "note": "Đủ điều kiện"}),
    )
    .await;

    d.go(&s.url("/home")).await;
    d.wait_for("/home", "Xin chào").await;
    d.check("home", &axe, &mut found).await;
    d.go(&s.url("/queue")).await;
    d.wait_for("/queue", &signing).await;
    d.check("queue", &axe, &mut found).await;
    // The lists reload themselves through the console's script (the meta refresh is only for
    // browsers without script), and the person can stop it (WCAG 2.2.1).
    let status = "return document.querySelector('.refresh [role=status]').textContent;";
    assert_eq!(
        d.execute(status, json!([])).await,
        "Trang tự cập nhật mỗi 60 giây."
    );
    d.click("#refresh-toggle").await;
    assert_eq!(
        d.execute(status, json!([])).await,
        "Đã tạm dừng tự cập nhật."
    );
    let live_meta = "return document.querySelectorAll('meta[http-equiv=refresh]').length;";
    assert_eq!(d.execute(live_meta, json!([])).await, 0);
    d.go(&s.url(&format!("/search?q={code}"))).await;
    d.wait_for(&format!("/search?q={code}"), "Tìm thấy 1 hồ sơ.")
        .await;
    d.check("search", &axe, &mut found).await;
    d.go(&s.url(&format!("/dossiers/{code}"))).await;
    d.wait_for(&format!("/dossiers/{code}"), "Quá trình xử lý")
        .await;
    d.check("dossier", &axe, &mut found).await;
    d.go(&s.url(&format!("/dossiers/{code}/slip01"))).await;
    d.wait_for("/slip01", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
        .await;
    d.check("slip01-reprint", &axe, &mut found).await;
    for (n, of) in [
        ("02", &code),
        ("03", &refused),
        ("04", &code),
        ("05", &code),
        ("06", &code),
    ] {
        d.go(&s.url(&format!("/dossiers/{of}/slips/{n}"))).await;
        d.wait_for(&format!("/slips/{n}"), "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
            .await;
        d.check(&format!("slip{n}"), &axe, &mut found).await;
    }

    // The other roles' screens.
    for (id, path, name, text) in [
        ("cm-tp-01", "/worklist", "worklist", code.as_str()),
        ("ld-01", "/inbox", "inbox", signing.as_str()),
        ("tt-01", "/audit", "audit", "Nhật ký đăng nhập"),
        ("qt-01", "/staff", "staff", "Cán bộ"),
        ("qt-01", "/personal", "personal", "Xoá theo yêu cầu"),
        (
            "ld-01",
            "/thong-ke",
            "stats",
            "Số hồ sơ tiếp nhận mới trong kỳ",
        ),
        ("qt-01", "/procedures", "procedures", "1.001193"),
        ("qt-01", "/calendar", "calendar", "Thay thế lịch đã công bố"),
        ("qt-01", "/office-hours", "office-hours", "Giờ làm việc"),
    ] {
        let cookie = session_of(&s, id).await;
        d.use_session(&cookie).await;
        d.go(&s.url(path)).await;
        d.wait_for(path, text).await;
        d.check(name, &axe, &mut found).await;
        if name == "inbox" {
            // A ticked box holds the reload: the leader's choice is not thrown away.
            d.click(&format!("input[value='{signing}']")).await;
            let status = "return document.querySelector('.refresh [role=status]').textContent;";
            assert_eq!(
                d.execute(status, json!([])).await,
                "Tạm dừng tự cập nhật trong khi bạn đang chọn hoặc nhập liệu."
            );
        }
    }

    // The public lookup, signed out: the form, the answer, and both on a 360 px phone.
    d.call(reqwest::Method::DELETE, "/cookie", Value::Null)
        .await;
    d.go(&s.url("/tra-cuu")).await;
    d.wait_for("/tra-cuu", "Mã tra cứu").await;
    d.check("lookup-form", &axe, &mut found).await;
    // Keyboard only: Tab reaches the code, the secret and the button, each visibly focused.
    assert_eq!(d.tab().await, json!(["ma", "solid", "3px"]));
    assert_eq!(d.tab().await, json!(["mk", "solid", "3px"]));
    assert_eq!(d.tab().await, json!(["button", "solid", "3px"]));
    d.type_into("#ma", &code).await;
    d.type_into("#mk", &secret).await;
    d.click("form[action='/tra-cuu'] button[type=submit]").await;
    d.wait_for("/tra-cuu", "Cần bổ sung hồ sơ").await;
    d.check("lookup", &axe, &mut found).await;
    d.viewport(360, 740).await;
    d.go(&s.url(&format!("/tra-cuu?ma={code}&mk={secret}")))
        .await;
    let phone = d
        .wait_for(&format!("&mk={secret}"), "Hẹn lại ngày trả kết quả")
        .await;
    assert!(phone.contains("Bản sao Giấy chứng sinh có chứng thực"));
    let fits = d
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            json!([]),
        )
        .await;
    assert_eq!(
        fits[0], fits[1],
        "the lookup fits a 360 px phone without scrolling sideways: {fits}"
    );
    d.check("lookup-phone", &axe, &mut found).await;
    // The public catalog, on the phone: one procedure opened in place.
    d.go(&s.url("/thu-tuc?q=khai+sinh")).await;
    d.wait_for("/thu-tuc?q=khai+sinh", "Đăng ký khai sinh (1.001193)")
        .await;
    d.click("details.procedure summary").await;
    let fits = d
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            json!([]),
        )
        .await;
    assert_eq!(fits[0], fits[1], "the catalog fits a 360 px phone: {fits}");
    d.check("catalog-phone", &axe, &mut found).await;
    d.quit().await;

    assert!(
        found.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        found.join("\n")
    );
    s.server.shutdown().await.unwrap();
}

/// The whole life of a dossier through the console only, in a real browser: the desk receives
/// it and prints slip 01 (code, due time and secret checked in the page), the desk assigns it,
/// the specialist submits it for signing from their work list, the leader approves it from
/// the inbox, the desk hands the result over; the public lookup then says "Đã trả kết quả".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dossier_goes_from_receipt_to_hand_over_through_the_console_only() {
    if skip_without_chromedriver() {
        return;
    }
    let (s, tokens) = commune().await;
    let d = Driver::start().await;
    let as_staff = |id: &'static str| {
        let s = &s;
        let d = &d;
        async move {
            let cookie = session_of(s, id).await;
            // A cookie is set on the page's own origin: be on it first.
            d.go(&s.url("/tra-cuu")).await;
            d.use_session(&cookie).await;
        }
    };
    let submit = |action: &'static str| {
        format!("form:has(input[name=action][value='{action}']) button[type=submit]")
    };

    as_staff("tn-01").await;
    d.go(&s.url("/desk?procedure=1.001193")).await;
    d.wait_for("/desk?procedure=1.001193", "Thành phần hồ sơ")
        .await;
    d.type_into("#name", "Đinh Thị Trọn Đời").await;
    d.type_into("#id_number", "006090004321").await;
    d.type_into("#phone", "0912345679").await;
    d.type_into("#address", "thôn Nà Pài, xã Dương Phong").await;
    d.click("form[method='post'][action='/desk'] button[type=submit]")
        .await;
    let slip = d
        .wait_for("/desk", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
        .await;
    let marker = "Mã hồ sơ: <strong>";
    let start = slip.find(marker).expect("the code") + marker.len();
    let code = slip[start..start + slip[start..].find('<').unwrap()].to_owned();
    let secret = d
        .execute(
            "return document.querySelector('.secret').textContent;",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let api = s
        .get_json(&format!("/v1/dossiers/{code}"), &tokens["tn-01"])
        .await;
    let due = motcua_engine::domain::types::Timestamp(api["due"].as_i64().unwrap());
    assert!(
        slip.contains(&motcua_http::console::layout::datetime_vi(due)),
        "slip 01 shows the due time {api}"
    );
    assert_eq!(secret.len(), 10, "{secret}");

    // The desk hands it to the specialist from the dossier page.
    let page = format!("/dossiers/{code}");
    d.go(&s.url(&page)).await;
    d.wait_for(&page, "Mới tiếp nhận").await;
    d.click("#assign-specialist option[value='cm-tp-01']").await;
    d.click(&submit("assign")).await;
    d.wait_for(&page, "Đang xử lý").await;

    // The specialist finds it in their work list and submits it for signing.
    as_staff("cm-tp-01").await;
    d.go(&s.url("/worklist")).await;
    d.wait_for("/worklist", &code).await;
    d.click(&format!("a[href='{page}']")).await;
    d.wait_for(&page, "Đang xử lý").await;
    d.type_into("#submit_for_signing-note", "Đủ điều kiện cấp")
        .await;
    d.click(&submit("submit_for_signing")).await;
    d.wait_for(&page, "Chờ ký duyệt").await;

    // The leader approves it from the inbox.
    as_staff("ld-01").await;
    d.go(&s.url("/inbox")).await;
    d.wait_for("/inbox", &code).await;
    d.click(&format!("#pick-{}", code.replace('.', "\\.")))
        .await;
    d.click("form[action='/inbox'] button[type=submit]").await;
    d.wait_for("/inbox", &format!("Đã ký duyệt hồ sơ {code}."))
        .await;

    // The desk hands the result over.
    as_staff("tn-01").await;
    d.go(&s.url(&page)).await;
    d.wait_for(&page, "Đã có kết quả").await;
    d.click(&submit("hand_over")).await;
    d.wait_for(&page, "Đã trả kết quả").await;

    // The citizen's lookup, with the code and secret of slip 01.
    d.go(&s.url(&format!("/tra-cuu?ma={code}&mk={secret}")))
        .await;
    d.wait_for(&format!("&mk={secret}"), "Đã trả kết quả").await;
    let api = s
        .get_json(&format!("/v1/dossiers/{code}"), &tokens["tn-01"])
        .await;
    assert_eq!(api["state_name"], "returned", "{api}");
    d.quit().await;
    s.server.shutdown().await.unwrap();
}

/// What the console refuses, in a real browser: sign-in throttled after five failures, a form
/// whose CSRF token was tampered with, a specialist who sees no leader's action on a dossier
/// awaiting signature (the leader does), and a deactivated officer thrown out at the next page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_what_it_must_in_a_real_browser() {
    if skip_without_chromedriver() {
        return;
    }
    let (s, tokens) = commune().await;
    account(&s, "tt-01").await;
    let d = Driver::start().await;

    // Five wrong passwords, then even the right one waits.
    for _ in 0..5 {
        d.go(&s.url("/signin")).await;
        d.wait_for("/signin", "Đăng nhập").await;
        d.type_into("#username", "tt-01").await;
        d.type_into("#password", "không phải mật khẩu").await;
        d.click("form[action='/signin'] button[type=submit]").await;
        d.wait_for("/signin", "Tên đăng nhập hoặc mật khẩu không đúng")
            .await;
    }
    d.go(&s.url("/signin")).await;
    d.wait_for("/signin", "Đăng nhập").await;
    d.type_into("#username", "tt-01").await;
    d.type_into("#password", PASSWORD).await;
    d.click("form[action='/signin'] button[type=submit]").await;
    d.wait_for("/signin", "Đăng nhập sai quá nhiều lần").await;

    // A tampered CSRF token: refused, nothing changed.
    let desk = session_of(&s, "tn-01").await;
    d.use_session(&desk).await;
    d.go(&s.url("/password")).await;
    d.wait_for("/password", "Đổi mật khẩu").await;
    d.execute(
        "document.querySelectorAll('input[name=csrf]').forEach(e => e.value = 'forged');",
        json!([]),
    )
    .await;
    d.type_into("#current", PASSWORD).await;
    d.type_into("#new", "một mật khẩu mới rất dài").await;
    d.type_into("#confirm", "một mật khẩu mới rất dài").await;
    d.click("form[action='/password'] button[type=submit]")
        .await;
    d.wait_for("/password", "thiếu mã chống giả mạo").await;
    let mut check = console_common::Browser::new(&s);
    let r = check.sign_in("tn-01", PASSWORD).await;
    assert_eq!(r.status, 303, "the old password still signs in: {}", r.body);

    // A dossier awaiting signature: the specialist sees no approval, the leader does.
    let code = s.receive(&tokens["tn-01"], "1.001193").await;
    api_act(
        &s,
        &tokens["tn-01"],
        &code,
        "assign",
        json!({"specialist": "cm-tp-01"}),
    )
    .await;
    api_act(
        &s,
        &tokens["cm-tp-01"],
        &code,
        "submit_for_signing",
        json!({"draft": "result", "note": "Đủ điều kiện"}),
    )
    .await;
    let page = format!("/dossiers/{code}");
    let forms = "return [...document.querySelectorAll('input[name=action]')].map(e => e.value);";
    d.use_session(&session_of(&s, "cm-tp-01").await).await;
    d.go(&s.url(&page)).await;
    d.wait_for(&page, "Chờ ký duyệt").await;
    let seen = d.execute(forms, json!([])).await;
    assert!(!seen.to_string().contains("approve"), "{seen}");
    d.use_session(&session_of(&s, "ld-01").await).await;
    d.go(&s.url(&page)).await;
    d.wait_for(&page, "Chờ ký duyệt").await;
    let seen = d.execute(forms, json!([])).await;
    assert!(seen.to_string().contains("\"approve\""), "{seen}");

    // Deactivated while signed in: the next page is the sign-in.
    d.use_session(&desk).await;
    d.go(&s.url("/desk")).await;
    d.wait_for("/desk", "Tiếp nhận hồ sơ").await;
    let mut admin = signed_in(&s, "qt-01").await;
    let csrf = admin.csrf().await;
    let r = admin
        .post("/staff/tn-01/deactivate", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    d.go(&s.url("/desk")).await;
    d.wait_for("/signin", "Đăng nhập").await;
    d.quit().await;
    s.server.shutdown().await.unwrap();
}

/// The width of the page and of its content: equal when the page fits without scrolling
/// sideways.
async fn fits_phone(d: &Driver, what: &str) {
    let fits = d
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            json!([]),
        )
        .await;
    assert_eq!(fits[0], fits[1], "{what} fits a 360 px phone: {fits}");
}

/// The text between `start` and the next `end` of a page's source.
fn between<'s>(source: &'s str, start: &str, end: &str) -> &'s str {
    let i = source
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {source}"))
        + start.len();
    let j = source[i..].find(end).unwrap() + i;
    &source[i..j]
}

/// A citizen on a 360 px phone: signs up, opens a procedure of the catalog and submits it
/// online (the code and the secret on the page), is asked for a supplement (the desk and the
/// specialist through the API), reads what is asked and supplements online, and sees the
/// result handed over in their list; another citizen gets "not found" for that dossier. Every
/// page is checked by axe-core, fits the phone's width and is saved as a screenshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_submits_and_supplements_online_on_a_phone() {
    if skip_without_chromedriver() {
        return;
    }
    let (s, t) = commune().await;
    let axe = axe_source();
    let mut found = Vec::new();
    let d = Driver::start().await;
    d.viewport(360, 740).await;
    let password = "mật khẩu công dân 2026";

    d.go(&s.url("/cong-dan/dang-ky")).await;
    d.wait_for("/cong-dan/dang-ky", "Đăng ký tài khoản công dân")
        .await;
    fits_phone(&d, "the sign-up").await;
    d.check("citizen-signup", &axe, &mut found).await;
    d.type_into("#login", "091 234 5678").await;
    d.type_into("#password", password).await;
    d.type_into("#confirm", password).await;
    d.click("form[action='/cong-dan/dang-ky'] button[type=submit]")
        .await;
    d.wait_for("/cong-dan", "Bạn chưa nộp hồ sơ trực tuyến nào")
        .await;

    // From the catalog: the procedure opened in place, its "Nộp trực tuyến" link.
    let procedure = "1.004873";
    d.go(&s.url(&format!("/thu-tuc?q={procedure}"))).await;
    d.wait_for(&format!("/thu-tuc?q={procedure}"), "Nộp trực tuyến")
        .await;
    d.click("details.procedure summary").await;
    d.click(&format!("a[href^='/cong-dan/nop/{procedure}']"))
        .await;
    let form = format!("/cong-dan/nop/{procedure}?don-vi=000.33.22.H05");
    d.wait_for(&form, "Thành phần hồ sơ đã chuẩn bị").await;
    fits_phone(&d, "the submission form").await;
    d.check("citizen-submit", &axe, &mut found).await;
    d.type_into("#name", "Trần Thị Lan").await;
    d.type_into("#id_number", "006190004321").await;
    d.type_into("#phone", "0987654321").await;
    d.type_into("#address", "thôn Nà Pài, xã Dương Phong").await;
    d.click("#doc-0").await;
    d.click(&format!(
        "form[action='/cong-dan/nop/{procedure}'] button[type=submit]"
    ))
    .await;
    let done = d
        .wait_for(&format!("/cong-dan/nop/{procedure}"), "Đã nộp hồ sơ")
        .await;
    let code = between(&done, "<dt>Mã hồ sơ</dt><dd><strong>", "<").to_owned();
    let secret = between(&done, "<span class=\"secret\">", "<").to_owned();
    assert!(code.starts_with("000.33.22.H05-"), "{code}");
    assert_eq!(secret.len(), 10);
    fits_phone(&d, "the submission's answer").await;
    d.check("citizen-submitted", &axe, &mut found).await;

    // The desk receives it; the specialist asks for a supplement.
    api_act(&s, &t["tn-01"], &code, "receive", json!({})).await;
    api_act(
        &s,
        &t["tn-01"],
        &code,
        "assign",
        json!({"specialist": "cm-tp-01"}),
    )
    .await;
    api_act(
        &s,
        &t["cm-tp-01"],
        &code,
        "request_supplement",
        json!({"items": ["Bản sao CCCD có chứng thực"], "reason": "Thiếu giấy tờ tùy thân"}),
    )
    .await;
    let page = format!("/cong-dan/ho-so/{code}");
    d.go(&s.url(&page)).await;
    let asked = d.wait_for(&page, "Yêu cầu bổ sung giấy tờ").await;
    assert!(asked.contains("Bản sao CCCD có chứng thực"));
    fits_phone(&d, "the dossier asking for a supplement").await;
    d.check("citizen-dossier-supplement", &axe, &mut found)
        .await;
    d.type_into("#supplement-note", "Đã tải lên bản sao CCCD có chứng thực")
        .await;
    d.click(&format!(
        "form[action='/cong-dan/ho-so/{code}/bo-sung'] button[type=submit]"
    ))
    .await;
    d.wait_for(&format!("{page}/bo-sung"), "Đã nộp bổ sung")
        .await;
    d.wait_for(&format!("{page}/bo-sung"), "Đang xử lý").await;

    // To hand-over: the citizen's list says so.
    api_act(
        &s,
        &t["cm-tp-01"],
        &code,
        "submit_for_signing",
        json!({"draft": "result"}),
    )
    .await;
    api_act(&s, &t["ld-01"], &code, "approve", json!({})).await;
    api_act(&s, &t["tn-02"], &code, "hand_over", json!({})).await;
    d.go(&s.url("/cong-dan")).await;
    let list = d.wait_for("/cong-dan", "Đã trả kết quả").await;
    assert!(list.contains(&code));
    fits_phone(&d, "the citizen's list").await;
    d.check("citizen-dossiers", &axe, &mut found).await;

    // After hand-over: the rating form on a phone; the citizen picks a level by its label.
    d.go(&s.url(&page)).await;
    d.wait_for(&page, "Đánh giá mức độ hài lòng").await;
    fits_phone(&d, "the rating form").await;
    d.check("citizen-rating", &axe, &mut found).await;
    d.click("label[for='level-very_satisfied']").await;
    d.type_into("#rating-comment", "Cán bộ hướng dẫn tận tình")
        .await;
    d.click(&format!(
        "form[action='/cong-dan/ho-so/{code}/danh-gia'] button[type=submit]"
    ))
    .await;
    let thanks = d
        .wait_for(&format!("{page}/danh-gia"), "Cảm ơn bạn đã đánh giá")
        .await;
    assert!(thanks.contains("<strong>Rất hài lòng</strong>"), "{thanks}");
    d.check("citizen-rated", &axe, &mut found).await;

    // Another citizen: that dossier is not found.
    d.call(reqwest::Method::DELETE, "/cookie", Value::Null)
        .await;
    d.go(&s.url("/cong-dan/dang-ky")).await;
    d.wait_for("/cong-dan/dang-ky", "Đăng ký tài khoản công dân")
        .await;
    d.type_into("#login", "binh.tran@example.vn").await;
    d.type_into("#password", password).await;
    d.type_into("#confirm", password).await;
    d.click("form[action='/cong-dan/dang-ky'] button[type=submit]")
        .await;
    d.wait_for("/cong-dan", "Bạn chưa nộp hồ sơ trực tuyến nào")
        .await;
    d.go(&s.url(&page)).await;
    let other = d.wait_for(&page, "Không tìm thấy hồ sơ").await;
    assert!(!other.contains("Bản sao CCCD"));
    d.check("citizen-not-found", &axe, &mut found).await;

    // That citizen's own account page on a phone, then the account closed with the password.
    d.click("nav a[href='/cong-dan/tai-khoan']").await;
    d.wait_for("/cong-dan/tai-khoan", "Xoá tài khoản").await;
    fits_phone(&d, "the account page").await;
    d.check("citizen-account", &axe, &mut found).await;
    d.type_into("#close-password", password).await;
    d.click("form[action='/cong-dan/tai-khoan/xoa'] button[type=submit]")
        .await;
    d.wait_for("/cong-dan/tai-khoan/xoa", "Đã xoá tài khoản")
        .await;
    d.check("citizen-account-closed", &axe, &mut found).await;
    d.go(&s.url("/cong-dan")).await;
    d.wait_for("/cong-dan/dang-nhap", "Đăng nhập tài khoản công dân")
        .await;
    d.quit().await;

    assert!(
        found.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        found.join("\n")
    );
    s.server.shutdown().await.unwrap();
}

/// The dashboards in a real browser, on the demo commune (seeded as `motcua serve --demo`
/// seeds it): a leader signs in with the form, asks the statistics page for January-August
/// 2023 at the desk through its own form and reads the demo's report on the page (342
/// received, 342 resolved, 216 early, 126 on time, 0 in progress), then the online e-copy
/// certifications (187); clicks a figure through to its dossier list, which has as many codes
/// as the figure says; opens the reform plans, follows the plan to its dashboard as of 31
/// August 2023 and reads a task's row with its status in words. Both pages are checked by
/// axe-core and saved as screenshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_reads_the_demo_dashboards_in_a_real_browser() {
    if skip_without_chromedriver() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::demo_in(&tmp.path().join("data")).await;
    let leader = s
        .server
        .demo_tokens
        .iter()
        .find(|t| t.role == "leader")
        .expect("the demo has a leader")
        .staff
        .clone();
    account(&s, &leader).await;
    let axe = axe_source();
    let mut found = Vec::new();
    let d = Driver::start().await;

    d.go(&s.url("/signin")).await;
    d.wait_for("/signin", "Đăng nhập").await;
    d.type_into("#username", &leader).await;
    d.type_into("#password", PASSWORD).await;
    d.click("form[action='/signin'] button[type=submit]").await;
    d.wait_for("", "Đăng xuất").await;

    // The period and the channel through the page's own form.
    d.go(&s.url("/thong-ke")).await;
    d.wait_for("/thong-ke", "Kỳ báo cáo").await;
    let choose = |from: &str, to: &str, procedure: &str| {
        format!(
            "document.getElementById('from').value = '{from}';
             document.getElementById('to').value = '{to}';
             document.getElementById('procedure').value = '{procedure}';"
        )
    };
    d.execute(&choose("2023-01-01", "2023-08-31", ""), json!([]))
        .await;
    d.click("#channel option[value='desk']").await;
    d.click("form[action='/thong-ke'] button[type=submit]")
        .await;
    d.wait_for(
        "/thong-ke?from=2023-01-01&to=2023-08-31&field=&procedure=&channel=desk",
        "Kỳ báo cáo: từ 01/01/2023 đến 31/08/2023",
    )
    .await;
    let figure = |name: &str| {
        format!("return document.querySelector('td[data-figure=\"{name}\"] a').textContent;")
    };
    for (name, n) in [
        ("received", "342"),
        ("resolved", "342"),
        ("resolved_early", "216"),
        ("resolved_on_time", "126"),
        ("resolved_late", "0"),
        ("in_progress", "0"),
    ] {
        assert_eq!(d.execute(&figure(name), json!([])).await, n, "{name}");
    }
    d.check("statistics-demo", &axe, &mut found).await;

    // A figure clicked: the dossiers behind it, as many as it says.
    d.click("td[data-figure='resolved_on_time'] a").await;
    d.wait_for("figure=resolved_on_time", "Hồ sơ: đúng hạn (126)")
        .await;
    let listed = d
        .execute(
            "return document.querySelectorAll('ul.codes li a[href^=\"/dossiers/\"]').length;",
            json!([]),
        )
        .await;
    assert_eq!(listed, 126, "the list behind the figure");
    d.execute(
        "document.getElementById('ho-so').scrollIntoView();",
        json!([]),
    )
    .await;
    d.check("statistics-demo-list", &axe, &mut found).await;

    // The online e-copy certifications of the same period.
    d.execute(&choose("2023-01-01", "2023-08-31", "2.001035"), json!([]))
        .await;
    d.click("#channel option[value='online']").await;
    d.click("form[action='/thong-ke'] button[type=submit]")
        .await;
    d.wait_for("channel=online", "Kỳ báo cáo").await;
    assert_eq!(d.execute(&figure("received"), json!([])).await, "187");
    assert_eq!(d.execute(&figure("resolved"), json!([])).await, "187");

    // The reform plans, the plan's dashboard as of 31 August 2023, a task's row in words.
    d.go(&s.url("/ke-hoach")).await;
    d.wait_for("/ke-hoach", "35/KH-UBND").await;
    d.check("plans-demo", &axe, &mut found).await;
    d.click("a[href='/ke-hoach/35-kh-ubnd-2023']").await;
    d.wait_for("/ke-hoach/35-kh-ubnd-2023", "data-task").await;
    d.go(&s.url("/ke-hoach/35-kh-ubnd-2023?ngay=2023-08-31"))
        .await;
    d.wait_for("?ngay=2023-08-31", "data-task").await;
    let row = |task: &str| {
        format!("return document.querySelector('tr[data-task=\"{task}\"]').innerText;")
    };
    let listing = d.execute(&row("niem-yet-tthc"), json!([])).await;
    assert!(
        listing.as_str().unwrap_or_default().contains("Hoàn thành"),
        "{listing}"
    );
    let certified = d.execute(&row("chung-thuc-dien-tu"), json!([])).await;
    assert!(
        certified.as_str().unwrap_or_default().contains("187"),
        "{certified}"
    );
    d.check("plan-dashboard-demo", &axe, &mut found).await;
    d.quit().await;

    assert!(
        found.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        found.join("\n")
    );
    s.server.shutdown().await.unwrap();
}
