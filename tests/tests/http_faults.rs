//! Faults as the API shows them: a storage failure fail-stops the writer (503 with a problem
//! body, nothing acknowledged, reads keep working, not ready), and a full writer queue answers
//! 429 with `Retry-After`.

mod http_common;

use http_common::{commune, config, new_dossier, problem, TestServer};
use motcua_engine::storage::{FaultPlan, FaultPoint, EIO};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsync_failure_fail_stops_writes_with_503_and_reads_keep_working() {
    let (s, t) = commune().await;
    let code = s.receive(&t["tn-01"], "1.001193").await;
    let head = s.head();
    s.server.log().store().faults().arm(FaultPlan {
        point: FaultPoint::Fsync,
        skip: 0,
        errno: EIO,
        sticky: true,
    });
    let r = s
        .post(&format!("/v1/dossiers/{code}/actions/assign"), &t["tn-01"])
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    // Sent without a key, the write ran under one the server chose: the retry uses it.
    let key = r.headers()["idempotency-key"].to_str().unwrap().to_owned();
    assert!(key.starts_with("srv-"), "{key}");
    let p = problem(r, 503, "fail-stopped").await;
    // The outcome of a fail-stopped write is unknown (its batch may be on disk after a
    // restart): the answer says so and how to retry; it names no file of the server.
    assert_eq!(p["outcome"], "unknown");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("same Idempotency-Key"),
        "{p}"
    );
    let dir = s.dir.to_string_lossy().into_owned();
    assert!(!p.to_string().contains(&dir), "{p}");
    assert_eq!(s.head(), head, "nothing acknowledged");
    let r = s
        .post("/v1/dossiers", &t["tn-01"])
        .json(&new_dossier("1.001193"))
        .send()
        .await
        .unwrap();
    problem(r, 503, "fail-stopped").await;
    // Reads keep working; the server is not ready.
    let r = s
        .get(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let r = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["log_failed"], true);
    let _ = s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_writer_queue_answers_429_with_retry_after() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = config(&tmp.path().join("d"));
    c.log_queue_depth = 1;
    let s = TestServer::start_in(c).await;
    let svc = motcua_engine::service::CommandService::new(
        s.server.log().clone(),
        motcua_engine::domain::ReferenceData::builtin().unwrap(),
    )
    .unwrap();
    let (tokens, _) = motcua_http::demo::seed_reference(&svc).await.unwrap();
    assert!(s.server.app().wait_for_read_models(s.head()).await);
    let tn = tokens
        .iter()
        .find(|t| t.staff == "tn-01")
        .unwrap()
        .token
        .clone();
    let mut codes = Vec::new();
    for _ in 0..48 {
        let r = s
            .post("/v1/dossiers", &tn)
            .json(&new_dossier("1.001193"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        codes.push(
            r.json::<Value>().await.unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen_429 = false;
    for _ in 0..5 {
        let head = s.head();
        let futs = codes.iter().map(|code| {
            s.post(&format!("/v1/dossiers/{code}/actions/assign"), &tn)
                .json(&json!({"specialist": "cm-tp-01"}))
                .send()
        });
        let results = futures::future::join_all(futs).await;
        let mut ok = 0u64;
        for r in results {
            let r = r.unwrap();
            match r.status().as_u16() {
                200 => ok += 1,
                429 => {
                    assert!(r.headers().contains_key("retry-after"));
                    problem(r, 429, "overloaded").await;
                    seen_429 = true;
                }
                409 => {} // assigned in an earlier round
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(
            s.head(),
            head + ok,
            "only acknowledged writes are in the log"
        );
        if seen_429 {
            break;
        }
    }
    assert!(
        seen_429,
        "a queue of depth 1 under 48 concurrent writes must overflow"
    );
    s.server.shutdown().await.unwrap();
}
