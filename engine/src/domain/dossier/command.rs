//! What a decision is asked: who acts ([`ActorRef`]), what they ask for ([`Command`], the typed
//! target the HTTP layer and the demo parse their input into), and what else the decision reads
//! ([`Context`]). Also the inverse mapping from a recorded change to its action ([`action_of`]).

use serde::{Deserialize, Serialize};

use crate::domain::events::{Applicant, DossierChange, DraftKind};
use crate::domain::files::AttachedFile;
use crate::domain::reference::ReferenceData;
use crate::domain::secret::{SecretDigest, SecretProof};
use crate::domain::types::{
    Channel, DossierCode, ProcedureId, Role, Staff, StaffId, Timestamp, UnitCode, Vnd,
};
use crate::domain::workflow::Action;

/// Who issues a command. Never stored (the envelope records [`ActorRef::id`] and the role), so
/// no serde: a [`SecretProof`] is made by checking a secret, never decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorRef {
    /// A staff member as the directory knows them (roles, fields, unit).
    Staff(Staff),
    /// A citizen through the online portal. On an existing dossier they prove it is theirs
    /// with the lookup secret printed on their receipt: the application checks the secret
    /// against the dossier's digest ([`SecretDigest::prove`], slow by design, on a blocking
    /// thread) and hands the decision the proof.
    Citizen {
        /// The portal account's id (what the envelope records: never an identity number,
        /// which is personal data and sealed: `engine/src/domain/personal.rs`).
        account: String,
        lookup_proof: Option<SecretProof>,
    },
}

impl ActorRef {
    /// Roles the actor holds (an inactive staff member holds none).
    pub fn roles(&self) -> Vec<Role> {
        match self {
            ActorRef::Staff(s) if s.active => s.roles.clone(),
            ActorRef::Staff(_) => Vec::new(),
            ActorRef::Citizen { .. } => vec![Role::Citizen],
        }
    }

    /// The id recorded in the envelope: a staff id, or `citizen:<account>`.
    pub fn id(&self) -> String {
        match self {
            ActorRef::Staff(s) => s.id.to_string(),
            ActorRef::Citizen { account, .. } => format!("citizen:{account}"),
        }
    }
}

/// What a new dossier is about, as the desk or the portal takes it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    pub procedure: ProcedureId,
    pub unit: UnitCode,
    pub channel: Channel,
    pub applicant: Applicant,
    pub documents: Vec<String>,
    /// The digest of the lookup secret (the caller generates the secret, gives it to the
    /// citizen and computes this with [`SecretDigest::argon2id`]; the secret is never stored).
    pub lookup_secret: SecretDigest,
}

/// Commands of the transition table (docs/domain/dossier.md): one per workflow [`Action`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    SubmitOnline(Intake),
    /// Receive an online submission (`intake: None`) or a new desk/postal dossier.
    Receive {
        intake: Option<Intake>,
    },
    GuideToComplete {
        intake: Option<Intake>,
        missing: Vec<String>,
        note: String,
    },
    RefuseToReceive {
        intake: Option<Intake>,
        reason: String,
        legal_basis: String,
    },
    Assign {
        specialist: StaffId,
        note: String,
    },
    RequestSupplement {
        items: Vec<String>,
        reason: String,
    },
    RecordSupplement {
        note: String,
    },
    Forward {
        agency: String,
        note: String,
    },
    RecordAgencyAnswer {
        note: String,
    },
    RequestPayment {
        amount: Vnd,
        note: String,
    },
    RecordPayment {
        receipt_number: String,
    },
    SubmitForSigning {
        draft: DraftKind,
        note: String,
    },
    Approve {
        note: String,
    },
    SignRefusal {
        reasons: String,
    },
    SendBack {
        comments: String,
    },
    Apologise {
        reason: String,
        new_appointment: Timestamp,
    },
    HandOver {
        note: String,
    },
    Withdraw {
        reason: String,
    },
    Stop {
        reason: String,
        legal_basis: String,
    },
    /// A file already made durable in the content store, to be recorded against one of the
    /// dossier's checklist documents.
    AttachFile(AttachedFile),
}

