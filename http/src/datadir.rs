//! What the `motcua` command tells an operator when a data directory cannot be opened because
//! of what is in it (damaged, foreign, not a directory, unreadable), as opposed to a transient
//! failure: one line naming the directory and the problem, and the way out.

use std::path::Path;

use motcua_engine::log::{EventLog, LogConfig, LogError};
use motcua_engine::storage::{DataDirKind, SLED_DATA_FILE};

/// The restore hint shown for damaged and foreign directories.
pub const RESTORE_HINT: &str = "If this directory holds motcua data that was damaged, restore it \
     from a backup: motcua restore --from BACKUP.archive --data NEW_DIR";

/// The operator's message for a failed open of `dir`, or `None` if `err` is not about the
/// directory's contents (a locked directory, an I/O error: retrying may help).
pub fn open_error_message(dir: &Path, err: &LogError) -> Option<String> {
    let kind = err.data_dir_problem()?;
    let problem = match err {
        LogError::DataDir { problem, .. } => problem.to_string(),
        other => format!("damaged: {other}"),
    };
    let hint = match kind {
        DataDirKind::Damaged | DataDirKind::Foreign => RESTORE_HINT,
        DataDirKind::NotADirectory => {
            "Give --data a directory: a missing or empty one starts a new log"
        }
        DataDirKind::Unreadable => "Check the directory's owner and permissions",
    };
    Some(format!(
        "cannot open data directory {}: {problem}. {hint}",
        dir.display()
    ))
}

/// Like [`open_error_message`], falling back to `fallback` followed by the error itself.
pub fn describe_open_error(dir: &Path, err: &LogError, fallback: &str) -> String {
    open_error_message(dir, err).unwrap_or_else(|| format!("{fallback}: {err}"))
}

/// What [`open_stopped`] does with a directory that holds no event log yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoLogYet {
    /// Refuse it: opening would create an empty log there (export, checkpoint, key commands).
    Refuse,
    /// Start a new log there (`motcua staff add` sets up a new data directory).
    Create,
}

/// Opens the event log of a stopped server's data directory, for the one-shot subcommands
/// (`export`, `checkpoint sign`, `staff add`, `staff password`, `keys ...`): sled lets one
/// process hold a directory, so a running server's directory is refused with the way out
/// (stop it, or `alternative`, e.g. the route that does the same on a running server).
pub fn open_stopped(
    data: &Path,
    no_log: NoLogYet,
    alternative: Option<&str>,
) -> Result<EventLog, String> {
    if no_log == NoLogYet::Refuse && !data.join(SLED_DATA_FILE).is_file() {
        return Err(format!(
            "no data directory at {}: not a motcua data directory (no event log there; start \
             `motcua serve --data DIR` once)",
            data.display()
        ));
    }
    EventLog::open(data, LogConfig::default()).map_err(|e| {
        let or = alternative.map(|a| format!(", or {a}")).unwrap_or_default();
        let fallback = format!(
            "cannot open {} (is the server running? stop it first{or})",
            data.display()
        );
        describe_open_error(data, &e, &fallback)
    })
}

/// Keeps the panic message of a damaged database off the terminal: the engine catches sled's
/// panics while it opens a data directory and returns them as a `Damaged` error, which the
/// command prints in one line. Any other panic still goes to the previous hook. Binaries only:
/// the hook is process-global.
pub fn quiet_open_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !motcua_engine::storage::opening_data_dir() {
            previous(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use motcua_engine::storage::DataDirProblem;

    #[test]
    fn damaged_and_foreign_point_to_restore_transient_errors_do_not() {
        let dir = Path::new("/srv/motcua");
        let err = LogError::DataDir {
            path: dir.to_path_buf(),
            problem: DataDirProblem::Damaged("sled's data file `db` is empty (truncated)".into()),
        };
        assert_eq!(
            open_error_message(dir, &err).unwrap(),
            "cannot open data directory /srv/motcua: damaged: sled's data file `db` is empty \
             (truncated). If this directory holds motcua data that was damaged, restore it from \
             a backup: motcua restore --from BACKUP.archive --data NEW_DIR"
        );
        let err = LogError::CorruptMeta("no head record".into());
        assert!(open_error_message(dir, &err)
            .unwrap()
            .ends_with("corrupt log metadata: no head record. If this directory holds motcua data that was damaged, restore it from a backup: motcua restore --from BACKUP.archive --data NEW_DIR"));
        let err = LogError::Closed;
        assert_eq!(open_error_message(dir, &err), None);
        assert_eq!(
            describe_open_error(dir, &err, "cannot open /srv/motcua"),
            "cannot open /srv/motcua: the log is closed"
        );
    }
}
