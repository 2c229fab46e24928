//! Slips 01-06 of Thông tư 01/2018/TT-VPCP as views computed from a dossier's recorded
//! events (structured, served as JSON), and a printable HTML rendering with the Vietnamese
//! headings. Every user-supplied text is HTML-escaped.

use serde::Serialize;

use super::calendar::local;
use super::dossier::{apply, judge, DossierState, Timeliness};
use super::events::{Applicant, DossierChange, DossierEvent, Event, Recorded};
use super::personal::ApplicantRecord;
use super::types::{Channel, Timestamp};

pub const TITLE_01: &str = "Giấy tiếp nhận hồ sơ và hẹn trả kết quả";
pub const TITLE_02: &str = "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ";
pub const TITLE_03: &str = "Phiếu từ chối tiếp nhận giải quyết hồ sơ";
pub const TITLE_04: &str = "Phiếu xin lỗi và hẹn lại ngày trả kết quả";
pub const TITLE_05: &str = "Phiếu kiểm soát quá trình giải quyết hồ sơ";
pub const TITLE_06: &str = "Sổ theo dõi hồ sơ";

/// Local `dd/mm/yyyy HH:MM` (Asia/Ho_Chi_Minh).
pub fn format_local(t: Timestamp) -> String {
    local(t).format("%d/%m/%Y %H:%M").to_string()
}

/// 01: the receipt and appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slip01 {
    pub code: String,
    pub unit: String,
    pub procedure_id: String,
    pub procedure_version: u32,
    pub procedure_name: String,
    pub applicant: Applicant,
    pub documents: Vec<String>,
    pub channel: Channel,
    pub received_at: Timestamp,
    pub clock_start: Timestamp,
    pub due: Timestamp,
    pub fees_vnd: u64,
    pub received_by: String,
}

/// 02: a supplement request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slip02 {
    pub code: String,
    pub applicant_name: String,
    pub items: Vec<String>,
    pub reason: String,
    pub requested_at: Timestamp,
    pub requested_by: String,
}

/// 03: refusal to receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slip03 {
    pub code: String,
    pub applicant_name: String,
    pub procedure_id: String,
    pub reason: String,
    pub legal_basis: String,
    pub refused_at: Timestamp,
    pub refused_by: String,
}

/// 04: an apology with a new appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slip04 {
    pub code: String,
    pub applicant_name: String,
    pub reason: String,
    pub due: Option<Timestamp>,
    pub new_appointment: Timestamp,
    pub apologised_at: Timestamp,
    pub apologised_by: String,
}

/// One hand-off of the control slip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandOff {
    /// The event type (e.g. `dossier.assigned`).
    pub step: String,
    pub from: String,
    pub to: String,
    pub at: Timestamp,
    /// The dossier's due time when the hand-off happened.
    pub due: Option<Timestamp>,
    pub on_time: bool,
}

/// 05: the processing control slip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slip05 {
    pub code: String,
    pub hand_offs: Vec<HandOff>,
}

/// 06: the dossier's row in the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterRow {
    pub code: String,
    pub applicant_name: String,
    pub address: String,
    pub procedure_name: String,
    pub channel: Channel,
    pub received_at: Option<Timestamp>,
    pub due: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub returned_at: Option<Timestamp>,
    pub status: String,
    pub timeliness: Option<Timeliness>,
    pub apologies: u32,
}

/// Every slip a dossier's events give.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Slips {
    pub s01: Option<Slip01>,
    pub s02: Vec<Slip02>,
    pub s03: Option<Slip03>,
    pub s04: Vec<Slip04>,
    pub s05: Option<Slip05>,
    pub s06: Option<RegisterRow>,
}

/// How a slip reads an applicant: the caller opens it with the key store (the domain holds no
/// keys; an erased person reads as `personal::ERASED_TEXT`).
pub type OpenApplicant<'a> = &'a dyn Fn(&ApplicantRecord) -> Applicant;

