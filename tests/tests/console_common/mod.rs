//! Helpers of the console's end-to-end tests: a browser-like client over plain HTTP (no
//! redirects followed, cookies kept by hand so each test sees every `Set-Cookie` exactly), the
//! hidden fields of a page, console accounts for the demo commune's staff, and an apology
//! decided at a chosen business time.
#![allow(dead_code)]

use std::collections::HashMap;

use motcua_engine::domain::types::StaffId;
use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};

use crate::http_common::TestServer;

/// The password every test account gets.
pub const PASSWORD: &str = "mật khẩu thử nghiệm 2026";

/// One answer, read whole.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    /// The value of the first `<input ... name="NAME" value="...">` of the page.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

/// A browser: its own cookies, no redirect followed.
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

impl Browser {
    pub fn new(s: &TestServer) -> Browser {
        Browser {
            base: s.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for c in headers.get_all(SET_COOKIE).iter() {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = resp.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    /// Opens the sign-in page and signs in; the answer to the form.
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/signin").await;
        assert_eq!(form.status, 200);
        let csrf = form.hidden("csrf");
        self.post(
            "/signin",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// The CSRF token of the session, read from a page's forms.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/password").await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.hidden("csrf")
    }
}

/// Gives staff member `id` the console account `id` with [`PASSWORD`].
pub async fn account(s: &TestServer, id: &str) {
    let staff: StaffId = id.parse().unwrap();
    s.server
        .app()
        .accounts()
        .set_password(None, &staff, id, PASSWORD, "test")
        .await
        .unwrap();
}

/// A browser signed in as `id` (its account made first).
pub async fn signed_in(s: &TestServer, id: &str) -> Browser {
    account(s, id).await;
    let mut b = Browser::new(s);
    let r = b.sign_in(id, PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    b
}

/// Records an apology for dossier `code` by staff member `staff` through the engine's command
/// service, decided at business time `at`: the domain allows an apology only within the last
/// office day before the due time, which the server's own clock reaches at a time of day the
/// tests cannot choose. The command, its checks and its events are the server's.
pub async fn apologise_at(
    s: &TestServer,
    code: &str,
    staff: &str,
    at: motcua_engine::domain::types::Timestamp,
    new_appointment: motcua_engine::domain::types::Timestamp,
) {
    let svc = motcua_engine::service::CommandService::new(
        s.server.log().clone(),
        motcua_engine::domain::ReferenceData::builtin().unwrap(),
    )
    .unwrap();
    let id: StaffId = staff.parse().unwrap();
    let member = svc
        .with_reference(|r| r.directory.staff(&id).cloned())
        .unwrap()
        .expect("a registered staff member");
    let code = code.parse().unwrap();
    let cmd = motcua_engine::domain::Command::Apologise {
        reason: "Chờ xác minh thông tin".into(),
        new_appointment,
    };
    let actor = motcua_engine::domain::ActorRef::Staff(member);
    svc.execute(Some(&code), cmd, &actor, at, None, None)
        .await
        .expect("the apology is recorded");
    assert!(s.server.app().wait_for_read_models(s.head()).await);
}
