//! Workflows as data: which action is legal from which state, by which roles, and how each
//! state maps to the national portal's status code (1-10).
//!
//! A workflow file (`engine/workflows/*.toml`, embedded at build time; `crate::reference_files`
//! reads a directory of them, this module only parses text) declares `[[states]]` and
//! `[[transitions]]`. It is validated at start; every
//! error names the file and the line: unknown states or actions, unreachable states, no
//! terminal state, a transition without roles, a target that contradicts what the action does.
//!
//! The engine fixes what each action *does* (`Action::target`), so `apply` needs no workflow;
//! a workflow chooses which of those actions exist, from where, and for whom.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::types::{Role, WorkflowId};

/// The dossier's lifecycle state (docs/domain/dossier.md). `None` is "no dossier yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Phase {
    None,
    /// Mới đăng ký: submitted (online, or presented at the desk), waiting for reception.
    Submitted,
    /// Presented at the desk and guided to complete it: never received.
    NotReceived,
    Received,
    InProcessing,
    AwaitingSupplement,
    AtOtherAgency,
    AwaitingPayment,
    AwaitingApproval,
    ResultReady,
    Rejected,
    Returned,
    Refused,
    Withdrawn,
    Stopped,
}

impl Phase {
    pub const ALL: [Phase; 15] = [
        Phase::None,
        Phase::Submitted,
        Phase::NotReceived,
        Phase::Received,
        Phase::InProcessing,
        Phase::AwaitingSupplement,
        Phase::AtOtherAgency,
        Phase::AwaitingPayment,
        Phase::AwaitingApproval,
        Phase::ResultReady,
        Phase::Rejected,
        Phase::Returned,
        Phase::Refused,
        Phase::Withdrawn,
        Phase::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::None => "none",
            Phase::Submitted => "Submitted",
            Phase::NotReceived => "NotReceived",
            Phase::Received => "Received",
            Phase::InProcessing => "InProcessing",
            Phase::AwaitingSupplement => "AwaitingSupplement",
            Phase::AtOtherAgency => "AtOtherAgency",
            Phase::AwaitingPayment => "AwaitingPayment",
            Phase::AwaitingApproval => "AwaitingApproval",
            Phase::ResultReady => "ResultReady",
            Phase::Rejected => "Rejected",
            Phase::Returned => "Returned",
            Phase::Refused => "Refused",
            Phase::Withdrawn => "Withdrawn",
            Phase::Stopped => "Stopped",
        }
    }

    /// Vietnamese label for slips and the API.
    pub fn label_vi(self) -> &'static str {
        match self {
            Phase::None => "Chưa có hồ sơ",
            Phase::Submitted => "Mới đăng ký",
            Phase::NotReceived => "Hướng dẫn hoàn thiện hồ sơ",
            Phase::Received => "Đã tiếp nhận",
            Phase::InProcessing => "Đang xử lý",
            Phase::AwaitingSupplement => "Chờ bổ sung hồ sơ",
            Phase::AtOtherAgency => "Chuyển cơ quan liên thông",
            Phase::AwaitingPayment => "Chờ thực hiện nghĩa vụ tài chính",
            Phase::AwaitingApproval => "Chờ phê duyệt",
            Phase::ResultReady => "Có kết quả",
            Phase::Rejected => "Từ chối giải quyết",
            Phase::Returned => "Đã trả kết quả",
            Phase::Refused => "Từ chối tiếp nhận",
            Phase::Withdrawn => "Công dân rút hồ sơ",
            Phase::Stopped => "Dừng xử lý",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = ();
    fn from_str(s: &str) -> Result<Phase, ()> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s).ok_or(())
    }
}

/// What a command does, as workflows name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Action {
    SubmitOnline,
    Receive,
    GuideToComplete,
    RefuseToReceive,
    Assign,
    RequestSupplement,
    RecordSupplement,
    Forward,
    RecordAgencyAnswer,
    RequestPayment,
    RecordPayment,
    SubmitForSigning,
    Approve,
    SignRefusal,
    SendBack,
    Apologise,
    HandOver,
    Withdraw,
    Stop,
    /// Attach a file to a checklist document; the state does not change.
    AttachFile,
}