impl Command {
    pub fn action(&self) -> Action {
        match self {
            Command::SubmitOnline(_) => Action::SubmitOnline,
            Command::Receive { .. } => Action::Receive,
            Command::GuideToComplete { .. } => Action::GuideToComplete,
            Command::RefuseToReceive { .. } => Action::RefuseToReceive,
            Command::Assign { .. } => Action::Assign,
            Command::RequestSupplement { .. } => Action::RequestSupplement,
            Command::RecordSupplement { .. } => Action::RecordSupplement,
            Command::Forward { .. } => Action::Forward,
            Command::RecordAgencyAnswer { .. } => Action::RecordAgencyAnswer,
            Command::RequestPayment { .. } => Action::RequestPayment,
            Command::RecordPayment { .. } => Action::RecordPayment,
            Command::SubmitForSigning { .. } => Action::SubmitForSigning,
            Command::Approve { .. } => Action::Approve,
            Command::SignRefusal { .. } => Action::SignRefusal,
            Command::SendBack { .. } => Action::SendBack,
            Command::Apologise { .. } => Action::Apologise,
            Command::HandOver { .. } => Action::HandOver,
            Command::Withdraw { .. } => Action::Withdraw,
            Command::Stop { .. } => Action::Stop,
            Command::AttachFile(_) => Action::AttachFile,
        }
    }

    /// The intake of a command that may create a dossier.
    pub fn intake(&self) -> Option<&Intake> {
        match self {
            Command::SubmitOnline(i) => Some(i),
            Command::Receive { intake }
            | Command::GuideToComplete { intake, .. }
            | Command::RefuseToReceive { intake, .. } => intake.as_ref(),
            _ => None,
        }
    }
}

/// The action a recorded change is the outcome of (the inverse of [`Command::action`]), so a
/// replay can re-check a recorded event against the workflow's transition table.
///
/// A desk dossier guided or refused at the counter is recorded as `SubmittedOnline` followed by
/// `GuidedToComplete` / `RefusedToReceive` from one command: the first maps to `SubmitOnline`
/// here, and a checker treats the pair as the second action taken from `Phase::None`
/// ([`super::recorded::opens_desk_intake`]).
pub fn action_of(change: &DossierChange) -> Action {
    match change {
        DossierChange::SubmittedOnline(_) => Action::SubmitOnline,
        DossierChange::Received(_) => Action::Receive,
        DossierChange::GuidedToComplete { .. } => Action::GuideToComplete,
        DossierChange::RefusedToReceive { .. } => Action::RefuseToReceive,
        DossierChange::Assigned { .. } => Action::Assign,
        DossierChange::SupplementRequested { .. } => Action::RequestSupplement,
        DossierChange::SupplementReceived { .. } => Action::RecordSupplement,
        DossierChange::Forwarded { .. } => Action::Forward,
        DossierChange::OtherAgencyAnswered { .. } => Action::RecordAgencyAnswer,
        DossierChange::PaymentRequested { .. } => Action::RequestPayment,
        DossierChange::PaymentRecorded { .. } => Action::RecordPayment,
        DossierChange::SubmittedForSigning { .. } => Action::SubmitForSigning,
        DossierChange::Approved { .. } => Action::Approve,
        DossierChange::RefusalSigned { .. } => Action::SignRefusal,
        DossierChange::SentBack { .. } => Action::SendBack,
        DossierChange::Apologised { .. } => Action::Apologise,
        DossierChange::HandedOver { .. } => Action::HandOver,
        DossierChange::Withdrawn { .. } => Action::Withdraw,
        DossierChange::Stopped { .. } => Action::Stop,
        DossierChange::FileAttached(_) => Action::AttachFile,
    }
}

/// Everything a decision reads besides the state and the command.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Business time of the action (the caller's clock, or simulated time in the demo).
    pub now: Timestamp,
    pub actor: &'a ActorRef,
    pub reference: &'a ReferenceData,
    /// The code allocated for a new dossier (ignored when the dossier exists).
    pub new_code: Option<&'a DossierCode>,
}
