//! The demo commune's reference data: the unit (Dương Phong, Bạch Thông, Bắc Kạn), its fields,
//! staff of every role, and a catalog of real commune-level procedures with their documents,
//! fees and legal processing times.
//!
//! Unit code: `000.33.22.H05` is a code in the national V1V2V3.Z1Z2.Y1Y2.MX1X2 format chosen for
//! the demo; it is not claimed to be the commune's official code. Procedure codes follow the
//! national catalogue's `x.00xxxx` style; documents, fees and times are those commonly published
//! for commune level (Luật Hộ tịch 2014, Nghị định 123/2015, Nghị định 23/2015, Luật Đất đai
//! 2013, Nghị định 20/2021, Nghị định 122/2018), simplified for the demo.

use motcua_engine::domain::events::{Fee, FieldInfo, Level, Procedure, RequiredDocument, UnitInfo};
use motcua_engine::domain::types::{Role, Staff, Vnd, WorkingTime};

pub const UNIT: &str = "000.33.22.H05";
pub const PARENT: &str = "UBND huyện Bạch Thông, tỉnh Bắc Kạn (000.00.22.H05)";
/// The district agency that answers liên thông hand-offs.
pub const DISTRICT_AGENCY: &str = "Chi nhánh Văn phòng đăng ký đất đai huyện Bạch Thông";
pub const DISTRICT_LABOUR: &str = "Phòng Lao động - Thương binh và Xã hội huyện Bạch Thông";

fn parse<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    // The demo's literals are checked by the demo's tests; a typo fails them loudly.
    match s.parse() {
        Ok(v) => v,
        Err(e) => panic!("demo literal {s:?}: {e:?}"),
    }
}

pub fn unit() -> UnitInfo {
    let f = |code: &str, name: &str| FieldInfo {
        field: parse(code),
        name: name.into(),
    };
    UnitInfo {
        code: parse(UNIT),
        name: "UBND xã Dương Phong".into(),
        parent: PARENT.into(),
        fields: vec![
            f("ho-tich", "Hộ tịch"),
            f("chung-thuc", "Chứng thực"),
            f("dat-dai", "Đất đai"),
            f("bao-tro-xa-hoi", "Bảo trợ xã hội"),
            f("van-hoa", "Văn hoá cơ sở"),
        ],
    }
}

/// Demo staff: (id, name, roles, fields).
pub fn staff() -> Vec<Staff> {
    let s = |id: &str, name: &str, roles: &[Role], fields: &[&str]| Staff {
        id: parse(id),
        name: name.into(),
        unit: parse(UNIT),
        roles: roles.to_vec(),
        fields: fields.iter().map(|f| parse(f)).collect(),
        active: true,
    };
    vec![
        s("qt-01", "Nông Văn Quý", &[Role::Admin], &[]),
        s("tn-01", "Hoàng Thị Hoa", &[Role::Reception], &[]),
        s("tn-02", "Lý Thị Thu", &[Role::Reception], &[]),
        s(
            "cm-tp-01",
            "Triệu Văn Dũng",
            &[Role::Specialist],
            &["ho-tich", "chung-thuc"],
        ),
        s(
            "cm-tp-02",
            "Nông Thị Nga",
            &[Role::Specialist],
            &["ho-tich", "chung-thuc"],
        ),
        s("cm-dc-01", "Ma Văn Sơn", &[Role::Specialist], &["dat-dai"]),
        s(
            "cm-vh-01",
            "Hà Thị Lan",
            &[Role::Specialist],
            &["bao-tro-xa-hoi", "van-hoa"],
        ),
        s("ld-01", "Lương Văn Thành", &[Role::Leader], &[]),
        s("ld-02", "Hoàng Văn Minh", &[Role::Leader], &[]),
        s("tt-01", "Đinh Thị Ngọc", &[Role::Auditor], &[]),
        s("kh-01", "Bế Thị Hạnh", &[Role::Planner], &[]),
        s(
            "cong-dvc",
            "Cổng Dịch vụ công (tài khoản công dân)",
            &[Role::Citizen],
            &[],
        ),
    ]
}

/// A catalog entry and how many desk dossiers of it the demo history holds.
pub struct ProcDef {
    pub procedure: Procedure,
    pub desk_dossiers: usize,
}

fn doc(name: &str, originals: u8, copies: u8) -> RequiredDocument {
    RequiredDocument {
        name: name.into(),
        originals,
        copies,
    }
}

