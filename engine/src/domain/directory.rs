//! The staff directory: units and staff as a fold of `UnitEvent`/`StaffEvent`, bearer-token
//! lookup (only SHA-256 digests are ever recorded), and the scope rules: a specialist acts only
//! in their fields, everyone on staff only in their own unit.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use super::error::DomainError;
use super::events::{StaffEvent, UnitEvent, UnitInfo};
use super::types::{Field, Role, Staff, StaffId, UnitCode};

/// SHA-256 of a bearer token (what `TokenIssued` records).
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenEntry {
    staff: StaffId,
    token_id: String,
}

/// Why a bearer token does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Revoked,
    UnknownStaff,
    Deactivated,
}

impl TokenRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRefusal::Unknown => "unknown token",
            TokenRefusal::Revoked => "token revoked",
            TokenRefusal::UnknownStaff => "unknown staff",
            TokenRefusal::Deactivated => "staff member deactivated",
        }
    }
}

/// The fold of units and staff.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directory {
    units: BTreeMap<UnitCode, UnitInfo>,
    staff: BTreeMap<StaffId, Staff>,
    tokens: HashMap<[u8; 32], TokenEntry>,
    revoked: BTreeSet<(StaffId, String)>,
}

impl Directory {
    pub fn new() -> Directory {
        Directory::default()
    }

    pub fn apply_unit(&mut self, ev: &UnitEvent) {
        match ev {
            UnitEvent::Registered(u) => {
                self.units.insert(u.code.clone(), u.clone());
            }
        }
    }

    pub fn apply_staff(&mut self, ev: &StaffEvent) {
        match ev {
            StaffEvent::Registered(s) | StaffEvent::Updated(s) => {
                self.staff.insert(s.id.clone(), s.clone());
            }
            StaffEvent::TokenIssued {
                staff,
                token_id,
                token_sha256,
                ..
            } => {
                self.tokens.insert(
                    *token_sha256,
                    TokenEntry {
                        staff: staff.clone(),
                        token_id: token_id.clone(),
                    },
                );
            }
            StaffEvent::TokenRevoked {
                staff, token_id, ..
            } => {
                self.revoked.insert((staff.clone(), token_id.clone()));
            }
        }
    }

