//! motcua HTTP server: the `/v1` JSON API over the engine (axum 0.8), and the `motcua` command.
//!
//! Layers, each importing only the ones below it:
//! - `server` builds and runs everything; `routes` are the handlers (parse the request,
//!   authorize the caller's role, call the application, render), with `extract`, `reply`
//!   (`Idempotency-Key` on the wire), `errors` (every error's problem document), `openapi`,
//!   `state` (the application plus the HTTP-only parts), `metrics` and `ratelimit`;
//! - `app` is the application layer: typed commands and queries, the business clock,
//!   idempotency, the staff directory, read-your-writes; the engine's only caller while
//!   serving requests (the routes never call it);
//! - `console` is the staff console (server-rendered HTML pages, sessions, CSRF), a sibling of
//!   `routes` that calls the same application functions;
//! - `demo` seeds the demo commune through the engine's commands; `cli` holds the operator's
//!   other commands; `config`, `crypto`, `datadir`, `proxy` and `quota` are leaves everyone may
//!   use.
//!
//! `server::start` is the entry point both for the `motcua` binary and for in-process tests.

pub mod app;
pub mod cli;
pub mod config;
pub mod console;
pub mod crypto;
pub mod datadir;
pub mod demo;
pub mod errors;
pub mod extract;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod proxy;
pub mod quota;
pub mod ratelimit;
pub mod reply;
pub mod routes;
pub mod server;
pub mod sheets;
pub mod state;
