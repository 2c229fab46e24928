//! Helpers of the HTTP end-to-end tests: a real server on 127.0.0.1:0 over a temporary data
//! directory, staff with tokens, and a reqwest client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use motcua_engine::domain::types::{Field, Role, Staff, Timestamp};
use motcua_http::app::tokens::new_token;
use motcua_http::config::ServeConfig;
use motcua_http::server::{self, RunningServer};

pub const UNIT: &str = "000.33.22.H05";
pub const OTHER_UNIT: &str = "000.33.22.H06";

pub struct TestServer {
    pub server: RunningServer,
    pub dir: PathBuf,
    pub base: String,
    pub client: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
}

pub fn config(dir: &std::path::Path) -> ServeConfig {
    let mut c = ServeConfig::new(dir, "127.0.0.1:0".parse::<SocketAddr>().unwrap());
    c.print_demo_tokens = false;
    c
}

impl TestServer {
    pub async fn start() -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let mut s = TestServer::start_in(config(&dir)).await;
        s._tmp = Some(tmp);
        s
    }

    pub async fn start_in(config: ServeConfig) -> TestServer {
        let dir = config.data_dir.clone();
        let server = server::start(config).await.unwrap();
        let base = format!("http://{}", server.addr);
        TestServer {
            server,
            dir,
            base,
            client: reqwest::Client::new(),
            _tmp: None,
        }
    }

    /// A server on `dir` seeded with the demo commune (its tokens in `server.demo_tokens`).
    pub async fn demo_in(dir: &std::path::Path) -> TestServer {
        let mut c = config(dir);
        c.demo = true;
        TestServer::start_in(c).await
    }

    /// The demo token of the first staff member holding `role`.
    pub fn demo_token(&self, role: &str) -> String {
        self.server
            .demo_tokens
            .iter()
            .find(|t| t.role == role)
            .unwrap_or_else(|| panic!("no demo token for {role}"))
            .token
            .clone()
    }

    /// The demo tokens by staff id.
    pub fn demo_tokens_by_staff(&self) -> std::collections::HashMap<String, String> {
        self.server
            .demo_tokens
            .iter()
            .map(|t| (t.staff.clone(), t.token.clone()))
            .collect()
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(self) -> TestServer {
        let TestServer {
            server, dir, _tmp, ..
        } = self;
        server.shutdown().await.unwrap();
        let mut s = TestServer::start_in(config(&dir)).await;
        s._tmp = _tmp;
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn head(&self) -> u64 {
        self.server.log().head().seq
    }

    /// Registers a staff member directly through the log and returns their token.
    pub async fn staff(&self, id: &str, unit: &str, roles: &[Role], fields: &[&str]) -> String {
        let staff = Staff {
            id: id.parse().unwrap(),
            name: format!("Cán bộ {id}"),
            unit: unit.parse().unwrap(),
            roles: roles.to_vec(),
            fields: fields.iter().map(|f| f.parse::<Field>().unwrap()).collect(),
            active: true,
        };
        let token = new_token();
        let directory = self.server.app().staff();
        directory
            .ensure_unit(&staff.unit, Some("UBND xã thử nghiệm"), &[], Timestamp(0))
            .await
            .unwrap();
        let seq = directory
            .register_as_system(&staff, &token, Timestamp(0))
            .await
            .unwrap();
        assert!(self.server.app().wait_for_read_models(seq).await);
        token.token
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }

    /// GETs `path` with `token` and returns the body as JSON (whatever the status: callers
    /// that care about it use [`TestServer::get`]).
    pub async fn get_json(&self, path: &str, token: &str) -> serde_json::Value {
        self.get(path, token)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json body")
    }

    /// The server's OpenAPI document, fetched as any client would (no token).
    pub async fn openapi(&self) -> serde_json::Value {
        let resp = self.client.get(self.url("/v1/openapi.json")).send();
        resp.await.expect("send").json().await.expect("json body")
    }

    /// Receives a new dossier of `procedure` at the desk as `token` (201 asserted); its code.
    pub async fn receive(&self, token: &str, procedure: &str) -> String {
        self.receive_body(token, &new_dossier(procedure)).await
    }

    /// Receives a dossier of procedure 1.001193 for the applicant `applicant` (name,
    /// id_number, phone, address) as `token` (201 asserted); its code.
    pub async fn receive_for(&self, token: &str, applicant: serde_json::Value) -> String {
        let body = serde_json::json!({
            "procedure": "1.001193",
            "applicant": applicant,
            "documents": ["Tờ khai"]
        });
        self.receive_body(token, &body).await
    }

    async fn receive_body(&self, token: &str, body: &serde_json::Value) -> String {
        let r = self
            .post("/v1/dossiers", token)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<serde_json::Value>().await.unwrap()["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(token)
    }
}

/// Asserts a problem+json response with the given status and type slug; returns the body.
pub async fn problem(resp: reqwest::Response, status: u16, slug: &str) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["type"], format!("/problems/{slug}"), "{body}");
    assert_eq!(body["status"], status);
    body
}

/// A server whose log holds the demo commune's reference data (unit, calendar, catalog, staff)
/// but no dossiers; returns it with the staff tokens by staff id.
pub async fn commune() -> (TestServer, std::collections::HashMap<String, String>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = commune_in(config(&tmp.path().join("data"))).await;
    s.0._tmp = Some(tmp);
    s
}

/// [`commune`] on a server started with `config`.
pub async fn commune_in(
    config: ServeConfig,
) -> (TestServer, std::collections::HashMap<String, String>) {
    let s = TestServer::start_in(config).await;
    let svc = motcua_engine::service::CommandService::new(
        s.server.log().clone(),
        motcua_engine::domain::ReferenceData::builtin().unwrap(),
    )
    .unwrap();
    let (tokens, _) = motcua_http::demo::seed_reference(&svc).await.unwrap();
    assert!(s.server.app().wait_for_read_models(s.head()).await);
    let map = tokens.into_iter().map(|t| (t.staff, t.token)).collect();
    (s, map)
}

/// A desk receipt body for `procedure`.
pub fn new_dossier(procedure: &str) -> serde_json::Value {
    serde_json::json!({
        "procedure": procedure,
        "applicant": {"name": "Hoàng Văn Nam", "id_number": "006090001234", "phone": "0912345678",
                      "address": "thôn Nà Pài, xã Dương Phong"},
        "documents": ["Tờ khai", "Giấy chứng sinh"]
    })
}
