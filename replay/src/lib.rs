//! motcua-replay: the auditor's read-only tool. Reads an archive (or a copy of a data
//! directory), verifies every hash link and every transition, and recomputes the desk's figures,
//! queues and dossier histories by folding the log with the same code the server uses.
//!
//! The archive format ([`archive`]) lives here so that the server's `export` / `backup` write
//! exactly what this tool reads.

pub mod archive;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod diff;
pub mod domain_check;
pub mod files;
pub mod history;
pub mod output;
pub mod plan;
pub mod progress;
pub mod replay;
pub mod source;
pub mod verify;
