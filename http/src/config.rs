//! Server configuration: what `motcua serve` takes from flags and environment, and what tests
//! set directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Body limit applied to every request (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Default floor of a public lookup's answer time (see [`ServeConfig::lookup_min_latency`]).
pub const DEFAULT_LOOKUP_MIN_LATENCY: Duration = Duration::from_millis(5);

/// Read-your-writes wait: the projections fold a batch in milliseconds; two seconds covers a
/// loaded box, beyond it the write answers anyway (with `state: null`) rather than hang.
pub const DEFAULT_READ_YOUR_WRITES_TIMEOUT: Duration = Duration::from_secs(2);

/// Graceful shutdown waits this long for in-flight requests (the slowest is an export).
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// On shutdown, a request still receiving its body this long after the signal is cut (answered
/// 503 and its connection closed): a stalled upload once held the whole drain. Requests whose
/// body has arrived are deciding or writing, and complete within the drain timeout.
pub const DEFAULT_UPLOAD_GRACE: Duration = Duration::from_secs(1);

/// Public lookups per client address: a citizen checks a few codes at once, not hundreds; the
/// bucket refills at [`DEFAULT_LOOKUP_PER_SECOND`], which keeps guessing secrets hopeless.
pub const DEFAULT_LOOKUP_BURST: u32 = 20;
pub const DEFAULT_LOOKUP_PER_SECOND: f64 = 2.0;

/// Failed authentications per client address, then one per second: a mistyped token is
/// retried a few times, a token-guessing run is slowed to nothing.
pub const DEFAULT_AUTH_FAIL_BURST: u32 = 20;
pub const DEFAULT_AUTH_FAIL_PER_SECOND: f64 = 1.0;

/// Failed console sign-ins per account (by username): five mistakes, then one more try a
/// minute. Someone guessing one officer's password gets a few hundred tries a week, an
/// officer who mistyped waits a minute.
pub const SIGNIN_FAILURES_PER_ACCOUNT: u32 = 5;
pub const SIGNIN_ACCOUNT_REFILL_PER_SECOND: f64 = 1.0 / 60.0;
/// Failed console sign-ins per client address (IPv6 by its /64), whatever the usernames: a
/// commune's office shares one address behind its router, so more than per account, but a
/// run over many usernames from one machine is slowed to one try every ten seconds.
pub const SIGNIN_FAILURES_PER_ADDRESS: u32 = 20;
pub const SIGNIN_ADDRESS_REFILL_PER_SECOND: f64 = 0.1;

/// Connections held at once at most (lowered further to leave the log its file descriptors:
/// see `listener::connection_cap`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// A connection with no byte moving either way for this long is closed (an idle keep-alive, a
/// client that connected and sent nothing, a stalled upload).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest request target (path and query) answered: the longest the API needs is a list
/// query with a cursor, well under 1 KiB. Below hyper's own limit (64 KiB), which answers a
/// bare 414 with no problem body; between the two the answer is a 414 problem.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The most header bytes (names and values) answered: a token, a key and a browser's usual
/// headers fit in 4 KiB. Below hyper's own limits (about 400 KiB of buffer, 100 headers),
/// which answer a bare 431; between the two the answer is a 431 problem.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Online submissions one portal account may make per day (the commune's local day). One
/// citizen token once took all 9,999 of a unit's daily codes; a citizen files a handful of
/// dossiers a year. An account that files for many citizens (a shared portal) is configured
/// higher (`--online-quota-per-account`).
pub const DEFAULT_ONLINE_QUOTA_PER_ACCOUNT: u32 = 50;

/// Online submissions per client address per day (IPv6 by its /64; behind a trusted proxy,
/// the forwarded address): the accounts of one machine together. A portal that submits from
/// its own server is configured higher (`--online-quota-per-address`).
pub const DEFAULT_ONLINE_QUOTA_PER_ADDRESS: u32 = 100;

/// The most dossiers one download of the register (slip 06 for a period,
/// `GET /v1/reports/register`) holds: each row reads the dossier's events and opens its
/// applicant, so a commune's busiest quarter fits and a year of a district does not tie the
/// server up; a longer register is asked for in shorter periods (`--register-max-rows`).
pub const DEFAULT_REGISTER_MAX_ROWS: usize = 5_000;

/// Client addresses the online quota keeps a count for in one day; beyond, submissions from a
/// new address are refused (429) until the next day, so rotating addresses cannot grow memory.
pub const MAX_QUOTA_ADDRESSES: usize = 100_000;

/// The shortest metrics token accepted: it is a bearer secret like a staff token (64 hex
/// digits), so it must not be guessable either.
pub const MIN_METRICS_TOKEN_LEN: usize = 32;

