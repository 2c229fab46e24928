//! The statistics dashboard against the demo commune, through the console: January-August 2023
//! at the desk shows 342 received, 342 resolved, 216 early, 126 on time, 0 late, 0 in progress;
//! the online e-copy certifications 187; a figure lists the dossiers behind it; the chart has
//! one bar per month; a desk officer may not open it. The reform plan's dashboard as of 31
//! August 2023 shows what the API does.

mod console_common;
mod http_common;

use console_common::signed_in;
use http_common::TestServer;

/// The number shown for `figure` on a dashboard page.
fn figure(body: &str, figure: &str) -> u64 {
    let marker = format!("data-figure=\"{figure}\"><a href=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {figure} in {body}"))
        + marker.len();
    let rest = &body[start..];
    let n = &rest[rest.find('>').unwrap() + 1..];
    n[..n.find('<').unwrap()].parse().unwrap()
}

/// Slip 01 names the desk in force on the day of receipt: the "Bộ phận Một cửa" for the demo's
/// 2023 receipts, reprinted today; the "Trung tâm Phục vụ hành chính công xã" after 1 July 2025
/// (the console's frame, about today, says that one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2023_slip_names_the_desk_of_2023() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::demo_in(&tmp.path().join("data")).await;
    let reception = s
        .server
        .demo_tokens
        .iter()
        .find(|t| t.role == "reception")
        .unwrap()
        .staff
        .clone();
    let mut b = signed_in(&s, &reception).await;
    let slip = b.get("/dossiers/000.33.22.H05-230104-0001/slip01").await;
    assert_eq!(slip.status, 200, "{}", slip.body);
    let issuer = &slip.body[slip.body.find("class=\"issuer\"").expect("the issuer")..];
    let issuer = &issuer[..issuer.find("</div>").unwrap()];
    assert!(
        issuer.contains("<strong>Bộ phận Một cửa</strong>"),
        "{issuer}"
    );
    assert!(
        slip.body.contains("Trung tâm Phục vụ hành chính công xã"),
        "the frame, today"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_demo_report_and_the_dossiers_behind_each_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::demo_in(&tmp.path().join("data")).await;
    let id_of = |role: &str| {
        s.server
            .demo_tokens
            .iter()
            .find(|t| t.role == role)
            .unwrap()
            .staff
            .clone()
    };
    let mut b = signed_in(&s, &id_of("auditor")).await;
    let page = b
        .get("/thong-ke?from=2023-01-01&to=2023-08-31&channel=desk")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert_eq!(figure(body, "received"), 342);
    assert_eq!(figure(body, "resolved"), 342);
    assert_eq!(figure(body, "resolved_early"), 216);
    assert_eq!(figure(body, "resolved_on_time"), 126);
    assert_eq!(figure(body, "resolved_late"), 0);
    assert_eq!(figure(body, "in_progress"), 0);
    assert!(body.contains("Số hồ sơ tiếp nhận mới trong kỳ"));
    assert_eq!(
        body.matches("<rect ").count(),
        8 * 3,
        "a bar of three parts per month"
    );
    let online = b
        .get("/thong-ke?from=2023-01-01&to=2023-08-31&channel=online&procedure=2.001035")
        .await;
    assert_eq!(figure(&online.body, "received"), 187);
    assert_eq!(figure(&online.body, "resolved"), 187);

    let list = b
        .get("/thong-ke?from=2023-01-01&to=2023-08-31&channel=desk&figure=resolved_on_time")
        .await;
    assert!(list.body.contains("Hồ sơ: đúng hạn (126)"), "{}", list.body);
    let listed = list.body.split("<ul class=\"codes\">").nth(1).unwrap();
    assert_eq!(listed.matches("<li><a href=\"/dossiers/").count(), 126);

    let bad = b.get("/thong-ke?from=2023-08-31&to=2023-01-01").await;
    assert_eq!(bad.status, 422);
    let mut desk = signed_in(&s, &id_of("reception")).await;
    assert_eq!(desk.get("/thong-ke").await.status, 403);
    let mut planner = signed_in(&s, &id_of("planner")).await;
    assert_eq!(planner.get("/thong-ke").await.status, 200);

    // The page's downloads carry its period and channel; the report's CSV is the API's.
    let report_csv =
        "/thong-ke/bao-cao?from=2023-01-01&amp;to=2023-08-31&amp;channel=desk&amp;format=csv";
    assert!(body.contains(report_csv), "{body}");
    assert!(body.contains("data-download=\"register-html\""));
    let csv = b.get(&report_csv.replace("&amp;", "&")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let api = s
        .get(
            "/v1/reports/procedures?from=2023-01-01&to=2023-08-31&channel=desk&format=csv",
            &s.demo_token("auditor"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.body, api);
    let total = csv.body.lines().find(|l| l.contains("Tổng cộng")).unwrap();
    assert!(
        total.starts_with(",Tổng cộng,342,0,0,342,342,216,126,0,0,0,0,"),
        "{total}"
    );
    let print = b
        .get("/thong-ke/so-theo-doi?from=2023-03-01&to=2023-03-31&format=html")
        .await;
    assert_eq!(print.status, 200);
    assert!(print.body.contains("Sổ theo dõi hồ sơ"));
    let too_long = b
        .get("/thong-ke/bao-cao?from=2023-01-01&to=2024-06-30&format=xlsx")
        .await;
    assert_eq!(too_long.status, 422);
    assert!(too_long.body.contains("tối đa 366 ngày"));
    // A planner downloads the report, never the register with the applicants' names.
    let planner_page = planner.get("/thong-ke?from=2023-01-01&to=2023-08-31").await;
    assert!(!planner_page
        .body
        .contains("data-download=\"register-xlsx\""));
    assert!(planner_page.body.contains("data-download=\"report-xlsx\""));
    assert_eq!(
        planner
            .get("/thong-ke/so-theo-doi?from=2023-03-01&to=2023-03-31&format=csv")
            .await
            .status,
        403
    );
    assert_eq!(
        desk.get("/thong-ke/bao-cao?from=2023-03-01&to=2023-03-31&format=csv")
            .await
            .status,
        403
    );

    // The reform plan's dashboard as of 31 August 2023, as the API answers it.
    let plans = planner.get("/ke-hoach").await;
    assert!(plans.body.contains("35/KH-UBND"), "{}", plans.body);
    let d = planner
        .get("/ke-hoach/35-kh-ubnd-2023?ngay=2023-08-31")
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let row = |task: &str| -> String {
        let start = d.body.find(&format!("data-task=\"{task}\"")).unwrap();
        let rest = &d.body[start..];
        rest[..rest.find("</tr>").unwrap()].to_owned()
    };
    assert!(
        row("chung-thuc-dien-tu").contains("<td>187</td>"),
        "{}",
        row("chung-thuc-dien-tu")
    );
    assert!(row("niem-yet-tthc").contains("Hoàn thành"));
    assert!(row("ty-le-dung-han").contains("<td>10000</td>"));
    let before = planner
        .get("/ke-hoach/35-kh-ubnd-2023?ngay=2022-01-01")
        .await;
    assert_eq!(before.status, 404);
    assert!(before.body.contains("chưa được ban hành"));
    assert_eq!(desk.get("/ke-hoach").await.status, 403);

    // The planner reports a manual task's progress with its evidence from the page; a leader
    // sees no such form, and a value that is not a number is a message, not a write.
    let r = s
        .post("/v1/plans/35-kh-ubnd-2023/tasks", &s.demo_token("planner"))
        .json(&serde_json::json!({
            "id": "bao-cao-quy", "title": "Báo cáo quý về cải cách hành chính",
            "responsible": "Văn phòng UBND xã", "start": "2023-12-01", "deadline": "2023-12-31",
            "indicator": "Số báo cáo đã gửi", "source": "manual", "target": 4
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let live = planner.get("/ke-hoach/35-kh-ubnd-2023").await;
    let action = "/ke-hoach/35-kh-ubnd-2023/tasks/bao-cao-quy/report";
    assert!(
        !live.body.contains("/tasks/tai-khoan-dvc/report"),
        "a done task takes no report"
    );
    assert!(live.body.contains(action), "{}", live.body);
    let csrf = live.hidden("csrf");
    let head = s.head();
    let r = planner
        .post(
            action,
            &[("csrf", &csrf), ("value", "abc"), ("evidence", "x")],
        )
        .await;
    assert!(r.body.contains("phải là một số nguyên"), "{}", r.body);
    assert_eq!(s.head(), head);
    let r = planner
        .post(
            action,
            &[
                ("csrf", &csrf),
                ("key", "k1"),
                ("value", "250"),
                ("evidence", "Báo cáo số 12/BC-UBND"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Đã ghi nhận báo cáo tiến độ."),
        "{}",
        r.body
    );
    assert!(r.body.contains("Báo cáo số 12/BC-UBND"));
    assert_eq!(s.head(), head + 1);
    let mut leader = signed_in(&s, &id_of("leader")).await;
    let seen = leader.get("/ke-hoach/35-kh-ubnd-2023").await;
    assert!(!seen.body.contains(action));
    let leader_csrf = leader.csrf().await;
    let r = leader
        .post(
            action,
            &[("csrf", &leader_csrf), ("value", "1"), ("evidence", "x")],
        )
        .await;
    assert_eq!(r.status, 403);
}
