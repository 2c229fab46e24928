//! motcua HTTP server: the `/v1` JSON API over the engine (axum 0.8), its errors, auth,
//! idempotency, metrics, OpenAPI document, demo commune and graceful shutdown.
//!
//! `server::start` is the entry point both for the `motcua` binary and for in-process tests.

pub mod admin;
pub mod auth;
pub mod backup;
pub mod config;
pub mod demo;
pub mod engine;
pub mod errors;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod state;
