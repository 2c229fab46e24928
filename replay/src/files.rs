//! `verify`'s file layer, for a data directory (`docs/files.md`): every file an event names
//! (`dossier.file_attached`) is in the directory's content store and hashes to the SHA-256 and
//! size the event recorded. Read only: the files are opened in the original directory, never
//! written. A missing file is `file_missing`, another content `file_altered`, each at the seq
//! of every event naming it, with the dossier's code. An archive does not carry files yet, so
//! this layer runs for a data directory only.

use std::collections::HashMap;
use std::path::Path;

use motcua_engine::content::{ContentStore, FileCheck, FileReference};
use motcua_engine::log::StreamId;

use crate::verify::Finding;

/// The findings of the files `refs` name, in the content store of `data_dir`; each distinct
/// file is read once.
pub fn check_files(data_dir: &Path, refs: &[FileReference]) -> Vec<Finding> {
    let store = ContentStore::new(data_dir);
    let mut seen: HashMap<(&str, u64), Result<FileCheck, String>> = HashMap::new();
    let mut findings = Vec::new();
    for r in refs {
        let f = &r.file;
        let check = seen
            .entry((f.sha256.as_str(), f.size))
            .or_insert_with(|| store.check(&f.sha256, f.size).map_err(|e| e.to_string()));
        let stream = StreamId::dossier(&r.code);
        let what = format!(
            "dossier {}: file {} ({}, {} bytes, document \"{}\")",
            r.code, f.sha256, f.file_name, f.size, f.document
        );
        let finding = match check {
            Ok(FileCheck::Present) => continue,
            Ok(FileCheck::Missing) => ("file_missing", format!("{what} is missing")),
            Ok(FileCheck::Altered { sha256, size }) => (
                "file_altered",
                format!("{what} now holds {size} bytes hashing to {sha256}"),
            ),
            Err(e) => ("file_missing", format!("{what} cannot be read: {e}")),
        };
        findings.push(Finding::new(
            r.seq,
            Some(stream.as_str()),
            finding.0,
            finding.1,
        ));
    }
    findings
}
