//! `motcua-replay`: the auditor's command line. Every command reads a SOURCE (an archive file,
//! or a data directory, which is copied before it is opened) and never writes to it.
//!
//! Exit status: 0 = done and clean, 1 = `verify` found something (or `diff` found a
//! difference), 2 = the command could not run (unreadable source, bad arguments); interrupted
//! by SIGINT, SIGTERM or SIGHUP: 128 + the signal (130, 143, 129), after removing its copy of
//! a data directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use motcua_replay::cli;
use motcua_replay::output::Format;

#[derive(Parser, Debug)]
#[command(
    name = "motcua-replay",
    version,
    about = "Verify, replay and recompute a motcua event log (read-only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    format: Format,
    /// Never show a progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long, global = true)]
    no_progress: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check every hash link, seq, stream version, payload, transition and due date, and who
    /// recorded each dossier change and when.
    Verify {
        /// Archive file or data directory.
        source: PathBuf,
        /// Only the container and the hash chain (skip the domain checks).
        #[arg(long)]
        chain_only: bool,
        /// A head hash known independently (hex): the log must end on it.
        #[arg(long)]
        expect_head: Option<String>,
        /// A signed checkpoint (`checkpoints/<seq>.json` of the server): the source must extend
        /// it. Repeatable; needs --trusted-key.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// A public key whose checkpoints are accepted: 64 hex digits or a file holding them
        /// (what `motcua checkpoint key` prints). Repeatable (keys before and after a rotation).
        #[arg(long = "trusted-key", value_name = "FILE|HEX")]
        trusted_keys: Vec<String>,
        /// Also time a bare scan + decode of the same source and print both rates.
        #[arg(long)]
        bench: bool,
        #[command(flatten)]
        common: Common,
    },
    /// The desk's figures for a period, recomputed by folding the log.
    Stats {
        source: PathBuf,
        /// First day of the period (YYYY-MM-DD, local).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day of the period (inclusive).
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Break the figures down.
        #[arg(long, value_enum)]
        by: Option<cli::By>,
        /// Fold only what had happened by this instant (RFC 3339 or YYYY-MM-DD[THH:MM], local).
        #[arg(long)]
        as_of: Option<String>,
        /// List the dossier codes behind one figure (e.g. resolved_late).
        #[arg(long)]
        list: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// One dossier's timeline and its slip 05 (Phiếu kiểm soát quá trình giải quyết hồ sơ).
    History {
        source: PathBuf,
        code: String,
        #[command(flatten)]
        common: Common,
    },
    /// The live queues as they stood at an instant.
    Queues {
        source: PathBuf,
        #[arg(long)]
        as_of: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// A leader's approval inbox as it stood at an instant.
    Inbox {
        source: PathBuf,
        leader: String,
        #[arg(long)]
        as_of: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// A reform plan's progress as it stood at an instant (the server's dashboard for that
    /// instant), with the events behind each figure: plan events by seq and event id, the
    /// report and completion in force, and for a derived indicator its figure, parts, seq
    /// range and dossier codes.
    Plan {
        /// Archive file or data directory.
        source: PathBuf,
        /// The plan id, e.g. 35-kh-ubnd-2023.
        plan: String,
        /// The instant (RFC 3339, YYYY-MM-DDTHH:MM local, or YYYY-MM-DD = end of that day).
        #[arg(long)]
        as_of: String,
        #[command(flatten)]
        common: Common,
    },
    /// Compare two archives (first differing seq and field), or a server's statistics JSON
    /// with the recomputed figures (first differing figure).
    Diff {
        a: PathBuf,
        b: PathBuf,
        /// For statistics: the period and breakdown the JSON was produced with.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        #[command(flatten)]
        common: Common,
    },
}

fn main() -> ExitCode {
    // Before any other thread: an interrupted run must not leave its copy of a data directory.
    if let Err(e) = motcua_replay::source::remove_copies_on_signals() {
        eprintln!("motcua-replay: cannot watch for interruptions: {e}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify {
            source,
            chain_only,
            expect_head,
            checkpoints,
            trusted_keys,
            bench,
            common,
        } => cli::verify(
            &source,
            chain_only,
            expect_head.as_deref(),
            &cli::CheckpointArgs {
                files: checkpoints,
                trusted_keys,
            },
            bench,
            common.format,
            progress(&common),
        ),
        Command::Stats {
            source,
            from,
            to,
            by,
            as_of,
            list,
            common,
        } => cli::stats(
            &source,
            from,
            to,
            by,
            as_of.as_deref(),
            list.as_deref(),
            common.format,
            progress(&common),
        ),
        Command::History {
            source,
            code,
            common,
        } => cli::history(&source, &code, common.format, progress(&common)),
        Command::Queues {
            source,
            as_of,
            common,
        } => cli::queues(&source, as_of.as_deref(), common.format, progress(&common)),
        Command::Inbox {
            source,
            leader,
            as_of,
            common,
        } => cli::inbox(
            &source,
            &leader,
            as_of.as_deref(),
            common.format,
            progress(&common),
        ),
        Command::Plan {
            source,
            plan,
            as_of,
            common,
        } => cli::plan(&source, &plan, &as_of, common.format, progress(&common)),
        Command::Diff {
            a,
            b,
            from,
            to,
            common,
        } => cli::diff(&a, &b, from, to, common.format, progress(&common)),
    };
    match result {
        Ok(out) => {
            print!("{}", out.stdout);
            if !out.stderr.is_empty() {
                eprint!("{}", out.stderr);
            }
            ExitCode::from(out.status)
        }
        Err(e) => {
            eprintln!("motcua-replay: {e}");
            ExitCode::from(2)
        }
    }
}

fn progress(common: &Common) -> bool {
    !common.no_progress
}
