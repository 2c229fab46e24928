//! The demo commune: seeded through the engine's commands at first start, its statistics equal
//! the commune's report (desk 342 received and resolved: 216 early, 126 on time, 0 late, 0 in
//! progress; online electronic copies 187), drill-down lists the dossiers, slips print, and
//! everything reads back the same after a restart.

mod http_common;

use http_common::TestServer;
use serde_json::Value;

async fn stats(s: &TestServer, token: &str, query: &str) -> Value {
    let r = s
        .get(
            &format!("/v1/stats?from=2023-01-01&to=2023-08-31&{query}"),
            token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_statistics_equal_the_report_and_survive_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::demo_in(&tmp.path().join("demo")).await;
    let tokens = s.server.demo_tokens.clone();
    assert_eq!(tokens.len(), 12);
    for role in [
        "admin",
        "reception",
        "specialist",
        "leader",
        "auditor",
        "planner",
        "citizen",
    ] {
        assert!(tokens.iter().any(|t| t.role == role), "{role}");
    }
    let auditor = s.demo_token("auditor");
    let check = |desk: &Value, online: &Value| {
        let f = &desk["figures"];
        assert_eq!(f["received"], 342);
        assert_eq!(f["resolved"], 342);
        assert_eq!(f["resolved_early"], 216);
        assert_eq!(f["resolved_on_time"], 126);
        assert_eq!(f["resolved_late"], 0);
        assert_eq!(f["in_progress"], 0);
        assert_eq!(online["figures"]["received"], 187);
        assert_eq!(online["figures"]["resolved"], 187);
    };
    let desk = stats(&s, &auditor, "channel=desk").await;
    let online = stats(&s, &auditor, "channel=online&procedure=2.001035").await;
    check(&desk, &online);
    assert!(
        desk["figures"]["supplements_requested"].as_u64().unwrap() > 0,
        "the history has supplements"
    );

    let drill: Value = s
        .get_json(
            "/v1/stats/codes?from=2023-01-01&to=2023-08-31&channel=desk&figure=resolved_on_time",
            &auditor,
        )
        .await;
    assert_eq!(drill["count"], 126);
    let code = drill["codes"][0].as_str().unwrap().to_owned();
    let slip: Value = s
        .get_json(&format!("/v1/dossiers/{code}/slips/01"), &auditor)
        .await;
    assert_eq!(slip["title"], "Giấy tiếp nhận hồ sơ và hẹn trả kết quả");
    let html = s
        .get(
            &format!("/v1/dossiers/{code}/slips/05?format=html"),
            &auditor,
        )
        .send()
        .await
        .unwrap();
    assert!(html.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(html
        .text()
        .await
        .unwrap()
        .contains("Phiếu kiểm soát quá trình"));
    // The catalog's publication share is computed, not typed.
    let cat: Value = s.get_json("/v1/catalog?date=2023-06-01", &auditor).await;
    assert_eq!(cat["published_at_desk_percent"], 100.0);
    assert!(cat["catalog"]["procedures"].as_u64().unwrap() >= 12);

    let head = s.head();
    let s = s.restart().await;
    assert_eq!(s.head(), head, "a restart does not seed again");
    check(
        &stats(&s, &auditor, "channel=desk").await,
        &stats(&s, &auditor, "channel=online&procedure=2.001035").await,
    );
    s.server.shutdown().await.unwrap();
}