/// Where an action leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    To(Phase),
    /// The state does not change (apology; guidance of an online submission).
    Same,
}

impl Action {
    pub const ALL: [Action; 20] = [
        Action::SubmitOnline,
        Action::Receive,
        Action::GuideToComplete,
        Action::RefuseToReceive,
        Action::Assign,
        Action::RequestSupplement,
        Action::RecordSupplement,
        Action::Forward,
        Action::RecordAgencyAnswer,
        Action::RequestPayment,
        Action::RecordPayment,
        Action::SubmitForSigning,
        Action::Approve,
        Action::SignRefusal,
        Action::SendBack,
        Action::Apologise,
        Action::HandOver,
        Action::Withdraw,
        Action::Stop,
        Action::AttachFile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::SubmitOnline => "submit_online",
            Action::Receive => "receive",
            Action::GuideToComplete => "guide_to_complete",
            Action::RefuseToReceive => "refuse_to_receive",
            Action::Assign => "assign",
            Action::RequestSupplement => "request_supplement",
            Action::RecordSupplement => "record_supplement",
            Action::Forward => "forward",
            Action::RecordAgencyAnswer => "record_agency_answer",
            Action::RequestPayment => "request_payment",
            Action::RecordPayment => "record_payment",
            Action::SubmitForSigning => "submit_for_signing",
            Action::Approve => "approve",
            Action::SignRefusal => "sign_refusal",
            Action::SendBack => "send_back",
            Action::Apologise => "apologise",
            Action::HandOver => "hand_over",
            Action::Withdraw => "withdraw",
            Action::Stop => "stop",
            Action::AttachFile => "attach_file",
        }
    }

    /// What the engine's `apply` does for this action from `from`.
    pub fn target(self, from: Phase) -> Target {
        use Phase as P;
        match self {
            Action::SubmitOnline => Target::To(P::Submitted),
            Action::Receive => Target::To(P::Received),
            Action::GuideToComplete if from == P::None => Target::To(P::NotReceived),
            Action::GuideToComplete => Target::Same,
            Action::RefuseToReceive => Target::To(P::Refused),
            Action::Assign => Target::To(P::InProcessing),
            Action::RequestSupplement => Target::To(P::AwaitingSupplement),
            Action::RecordSupplement => Target::To(P::InProcessing),
            Action::Forward => Target::To(P::AtOtherAgency),
            Action::RecordAgencyAnswer => Target::To(P::InProcessing),
            Action::RequestPayment => Target::To(P::AwaitingPayment),
            Action::RecordPayment => Target::To(P::InProcessing),
            Action::SubmitForSigning => Target::To(P::AwaitingApproval),
            Action::Approve => Target::To(P::ResultReady),
            Action::SignRefusal => Target::To(P::Rejected),
            Action::SendBack => Target::To(P::InProcessing),
            Action::Apologise => Target::Same,
            Action::HandOver => Target::To(P::Returned),
            Action::Withdraw => Target::To(P::Withdrawn),
            Action::Stop => Target::To(P::Stopped),
            Action::AttachFile => Target::Same,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = ();
    fn from_str(s: &str) -> Result<Action, ()> {
        Action::ALL.into_iter().find(|a| a.as_str() == s).ok_or(())
    }
}

/// A declared state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateDef {
    pub phase: Phase,
    /// National portal status code 1-10.
    pub status: u8,
    pub terminal: bool,
}

/// A legal move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: Vec<Phase>,
    pub action: Action,
    /// `None` = the state does not change.
    pub to: Option<Phase>,
    pub roles: Vec<Role>,
    /// The processing clock stops (supplement, financial obligation).
    pub pauses_clock: bool,
    /// The processing clock resumes; paused office time is added to the due time.
    pub resumes_clock: bool,
    /// The dossier is resolved here (judged early / on time / late).
    pub resolves: bool,
    /// Signing needs the other agency's answer first (liên thông).
    pub requires_agency_answer: bool,
}

