//! The official reports as files (`docs/reports.md`): each report becomes one [`Grid`] of
//! cells with its merged header cells, and the .xlsx (rust_xlsxwriter) and the CSV are both
//! written from that grid, so the two files hold the same cells in the same places; the register
//! is also a printable A4 page in the console's style sheet. Nothing here computes a figure:
//! the numbers are the application's `ProceduresReport` and `Register`.

use maud::{html, DOCTYPE};
use motcua_engine::domain::slips::{format_local, RegisterRow, TITLE_06};
use motcua_engine::domain::types::{Channel, Timestamp};
use motcua_engine::projection::Figures;
use motcua_replay::output::Table;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use crate::app::reports::{ProceduresReport, Register, RowKind};

/// The media type of an .xlsx file.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The media type of the CSV files (UTF-8, with a byte-order mark so spreadsheets read the
/// Vietnamese letters).
pub const CSV: &str = "text/csv; charset=utf-8";

/// The procedures report's title.
pub const PROCEDURES_TITLE: &str = "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH";

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("the workbook could not be written: {0}")]
    Xlsx(#[from] XlsxError),
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(u64),
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// The cell as the CSV writes it (and as a reader of the .xlsx reads it back).
    pub fn as_text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
        }
    }
}

/// Cells merged into one: rows and columns, both inclusive, counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub rows: (u32, u32),
    pub cols: (u16, u16),
}

/// A report laid out as a sheet.
#[derive(Debug, Clone)]
pub struct Grid {
    /// The worksheet's name (at most 31 characters).
    pub sheet: &'static str,
    pub rows: Vec<Vec<Cell>>,
    pub merges: Vec<Merge>,
    /// The title rows above the column headers (one merged line each).
    pub title_rows: u32,
    /// The header rows (bold, bordered, centered), after the title rows.
    pub header_rows: u32,
    /// Column widths in characters.
    pub widths: Vec<f64>,
    /// Rows written bold (a total, a field's subtotal).
    pub bold_rows: Vec<usize>,
}

impl Grid {
    fn columns(&self) -> u16 {
        u16::try_from(self.widths.len()).unwrap_or(u16::MAX)
    }
}

/// The state header of a printed document (UI.md): the issuing unit on the left, the state's
/// name and motto on the right; then the title and the period, each across the sheet. Four
/// rows of `cols` cells and their merges; the unit over columns `0..=left`, the state header
/// over `right..cols`.
fn heading(
    cols: usize,
    left: u16,
    right: u16,
    unit: &str,
    title: String,
    period: String,
) -> (Vec<Vec<Cell>>, Vec<Merge>) {
    let at = |pairs: Vec<(u16, String)>| {
        let mut row = vec![Cell::Empty; cols];
        for (c, text) in pairs {
            row[usize::from(c)] = Cell::Text(text);
        }
        row
    };
    let last = u16::try_from(cols - 1).unwrap_or(u16::MAX);
    let rows = vec![
        at(vec![(0, unit.to_uppercase()), (right, STATE.to_owned())]),
        at(vec![(right, MOTTO.to_owned())]),
        at(vec![(0, title)]),
        at(vec![(0, period)]),
    ];
    let m = |row: u32, c0: u16, c1: u16| Merge {
        rows: (row, row),
        cols: (c0, c1),
    };
    let merges = vec![
        m(0, 0, left),
        m(0, right, last),
        m(1, right, last),
        m(2, 0, last),
        m(3, 0, last),
    ];
    (rows, merges)
}

const STATE: &str = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM";
const MOTTO: &str = "Độc lập - Tự do - Hạnh phúc";

fn period_line(from: chrono::NaiveDate, to: chrono::NaiveDate) -> String {
    format!(
        "Kỳ báo cáo: từ ngày {} đến ngày {}",
        from.format("%d/%m/%Y"),
        to.format("%d/%m/%Y")
    )
}

/// The figures of one row in the form's numbered columns (3) to (15): the received total,
/// carried over, new online, new at the desk or by post, resolved (total, early, on time,
/// late), in progress (total, within time, overdue), withdrawn, stopped.
pub fn procedure_columns(f: &Figures) -> [u64; 13] {
    [
        f.carried_over + f.received,
        f.carried_over,
        f.received_online,
        f.received - f.received_online,
        f.resolved,
        f.resolved_early,
        f.resolved_on_time,
        f.resolved_late,
        f.in_progress,
        f.in_progress_within_time,
        f.in_progress_overdue,
        f.withdrawn,
        f.stopped,
    ]
}

