//! The `motcua` command: `serve` (the HTTP server), `staff add` (register a staff member and
//! print their bearer token once, on a stopped data directory), and `export`, `backup`,
//! `restore` (archives; the logic is in `motcua_http::backup`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use motcua_engine::domain::events::FieldInfo;
use motcua_engine::domain::types::{Field, Role, Staff, StaffId, Timestamp, UnitCode};
use motcua_engine::domain::ReferenceData;
use motcua_engine::log::{EventLog, LogConfig};
use motcua_engine::service::{Authority, CommandService};
use motcua_http::config::ServeConfig;
use motcua_http::{admin, auth, backup, server};

#[derive(Debug, Parser)]
#[command(
    name = "motcua",
    version,
    about = "Một cửa: the one-stop desk engine of a commune"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Manage staff on a stopped data directory.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Write an archive of a stopped data directory.
    Export(ExportArgs),
    /// Back up a running server: download /v1/export, verify it, then rename into place.
    Backup(BackupArgs),
    /// Rebuild a data directory (log and every projection) from a verified archive.
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[arg(long, env = "MOTCUA_DATA", default_value = "./motcua-data")]
    data: PathBuf,
    /// The archive to write (through FILE.partial).
    #[arg(long)]
    out: PathBuf,
    /// First seq (default 1).
    #[arg(long)]
    from: Option<u64>,
    /// Last seq (default: the head).
    #[arg(long)]
    to: Option<u64>,
}

#[derive(Debug, Args)]
struct BackupArgs {
    /// Base URL of the running server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    server: String,
    /// Bearer token of an auditor or admin.
    #[arg(long, env = "MOTCUA_TOKEN")]
    token: String,
    /// The archive to write (through FILE.partial).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// The archive to restore (a full export: from seq 1).
    #[arg(long)]
    from: PathBuf,
    /// The data directory to create; must not exist or be empty.
    #[arg(long)]
    data: PathBuf,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Data directory (created if missing).
    #[arg(long, env = "MOTCUA_DATA", default_value = "./motcua-data")]
    data: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "MOTCUA_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Seed the demo commune (Dương Phong) when the data directory is empty.
    #[arg(long, env = "MOTCUA_DEMO")]
    demo: bool,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "MOTCUA_LOG_JSON")]
    log_json: bool,
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// Register a staff member and print their bearer token (shown once).
    Add(StaffAddArgs),
}

#[derive(Debug, Args)]
struct StaffAddArgs {
    #[arg(long, env = "MOTCUA_DATA", default_value = "./motcua-data")]
    data: PathBuf,
    /// Unit code, e.g. 000.33.22.H05.
    #[arg(long)]
    unit: UnitCode,
    /// Role (repeatable): reception, specialist, leader, citizen, auditor, planner, admin.
    #[arg(long = "role", required = true)]
    roles: Vec<Role>,
    /// Field handled (repeatable), e.g. ho-tich.
    #[arg(long = "field")]
    fields: Vec<Field>,
    /// Display name.
    #[arg(long, default_value = "")]
    name: String,
    /// Staff id (default: derived from the role and a random suffix).
    #[arg(long)]
    id: Option<StaffId>,
    /// Register the unit with this name if it is not registered yet (its fields: `--field`).
    #[arg(long)]
    unit_name: Option<String>,
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOTCUA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Staff {
            command: StaffCommand::Add(args),
        } => staff_add(args).await,
        Command::Export(a) => backup::export_data_dir(&a.data, &a.out, a.from, a.to)
            .await
            .map(|r| println!("{}", r.line()))
            .map_err(|e| e.to_string()),
        Command::Backup(a) => backup::backup(&a.server, &a.token, &a.out)
            .await
            .map(|r| println!("{}", r.line()))
            .map_err(|e| e.to_string()),
        Command::Restore(a) => backup::restore(&a.from, &a.data)
            .await
            .map(|r| {
                eprintln!("restore phases: {}", r.phases.line());
                println!("{}", r.line());
            })
            .map_err(|e| format!("{e} (nothing was written to {})", a.data.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("motcua: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    init_tracing(args.log_json);
    let mut config = ServeConfig::new(args.data, args.bind);
    config.demo = args.demo;
    // Install the signal handlers before announcing the address: a SIGTERM that arrives right
    // after `listening on` must drain, not kill.
    let signals = Signals::install().map_err(|e| format!("signal handlers: {e}"))?;
    let running = server::start(config).await.map_err(|e| e.to_string())?;
    for t in &running.demo_tokens {
        println!(
            "demo-token role={} staff={} token={}",
            t.role, t.staff, t.token
        );
    }
    println!("listening on http://{}", running.addr);
    signals.wait().await;
    tracing::info!("shutdown signal received; draining");
    running.shutdown().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// SIGINT and SIGTERM, installed up front.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn staff_add(args: StaffAddArgs) -> Result<(), String> {
    let log = EventLog::open(&args.data, LogConfig::default()).map_err(|e| {
        format!(
            "cannot open {} (is the server running? stop it first): {e}",
            args.data.display()
        )
    })?;
    let result = staff_add_in(&log, args).await;
    let closed = log.close().await;
    let line = result?;
    closed.map_err(|e| e.to_string())?;
    println!("{line}");
    Ok(())
}

async fn staff_add_in(log: &EventLog, args: StaffAddArgs) -> Result<String, String> {
    let svc = CommandService::new(
        log.clone(),
        ReferenceData::builtin().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let now = Timestamp::from_utc(chrono::Utc::now());
    let fields: Vec<FieldInfo> = args
        .fields
        .iter()
        .map(|f| FieldInfo {
            field: f.clone(),
            name: f.to_string(),
        })
        .collect();
    admin::ensure_unit(&svc, &args.unit, args.unit_name.as_deref(), &fields, now).await?;
    let token = auth::new_token();
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
    admin::add_staff(&svc, &staff, &token, Authority::System, now)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("staff={} token={}", staff.id, token.token))
}