    pub fn unit(&self, code: &UnitCode) -> Option<&UnitInfo> {
        self.units.get(code)
    }
    pub fn units(&self) -> impl Iterator<Item = &UnitInfo> {
        self.units.values()
    }
    pub fn staff(&self, id: &StaffId) -> Option<&Staff> {
        self.staff.get(id)
    }
    pub fn all_staff(&self) -> impl Iterator<Item = &Staff> {
        self.staff.values()
    }
    /// Fields a unit handles (empty if unknown).
    pub fn unit_fields(&self, code: &UnitCode) -> Vec<Field> {
        self.units
            .get(code)
            .map(|u| u.fields.iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default()
    }

    /// The active staff member owning a token digest, unless the token was revoked.
    pub fn staff_by_token(&self, digest: &[u8; 32]) -> Option<&Staff> {
        self.authenticate(digest).ok().map(|(staff, _)| staff)
    }

    /// The staff member owning a token digest and the token's id, or why the token is refused.
    pub fn authenticate(&self, digest: &[u8; 32]) -> Result<(&Staff, &str), TokenRefusal> {
        // Lookup by the digest: the secret itself is never compared byte by byte.
        let e = self.tokens.get(digest).ok_or(TokenRefusal::Unknown)?;
        if self
            .revoked
            .contains(&(e.staff.clone(), e.token_id.clone()))
        {
            return Err(TokenRefusal::Revoked);
        }
        let staff = self.staff.get(&e.staff).ok_or(TokenRefusal::UnknownStaff)?;
        if !staff.active {
            return Err(TokenRefusal::Deactivated);
        }
        Ok((staff, e.token_id.as_str()))
    }

    /// Whether a token id was already issued to the staff member.
    pub fn has_token_id(&self, staff: &StaffId, token_id: &str) -> bool {
        self.tokens
            .values()
            .any(|e| &e.staff == staff && e.token_id == token_id)
    }
}

/// Scope check for staff acting on a dossier of `unit` and `field` in `role`: same unit for
/// everyone; and a specialist only in their fields.
pub fn check_scope(
    staff: &Staff,
    role: Role,
    unit: &UnitCode,
    field: &Field,
) -> Result<(), DomainError> {
    if &staff.unit != unit {
        return Err(DomainError::WrongUnit {
            staff: staff.id.clone(),
            staff_unit: staff.unit.clone(),
            dossier_unit: unit.clone(),
        });
    }
    if role == Role::Specialist && !staff.has_field(field) {
        return Err(DomainError::WrongField {
            staff: staff.id.clone(),
            field: field.clone(),
            staff_fields: staff.fields.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::Timestamp;

    fn staff(id: &str, roles: &[Role], fields: &[&str]) -> Staff {
        Staff {
            id: id.parse().unwrap(),
            name: id.into(),
            unit: "000.00.00.G10".parse().unwrap(),
            roles: roles.to_vec(),
            fields: fields.iter().map(|f| f.parse().unwrap()).collect(),
            active: true,
        }
    }

    #[test]
    fn tokens_resolve_until_revoked_or_inactive() {
        let mut d = Directory::new();
        let s = staff("tn-01", &[Role::Reception], &[]);
        d.apply_staff(&StaffEvent::Registered(s.clone()));
        d.apply_staff(&StaffEvent::TokenIssued {
            staff: s.id.clone(),
            token_id: "t1".into(),
            token_sha256: token_digest("secret-1"),
            at: Timestamp(0),
        });
        assert_eq!(
            d.staff_by_token(&token_digest("secret-1")).unwrap().id,
            s.id
        );
        assert!(d.staff_by_token(&token_digest("secret-2")).is_none());
        assert!(d.has_token_id(&s.id, "t1"));
        d.apply_staff(&StaffEvent::TokenRevoked {
            staff: s.id.clone(),
            token_id: "t1".into(),
            at: Timestamp(1),
        });
        assert!(d.staff_by_token(&token_digest("secret-1")).is_none());
        d.apply_staff(&StaffEvent::TokenIssued {
            staff: s.id.clone(),
            token_id: "t2".into(),
            token_sha256: token_digest("secret-2"),
            at: Timestamp(2),
        });
        assert!(d.staff_by_token(&token_digest("secret-2")).is_some());
        d.apply_staff(&StaffEvent::Updated(Staff { active: false, ..s }));
        assert!(d.staff_by_token(&token_digest("secret-2")).is_none());
    }

    #[test]
    fn scope_specialist_fields_and_unit() {
        let unit: UnitCode = "000.00.00.G10".parse().unwrap();
        let other: UnitCode = "000.00.00.G11".parse().unwrap();
        let ht: Field = "ho-tich".parse().unwrap();
        let dd: Field = "dat-dai".parse().unwrap();
        let sp = staff("cm-01", &[Role::Specialist], &["ho-tich"]);
        assert!(check_scope(&sp, Role::Specialist, &unit, &ht).is_ok());
        assert!(matches!(
            check_scope(&sp, Role::Specialist, &unit, &dd),
            Err(DomainError::WrongField { .. })
        ));
        assert!(matches!(
            check_scope(&sp, Role::Specialist, &other, &ht),
            Err(DomainError::WrongUnit { .. })
        ));
        let leader = staff("ld-01", &[Role::Leader], &[]);
        assert!(check_scope(&leader, Role::Leader, &unit, &dd).is_ok());
        assert!(matches!(
            check_scope(&leader, Role::Leader, &other, &dd),
            Err(DomainError::WrongUnit { .. })
        ));
    }
}
