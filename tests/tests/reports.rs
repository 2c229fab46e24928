//! The official reports against a real demo server: `GET /v1/reports/procedures` (xlsx and
//! CSV) and `GET /v1/reports/register` (slip 06 for a period). The xlsx is read back with
//! calamine and every number of every row is diffed against `motcua-replay stats`, run as a
//! binary on the server's own archive (`GET /v1/export`): the total against the unit, each
//! field's subtotal against `--by field`, each procedure against `--by procedure`. The demo's
//! figures (Jan-Aug 2023, desk: 342 received and resolved, 216 early, 126 on time, 0 late, 0 in
//! progress; the unit with its 187 online electronic copies) are checked as numbers; the CSV
//! holds the xlsx's cells; the register has one row per dossier received; wrong roles get 403,
//! bad periods and a register over the cap 422 problems.

mod http_common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::time::Instant;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use http_common::{config, problem, TestServer, UNIT};
use serde_json::Value;

const FROM: &str = "2023-01-01";
const TO: &str = "2023-08-31";
const ECOPY: &str = "2.001035";
/// The register cap of the first server: below the unit's received count for Jan-Aug.
const SMALL_CAP: usize = 300;
/// The title rows and header rows above the procedures report's first data row.
const REPORT_HEAD: usize = 8;
/// ... and above the register's.
const REGISTER_HEAD: usize = 5;

