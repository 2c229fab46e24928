//! The staff directory's commands and reads: the staff list, a new staff member's form parsed
//! once ([`StaffDraft`], for the JSON route and the console alike), registering a staff member
//! with their first bearer token (one append: both or neither), revoking a token, and
//! registering a unit for `motcua staff add`. Writes go through the command service's reference commands,
//! whose decisions (the domain's `decide_reference`) check the unit exists, a specialist has a
//! field, token ids are new.

use motcua_engine::domain::events::{FieldInfo, UnitInfo};
use motcua_engine::domain::types::{Field, Role, Staff, StaffId, Timestamp, UnitCode};
use motcua_engine::domain::DomainError;
use motcua_engine::idempotency::{CommandKey, KeyScope};
use motcua_engine::service::{Authority, CommandService, ReferenceCommand, ServiceError};

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;
use crate::app::idempotency::{command_key, IdempotencyKey};
use crate::app::tokens::{new_token, token_from_bytes, IssuedToken};

/// Registers `staff` and issues `token` for them in one append (both or neither); returns the
/// seq of the last event. The one place that registers a staff member with a token: the
/// server, `motcua staff add`, the demo, the load generator and the tests all come here. Under
/// a `key`, a retry whose first attempt is recorded is answered from the log.
pub async fn register_with_token(
    svc: &CommandService,
    staff: &Staff,
    token: &IssuedToken,
    authority: Authority<'_>,
    now: Timestamp,
    key: Option<&CommandKey>,
) -> Result<u64, ServiceError> {
    let o = svc
        .execute_reference_keyed(
            ReferenceCommand::RegisterStaffWithToken {
                staff: staff.clone(),
                token_id: token.token_id.clone(),
                token_sha256: token.sha256,
            },
            authority,
            now,
            key,
        )
        .await?;
    Ok(o.seq)
}

/// Registers `unit` as the system if the directory does not know it yet; true if it was
/// registered now.
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

/// A new staff member as a request states it, before parsing: the JSON body of `POST /v1/staff`
/// and the console's "Thêm cán bộ" form both become one. [`StaffDraft::parse`] is the one place
/// that turns it into a [`Staff`]; the domain then checks the unit exists and a specialist has
/// a field.
#[derive(Debug, Clone, Default)]
pub struct StaffDraft {
    pub id: String,
    pub name: String,
    /// Unit code; none means the caller's unit.
    pub unit: Option<String>,
    pub roles: Vec<String>,
    pub fields: Vec<String>,
}

impl StaffDraft {
    /// The staff member this draft describes, registered by `caller`: every value parsed, the
    /// unit defaulting to the caller's. What a staff record must hold beyond its types (a known
    /// unit, a name of one line, a role, a field for a specialist) is the domain's rule, checked
    /// when the registration is decided.
    pub fn parse(self, caller: &Caller) -> Result<Staff, AppError> {
        let id: StaffId = self
            .id
            .trim()
            .parse()
            .map_err(|e| AppError::invalid("id", format!("{e}")))?;
        let unit: UnitCode = match self.unit.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => u
                .parse()
                .map_err(|e| AppError::invalid("unit", format!("{e}")))?,
            _ => caller.unit().clone(),
        };
        let roles = self
            .roles
            .iter()
            .map(|r| r.parse::<Role>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AppError::invalid("roles", format!("{e}")))?;
        let fields = self
            .fields
            .iter()
            .map(|f| f.parse::<Field>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AppError::invalid("fields", format!("{e}")))?;
        Ok(Staff {
            id,
            name: self.name,
            unit,
            roles,
            fields,
            active: true,
        })
    }
}

/// The staff commands and reads of an [`App`].
pub struct StaffDirectory<'a> {
    app: &'a App,
}

impl App {
    /// The staff directory.
    pub fn staff(&self) -> StaffDirectory<'_> {
        StaffDirectory { app: self }
    }
}