/// The procedures report as a grid: the state header, the title and the period, three header
/// rows and the row of column numbers, then the total, each field and its procedures.
pub fn procedures_grid(r: &ProceduresReport) -> Grid {
    const COLS: usize = 16;
    let t = Cell::text;
    let (mut rows, mut merges) = heading(
        COLS,
        1,
        6,
        &r.unit_name,
        PROCEDURES_TITLE.to_owned(),
        period_line(r.from, r.to),
    );
    let e = || Cell::Empty;
    rows.push(vec![
        t("STT"),
        t("Lĩnh vực, thủ tục hành chính"),
        t("Số hồ sơ nhận giải quyết"),
        e(),
        e(),
        e(),
        t("Kết quả giải quyết"),
        e(),
        e(),
        e(),
        e(),
        e(),
        e(),
        t("Số hồ sơ rút"),
        t("Số hồ sơ dừng giải quyết"),
        t("Mã lĩnh vực, mã thủ tục"),
    ]);
    rows.push(vec![
        e(),
        e(),
        t("Tổng số"),
        t("Trong đó"),
        e(),
        e(),
        t("Số hồ sơ đã giải quyết"),
        e(),
        e(),
        e(),
        t("Số hồ sơ đang giải quyết"),
        e(),
        e(),
        e(),
        e(),
        e(),
    ]);
    rows.push(vec![
        e(),
        e(),
        e(),
        t("Số kỳ trước chuyển qua"),
        t("Số mới tiếp nhận trực tuyến"),
        t("Số mới tiếp nhận trực tiếp, qua dịch vụ bưu chính"),
        t("Tổng số"),
        t("Trả trước hạn"),
        t("Trả đúng hạn"),
        t("Trả quá hạn"),
        t("Tổng số"),
        t("Chưa đến hạn"),
        t("Quá hạn"),
        e(),
        e(),
        e(),
    ]);
    rows.push((1..=COLS).map(|i| Cell::Text(format!("({i})"))).collect());
    let mut bold_rows = Vec::new();
    for row in &r.rows {
        if row.kind != RowKind::Procedure {
            bold_rows.push(rows.len());
        }
        let mut cells = vec![Cell::Text(row.number.clone()), Cell::Text(row.name.clone())];
        cells.extend(procedure_columns(&row.figures).map(Cell::Number));
        cells.push(Cell::Text(row.code.clone()));
        rows.push(cells);
    }
    let m = |r0: u32, r1: u32, c0: u16, c1: u16| Merge {
        rows: (r0, r1),
        cols: (c0, c1),
    };
    merges.extend([
        m(4, 6, 0, 0),
        m(4, 6, 1, 1),
        m(4, 4, 2, 5),
        m(4, 4, 6, 12),
        m(4, 6, 13, 13),
        m(4, 6, 14, 14),
        m(4, 6, 15, 15),
        m(5, 6, 2, 2),
        m(5, 5, 3, 5),
        m(5, 5, 6, 9),
        m(5, 5, 10, 12),
    ]);
    let mut widths = vec![6.0, 48.0];
    widths.extend([11.0; 13]);
    widths.push(14.0);
    Grid {
        sheet: "Bao cao TTHC",
        rows,
        merges,
        title_rows: 4,
        header_rows: 4,
        widths,
        bold_rows,
    }
}

fn channel_vi(c: Channel) -> &'static str {
    match c {
        Channel::Desk => "Trực tiếp",
        Channel::Postal => "Qua dịch vụ bưu chính",
        Channel::Online => "Trực tuyến",
    }
}

fn time(t: Option<Timestamp>) -> String {
    t.map(format_local).unwrap_or_default()
}

/// The register's column headings, in order.
pub const REGISTER_COLUMNS: [&str; 13] = [
    "STT",
    "Mã hồ sơ",
    "Người nộp",
    "Địa chỉ",
    "Thủ tục hành chính",
    "Hình thức nộp",
    "Ngày, giờ nhận",
    "Hẹn trả kết quả",
    "Ngày có kết quả",
    "Ngày trả kết quả",
    "Trạng thái",
    "Đánh giá",
    "Số lần xin lỗi, hẹn lại",
];

fn register_cells(i: usize, x: &RegisterRow) -> Vec<Cell> {
    vec![
        Cell::Number(i as u64 + 1),
        Cell::text(x.code.clone()),
        Cell::text(x.applicant_name.clone()),
        Cell::text(x.address.clone()),
        Cell::text(x.procedure_name.clone()),
        Cell::text(channel_vi(x.channel)),
        Cell::text(time(x.received_at)),
        Cell::text(time(x.due)),
        Cell::text(time(x.resolved_at)),
        Cell::text(time(x.returned_at)),
        Cell::text(x.status.clone()),
        Cell::text(x.timeliness.map(|t| t.label_vi()).unwrap_or("")),
        Cell::Number(u64::from(x.apologies)),
    ]
}

/// The register as a grid: the state header, the title and the period, the header row, one row
/// per dossier.
pub fn register_grid(r: &Register) -> Grid {
    let cols = REGISTER_COLUMNS.len();
    let (mut rows, merges) = heading(
        cols,
        3,
        6,
        &r.unit_name,
        TITLE_06.to_uppercase(),
        format!(
            "{} (hồ sơ tiếp nhận trong kỳ: {})",
            period_line(r.from, r.to),
            r.rows.len()
        ),
    );
    rows.push(REGISTER_COLUMNS.iter().map(|h| Cell::text(*h)).collect());
    rows.extend(r.rows.iter().enumerate().map(|(i, x)| register_cells(i, x)));
    Grid {
        sheet: "So theo doi ho so",
        rows,
        merges,
        title_rows: 4,
        header_rows: 1,
        widths: vec![
            6.0, 26.0, 24.0, 30.0, 40.0, 12.0, 17.0, 17.0, 17.0, 17.0, 18.0, 11.0, 10.0,
        ],
        bold_rows: Vec::new(),
    }
}

