//! The `motcua` command: `serve` (the HTTP server) and `staff add` (register a staff member and
//! print their bearer token once, on a stopped data directory).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use motcua_engine::domain::types::{Field, Role, Staff, StaffId, Timestamp, UnitCode};
use motcua_engine::log::{EventLog, LogConfig};
use motcua_http::config::ServeConfig;
use motcua_http::{admin, auth, server};

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
    let running = server::start(config).await.map_err(|e| e.to_string())?;
    for t in &running.demo_tokens {
        println!(
            "demo-token role={} staff={} token={}",
            t.role, t.staff, t.token
        );
    }
    println!("listening on http://{}", running.addr);
    wait_for_signal().await;
    tracing::info!("shutdown signal received; draining");
    running.shutdown().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn staff_add(args: StaffAddArgs) -> Result<(), String> {
    let log = EventLog::open(&args.data, LogConfig::default()).map_err(|e| {
        format!(
            "cannot open {} (is the server running? stop it first): {e}",
            args.data.display()
        )
    })?;
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
    let now = Timestamp::from_utc(chrono::Utc::now());
    let result = admin::add_staff(&log, &staff, &token, &admin::cli_actor(), now, None).await;
    let closed = log.close().await;
    result.map_err(|e| e.to_string())?;
    closed.map_err(|e| e.to_string())?;
    println!("staff={} token={}", staff.id, token.token);
    Ok(())
}
