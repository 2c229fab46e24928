//! Directory administration used by `motcua staff add` and the demo: registering a staff member
//! and issuing a bearer token, recorded as `staff.*` events on the stream `staff/<id>`.

use motcua_engine::codec;
use motcua_engine::domain::events::{Event, StaffEvent, SCHEMA_VERSION};
use motcua_engine::domain::types::{Role, Staff, Timestamp};
use motcua_engine::log::{
    Actor, AppendError, Appended, EventId, EventLog, ExpectedVersion, NewEvent, StreamId,
};

use crate::auth::IssuedToken;

/// Why a staff command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("staff member {0} already exists")]
    Exists(String),
    #[error("append: {0}")]
    Append(#[from] AppendError),
    #[error("log: {0}")]
    Log(#[from] motcua_engine::log::LogError),
}

/// The stream of one staff member's events.
pub fn staff_stream(staff: &Staff) -> Result<StreamId, motcua_engine::log::LogError> {
    StreamId::new(format!("staff/{}", staff.id))
}

/// Wraps a domain event for the log.
pub fn new_event(event: &Event, actor: &Actor, event_id: Option<EventId>) -> NewEvent {
    NewEvent {
        event_id,
        event_type: event.event_type().to_owned(),
        schema_version: SCHEMA_VERSION,
        actor: actor.clone(),
        correlation_id: None,
        causation_id: None,
        payload: codec::encode(event),
    }
}

/// Registers `staff` and issues `token` for them, by `actor` at `now`.
pub async fn add_staff(
    log: &EventLog,
    staff: &Staff,
    token: &IssuedToken,
    actor: &Actor,
    now: Timestamp,
    event_ids: Option<[EventId; 2]>,
) -> Result<Appended, AdminError> {
    let stream = staff_stream(staff)?;
    let events = [
        Event::Staff(StaffEvent::Registered(staff.clone())),
        Event::Staff(StaffEvent::TokenIssued {
            staff: staff.id.clone(),
            token_id: token.token_id.clone(),
            token_sha256: token.sha256,
            at: now,
        }),
    ];
    let batch = events
        .iter()
        .enumerate()
        .map(|(i, e)| new_event(e, actor, event_ids.map(|ids| ids[i])))
        .collect();
    match log.append(&stream, ExpectedVersion::NoStream, batch).await {
        Ok(a) => Ok(a),
        Err(AppendError::WrongExpectedVersion { .. }) => {
            Err(AdminError::Exists(staff.id.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The actor of commands run from the command line on a stopped data directory.
pub fn cli_actor() -> Actor {
    Actor {
        staff: "cli".into(),
        role: Role::Admin.as_str().into(),
    }
}

/// Revokes one of a staff member's tokens.
pub async fn revoke_token(
    log: &EventLog,
    staff: &Staff,
    token_id: &str,
    actor: &Actor,
    now: Timestamp,
    event_id: Option<EventId>,
) -> Result<Appended, AdminError> {
    let stream = staff_stream(staff)?;
    let ev = Event::Staff(StaffEvent::TokenRevoked {
        staff: staff.id.clone(),
        token_id: token_id.to_owned(),
        at: now,
    });
    Ok(log
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![new_event(&ev, actor, event_id)],
        )
        .await?)
}
