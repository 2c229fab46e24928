//! What an attacker's afternoon found (issue 16), each tried again against a real server on
//! loopback: the request that used to succeed is refused with a clear 4xx and changes nothing.

mod http_common;

use http_common::{commune, new_dossier, problem, TestServer};
use motcua_engine::domain::events::{DossierChange, DossierEvent, Event};
use motcua_engine::domain::events_v1::{DossierChangeV1, DossierEventV1, EventV1, ReceiptV1};
use motcua_engine::domain::types::{DossierCode, Role};
use motcua_engine::domain::SecretDigest;
use motcua_engine::log::{ExpectedVersion, NewEvent, StreamId};
use motcua_engine::recorded::decode_event;
use std::collections::HashMap;

use serde_json::{json, Value};

/// POSTs a desk receipt of `procedure` as `reception`.
async fn post_receipt(s: &TestServer, reception: &str, procedure: &str) -> reqwest::Response {
    let r = s
        .post("/v1/dossiers", reception)
        .json(&new_dossier(procedure));
    r.send().await.unwrap()
}

/// Receives a desk dossier of `procedure` as reception; returns its code and lookup secret.
async fn receive(s: &TestServer, reception: &str, procedure: &str) -> (String, String) {
    let r = post_receipt(s, reception, procedure).await;
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.unwrap();
    let text = |k: &str| b[k].as_str().unwrap().to_owned();
    (text("code"), text("lookup_secret"))
}

/// A birth registration received by tn-01 and assigned to cm-tp-01; returns its code.
async fn assigned(s: &TestServer, t: &HashMap<String, String>) -> String {
    let (code, _) = receive(s, &t["tn-01"], "1.001193").await;
    let body = json!({"specialist": "cm-tp-01"});
    let r = act(s, &t["tn-01"], &code, "assign", body).await;
    assert_eq!(r.status(), 200);
    code
}