/// A validated workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workflow {
    pub id: WorkflowId,
    pub name: String,
    pub states: Vec<StateDef>,
    pub transitions: Vec<Transition>,
}

impl Workflow {
    pub fn state(&self, phase: Phase) -> Option<&StateDef> {
        self.states.iter().find(|s| s.phase == phase)
    }
    pub fn has_state(&self, phase: Phase) -> bool {
        phase == Phase::None || self.state(phase).is_some()
    }
    /// National status code of a state (None for `Phase::None` or an undeclared state).
    pub fn status_code(&self, phase: Phase) -> Option<u8> {
        self.state(phase).map(|s| s.status)
    }
    pub fn is_terminal(&self, phase: Phase) -> bool {
        self.state(phase).is_some_and(|s| s.terminal)
    }
    /// The transition for `action` from `from`, if legal.
    pub fn transition(&self, from: Phase, action: Action) -> Option<&Transition> {
        self.transitions
            .iter()
            .find(|t| t.action == action && t.from.contains(&from))
    }
    /// Actions legal from `from`, for anyone.
    pub fn actions_from(&self, from: Phase) -> Vec<Action> {
        let set: BTreeSet<Action> = self
            .transitions
            .iter()
            .filter(|t| t.from.contains(&from))
            .map(|t| t.action)
            .collect();
        set.into_iter().collect()
    }
    /// Actions legal from `from` for someone holding `roles`.
    pub fn allowed_actions(&self, from: Phase, roles: &[Role]) -> Vec<Action> {
        let set: BTreeSet<Action> = self
            .transitions
            .iter()
            .filter(|t| t.from.contains(&from) && t.roles.iter().any(|r| roles.contains(r)))
            .map(|t| t.action)
            .collect();
        set.into_iter().collect()
    }
}

/// What is wrong with a workflow file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WorkflowErrorKind {
    #[error("TOML: {0}")]
    Parse(String),
    #[error("invalid workflow id: {0}")]
    BadId(String),
    #[error("unknown state {0:?}")]
    UnknownState(String),
    #[error("state {0:?} is declared twice")]
    DuplicateState(String),
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    #[error("transition {0:?} has no roles")]
    TransitionWithoutRoles(String),
    #[error("national status code {0} is outside 1-10")]
    BadStatusCode(i64),
    #[error("state {0:?} is unreachable from \"none\"")]
    UnreachableState(String),
    #[error("no terminal state")]
    NoTerminalState,
    #[error("terminal state {0:?} has outgoing transitions")]
    TerminalHasExit(String),
    #[error("action {action:?} from {from:?} leads to {expected:?} in the engine, not {found:?}")]
    WrongTarget {
        action: &'static str,
        from: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("action {action:?} from {from:?} is defined twice")]
    DuplicateTransition {
        action: &'static str,
        from: &'static str,
    },
}

/// A workflow file error: file, 1-based line, what.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}: {kind}")]
pub struct WorkflowError {
    pub file: String,
    pub line: usize,
    pub kind: WorkflowErrorKind,
}

type Sp<T> = toml::Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    id: Sp<String>,
    name: String,
    #[serde(default)]
    states: Vec<Sp<RawState>>,
    #[serde(default)]
    transitions: Vec<Sp<RawTransition>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    name: Sp<String>,
    status: Sp<i64>,
    #[serde(default)]
    terminal: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    from: Vec<Sp<String>>,
    action: Sp<String>,
    to: Sp<String>,
    roles: Option<Sp<Vec<Sp<String>>>>,
    #[serde(default)]
    pauses_clock: bool,
    #[serde(default)]
    resumes_clock: bool,
    #[serde(default)]
    resolves: bool,
    #[serde(default)]
    requires_agency_answer: bool,
}

