//! The `motcua` command: `serve` (the HTTP server), `staff add` (register a staff member and
//! print their bearer token once, on a stopped data directory), and `export`, `backup`,
//! `restore` (archives). This file parses the command line; the work is in `motcua_http::server`
//! and `motcua_http::cli`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use motcua_engine::domain::types::{Field, Role, StaffId, UnitCode};
use motcua_http::cli::staff::StaffAdd;
use motcua_http::cli::{backup, checkpoint, keys, staff};
use motcua_http::config::ServeConfig;
use motcua_http::{datadir, demo, server};

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
    /// Back up or load the personal-data keys of a stopped data directory (never in the log's
    /// archives: erasing a key must make every archive unreadable for that person).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Signed checkpoints of the log's head, for auditors to keep apart from the server (the
    /// signing key is never in the log or its archives).
    Checkpoint {
        #[command(subcommand)]
        command: CheckpointCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CheckpointCommand {
    /// Sign the head of a stopped data directory's log into checkpoints/<seq>.json.
    Sign(CheckpointArgs),
    /// Print the current public key and its id (made if there is none), for the auditor.
    Key {
        #[command(flatten)]
        args: CheckpointArgs,
        /// Every key of the store, retired ones too.
        #[arg(long)]
        all: bool,
    },
    /// Make a new key current; the old seed is deleted, its public key stays listed.
    Rotate(CheckpointArgs),
}

#[derive(Debug, Args)]
struct CheckpointArgs {
    #[arg(long, env = "MOTCUA_DATA", default_value = "./motcua-data")]
    data: PathBuf,
    /// The key store (default: checkpoint-keys/ in the data directory).
    #[arg(long, env = "MOTCUA_CHECKPOINT_KEYS")]
    keys: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Write every key, encrypted under a passphrase, to a file (through FILE.partial).
    Export(KeysExportArgs),
    /// Load a key backup into a freshly restored data directory (erased people stay erased).
    Import(KeysImportArgs),
}

#[derive(Debug, Args)]
struct KeysExportArgs {
    #[arg(long, env = "MOTCUA_DATA", default_value = "./motcua-data")]
    data: PathBuf,
    /// The key backup to write.
    #[arg(long)]
    out: PathBuf,
    /// A file whose first line is the passphrase (at least 12 characters; never a flag).
    #[arg(long)]
    passphrase_file: PathBuf,
}

#[derive(Debug, Args)]
struct KeysImportArgs {
    #[arg(long, env = "MOTCUA_DATA", default_value = "./motcua-data")]
    data: PathBuf,
    /// The key backup to load.
    #[arg(long)]
    from: PathBuf,
    /// A file whose first line is the passphrase the backup was written with.
    #[arg(long)]
    passphrase_file: PathBuf,
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
    /// A head hash known independently (hex, e.g. printed on a report): the archive's log must
    /// end on it, as with `motcua-replay verify --expect-head`.
    #[arg(long)]
    expect_head: Option<String>,
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
    /// Connections held at once at most (lowered to leave the log its file descriptors).
    #[arg(long, env = "MOTCUA_MAX_CONNECTIONS", default_value_t = motcua_http::config::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds a connection may stay with no byte moving before it is closed.
    #[arg(long, env = "MOTCUA_IDLE_TIMEOUT_SECS", default_value_t = motcua_http::config::DEFAULT_IDLE_TIMEOUT.as_secs())]
    idle_timeout_secs: u64,
    /// A bearer token (32 characters or more) that reads /metrics and nothing else, for
    /// Prometheus; prefer the environment variable (a flag shows in `ps`).
    #[arg(long, env = "MOTCUA_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Reverse proxies (CIDRs, comma-separated or repeated) whose X-Forwarded-For names the
    /// client for rate limits; other peers are the client themselves.
    #[arg(
        long = "trusted-proxy",
        env = "MOTCUA_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<motcua_http::proxy::Cidr>,
    /// Online submissions one portal account may make per local day (raise it for an account
    /// that files for many citizens).
    #[arg(long, env = "MOTCUA_ONLINE_QUOTA_PER_ACCOUNT", default_value_t = motcua_http::config::DEFAULT_ONLINE_QUOTA_PER_ACCOUNT)]
    online_quota_per_account: u32,
    /// Online submissions per client address (IPv6: per /64) per local day.
    #[arg(long, env = "MOTCUA_ONLINE_QUOTA_PER_ADDRESS", default_value_t = motcua_http::config::DEFAULT_ONLINE_QUOTA_PER_ADDRESS)]
    online_quota_per_address: u32,
    /// The last daily dossier numbers of a unit kept for the desk (online submissions never
    /// take them).
    #[arg(long, env = "MOTCUA_DESK_RESERVE", default_value_t = motcua_engine::service::DEFAULT_DESK_RESERVE)]
    desk_reserve: u16,
    /// The most dossiers one download of the register (slip 06 for a period) holds.
    #[arg(long, env = "MOTCUA_REGISTER_MAX_ROWS", default_value_t = motcua_http::config::DEFAULT_REGISTER_MAX_ROWS)]
    register_max_rows: usize,
    /// Mark the console's session cookie `Secure`: set it when browsers reach motcua over
    /// HTTPS (a TLS-terminating proxy in front).
    #[arg(long, env = "MOTCUA_SECURE_COOKIES")]
    secure_cookies: bool,
    /// The address citizens open the public lookup at (e.g. https://motcua.xa.gov.vn): slip
    /// 01's QR code points to <public-url>/tra-cuu. Default: http:// and the listen address.
    #[arg(long, env = "MOTCUA_PUBLIC_URL")]
    public_url: Option<String>,
    /// Do not sign a checkpoint of the log's head at start and after each local midnight.
    #[arg(long, env = "MOTCUA_NO_CHECKPOINTS")]
    no_checkpoints: bool,
    /// The checkpoint key store (default: checkpoint-keys/ in the data directory).
    #[arg(long, env = "MOTCUA_CHECKPOINT_KEYS")]
    checkpoint_keys: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// Register a staff member and print their bearer token (shown once).
    Add(StaffAddArgs),
    /// Set a staff member's console password (read from MOTCUA_PASSWORD or the first line of
    /// standard input, never a flag); their console sessions end.
    Password(StaffPasswordArgs),
}

#[derive(Debug, Args)]
struct StaffPasswordArgs {
    #[arg(long, env = "MOTCUA_DATA", default_value = "./motcua-data")]
    data: PathBuf,
    /// The staff member's id.
    #[arg(long)]
    id: StaffId,
    /// Console username (default: the staff id).
    #[arg(long)]
    username: Option<String>,
}

/// The password of `motcua staff password`: `MOTCUA_PASSWORD`, or the first line of stdin.
fn read_password() -> Result<String, String> {
    if let Ok(p) = std::env::var("MOTCUA_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
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

/// Sends allocations of 128 KiB and more straight to the kernel and back (glibc's `mmap`
/// threshold, fixed). By default glibc raises the threshold to the size of the first large block
/// freed, after which Argon2's 2 MiB work areas (every receipt's lookup digest) and 19 MiB ones
/// (console passwords) come from per-thread arenas that keep the freed memory: the demo's
/// seeding left the server at ~1 GB resident. Fixed, each block is unmapped when freed.
/// (mimalloc as the global allocator made restore faster but held a soak's server at 398 MB
/// peak instead of ~60 MB: not kept; BENCHMARKS.md, "Restore (#15 goal 4)".)
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets an allocator parameter; glibc serialises it internally.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    return_large_allocations();
    let cli = Cli::parse();
    datadir::quiet_open_panics();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Staff {
            command: StaffCommand::Add(args),
        } => staff::staff_add(args.into())
            .await
            .map(|line| println!("{line}")),
        Command::Staff {
            command: StaffCommand::Password(a),
        } => match read_password() {
            Ok(password) => staff::staff_password(&a.data, &a.id, a.username.as_deref(), &password)
                .await
                .map(|line| println!("{line}")),
            Err(e) => Err(e),
        },
        Command::Export(a) => backup::export_data_dir(&a.data, &a.out, a.from, a.to)
            .await
            .map(|r| println!("{}", r.line()))
            .map_err(|e| e.to_string()),
        Command::Backup(a) => backup::backup(&a.server, &a.token, &a.out)
            .await
            .map(|r| println!("{}", r.line()))
            .map_err(|e| e.to_string()),
        Command::Restore(a) => restore(&a)
            .await
            .map(|r| {
                eprintln!("restore phases: {}", r.phases.line());
                println!("{}", r.line());
            })
            .map_err(|e| format!("{e} (nothing was written to {})", a.data.display())),
        Command::Keys {
            command: KeysCommand::Export(a),
        } => match keys::read_passphrase(&a.passphrase_file) {
            Ok(p) => keys::export(&a.data, &a.out, &p)
                .await
                .map(|line| println!("{line}")),
            Err(e) => Err(e),
        },
        Command::Keys {
            command: KeysCommand::Import(a),
        } => match keys::read_passphrase(&a.passphrase_file) {
            Ok(p) => keys::import(&a.data, &a.from, &p)
                .await
                .map(|line| println!("{line}")),
            Err(e) => Err(e),
        },
        Command::Checkpoint { command } => match command {
            CheckpointCommand::Sign(a) => checkpoint::sign(&a.data, a.keys).await,
            CheckpointCommand::Key { args, all } => {
                checkpoint::key(&args.data, args.keys.as_deref(), all)
            }
            CheckpointCommand::Rotate(a) => checkpoint::rotate(&a.data, a.keys.as_deref()),
        }
        .map(|line| println!("{line}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("motcua: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `motcua restore`, with its optional `--expect-head` parsed first.
async fn restore(a: &RestoreArgs) -> Result<backup::RestoreReport, backup::BackupError> {
    let expect_head = a
        .expect_head
        .as_deref()
        .map(backup::parse_head)
        .transpose()?;
    backup::restore_expecting(&a.from, &a.data, expect_head).await
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    init_tracing(args.log_json);
    let mut config = ServeConfig::new(args.data, args.bind);
    config.demo = args.demo;
    config.max_connections = args.max_connections;
    config.idle_timeout = std::time::Duration::from_secs(args.idle_timeout_secs.max(1));
    if let Some(t) = &args.metrics_token {
        if t.trim().len() < motcua_http::config::MIN_METRICS_TOKEN_LEN {
            return Err(format!(
                "--metrics-token must be at least {} characters",
                motcua_http::config::MIN_METRICS_TOKEN_LEN
            ));
        }
    }
    config.metrics_token = args.metrics_token.map(|t| t.trim().to_owned());
    config.trusted_proxies = args.trusted_proxies;
    config.online_quota_per_account = args.online_quota_per_account;
    config.online_quota_per_address = args.online_quota_per_address;
    config.desk_reserve = args.desk_reserve;
    config.register_max_rows = args.register_max_rows;
    config.secure_cookies = args.secure_cookies;
    config.sign_checkpoints = !args.no_checkpoints;
    config.checkpoint_keys = args.checkpoint_keys;
    config.public_url = args
        .public_url
        .as_deref()
        .map(motcua_http::config::parse_public_url)
        .transpose()?;
    // Install the signal handlers before announcing the address: a SIGTERM that arrives right
    // after `listening on` must drain, not kill.
    let signals = Signals::install().map_err(|e| format!("signal handlers: {e}"))?;
    let running = server::start(config).await.map_err(|e| e.to_string())?;
    for line in demo::token_lines(&running.demo_tokens) {
        println!("{line}");
    }
    for line in demo::account_lines(&running.demo_accounts) {
        println!("{line}");
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

impl From<StaffAddArgs> for StaffAdd {
    fn from(a: StaffAddArgs) -> StaffAdd {
        StaffAdd {
            data: a.data,
            unit: a.unit,
            roles: a.roles,
            fields: a.fields,
            name: a.name,
            id: a.id,
            unit_name: a.unit_name,
        }
    }
}
