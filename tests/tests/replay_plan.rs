//! `motcua-replay plan` against the real server: the demo commune's plan 35/KH-UBND, its
//! dashboard read from `GET /v1/plans/35-kh-ubnd-2023/dashboard?as_of=T` at several instants
//! through 2023, then, after the server stops, replayed from its data directory: the replayed
//! dashboard is the server's document, value for value, and two runs print byte-identical JSON.

mod http_common;

use http_common::TestServer;
use motcua_replay::output::Format;
use serde_json::Value;

const PLAN: &str = "35-kh-ubnd-2023";

/// The instants asked (RFC 3339, what both the server and replay accept).
const INSTANTS: [&str; 6] = [
    "2023-01-27T12:00:00+07:00",
    "2023-03-15T12:00:00+07:00",
    "2023-05-31T17:00:00+07:00",
    "2023-07-15T12:00:00+07:00",
    "2023-08-31T17:00:00+07:00",
    "2024-01-02T12:00:00+07:00",
];

fn task<'a>(dashboard: &'a Value, id: &str) -> &'a Value {
    dashboard["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == id)
        .unwrap_or_else(|| panic!("task {id}"))
}

fn statuses(dashboard: &Value) -> Vec<(String, String)> {
    dashboard["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_plan_equals_the_server_dashboard() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let s = TestServer::demo_in(&data).await;
    let leader = s.demo_token("leader");
    let mut served = Vec::new();
    for at in INSTANTS {
        let url = format!(
            "/v1/plans/{PLAN}/dashboard?as_of={}",
            at.replace('+', "%2B")
        );
        let r = s.get(&url, &leader).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        served.push(r.json::<Value>().await.unwrap());
    }
    s.server.shutdown().await.unwrap();

    for (at, server) in INSTANTS.iter().zip(&served) {
        let out = motcua_replay::cli::plan(&data, PLAN, at, Format::Json, false).unwrap();
        assert_eq!(out.status, 0);
        let replayed: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(&replayed["dashboard"], server, "as of {at}");
        // Every plan event the dashboard names is listed with its event id.
        let listed: Vec<u64> = replayed["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        for t in server["tasks"].as_array().unwrap() {
            for seq in t["seqs"].as_array().unwrap() {
                assert!(listed.contains(&seq.as_u64().unwrap()), "{at}: seq {seq}");
            }
        }
    }

    // What the instants show (the server's answer, which replay equals).
    let [jan27, mar15, may31, jul15, aug31, jan2] = &served[..] else {
        unreachable!()
    };
    // 27 Jan: only the quarterly review (from 27 Jan) has started, with nothing reported yet.
    for (id, status) in statuses(jan27) {
        let expected = if id == "ra-soat-tthc" {
            "at_risk"
        } else {
            "not_started"
        };
        assert_eq!(status, expected, "{id} on 27 Jan");
    }
    assert_eq!(task(mar15, "diet-virus")["status"], "done");
    assert_eq!(task(mar15, "may-tinh")["value"], 21);
    // The LAN task's deadline moved from 31 May to 30 June on 29 May.
    assert_eq!(task(may31, "mang-lan")["deadline"], "2023-06-30");
    assert_ne!(task(may31, "mang-lan")["status"], "overdue");
    assert_eq!(task(jul15, "mang-lan")["status"], "done");
    assert_eq!(task(jul15, "ky-so-cong-dan")["status"], "cancelled");
    assert_eq!(task(aug31, "ty-le-dung-han")["value"], 10_000);
    assert_eq!(task(aug31, "ty-le-dung-han")["status"], "on_track");
    let ecopy = task(aug31, "chung-thuc-dien-tu");
    assert_eq!(ecopy["value"], 187);
    assert_eq!(ecopy["derived"]["codes"].as_array().unwrap().len(), 187);
    // After the year, the derived tasks nobody closed are overdue.
    let overdue: Vec<&str> = jan2["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(overdue.contains(&"chung-thuc-dien-tu"), "{overdue:?}");

    // Two runs, byte-identical JSON.
    let once = motcua_replay::cli::plan(&data, PLAN, INSTANTS[4], Format::Json, false).unwrap();
    let twice = motcua_replay::cli::plan(&data, PLAN, INSTANTS[4], Format::Json, false).unwrap();
    assert_eq!(once.stdout, twice.stdout);
}
