//! The public catalog (niêm yết công khai) against the real server, signed out: every procedure
//! the unit publishes today with its field, processing time, fees and documents; a search by part
//! of a name without diacritics or by a code; a procedure unpublished from today disappears.

mod http_common;

use http_common::commune;
use serde_json::json;

async fn page(s: &http_common::TestServer, path: &str) -> (u16, String) {
    let r = s.client.get(s.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizens_read_the_published_catalog_without_signing_in() {
    let (s, t) = commune().await;
    let (status, all) = page(&s, "/thu-tuc").await;
    assert_eq!(status, 200, "{all}");
    let count = all.matches("<summary>").count();
    assert!(count >= 10, "{count} procedures: {all}");
    assert!(
        all.contains(&format!("công khai {count} thủ tục hành chính.")),
        "{all}"
    );
    assert!(all.contains("Đăng ký khai sinh (1.001193)"));
    assert!(all.contains("Thời hạn giải quyết") && all.contains("Thành phần hồ sơ"));

    let (_, some) = page(&s, "/thu-tuc?q=KHAI+SINH").await;
    assert!(some.contains("Đăng ký khai sinh (1.001193)"), "{some}");
    assert!(some.matches("<summary>").count() < count);
    let (_, one) = page(&s, "/thu-tuc?q=1.001193").await;
    assert_eq!(one.matches("<summary>").count(), 1, "{one}");
    let (_, none) = page(&s, "/thu-tuc?q=%3Cscript%3E").await;
    assert!(none.contains("Không có thủ tục nào khớp"), "{none}");
    assert!(!none.contains("<script>"));
    let (status, _) = page(&s, "/thu-tuc?don-vi=000.99.99.H99").await;
    assert_eq!(status, 404);

    // Unpublished from today: gone from the page.
    let today = motcua_engine::domain::calendar::local_date(
        motcua_engine::domain::types::Timestamp::from_utc(chrono::Utc::now()),
    );
    let r = s
        .post("/v1/procedures/1.001193/publications", &t["qt-01"])
        .json(&json!({"at_desk": false, "online": false, "effective": today}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (_, after) = page(&s, "/thu-tuc").await;
    assert_eq!(after.matches("<summary>").count(), count - 1);
    assert!(!after.contains("(1.001193)"));
}
