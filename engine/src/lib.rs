//! motcua engine: the append-only event log on sled, the one-stop desk domain as pure
//! decisions, and the projections folded from the log.
//!
//! Layering (see ARCHITECTURE.md): `codec` and `storage` are the only modules that touch
//! bincode and sled; `log` knows envelopes and bytes, never dossiers; `domain` is pure (no sled,
//! no tokio); `service` glues a command to the log; `projection` folds events into read models.

pub mod codec;
pub mod domain;
pub mod log;
pub mod plan_service;
pub mod projection;
pub mod service;
pub mod storage;
