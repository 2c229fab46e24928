//! Durable file writes, once: a file is written to `FILE.partial`, fsynced, renamed over
//! `FILE`, and the directory is fsynced, so after a crash `FILE` is the old file or the new
//! one, never half of one. The directory marker, the content store, the checkpoint key store
//! and checkpoints, the key backup and the archives of `motcua export`/`backup` all go through
//! here, so the sequence (and its error naming the path) is written once.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A file-system step of a durable write failed; `path` is the file or directory it touched.
#[derive(Debug, Error)]
#[error("{path}: {source}")]
pub struct DurableFileError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> DurableFileError + '_ {
    move |source| DurableFileError {
        path: path.to_path_buf(),
        source,
    }
}

/// `FILE.partial`: where `FILE` is written before it is complete.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// fsyncs a directory, so entries created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), DurableFileError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(at(dir))
}

/// fsyncs the directory holding `path` (the current directory for a bare file name).
pub fn sync_parent(path: &Path) -> Result<(), DurableFileError> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_dir(p),
        _ => sync_dir(Path::new(".")),
    }
}

/// Renames `from` to `to` (a file already synced) and makes the rename durable.
pub fn rename_durably(from: &Path, to: &Path) -> Result<(), DurableFileError> {
    std::fs::rename(from, to).map_err(at(to))?;
    sync_parent(to)
}

/// Writes `bytes` to `path` durably and atomically through [`partial_path`]. With `mode`
/// (Unix permission bits) the file is created with that mode and an existing partial file is
/// set to it, so a secret is never readable by others, not even half written. A failed write
/// removes the partial file.
pub fn write_durably(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), DurableFileError> {
    let partial = partial_path(path);
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(mode);
            let file = options.open(&partial).map_err(at(&partial))?;
            // `mode` applies only when the file is created: a leftover partial keeps its own.
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(mode))
                .map_err(at(&partial))?;
            return write_sync(file, &partial, bytes);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let file = options.open(&partial).map_err(at(&partial))?;
        write_sync(file, &partial, bytes)
    })()
    .and_then(|()| rename_durably(&partial, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn write_sync(mut file: File, path: &Path, bytes: &[u8]) -> Result<(), DurableFileError> {
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(at(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_write_replaces_the_file_and_leaves_no_partial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("current");
        write_durably(&path, b"one\n", None).unwrap();
        write_durably(&path, b"two\n", Some(0o600)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two\n");
        assert!(!partial_path(&path).exists());
        assert_eq!(partial_path(&path), dir.path().join("current.partial"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_write_into_a_missing_directory_fails_naming_the_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("f");
        let err = write_durably(&path, b"x", None).unwrap_err();
        assert_eq!(err.path, dir.path().join("nope").join("f.partial"));
    }
}
