//! Rule sets and workflows read from a directory: the file I/O the domain does not do. The
//! domain parses text (`RuleSets::from_files`, `Workflows::from_files`) and ships its own
//! files embedded at build time; this module reads every `*.toml` of a directory, sorted by
//! name, and hands the texts over with their paths (so a parse error names the file).
//!
//! Who uses it: an operator's or a test's own rule or workflow files (a test changes a rule in
//! a test-only workflow file and shows `motcua-replay verify`'s verdict follows).

use std::path::Path;

use thiserror::Error;

use crate::domain::rules::{RuleSetError, RuleSets};
use crate::domain::workflow::{WorkflowError, Workflows};

/// Why a directory of reference files could not be loaded.
#[derive(Debug, Error)]
pub enum ReferenceFilesError {
    #[error("reading {path}: {detail}")]
    Io { path: String, detail: String },
    #[error(transparent)]
    Rules(#[from] RuleSetError),
    #[error(transparent)]
    Workflows(#[from] WorkflowError),
}

/// The rule sets of every `*.toml` file in `dir`.
pub fn load_rule_sets(dir: &Path) -> Result<RuleSets, ReferenceFilesError> {
    let files = read_toml_dir(dir)?;
    Ok(RuleSets::from_files(
        files.iter().map(|(f, t)| (f.as_str(), t.as_str())),
    )?)
}

/// The workflows of every `*.toml` file in `dir`.
pub fn load_workflows(dir: &Path) -> Result<Workflows, ReferenceFilesError> {
    Ok(Workflows::from_files(&read_toml_dir(dir)?)?)
}

/// Every `*.toml` file of `dir`, sorted by name: (file path, contents).
fn read_toml_dir(dir: &Path) -> Result<Vec<(String, String)>, ReferenceFilesError> {
    let io = |path: &Path, e: std::io::Error| ReferenceFilesError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let p = entry.map_err(|e| io(dir, e))?.path();
        if p.extension().is_some_and(|x| x == "toml") {
            paths.push(p);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| io(&p, e))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::BUILTIN as RULES;
    use crate::domain::workflow::{WorkflowErrorKind, BUILTIN as WORKFLOWS};

    #[test]
    fn a_directory_of_the_shipped_files_loads_as_the_builtin_ones() {
        let dir = tempfile::tempdir().unwrap();
        for (f, t) in RULES {
            std::fs::write(dir.path().join(f), t).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not a rule set").unwrap();
        assert_eq!(
            load_rule_sets(dir.path()).unwrap(),
            RuleSets::builtin().unwrap()
        );

        let dir = tempfile::tempdir().unwrap();
        for (f, t) in WORKFLOWS {
            std::fs::write(dir.path().join(f), t).unwrap();
        }
        assert_eq!(
            load_workflows(dir.path()).unwrap(),
            Workflows::builtin().unwrap()
        );
        std::fs::write(dir.path().join("bad.toml"), "id = \"bad\"\nname = \"x\"\n").unwrap();
        match load_workflows(dir.path()).unwrap_err() {
            ReferenceFilesError::Workflows(e) => {
                assert!(e.file.ends_with("bad.toml"), "{e}");
                assert_eq!(e.kind, WorkflowErrorKind::NoTerminalState);
            }
            other => panic!("expected a workflow error, got {other}"),
        }
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = load_rule_sets(&missing).unwrap_err();
        assert!(
            matches!(&e, ReferenceFilesError::Io { path, .. } if path.ends_with("nope")),
            "{e}"
        );
    }
}