/// The `to` value meaning "the state does not change".
pub const SAME: &str = "(same)";

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Workflow {
    /// Parses and validates one workflow file.
    pub fn from_toml(file: &str, text: &str) -> Result<Workflow, WorkflowError> {
        let src = Source { file, text };
        let raw: RawWorkflow = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            src.err(offset, WorkflowErrorKind::Parse(e.message().to_owned()))
        })?;
        let id =
            raw.id.get_ref().parse::<WorkflowId>().map_err(|e| {
                src.err(raw.id.span().start, WorkflowErrorKind::BadId(e.to_string()))
            })?;
        let (states, state_at) = src.states(&raw.states)?;
        let mut transitions = Vec::new();
        let mut seen: BTreeSet<(Action, Phase)> = BTreeSet::new();
        for t in &raw.transitions {
            transitions.push(src.transition(t, &state_at, &mut seen)?);
        }
        src.check_terminals(&states, &transitions, &state_at)?;
        src.check_reachable(&states, &transitions, &state_at)?;
        Ok(Workflow {
            id,
            name: raw.name,
            states,
            transitions,
        })
    }
}

/// The file being loaded, for errors that name their line.
#[derive(Clone, Copy)]
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

/// Where each declared state is declared (byte offset).
type StateOffsets = BTreeMap<Phase, usize>;

