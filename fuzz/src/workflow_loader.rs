//! `workflow_loader`: arbitrary UTF-8 through [`Workflow::from_toml`], the loader of the
//! workflow files an operator edits (`engine/workflows/*.toml`).
//!
//! Property: the loader never panics, and every error names the file it was given and a line
//! that exists in the input (1-based, at most one past the last newline).

use motcua_engine::domain::workflow::{Workflow, WorkflowError};

/// The file name passed to the loader; errors must carry it back.
pub const FILE: &str = "fuzz.toml";

/// Loads `text`; panics if an error points outside the input or at another file.
pub fn check(text: &str) -> Result<Workflow, WorkflowError> {
    let result = Workflow::from_toml(FILE, text);
    if let Err(e) = &result {
        let lines = text.bytes().filter(|b| *b == b'\n').count() + 1;
        assert_eq!(e.file, FILE, "error names another file: {e}");
        assert!(
            (1..=lines).contains(&e.line),
            "error line {} outside 1..={lines}: {e}",
            e.line
        );
        // Errors are shown to the operator: formatting them must not panic either.
        let _ = e.to_string();
    }
    result
}
