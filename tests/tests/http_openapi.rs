//! The OpenAPI document matches the router: every documented operation is routed (probed over
//! HTTP), the set of documented paths is the API surface below, and no route is registered
//! outside `routes!` (which documents it) in the source.

mod http_common;

use http_common::TestServer;
use serde_json::Value;

const EXPECTED_PATHS: [&str; 43] = [
    "/v1/calendar",
    "/healthz",
    "/metrics",
    "/readyz",
    "/v1/catalog",
    "/v1/dossiers",
    "/v1/dossiers/{code}",
    "/v1/dossiers/{code}/actions/{action}",
    "/v1/dossiers/{code}/rating",
    "/v1/dossiers/{code}/slips/{slip}",
    "/v1/dossiers/{code}/files",
    "/v1/dossiers/{code}/files/{sha256}",
    "/v1/files/downloads",
    "/v1/events",
    "/v1/events/stream",
    "/v1/export",
    "/v1/inbox",
    "/v1/lookup/{code}",
    "/v1/openapi.json",
    "/v1/queues",
    "/v1/staff",
    "/v1/staff/{id}/tokens/{token_id}/revoke",
    "/v1/stats",
    "/v1/stats/codes",
    "/v1/reports/procedures",
    "/v1/reports/register",
    "/v1/submissions",
    "/v1/worklist",
    "/v1/calendar/{year}",
    "/v1/plans",
    "/v1/plans/{plan}",
    "/v1/plans/{plan}/dashboard",
    "/v1/plans/{plan}/tasks",
    "/v1/plans/{plan}/tasks/{task}/actions/{action}",
    "/v1/procedures",
    "/v1/personal/erasures",
    "/v1/personal/retention-sweeps",
    "/v1/office-hours",
    "/v1/procedures/{procedure}/versions",
    "/v1/procedures/{procedure}/abolish",
    "/v1/procedures/{procedure}/publications",
    "/v1/checkpoints",
    "/v1/checkpoints/{seq}",
];

fn concrete(path: &str) -> String {
    path.replace("{code}", "000.33.22.H05-230101-0001")
        .replace("{action}", "approve")
        .replace("{slip}", "01")
        .replace(
            "{sha256}",
            "0000000000000000000000000000000000000000000000000000000000000000",
        )
        .replace("{id}", "tn-01")
        .replace("{token_id}", "abc")
        .replace("{year}", "2023")
        .replace("{procedure}", "1.001193")
        .replace("{seq}", "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_and_every_route_documented() {
    let s = TestServer::start().await;
    let doc: Value = s.openapi().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    let mut expected = EXPECTED_PATHS.to_vec();
    expected.sort();
    assert_eq!(
        documented, expected,
        "documented paths differ from the API surface"
    );
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let url = s.url(&concrete(path));
            let req = match method.as_str() {
                "get" => s.client.get(&url),
                "post" => s
                    .client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body("{}"),
                other => panic!("unexpected method {other}"),
            };
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            assert_ne!(status, 405, "{method} {path} not routed");
            if status == 404 {
                let body: Value = resp.json().await.unwrap();
                assert!(
                    !body["detail"]
                        .as_str()
                        .unwrap_or("")
                        .contains("no route for"),
                    "{method} {path} is documented but not routed"
                );
            }
        }
    }
    s.server.shutdown().await.unwrap();
}

#[test]
fn no_route_is_registered_outside_routes_macro() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../http/src");
    let mut annotated = 0usize;
    let mut files = vec![src];
    while let Some(p) = files.pop() {
        // The console's HTML pages are not the JSON API: they are listed in http/README.md.
        if p.is_dir() && p.file_name().is_some_and(|n| n == "console") {
            continue;
        }
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if p.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            !text.contains(".route(\"") && !text.contains(".route_service("),
            "{}: register routes with utoipa-axum `routes!` so they are documented",
            p.display()
        );
        annotated += text.matches("#[utoipa::path(").count();
    }
    let table = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../http/src/routes/mod.rs"),
    )
    .unwrap();
    let registered: usize = table
        .split("routes!(")
        .skip(1)
        .map(|chunk| {
            chunk
                .split(')')
                .next()
                .unwrap_or("")
                .split(',')
                .filter(|h| !h.trim().is_empty())
                .count()
        })
        .sum();
    assert_eq!(
        annotated, registered,
        "every #[utoipa::path] handler must be registered in routes::api_router"
    );
}