impl Source<'_> {
    fn err(&self, offset: usize, kind: WorkflowErrorKind) -> WorkflowError {
        WorkflowError {
            file: self.file.to_owned(),
            line: line_of(self.text, offset),
            kind,
        }
    }

    /// The declared states: known names, each once, with a national status code 1-10.
    fn states(&self, raw: &[Sp<RawState>]) -> Result<(Vec<StateDef>, StateOffsets), WorkflowError> {
        let mut states: Vec<StateDef> = Vec::new();
        let mut state_at = StateOffsets::new();
        for s in raw {
            let s = s.get_ref();
            let at = s.name.span().start;
            let phase = match s.name.get_ref().parse::<Phase>() {
                Ok(p) if p != Phase::None => p,
                _ => {
                    let name = s.name.get_ref().clone();
                    return Err(self.err(at, WorkflowErrorKind::UnknownState(name)));
                }
            };
            if state_at.contains_key(&phase) {
                let kind = WorkflowErrorKind::DuplicateState(phase.to_string());
                return Err(self.err(at, kind));
            }
            let status = *s.status.get_ref();
            if !(1..=10).contains(&status) {
                let kind = WorkflowErrorKind::BadStatusCode(status);
                return Err(self.err(s.status.span().start, kind));
            }
            state_at.insert(phase, at);
            states.push(StateDef {
                phase,
                status: status as u8,
                terminal: s.terminal,
            });
        }
        Ok((states, state_at))
    }

    /// A state named by a transition: declared, or `none`.
    fn declared(&self, name: &Sp<String>, state_at: &StateOffsets) -> Result<Phase, WorkflowError> {
        match name.get_ref().parse::<Phase>() {
            Ok(p) if p == Phase::None || state_at.contains_key(&p) => Ok(p),
            _ => Err(self.err(
                name.span().start,
                WorkflowErrorKind::UnknownState(name.get_ref().clone()),
            )),
        }
    }

    /// One transition: a known action, roles, declared states, each (action, from) once, and
    /// the target the action gives (`Action::target`).
    fn transition(
        &self,
        raw: &Sp<RawTransition>,
        state_at: &StateOffsets,
        seen: &mut BTreeSet<(Action, Phase)>,
    ) -> Result<Transition, WorkflowError> {
        let t = raw.get_ref();
        let action = t.action.get_ref().parse::<Action>().map_err(|_| {
            let kind = WorkflowErrorKind::UnknownAction(t.action.get_ref().clone());
            self.err(t.action.span().start, kind)
        })?;
        let roles = self.roles(t.roles.as_ref(), raw.span().start, action)?;
        let to = if t.to.get_ref() == SAME {
            None
        } else {
            Some(self.declared(&t.to, state_at)?)
        };
        let mut from = Vec::new();
        for f in &t.from {
            let p = self.declared(f, state_at)?;
            if !seen.insert((action, p)) {
                let kind = WorkflowErrorKind::DuplicateTransition {
                    action: action.as_str(),
                    from: p.as_str(),
                };
                return Err(self.err(f.span().start, kind));
            }
            let expected = match action.target(p) {
                Target::To(x) => Some(x),
                Target::Same => None,
            };
            if expected != to {
                let name = |x: Option<Phase>| x.map_or(SAME, Phase::as_str);
                let kind = WorkflowErrorKind::WrongTarget {
                    action: action.as_str(),
                    from: p.as_str(),
                    expected: name(expected),
                    found: name(to),
                };
                return Err(self.err(t.to.span().start, kind));
            }
            from.push(p);
        }
        Ok(Transition {
            from,
            action,
            to,
            roles,
            pauses_clock: t.pauses_clock,
            resumes_clock: t.resumes_clock,
            resolves: t.resolves,
            requires_agency_answer: t.requires_agency_answer,
        })
    }

    /// A transition's roles: at least one, each known.
    fn roles(
        &self,
        raw: Option<&Sp<Vec<Sp<String>>>>,
        transition_at: usize,
        action: Action,
    ) -> Result<Vec<Role>, WorkflowError> {
        let without = || WorkflowErrorKind::TransitionWithoutRoles(action.to_string());
        let roles = match raw {
            None => return Err(self.err(transition_at, without())),
            Some(r) if r.get_ref().is_empty() => return Err(self.err(r.span().start, without())),
            Some(r) => r.get_ref(),
        };
        roles
            .iter()
            .map(|x| {
                x.get_ref().parse::<Role>().map_err(|_| {
                    let kind = WorkflowErrorKind::UnknownRole(x.get_ref().clone());
                    self.err(x.span().start, kind)
                })
            })
            .collect()
    }

    /// Terminal states: at least one, and none with an exit.
    fn check_terminals(
        &self,
        states: &[StateDef],
        transitions: &[Transition],
        state_at: &StateOffsets,
    ) -> Result<(), WorkflowError> {
        if !states.iter().any(|s| s.terminal) {
            return Err(self.err(0, WorkflowErrorKind::NoTerminalState));
        }
        for s in states.iter().filter(|s| s.terminal) {
            if transitions.iter().any(|t| t.from.contains(&s.phase)) {
                let kind = WorkflowErrorKind::TerminalHasExit(s.phase.to_string());
                return Err(self.err(state_at[&s.phase], kind));
            }
        }
        Ok(())
    }

    /// Every declared state is reachable from `none`.
    fn check_reachable(
        &self,
        states: &[StateDef],
        transitions: &[Transition],
        state_at: &StateOffsets,
    ) -> Result<(), WorkflowError> {
        let mut reached: BTreeSet<Phase> = BTreeSet::from([Phase::None]);
        loop {
            let before = reached.len();
            for t in transitions {
                if let Some(to) = t.to {
                    if t.from.iter().any(|f| reached.contains(f)) {
                        reached.insert(to);
                    }
                }
            }
            if reached.len() == before {
                break;
            }
        }
        for s in states {
            if !reached.contains(&s.phase) {
                let kind = WorkflowErrorKind::UnreachableState(s.phase.to_string());
                return Err(self.err(state_at[&s.phase], kind));
            }
        }
        Ok(())
    }
}

/// The embedded workflow files: (file name, contents).
pub const BUILTIN: [(&str, &str); 3] = [
    (
        "standard.toml",
        include_str!("../../workflows/standard.toml"),
    ),
    (
        "lien-thong.toml",
        include_str!("../../workflows/lien-thong.toml"),
    ),
    (
        "same-day.toml",
        include_str!("../../workflows/same-day.toml"),
    ),
];

/// All workflows by id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Workflows {
    by_id: BTreeMap<WorkflowId, Workflow>,
}

impl Workflows {
    /// The workflows of some files' texts, each given with its file name (named in errors);
    /// ids must be unique.
    pub fn from_files(files: &[(String, String)]) -> Result<Workflows, WorkflowError> {
        let mut by_id = BTreeMap::new();
        for (file, text) in files {
            let wf = Workflow::from_toml(file, text)?;
            if by_id.contains_key(&wf.id) {
                return Err(WorkflowError {
                    file: file.clone(),
                    line: 1,
                    kind: WorkflowErrorKind::BadId(format!("workflow {} is defined twice", wf.id)),
                });
            }
            by_id.insert(wf.id.clone(), wf);
        }
        Ok(Workflows { by_id })
    }

