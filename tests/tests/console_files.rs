//! A dossier's files on the console (`docs/files.md`): the page lists them with download
//! links; the desk attaches a scan with the page's own `multipart/form-data` form (sent as a
//! browser sends it), the CSRF token checked first; a refusal is a page saying why, and keeps
//! nothing; a leader sees the files but no form.

mod console_common;
mod http_common;

use console_common::{signed_in, Browser};
use http_common::commune;
use sha2::{Digest, Sha256};

const BOUNDARY: &str = "----motcuaformboundary7MA4YWxkTrZu0gW";

/// The body a browser sends for the page's form: the token, the document, then the file.
fn multipart(csrf: &str, document: &str, file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, value) in [("csrf", csrf), ("document", document)] {
        b.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .into_bytes(),
        );
    }
    b.extend(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .into_bytes(),
    );
    b.extend_from_slice(bytes);
    b.extend(format!("\r\n--{BOUNDARY}--\r\n").into_bytes());
    b
}

/// Sends `body` as the form's post, with the browser's cookies: (status, location, body).
async fn send(b: &Browser, path: &str, body: Vec<u8>) -> (u16, String, String) {
    let cookies = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{path}", b.base))
        .header("cookie", cookies)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, location, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_attaches_a_scan_from_the_dossier_page_and_downloads_it() {
    let (s, t) = commune().await;
    let code = s.receive(&t["tn-01"], "1.001193").await;
    let pdf = b"%PDF-1.4\n% giay chung sinh\n%%EOF\n".to_vec();
    let sha = hex::encode(Sha256::digest(&pdf));

    let mut b = signed_in(&s, "tn-01").await;
    let page = b.get(&format!("/dossiers/{code}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Tệp đính kèm"), "{}", page.body);
    assert!(page.body.contains("Hồ sơ chưa có tệp nào."));
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    assert!(page
        .body
        .contains("<option value=\"2\">Giấy chứng sinh</option>"));
    let csrf = page.hidden("csrf");
    let path = format!("/dossiers/{code}/files");
    let head = s.head();

    // A forged form: refused before anything is read, nothing written.
    let (status, _, _) = send(&b, &path, multipart("forged", "2", "x.pdf", &pdf)).await;
    assert_eq!(status, 403);
    // Bytes of no accepted type: the page says why; nothing kept.
    let (status, _, body) = send(&b, &path, multipart(&csrf, "2", "x.pdf", b"GIF89a....")).await;
    assert_eq!(status, 415);
    assert!(body.contains("Hồ sơ "), "{body}");
    assert_eq!(s.head(), head);
    assert!(!s.dir.join("files").join(&sha[..2]).exists());

    // The scan: back to the page, which lists it; the timeline says what was attached.
    let (status, location, _) = send(
        &b,
        &path,
        multipart(&csrf, "2", "giấy chứng sinh.pdf", &pdf),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/dossiers/{code}").as_str())
    );
    assert_eq!(s.head(), head + 1);
    let page = b.get(&format!("/dossiers/{code}")).await;
    let link = format!("href=\"/dossiers/{code}/files/{sha}\"");
    assert!(page.body.contains(&link), "{}", page.body);
    assert!(page.body.contains("giấy chứng sinh.pdf"));
    assert!(page.body.contains("Đính kèm tệp"));

    // The link downloads the same bytes.
    let cookies = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let r = reqwest::Client::new()
        .get(format!("{}/dossiers/{code}/files/{sha}", b.base))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);

    // A scan larger than the server's 1 MiB form limit: the route's own limit admits it.
    let mut big = pdf.clone();
    big.resize(3 * 1024 * 1024, b'%');
    let (status, _, body) = send(&b, &path, multipart(&csrf, "1", "to-khai.pdf", &big)).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(s.head(), head + 2);

    // A leader reads the list, without the form.
    let mut leader = signed_in(&s, "ld-01").await;
    let page = leader.get(&format!("/dossiers/{code}")).await;
    assert!(page.body.contains(&link));
    assert!(!page.body.contains("enctype=\"multipart/form-data\""));
}
