//! `motcua staff add`: registers a staff member on a *stopped* data directory (registering
//! their unit first if asked) and returns the line printing their bearer token, shown once.

use std::path::PathBuf;

use motcua_engine::domain::events::FieldInfo;
use motcua_engine::domain::types::{Field, Role, Staff, StaffId, UnitCode};
use motcua_engine::domain::ReferenceData;
use motcua_engine::log::EventLog;
use motcua_engine::service::{Authority, CommandService};

use crate::app::clock;
use crate::app::staff::{ensure_unit, register_with_token};
use crate::app::tokens::new_token;
use crate::datadir::{open_stopped, NoLogYet};

/// A staff member to add.
#[derive(Debug, Clone)]
pub struct StaffAdd {
    pub data: PathBuf,
    pub unit: UnitCode,
    pub roles: Vec<Role>,
    pub fields: Vec<Field>,
    /// Display name (default: the id).
    pub name: String,
    /// Staff id (default: derived from the first role and the token id).
    pub id: Option<StaffId>,
    /// Registers the unit with this name if it is not registered yet.
    pub unit_name: Option<String>,
}

/// Opens the data directory, adds the staff member, closes it; the line to print:
/// `staff=<id> token=<token>`.
pub async fn staff_add(args: StaffAdd) -> Result<String, String> {
    let log = open_stopped(&args.data, NoLogYet::Create, None)?;
    let result = add_in(&log, args).await;
    let closed = log.close().await;
    let line = result?;
    closed.map_err(|e| e.to_string())?;
    Ok(line)
}

async fn add_in(log: &EventLog, args: StaffAdd) -> Result<String, String> {
    let svc = CommandService::new(
        log.clone(),
        ReferenceData::builtin().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let now = clock::now();
    let fields: Vec<FieldInfo> = args
        .fields
        .iter()
        .map(|f| FieldInfo {
            field: f.clone(),
            name: f.to_string(),
        })
        .collect();
    ensure_unit(&svc, &args.unit, args.unit_name.as_deref(), &fields, now).await?;
    let token = new_token();
    let id = match args.id {
        Some(id) => id,
        None => format!("{}-{}", args.roles[0].as_str(), &token.token_id[..6])
            .parse()
            .map_err(|e| format!("{e}"))?,
    };
    let staff = Staff {
        name: if args.name.is_empty() {
            id.to_string()
        } else {
            args.name
        },
        id,
        unit: args.unit,
        roles: args.roles,
        fields: args.fields,
        active: true,
    };
    register_with_token(&svc, &staff, &token, Authority::System, now, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("staff={} token={}", staff.id, token.token))
}

/// Sets the console password of staff member `staff` on a *stopped* data directory (the first
/// admin of a commune that did not start as the demo, or a locked-out one): the account store
/// of the application, as `set_password` by the system. The password is read by `main.rs` from
/// `MOTCUA_PASSWORD` or standard input, never from a flag (flags show in `ps`).
pub async fn staff_password(
    data: &std::path::Path,
    staff: &StaffId,
    username: Option<&str>,
    password: &str,
) -> Result<String, String> {
    let log = open_stopped(data, NoLogYet::Create, None)?;
    let config = crate::app::AppConfig {
        read_your_writes_timeout: crate::config::DEFAULT_READ_YOUR_WRITES_TIMEOUT,
        desk_reserve: motcua_engine::service::DEFAULT_DESK_RESERVE,
    };
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let app = crate::app::App::open(log, config, metrics)
        .await
        .map_err(|e| e.to_string())?;
    let username = username.unwrap_or(staff.as_str()).to_owned();
    let result = app
        .accounts()
        .set_password(None, staff, &username, password, "motcua staff password")
        .await
        .map_err(|e| e.to_string());
    let closed = app.shutdown().await;
    result?;
    closed.map_err(|e| e.to_string())?;
    Ok(format!(
        "staff={staff} username={}",
        crate::app::accounts::normalise_username(&username)
    ))
}
