//! End-to-end tests of the server's plumbing against a real server on an ephemeral port:
//! probes, metrics, authentication, the error statuses of a write endpoint (with the log head
//! unchanged), idempotent retries, the log over HTTP and SSE, public lookup, restart.

mod http_common;

use std::time::Duration;

use http_common::{problem, TestServer, OTHER_UNIT, UNIT};
use motcua_engine::domain::types::Role;
use serde_json::json;

/// The metrics token of [`probes_metrics_and_request_ids`]'s server.
const METRICS_TOKEN: &str = "prometheus-scrape-token-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_and_request_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = http_common::config(&tmp.path().join("data"));
    config.metrics_token = Some(METRICS_TOKEN.into());
    let s = TestServer::start_in(config).await;
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-request-id").is_some());
    let r = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ready"], true);
    // Without a token, or with a wrong one: 401; the metrics token reads them.
    let r = s.client.get(s.url("/metrics")).send().await.unwrap();
    problem(r, 401, "unauthorized").await;
    let r = s.get("/metrics", &"0".repeat(64)).send().await.unwrap();
    problem(r, 401, "unauthorized").await;
    let text = s
        .get("/metrics", METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "motcua_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("motcua_projection_lag_events 0"));
    let r = s.client.get(s.url("/nope")).send().await.unwrap();
    problem(r, 404, "not-found").await;
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_authorization() {
    let s = TestServer::start().await;
    let admin = s.staff("qt-01", UNIT, &[Role::Admin], &[]).await;
    let auditor = s.staff("tt-01", UNIT, &[Role::Auditor], &[]).await;
    let reception = s.staff("tn-01", UNIT, &[Role::Reception], &[]).await;

    // 401: no token, garbage token.
    let r = s.client.get(s.url("/v1/staff")).send().await.unwrap();
    problem(r, 401, "unauthorized").await;
    let r = s.get("/v1/staff", "0000").send().await.unwrap();
    problem(r, 401, "unauthorized").await;
    // 403: a reception officer reading the log; an auditor registering staff.
    let r = s.get("/v1/events", &reception).send().await.unwrap();
    problem(r, 403, "forbidden").await;
    let head = s.head();
    let r = s
        .post("/v1/staff", &auditor)
        .json(&json!({"id": "x-01", "name": "X", "roles": ["reception"]}))
        .send()
        .await
        .unwrap();
    problem(r, 403, "forbidden").await;
    assert_eq!(s.head(), head);

    // Revoked token: 401 once the revocation is durable.
    let r = s
        .post("/v1/staff", &admin)
        .json(&json!({"id": "tn-02", "name": "Lê Văn Bình", "roles": ["reception"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], "/v1/staff/tn-02");
    let created: serde_json::Value = r.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let token_id = created["token_id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.get("/v1/staff", &token).send().await.unwrap().status(),
        200
    );
    let r = s
        .post(&format!("/v1/staff/tn-02/tokens/{token_id}/revoke"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s.get("/v1/staff", &token).send().await.unwrap();
    let body = problem(r, 401, "unauthorized").await;
    assert!(body["detail"].as_str().unwrap().contains("revoked"));

    // Another unit's staff cannot read this unit's queues.
    let other = s.staff("tn-99", OTHER_UNIT, &[Role::Reception], &[]).await;
    let r = s
        .get(&format!("/v1/queues?unit={UNIT}"), &other)
        .send()
        .await
        .unwrap();
    problem(r, 403, "forbidden").await;
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_errors_write_nothing() {
    let s = TestServer::start().await;
    let admin = s.staff("qt-01", UNIT, &[Role::Admin], &[]).await;
    let head = s.head();

    // 400 malformed JSON.
    let r = s
        .post("/v1/staff", &admin)
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    problem(r, 400, "malformed-request").await;
    // 415 wrong content type.
    let r = s
        .post("/v1/staff", &admin)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    problem(r, 415, "unsupported-media-type").await;
    // 413 body over 1 MiB.
    let big = format!(
        "{{\"id\":\"a\",\"name\":\"{}\",\"roles\":[]}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let r = s
        .post("/v1/staff", &admin)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    problem(r, 413, "payload-too-large").await;
    // 422 wrong shape (field named) and invalid value.
    let r = s
        .post("/v1/staff", &admin)
        .json(&json!({"id": "a-1", "name": "A", "roles": "reception"}))
        .send()
        .await
        .unwrap();
    let b = problem(r, 422, "validation").await;
    assert_eq!(b["field"], "roles");
    let r = s
        .post("/v1/staff", &admin)
        .json(&json!({"id": "A B", "name": "A", "roles": ["reception"]}))
        .send()
        .await
        .unwrap();
    let b = problem(r, 422, "validation").await;
    assert_eq!(b["field"], "id");
    // 409 duplicate staff.
    let r = s
        .post("/v1/staff", &admin)
        .json(&json!({"id": "qt-01", "name": "A", "roles": ["admin"]}))
        .send()
        .await
        .unwrap();
    problem(r, 409, "conflict").await;
    // 405 on a known path.
    let r = s.client.delete(s.url("/v1/staff")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(s.head(), head, "no error may write");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retry_returns_the_first_response() {
    let s = TestServer::start().await;
    let admin = s.staff("qt-01", UNIT, &[Role::Admin], &[]).await;
    let body = json!({"id": "tn-05", "name": "Hoàng Thị Mai", "roles": ["reception"]});
    let first = s
        .post("/v1/staff", &admin)
        .header("idempotency-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let head = s.head();
    let again = s
        .post("/v1/staff", &admin)
        .header("idempotency-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(s.head(), head, "a replay writes nothing");
    // Same key, another body: 422.
    let r = s
        .post("/v1/staff", &admin)
        .header("idempotency-key", "k-1")
        .json(&json!({"id": "tn-06", "name": "Khác", "roles": ["reception"]}))
        .send()
        .await
        .unwrap();
    problem(r, 422, "idempotency-key-reused").await;
    assert_eq!(s.head(), head);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_over_http_and_sse_resume() {
    let s = TestServer::start().await;
    let auditor = s.staff("tt-01", UNIT, &[Role::Auditor], &[]).await;
    s.staff("tn-01", UNIT, &[Role::Reception], &[]).await;
    let page: serde_json::Value = s.get_json("/v1/events?after=0&limit=3", &auditor).await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["event_type"], "unit.registered");
    assert_eq!(events[1]["event_type"], "staff.registered");
    assert_eq!(events[1]["actor"], "system");
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);
    assert_eq!(page["next_after"], 3);
    assert_eq!(page["head_seq"], 5);
    let r = s.get("/v1/events?limit=0", &auditor).send().await.unwrap();
    problem(r, 422, "validation").await;

    // SSE from Last-Event-ID 2: seq 3 to 5, then live ones.
    let mut resp = s
        .get("/v1/events/stream", &auditor)
        .header("last-event-id", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut added = false;
    while !text.contains("id: 7") {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("id: 5") && !added {
            added = true;
            s.staff("lanh-dao-01", UNIT, &[Role::Leader], &[]).await;
        }
    }
    assert!(!text.contains("id: 2\n"), "resumes after Last-Event-ID");
    assert!(text.contains("id: 3\n") && text.contains("event: staff.token_issued"));
    // Shutdown ends the open stream instead of hanging (axum #2673).
    tokio::time::timeout(Duration::from_secs(5), s.server.shutdown())
        .await
        .expect("shutdown with an open SSE stream")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_lookup_does_not_reveal_codes_and_is_rate_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = http_common::config(&tmp.path().join("d"));
    c.lookup_burst = 3;
    c.lookup_per_second = 0.01;
    let s = TestServer::start_in(c).await;
    let a = s
        .client
        .get(s.url("/v1/lookup/000.33.22.H05-230105-0001?secret=abc"))
        .send()
        .await
        .unwrap();
    let a = problem(a, 404, "not-found").await;
    let b = s
        .client
        .get(s.url("/v1/lookup/garbage?secret=abc"))
        .send()
        .await
        .unwrap();
    let b = problem(b, 404, "not-found").await;
    assert_eq!(a, b, "wrong code and malformed code answer alike");
    let _ = s
        .client
        .get(s.url("/v1/lookup/x?secret=y"))
        .send()
        .await
        .unwrap();
    let r = s
        .client
        .get(s.url("/v1/lookup/x?secret=y"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("retry-after").is_some());
    problem(r, 429, "rate-limited").await;
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reads_back_staff_and_tokens() {
    let s = TestServer::start().await;
    let admin = s.staff("qt-01", UNIT, &[Role::Admin], &[]).await;
    let r = s
        .post("/v1/staff", &admin)
        .json(&json!({"id": "cm-01", "name": "Đặng Văn Hùng", "roles": ["specialist"], "fields": ["ho-tich"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let head = s.head();
    let s = s.restart().await;
    assert_eq!(s.head(), head);
    let list: serde_json::Value = s.get_json("/v1/staff", &admin).await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["cm-01", "qt-01"]);
    assert_eq!(list[0]["fields"][0], "ho-tich");
    s.server.shutdown().await.unwrap();
}
