//! The transition table `verify` re-checks each recorded dossier change against: from which
//! state, by which role, to which state (DOMAIN.md "States and transitions").
//!
//! Adapter: it speaks the read models' [`DossierState`] so that `verify`, `history` and the
//! projections name states alike.

use motcua_engine::domain::events::DossierChange;
use motcua_engine::domain::types::Role;
use motcua_engine::projection::DossierState;

/// Supplement requests allowed per dossier (Nghị định 61/2018, Điều 18: "chỉ một lần").
pub const SUPPLEMENT_LIMIT: u32 = 1;

/// A legal step's target state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub to: DossierState,
}

/// States in which a dossier is open (received, not finished).
pub fn is_open(s: DossierState) -> bool {
    use DossierState::*;
    matches!(
        s,
        Received
            | InProcessing
            | AwaitingSupplement
            | AtOtherAgency
            | AwaitingPayment
            | AwaitingApproval
    )
}

fn state_name(s: Option<DossierState>) -> &'static str {
    s.map_or("(none)", DossierState::as_str)
}

/// Judges one change: `Ok(target)` if `role` may make it from `from`, else why not.
pub fn step(
    from: Option<DossierState>,
    change: &DossierChange,
    role: Role,
) -> Result<Step, String> {
    use DossierState::*;
    let (allowed_from, roles, to): (bool, &[Role], Option<DossierState>) = match change {
        DossierChange::SubmittedOnline(_) => (from.is_none(), &[Role::Citizen], Some(Submitted)),
        DossierChange::Received(_) => (
            matches!(from, None | Some(Submitted)),
            &[Role::Reception],
            Some(Received),
        ),
        DossierChange::GuidedToComplete { .. } => (
            matches!(from, None | Some(Submitted)),
            &[Role::Reception],
            None,
        ),
        DossierChange::RefusedToReceive { .. } => (
            matches!(from, None | Some(Submitted)),
            &[Role::Reception],
            Some(Refused),
        ),
        DossierChange::Assigned { .. } => (
            matches!(from, Some(Received) | Some(InProcessing)),
            &[Role::Reception, Role::Leader],
            Some(InProcessing),
        ),
        DossierChange::SupplementRequested { .. } => (
            from == Some(InProcessing),
            &[Role::Specialist],
            Some(AwaitingSupplement),
        ),
        DossierChange::SupplementReceived { .. } => (
            from == Some(AwaitingSupplement),
            &[Role::Reception],
            Some(InProcessing),
        ),
        DossierChange::Forwarded { .. } => (
            from == Some(InProcessing),
            &[Role::Specialist],
            Some(AtOtherAgency),
        ),
        DossierChange::OtherAgencyAnswered { .. } => (
            from == Some(AtOtherAgency),
            &[Role::Reception, Role::Specialist],
            Some(InProcessing),
        ),
        DossierChange::PaymentRequested { .. } => (
            from == Some(InProcessing),
            &[Role::Specialist],
            Some(AwaitingPayment),
        ),
        DossierChange::PaymentRecorded { .. } => (
            from == Some(AwaitingPayment),
            &[Role::Reception],
            Some(InProcessing),
        ),
        DossierChange::SubmittedForSigning { .. } => (
            from == Some(InProcessing),
            &[Role::Specialist],
            Some(AwaitingApproval),
        ),
        DossierChange::Approved { .. } => (
            from == Some(AwaitingApproval),
            &[Role::Leader],
            Some(ResultReady),
        ),
        DossierChange::RefusalSigned { .. } => (
            from == Some(AwaitingApproval),
            &[Role::Leader],
            Some(Rejected),
        ),
        DossierChange::SentBack { .. } => (
            from == Some(AwaitingApproval),
            &[Role::Leader],
            Some(InProcessing),
        ),
        DossierChange::Apologised { .. } => (
            from.is_some_and(is_open),
            &[Role::Specialist, Role::Leader],
            from,
        ),
        DossierChange::HandedOver { .. } => (
            matches!(from, Some(ResultReady) | Some(Rejected)),
            &[Role::Reception],
            Some(Returned),
        ),
        DossierChange::Withdrawn { .. } => (
            from.is_some_and(|s| is_open(s) || s == Submitted),
            &[Role::Citizen, Role::Reception],
            Some(Withdrawn),
        ),
        DossierChange::Stopped { .. } => {
            (from.is_some_and(is_open), &[Role::Leader], Some(Stopped))
        }
    };
    if !allowed_from {
        return Err(format!("not allowed from state {}", state_name(from)));
    }
    if !roles.contains(&role) {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        return Err(format!(
            "role {role} may not do this (allowed: {})",
            names.join(", ")
        ));
    }
    Ok(Step {
        to: to.or(from).unwrap_or(Submitted),
    })
}