    /// The three shipped workflows: `standard`, `lien-thong`, `same-day`.
    pub fn builtin() -> Result<Workflows, WorkflowError> {
        let files: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
            .collect();
        Workflows::from_files(&files)
    }

    pub fn get(&self, id: &WorkflowId) -> Option<&Workflow> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Workflow> {
        self.by_id.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard() -> String {
        BUILTIN[0].1.to_owned()
    }

    fn expect_err(text: &str) -> WorkflowError {
        Workflow::from_toml("wf.toml", text).unwrap_err()
    }

    /// The 1-based line of the first occurrence of `needle`.
    fn line_with(text: &str, needle: &str) -> usize {
        line_of(text, text.find(needle).unwrap())
    }

    #[test]
    fn builtin_workflows_load_and_map_status_codes() {
        let w = Workflows::builtin().unwrap();
        let ids: Vec<&str> = w.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["lien-thong", "same-day", "standard"]);
        let s = w.get(&"standard".parse().unwrap()).unwrap();
        let codes: Vec<(Phase, u8)> = s.states.iter().map(|d| (d.phase, d.status)).collect();
        for (p, c) in [
            (Phase::Submitted, 1),
            (Phase::Received, 2),
            (Phase::Refused, 3),
            (Phase::InProcessing, 4),
            (Phase::AwaitingSupplement, 5),
            (Phase::AwaitingPayment, 6),
            (Phase::Withdrawn, 7),
            (Phase::Stopped, 8),
            (Phase::ResultReady, 9),
            (Phase::Returned, 10),
        ] {
            assert!(codes.contains(&(p, c)), "{p} -> {c}");
        }
        let same_day = w.get(&"same-day".parse().unwrap()).unwrap();
        assert!(same_day
            .transition(Phase::InProcessing, Action::RequestSupplement)
            .is_none());
        assert!(same_day
            .transition(Phase::InProcessing, Action::Forward)
            .is_none());
        assert!(!same_day.has_state(Phase::AwaitingSupplement));
        let lt = w.get(&"lien-thong".parse().unwrap()).unwrap();
        assert!(lt
            .transition(Phase::InProcessing, Action::Forward)
            .is_some());
        assert!(
            lt.transition(Phase::InProcessing, Action::SubmitForSigning)
                .unwrap()
                .requires_agency_answer
        );
    }

    #[test]
    fn toml_syntax_error_names_file_and_line() {
        let text = standard().replacen("name = \"Received\"", "name = Received\"", 1);
        let e = expect_err(&text);
        assert!(matches!(e.kind, WorkflowErrorKind::Parse(_)), "{e}");
        assert_eq!(e.line, line_with(&text, "name = Received\""));
        assert!(e.to_string().starts_with(&format!("wf.toml:{}:", e.line)));
    }

    #[test]
    fn unknown_state_in_a_transition_names_its_line() {
        let text = standard().replacen("to = \"ResultReady\"", "to = \"Finished\"", 1);
        let e = expect_err(&text);
        assert_eq!(e.kind, WorkflowErrorKind::UnknownState("Finished".into()));
        assert_eq!(e.line, line_with(&text, "to = \"Finished\""));
    }

    #[test]
    fn unknown_declared_state_names_its_line() {
        let text = format!("{}\n[[states]]\nname = \"Limbo\"\nstatus = 4\n", standard());
        let e = expect_err(&text);
        assert_eq!(e.kind, WorkflowErrorKind::UnknownState("Limbo".into()));
        assert_eq!(e.line, line_with(&text, "name = \"Limbo\""));
    }

