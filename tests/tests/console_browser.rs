//! The console in a real browser: Debian's headless Chromium driven over WebDriver (the
//! W3C protocol spoken with reqwest to `chromedriver`, no extra crate). A desk officer signs in
//! with a wrong password (the Vietnamese message), then the right one, lands on the desk,
//! picks a procedure, types the applicant and receives: slip 01 shows the dossier's code and
//! lookup secret, and the API has the dossier. `.ci/run` installs `chromium`,
//! `chromium-driver` and `fonts-noto-core`; without `chromedriver` the test fails under CI
//! (`CI` set) and is skipped with a note elsewhere.

mod console_common;
mod http_common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use console_common::{account, PASSWORD};
use http_common::commune;
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The element key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

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
        // element waits for it (bounded).
        d.call(
            reqwest::Method::POST,
            "/timeouts",
            json!({"implicit": 10_000, "pageLoad": 30_000}),
        )
        .await;
        d
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.http.request(method.clone(), url);
        let req = if method == reqwest::Method::GET {
            req
        } else {
            req.json(&body)
        };
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

    async fn quit(self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_officer_receives_a_dossier_in_a_real_browser() {
    if !std::path::Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium-driver (.ci/run)"
        );
        eprintln!("skipped: {CHROMEDRIVER} is not installed (apt-get install chromium chromium-driver fonts-noto-core)");
        return;
    }
    let (s, tokens) = commune().await;
    account(&s, "tn-01").await;
    let d = Driver::start().await;

    d.go(&s.url("/")).await;
    d.wait_for("/signin", "Đăng nhập").await;
    d.type_into("#username", "tn-01").await;
    d.type_into("#password", "sai mật khẩu").await;
    d.click("form[action='/signin'] button[type=submit]").await;
    d.wait_for("/signin", "Tên đăng nhập hoặc mật khẩu không đúng.")
        .await;

    d.type_into("#password", PASSWORD).await;
    d.click("form[action='/signin'] button[type=submit]").await;
    d.wait_for("/desk", "Hoàng Thị Hoa").await;

    d.click("#procedure option[value='1.001193']").await;
    d.click("form[method='get'][action='/desk'] button[type=submit]")
        .await;
    d.wait_for("/desk?procedure=1.001193", "Thành phần hồ sơ")
        .await;
    d.type_into("#name", "Nguyễn Văn Bình").await;
    d.type_into("#id_number", "006090001234").await;
    d.type_into("#phone", "0912345678").await;
    d.type_into("#address", "thôn Nà Pài, xã Dương Phong").await;
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
    d.quit().await;

    let api: Value = s
        .get_json(&format!("/v1/dossiers/{code}"), &tokens["tn-01"])
        .await;
    assert_eq!(api["state_name"], "received", "{api}");
    s.server.shutdown().await.unwrap();
}
