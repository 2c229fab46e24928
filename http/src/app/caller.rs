//! Who is asking: the authenticated staff member behind a request (every command and query of
//! the application layer takes it explicitly), and the checks of their roles and unit.

use motcua_engine::domain::types::{Role, Staff, StaffId, UnitCode};
use motcua_engine::domain::{ActorRef, SecretProof};

use crate::app::error::AppError;

/// The authenticated caller: the staff member a token belongs to, and which token it was.
#[derive(Debug, Clone)]
pub struct Caller {
    pub staff: Staff,
    pub token_id: String,
}

impl Caller {
    pub fn id(&self) -> &StaffId {
        &self.staff.id
    }

    pub fn unit(&self) -> &UnitCode {
        &self.staff.unit
    }

    pub fn has(&self, role: Role) -> bool {
        self.staff.has_role(role)
    }

    /// The caller as the actor of the events their request causes.
    pub fn actor(&self) -> ActorRef {
        ActorRef::Staff(self.staff.clone())
    }

    /// The first of `roles` the caller holds, or `Forbidden` naming them.
    pub fn require_any(&self, roles: &[Role]) -> Result<Role, AppError> {
        roles.iter().copied().find(|r| self.has(*r)).ok_or_else(|| {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            AppError::Forbidden(format!(
                "requires one of the roles [{}]; {} holds [{}]",
                names.join(", "),
                self.staff.id,
                self.staff
                    .roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Whether the account is a citizen's (the portal's): it holds the citizen role and no other.
    pub fn is_citizen_account(&self) -> bool {
        self.staff.roles == [Role::Citizen]
    }

    /// The caller as the actor of an action on an existing dossier: a citizen account acts as a
    /// citizen, with the proof that the lookup secret they sent is the dossier's (`None` when
    /// they sent none or a wrong one: the domain refuses a citizen without it); staff act as
    /// themselves.
    pub fn actor_proving(&self, lookup_proof: Option<SecretProof>) -> ActorRef {
        if self.is_citizen_account() {
            ActorRef::Citizen {
                account: self.staff.id.to_string(),
                lookup_proof,
            }
        } else {
            self.actor()
        }
    }

    /// `Forbidden` unless the caller belongs to `unit` (admins and auditors see every unit).
    pub fn require_unit(&self, unit: &UnitCode) -> Result<(), AppError> {
        if &self.staff.unit == unit || self.has(Role::Admin) || self.has(Role::Auditor) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "{} belongs to unit {}, not {unit}",
                self.staff.id, self.staff.unit
            )))
        }
    }
}