/// POSTs `action` on dossier `code` as `token` with `body`.
async fn act(
    s: &TestServer,
    token: &str,
    code: &str,
    action: &str,
    body: Value,
) -> reqwest::Response {
    s.post(&format!("/v1/dossiers/{code}/actions/{action}"), token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_withdraws_only_a_dossier_whose_secret_they_show() {
    let (s, t) = commune().await;
    let citizen = &t["cong-dvc"];
    let (code, secret) = receive(&s, &t["tn-01"], "1.001193").await;
    let head = s.head();
    // No secret, a wrong one, another dossier's: 403, nothing written.
    let (_, other_secret) = receive(&s, &t["tn-01"], "1.001193").await;
    let head_after_second = s.head();
    assert!(head_after_second > head);
    for body in [
        json!({"reason": "x"}),
        json!({"reason": "x", "lookup_secret": "AAAAAAAAAA"}),
        json!({"reason": "x", "lookup_secret": other_secret}),
    ] {
        let r = act(&s, citizen, &code, "withdraw", body).await;
        problem(r, 403, "forbidden").await;
        assert_eq!(s.head(), head_after_second, "nothing written");
    }
    let view = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert_eq!(view["state"], "Received");
    // The secret printed on the receipt proves it: the withdrawal is recorded.
    let r = act(
        &s,
        citizen,
        &code,
        "withdraw",
        json!({"reason": "x", "lookup_secret": secret}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let view = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert_eq!(view["state"], "Withdrawn");
    // Reception still withdraws at the desk without the secret (the citizen is there in person).
    let (code, _) = receive(&s, &t["tn-01"], "1.001193").await;
    let r = act(&s, &t["tn-01"], &code, "withdraw", json!({"reason": "x"})).await;
    assert_eq!(r.status(), 200);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_assigned_specialist_handles_a_dossier() {
    let (s, t) = commune().await;
    let code = assigned(&s, &t).await;
    let head = s.head();
    // cm-tp-02 has the same fields, but the dossier is cm-tp-01's.
    let sign = json!({"draft": "result", "note": "dự thảo"});
    let r = act(
        &s,
        &t["cm-tp-02"],
        &code,
        "submit_for_signing",
        sign.clone(),
    )
    .await;
    let body = problem(r, 403, "forbidden").await;
    assert!(
        body["detail"].as_str().unwrap().contains("cm-tp-01"),
        "{body}"
    );
    assert_eq!(s.head(), head, "nothing written");
    let r = act(&s, &t["cm-tp-01"], &code, "submit_for_signing", sign).await;
    assert_eq!(r.status(), 200);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_fields_are_refused_naming_the_field() {
    let (s, t) = commune().await;
    let head = s.head();
    let with = |path: &[&str], v: Value| {
        let mut b = new_dossier("1.001193");
        match path {
            [k] => b[*k] = v,
            [a, k] => b[*a][*k] = v,
            _ => unreachable!(),
        }
        b
    };
    // A 70,000-character name once made a 66 KiB event and a 500.
    let cases = [
        (
            with(&["applicant", "name"], json!("Ư".repeat(70_000))),
            "applicant.name",
        ),
        (
            with(&["applicant", "name"], json!("An\u{0}")),
            "applicant.name",
        ),
        (
            with(&["applicant", "name"], json!("\u{1b}[2JAn")),
            "applicant.name",
        ),
        (
            with(&["applicant", "id_number"], json!("abc")),
            "applicant.id_number",
        ),
        (
            with(&["applicant", "address"], json!("x".repeat(501))),
            "applicant.address",
        ),
        (
            with(&["documents"], json!(vec!["Tờ khai"; 31])),
            "documents",
        ),
        (
            with(&["documents"], json!(["x".repeat(20_000)])),
            "documents",
        ),
    ];
    for (body, field) in cases {
        let r = s
            .post("/v1/dossiers", &t["tn-01"])
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = problem(r, 422, "validation").await;
        assert_eq!(p["field"], field, "{p}");
    }
    assert_eq!(s.head(), head, "nothing written");
    // The same bounds hold for an action's text.
    let code = assigned(&s, &t).await;
    let head = s.head();
    let long = json!({"items": ["x".repeat(66_000)], "reason": "thiếu"});
    let r = act(&s, &t["cm-tp-01"], &code, "request_supplement", long).await;
    assert_eq!(problem(r, 422, "validation").await["field"], "items");
    assert_eq!(s.head(), head, "nothing written");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_with_personal_data_or_secrets_are_never_cached() {
    let (s, t) = commune().await;
    let r = post_receipt(&s, &t["tn-01"], "1.001193").await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let code = r.json::<Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/v1/dossiers/{code}"),
        "/v1/nothing-here".to_owned(),
    ] {
        let r = s.get(&path, &t["tn-01"]).send().await.unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
    }
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_read_only_their_own_units_directory() {
    let (s, t) = commune().await;
    let other = s
        .staff(
            "tn-99",
            http_common::OTHER_UNIT,
            &[motcua_engine::domain::types::Role::Reception],
            &[],
        )
        .await;
    let units = |v: &Value| -> Vec<String> {
        let mut u: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["unit"].as_str().unwrap().to_owned())
            .collect();
        u.dedup();
        u
    };
    let mine = s.get_json("/v1/staff", &t["tn-01"]).await;
    assert_eq!(units(&mine).len(), 1, "{mine}");
    assert!(mine.as_array().unwrap().iter().all(|s| s["id"] != "tn-99"));
    let theirs = s.get_json("/v1/staff", &other).await;
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
    let all = s.get_json("/v1/staff", &t["tt-01"]).await;
    assert!(all.as_array().unwrap().iter().any(|s| s["id"] == "tn-99"));
    let r = s.get("/v1/staff", &t["cong-dvc"]).send().await.unwrap();
    problem(r, 403, "forbidden").await;
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_target_or_oversized_headers_get_problem_bodies() {
    let (s, t) = commune().await;
    let long = format!("/v1/dossiers?procedure={}", "1".repeat(9_000));
    let r = s.get(&long, &t["tn-01"]).send().await.unwrap();
    let p = problem(r, 414, "uri-too-long").await;
    assert_eq!(p["detail"], "request target too long (limit 8192 bytes)");
    let r = s
        .get("/v1/dossiers", &t["tn-01"])
        .header("x-padding", "p".repeat(20_000))
        .send()
        .await
        .unwrap();
    let p = problem(r, 431, "headers-too-large").await;
    assert_eq!(
        p["detail"],
        "request header fields too large (limit 16384 bytes)"
    );
    // Just under the limits: answered as usual.
    let r = s
        .get("/v1/dossiers", &t["tn-01"])
        .header("x-padding", "p".repeat(8_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_star_matches_any_current_version_and_fails_on_a_missing_dossier() {
    let (s, t) = commune().await;
    let (code, _) = receive(&s, &t["tn-01"], "1.001193").await;
    // On an existing dossier `*` checks no version.
    let r = s
        .post(&format!("/v1/dossiers/{code}/actions/assign"), &t["tn-01"])
        .header("if-match", "*")
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"2\"");
    // A stale version is still refused.
    let r = s
        .post(
            &format!("/v1/dossiers/{code}/actions/submit_for_signing"),
            &t["cm-tp-01"],
        )
        .header("if-match", "\"1\"")
        .json(&json!({"draft": "result"}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 412, "stale-version").await["current_version"], 2);
    // On a missing dossier `*` fails: 412, nothing written.
    let head = s.head();
    let missing = "000.33.22.H05-230105-9999";
    let r = s
        .post(
            &format!("/v1/dossiers/{missing}/actions/assign"),
            &t["tn-01"],
        )
        .header("if-match", "*")
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 412, "nothing-to-match").await;
    assert_eq!(
        p["detail"],
        format!("If-Match: * but dossier {missing} does not exist")
    );
    // Without `*` the same request is a 404.
    let r = act(
        &s,
        &t["tn-01"],
        missing,
        "assign",
        json!({"specialist": "cm-tp-01"}),
    )
    .await;
    problem(r, 404, "not-found").await;
    assert_eq!(s.head(), head, "nothing written");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_sent_without_a_key_gets_one_and_its_retry_is_deduplicated() {
    let (s, t) = commune().await;
    let r = post_receipt(&s, &t["tn-01"], "1.001193").await;
    assert_eq!(r.status(), 201);
    let key = r.headers()["idempotency-key"].to_str().unwrap().to_owned();
    assert!(key.starts_with("srv-") && key.len() == 36, "{key}");
    assert!(!r.headers().contains_key("idempotent-replayed"));
    let first: Value = r.json().await.unwrap();
    let head = s.head();
    // The client's answer was lost: the same request with the server's key is answered with
    // the first outcome (same code, same lookup secret) and writes nothing.
    let r = s
        .post("/v1/dossiers", &t["tn-01"])
        .header("idempotency-key", &key)
        .json(&new_dossier("1.001193"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(r.headers()["idempotency-key"], key.as_str());
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["code"], first["code"]);
    assert_eq!(again["lookup_secret"], first["lookup_secret"]);
    assert_eq!(s.head(), head, "nothing written twice");
    // A second unkeyed request is another write, under another key.
    let r = post_receipt(&s, &t["tn-01"], "1.001193").await;
    assert_eq!(r.status(), 201);
    assert_ne!(r.headers()["idempotency-key"], key.as_str());
    // Error answers carry the key too.
    let r = s
        .post("/v1/dossiers", &t["tn-01"])
        .json(&json!({"procedure": "1.001193"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["idempotency-key"]
        .to_str()
        .unwrap()
        .starts_with("srv-"));
    problem(r, 422, "validation").await;
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_reads_figures_and_codes_but_no_applicants_personal_data() {
    let (s, t) = commune().await;
    let planner = &t["kh-01"];
    let (code, _) = receive(&s, &t["tn-01"], "1.001193").await;
    // One dossier (its history holds the applicant) and its slips: 403.
    for path in [
        format!("/v1/dossiers/{code}"),
        format!("/v1/dossiers/{code}/slips/01"),
    ] {
        let r = s.get(&path, planner).send().await.unwrap();
        let p = problem(r, 403, "forbidden").await;
        assert_eq!(
            p["detail"],
            "forbidden: requires one of the roles [reception, specialist, leader, auditor, admin]; kh-01 holds [planner]",
            "{path}"
        );
    }
    // The list, the figures and the codes behind them: codes, states and dates, nothing of the
    // applicant (new_dossier's id number, phone, address, name).
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for path in [
        "/v1/dossiers".to_owned(),
        format!("/v1/stats?from=2023-01-01&to={today}"),
        format!("/v1/stats/codes?from=2023-01-01&to={today}&figure=received"),
    ] {
        let r = s.get(&path, planner).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let text = r.text().await.unwrap();
        for personal in ["006090001234", "0912345678", "Nà Pài", "Hoàng Văn Nam"] {
            assert!(!text.contains(personal), "{personal} in {path}: {text}");
        }
    }
    let list = s.get_json("/v1/dossiers", planner).await;
    assert_eq!(list["items"][0]["code"], code.as_str());
    // Reception still reads the dossier with its applicant.
    let view = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert!(view.to_string().contains("006090001234"));
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_an_auditors_or_admins_token() {
    let (s, t) = commune().await;
    let r = s.client.get(s.url("/metrics")).send().await.unwrap();
    problem(r, 401, "unauthorized").await;
    for who in ["kh-01", "tn-01", "cong-dvc"] {
        let r = s.get("/metrics", &t[who]).send().await.unwrap();
        problem(r, 403, "forbidden").await;
    }
    for who in ["tt-01", "qt-01"] {
        let r = s.get("/metrics", &t[who]).send().await.unwrap();
        assert_eq!(r.status(), 200, "{who}");
        assert!(r.text().await.unwrap().contains("motcua_log_head_seq"));
    }
    s.server.shutdown().await.unwrap();
}

/// A server whose public lookup allows `burst` requests per client, trusting `proxies`.
async fn lookup_server(tmp: &tempfile::TempDir, burst: u32, proxies: &[&str]) -> TestServer {
    let mut c = http_common::config(&tmp.path().join("data"));
    c.lookup_burst = burst;
    c.lookup_per_second = 0.01;
    c.trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
    TestServer::start_in(c).await
}

/// The status of one public lookup sent with `X-Forwarded-For: forwarded`.
async fn lookup_status(s: &TestServer, forwarded: &str) -> u16 {
    let r = s
        .client
        .get(s.url("/v1/lookup/000.33.22.H05-230105-0001?secret=AAAAAAAAAA"))
        .header("x-forwarded-for", forwarded)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_has_its_own_allowance() {
    let tmp = tempfile::tempdir().unwrap();
    let s = lookup_server(&tmp, 3, &["127.0.0.0/8"]).await;
    for _ in 0..3 {
        assert_eq!(lookup_status(&s, "203.0.113.7").await, 404);
    }
    assert_eq!(lookup_status(&s, "203.0.113.7").await, 429);
    // An entry the client wrote to the left of what the proxy appended changes nothing.
    assert_eq!(lookup_status(&s, "198.51.100.1, 203.0.113.7").await, 429);
    // Another citizen behind the same proxy is not blocked.
    assert_eq!(lookup_status(&s, "203.0.113.8").await, 404);
    // IPv6 clients count by their /64: a fresh address in the same /64 is the same client.
    for _ in 0..3 {
        assert_eq!(lookup_status(&s, "2001:db8:1:2::1").await, 404);
    }
    assert_eq!(lookup_status(&s, "2001:db8:1:2:ffff::9").await, 429);
    assert_eq!(lookup_status(&s, "2001:db8:1:3::1").await, 404);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_peer_cannot_choose_its_address_with_x_forwarded_for() {
    let tmp = tempfile::tempdir().unwrap();
    // Only 10.0.0.0/8 is a proxy: the loopback peer is a client, its header is ignored.
    let s = lookup_server(&tmp, 3, &["10.0.0.0/8"]).await;
    for i in 0..3 {
        assert_eq!(lookup_status(&s, &format!("203.0.113.{i}")).await, 404);
    }
    let r = s
        .client
        .get(s.url("/v1/lookup/000.33.22.H05-230105-0001?secret=AAAAAAAAAA"))
        .header("x-forwarded-for", "203.0.113.99")
        .send()
        .await
        .unwrap();
    let p = problem(r, 429, "rate-limited").await;
    assert_eq!(p["retry_after_s"], 100);
    s.server.shutdown().await.unwrap();
}

/// POSTs an online submission as `citizen`, from `forwarded` (an address the loopback proxy
/// forwards for) when given.
async fn submit(s: &TestServer, citizen: &str, forwarded: Option<&str>) -> reqwest::Response {
    let mut r = s
        .post("/v1/submissions", citizen)
        .json(&new_dossier("2.001035"));
    if let Some(f) = forwarded {
        r = r.header("x-forwarded-for", f);
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_submissions_have_daily_quotas_and_leave_the_desk_its_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = http_common::config(&tmp.path().join("data"));
    c.online_quota_per_account = 2;
    c.online_quota_per_address = 3;
    // Online submissions may take the day's numbers 1 to 5; 6 to 9999 are the desk's.
    c.desk_reserve = 9994;
    c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let (s, t) = http_common::commune_in(c).await;
    let other = s
        .staff("cd-02", http_common::UNIT, &[Role::Citizen], &[])
        .await;
    let third = s
        .staff("cd-03", http_common::UNIT, &[Role::Citizen], &[])
        .await;
    let code_of = |b: &Value| b["code"].as_str().unwrap().to_owned();
    // One account: two submissions, then 429.
    let r = submit(&s, &t["cong-dvc"], None).await;
    assert_eq!(r.status(), 201);
    assert!(code_of(&r.json().await.unwrap()).ends_with("-0001"));
    let r = submit(&s, &t["cong-dvc"], None).await;
    assert_eq!(r.status(), 201);
    let key = r.headers()["idempotency-key"].to_str().unwrap().to_owned();
    assert!(code_of(&r.json().await.unwrap()).ends_with("-0002"));
    let head = s.head();
    let r = submit(&s, &t["cong-dvc"], None).await;
    assert!(r.headers().contains_key("retry-after"));
    let p = problem(r, 429, "quota-exceeded").await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("this account has made its 2 online submissions for today; retry in "),
        "{p}"
    );
    assert_eq!(s.head(), head, "nothing written");
    // A keyed retry of a counted submission is its first answer, not another submission.
    let r = s
        .post("/v1/submissions", &t["cong-dvc"])
        .header("idempotency-key", &key)
        .json(&new_dossier("2.001035"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    // Another account from the same address: the address's third, then 429.
    let r = submit(&s, &other, None).await;
    assert_eq!(r.status(), 201);
    let p = problem(submit(&s, &other, None).await, 429, "quota-exceeded").await;
    assert!(p["detail"]
        .as_str()
        .unwrap()
        .starts_with("this address has made its 3 online submissions for today; retry in "));
    // The desk takes 0004 and 0005; then online submissions have used their share of the
    // day's codes, even from an address and account with quota left.
    for n in ["-0004", "-0005"] {
        let r = post_receipt(&s, &t["tn-01"], "1.001193").await;
        assert_eq!(r.status(), 201);
        assert!(code_of(&r.json().await.unwrap()).ends_with(n));
    }
    let head = s.head();
    let r = submit(&s, &third, Some("203.0.113.9")).await;
    let p = problem(r, 429, "quota-exceeded").await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
        .date_naive();
    assert!(
        p["detail"].as_str().unwrap().starts_with(&format!(
            "online submissions to 000.33.22.H05 on {today} have used their share of the \
             day's codes (1 to 5; the rest are kept for the desk); retry in "
        )),
        "{p}"
    );
    assert_eq!(s.head(), head, "nothing written");
    // The desk is never starved.
    let r = post_receipt(&s, &t["tn-01"], "1.001193").await;
    assert_eq!(r.status(), 201);
    assert!(code_of(&r.json().await.unwrap()).ends_with("-0006"));
    s.server.shutdown().await.unwrap();
}

// --- The lookup secret's digest (issue 16, "Lower, but fix") ---

/// The digest of the lookup secret recorded by dossier `code`'s first event (read from the log,
/// as an auditor's archive holds it).
fn recorded_digest(s: &TestServer, code: &str) -> SecretDigest {
    let code: DossierCode = code.parse().unwrap();
    let envs = s
        .server
        .log()
        .read_stream(&StreamId::dossier(&code), 0)
        .unwrap();
    match decode_event(&envs[0]).unwrap() {
        Event::Dossier(DossierEvent {
            change: DossierChange::Received(r),
            ..
        }) => r.lookup_secret,
        Event::Dossier(DossierEvent {
            change: DossierChange::SubmittedOnline(s),
            ..
        }) => s.lookup_secret,
        other => panic!("{other:?}"),
    }
}

/// GETs the public lookup of `code` with `secret`; its status and body.
async fn lookup(s: &TestServer, code: &str, secret: &str) -> (u16, Value) {
    let r = s
        .client
        .get(s.url(&format!("/v1/lookup/{code}?secret={secret}")))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_records_a_salted_argon2id_digest_that_proves_its_secret_only() {
    let (s, t) = commune().await;
    let (code, secret) = receive(&s, &t["tn-01"], "1.001193").await;
    let (other_code, other_secret) = receive(&s, &t["tn-01"], "1.001193").await;
    let digest = recorded_digest(&s, &code);
    let other = recorded_digest(&s, &other_code);
    let (
        SecretDigest::Argon2id { salt, .. },
        SecretDigest::Argon2id {
            salt: other_salt, ..
        },
    ) = (&digest, &other)
    else {
        panic!("new receipts record Argon2id digests: {digest:?}, {other:?}");
    };
    assert_ne!(salt, other_salt, "a salt per dossier");
    // The same secret under another dossier's salt is another digest: no guess serves two.
    assert_ne!(
        SecretDigest::argon2id(&secret, *other_salt).unwrap(),
        digest
    );
    assert!(digest.verify(&secret) && !digest.verify(&other_secret));

    // The secret printed on the receipt looks the dossier up; another one, or another code,
    // gets the same 404.
    let (status, found) = lookup(&s, &code, &secret).await;
    assert_eq!((status, found["code"].as_str()), (200, Some(code.as_str())));
    let (wrong, wrong_body) = lookup(&s, &code, &other_secret).await;
    let (missing, missing_body) = lookup(&s, "000.33.22.H05-230105-0099", &secret).await;
    assert_eq!((wrong, missing), (404, 404));
    assert_eq!(wrong_body["detail"], missing_body["detail"]);

    // And it proves a citizen's action; another dossier's secret does not.
    let citizen = &t["cong-dvc"];
    let body = |secret: &str| json!({"reason": "x", "lookup_secret": secret});
    let r = act(&s, citizen, &code, "withdraw", body(&other_secret)).await;
    problem(r, 403, "forbidden").await;
    let r = act(&s, citizen, &code, "withdraw", body(&secret)).await;
    assert_eq!(r.status(), 200);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dossier_recorded_under_schema_1_still_proves_its_unsalted_secret() {
    let (s, t) = commune().await;
    // A receipt as schema version 1 recorded it (an unsalted SHA-256 of the secret): today's
    // receipt of another dossier, its digest replaced, appended under a new code with
    // schema_version 1, as an old log holds it.
    let (model, _) = receive(&s, &t["tn-01"], "1.001193").await;
    let model: DossierCode = model.parse().unwrap();
    let envs = s
        .server
        .log()
        .read_stream(&StreamId::dossier(&model), 0)
        .unwrap();
    let Event::Dossier(DossierEvent {
        at,
        change: DossierChange::Received(r),
        ..
    }) = decode_event(&envs[0]).unwrap()
    else {
        panic!("a receipt")
    };
    const OLD_SECRET: &str = "OLDSECRET2";
    let code = DossierCode::new(&model.unit(), model.date(), model.sequence() + 50).unwrap();
    let v1 = EventV1::Dossier(DossierEventV1 {
        code: code.clone(),
        at,
        change: DossierChangeV1::Received(ReceiptV1 {
            procedure: r.procedure,
            procedure_name: r.procedure_name,
            field: r.field,
            unit: r.unit,
            channel: r.channel,
            workflow: r.workflow,
            rule_set: r.rule_set,
            // Versions 1 and 2 recorded the applicant in clear.
            applicant: motcua_engine::domain::events::Applicant {
                name: "Lê Văn Cũ".into(),
                id_number: "001088000123".into(),
                phone: String::new(),
                address: String::new(),
            },
            documents: r.documents,
            processing_time: r.processing_time,
            clock_start: r.clock_start,
            due: r.due,
            lookup_secret_sha256: motcua_http::crypto::sha256(OLD_SECRET.as_bytes()),
            fees: r.fees,
        }),
    });
    let appended = s
        .server
        .log()
        .append(
            &StreamId::dossier(&code),
            ExpectedVersion::NoStream,
            vec![NewEvent {
                event_id: None,
                event_type: "dossier.received".into(),
                schema_version: 1,
                actor: envs[0].actor.clone(),
                correlation_id: None,
                causation_id: None,
                payload: motcua_engine::codec::encode(&v1),
            }],
        )
        .await
        .unwrap();
    assert!(s.server.app().wait_for_read_models(appended.last_seq).await);
    let code = code.to_string();
    assert_eq!(
        recorded_digest(&s, &code),
        SecretDigest::Sha256(motcua_http::crypto::sha256(OLD_SECRET.as_bytes()))
    );
    // The old secret looks it up and proves a citizen's action; a wrong one does neither.
    assert_eq!(lookup(&s, &code, OLD_SECRET).await.0, 200);
    assert_eq!(lookup(&s, &code, "OLDSECRET3").await.0, 404);
    let citizen = &t["cong-dvc"];
    let body = |secret: &str| json!({"reason": "x", "lookup_secret": secret});
    let r = act(&s, citizen, &code, "withdraw", body("OLDSECRET3")).await;
    problem(r, 403, "forbidden").await;
    let r = act(&s, citizen, &code, "withdraw", body(OLD_SECRET)).await;
    assert_eq!(r.status(), 200);
    // Its history names the scheme, never the digest.
    let view = s
        .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
        .await;
    assert_eq!(view["state"], "Withdrawn");
    assert_eq!(view["applicant"]["name"], "Lê Văn Cũ");
    let text = view.to_string();
    assert!(text.contains(r#""lookup_secret":"Sha256""#), "{text}");
    let sha = motcua_http::crypto::sha256(OLD_SECRET.as_bytes());
    assert!(digest_shown_in(&text, &sha, &[]).is_none());
    s.server.shutdown().await.unwrap();
}

/// Where `text` shows the digest `hash` or its `salt`: as hex, or as the JSON array of numbers
/// serde writes for a byte array.
fn digest_shown_in(text: &str, hash: &[u8], salt: &[u8]) -> Option<String> {
    let array = |b: &[u8]| {
        let n: Vec<String> = b.iter().map(u8::to_string).collect();
        format!("[{}]", n.join(","))
    };
    let mut forms = vec![hex::encode(hash), hex::encode_upper(hash), array(hash)];
    if !salt.is_empty() {
        forms.extend([hex::encode(salt), hex::encode_upper(salt), array(salt)]);
    }
    forms.into_iter().find(|f| text.contains(f.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_staff_visible_answer_shows_the_secret_digest() {
    let (s, t) = commune().await;
    let (desk, desk_secret) = receive(&s, &t["tn-01"], "1.001193").await;
    let r = submit(&s, &t["cong-dvc"], None).await;
    assert_eq!(r.status(), 201);
    let online: Value = r.json().await.unwrap();
    let online = online["code"].as_str().unwrap().to_owned();
    let r = act(&s, &t["tn-01"], &online, "receive", json!({})).await;
    assert_eq!(r.status(), 200);
    let r = act(
        &s,
        &t["tn-01"],
        &desk,
        "assign",
        json!({"specialist": "cm-tp-01"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for code in [&desk, &online] {
        let SecretDigest::Argon2id { salt, hash } = recorded_digest(&s, code) else {
            panic!("Argon2id");
        };
        // Every answer about the dossier a staff member can get, as each role that may ask.
        let mut paths = vec![
            format!("/v1/dossiers/{code}"),
            "/v1/events?limit=1000".to_owned(),
            "/v1/dossiers".to_owned(),
            "/v1/queues".to_owned(),
            "/v1/inbox".to_owned(),
            "/v1/worklist".to_owned(),
            format!("/v1/stats/codes?from=2023-01-01&to={today}&figure=received"),
        ];
        for slip in ["01", "02", "03", "04", "05", "06"] {
            paths.push(format!("/v1/dossiers/{code}/slips/{slip}"));
            paths.push(format!("/v1/dossiers/{code}/slips/{slip}?format=html"));
        }
        let mut read = 0;
        for staff in ["tn-01", "cm-tp-01", "ld-01", "tt-01", "qt-01", "kh-01"] {
            for path in &paths {
                let r = s.get(path, &t[staff]).send().await.unwrap();
                let status = r.status();
                let text = r.text().await.unwrap();
                assert!(!text.contains("lookup_secret_sha256"), "{staff} {path}");
                if let Some(form) = digest_shown_in(&text, &hash, &salt) {
                    panic!("{staff} {path} ({status}) shows the digest as {form}: {text}");
                }
                read += usize::from(status.is_success());
            }
        }
        assert!(read >= 20, "the answers were read, not refused: {read}");
        // The history names the scheme in the digest's place.
        let view = s
            .get_json(&format!("/v1/dossiers/{code}"), &t["tn-01"])
            .await;
        assert!(view.to_string().contains(r#""lookup_secret":"Argon2id""#));
        // The live event stream too.
        let mut resp = s
            .get("/v1/events/stream", &t["tt-01"])
            .header("last-event-id", "0")
            .send()
            .await
            .unwrap();
        let head = format!("id: {}\n", s.head());
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !text.contains(&head) {
            let chunk = tokio::time::timeout_at(deadline, resp.chunk())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(digest_shown_in(&text, &hash, &salt).is_none());
        // The auditor's archive carries the events as recorded: the salted slow digest, and
        // nothing else of the secret.
        let archive = s
            .get("/v1/export", &t["tt-01"])
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(archive.windows(hash.len()).any(|w| w == hash));
    }
    // The receipt's own answer showed the secret once; the lookup answer shows neither.
    let (status, found) = lookup(&s, &desk, &desk_secret).await;
    assert_eq!(status, 200);
    let SecretDigest::Argon2id { salt, hash } = recorded_digest(&s, &desk) else {
        panic!("Argon2id");
    };
    assert!(digest_shown_in(&found.to_string(), &hash, &salt).is_none());
    s.server.shutdown().await.unwrap();
}
