//! Who may call what: the role sets the handlers check before anything else, so a caller
//! without the role learns nothing from the rest of the request.

use motcua_engine::domain::types::Role;

/// Every staff role that may read the dossier list, statistics and views (citizens use the
/// public lookup); none of these answers holds an applicant's personal fields.
pub const STAFF_READERS: [Role; 6] = [
    Role::Reception,
    Role::Specialist,
    Role::Leader,
    Role::Auditor,
    Role::Planner,
    Role::Admin,
];

/// Who may read one dossier with its history and its slips, which hold the applicant's identity
/// number, phone and address: the staff who handle dossiers, auditors and admins. A planner
/// works with figures, plans and indicators; the dossier list and the drill-downs behind the
/// figures (codes, states, dates, no personal field) are enough for that.
pub const DOSSIER_READERS: [Role; 5] = [
    Role::Reception,
    Role::Specialist,
    Role::Leader,
    Role::Auditor,
    Role::Admin,
];

/// Who may read a unit's queues.
pub const QUEUE_READERS: [Role; 5] = [
    Role::Reception,
    Role::Leader,
    Role::Specialist,
    Role::Admin,
    Role::Auditor,
];

/// Who may download the official report of a period (figures only, no personal field): the
/// dashboard's readers.
pub const REPORT_READERS: [Role; 4] = [Role::Leader, Role::Auditor, Role::Admin, Role::Planner];

/// Who may download the register of a period (slip 06 of every dossier received: applicants'
/// names and addresses): the leader who answers for the unit, auditors and admins. Reception
/// and specialists read a dossier's slip one at a time; a planner works with figures.
pub const REGISTER_READERS: [Role; 3] = [Role::Leader, Role::Auditor, Role::Admin];

/// Who may read plans and dashboards.
pub const PLAN_READERS: [Role; 3] = [Role::Leader, Role::Planner, Role::Auditor];

/// Who may read the Prometheus metrics with a staff token (besides the configured metrics
/// token, `ServeConfig::metrics_token`): the counts by route and status tell an outsider
/// which requests succeed.
pub const METRICS_READERS: [Role; 2] = [Role::Auditor, Role::Admin];

/// Who may read and export the log.
pub const LOG_READERS: [Role; 2] = [Role::Auditor, Role::Admin];

/// Who may write plans.
pub const PLANNERS: [Role; 1] = [Role::Planner];

/// Who may change reference data and staff.
pub const ADMINS: [Role; 1] = [Role::Admin];

/// Who may rate a handed-over dossier: a citizen account, with the dossier's lookup secret.
pub const RATERS: [Role; 1] = [Role::Citizen];
