//! The procedure catalog's writes through the JSON API against the real server: an issued
//! procedure is in the unit's published catalog from its effective date (not before), and a
//! publication decision changes the shares from its own date; an amendment is version 2, new
//! dossiers are received under it while an old one keeps version 1, and a version number other
//! than the next is refused; an abolished procedure is refused at receipt with a problem naming
//! it; bad input (a path that names no procedure, a body for another id, an empty reason)
//! writes nothing; a keyed retry is answered without a second write.

mod http_common;

use chrono::{Days, NaiveDate};
use http_common::{commune, new_dossier, problem, TestServer};
use motcua_http::app::clock;
use serde_json::{json, Value};

const ID: &str = "1.003005";

fn guardianship(version: u32, name: &str) -> Value {
    json!({
        "id": ID, "version": version, "name": name, "field": "ho-tich", "level": "Commune",
        "documents": [{"name": "Tờ khai đăng ký giám hộ", "originals": 1, "copies": 0}],
        "forms": [], "processing_time": {"WorkingDays": 3}, "fees": [], "workflow": "standard",
        "legal_basis": "Luật Hộ tịch 2014"
    })
}

fn tomorrow() -> NaiveDate {
    clock::today().checked_add_days(Days::new(1)).unwrap()
}

/// The unit's catalog figures on `date`: (in force, at the desk, online).
async fn figures(s: &TestServer, token: &str, date: NaiveDate) -> (u64, u64, u64) {
    let v: Value = s.get_json(&format!("/v1/catalog?date={date}"), token).await;
    let c = &v["catalog"];
    (
        c["procedures"].as_u64().unwrap(),
        c["published_at_desk"].as_u64().unwrap(),
        c["published_online"].as_u64().unwrap(),
    )
}

/// Issues the guardianship procedure (version 1) as the admin, published at the desk.
async fn issue(s: &TestServer, admin: &str, effective: NaiveDate) {
    let r = s
        .post("/v1/procedures", admin)
        .json(
            &json!({"procedure": guardianship(1, "Đăng ký giám hộ"), "effective": effective,
                      "publish_at_desk": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_procedure_is_in_the_catalog_from_its_effective_date() {
    let (s, t) = commune().await;
    let admin = &t["qt-01"];
    let today = clock::today();
    let before_today = figures(&s, admin, today).await;
    let before = figures(&s, admin, tomorrow()).await;
    assert_eq!(before, before_today, "nothing else starts tomorrow");

    issue(&s, admin, tomorrow()).await;
    assert_eq!(figures(&s, admin, today).await, before_today, "not before");
    assert_eq!(
        figures(&s, admin, tomorrow()).await,
        (before.0 + 1, before.1 + 1, before.2)
    );

    // Published online instead of at the desk, from the same date: the later decision holds.
    let r = s
        .post(&format!("/v1/procedures/{ID}/publications"), admin)
        .json(&json!({"at_desk": false, "online": true, "effective": tomorrow()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["procedure"], ID);
    assert_eq!(body["unit"], "000.33.22.H05");
    assert_eq!(
        (&body["at_desk"], &body["online"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(
        figures(&s, admin, tomorrow()).await,
        (before.0 + 1, before.1, before.2 + 1)
    );

    // A keyed retry of a publication is answered again without a second event.
    let publish = || {
        s.post(&format!("/v1/procedures/{ID}/publications"), admin)
            .header("idempotency-key", "pub-1")
            .json(&json!({"at_desk": true, "online": true, "effective": tomorrow()}))
            .send()
    };
    let first: Value = publish().await.unwrap().json().await.unwrap();
    let head = s.head();
    let again: Value = publish().await.unwrap().json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(s.head(), head, "the retry wrote nothing");
    assert_eq!(
        figures(&s, admin, tomorrow()).await,
        (before.0 + 1, before.1 + 1, before.2 + 1)
    );

    // A path that names no procedure of the catalog: 404, nothing written.
    let r = s
        .post("/v1/procedures/9.999999/publications", admin)
        .json(&json!({"at_desk": true, "online": true, "effective": tomorrow()}))
        .send()
        .await
        .unwrap();
    problem(r, 404, "not-found").await;
    assert_eq!(s.head(), head);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amendment_is_version_2_for_new_dossiers_and_old_ones_keep_version_1() {
    let (s, t) = commune().await;
    let (admin, desk) = (&t["qt-01"], &t["tn-01"]);
    issue(&s, admin, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()).await;
    let old = s.receive(desk, ID).await;

    let r = s
        .post(&format!("/v1/procedures/{ID}/versions"), admin)
        .json(
            &json!({"procedure": guardianship(2, "Đăng ký giám hộ (sửa đổi)"),
                      "effective": clock::today()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["procedure"], ID);
    assert_eq!(body["version"], 2);
    assert_eq!(body["effective"], clock::today().to_string());

    let new = s.receive(desk, ID).await;
    let new_view: Value = s.get_json(&format!("/v1/dossiers/{new}"), desk).await;
    assert_eq!(new_view["procedure"], json!({"id": ID, "version": 2}));
    assert_eq!(new_view["procedure_name"], "Đăng ký giám hộ (sửa đổi)");
    let old_view: Value = s.get_json(&format!("/v1/dossiers/{old}"), desk).await;
    assert_eq!(old_view["procedure"], json!({"id": ID, "version": 1}));

    // The same number again (another admin's amendment crossed ours): 422 on the version.
    let head = s.head();
    let r = s
        .post(&format!("/v1/procedures/{ID}/versions"), admin)
        .json(&json!({"procedure": guardianship(2, "Khác"), "effective": clock::today()}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422, "validation").await;
    assert_eq!(p["field"], "version", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("must be 3"), "{p}");
    // A body for another procedure than the path's.
    let r = s
        .post("/v1/procedures/1.001193/versions", admin)
        .json(&json!({"procedure": guardianship(3, "Khác"), "effective": clock::today()}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422, "validation").await;
    assert_eq!(p["field"], "procedure.id", "{p}");
    assert_eq!(s.head(), head, "refusals write nothing");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abolished_procedure_is_refused_at_receipt_naming_it() {
    let (s, t) = commune().await;
    let (admin, desk) = (&t["qt-01"], &t["tn-01"]);
    issue(&s, admin, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()).await;
    let received = s.receive(desk, ID).await;
    let today = clock::today();
    let in_force = figures(&s, admin, today).await.0;

    let head = s.head();
    let r = s
        .post(&format!("/v1/procedures/{ID}/abolish"), admin)
        .json(&json!({"effective": today, "reason": "  "}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422, "validation").await;
    assert_eq!(p["field"], "reason", "{p}");
    assert_eq!(s.head(), head);

    let r = s
        .post(&format!("/v1/procedures/{ID}/abolish"), admin)
        .json(&json!({"effective": today, "reason": "Bãi bỏ theo Quyết định 12/QĐ-UBND"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["procedure"], ID);
    assert_eq!(body["abolished_from"], today.to_string());
    assert_eq!(figures(&s, admin, today).await.0, in_force - 1);

    let r = s
        .post("/v1/dossiers", desk)
        .json(&new_dossier(ID))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422, "validation").await;
    assert_eq!(p["field"], "procedure", "{p}");
    assert!(p["detail"].as_str().unwrap().contains(ID), "{p}");
    // The dossier received before goes on under its version.
    let v: Value = s.get_json(&format!("/v1/dossiers/{received}"), desk).await;
    assert_eq!(v["procedure"], json!({"id": ID, "version": 1}));
    assert_eq!(v["state_name"], "received");
    s.server.shutdown().await.unwrap();
}
