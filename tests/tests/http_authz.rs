//! Authorization matrix: every route x every role (plus no token, a revoked token and another
//! unit's staff) against the expected outcome: 401 without a valid token, 403 for a role the
//! route does not admit, anything else (the route's own answer) when it does.

mod http_common;

use http_common::{commune, new_dossier, OTHER_UNIT};
use motcua_engine::domain::types::Role;
use serde_json::{json, Value};

const ROLES: [&str; 7] = [
    "qt-01", "tn-01", "cm-tp-01", "ld-01", "tt-01", "kh-01", "cong-dvc",
];

/// (method, path, body, staff ids admitted)
fn table() -> Vec<(&'static str, String, Value, Vec<&'static str>)> {
    let all = ROLES.to_vec();
    let staff_readers = vec!["qt-01", "tn-01", "cm-tp-01", "ld-01", "tt-01", "kh-01"];
    // One dossier and its slips hold the applicant's personal data: not for the planner.
    let dossier_readers = vec!["qt-01", "tn-01", "cm-tp-01", "ld-01", "tt-01"];
    let missing = "000.33.22.H05-230101-0999";
    vec![
        (
            "GET",
            "/metrics".into(),
            Value::Null,
            vec!["qt-01", "tt-01"],
        ),
        (
            "GET",
            format!("/v1/dossiers/{missing}"),
            Value::Null,
            dossier_readers.clone(),
        ),
        (
            "GET",
            format!("/v1/dossiers/{missing}/slips/01"),
            Value::Null,
            dossier_readers.clone(),
        ),
        (
            "GET",
            format!("/v1/dossiers/{missing}/files"),
            Value::Null,
            dossier_readers.clone(),
        ),
        (
            "GET",
            format!("/v1/dossiers/{missing}/files/{}", "0".repeat(64)),
            Value::Null,
            dossier_readers.clone(),
        ),
        // The desk and the assigned specialist attach files (the domain then checks which).
        (
            "POST",
            format!("/v1/dossiers/{missing}/files?document=1"),
            json!({}),
            vec!["tn-01", "cm-tp-01"],
        ),
        (
            "GET",
            "/v1/files/downloads".into(),
            Value::Null,
            vec!["qt-01", "tt-01"],
        ),
        (
            "GET",
            "/v1/staff".into(),
            Value::Null,
            staff_readers.clone(),
        ),
        (
            "GET",
            "/v1/catalog?date=2023-06-01".into(),
            Value::Null,
            all.clone(),
        ),
        ("GET", "/v1/calendar/2023".into(), Value::Null, all.clone()),
        (
            "GET",
            "/v1/events".into(),
            Value::Null,
            vec!["qt-01", "tt-01"],
        ),
        (
            "GET",
            "/v1/events/stream?after=999999".into(),
            Value::Null,
            vec!["qt-01", "tt-01"],
        ),
        ("GET", "/v1/inbox".into(), Value::Null, vec!["ld-01"]),
        ("GET", "/v1/worklist".into(), Value::Null, vec!["cm-tp-01"]),
        (
            "GET",
            "/v1/queues".into(),
            Value::Null,
            vec!["qt-01", "tn-01", "cm-tp-01", "ld-01", "tt-01"],
        ),
        (
            "GET",
            "/v1/stats?from=2023-01-01&to=2023-08-31".into(),
            Value::Null,
            staff_readers.clone(),
        ),
        (
            "GET",
            "/v1/stats/codes?from=2023-01-01&to=2023-08-31&figure=received".into(),
            Value::Null,
            staff_readers.clone(),
        ),
        (
            "GET",
            "/v1/dossiers".into(),
            Value::Null,
            staff_readers.clone(),
        ),
        // The official report: the dashboard's readers; the register (applicants' names and
        // addresses): leader, auditor, admin.
        (
            "GET",
            "/v1/reports/procedures?from=2023-01-01&to=2023-01-31&format=csv".into(),
            Value::Null,
            vec!["qt-01", "ld-01", "tt-01", "kh-01"],
        ),
        (
            "GET",
            "/v1/reports/register?from=2023-01-01&to=2023-01-31&format=csv".into(),
            Value::Null,
            vec!["qt-01", "ld-01", "tt-01"],
        ),
        (
            "POST",
            "/v1/dossiers".into(),
            new_dossier("1.001193"),
            vec!["tn-01"],
        ),
        (
            "POST",
            "/v1/submissions".into(),
            new_dossier("2.001035"),
            vec!["cong-dvc"],
        ),
        // A rating: a citizen account only (with the dossier's secret; here none exists).
        (
            "POST",
            format!("/v1/dossiers/{missing}/rating"),
            json!({"level": "satisfied", "lookup_secret": "ABCD-EFGH"}),
            vec!["cong-dvc"],
        ),
        (
            "POST",
            "/v1/staff".into(),
            json!({"id": "x-1", "name": "X", "roles": ["reception"]}),
            vec!["qt-01"],
        ),
        (
            "POST",
            "/v1/calendar".into(),
            json!({"year": 2030, "days_off": []}),
            vec!["qt-01"],
        ),
        ("POST", "/v1/procedures".into(), json!({}), vec!["qt-01"]),
        (
            "POST",
            "/v1/personal/erasures".into(),
            json!({"id_number": "001199099999"}),
            vec!["qt-01"],
        ),
        (
            "POST",
            "/v1/office-hours".into(),
            json!({"sessions": [], "effective": "2031-01-01"}),
            vec!["qt-01"],
        ),
        // The catalog's other writes: admin only (the engine's `Authority` admits no other
        // role), every other role refused before the body or the procedure is looked at.
        (
            "POST",
            "/v1/procedures/1.001193/versions".into(),
            json!({}),
            vec!["qt-01"],
        ),
        (
            "POST",
            "/v1/personal/retention-sweeps".into(),
            json!({"sealed_before": "2000-01-01"}),
            vec!["qt-01"],
        ),
        (
            "POST",
            "/v1/procedures/1.001193/abolish".into(),
            json!({"effective": "2031-01-01", "reason": ""}),
            vec!["qt-01"],
        ),
        (
            "POST",
            "/v1/procedures/1.001193/publications".into(),
            json!({}),
            vec!["qt-01"],
        ),
        (
            "GET",
            "/v1/export".into(),
            Value::Null,
            vec!["qt-01", "tt-01"],
        ),
        (
            "GET",
            "/v1/checkpoints".into(),
            Value::Null,
            vec!["qt-01", "tt-01"],
        ),
        (
            "GET",
            "/v1/checkpoints/1".into(),
            Value::Null,
            vec!["qt-01", "tt-01"],
        ),
        ("POST", "/v1/checkpoints".into(), json!({}), vec!["qt-01"]),
        (
            "GET",
            "/v1/plans".into(),
            Value::Null,
            vec!["ld-01", "tt-01", "kh-01"],
        ),
        (
            "GET",
            "/v1/plans/kh-none".into(),
            Value::Null,
            vec!["ld-01", "tt-01", "kh-01"],
        ),
        (
            "GET",
            "/v1/plans/kh-none/dashboard".into(),
            Value::Null,
            vec!["ld-01", "tt-01", "kh-01"],
        ),
        ("POST", "/v1/plans".into(), json!({}), vec!["kh-01"]),
        (
            "POST",
            "/v1/plans/kh-none/tasks".into(),
            json!({}),
            vec!["kh-01"],
        ),
        (
            "POST",
            "/v1/plans/kh-none/tasks/t-1/actions/complete".into(),
            json!({}),
            vec!["kh-01"],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_by_every_role() {
    let (s, t) = commune().await;
    let other = s
        .staff("tn-99", OTHER_UNIT, &[Role::Reception, Role::Leader], &[])
        .await;
    // A revoked token.
    let r = s
        .post("/v1/staff", &t["qt-01"])
        .json(&json!({"id": "tn-50", "name": "Tạm", "roles": ["reception"]}))
        .send()
        .await
        .unwrap();
    let created: Value = r.json().await.unwrap();
    let revoked = created["token"].as_str().unwrap().to_owned();
    let tid = created["token_id"].as_str().unwrap();
    let r = s
        .post(&format!("/v1/staff/tn-50/tokens/{tid}/revoke"), &t["qt-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let mut failures = Vec::new();
    for (method, path, body, admitted) in table() {
        let mut callers: Vec<(String, Option<String>)> = ROLES
            .iter()
            .map(|r| (r.to_string(), Some(t[*r].clone())))
            .collect();
        callers.push(("none".into(), None));
        callers.push(("revoked".into(), Some(revoked.clone())));
        for (who, token) in callers {
            let mut req = match method {
                "GET" => s.client.get(s.url(&path)),
                _ => s.client.post(s.url(&path)).json(&body),
            };
            if let Some(tok) = &token {
                req = req.bearer_auth(tok);
            }
            let status = req.send().await.unwrap().status().as_u16();
            let ok = match who.as_str() {
                "none" => status == 401,
                // Failed authentication is rate-limited per client: after a burst of revoked
                // attempts the limiter answers first.
                "revoked" => status == 401 || status == 429,
                w if admitted.contains(&w) => status != 401 && status != 403,
                _ => status == 403,
            };
            if !ok {
                failures.push(format!("{method} {path} as {who}: {status}"));
            }
        }
    }
    // Another unit's staff: 403 on this unit's data.
    let r = s
        .get("/v1/queues?unit=000.33.22.H05", &other)
        .send()
        .await
        .unwrap();
    if r.status() != 403 {
        failures.push(format!("other unit queues: {}", r.status()));
    }
    for report in ["procedures", "register"] {
        let r = s
            .get(
                &format!("/v1/reports/{report}?from=2023-01-01&to=2023-01-31&unit=000.33.22.H05"),
                &other,
            )
            .send()
            .await
            .unwrap();
        if r.status() != 403 {
            failures.push(format!("other unit {report} report: {}", r.status()));
        }
    }
    let r = s
        .post("/v1/dossiers", &t["tn-01"])
        .json(&new_dossier("1.001193"))
        .send()
        .await
        .unwrap();
    let code = r.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .get(&format!("/v1/dossiers/{code}"), &other)
        .send()
        .await
        .unwrap();
    if r.status() != 403 {
        failures.push(format!("other unit dossier: {}", r.status()));
    }
    let r = s
        .post(&format!("/v1/dossiers/{code}/actions/assign"), &other)
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    if r.status() != 403 {
        failures.push(format!("other unit action: {}", r.status()));
    }
    let r = s
        .post(&format!("/v1/dossiers/{code}/files?document=1"), &other)
        .body(b"%PDF-1.4 other unit".to_vec())
        .send()
        .await
        .unwrap();
    if r.status() != 403 {
        failures.push(format!("other unit upload: {}", r.status()));
    }
    let r = s
        .get(&format!("/v1/dossiers/{code}/files"), &other)
        .send()
        .await
        .unwrap();
    if r.status() != 403 {
        failures.push(format!("other unit files: {}", r.status()));
    }
    assert!(failures.is_empty(), "{failures:#?}");
    s.server.shutdown().await.unwrap();
}
