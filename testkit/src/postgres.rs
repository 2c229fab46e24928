//! A throwaway PostgreSQL cluster for tests: started once per test process on the first call
//! to [`fresh_database`], one new database per call, stopped when the process ends.
//!
//! The cluster lives in a directory under the system's temp dir: `initdb` there (as the
//! `postgres` user when the tests run as root, since `initdb` refuses root), listening on
//! 127.0.0.1 at a free port and on a unix socket in that directory, with `fsync = on` and
//! `synchronous_commit = on` spelled out, the durability the log's tests rely on.
//!
//! Stopping cannot wait for a destructor (statics are never dropped): a small shell, started
//! with the cluster, holds the read end of a pipe whose write end only this process has. When
//! the process ends, however it ends (a panic, exit, SIGKILL), the pipe closes, the shell wakes,
//! runs `pg_ctl stop -m immediate` and removes the directory. No server is left behind.
//!
//! Missing binaries fail the test with the command that installs them: never a silent skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Where Debian's packages put each major version's binaries.
const PG_LIB: &str = "/usr/lib/postgresql";
/// How often the cluster's start is tried (a free port may be taken before the server binds).
const START_ATTEMPTS: u32 = 3;

/// The running cluster of this test process.
struct Cluster {
    bin: PathBuf,
    port: u16,
    /// The shell that stops the cluster when this process ends (see the module comment): kept
    /// so its stdin, the pipe, stays open as long as the process lives.
    _reaper: Mutex<Child>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static DATABASES: AtomicU64 = AtomicU64::new(0);

/// The newest installed PostgreSQL's `bin` directory.
fn pg_bin() -> Result<PathBuf, String> {
    pg_bin_in(Path::new(PG_LIB))
}

/// The `bin` directory of the highest major version under `lib` that has an `initdb`
/// (versions compare as numbers: 15 is newer than 9).
fn pg_bin_in(lib: &Path) -> Result<PathBuf, String> {
    let newest = std::fs::read_dir(lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max();
    newest.map(|(_, bin)| bin).ok_or_else(|| {
        format!(
            "no PostgreSQL server binaries under {}/*/bin: install PostgreSQL: \
             apt-get install postgresql",
            lib.display()
        )
    })
}

fn is_root() -> bool {
    // The effective uid, without a libc dependency: `id -u` prints it.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args` as the cluster's owner: `postgres` when we are root.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))
}

fn start() -> Result<Cluster, String> {
    let bin = pg_bin()?;
    let root = is_root();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("motcua-pg-{}-{nanos}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    if root {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(&dir);
                c
            },
            "chown the cluster directory to postgres",
        )?;
    }
    // The reaper first, so even a failed start leaves nothing behind.
    let pg_ctl = bin.join("pg_ctl");
    let owner = if root { "runuser -u postgres -- " } else { "" };
    let script = format!(
        "read _; {owner}'{}' stop -m immediate -D '{}' >/dev/null 2>&1; rm -rf '{}'",
        pg_ctl.display(),
        data.display(),
        dir.display()
    );
    let reaper = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start the cluster's reaper: {e}"))?;
    let mut initdb = as_owner(root, &bin.join("initdb"));
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    // initdb's own fsync of the new files is not what the tests measure.
    initdb.arg("--no-sync");
    run(initdb, "initdb")?;
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='{}' \
             -c fsync=on -c synchronous_commit=on -c max_connections=200",
            dir.display()
        );
        let mut ctl = as_owner(root, &pg_ctl);
        ctl.arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        match run(ctl, "pg_ctl start") {
            Ok(()) => {
                return Ok(Cluster {
                    bin,
                    port,
                    _reaper: Mutex::new(reaper),
                })
            }
            Err(e) => {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                last = format!("{e}\n{log}");
            }
        }
    }
    Err(last)
}

/// A new, empty database in this process's cluster (started on the first call), as a
/// connection URL. Panics with the reason (and the install command) if there is no cluster.
pub fn fresh_database() -> String {
    let cluster = match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("the test PostgreSQL cluster did not start: {e}"),
    };
    let name = format!("t_{}", DATABASES.fetch_add(1, Ordering::Relaxed));
    let mut createdb = Command::new(cluster.bin.join("createdb"));
    createdb
        .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(cluster.port.to_string())
        .arg(&name);
    if let Err(e) = run(createdb, "createdb") {
        panic!("{e}");
    }
    format!("postgresql://postgres@127.0.0.1:{}/{name}", cluster.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("motcua-pg-bin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn missing_binaries_fail_with_the_install_command() {
        let lib = scratch("empty");
        let err = pg_bin_in(&lib).expect_err("nothing installed");
        assert!(err.contains("apt-get install postgresql"), "{err}");
        let _ = std::fs::remove_dir_all(&lib);
    }

    #[test]
    fn the_newest_major_version_with_an_initdb_is_chosen() {
        let lib = scratch("versions");
        for (version, with_initdb) in [("9", true), ("15", true), ("16", false), ("x", true)] {
            let bin = lib.join(version).join("bin");
            std::fs::create_dir_all(&bin).expect("bin");
            if with_initdb {
                std::fs::write(bin.join("initdb"), b"").expect("initdb");
            }
        }
        assert_eq!(pg_bin_in(&lib).expect("found"), lib.join("15").join("bin"));
        let _ = std::fs::remove_dir_all(&lib);
    }
}
