//! A dossier's files as the domain knows them: what an attachment records ([`AttachedFile`]),
//! the accepted types decided by a file's first bytes ([`MediaType::sniff`], never by its
//! name), the cleaning of a file name ([`clean_file_name`]) and every size limit as a named
//! constant. The bytes themselves live outside the log (the server's content store); the
//! domain sees only their digest, size and type, so it stays free of I/O.

use serde::{Deserialize, Serialize};

/// The largest file one upload may carry (20 MiB): a scanned A4 page at 300 dpi is well under
/// 1 MiB, a scanned booklet under 20.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// The most files one dossier may hold: a checklist has under 30 documents, some of several
/// pages scanned apart.
pub const MAX_FILES_PER_DOSSIER: u32 = 60;
/// The most bytes one dossier's files may add up to (200 MiB).
pub const MAX_BYTES_PER_DOSSIER: u64 = 200 * 1024 * 1024;
/// The longest file name kept, in characters (longer names are cut).
pub const MAX_FILE_NAME_CHARS: usize = 120;
/// The name recorded when none is given or nothing of it survives cleaning.
pub const DEFAULT_FILE_NAME: &str = "tep";
/// How many first bytes [`MediaType::sniff`] needs at most.
pub const SNIFF_BYTES: usize = 8;

/// The file types a dossier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaType {
    Pdf,
    Jpeg,
    Png,
}

impl MediaType {
    /// The type the first bytes of a file announce (`%PDF-`, JPEG's `FF D8 FF`, PNG's
    /// signature), or `None`: a name's extension proves nothing.
    pub fn sniff(head: &[u8]) -> Option<MediaType> {
        const PNG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if head.starts_with(b"%PDF-") {
            Some(MediaType::Pdf)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(MediaType::Jpeg)
        } else if head.starts_with(&PNG) {
            Some(MediaType::Png)
        } else {
            None
        }
    }

    /// The MIME type a download is served with.
    pub fn as_mime(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
        }
    }
}

/// One file attached to a dossier: the content's SHA-256 (lower-case hex), its size, its
/// sniffed type, which checklist document it is, and its cleaned name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedFile {
    pub sha256: String,
    pub size: u64,
    pub media_type: MediaType,
    pub document: String,
    pub file_name: String,
}

/// Whether `s` is a SHA-256 as files are named: 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A file name as it may be recorded and sent back in `Content-Disposition`: its last path
/// component only, no control characters, no quotes or separators, spaces trimmed, at most
/// [`MAX_FILE_NAME_CHARS`] characters; [`DEFAULT_FILE_NAME`] if nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';' | ':' | '*' | '?' | '<' | '>' | '|'))
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let trimmed = kept.trim().trim_start_matches('.');
    if trimmed.is_empty() {
        DEFAULT_FILE_NAME.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Whether `name` is what [`clean_file_name`] leaves (a recorded name must be).
pub fn is_clean_file_name(name: &str) -> bool {
    clean_file_name(name) == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_decided_by_bytes() {
        assert_eq!(MediaType::sniff(b"%PDF-1.7\n"), Some(MediaType::Pdf));
        assert_eq!(
            MediaType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(MediaType::Jpeg)
        );
        assert_eq!(
            MediaType::sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some(MediaType::Png)
        );
        assert_eq!(MediaType::sniff(b"MZ\x90\x00"), None);
        assert_eq!(MediaType::sniff(b"%PD"), None);
        assert_eq!(MediaType::sniff(b""), None);
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\scan\\đơn xin.pdf"), "đơn xin.pdf");
        assert_eq!(clean_file_name("a\r\nb\"c.pdf"), "abc.pdf");
        assert_eq!(clean_file_name("  .hidden "), "hidden");
        assert_eq!(clean_file_name("///"), DEFAULT_FILE_NAME);
        assert_eq!(
            clean_file_name(&"x".repeat(500)).chars().count(),
            MAX_FILE_NAME_CHARS
        );
        assert!(is_clean_file_name("giấy khai sinh.pdf"));
        assert!(!is_clean_file_name("a/b"));
    }

    #[test]
    fn digests_are_lower_hex() {
        assert!(is_sha256_hex(&"ab".repeat(32)));
        assert!(!is_sha256_hex(&"AB".repeat(32)));
        assert!(!is_sha256_hex("abc"));
    }
}