#[allow(clippy::too_many_arguments)]
fn proc(
    id: &str,
    name: &str,
    field: &str,
    level: Level,
    workflow: &str,
    time: WorkingTime,
    fee: Option<(&str, u64)>,
    documents: Vec<RequiredDocument>,
    forms: &[&str],
    legal: &str,
    desk_dossiers: usize,
) -> ProcDef {
    ProcDef {
        procedure: Procedure {
            id: parse(id),
            version: 1,
            name: name.into(),
            field: parse(field),
            level,
            documents,
            forms: forms.iter().map(|f| (*f).to_owned()).collect(),
            processing_time: time,
            fees: fee
                .map(|(n, a)| {
                    vec![Fee {
                        name: n.into(),
                        amount: Vnd(a),
                    }]
                })
                .unwrap_or_default(),
            workflow: parse(workflow),
            legal_basis: legal.into(),
        },
        desk_dossiers,
    }
}

/// Id of the online electronic-copy certification (the report's 187 line).
pub const ECOPY: &str = "2.001035";

/// The catalog. Desk dossier counts add up to 342.
pub fn catalog() -> Vec<ProcDef> {
    use Level::{Commune, InterLevel};
    use WorkingTime::{CalendarDays, WorkingDays};
    vec![
        proc(
            "1.001193",
            "Đăng ký khai sinh",
            "ho-tich",
            Commune,
            "standard",
            WorkingDays(1),
            None,
            vec![
                doc("Tờ khai đăng ký khai sinh", 1, 0),
                doc("Giấy chứng sinh", 1, 0),
            ],
            &["Tờ khai đăng ký khai sinh (TT 04/2020/TT-BTP)"],
            "Luật Hộ tịch 2014; Nghị định 123/2015/NĐ-CP",
            60,
        ),
        proc(
            "1.000656",
            "Đăng ký khai tử",
            "ho-tich",
            Commune,
            "standard",
            WorkingDays(1),
            None,
            vec![
                doc("Tờ khai đăng ký khai tử", 1, 0),
                doc("Giấy báo tử hoặc giấy tờ thay thế", 1, 0),
            ],
            &["Tờ khai đăng ký khai tử"],
            "Luật Hộ tịch 2014; Nghị định 123/2015/NĐ-CP",
            18,
        ),
        proc(
            "1.000894",
            "Đăng ký kết hôn",
            "ho-tich",
            Commune,
            "standard",
            WorkingDays(5),
            None,
            vec![
                doc("Tờ khai đăng ký kết hôn", 1, 0),
                doc(
                    "Giấy xác nhận tình trạng hôn nhân (nếu đăng ký tại nơi khác nơi cư trú)",
                    1,
                    0,
                ),
            ],
            &["Tờ khai đăng ký kết hôn"],
            "Luật Hộ tịch 2014; Luật Hôn nhân và gia đình 2014",
            22,
        ),
        proc(
            "1.004873",
            "Cấp Giấy xác nhận tình trạng hôn nhân",
            "ho-tich",
            Commune,
            "standard",
            WorkingDays(3),
            Some(("Lệ phí cấp Giấy xác nhận tình trạng hôn nhân", 3_000)),
            vec![doc("Tờ khai cấp Giấy xác nhận tình trạng hôn nhân", 1, 0)],
            &["Tờ khai cấp Giấy xác nhận tình trạng hôn nhân"],
            "Luật Hộ tịch 2014; Nghị định 123/2015/NĐ-CP",
            30,
        ),
        proc(
            "1.004859",
            "Đăng ký thay đổi, cải chính, bổ sung thông tin hộ tịch",
            "ho-tich",
            Commune,
            "standard",
            WorkingDays(3),
            Some(("Lệ phí thay đổi, cải chính hộ tịch", 15_000)),
            vec![
                doc(
                    "Tờ khai đăng ký thay đổi, cải chính, bổ sung thông tin hộ tịch",
                    1,
                    0,
                ),
                doc("Giấy tờ làm căn cứ cải chính", 0, 1),
            ],
            &["Tờ khai thay đổi, cải chính, bổ sung thông tin hộ tịch"],
            "Luật Hộ tịch 2014",
            8,
        ),
        proc(
            "2.000815",
            "Chứng thực bản sao từ bản chính giấy tờ, văn bản",
            "chung-thuc",
            Commune,
            "same-day",
            WorkingDays(0),
            Some(("Phí chứng thực bản sao (2.000 đ/trang)", 2_000)),
            vec![
                doc("Bản chính giấy tờ, văn bản", 1, 0),
                doc("Bản sao cần chứng thực", 0, 1),
            ],
            &[],
            "Nghị định 23/2015/NĐ-CP, Điều 7 và 20",
            90,
        ),
        proc(
            "2.000884",
            "Chứng thực chữ ký trong các giấy tờ, văn bản",
            "chung-thuc",
            Commune,
            "same-day",
            WorkingDays(0),
            Some(("Phí chứng thực chữ ký", 10_000)),
            vec![
                doc("Giấy tờ tuỳ thân", 1, 0),
                doc("Giấy tờ, văn bản cần chứng thực chữ ký", 1, 0),
            ],
            &[],
            "Nghị định 23/2015/NĐ-CP, Điều 24",
            50,
        ),
        proc(
            ECOPY,
            "Chứng thực bản sao điện tử từ bản chính (trực tuyến)",
            "chung-thuc",
            Commune,
            "same-day",
            WorkingDays(0),
            Some(("Phí chứng thực bản sao điện tử (2.000 đ/trang)", 2_000)),
            vec![
                doc("Bản chính giấy tờ (xuất trình khi nhận kết quả)", 1, 0),
                doc("Bản chụp điện tử", 0, 1),
            ],
            &[],
            "Nghị định 23/2015/NĐ-CP; Nghị định 45/2020/NĐ-CP",
            0,
        ),
        proc(
            "2.001044",
            "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản",
            "chung-thuc",
            Commune,
            "standard",
            WorkingDays(2),
            Some(("Phí chứng thực hợp đồng", 50_000)),
            vec![
                doc("Dự thảo hợp đồng, giao dịch", 1, 0),
                doc("Giấy tờ tuỳ thân của người yêu cầu", 0, 1),
                doc("Giấy tờ về tài sản", 0, 1),
            ],
            &[],
            "Nghị định 23/2015/NĐ-CP, Điều 36",
            10,
        ),
        proc(
            "1.003554",
            "Hòa giải tranh chấp đất đai",
            "dat-dai",
            Commune,
            "standard",
            CalendarDays(45),
            None,
            vec![doc("Đơn đề nghị hòa giải tranh chấp đất đai", 1, 0)],
            &["Đơn đề nghị hòa giải"],
            "Luật Đất đai 2013, Điều 202; Nghị định 43/2014/NĐ-CP",
            4,
        ),
        proc(
            "1.004227",
            "Đăng ký đất đai, tài sản gắn liền với đất lần đầu",
            "dat-dai",
            InterLevel,
            "lien-thong",
            WorkingDays(20),
            Some(("Lệ phí cấp Giấy chứng nhận", 25_000)),
            vec![
                doc(
                    "Đơn đăng ký đất đai, tài sản gắn liền với đất (Mẫu 04a/ĐK)",
                    1,
                    0,
                ),
                doc("Giấy tờ về quyền sử dụng đất", 0, 1),
            ],
            &["Mẫu số 04a/ĐK"],
            "Luật Đất đai 2013; Nghị định 43/2014/NĐ-CP; Thông tư 24/2014/TT-BTNMT",
            16,
        ),
        proc(
            "1.001776",
            "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hàng tháng",
            "bao-tro-xa-hoi",
            InterLevel,
            "lien-thong",
            WorkingDays(20),
            None,
            vec![
                doc("Tờ khai đề nghị trợ giúp xã hội (Mẫu 1a)", 1, 0),
                doc("Giấy xác nhận khuyết tật (nếu có)", 0, 1),
            ],
            &["Mẫu số 1a, Nghị định 20/2021/NĐ-CP"],
            "Nghị định 20/2021/NĐ-CP",
            18,
        ),
        proc(
            "1.001758",
            "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội",
            "bao-tro-xa-hoi",
            InterLevel,
            "lien-thong",
            WorkingDays(5),
            None,
            vec![
                doc("Tờ khai đề nghị hỗ trợ chi phí mai táng (Mẫu 04)", 1, 0),
                doc("Giấy báo tử", 0, 1),
            ],
            &["Mẫu số 04, Nghị định 20/2021/NĐ-CP"],
            "Nghị định 20/2021/NĐ-CP, Điều 11",
            6,
        ),
        proc(
            "1.000954",
            "Xét tặng danh hiệu Gia đình văn hoá hằng năm",
            "van-hoa",
            Commune,
            "standard",
            WorkingDays(5),
            None,
            vec![
                doc("Bản đăng ký tham gia xây dựng Gia đình văn hoá", 1, 0),
                doc("Biên bản họp bình xét của thôn", 1, 0),
            ],
            &[],
            "Nghị định 122/2018/NĐ-CP",
            6,
        ),
        proc(
            "1.001028",
            "Thông báo tổ chức lễ hội cấp xã",
            "van-hoa",
            Commune,
            "standard",
            WorkingDays(5),
            None,
            vec![doc("Văn bản thông báo tổ chức lễ hội", 1, 0)],
            &[],
            "Nghị định 110/2018/NĐ-CP",
            4,
        ),
    ]
}
