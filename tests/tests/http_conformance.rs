//! Regression tests for what schemathesis (`.ci/schemathesis.sh`) found against the running
//! server, each replayed over real HTTP: undecodable path segments, the 405 problem body, an
//! unknown token id on revoke, an unknown workflow on issuing a procedure, and the OpenAPI
//! document describing what the server really answers (query parameters in the query, a
//! problem schema on every error, the implied statuses, the SSE event schema).

mod http_common;

use http_common::{commune, problem, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_path_segment_is_a_404_problem_not_a_plain_text_400() {
    let (s, tokens) = commune().await;
    let admin = &tokens["qt-01"];
    let planner = &tokens["kh-01"];
    for (path, token) in [
        ("/v1/dossiers/%FF", admin),
        ("/v1/dossiers/%FF/slips/01", admin),
        ("/v1/calendar/%C0", admin),
        ("/v1/plans/%FF", planner),
        ("/v1/plans/%FF/dashboard", planner),
    ] {
        let resp = s.get(path, token).send().await.unwrap();
        let body = problem(resp, 404, "not-found").await;
        assert!(
            body["detail"].as_str().unwrap().contains("UTF-8"),
            "{path}: {body}"
        );
    }
    let before = s.head();
    let resp = s
        .post("/v1/dossiers/%FF/actions/approve", admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(resp, 404, "not-found").await;
    assert_eq!(s.head(), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_answers_an_undecodable_code_like_any_wrong_code() {
    let (s, _) = commune().await;
    let odd = s
        .client
        .get(s.url("/v1/lookup/%FF?secret=ABCDEFGHJK"))
        .send()
        .await
        .unwrap();
    let odd = problem(odd, 404, "not-found").await;
    let wrong = s
        .client
        .get(s.url("/v1/lookup/000.33.22.H05-230101-0001?secret=ABCDEFGHJK"))
        .send()
        .await
        .unwrap();
    let wrong = problem(wrong, 404, "not-found").await;
    assert_eq!(odd, wrong, "same answer: codes cannot be told apart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_not_allowed_is_a_405_problem_whose_status_says_405() {
    let (s, tokens) = commune().await;
    let resp = s
        .client
        .delete(s.url("/v1/staff"))
        .bearer_auth(&tokens["qt-01"])
        .send()
        .await
        .unwrap();
    let body = problem(resp, 405, "method-not-allowed").await;
    assert_eq!(body["detail"], "method DELETE not allowed on /v1/staff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_token_the_staff_member_never_had_is_404() {
    let (s, tokens) = commune().await;
    let before = s.head();
    let resp = s
        .post(
            "/v1/staff/tn-01/tokens/000000000000/revoke",
            &tokens["qt-01"],
        )
        .send()
        .await
        .unwrap();
    let body = problem(resp, 404, "not-found").await;
    assert_eq!(
        body["detail"],
        "not found: no token 000000000000 of staff tn-01: no such token"
    );
    assert_eq!(s.head(), before, "nothing written");
    // The reception token still works.
    let ok = s.get("/v1/staff", &tokens["tn-01"]).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuing_a_procedure_with_an_unknown_workflow_is_422_not_500() {
    let (s, tokens) = commune().await;
    let before = s.head();
    let resp = s
        .post("/v1/procedures", &tokens["qt-01"])
        .json(&json!({
            "procedure": {
                "id": "9.000004", "version": 1, "name": "Thủ tục thử", "field": "ho-tich",
                "level": "Commune", "documents": [], "forms": [],
                "processing_time": {"WorkingDays": 1}, "fees": [],
                "workflow": "no-such-workflow", "legal_basis": ""
            },
            "effective": "2020-01-01",
            "publish_at_desk": true
        }))
        .send()
        .await
        .unwrap();
    let body = problem(resp, 422, "validation").await;
    assert_eq!(body["field"], "procedure.workflow");
    assert_eq!(body["why"], "unknown workflow no-such-workflow");
    assert_eq!(s.head(), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_puts_query_parameters_in_the_query() {
    let s = TestServer::start().await;
    let doc = s.openapi().await;
    let params = |path: &str| -> Vec<(String, String)> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["in"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let q = |n: &str| (n.to_owned(), "query".to_owned());
    // They were documented as required *path* parameters, which no client can send.
    assert_eq!(params("/v1/events"), vec![q("after"), q("limit")]);
    assert_eq!(
        params("/v1/lookup/{code}"),
        vec![("code".to_owned(), "path".to_owned()), q("secret")]
    );
    assert_eq!(params("/v1/catalog"), vec![q("unit"), q("date")]);
    let limit = &doc["paths"]["/v1/dossiers"]["get"]["parameters"][6];
    assert_eq!(limit["name"], "limit");
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_response_is_documented_as_a_problem_with_the_implied_statuses() {
    let s = TestServer::start().await;
    let doc = s.openapi().await;
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["type"].is_object());
    let mut errors = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for (code, resp) in responses {
                if code.as_str() >= "400" {
                    errors += 1;
                    assert_eq!(
                        resp["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{method} {path} {code}"
                    );
                    assert!(!resp["description"].as_str().unwrap().is_empty());
                }
            }
            if path != "/healthz" {
                assert!(responses.contains_key("503"), "{method} {path}: draining");
            }
            if op.get("security").is_some() {
                for code in ["401", "429"] {
                    assert!(responses.contains_key(code), "{method} {path} {code}");
                }
            }
            if op.get("requestBody").is_some() {
                for code in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(code), "{method} {path} {code}");
                }
            }
        }
    }
    assert!(errors > 100, "{errors} error responses");
    // The body routes whose 400/415 schemathesis saw undocumented.
    for path in ["/v1/calendar", "/v1/procedures", "/v1/staff"] {
        let r = doc["paths"][path]["post"]["responses"].as_object().unwrap();
        assert!(r.contains_key("400") && r.contains_key("415"), "{path}");
    }
    // readyz: its own body when not ready, a problem while draining.
    let ready = &doc["paths"]["/readyz"]["get"]["responses"]["503"]["content"];
    assert_eq!(
        ready["application/json"]["schema"]["$ref"],
        "#/components/schemas/Readiness"
    );
    assert!(ready["application/problem+json"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_documents_each_event_and_its_json_data() {
    let s = TestServer::start().await;
    let doc = s.openapi().await;
    let schema = &doc["paths"]["/v1/events/stream"]["get"]["responses"]["200"]["content"]
        ["text/event-stream"]["schema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["id", "event", "data"]));
    let data = &schema["properties"]["data"];
    assert_eq!(data["contentMediaType"], "application/json");
    assert_eq!(
        data["contentSchema"]["$ref"],
        "#/components/schemas/EventJson"
    );
    assert!(doc["components"]["schemas"]["EventJson"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slip_documents_both_its_json_and_its_html() {
    let s = TestServer::start().await;
    let doc = s.openapi().await;
    let ok = &doc["paths"]["/v1/dossiers/{code}/slips/{slip}"]["get"]["responses"]["200"];
    let mut types: Vec<&str> = ok["content"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    types.sort();
    // Only text/html was documented, while JSON is the default answer.
    assert_eq!(types, ["application/json", "text/html"]);
}
