//! The console's shared layout and words: the page frame (the unit's name in force, the
//! signed-in person's name and role, the Vietnamese navigation of their role), the style sheet
//! (screen and A4 print), and the Vietnamese for states, actions, roles, events, dates and
//! times (`dd/mm/yyyy`, `HH:mm` in Asia/Ho_Chi_Minh). Every interpolation is escaped by maud.

use chrono::NaiveDate;
use maud::{html, Markup, DOCTYPE};
use motcua_engine::domain::calendar::local;
use motcua_engine::domain::types::{Role, Timestamp};
use motcua_engine::domain::Action;
use motcua_engine::projection::DossierState;

use crate::app::desk::Timeliness;
use crate::app::Caller;

/// The style sheet, served as a file so the Content-Security-Policy can forbid inline styles.
pub const CSS: &str = r#"
:root { --ink:#1a1a1a; --muted:#555; --line:#c8c8c8; --brand:#8b1a1a; --late:#b00020; --soon:#8a5a00; --ok:#1b5e20; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans", "Segoe UI", Arial, sans-serif; color: var(--ink); margin: 0; font-size: 16px; line-height: 1.45; }
header.top { background: var(--brand); color: #fff; padding: .5rem 1rem; display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: .5rem; }
header.top .unit { font-weight: bold; }
header.top .who { font-size: .95rem; }
nav.main { background: #f3ecec; padding: .4rem 1rem; display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
nav.main a { color: var(--brand); font-weight: 600; }
nav.main form { display: inline; margin: 0; }
nav.main button { margin-top: 0; padding: .2rem .8rem; }
main { padding: 1rem; max-width: 1340px; }
a:focus, button:focus, input:focus, select:focus, textarea:focus { outline: 3px solid #1565c0; outline-offset: 2px; }
label { display: block; font-weight: 600; margin-top: .6rem; margin-bottom: .3rem; }
input[type=text], input[type=password], select, textarea { width: 100%; max-width: 38rem; padding: .35rem; font-size: 1rem; border: 1px solid #777; }
textarea { min-height: 4rem; }
button { margin-top: .8rem; padding: .45rem 1.1rem; font-size: 1rem; background: var(--brand); color: #fff; border: 0; cursor: pointer; }
button.secondary { background: #fff; color: var(--brand); border: 1px solid var(--brand); }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
.msg { padding: .6rem .8rem; margin: .5rem 0 1rem; border-left: 6px solid; }
.msg.error { border-color: var(--late); background: #fdecee; }
.msg.ok { border-color: var(--ok); background: #e8f5e9; }
.late { color: var(--late); font-weight: bold; }
.soon { color: var(--soon); font-weight: bold; }
.intime { color: var(--ok); }
.checklist label { font-weight: normal; display: flex; gap: .4rem; align-items: baseline; }
.levels div { display: flex; gap: .4rem; align-items: baseline; margin: .3rem 0; }
.levels label { display: inline; font-weight: normal; margin: 0; }
.actions form { border: 1px solid var(--line); padding: .6rem .8rem; margin: .5rem 0; max-width: 40rem; }
.secret { font-family: monospace; font-size: 1.4rem; letter-spacing: .15rem; border: 2px dashed var(--ink); padding: .3rem .6rem; display: inline-block; }
.slip { max-width: 190mm; border: 1px solid var(--line); padding: 1rem 1.4rem; background: #fff; }
.slip .state { text-align: center; font-weight: bold; }
.slip .state span { display: block; font-weight: normal; text-decoration: underline; }
.slip h1, .slip h2 { text-align: center; text-transform: uppercase; font-size: 1.2rem; }
.slip .issuer { display: flex; justify-content: space-between; }
.muted { color: var(--muted); }
.refresh { color: var(--muted); }
.refresh button { margin: 0 0 0 .5rem; padding: .2rem .8rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: .5rem 0 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
@media (max-width: 480px) {
  main { padding: .75rem; }
  dl.facts { grid-template-columns: 1fr; gap: 0; }
  dl.facts dd { margin-bottom: .5rem; }
}
figure.qr { margin: .5rem 0; display: flex; gap: 1rem; align-items: center; }
figure.qr svg { width: 32mm; height: 32mm; flex: none; }
figure.qr figcaption { font-size: .85rem; overflow-wrap: anywhere; }
.slip.register { max-width: none; }
.slip.register table { font-size: .85rem; }
.noprint { }
@page landscape { size: A4 landscape; margin: 12mm; }
@media print {
  @page { size: A4; margin: 15mm; }
  .slip.register { page: landscape; }
  .slip.register table { font-size: 8.5pt; }
  .slip.register thead { display: table-header-group; }
  header.top, nav.main, .noprint, .actions { display: none !important; }
  main { padding: 0; }
  .slip { border: 0; padding: 0; max-width: none; }
  body { font-size: 13pt; }
}
"#;

/// Since 1 July 2025 a commune's desk is the "Trung tâm Phục vụ hành chính công xã"; before,
/// the "Bộ phận Một cửa" of the commune People's Committee.
pub fn desk_name(today: NaiveDate) -> &'static str {
    if today >= NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or(NaiveDate::MIN) {
        "Trung tâm Phục vụ hành chính công xã"
    } else {
        "Bộ phận Một cửa"
    }
}

pub fn role_vi(role: Role) -> &'static str {
    match role {
        Role::Reception => "Cán bộ tiếp nhận (Bộ phận Một cửa)",
        Role::Specialist => "Công chức chuyên môn",
        Role::Leader => "Lãnh đạo UBND xã",
        Role::Auditor => "Thanh tra / Kiểm tra",
        Role::Planner => "Cán bộ phụ trách cải cách hành chính",
        Role::Admin => "Quản trị hệ thống",
        Role::Citizen => "Công dân / Tổ chức",
    }
}

/// A role's name as recorded in the log (`Actor::role`), in Vietnamese.
pub fn role_vi_str(role: &str) -> &str {
    role.parse::<Role>().map(role_vi).unwrap_or(role)
}

pub fn state_vi(s: DossierState) -> &'static str {
    match s {
        DossierState::Submitted => "Mới nộp trực tuyến",
        DossierState::Received => "Mới tiếp nhận",
        DossierState::Refused => "Từ chối",
        DossierState::InProcessing => "Đang xử lý",
        DossierState::AwaitingSupplement => "Chờ bổ sung",
        DossierState::AtOtherAgency => "Chuyển liên thông",
        DossierState::AwaitingPayment => "Chờ thực hiện nghĩa vụ tài chính",
        DossierState::AwaitingApproval => "Chờ ký duyệt",
        DossierState::ResultReady => "Đã có kết quả",
        DossierState::Rejected => "Đã có kết quả (từ chối giải quyết)",
        DossierState::Returned => "Đã trả kết quả",
        DossierState::Withdrawn => "Đã rút",
        DossierState::Stopped => "Dừng xử lý",
        DossierState::NotReceived => "Hướng dẫn hoàn thiện (chưa tiếp nhận)",
    }
}

pub fn action_vi(a: Action) -> &'static str {
    match a {
        Action::SubmitOnline => "Nộp hồ sơ trực tuyến",
        Action::Receive => "Tiếp nhận",
        Action::GuideToComplete => "Hướng dẫn hoàn thiện",
        Action::RefuseToReceive => "Từ chối tiếp nhận",
        Action::Assign => "Phân công xử lý",
        Action::RequestSupplement => "Yêu cầu bổ sung",
        Action::RecordSupplement => "Ghi nhận đã bổ sung",
        Action::Forward => "Chuyển liên thông",
        Action::RecordAgencyAnswer => "Ghi nhận kết quả liên thông",
        Action::RequestPayment => "Yêu cầu thực hiện nghĩa vụ tài chính",
        Action::RecordPayment => "Ghi nhận đã thanh toán phí, lệ phí",
        Action::SubmitForSigning => "Trình ký",
        Action::Approve => "Ký duyệt",
        Action::SignRefusal => "Ký văn bản từ chối giải quyết",
        Action::SendBack => "Trả lại",
        Action::Apologise => "Xin lỗi và hẹn lại ngày trả kết quả",
        Action::HandOver => "Trả kết quả",
        Action::Withdraw => "Rút hồ sơ",
        Action::Stop => "Dừng xử lý",
        Action::AttachFile => "Đính kèm tệp",
    }
}

/// What an event of a dossier's timeline says, in Vietnamese.
pub fn event_vi(event_type: &str) -> &str {
    match event_type {
        "dossier.submitted_online" => "Nộp hồ sơ trực tuyến",
        "dossier.received" => "Tiếp nhận hồ sơ",
        "dossier.file_attached" => "Đính kèm tệp",
        "dossier.guided_to_complete" => "Hướng dẫn hoàn thiện hồ sơ",
        "dossier.refused_to_receive" => "Từ chối tiếp nhận",
        "dossier.assigned" => "Phân công xử lý",
        "dossier.supplement_requested" => "Yêu cầu bổ sung",
        "dossier.supplement_received" => "Đã bổ sung",
        "dossier.forwarded" => "Chuyển liên thông",
        "dossier.other_agency_answered" => "Cơ quan liên thông trả kết quả",
        "dossier.payment_requested" => "Yêu cầu thực hiện nghĩa vụ tài chính",
        "dossier.payment_recorded" => "Đã thanh toán phí, lệ phí",
        "dossier.submitted_for_signing" => "Trình ký",
        "dossier.approved" => "Ký duyệt",
        "dossier.refusal_signed" => "Ký văn bản từ chối giải quyết",
        "dossier.sent_back" => "Trả lại để xử lý lại",
        "dossier.apologised" => "Xin lỗi và hẹn lại ngày trả kết quả",
        "dossier.handed_over" => "Trả kết quả",
        "dossier.withdrawn" => "Rút hồ sơ",
        "dossier.stopped" => "Dừng xử lý",
        other => other,
    }
}

/// Money as people read it: `.` between thousands, then `đ` (`50.000 đ`).
pub fn money_vi(v: u64) -> String {
    format!("{} đ", crate::sheets::grouped(v))
}

/// A procedure's processing time as people read it ("3 ngày làm việc").
pub fn processing_time_vi(t: motcua_engine::domain::types::WorkingTime) -> String {
    use motcua_engine::domain::types::WorkingTime;
    match t {
        WorkingTime::WorkingDays(n) => format!("{n} ngày làm việc"),
        WorkingTime::OfficeHours(n) => format!("{n} giờ làm việc"),
        WorkingTime::CalendarDays(n) => format!("{n} ngày"),
    }
}

/// `dd/mm/yyyy` in the commune's time zone.
pub fn date_vi(t: Timestamp) -> String {
    local(t).format("%d/%m/%Y").to_string()
}

/// `HH:mm dd/mm/yyyy` in the commune's time zone.
pub fn datetime_vi(t: Timestamp) -> String {
    local(t).format("%H:%M %d/%m/%Y").to_string()
}

/// How a due time stands, as a word and a CSS class (colour is never the only carrier); the
/// window of "sắp đến hạn" is the unit's office hours (`app::desk::DUE_SOON_OFFICE_HOURS`).
pub fn timeliness(t: Timeliness) -> (&'static str, &'static str) {
    match t {
        Timeliness::Overdue => ("Quá hạn", "late"),
        Timeliness::DueSoon => ("Sắp đến hạn", "soon"),
        Timeliness::InTime => ("Trong hạn", "intime"),
    }
}

/// The navigation of a caller's roles: (path, words).
pub fn nav_items(caller: &Caller) -> Vec<(&'static str, &'static str)> {
    let mut items = Vec::new();
    if caller.has(Role::Reception) {
        items.push(("/desk", "Tiếp nhận hồ sơ"));
    }
    if caller.has(Role::Specialist) {
        items.push(("/worklist", "Hồ sơ cần xử lý"));
    }
    if caller.has(Role::Leader) {
        items.push(("/inbox", "Hồ sơ chờ ký duyệt"));
    }
    if [
        Role::Reception,
        Role::Specialist,
        Role::Leader,
        Role::Admin,
        Role::Auditor,
    ]
    .iter()
    .any(|r| caller.has(*r))
    {
        items.push(("/queue", "Hàng chờ theo lĩnh vực"));
        items.push(("/search", "Tra cứu hồ sơ"));
    }
    if [Role::Leader, Role::Auditor, Role::Admin, Role::Planner]
        .iter()
        .any(|r| caller.has(*r))
    {
        items.push(("/thong-ke", "Thống kê"));
    }
    if [Role::Leader, Role::Auditor, Role::Planner]
        .iter()
        .any(|r| caller.has(*r))
    {
        items.push(("/ke-hoach", "Kế hoạch CCHC"));
    }
    if caller.has(Role::Admin) {
        items.push(("/staff", "Cán bộ"));
        items.push(("/procedures", "Thủ tục hành chính"));
        items.push(("/calendar", "Lịch làm việc"));
        items.push(("/office-hours", "Giờ làm việc"));
        items.push(("/personal", "Dữ liệu cá nhân"));
    }
    if caller.has(Role::Auditor) || caller.has(Role::Admin) {
        items.push(("/audit", "Nhật ký đăng nhập"));
    }
    items.push(("/password", "Đổi mật khẩu"));
    items
}

/// Who is signed in, for the frame.
pub struct Frame<'a> {
    pub caller: &'a Caller,
    pub csrf: &'a str,
    pub unit_name: &'a str,
    pub today: NaiveDate,
}

/// A whole page: the frame around `body`.
pub fn page(title: &str, frame: Option<&Frame<'_>>, body: Markup) -> Markup {
    page_refreshing(title, frame, body, None)
}

/// How often a queue, work list or inbox reloads itself, so a colleague's action shows: by the
/// console's script (`/static/console.js`: held while a form is being filled, and the person
/// can stop it), or, without script, by a `meta refresh` inside `<noscript>`.
pub const LIST_REFRESH_SECONDS: u32 = 60;

/// A whole page that reloads itself every `refresh` seconds.
pub fn page_refreshing(
    title: &str,
    frame: Option<&Frame<'_>>,
    body: Markup,
    refresh: Option<u32>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="vi" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = refresh {
                    meta name="motcua-refresh" content=(seconds);
                    noscript { meta http-equiv="refresh" content=(seconds); }
                    script src="/static/console.js" defer {}
                }
                title { (title) " – motcua" }
                link rel="stylesheet" href="/static/console.css";
            }
            body {
                @if let Some(f) = frame {
                    header.top {
                        div.unit {
                            (f.unit_name) " – " (desk_name(f.today))
                        }
                        div.who {
                            (f.caller.staff.name) " · "
                            @for (i, r) in f.caller.staff.roles.iter().enumerate() {
                                @if i > 0 { ", " }
                                (role_vi(*r))
                            }
                        }
                    }
                    nav.main aria-label="Điều hướng chính" {
                        @for (href, words) in nav_items(f.caller) {
                            a href=(href) { (words) }
                        }
                        form method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(f.csrf);
                            button.secondary type="submit" { "Đăng xuất" }
                        }
                    }
                } @else {
                    header.top { div.unit { "motcua – Một cửa" } }
                }
                main { (body) }
            }
        }
    }
}

/// A message box: an error (red) or a confirmation (green).
pub fn message(error: bool, text: &str) -> Markup {
    html! {
        @if error {
            div.msg.error role="alert" { (text) }
        } @else {
            div.msg.ok role="status" { (text) }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

#[cfg(test)]
mod tests {
    use super::*;
    use motcua_engine::domain::calendar::at_local;

    #[test]
    fn words_dates_and_timeliness_are_vietnamese() {
        let t = at_local(2023, 3, 7, 14, 5).unwrap();
        assert_eq!(date_vi(t), "07/03/2023");
        assert_eq!(datetime_vi(t), "14:05 07/03/2023");
        assert_eq!(timeliness(Timeliness::DueSoon), ("Sắp đến hạn", "soon"));
        assert_eq!(timeliness(Timeliness::Overdue), ("Quá hạn", "late"));
        assert_eq!(timeliness(Timeliness::InTime), ("Trong hạn", "intime"));
        assert_eq!(
            desk_name(NaiveDate::from_ymd_opt(2025, 7, 1).unwrap()),
            "Trung tâm Phục vụ hành chính công xã"
        );
        assert_eq!(
            desk_name(NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()),
            "Bộ phận Một cửa"
        );
        for s in DossierState::ALL {
            assert!(!state_vi(s).is_empty());
        }
        assert_eq!(role_vi_str("leader"), "Lãnh đạo UBND xã");
    }
}
