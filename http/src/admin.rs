//! Directory administration used by `motcua staff add` and `POST /v1/staff`: registering a
//! staff member and issuing or revoking a bearer token, through the command service's reference
//! commands (which check the unit exists, a specialist has a field, token ids are new).

use motcua_engine::domain::events::{FieldInfo, UnitInfo};
use motcua_engine::domain::types::{Staff, Timestamp, UnitCode};
use motcua_engine::service::{Authority, CommandService, ReferenceCommand, ServiceError};

use crate::auth::IssuedToken;

/// Registers `staff` and issues `token` for them in one append (both or neither); returns the
/// seq of the last event.
pub async fn add_staff(
    svc: &CommandService,
    staff: &Staff,
    token: &IssuedToken,
    authority: Authority<'_>,
    now: Timestamp,
) -> Result<u64, ServiceError> {
    let o = svc
        .execute_reference(
            ReferenceCommand::RegisterStaffWithToken {
                staff: staff.clone(),
                token_id: token.token_id.clone(),
                token_sha256: token.sha256,
            },
            authority,
            now,
        )
        .await?;
    Ok(o.seq)
}

/// Registers `unit` if the directory does not know it yet; true if it was registered now.
pub async fn ensure_unit(
    svc: &CommandService,
    unit: &UnitCode,
    name: Option<&str>,
    fields: &[FieldInfo],
    now: Timestamp,
) -> Result<bool, String> {
    let known = svc
        .with_reference(|r| r.directory.unit(unit).is_some())
        .map_err(|e| e.to_string())?;
    if known {
        return Ok(false);
    }
    let Some(name) = name else {
        return Err(format!(
            "unit {unit} is not registered: pass --unit-name to register it (or start with --demo)"
        ));
    };
    svc.execute_reference(
        ReferenceCommand::RegisterUnit(UnitInfo {
            code: unit.clone(),
            name: name.to_owned(),
            parent: String::new(),
            fields: fields.to_vec(),
        }),
        Authority::System,
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(true)
}
