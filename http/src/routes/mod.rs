//! The HTTP handlers, one module per resource, and the route table ([`api_router`]). A handler
//! parses the request into the application layer's types, checks the caller's role, calls one
//! function of `crate::app` and renders its answer; errors convert with `?` (`errors.rs`).

pub mod checkpoints;
pub mod dossiers;
pub mod events;
pub mod export;
pub mod files;
pub mod ops;
pub mod parse;
pub mod personal;
pub mod plans;
pub mod ratings;
pub mod reference;
pub mod reports;
pub mod roles;
pub mod slips;
pub mod staff;
pub mod views;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Every documented route. Registering a handler here also documents it.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
        .routes(routes!(events::list))
        .routes(routes!(views::list_dossiers))
        .routes(routes!(views::get_dossier))
        .routes(routes!(views::queues))
        .routes(routes!(views::inbox))
        .routes(routes!(views::worklist))
        .routes(routes!(views::stats))
        .routes(routes!(views::stats_codes))
        .routes(routes!(reports::procedures))
        .routes(routes!(reports::register))
        .routes(routes!(views::catalog))
        .routes(routes!(views::lookup))
        .routes(routes!(dossiers::receive))
        .routes(routes!(dossiers::submit))
        .routes(routes!(dossiers::act))
        .routes(routes!(ratings::rate))
        .routes(routes!(slips::slip))
        .routes(routes!(files::list, files::upload))
        .routes(routes!(files::download))
        .routes(routes!(files::downloads))
        .routes(routes!(reference::calendar))
        .routes(routes!(reference::publish_calendar))
        .routes(routes!(reference::set_office_hours))
        .routes(routes!(reference::issue_procedure))
        .routes(routes!(reference::amend_procedure))
        .routes(routes!(reference::abolish_procedure))
        .routes(routes!(reference::publish_procedure))
        .routes(routes!(staff::list, staff::create))
        .routes(routes!(staff::revoke))
        .routes(routes!(events::stream))
        .routes(routes!(export::export))
        .routes(routes!(plans::list, plans::issue))
        .routes(routes!(plans::get_plan))
        .routes(routes!(plans::dashboard))
        .routes(routes!(plans::add_task))
        .routes(routes!(plans::task_action))
        .routes(routes!(personal::erase))
        .routes(routes!(personal::sweep))
        .routes(routes!(checkpoints::list, checkpoints::sign))
        .routes(routes!(checkpoints::get))
}