/// Computes the slips from one dossier's recorded events (in stream order), reading each
/// applicant through `open`.
pub fn slips(records: &[Recorded], open: OpenApplicant<'_>) -> Slips {
    let mut out = Slips::default();
    let mut state = DossierState::default();
    let mut hand_offs = Vec::new();
    for rec in records {
        let Event::Dossier(ev) = &rec.event else {
            continue;
        };
        let before = state.clone();
        state = apply(state, ev);
        out.record_paper(rec, ev, (&before, &state), open);
        if let (Some(to), Some(_)) = (hand_off_to(&ev.change, &state), state.receipt.as_ref()) {
            // Judge against the due in force after the event: only a resume (supplement
            // received, payment recorded) moves it, and a resume hands the dossier back with the
            // paused office time already added; judging it against the pre-resume due would
            // call an on-time hand-off late.
            let due = state.due;
            hand_offs.push(HandOff {
                step: ev.change.event_type().to_owned(),
                from: rec.actor.clone(),
                to,
                at: ev.at,
                due,
                on_time: due.is_none_or(|d| judge(ev.at, d) != Timeliness::Late),
            });
        }
    }
    if let Some(code) = &state.code {
        if state.receipt.is_some() {
            out.s05 = Some(Slip05 {
                code: code.to_string(),
                hand_offs,
            });
        }
        out.s06 = Some(register_row(code.to_string(), &state, open));
    }
    out
}

impl Slips {
    /// The slip numbered `n` ("01" to "06") alone, for printing or answering one slip; `None`
    /// when the dossier's history holds no such slip (or `n` names none).
    pub fn only(self, n: &str) -> Option<Slips> {
        let mut one = Slips::default();
        let present = match n {
            "01" => {
                one.s01 = self.s01;
                one.s01.is_some()
            }
            "02" => {
                one.s02 = self.s02;
                !one.s02.is_empty()
            }
            "03" => {
                one.s03 = self.s03;
                one.s03.is_some()
            }
            "04" => {
                one.s04 = self.s04;
                !one.s04.is_empty()
            }
            "05" => {
                one.s05 = self.s05;
                one.s05.is_some()
            }
            "06" => {
                one.s06 = self.s06;
                one.s06.is_some()
            }
            _ => false,
        };
        present.then_some(one)
    }

    /// The paper slip an event issues, if any: 01 at receipt, 02 per supplement request, 03 at
    /// a refusal to receive, 04 per apology.
    fn record_paper(
        &mut self,
        rec: &Recorded,
        ev: &DossierEvent,
        (before, state): (&DossierState, &DossierState),
        open: OpenApplicant<'_>,
    ) {
        let code = ev.code.to_string();
        let applicant_name = state
            .receipt
            .as_ref()
            .map(|r| &r.applicant)
            .or(state.submission.as_ref().map(|s| &s.applicant))
            .map(|a| open(a).name)
            .unwrap_or_default();
        match &ev.change {
            DossierChange::Received(r) => {
                self.s01 = Some(Slip01 {
                    code,
                    unit: r.unit.to_string(),
                    procedure_id: r.procedure.id.to_string(),
                    procedure_version: r.procedure.version,
                    procedure_name: r.procedure_name.clone(),
                    applicant: open(&r.applicant),
                    documents: r.documents.clone(),
                    channel: r.channel,
                    received_at: ev.at,
                    clock_start: r.clock_start,
                    due: r.due,
                    fees_vnd: r.fees.0,
                    received_by: rec.actor.clone(),
                })
            }
            DossierChange::SupplementRequested { items, reason } => self.s02.push(Slip02 {
                code,
                applicant_name,
                items: items.clone(),
                reason: reason.clone(),
                requested_at: ev.at,
                requested_by: rec.actor.clone(),
            }),
            DossierChange::RefusedToReceive {
                reason,
                legal_basis,
            } => {
                self.s03 = Some(Slip03 {
                    code,
                    applicant_name,
                    procedure_id: state
                        .submission
                        .as_ref()
                        .map(|s| s.procedure.id.to_string())
                        .unwrap_or_default(),
                    reason: reason.clone(),
                    legal_basis: legal_basis.clone(),
                    refused_at: ev.at,
                    refused_by: rec.actor.clone(),
                })
            }
            DossierChange::Apologised {
                reason,
                new_appointment,
            } => self.s04.push(Slip04 {
                code,
                applicant_name,
                reason: reason.clone(),
                due: before.due,
                new_appointment: *new_appointment,
                apologised_at: ev.at,
                apologised_by: rec.actor.clone(),
            }),
            _ => {}
        }
    }
}