/// Everything `server::start` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data directory of the event log (created if missing).
    pub data_dir: PathBuf,
    /// Address to bind; port 0 picks a free port (see `RunningServer::addr`).
    pub bind: SocketAddr,
    /// Seed the demo commune when the log is empty.
    pub demo: bool,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// Largest file one upload may carry (`POST /v1/dossiers/{code}/files`), at most the
    /// domain's `MAX_FILE_BYTES`, its default; tests set a smaller one.
    pub max_file_bytes: u64,
    /// How long a write waits for the read models to reach its seq before answering anyway
    /// (read-your-writes is then not guaranteed and the response says so).
    pub read_your_writes_timeout: Duration,
    /// How long graceful shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
    /// See [`DEFAULT_UPLOAD_GRACE`].
    pub upload_grace: Duration,
    /// Public lookup: burst and refill per second, per client address.
    pub lookup_burst: u32,
    pub lookup_per_second: f64,
    /// Public lookup: every answer (found or not) waits until this long after the request
    /// began, so the time taken does not tell an existing code with a wrong secret from a code
    /// that does not exist (the work differs by a record read and a hash: tens of
    /// microseconds, far below the floor).
    pub lookup_min_latency: Duration,
    /// Failed authentication attempts: burst and refill per second, per client address.
    pub auth_fail_burst: u32,
    pub auth_fail_per_second: f64,
    /// Print demo tokens (`demo-token role=...`) on stdout when seeding.
    pub print_demo_tokens: bool,
    /// Bound of the log writer's queue (appends); when full, writes answer 429.
    pub log_queue_depth: usize,
    /// See [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// A bearer token that reads `/metrics` and nothing else (for Prometheus), besides an
    /// auditor's or admin's staff token. At least [`MIN_METRICS_TOKEN_LEN`] characters.
    pub metrics_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`crate::proxy::client_addr`);
    /// empty: every request is attributed to its socket peer.
    pub trusted_proxies: Vec<crate::proxy::Cidr>,
    /// See [`DEFAULT_ONLINE_QUOTA_PER_ACCOUNT`].
    pub online_quota_per_account: u32,
    /// See [`DEFAULT_ONLINE_QUOTA_PER_ADDRESS`].
    pub online_quota_per_address: u32,
    /// Daily codes of a unit kept for the desk (`motcua_engine::service::DEFAULT_DESK_RESERVE`).
    pub desk_reserve: u16,
    /// See [`DEFAULT_REGISTER_MAX_ROWS`].
    pub register_max_rows: usize,
    /// The console's session cookie carries `Secure` (set when browsers reach the server over
    /// TLS, i.e. behind a TLS-terminating proxy: `--secure-cookies`).
    pub secure_cookies: bool,
    /// The address citizens reach the public lookup at (`https://motcua.xa.gov.vn`, no path
    /// after the host but an optional prefix, no trailing slash): slip 01's QR code points to
    /// `<public_url>/tra-cuu?ma=CODE&mk=SECRET` (`--public-url`). `None`: `http://` and the
    /// address the server is listening on, filled in by `server::start`.
    pub public_url: Option<String>,
    /// Sign a checkpoint of the log's head at start and after each local midnight
    /// (`docs/checkpoints.md`). Off unless asked: `motcua serve` turns it on (`--no-checkpoints`
    /// turns it off), so the servers tests start write only what they test.
    pub sign_checkpoints: bool,
    /// The checkpoint key store; `None`: `checkpoint-keys/` in the data directory.
    pub checkpoint_keys: Option<PathBuf>,
}

impl ServeConfig {
    pub fn new(data_dir: impl Into<PathBuf>, bind: SocketAddr) -> ServeConfig {
        ServeConfig {
            data_dir: data_dir.into(),
            bind,
            demo: false,
            body_limit: DEFAULT_BODY_LIMIT,
            max_file_bytes: motcua_engine::domain::files::MAX_FILE_BYTES,
            read_your_writes_timeout: DEFAULT_READ_YOUR_WRITES_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            upload_grace: DEFAULT_UPLOAD_GRACE,
            lookup_burst: DEFAULT_LOOKUP_BURST,
            lookup_per_second: DEFAULT_LOOKUP_PER_SECOND,
            lookup_min_latency: DEFAULT_LOOKUP_MIN_LATENCY,
            auth_fail_burst: DEFAULT_AUTH_FAIL_BURST,
            auth_fail_per_second: DEFAULT_AUTH_FAIL_PER_SECOND,
            print_demo_tokens: true,
            log_queue_depth: motcua_engine::log::limits::DEFAULT_QUEUE_DEPTH,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            metrics_token: None,
            trusted_proxies: Vec::new(),
            online_quota_per_account: DEFAULT_ONLINE_QUOTA_PER_ACCOUNT,
            online_quota_per_address: DEFAULT_ONLINE_QUOTA_PER_ADDRESS,
            desk_reserve: motcua_engine::service::DEFAULT_DESK_RESERVE,
            register_max_rows: DEFAULT_REGISTER_MAX_ROWS,
            secure_cookies: false,
            public_url: None,
            sign_checkpoints: false,
            checkpoint_keys: None,
        }
    }

    /// The public base address (see [`ServeConfig::public_url`]); empty before
    /// `server::start` filled in the default.
    pub fn public_base(&self) -> &str {
        self.public_url.as_deref().unwrap_or("")
    }
}

/// Checks a `--public-url`: `http://` or `https://`, a host, no query or fragment; the
/// trailing slash removed (the lookup's path is appended).
pub fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("--public-url must start with http:// or https://: {raw:?}"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || url.contains(['?', '#', ' ', '"', '<', '>'])
        || url.chars().any(|c| c.is_control())
    {
        return Err(format!(
            "--public-url must name a host, without query or fragment: {raw:?}"
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_public_url;

    #[test]
    fn a_public_url_is_a_scheme_and_a_host_without_query() {
        assert_eq!(
            parse_public_url("https://motcua.duongphong.gov.vn/").as_deref(),
            Ok("https://motcua.duongphong.gov.vn")
        );
        assert_eq!(
            parse_public_url("http://10.0.0.5:8080/motcua").as_deref(),
            Ok("http://10.0.0.5:8080/motcua")
        );
        assert!(parse_public_url("motcua.gov.vn").is_err());
        assert!(parse_public_url("https://").is_err());
        assert!(parse_public_url("https://a.vn/?x=1").is_err());
    }
}
