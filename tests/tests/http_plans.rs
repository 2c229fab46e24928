//! The demo plan over HTTP: dashboards as of 31 Aug 2023 agree with the demo's dossier history,
//! planner-only writes with If-Match and Idempotency-Key.

mod http_common;

use http_common::{problem, TestServer};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_plan_dashboard_and_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::demo_in(&tmp.path().join("demo")).await;
    let tok = |role: &str| s.demo_token(role);
    let (planner, leader, reception) = (tok("planner"), tok("leader"), tok("reception"));
    let list: Value = s.get_json("/v1/plans", &leader).await;
    assert_eq!(list["plans"][0]["number"], "35/KH-UBND");
    let r = s.get("/v1/plans", &reception).send().await.unwrap();
    problem(r, 403, "forbidden").await;

    let d: Value = s
        .get_json(
            "/v1/plans/35-kh-ubnd-2023/dashboard?as_of=2023-08-31T17:00:00%2B07:00",
            &leader,
        )
        .await;
    let task = |id: &str| {
        d["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task"] == id)
            .unwrap()
            .clone()
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&task("ty-le-dung-han")["derived"]["parts"]).unwrap()
    );
    assert_eq!(task("ty-le-dung-han")["value"], 10_000);
    assert_eq!(task("ty-le-dung-han")["status"], "on_track");
    assert_eq!(task("chung-thuc-dien-tu")["value"], 187);
    assert_eq!(task("niem-yet-tthc")["status"], "done");
    assert_eq!(task("niem-yet-tthc")["value"], 10_000);
    assert_eq!(task("tai-khoan-dvc")["value"], 210);
    let online = task("ty-le-truc-tuyen")["value"].as_i64().unwrap();
    assert_eq!(online, 187 * 10_000 / (342 + 187));
    let live: Value = s
        .get_json("/v1/plans/35-kh-ubnd-2023/dashboard", &planner)
        .await;
    assert_eq!(live["counts"]["cancelled"], 1);

    // Writes: planner only, If-Match, idempotent.
    let plan: Value = s.get_json("/v1/plans/35-kh-ubnd-2023", &planner).await;
    let version = plan["version"].as_u64().unwrap();
    let body = serde_json::json!({"value": 1, "evidence": "x"});
    let url = "/v1/plans/35-kh-ubnd-2023/tasks/chung-thuc-dien-tu/actions/report_progress";
    let r = s.post(url, &leader).json(&body).send().await.unwrap();
    problem(r, 403, "forbidden").await;
    let r = s.post(url, &planner).json(&body).send().await.unwrap();
    problem(r, 409, "conflict").await;
    let reopen = "/v1/plans/35-kh-ubnd-2023/tasks/tuyen-truyen/actions/reopen";
    let body = serde_json::json!({"reason": "thiếu biên bản buổi 8"});
    let r = s
        .post(reopen, &planner)
        .header("If-Match", format!("\"{}\"", version - 1))
        .json(&body)
        .send()
        .await
        .unwrap();
    let p = problem(r, 412, "stale-version").await;
    assert_eq!(p["current_version"], version);
    let r = s
        .post(reopen, &planner)
        .header("If-Match", format!("\"{version}\""))
        .header("Idempotency-Key", "reopen-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], format!("\"{}\"", version + 1).as_str());
    let head = s.head();
    let r = s
        .post(reopen, &planner)
        .header("If-Match", format!("\"{version}\""))
        .header("Idempotency-Key", "reopen-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.head(), head);
    let r = s
        .post(
            "/v1/plans/35-kh-ubnd-2023/tasks/nope/actions/complete",
            &planner,
        )
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    problem(r, 404, "not-found").await;
}