/// The grid as an .xlsx workbook of one sheet, A4 landscape, the header rows repeated on
/// every printed page.
pub fn xlsx(g: &Grid) -> Result<Vec<u8>, SheetError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(g.sheet)?;
    // 9 is A4 in the spreadsheet's paper codes.
    sheet.set_paper_size(9).set_landscape();
    let title = Format::new().set_bold().set_align(FormatAlign::Center);
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let body = Format::new()
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Top);
    let bold_body = body.clone().set_bold();
    for (c, w) in g.widths.iter().enumerate() {
        sheet.set_column_width(u16::try_from(c).unwrap_or(u16::MAX), *w)?;
    }
    let heading_rows = g.title_rows + g.header_rows;
    for (r, row) in g.rows.iter().enumerate() {
        let strong = g.bold_rows.contains(&r);
        let r = u32::try_from(r).unwrap_or(u32::MAX);
        let format = if r < g.title_rows {
            &title
        } else if r < heading_rows {
            &header
        } else if strong {
            &bold_body
        } else {
            &body
        };
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).unwrap_or(u16::MAX);
            match cell {
                Cell::Empty => sheet.write_blank(r, c, format)?,
                Cell::Text(s) => sheet.write_string_with_format(r, c, s, format)?,
                // Counts stay far below 2^53, so the spreadsheet's double holds them exactly.
                Cell::Number(n) => sheet.write_number_with_format(r, c, *n as f64, format)?,
            };
        }
    }
    for m in &g.merges {
        let text = g
            .rows
            .get(m.rows.0 as usize)
            .and_then(|row| row.get(m.cols.0 as usize))
            .map(Cell::as_text)
            .unwrap_or_default();
        let format = if m.rows.0 < g.title_rows {
            &title
        } else {
            &header
        };
        sheet.merge_range(m.rows.0, m.cols.0, m.rows.1, m.cols.1, &text, format)?;
    }
    if heading_rows > 0 && g.columns() > 0 {
        sheet.set_repeat_rows(g.title_rows, heading_rows - 1)?;
        sheet.set_freeze_panes(heading_rows, 0)?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// A number as people read it (UI.md): `.` between thousands (`1.234`); the console's money
/// too.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(d);
    }
    out
}

/// The grid as CSV (RFC 4180: comma, CRLF, quotes doubled; the writer of `motcua-replay`'s
/// `--format csv`), a byte-order mark first; a merged cell's text is in its first cell, the
/// others empty, as in the .xlsx.
pub fn csv(g: &Grid) -> String {
    let text = |row: &Vec<Cell>| row.iter().map(Cell::as_text).collect::<Vec<_>>();
    let mut rows = g.rows.iter();
    let mut table = Table::new(rows.next().map(text).unwrap_or_default());
    for row in rows {
        table.push(text(row));
    }
    format!("\u{feff}{}", table.to_csv())
}

/// The register as a printable page (A4, the console's style sheet and its print rules).
pub fn register_html(r: &Register) -> String {
    html! {
        (DOCTYPE)
        html lang="vi" {
            head {
                meta charset="utf-8";
                title { (TITLE_06) }
                link rel="stylesheet" href="/static/console.css";
            }
            body {
                main {
                    article.slip.register {
                        div.issuer {
                            div { strong { (r.unit_name) } }
                            div.state { (STATE) span { (MOTTO) } }
                        }
                        h1 { (TITLE_06) }
                        p { (period_line(r.from, r.to)) ". Số hồ sơ tiếp nhận trong kỳ: " (grouped(r.rows.len() as u64)) "." }
                        table {
                            thead { tr { @for h in REGISTER_COLUMNS { th scope="col" { (h) } } } }
                            tbody {
                                @for (i, x) in r.rows.iter().enumerate() {
                                    tr {
                                        @for c in register_cells(i, x) {
                                            td {
                                                @match c {
                                                    Cell::Number(n) => (grouped(n)),
                                                    other => (other.as_text()),
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands_on_the_printed_page() {
        let got: Vec<String> = [0, 7, 999, 1_000, 12_345, 1_234_567]
            .into_iter()
            .map(grouped)
            .collect();
        assert_eq!(got, ["0", "7", "999", "1.000", "12.345", "1.234.567"]);
    }

    #[test]
    fn the_csv_quotes_what_needs_quoting_after_a_byte_order_mark() {
        let g = Grid {
            sheet: "t",
            rows: vec![
                vec![Cell::text("Lĩnh vực, thủ tục"), Cell::Empty],
                vec![Cell::text("a \"b\""), Cell::Number(1_234)],
            ],
            merges: Vec::new(),
            title_rows: 0,
            header_rows: 1,
            widths: vec![10.0, 10.0],
            bold_rows: Vec::new(),
        };
        assert_eq!(
            csv(&g),
            "\u{feff}\"Lĩnh vực, thủ tục\",\r\n\"a \"\"b\"\"\",1234\r\n"
        );
    }
}
