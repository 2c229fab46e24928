//! motcua engine: the append-only event log on sled, the one-stop desk domain as pure
//! decisions, and the projections folded from the log.
//!
//! Layering (see ARCHITECTURE.md): `codec` and `storage` are the only modules that touch
//! bincode and sled; `log` knows envelopes and bytes, never dossiers; `domain` is pure (no sled,
//! no tokio); `recorded` turns the log's envelopes into the domain's events and `streams` names
//! the streams (both between log and domain); `service` and `plan_service` glue commands to
//! the log (with `retry`'s one bounded retry loop and `idempotency`'s one key scheme);
//! `projection` folds events into read models; `reference_files` reads rule and workflow files
//! from a directory (the domain only parses their text); `durable_file` is the one
//! partial-file, fsync, rename, fsync-the-directory sequence and `hex_digits` the one parse of
//! hex-written keys and hashes.

pub mod codec;
pub mod content;
pub mod domain;
pub mod durable_file;
pub mod hex_digits;
pub mod idempotency;
pub mod log;
pub mod personal;
pub mod plan_service;
pub mod projection;
pub mod rating_service;
pub mod recorded;
pub mod reference_files;
pub mod retry;
pub mod service;
pub mod storage;
pub mod streams;