/// Who the dossier passes to with a change (slip 05's "to"), if it changes hands.
fn hand_off_to(change: &DossierChange, state: &DossierState) -> Option<String> {
    let specialist = || state.specialist.as_ref().map(|s| s.to_string());
    match change {
        DossierChange::SupplementRequested { .. } => Some("công dân (bổ sung hồ sơ)".into()),
        DossierChange::Assigned { specialist, .. } => Some(specialist.to_string()),
        DossierChange::SupplementReceived { .. } | DossierChange::PaymentRecorded { .. } => {
            specialist()
        }
        DossierChange::Forwarded { agency, .. } => Some(agency.clone()),
        DossierChange::OtherAgencyAnswered { .. } => specialist(),
        DossierChange::PaymentRequested { .. } => Some("công dân (nghĩa vụ tài chính)".into()),
        DossierChange::SubmittedForSigning { .. } => Some("lãnh đạo".into()),
        DossierChange::SentBack { .. } => specialist(),
        DossierChange::Approved { .. } | DossierChange::RefusalSigned { .. } => {
            Some("Bộ phận tiếp nhận và trả kết quả".into())
        }
        DossierChange::HandedOver { .. } => Some("công dân".into()),
        _ => None,
    }
}

/// Slip 06: the dossier's row in the register.
fn register_row(code: String, state: &DossierState, open: OpenApplicant<'_>) -> RegisterRow {
    let (applicant, procedure_name, channel) = match (&state.receipt, &state.submission) {
        (Some(r), _) => (
            Some(open(&r.applicant)),
            r.procedure_name.clone(),
            r.channel,
        ),
        (None, Some(s)) => (
            Some(open(&s.applicant)),
            s.procedure.id.to_string(),
            s.channel,
        ),
        (None, None) => (None, String::new(), Channel::Desk),
    };
    let (name, address) = applicant.map(|a| (a.name, a.address)).unwrap_or_default();
    RegisterRow {
        code,
        applicant_name: name,
        address,
        procedure_name,
        channel,
        received_at: state.received_at,
        due: state.due,
        resolved_at: state.resolved_at,
        returned_at: state.returned_at,
        status: state.phase.label_vi().to_owned(),
        timeliness: state.timeliness(),
        apologies: state.apologies,
    }
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn row(out: &mut String, label: &str, value: &str) {
    out.push_str(&format!(
        "<tr><th>{}</th><td>{}</td></tr>\n",
        escape(label),
        escape(value)
    ));
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map(format_local).unwrap_or_default()
}

/// A printable HTML page with every slip the dossier has.
pub fn render_html(s: &Slips) -> String {
    let mut o = String::from("<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Phiếu hồ sơ</title></head><body>\n");
    let header = |o: &mut String, title: &str| {
        o.push_str(
            "<section>\n<p>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM<br>Độc lập - Tự do - Hạnh phúc</p>\n",
        );
        o.push_str(&format!("<h2>{}</h2>\n<table>\n", escape(title)));
    };
    let footer = |o: &mut String| o.push_str("</table>\n</section>\n");
    if let Some(x) = &s.s01 {
        header(&mut o, TITLE_01);
        row(&mut o, "Mã hồ sơ", &x.code);
        row(
            &mut o,
            "Thủ tục",
            &format!(
                "{} ({} v{})",
                x.procedure_name, x.procedure_id, x.procedure_version
            ),
        );
        row(&mut o, "Người nộp", &x.applicant.name);
        row(&mut o, "Số CCCD", &x.applicant.id_number);
        row(&mut o, "Địa chỉ", &x.applicant.address);
        row(&mut o, "Thành phần hồ sơ", &x.documents.join("; "));
        row(&mut o, "Tiếp nhận lúc", &format_local(x.received_at));
        row(&mut o, "Hẹn trả kết quả", &format_local(x.due));
        row(&mut o, "Phí, lệ phí (đồng)", &x.fees_vnd.to_string());
        row(&mut o, "Người tiếp nhận", &x.received_by);
        footer(&mut o);
    }
    for x in &s.s02 {
        header(&mut o, TITLE_02);
        row(&mut o, "Mã hồ sơ", &x.code);
        row(&mut o, "Người nộp", &x.applicant_name);
        row(&mut o, "Nội dung cần bổ sung", &x.items.join("; "));
        row(&mut o, "Lý do", &x.reason);
        row(&mut o, "Ngày yêu cầu", &format_local(x.requested_at));
        row(&mut o, "Người yêu cầu", &x.requested_by);
        footer(&mut o);
    }
    if let Some(x) = &s.s03 {
        header(&mut o, TITLE_03);
        row(&mut o, "Mã hồ sơ", &x.code);
        row(&mut o, "Người nộp", &x.applicant_name);
        row(&mut o, "Lý do từ chối", &x.reason);
        row(&mut o, "Căn cứ pháp lý", &x.legal_basis);
        row(&mut o, "Ngày từ chối", &format_local(x.refused_at));
        row(&mut o, "Người từ chối", &x.refused_by);
        footer(&mut o);
    }
    for x in &s.s04 {
        header(&mut o, TITLE_04);
        row(&mut o, "Mã hồ sơ", &x.code);
        row(&mut o, "Người nộp", &x.applicant_name);
        row(&mut o, "Lý do", &x.reason);
        row(&mut o, "Hẹn trả ban đầu", &opt_time(x.due));
        row(&mut o, "Hẹn lại ngày trả", &format_local(x.new_appointment));
        row(&mut o, "Người xin lỗi", &x.apologised_by);
        footer(&mut o);
    }
    if let Some(x) = &s.s05 {
        header(&mut o, TITLE_05);
        row(&mut o, "Mã hồ sơ", &x.code);
        o.push_str("<tr><th>Bước</th><th>Bên giao</th><th>Bên nhận</th><th>Thời gian</th><th>Kết quả</th></tr>\n");
        for h in &x.hand_offs {
            o.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&h.step),
                escape(&h.from),
                escape(&h.to),
                escape(&format_local(h.at)),
                if h.on_time {
                    "Đúng hạn"
                } else {
                    "Quá hạn"
                }
            ));
        }
        footer(&mut o);
    }
    if let Some(x) = &s.s06 {
        header(&mut o, TITLE_06);
        row(&mut o, "Mã hồ sơ", &x.code);
        row(&mut o, "Người nộp", &x.applicant_name);
        row(&mut o, "Địa chỉ", &x.address);
        row(&mut o, "Thủ tục", &x.procedure_name);
        row(&mut o, "Ngày nhận", &opt_time(x.received_at));
        row(&mut o, "Hẹn trả", &opt_time(x.due));
        row(&mut o, "Ngày có kết quả", &opt_time(x.resolved_at));
        row(&mut o, "Ngày trả", &opt_time(x.returned_at));
        row(&mut o, "Trạng thái", &x.status);
        row(
            &mut o,
            "Đánh giá",
            x.timeliness.map(|t| t.label_vi()).unwrap_or(""),
        );
        footer(&mut o);
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dossier::Command;
    use crate::domain::events::DraftKind;
    use crate::domain::personal::Opened;
    use crate::domain::testkit::*;
    use crate::domain::types::Role;

    /// The domain's own decisions record applicants in clear (the command service seals them).
    fn clear(record: &ApplicantRecord) -> Applicant {
        match record {
            ApplicantRecord::Clear(a) => a.clone(),
            ApplicantRecord::Sealed(_) => Opened::Erased.or_erased(),
        }
    }

    fn recorded(evs: Vec<crate::domain::events::DossierEvent>, actors: &[&str]) -> Vec<Recorded> {
        evs.into_iter()
            .enumerate()
            .map(|(i, e)| Recorded {
                seq: i as u64 + 1,
                // The slips read only the events: the stream's name is the log's business.
                stream: String::new(),
                version: i as u64 + 1,
                recorded_at: e.at,
                actor: actors[i].to_owned(),
                role: Role::Reception,
                event: Event::Dossier(e),
            })
            .collect()
    }

    #[test]
    fn slips_of_a_late_dossier_with_supplement_and_apology() {
        let r = reference();
        let (_, evs) = path(
            &r,
            vec![
                (receive_desk(P_STD), reception(), t(3, 6, 9, 0)),
                (assign(), reception(), t(3, 6, 9, 30)),
                (
                    Command::RequestSupplement {
                        items: vec!["Bản sao <CCCD>".into()],
                        reason: "thiếu & sai".into(),
                    },
                    specialist(),
                    t(3, 6, 10, 0),
                ),
                (
                    Command::RecordSupplement {
                        note: String::new(),
                    },
                    reception(),
                    t(3, 7, 10, 0),
                ),
                (
                    Command::Apologise {
                        reason: "chờ xác minh".into(),
                        new_appointment: t(3, 20, 17, 0),
                    },
                    specialist(),
                    t(3, 13, 9, 0),
                ),
                (sign(DraftKind::Result), specialist(), t(3, 14, 9, 0)),
                (
                    Command::Approve {
                        note: String::new(),
                    },
                    leader(),
                    t(3, 14, 10, 0),
                ),
                (
                    Command::HandOver {
                        note: String::new(),
                    },
                    reception(),
                    t(3, 14, 14, 0),
                ),
            ],
        );
        let recs = recorded(
            evs,
            &[
                "tn-01", "tn-01", "cm-01", "tn-01", "cm-01", "cm-01", "ld-01", "tn-01",
            ],
        );
        let s = slips(&recs, &clear);
        let s01 = s.s01.as_ref().unwrap();
        assert_eq!(s01.code, "000.00.00.G10-230306-0001");
        assert_eq!(s01.due, t(3, 9, 17, 0));
        assert_eq!(s01.received_by, "tn-01");
        assert_eq!(s.s02.len(), 1);
        assert_eq!(s.s02[0].items, vec!["Bản sao <CCCD>".to_owned()]);
        assert!(s.s03.is_none());
        assert_eq!(s.s04.len(), 1);
        // Paused 1 office day: due moved from Thu 9 Mar 17:00 to Fri 10 Mar 17:00.
        assert_eq!(s.s04[0].due, Some(t(3, 10, 17, 0)));
        let s05 = s.s05.as_ref().unwrap();
        let steps: Vec<(&str, &str, &str, bool)> = s05
            .hand_offs
            .iter()
            .map(|h| (h.step.as_str(), h.from.as_str(), h.to.as_str(), h.on_time))
            .collect();
        assert_eq!(
            steps,
            vec![
                ("dossier.assigned", "tn-01", "cm-01", true),
                (
                    "dossier.supplement_requested",
                    "cm-01",
                    "công dân (bổ sung hồ sơ)",
                    true
                ),
                ("dossier.supplement_received", "tn-01", "cm-01", true),
                ("dossier.submitted_for_signing", "cm-01", "lãnh đạo", false),
                (
                    "dossier.approved",
                    "ld-01",
                    "Bộ phận tiếp nhận và trả kết quả",
                    false
                ),
                ("dossier.handed_over", "tn-01", "công dân", false),
            ]
        );
        // The resume hand-off carries the due moved by the pause, not the original one.
        let resume = &s05.hand_offs[2];
        assert_eq!(resume.step, "dossier.supplement_received");
        assert_eq!(resume.due, Some(t(3, 10, 17, 0)));
        assert_eq!(s05.hand_offs[0].due, Some(t(3, 9, 17, 0)));
        let row = s.s06.as_ref().unwrap();
        assert_eq!(row.timeliness, Some(Timeliness::Late));
        assert_eq!(row.status, "Đã trả kết quả");
        assert_eq!(row.apologies, 1);
        let html = render_html(&s);
        for title in [TITLE_01, TITLE_02, TITLE_04, TITLE_05, TITLE_06] {
            assert!(html.contains(title), "{title}");
        }
        assert!(!html.contains(TITLE_03));
        assert!(html.contains("Bản sao &lt;CCCD&gt;"));
        assert!(html.contains("thiếu &amp; sai"));
        assert!(!html.contains("<CCCD>"));
        assert!(html.contains("09/03/2023 17:00"));
    }

    #[test]
    fn refusal_slip_03() {
        let r = reference();
        let (_, evs) = path(
            &r,
            steps_to(crate::domain::workflow::Phase::Refused, DraftKind::Result),
        );
        let s = slips(&recorded(evs, &["tn-01", "tn-01"]), &clear);
        let s03 = s.s03.unwrap();
        assert_eq!(s03.reason, "không thuộc thẩm quyền");
        assert_eq!(s03.procedure_id, P_STD);
        assert!(s.s01.is_none());
        assert!(s.s05.is_none());
        assert_eq!(s.s06.unwrap().status, "Từ chối tiếp nhận");
    }
}
