//! Every workflow's lifecycle over HTTP against a real server (standard, same-day, liên thông,
//! online), the domain's refusals as problem documents with the log unchanged, optimistic
//! concurrency (If-Match, concurrent conflicting actions), idempotent actions, public lookup,
//! and restart.

mod http_common;

use std::collections::HashMap;

use http_common::{commune, new_dossier, problem, TestServer};
use motcua_http::demo::data::UNIT;
use serde_json::{json, Value};

struct Desk {
    s: TestServer,
    t: HashMap<String, String>,
}

impl Desk {
    fn tok(&self, staff: &str) -> &str {
        &self.t[staff]
    }
    async fn receive(&self, procedure: &str) -> Value {
        let r = self
            .s
            .post("/v1/dossiers", self.tok("tn-01"))
            .json(&new_dossier(procedure))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }
    async fn act(&self, code: &str, action: &str, staff: &str, body: Value) -> reqwest::Response {
        self.s
            .post(
                &format!("/v1/dossiers/{code}/actions/{action}"),
                self.tok(staff),
            )
            .json(&body)
            .send()
            .await
            .unwrap()
    }
    async fn ok(&self, code: &str, action: &str, staff: &str, body: Value) -> Value {
        let r = self.act(code, action, staff, body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{action}: {v}");
        v
    }
    async fn get(&self, code: &str, staff: &str) -> (Value, String) {
        let r = self
            .s
            .get(&format!("/v1/dossiers/{code}"), self.tok(staff))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        (r.json().await.unwrap(), etag)
    }
}

async fn desk() -> Desk {
    let (s, t) = commune().await;
    Desk { s, t }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_workflow_with_supplement_payment_liaison_and_send_back() {
    let d = desk().await;
    let created = d.receive("1.004873").await;
    let code = created["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("000.33.22.H05-"));
    assert_eq!(created["state"], "received");
    assert_eq!(created["version"], 1);
    assert_eq!(created["lookup_secret"].as_str().unwrap().len(), 10);
    let (view, etag) = d.get(&code, "tn-01").await;
    assert_eq!(etag, "\"1\"");
    assert_eq!(
        view["allowed_actions"],
        json!(["assign", "withdraw", "attach_file"])
    );

    d.ok(&code, "assign", "tn-01", json!({"specialist": "cm-tp-01"}))
        .await;
    d.ok(
        &code,
        "request_supplement",
        "cm-tp-01",
        json!({"items": ["Bản sao CCCD"], "reason": "thiếu"}),
    )
    .await;
    let v = d
        .ok(
            &code,
            "record_supplement",
            "tn-01",
            json!({"note": "đã bổ sung"}),
        )
        .await;
    assert_eq!(v["state"], "in_processing");
    d.ok(
        &code,
        "forward",
        "cm-tp-01",
        json!({"agency": "UBND huyện Bạch Thông"}),
    )
    .await;
    d.ok(
        &code,
        "record_agency_answer",
        "cm-tp-01",
        json!({"note": "đã trả lời"}),
    )
    .await;
    d.ok(
        &code,
        "request_payment",
        "cm-tp-01",
        json!({"amount": 3000}),
    )
    .await;
    d.ok(
        &code,
        "record_payment",
        "tn-01",
        json!({"receipt_number": "BL-1"}),
    )
    .await;
    d.ok(
        &code,
        "submit_for_signing",
        "cm-tp-01",
        json!({"draft": "result"}),
    )
    .await;
    // The leader's inbox shows it (read-your-writes: no sleep needed).
    let inbox: Value = d.s.get_json("/v1/inbox", d.tok("ld-01")).await;
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == code),
        "{inbox}"
    );
    d.ok(&code, "send_back", "ld-01", json!({"comments": "sửa lại"}))
        .await;
    let work: Value = d.s.get_json("/v1/worklist", d.tok("cm-tp-01")).await;
    assert!(work["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == code));
    d.ok(&code, "submit_for_signing", "cm-tp-01", json!({}))
        .await;
    let v = d
        .ok(&code, "approve", "ld-01", json!({"note": "đồng ý"}))
        .await;
    assert_eq!(v["state"], "result_ready");
    let v = d.ok(&code, "hand_over", "tn-02", json!({})).await;
    assert_eq!(v["state"], "returned");
    let (view, etag) = d.get(&code, "tt-01").await;
    assert_eq!(etag, "\"13\"");
    assert_eq!(view["history"].as_array().unwrap().len(), 13);
    assert_eq!(view["national_status"], 10);
    assert_eq!(view["history"][1]["actor"], "tn-01");
    assert_eq!(view["history"][2]["actor"], "cm-tp-01");
    assert_eq!(view["history"][2]["role"], "specialist");

    // Public lookup with the printed secret; a wrong secret looks like a wrong code.
    let secret = created["lookup_secret"].as_str().unwrap();
    let r =
        d.s.client
            .get(d.s.url(&format!("/v1/lookup/{code}?secret={secret}")))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], "Đã trả kết quả");
    // Found or not, a lookup answers no sooner than the server's floor, so its time does not
    // tell an existing code from a missing one (a lower bound: the timer guarantees it).
    let floor = motcua_http::config::DEFAULT_LOOKUP_MIN_LATENCY;
    let t0 = std::time::Instant::now();
    let r =
        d.s.client
            .get(d.s.url(&format!("/v1/lookup/{code}?secret=WRONG")))
            .send()
            .await
            .unwrap();
    problem(r, 404, "not-found").await;
    assert!(t0.elapsed() >= floor);
    let missing = format!("{}9999", &code[..code.len() - 4]);
    let t0 = std::time::Instant::now();
    let r =
        d.s.client
            .get(d.s.url(&format!("/v1/lookup/{missing}?secret=WRONG")))
            .send()
            .await
            .unwrap();
    problem(r, 404, "not-found").await;
    assert!(t0.elapsed() >= floor);
    d.s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_day_lien_thong_refusal_withdraw_stop_and_desk_outcomes() {
    let d = desk().await;
    // Same-day certification.
    let code = d.receive("2.000815").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    d.ok(&code, "assign", "tn-01", json!({"specialist": "cm-tp-02"}))
        .await;
    d.ok(&code, "submit_for_signing", "cm-tp-02", json!({}))
        .await;
    d.ok(&code, "approve", "ld-02", json!({})).await;
    d.ok(&code, "hand_over", "tn-01", json!({})).await;
    // Liên thông: land registration forwarded to the district.
    let code = d.receive("1.004227").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    d.ok(&code, "assign", "ld-01", json!({"specialist": "cm-dc-01"}))
        .await;
    d.ok(
        &code,
        "forward",
        "cm-dc-01",
        json!({"agency": "VPĐK đất đai huyện"}),
    )
    .await;
    d.ok(&code, "record_agency_answer", "tn-01", json!({}))
        .await;
    d.ok(
        &code,
        "submit_for_signing",
        "cm-dc-01",
        json!({"draft": "refusal", "note": "không đủ điều kiện"}),
    )
    .await;
    let v = d
        .ok(
            &code,
            "sign_refusal",
            "ld-01",
            json!({"reasons": "Đất đang tranh chấp"}),
        )
        .await;
    assert_eq!(v["state"], "rejected");
    d.ok(&code, "hand_over", "tn-01", json!({})).await;
    // Withdraw and stop.
    let code = d.receive("1.001193").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = d
        .ok(
            &code,
            "withdraw",
            "tn-01",
            json!({"reason": "công dân rút"}),
        )
        .await;
    assert_eq!(v["state"], "withdrawn");
    let code = d.receive("1.000954").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    d.ok(&code, "assign", "tn-01", json!({"specialist": "cm-vh-01"}))
        .await;
    let v = d
        .ok(
            &code,
            "stop",
            "ld-01",
            json!({"reason": "Tòa án thụ lý", "legal_basis": "ND 61/2018"}),
        )
        .await;
    assert_eq!(v["state"], "stopped");
    // At the desk: refuse and guide (the dossier never becomes received).
    let mut b = new_dossier("1.001193");
    b["action"] = json!("refuse_to_receive");
    b["reason"] = json!("Không thuộc thẩm quyền");
    b["legal_basis"] = json!("Nghị định 61/2018/NĐ-CP, Điều 19");
    let r =
        d.s.post("/v1/dossiers", d.tok("tn-02"))
            .json(&b)
            .send()
            .await
            .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["state"], "refused");
    // Online: the citizen account submits, reception receives.
    let r =
        d.s.post("/v1/submissions", d.tok("cong-dvc"))
            .json(&new_dossier("2.001035"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], "submitted");
    let code = v["code"].as_str().unwrap().to_owned();
    let v = d.ok(&code, "receive", "tn-01", json!({})).await;
    assert_eq!(v["state"], "received");
    // Queues and list see them.
    let q: Value = d.s.get_json("/v1/queues", d.tok("tn-01")).await;
    assert!(!q["counts"].as_array().unwrap().is_empty());
    let page: Value = d.s.get_json("/v1/dossiers?limit=2", d.tok("tn-01")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let page2: Value =
        d.s.get_json(
            &format!("/v1/dossiers?limit=2&cursor={cursor}"),
            d.tok("tn-01"),
        )
        .await;
    assert_ne!(page["items"][0]["code"], page2["items"][0]["code"]);
    d.s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_problems_and_write_nothing() {
    let d = desk().await;
    let code = d.receive("1.004873").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let head = d.s.head();
    // 409 illegal transition, with the state and what is allowed.
    let r = d.act(&code, "approve", "ld-01", json!({})).await;
    let b = problem(r, 409, "illegal-transition").await;
    assert_eq!(b["current_state"], "Received");
    assert!(b["allowed_actions"]
        .as_array()
        .unwrap()
        .contains(&json!("assign")));
    // 403: wrong role; specialist of another field.
    let r = d
        .act(
            &code,
            "assign",
            "cm-tp-01",
            json!({"specialist": "cm-tp-01"}),
        )
        .await;
    problem(r, 403, "forbidden").await;
    d.ok(&code, "assign", "tn-01", json!({"specialist": "cm-tp-01"}))
        .await;
    let head = head + 1;
    let r = d
        .act(&code, "submit_for_signing", "cm-dc-01", json!({}))
        .await;
    problem(r, 403, "forbidden").await;
    // 422: missing field, unknown action body field, bad specialist.
    let r = d
        .act(&code, "request_supplement", "cm-tp-01", json!({}))
        .await;
    assert_eq!(problem(r, 422, "validation").await["field"], "items");
    let r = d
        .act(
            &code,
            "request_supplement",
            "cm-tp-01",
            json!({"itemz": []}),
        )
        .await;
    problem(r, 422, "validation").await;
    // 404: unknown dossier, unknown action, malformed code.
    let r = d
        .act("000.33.22.H05-230101-0999", "approve", "ld-01", json!({}))
        .await;
    problem(r, 404, "not-found").await;
    let r = d.act(&code, "fly", "ld-01", json!({})).await;
    problem(r, 404, "not-found").await;
    let r =
        d.s.get("/v1/dossiers/nope", d.tok("tn-01"))
            .send()
            .await
            .unwrap();
    problem(r, 404, "not-found").await;
    // 412 stale If-Match, with the current version.
    let r =
        d.s.post(
            &format!("/v1/dossiers/{code}/actions/submit_for_signing"),
            d.tok("cm-tp-01"),
        )
        .header("if-match", "\"1\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"], "\"2\"");
    assert_eq!(problem(r, 412, "stale-version").await["current_version"], 2);
    // 400 / 415.
    let r =
        d.s.post(
            &format!("/v1/dossiers/{code}/actions/approve"),
            d.tok("ld-01"),
        )
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    problem(r, 400, "malformed-request").await;
    let r =
        d.s.post(
            &format!("/v1/dossiers/{code}/actions/approve"),
            d.tok("ld-01"),
        )
        .body("x")
        .send()
        .await
        .unwrap();
    problem(r, 415, "unsupported-media-type").await;
    // A citizen account cannot receive at the desk; unknown procedure is 422.
    let r =
        d.s.post("/v1/dossiers", d.tok("cong-dvc"))
            .json(&new_dossier("1.001193"))
            .send()
            .await
            .unwrap();
    problem(r, 403, "forbidden").await;
    let r =
        d.s.post("/v1/dossiers", d.tok("tn-01"))
            .json(&new_dossier("9.999999"))
            .send()
            .await
            .unwrap();
    assert_eq!(problem(r, 422, "validation").await["field"], "procedure");
    assert_eq!(d.s.head(), head, "no refused request wrote anything");
    // With the right If-Match it goes through.
    let r =
        d.s.post(
            &format!("/v1/dossiers/{code}/actions/submit_for_signing"),
            d.tok("cm-tp-01"),
        )
        .header("if-match", "\"2\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"3\"");
    d.s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conflicting_actions_exactly_one_wins() {
    let d = desk().await;
    for round in 0..5 {
        let code = d.receive("1.004873").await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        d.ok(&code, "assign", "tn-01", json!({"specialist": "cm-tp-01"}))
            .await;
        d.ok(&code, "submit_for_signing", "cm-tp-01", json!({}))
            .await;
        // Two leaders at once: one approves, one sends back (and with If-Match on odd rounds).
        let send = |action: &'static str, staff: &'static str, body: Value| {
            let mut req =
                d.s.post(
                    &format!("/v1/dossiers/{code}/actions/{action}"),
                    d.tok(staff),
                )
                .json(&body);
            if round % 2 == 1 {
                req = req.header("if-match", "\"3\"");
            }
            req.send()
        };
        let (a, b) = tokio::join!(
            send("approve", "ld-01", json!({})),
            send("send_back", "ld-02", json!({"comments": "xem lại"}))
        );
        let statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
        let wins = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(wins, 1, "round {round}: {statuses:?}");
        assert!(
            statuses.contains(&409) || statuses.contains(&412),
            "{statuses:?}"
        );
        let (_, etag) = d.get(&code, "ld-01").await;
        assert_eq!(etag, "\"4\"");
    }
    d.s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_receipt_and_action_then_restart() {
    let d = desk().await;
    let send = |key: &'static str, body: Value| {
        d.s.post("/v1/dossiers", d.tok("tn-01"))
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let a = send("r-1", new_dossier("1.001193")).await.unwrap();
    assert_eq!(a.status(), 201);
    let a: Value = a.json().await.unwrap();
    let head = d.s.head();
    let b = send("r-1", new_dossier("1.001193")).await.unwrap();
    assert_eq!(b.status(), 201);
    assert_eq!(b.headers()["idempotent-replayed"], "true");
    let b: Value = b.json().await.unwrap();
    assert_eq!(a, b, "same code, same secret");
    assert_eq!(d.s.head(), head);
    let r = send("r-1", new_dossier("1.000656")).await.unwrap();
    problem(r, 422, "idempotency-key-reused").await;
    // The stored responses are lost (as in a crash before they reached disk): the log's
    // event-id index still recognises the retry, which gets the same dossier and secret.
    forget_stored_answers(&d.s);
    let c = send("r-1", new_dossier("1.001193")).await.unwrap();
    assert_eq!(c.status(), 201);
    let c: Value = c.json().await.unwrap();
    assert_eq!(c["code"], a["code"]);
    assert_eq!(c["lookup_secret"], a["lookup_secret"]);
    assert_eq!(c["deduplicated"], true);
    assert_eq!(d.s.head(), head, "the retry wrote nothing");
    let code = a["code"].as_str().unwrap().to_owned();
    let act = || {
        d.s.post(
            &format!("/v1/dossiers/{code}/actions/assign"),
            d.tok("tn-01"),
        )
        .header("idempotency-key", "a-1")
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
    };
    assert_eq!(act().await.unwrap().status(), 200);
    let head = d.s.head();
    let again = act().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(d.s.head(), head);

    // Restart: the dossier, its version and the stored replies survive.
    let s = d.s.restart().await;
    let r = s
        .get(&format!("/v1/dossiers/{code}"), &d.t["tn-01"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"], "\"2\"");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], "InProcessing");
    let again = s
        .post(
            &format!("/v1/dossiers/{code}/actions/assign"),
            &d.t["tn-01"],
        )
        .header("idempotency-key", "a-1")
        .json(&json!({"specialist": "cm-tp-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(s.head(), head);
    s.server.shutdown().await.unwrap();
}

/// Forgets every stored answer (as a crash within ~0.2 s of answering does: the answer was not
/// yet durable, the events were).
fn forget_stored_answers(s: &TestServer) {
    // Scoped: a tree handle keeps the database open (and locked) past a restart.
    let tree = s
        .server
        .log()
        .store()
        .tree(motcua_http::app::idempotency::TREE)
        .unwrap();
    for kv in tree.iter() {
        let (k, _) = kv.unwrap();
        if k.first() != Some(&0xff) {
            tree.remove(&k).unwrap();
        }
    }
}

/// Issue 16, "bad days on disk": with its stored answer lost, a retry with the same key but
/// another body was answered from the log as a duplicate (and the original body then got a
/// 422). The request's fingerprint is recorded with the events, so the answer rebuilt from the
/// log refuses another body with 422 and answers the original body with the original answer:
/// for a creation, an action on a dossier, and a reference command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_body_is_refused_after_the_stored_answer_is_lost() {
    let d = desk().await;
    let receive = |body: Value| {
        d.s.post("/v1/dossiers", d.tok("tn-01"))
            .header("idempotency-key", "lost-1")
            .json(&body)
            .send()
    };
    let r = receive(new_dossier("1.001193")).await.unwrap();
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    let head = d.s.head();
    forget_stored_answers(&d.s);
    let r = receive(new_dossier("1.000656")).await.unwrap();
    problem(r, 422, "idempotency-key-reused").await;
    assert_eq!(d.s.head(), head, "the changed retry wrote nothing");
    let r = receive(new_dossier("1.001193")).await.unwrap();
    assert_eq!(r.status(), 201);
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        (&again["code"], &again["lookup_secret"], &again["version"]),
        (&first["code"], &first["lookup_secret"], &first["version"])
    );
    assert_eq!(again["deduplicated"], true);
    assert_eq!(d.s.head(), head);

    let code = first["code"].as_str().unwrap().to_owned();
    let assign = |body: Value| {
        d.s.post(
            &format!("/v1/dossiers/{code}/actions/assign"),
            d.tok("tn-01"),
        )
        .header("idempotency-key", "lost-2")
        .json(&body)
        .send()
    };
    let r = assign(json!({"specialist": "cm-tp-01"})).await.unwrap();
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    let head = d.s.head();
    forget_stored_answers(&d.s);
    let r = assign(json!({"specialist": "cm-tp-01", "note": "giao lại"}))
        .await
        .unwrap();
    problem(r, 422, "idempotency-key-reused").await;
    let r = assign(json!({"specialist": "cm-tp-01"})).await.unwrap();
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        (&again["code"], &again["version"], &again["state"]),
        (&first["code"], &first["version"], &first["state"])
    );
    assert_eq!(again["deduplicated"], true);
    assert_eq!(d.s.head(), head);

    let register = |name: &str| {
        d.s.post("/v1/staff", d.tok("qt-01"))
            .header("idempotency-key", "lost-3")
            .json(&json!({"id": "tn-62", "name": name, "roles": ["reception"]}))
            .send()
    };
    let r = register("Lò Thị Mai").await.unwrap();
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    let head = d.s.head();
    forget_stored_answers(&d.s);
    let r = register("Lò Văn Mai").await.unwrap();
    problem(r, 422, "idempotency-key-reused").await;
    let r = register("Lò Thị Mai").await.unwrap();
    assert_eq!(r.status(), 201);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["token"], first["token"]);
    assert_eq!(d.s.head(), head);
    d.s.server.shutdown().await.unwrap();
}

/// A desk receipt and an online submission are two key spaces: one account holding both roles
/// sends the same key and body to both routes, and gets two dossiers; each route's retry is
/// answered with its own first answer, from the stored responses and, once those are gone,
/// from the log (the events' ids differ by scope).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_and_submissions_do_not_share_idempotency_keys() {
    use motcua_engine::domain::types::Role;
    let d = desk().await;
    let token =
        d.s.staff("tn-dvc-01", UNIT, &[Role::Reception, Role::Citizen], &[])
            .await;
    let send = |path: &'static str| {
        d.s.post(path, &token)
            .header("idempotency-key", "both-1")
            .json(&new_dossier("1.001193"))
            .send()
    };
    let first = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()
    };
    let receipt = first(send("/v1/dossiers").await.unwrap()).await;
    let submission = first(send("/v1/submissions").await.unwrap()).await;
    assert_ne!(submission["code"], receipt["code"]);
    assert_eq!(submission["deduplicated"], false, "{submission}");
    assert_ne!(submission["lookup_secret"], receipt["lookup_secret"]);
    let head = d.s.head();
    for forget_stored_responses in [false, true] {
        if forget_stored_responses {
            forget_stored_answers(&d.s);
        }
        for (path, answer) in [("/v1/dossiers", &receipt), ("/v1/submissions", &submission)] {
            let again = first(send(path).await.unwrap()).await;
            assert_eq!(
                (&again["code"], &again["lookup_secret"]),
                (&answer["code"], &answer["lookup_secret"]),
                "{path}"
            );
        }
        assert_eq!(d.s.head(), head, "the retries wrote nothing");
    }
    d.s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_publishes_a_calendar_and_issues_a_procedure() {
    let d = desk().await;
    let r =
        d.s.get("/v1/calendar/2023", d.tok("tn-01"))
            .send()
            .await
            .unwrap();
    let cal: Value = r.json().await.unwrap();
    assert_eq!(cal["makeup_working_days"], json!(["2023-05-06"]));
    let r =
        d.s.post("/v1/calendar", d.tok("qt-01"))
            .json(&json!({"year": 2024, "days_off": ["2024-01-01"], "note": "Lịch 2024"}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
    let cal: Value = d.s.get_json("/v1/calendar/2024", d.tok("cm-tp-01")).await;
    assert_eq!(cal["days_off"], json!(["2024-01-01"]));
    // A year already published (2023, the demo's) is not replaced by a resend: 422 naming
    // `replace`, and nothing is written; with `replace: true` it is.
    let head = d.s.head();
    let again = json!({"year": 2023, "days_off": ["2023-01-02"], "note": "Lịch 2023 sửa"});
    let r =
        d.s.post("/v1/calendar", d.tok("qt-01"))
            .json(&again)
            .send()
            .await
            .unwrap();
    let p = problem(r, 422, "validation").await;
    assert!(p["detail"].as_str().unwrap().contains("replace"), "{p}");
    assert_eq!(d.s.head(), head);
    let cal: Value = d.s.get_json("/v1/calendar/2023", d.tok("tn-01")).await;
    assert_eq!(cal["makeup_working_days"], json!(["2023-05-06"]));
    let mut replace = again.clone();
    replace["replace"] = json!(true);
    let r =
        d.s.post("/v1/calendar", d.tok("qt-01"))
            .json(&replace)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
    let cal: Value = d.s.get_json("/v1/calendar/2023", d.tok("tn-01")).await;
    assert_eq!(cal["days_off"], json!(["2023-01-02"]));
    let r =
        d.s.get("/v1/calendar/2031", d.tok("tn-01"))
            .send()
            .await
            .unwrap();
    problem(r, 404, "not-found").await;
    // A make-up day on a weekday is refused by the engine's validation.
    let r =
        d.s.post("/v1/calendar", d.tok("qt-01"))
            .json(&json!({"year": 2025, "days_off": [], "makeup_working_days": ["2025-01-06"]}))
            .send()
            .await
            .unwrap();
    problem(r, 422, "validation").await;

    let before: Value =
        d.s.get_json("/v1/catalog?date=2024-06-01", d.tok("tn-01"))
            .await;
    let n = before["catalog"]["procedures"].as_u64().unwrap();
    let procedure = json!({
        "id": "1.003005", "version": 1, "name": "Đăng ký giám hộ", "field": "ho-tich", "level": "Commune",
        "documents": [{"name": "Tờ khai đăng ký giám hộ", "originals": 1, "copies": 0}], "forms": [],
        "processing_time": {"WorkingDays": 3}, "fees": [], "workflow": "standard",
        "legal_basis": "Luật Hộ tịch 2014"
    });
    let r = d
        .s
        .post("/v1/procedures", d.tok("qt-01"))
        .json(&json!({"procedure": procedure, "effective": "2024-01-01", "publish_at_desk": true, "publish_online": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let after: Value =
        d.s.get_json("/v1/catalog?date=2024-06-01", d.tok("tn-01"))
            .await;
    assert_eq!(after["catalog"]["procedures"].as_u64().unwrap(), n + 1);
    assert_eq!(after["published_at_desk_percent"], 100.0);
    d.s.server.shutdown().await.unwrap();
}

/// `POST /v1/staff` is one append (the staff member and their first token), under the admin's
/// key: a retry whose stored answer was lost is answered from the log with the token the log
/// recorded, which authenticates; the same id registered again (no key) is a conflict that
/// writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_registration_is_one_append_and_its_keyed_retry_shows_the_recorded_token() {
    let d = desk().await;
    let register = |key: Option<&'static str>| {
        let mut req =
            d.s.post("/v1/staff", d.tok("qt-01"))
                .json(&json!({"id": "tn-60", "name": "Lò Thị Mai", "roles": ["reception"]}));
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send()
    };
    let before = d.s.head();
    let r = register(Some("staff-60")).await.unwrap();
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    assert_eq!(d.s.head(), before + 2, "two events");
    forget_stored_answers(&d.s);
    let r = register(Some("staff-60")).await.unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers().get("idempotent-replayed").is_none());
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        (&again["token"], &again["token_id"]),
        (&first["token"], &first["token_id"])
    );
    assert_eq!(d.s.head(), before + 2, "the retry wrote nothing");
    let token = first["token"].as_str().unwrap();
    let r = d.s.get("/v1/staff", token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = register(None).await.unwrap();
    let body = problem(r, 409, "conflict").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("tn-60 already exists"),
        "{body}"
    );
    assert_eq!(d.s.head(), before + 2);
}
