//! The auditor's recomputation of the demo commune: the real server seeds the demo and answers
//! `/v1/stats` for 1 Jan - 31 Aug 2023; after it stops, `motcua-replay stats` over its data
//! directory gives the same figures field by field, those of docs/domain/statistics.md (desk: 342
//! received and resolved, 216 early, 126 on time, 0 late; online electronic copies: 187), and
//! byte-identical JSON on a second run; `verify` finds nothing in the demo's log.

mod http_common;

use std::collections::BTreeMap;

use http_common::TestServer;
use motcua_replay::cli::{self, By, StatsAnswer};
use motcua_replay::output::Format;
use motcua_replay::progress::Progress;
use motcua_replay::source::Source;
use motcua_replay::verify::{verify, VerifyOptions};
use serde_json::Value;

const FROM: &str = "2023-01-01";
const TO: &str = "2023-08-31";
const UNIT: &str = "000.33.22.H05";
const ECOPY: &str = "2.001035";

async fn server_stats(s: &TestServer, token: &str, query: &str) -> Value {
    let url = format!("/v1/stats?from={FROM}&to={TO}{query}");
    let r = s.get(&url, token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn replay(data: &std::path::Path, by: Option<By>) -> BTreeMap<String, Value> {
    let (answer, _): (StatsAnswer, _) =
        cli::compute_stats(data, date(FROM), date(TO), by, None, false).unwrap();
    assert_eq!((answer.from, answer.to), (date(FROM), date(TO)));
    answer
        .groups
        .into_iter()
        .map(|g| (g.key, serde_json::to_value(&g.figures).unwrap()))
        .collect()
}

/// Every figure of the server's answer equals the replayed one, and neither has a figure the
/// other lacks.
fn assert_same_figures(what: &str, server: &Value, replayed: &Value) {
    let s = server["figures"].as_object().unwrap();
    let r = replayed.as_object().unwrap();
    let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(s), keys(r), "{what}: the same figures");
    for (name, value) in s {
        assert_eq!(&r[name], value, "{what}: {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_demo_statistics_equal_the_server_and_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let s = TestServer::demo_in(&data).await;
    let auditor = s.demo_token("auditor");
    // The demo test's two queries, and the unfiltered and one-dimension ones replay breaks
    // figures down by.
    let desk = server_stats(&s, &auditor, "&channel=desk").await;
    let online_ecopy =
        server_stats(&s, &auditor, &format!("&channel=online&procedure={ECOPY}")).await;
    let online = server_stats(&s, &auditor, "&channel=online").await;
    let ecopy = server_stats(&s, &auditor, &format!("&procedure={ECOPY}")).await;
    let unit = server_stats(&s, &auditor, "").await;
    let all = server_stats(&s, &auditor, "&unit=all").await;
    s.server.shutdown().await.unwrap();

    // Replay reads the stopped server's data directory (through a copy).
    let by_channel = replay(&data, Some(By::Channel));
    let by_procedure = replay(&data, Some(By::Procedure));
    let by_unit = replay(&data, Some(By::Unit));
    let whole = replay(&data, None);
    assert_same_figures("channel=desk", &desk, &by_channel["desk"]);
    assert_same_figures("channel=online", &online, &by_channel["online"]);
    assert_same_figures("procedure=2.001035", &ecopy, &by_procedure[ECOPY]);
    assert_same_figures("the auditor's unit", &unit, &by_unit[UNIT]);
    assert_same_figures("unit=all", &all, &whole["all"]);
    // Every online dossier of the demo is an electronic copy certification, and every one of
    // those came online: the demo's combined query is the online group and the procedure's.
    assert_same_figures(
        "channel=online&procedure=2.001035",
        &online_ecopy,
        &by_channel["online"],
    );
    assert_same_figures(
        "channel=online&procedure=2.001035",
        &online_ecopy,
        &by_procedure[ECOPY],
    );

    // The demo's target figures (docs/domain/statistics.md).
    let d = &by_channel["desk"];
    for (name, value) in [
        ("received", 342),
        ("resolved", 342),
        ("resolved_early", 216),
        ("resolved_on_time", 126),
        ("resolved_late", 0),
        ("in_progress", 0),
    ] {
        assert_eq!(d[name], value, "desk {name}");
    }
    let e = &by_procedure[ECOPY];
    assert_eq!(
        (e["received"].as_u64(), e["resolved"].as_u64()),
        (Some(187), Some(187))
    );
    assert_eq!(e["received_online"], 187);

    // The demo's whole log verifies clean: every transition, due date, and who recorded each
    // change and when (the demo's staff as its directory stood then; business times in 2023,
    // recorded later) is what the engine could have recorded.
    let report = verify(
        Source::open(&data).unwrap(),
        &VerifyOptions::default(),
        &Progress::hidden(),
    );
    let first: Vec<_> = report.findings.iter().take(10).collect();
    assert!(
        report.findings.is_empty(),
        "{} findings: {first:#?}",
        report.findings.len()
    );
    assert!(
        report.transitions_checked > 2_000,
        "{}",
        report.transitions_checked
    );

    // Two runs of the command give byte-identical JSON.
    let json = |by| {
        let out = cli::stats(
            &data,
            date(FROM),
            date(TO),
            by,
            None,
            None,
            Format::Json,
            false,
        )
        .unwrap();
        assert_eq!(out.status, 0);
        out.stdout
    };
    for by in [None, Some(By::Channel), Some(By::Procedure)] {
        let first = json(by);
        assert_eq!(json(by), first, "{by:?}");
    }
}