impl StaffDirectory<'_> {
    /// The staff `caller` may see, by id: admins and auditors every unit's, other staff their
    /// own unit's (the desk picks a specialist from it); a citizen account none.
    pub fn list(&self, caller: &Caller) -> Result<Vec<Staff>, AppError> {
        if caller.is_citizen_account() {
            return Err(AppError::Forbidden(
                "a citizen account does not read the staff directory".into(),
            ));
        }
        let all = self.app.directory().all_staff();
        if caller.has(Role::Admin) || caller.has(Role::Auditor) {
            return Ok(all);
        }
        Ok(all
            .into_iter()
            .filter(|s| &s.unit == caller.unit())
            .collect())
    }

    /// Staff member `id`, if registered.
    pub fn get(&self, id: &StaffId) -> Option<Staff> {
        self.app.directory().staff(id)
    }

    /// Registers `staff` as `caller` (an admin) and returns their first token (to be shown
    /// once). With a key the token is derived from it and this server's salt, and the command
    /// runs under the key, so a retry whose stored answer was lost is answered from the log
    /// and shows the token the log recorded. A staff id already registered is a conflict.
    pub async fn register(
        &self,
        caller: &Caller,
        staff: &Staff,
        key: Option<&IdempotencyKey>,
    ) -> Result<IssuedToken, AppError> {
        let token = match key {
            Some(k) => token_from_bytes(self.app.idempotency().salted(&[
                b"staff-token",
                caller.id().as_str().as_bytes(),
                k.as_str().as_bytes(),
            ])),
            None => new_token(),
        };
        let admin = caller.actor();
        let command = command_key(caller, KeyScope::Reference, key);
        let timer = self.app.metrics().append_started();
        let seq = register_with_token(
            self.app.service(),
            staff,
            &token,
            Authority::Admin(&admin),
            clock::now(),
            command.as_ref(),
        )
        .await
        .map_err(|e| match e {
            // The domain's refusal of a staff id already registered (checked in the same
            // decision that appends, so two racing registrations cannot both pass it).
            ServiceError::Domain(DomainError::Validation { field, .. }) if field == "staff" => {
                AppError::Conflict(format!("staff member {} already exists", staff.id))
            }
            other => other.into(),
        })?;
        timer.succeeded(2);
        self.app.wait_for_read_models(seq).await;
        Ok(token)
    }

    /// Revokes token `token_id` of `staff` (see [`StaffDirectory::get`]) as `caller` (an
    /// admin).
    pub async fn revoke_token(
        &self,
        caller: &Caller,
        staff: &Staff,
        token_id: &str,
        key: Option<&IdempotencyKey>,
    ) -> Result<(), AppError> {
        let admin = caller.actor();
        let o = self
            .app
            .service()
            .execute_reference_keyed(
                ReferenceCommand::RevokeToken {
                    staff: staff.id.clone(),
                    token_id: token_id.to_owned(),
                },
                Authority::Admin(&admin),
                clock::now(),
                command_key(caller, KeyScope::Reference, key).as_ref(),
            )
            .await
            .map_err(|e| match e {
                // The path names a token this staff member never had: nothing to revoke, the
                // same 404 as an unknown staff id (it was an undocumented 422; schemathesis).
                ServiceError::Domain(DomainError::Validation { field, why })
                    if field == "token_id" =>
                {
                    AppError::NotFound(format!("no token {token_id} of staff {}: {why}", staff.id))
                }
                other => other.into(),
            })?;
        self.app.wait_for_read_models(o.seq).await;
        Ok(())
    }

    /// Registers `staff` with `token` as the system (operator tools and tests); returns the seq
    /// of the last event.
    pub async fn register_as_system(
        &self,
        staff: &Staff,
        token: &IssuedToken,
        now: Timestamp,
    ) -> Result<u64, ServiceError> {
        register_with_token(
            self.app.service(),
            staff,
            token,
            Authority::System,
            now,
            None,
        )
        .await
    }

    /// [`ensure_unit`] over this application's command service.
    pub async fn ensure_unit(
        &self,
        unit: &UnitCode,
        name: Option<&str>,
        fields: &[FieldInfo],
        now: Timestamp,
    ) -> Result<bool, String> {
        ensure_unit(self.app.service(), unit, name, fields, now).await
    }
}