    #[test]
    fn unreachable_state_names_its_declaration() {
        // Drop the only way into AwaitingPayment.
        let text = standard().replacen(
            "action = \"request_payment\"",
            "action = \"request_supplement_x\"",
            1,
        );
        let e = expect_err(&text);
        assert_eq!(
            e.kind,
            WorkflowErrorKind::UnknownAction("request_supplement_x".into())
        );
        let text = standard().replacen(
            "from = [\"InProcessing\"]\naction = \"request_payment\"",
            "from = [\"AwaitingPayment\"]\naction = \"request_payment\"",
            1,
        );
        assert_ne!(
            text,
            standard(),
            "the fixture must contain the request_payment row"
        );
        let e = expect_err(&text);
        assert_eq!(
            e.kind,
            WorkflowErrorKind::UnreachableState("AwaitingPayment".into())
        );
        assert_eq!(e.line, line_with(&text, "name = \"AwaitingPayment\""));
    }

    #[test]
    fn no_terminal_state_is_an_error() {
        let text = standard().replace("terminal = true", "terminal = false");
        let e = expect_err(&text);
        assert_eq!(e.kind, WorkflowErrorKind::NoTerminalState);
        assert!(e.to_string().starts_with("wf.toml:1:"), "{e}");
    }

    #[test]
    fn transition_without_roles_names_its_line() {
        let text = standard().replacen("roles = [\"leader\"]", "roles = []", 1);
        let e = expect_err(&text);
        assert!(
            matches!(e.kind, WorkflowErrorKind::TransitionWithoutRoles(_)),
            "{e}"
        );
        assert_eq!(e.line, line_with(&text, "roles = []"));
        // Missing entirely: the line of the transition table.
        let text = "id = \"x\"\nname = \"x\"\n[[states]]\nname = \"Received\"\nstatus = 2\nterminal = true\n\n[[transitions]]\nfrom = [\"none\"]\naction = \"receive\"\nto = \"Received\"\n";
        let e = expect_err(text);
        assert_eq!(
            e.kind,
            WorkflowErrorKind::TransitionWithoutRoles("receive".into())
        );
        assert_eq!(e.line, 8, "the [[transitions]] header");
    }

    #[test]
    fn unknown_role_bad_status_and_wrong_target_name_their_lines() {
        let text = standard().replacen("roles = [\"leader\"]", "roles = [\"mayor\"]", 1);
        let e = expect_err(&text);
        assert_eq!(e.kind, WorkflowErrorKind::UnknownRole("mayor".into()));
        assert_eq!(e.line, line_with(&text, "\"mayor\""));

        let text = standard().replacen("status = 10", "status = 11", 1);
        let e = expect_err(&text);
        assert_eq!(e.kind, WorkflowErrorKind::BadStatusCode(11));
        assert_eq!(e.line, line_with(&text, "status = 11"));

        let text = standard().replacen("to = \"Returned\"", "to = \"InProcessing\"", 1);
        let e = expect_err(&text);
        assert!(
            matches!(e.kind, WorkflowErrorKind::WrongTarget { .. }),
            "{e}"
        );
        assert_eq!(e.line, line_with(&text, "action = \"hand_over\"") + 1);
    }

    #[test]
    fn terminal_state_with_an_exit_is_an_error() {
        let text = standard().replacen(
            "from = [\"ResultReady\", \"Rejected\"]",
            "from = [\"ResultReady\", \"Rejected\", \"Refused\"]",
            1,
        );
        let e = expect_err(&text);
        assert_eq!(e.kind, WorkflowErrorKind::TerminalHasExit("Refused".into()));
        assert_eq!(e.line, line_with(&text, "name = \"Refused\""));
    }

    #[test]
    fn from_files_names_the_bad_file() {
        let mut files: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
            .collect();
        assert_eq!(
            Workflows::from_files(&files).unwrap(),
            Workflows::builtin().unwrap()
        );
        files.push(("bad.toml".into(), "id = \"bad\"\nname = \"x\"\n".into()));
        let e = Workflows::from_files(&files).unwrap_err();
        assert_eq!(e.file, "bad.toml");
        assert_eq!(e.kind, WorkflowErrorKind::NoTerminalState);
    }
}
