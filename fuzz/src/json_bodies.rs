//! `json_bodies`: arbitrary bytes as the JSON body of every HTTP write, parsed exactly as the
//! handlers parse them (`axum::Json::<T>::from_bytes`, what `HashedJson::value` calls), and for
//! the dossier actions turned into a domain command by `routes::dossiers::command`, the one pure
//! body-to-`Command` function of the HTTP crate, and a procedure to issue checked by
//! `IssueBody::validate`.
//!
//! The first input byte picks the body type (and, for actions, the action); the rest is the body.
//!
//! Property: nothing panics; a rejected body is a 4xx (400 malformed, 422 wrong shape), never a
//! 5xx; `command` refuses with a 422 and never builds an impossible command; and a body that
//! parses carries no identifier its own type's parser would refuse (a JSON body must not be a
//! way around the validation the rest of the code relies on).

use axum::http::StatusCode;
use axum::response::IntoResponse;
use motcua_engine::domain::types::{Field, ProcedureId, WorkflowId};
use motcua_engine::domain::{Action, Command};
use motcua_http::routes::dossiers::{command, ActionBody, NewDossier};
use motcua_http::routes::reference::{CalendarBody, IssueBody};
use motcua_http::routes::staff::NewStaff;

/// Body types, in the order of the selector byte (`selector % KINDS`).
pub const KINDS: [&str; 5] = ["action", "new_dossier", "calendar", "issue", "new_staff"];

/// The selector byte for a body kind (and, for "action", an index into `Action::ALL`).
pub fn selector(kind: usize, action: usize) -> u8 {
    (kind + KINDS.len() * action) as u8
}

/// What one input produced.
#[derive(Debug)]
pub struct Outcome {
    pub kind: &'static str,
    /// The body parsed as its type (else the rejection's status).
    pub parsed: Result<(), StatusCode>,
    /// For actions whose body parsed: the command, or the status of its refusal.
    pub command: Option<Result<Command, StatusCode>>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, StatusCode> {
    axum::Json::<T>::from_bytes(body)
        .map(|j| j.0)
        .map_err(|rej| {
            let status = rej.status();
            let _ = rej.body_text();
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
                "body rejected with {status}"
            );
            status
        })
}

/// Parses `data`; panics if a property above does not hold.
pub fn check(data: &[u8]) -> Option<Outcome> {
    let (&sel, body) = data.split_first()?;
    let kind = KINDS[usize::from(sel) % KINDS.len()];
    let mut cmd = None;
    let parsed = match kind {
        "action" => parse::<ActionBody>(body).map(|b| {
            let action = Action::ALL[usize::from(sel) / KINDS.len() % Action::ALL.len()];
            let result = command(action, b).map_err(|e| {
                let status = e.status();
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{action:?}: {e}");
                assert_eq!(e.into_response().status(), status);
                status
            });
            cmd = Some(result);
        }),
        "new_dossier" => parse::<NewDossier>(body).map(|_| ()),
        "calendar" => parse::<CalendarBody>(body).map(|_| ()),
        "issue" => parse::<IssueBody>(body).map(|b| {
            // The handler's check after parsing; what passes it must be well-formed.
            if let Err(e) = b.validate() {
                assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY, "{e}");
                return;
            }
            let p = &b.procedure;
            let slugs = [
                ("id", p.id.as_str().parse::<ProcedureId>().is_ok()),
                ("field", p.field.as_str().parse::<Field>().is_ok()),
                (
                    "workflow",
                    p.workflow.as_str().parse::<WorkflowId>().is_ok(),
                ),
            ];
            for (what, ok) in slugs {
                assert!(ok, "procedure {what} accepted without validation: {p:?}");
            }
        }),
        _ => parse::<NewStaff>(body).map(|_| ()),
    };
    Some(Outcome {
        kind,
        parsed,
        command: cmd,
    })
}