/// A sheet's cells as text (whole numbers without a decimal point), rows padded to its width.
fn xlsx_cells(bytes: &[u8], sheet: &str) -> Vec<Vec<String>> {
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let range = wb.worksheet_range(sheet).unwrap();
    assert_eq!(range.start(), Some((0, 0)), "the sheet starts at A1");
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.clone(),
                    Data::Float(f) => {
                        assert_eq!(f.fract(), 0.0, "a count is whole: {f}");
                        format!("{}", *f as i64)
                    }
                    Data::Int(i) => i.to_string(),
                    other => panic!("unexpected cell {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// RFC 4180 (comma, CRLF, quoted fields with doubled quotes), after the byte-order mark.
fn csv_cells(text: &str) -> Vec<Vec<String>> {
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark first");
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(cell.is_empty() && row.is_empty(), "the CSV ends with CRLF");
    rows
}

async fn download(s: &TestServer, token: &str, path: &str, media: &str) -> Vec<u8> {
    let r = s.get(path, token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with(media), "{path}: {ct}");
    r.bytes().await.unwrap().to_vec()
}

/// `motcua-replay stats ARCHIVE --from --to [--by BY] --format json`, the real binary: group
/// key -> figures.
fn replay_stats(archive: &std::path::Path, by: Option<&str>) -> BTreeMap<String, Value> {
    let bin = motcua_tests::workspace_bin("motcua-replay", "motcua-replay");
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("stats").arg(archive).args([
        "--from",
        FROM,
        "--to",
        TO,
        "--format",
        "json",
        "--no-progress",
    ]);
    if let Some(by) = by {
        cmd.args(["--by", by]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), g["figures"].clone()))
        .collect()
}

/// The form's columns (3) to (15) from the statistics' figures, as docs/reports.md maps them.
fn expected_columns(f: &Value) -> Vec<String> {
    let n = |name: &str| f[name].as_u64().unwrap_or_else(|| panic!("{name} in {f}"));
    [
        n("carried_over") + n("received"),
        n("carried_over"),
        n("received_online"),
        n("received") - n("received_online"),
        n("resolved"),
        n("resolved_early"),
        n("resolved_on_time"),
        n("resolved_late"),
        n("in_progress"),
        n("in_progress_within_time"),
        n("in_progress_overdue"),
        n("withdrawn"),
        n("stopped"),
    ]
    .iter()
    .map(u64::to_string)
    .collect()
}

/// The data rows of a procedures report: (STT, code, the 13 numbers).
fn report_rows(cells: &[Vec<String>]) -> Vec<(String, String, Vec<String>)> {
    cells[REPORT_HEAD..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), 16, "{r:?}");
            (r[0].clone(), r[15].clone(), r[2..15].to_vec())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_report_equals_the_replay_of_its_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let mut c = config(&data);
    c.demo = true;
    c.register_max_rows = SMALL_CAP;
    let s = TestServer::start_in(c).await;
    let auditor = s.demo_token("auditor");
    let leader = s.demo_token("leader");
    let planner = s.demo_token("planner");
    let reception = s.demo_token("reception");
    let q = format!("from={FROM}&to={TO}");

    // Roles: the planner reads the report, not the register; reception reads neither.
    for (token, path, status) in [
        (&reception, "procedures", 403),
        (&reception, "register", 403),
        (&planner, "register", 403),
    ] {
        let r = s
            .get(&format!("/v1/reports/{path}?{q}"), token)
            .send()
            .await
            .unwrap();
        problem(r, status, "forbidden").await;
    }
    // Bad periods and formats: 422, nothing answered but the problem.
    for bad in [
        "from=2023-08-31&to=2023-01-01".to_owned(),
        "from=2023-13-01&to=2023-08-31".to_owned(),
        "from=2023-01-01&to=2024-01-02".to_owned(),
        format!("{q}&format=pdf"),
        format!("{q}&format=html"),
    ] {
        let r = s
            .get(&format!("/v1/reports/procedures?{bad}"), &leader)
            .send()
            .await
            .unwrap();
        problem(r, 422, "validation").await;
    }
    let r = s
        .get(&format!("/v1/reports/register?{q}&format=csv"), &leader)
        .send()
        .await
        .unwrap();
    let body = problem(r, 422, "validation").await;
    assert!(
        body["detail"].as_str().unwrap().contains("300"),
        "the cap is named: {body}"
    );

    // The desk's report: the commune's figures, exactly.
    let started = Instant::now();
    let desk = download(
        &s,
        &auditor,
        &format!("/v1/reports/procedures?{q}&channel=desk&format=xlsx"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    let desk_ms = started.elapsed().as_millis();
    let desk_cells = xlsx_cells(&desk, "Bao cao TTHC");
    let desk_rows = report_rows(&desk_cells);
    let (_, _, total) = &desk_rows[0];
    assert_eq!(desk_cells[REPORT_HEAD][1], "Tổng cộng");
    // (3) received in all, (4) carried over, (5) online, (6) desk/post, (7) resolved, (8)
    // early, (9) on time, (10) late, (11) in progress, (12) within time, (13) overdue.
    assert_eq!(
        total[..11],
        ["342", "0", "0", "342", "342", "216", "126", "0", "0", "0", "0"]
    );

    // The unit's report, xlsx and CSV.
    let started = Instant::now();
    let unit = download(
        &s,
        &leader,
        &format!("/v1/reports/procedures?{q}"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    let unit_ms = started.elapsed().as_millis();
    let unit_csv = download(
        &s,
        &planner,
        &format!("/v1/reports/procedures?{q}&format=csv"),
        "text/csv",
    )
    .await;
    let cells = xlsx_cells(&unit, "Bao cao TTHC");
    // The state header: the unit on the left, the state's name on the right (column 7).
    assert_eq!(cells[0][0], "UBND XÃ DƯƠNG PHONG");
    assert_eq!(cells[0][6], "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM");
    assert_eq!(
        cells[2][0],
        "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
    );
    assert_eq!(
        csv_cells(std::str::from_utf8(&unit_csv).unwrap()),
        cells,
        "the CSV holds the xlsx's cells"
    );
    let rows = report_rows(&cells);
    let ecopy = rows
        .iter()
        .find(|(_, code, _)| code == ECOPY)
        .expect("the electronic copies' row");
    assert_eq!(ecopy.2[2], "187", "online electronic copies");
    assert_eq!(ecopy.2[4], "187", "resolved electronic copies");

    // A shorter register fits under the small cap.
    let march = "from=2023-03-01&to=2023-03-31";
    let march_csv = download(
        &s,
        &leader,
        &format!("/v1/reports/register?{march}&format=csv"),
        "text/csv",
    )
    .await;
    let march_rows = csv_cells(std::str::from_utf8(&march_csv).unwrap()).len() - REGISTER_HEAD;
    let march_received: u64 = {
        let v = s.get_json(&format!("/v1/stats?{march}"), &leader).await;
        v["figures"]["received"].as_u64().unwrap()
    };
    assert!(march_rows > 0 && march_rows < SMALL_CAP);
    assert_eq!(march_rows as u64, march_received);

    // The server with the default cap: the whole period's register, three ways.
    let s = s.restart().await;
    let started = Instant::now();
    let register = download(
        &s,
        &auditor,
        &format!("/v1/reports/register?{q}&unit={UNIT}"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    let register_ms = started.elapsed().as_millis();
    let register_cells = xlsx_cells(&register, "So theo doi ho so");
    let register_csv = download(
        &s,
        &auditor,
        &format!("/v1/reports/register?{q}&unit={UNIT}&format=csv"),
        "text/csv",
    )
    .await;
    assert_eq!(
        csv_cells(std::str::from_utf8(&register_csv).unwrap()),
        register_cells
    );
    let html = download(
        &s,
        &auditor,
        &format!("/v1/reports/register?{q}&format=html"),
        "text/html",
    )
    .await;
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("Sổ theo dõi hồ sơ") && html.contains("/static/console.css"));
    assert!(html.contains("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"));

    let archive = tmp.path().join("demo.motcua");
    let bytes = s
        .get("/v1/export", &auditor)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(&archive, &bytes).unwrap();
    s.server.shutdown().await.unwrap();

    // The auditor's recomputation from the archive.
    let by_unit = replay_stats(&archive, Some("unit"));
    assert_eq!(
        by_unit.keys().collect::<Vec<_>>(),
        [UNIT],
        "one unit: the unfiltered breakdowns are the unit's"
    );
    let by_field = replay_stats(&archive, Some("field"));
    let by_procedure = replay_stats(&archive, Some("procedure"));
    let by_channel = replay_stats(&archive, Some("channel"));

    assert_eq!(desk_rows[0].2, expected_columns(&by_channel["desk"]));
    // Every number of every row of the unit's report.
    let (mut fields, mut procedures) = (Vec::new(), Vec::new());
    for (i, (number, code, numbers)) in rows.iter().enumerate() {
        let replayed = if i == 0 {
            &by_unit[UNIT]
        } else if number.chars().all(|c| c.is_ascii_digit()) {
            procedures.push(code.clone());
            &by_procedure[code]
        } else {
            fields.push(code.clone());
            &by_field[code]
        };
        assert_eq!(numbers, &expected_columns(replayed), "row {number} {code}");
    }
    // No group of the replay is missing from the report.
    fields.sort();
    procedures.sort();
    assert_eq!(fields, by_field.keys().cloned().collect::<Vec<_>>());
    assert_eq!(procedures, by_procedure.keys().cloned().collect::<Vec<_>>());
    let received = by_unit[UNIT]["received"].as_u64().unwrap();
    assert_eq!(received, 342 + 187);
    assert_eq!(by_unit[UNIT]["received_online"], 187);
    assert_eq!(rows[0].2[0], received.to_string());
    // The register: one row per dossier received, numbered, each a code of the unit.
    let register_rows = &register_cells[REGISTER_HEAD..];
    assert_eq!(register_rows.len() as u64, received);
    for (i, row) in register_rows.iter().enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
        assert!(row[1].starts_with(UNIT), "{row:?}");
    }
    assert_eq!(html.matches("<tr>").count() as u64, received + 1);

    eprintln!(
        "report timings (this build): desk xlsx {desk_ms} ms, {} bytes; unit xlsx {unit_ms} ms, \
         {} bytes, csv {} bytes; register xlsx {register_ms} ms, {} bytes ({received} rows), \
         csv {} bytes",
        desk.len(),
        unit.len(),
        unit_csv.len(),
        register.len(),
        register_csv.len()
    );
}
