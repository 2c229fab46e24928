//! The application layer: what the server (and the console and portal to come) can ask of
//! motcua, as typed commands and queries over the engine. It owns the business clock, the
//! idempotency store, the live staff directory and read-your-writes; it knows the engine and
//! nothing of HTTP requests or responses. A route parses a request into the types here,
//! authorizes the caller's role, calls one function and renders what it returns.
//!
//! While serving requests the engine is called from this folder only (the routes never call
//! it; `server.rs`, `demo/` and `cli/` call it to open a data directory, seed it, or work on a
//! stopped one): [`handle`] starts and stops it; the command
//! service is called by [`dossiers`], [`reference`], [`staff`] and [`views`] (loading a
//! dossier), the plan service by [`plans`], the read models by [`views`], the log by
//! [`events`], [`export`] and [`reference`] (a published calendar). The console's accounts
//! ([`accounts`]) and sessions ([`sessions`]) live here too, beside the bearer tokens, and the
//! citizens' portal accounts ([`citizens`]), with sessions of their own.

pub mod accounts;
pub mod caller;
pub mod checkpoints;
pub mod citizens;
pub mod clock;
pub mod decode;
pub mod desk;
pub mod directory;
pub mod dossiers;
pub mod error;
pub mod events;
pub mod export;
pub mod files;
pub mod handle;
pub mod idempotency;
pub mod personal;
pub mod plans;
pub mod portal;
pub mod projections;
pub mod ratings;
pub mod reference;
pub mod reports;
pub mod search;
pub mod sessions;
pub mod staff;
pub mod tokens;
pub mod trail;
pub mod views;

pub use caller::Caller;
pub use error::AppError;
pub use handle::{App, AppConfig};
