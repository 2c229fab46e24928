//! The event log on PostgreSQL: `PgLogStore`, the [`LogStore`] whose invariants hold by the
//! database's own constraints and transactions (docs/postgres.md).
//!
//! One table, `events`, one row per event: the envelope's bytes exactly as the codec writes
//! them (`record`) beside the columns the constraints and lookups need. A gapless seq and the
//! hash chain hold by a foreign key from `(prev_seq, prev_hash)` to `(seq, hash)`, `prev_seq`
//! being `seq - 1` by a check; contiguous stream versions by `unique (stream, version)` and a
//! foreign key from `(stream, prev_version)`, `prev_version` being `version - 1`; unique event ids by a unique constraint. A batch is one transaction,
//! committed under `synchronous_commit = on`: the commit is the durability point, so
//! [`LogStore::make_durable`] has nothing left to do.
//!
//! The `postgres` client blocks on a tokio runtime of its own, which panics when called from a
//! thread that drives the server's runtime. So every connection lives on a thread of its own
//! (one for the writer, [`PG_READ_CONNECTIONS`] for readers) and callers hand it a job and wait
//! for the answer, as they wait for sled's blocking reads.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;

use ::postgres::error::SqlState;
use ::postgres::{Client, NoTls};

use super::envelope::{Envelope, EventId, Position, StreamId};
use super::error::LogError;
use super::reader::{decode_event, MetaHead};
use super::store::{EnvelopeIter, LogStore, Prefetched};
use super::verify::{finding_about, VerifyReport, Walk};
use crate::codec::{self, FORMAT_VERSION};
use crate::storage::StorageError;

/// Connections that serve reads (the writer has its own).
pub const PG_READ_CONNECTIONS: usize = 2;
/// Events fetched per query by a scan or a verification walk.
pub const PG_SCAN_PAGE: usize = 512;
/// The version of the schema below, kept in `motcua_meta`.
pub const PG_SCHEMA_VERSION: i64 = 1;

/// The schema, created on open if absent. `prev_seq` and `prev_version` are plain columns tied
/// to `seq` and `version` by checks rather than generated columns, which YugabyteDB before its
/// PostgreSQL 15 base lacks; the checks make them exactly as strong. docs/postgres.md says,
/// statement by statement, what differs on CockroachDB and YugabyteDB.
const SCHEMA: &str = r#"
create table if not exists motcua_meta (
    key   text primary key,
    value text not null
);
create table if not exists events (
    seq            bigint not null primary key,
    prev_seq       bigint,
    hash           bytea  not null,
    prev_hash      bytea  not null,
    stream         text   collate "C" not null,
    version        bigint not null,
    prev_version   bigint,
    event_id       bytea  not null,
    recorded_at_ms bigint not null,
    record         bytea  not null,
    constraint events_seq_positive check (seq >= 1),
    constraint events_prev_seq check (prev_seq is not distinct from (case when seq > 1 then seq - 1 end)),
    constraint events_prev_version check (prev_version is not distinct from (case when version > 1 then version - 1 end)),
    constraint events_version_positive check (version >= 1),
    constraint events_hash_size check (length(hash) = 32 and length(prev_hash) = 32),
    constraint events_event_id_size check (length(event_id) = 16),
    constraint events_genesis check (seq > 1 or prev_hash = '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea),
    constraint events_seq_hash unique (seq, hash),
    constraint events_stream_version unique (stream, version),
    constraint events_event_id unique (event_id),
    constraint events_chain foreign key (prev_seq, prev_hash) references events (seq, hash),
    constraint events_stream_contiguous foreign key (stream, prev_version)
        references events (stream, version)
);
"#;

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// One connection, owned by its own thread.
struct Conn {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Conn {
    fn open(url: &str, name: &str) -> Result<Conn, LogError> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), LogError>>();
        let (tx, rx) = mpsc::channel::<Job>();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut client = match connect(&url) {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Ends when the store (every sender) is dropped; the connection closes with it.
                while let Ok(job) = rx.recv() {
                    job(&mut client);
                }
            })
            .map_err(|e| LogError::Postgres(format!("start {name}: {e}")))?;
        ready_rx
            .recv()
            .map_err(|_| LogError::Postgres(format!("{name} stopped while connecting")))??;
        Ok(Conn {
            jobs: Mutex::new(tx),
        })
    }

    /// Runs `f` on this connection's thread and waits for its answer.
    fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, LogError> + Send + 'static,
    ) -> Result<R, LogError> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |client| {
            let _ = tx.send(f(client));
        });
        {
            let jobs = self.jobs.lock().map_err(|_| LogError::Closed)?;
            jobs.send(job).map_err(|_| LogError::Closed)?;
        }
        rx.recv()
            .map_err(|_| LogError::Postgres("the connection's thread stopped".into()))?
    }
}

fn connect(url: &str) -> Result<Client, LogError> {
    let mut client = Client::connect(url, NoTls).map_err(pg_error)?;
    // The commit is the durability point: it returns once the WAL is flushed on this server.
    client
        .batch_execute("set synchronous_commit = on")
        .map_err(pg_error)?;
    Ok(client)
}

/// A PostgreSQL error as the log's: a refusal by one of its constraints, or anything else.
pub(crate) fn pg_error(e: ::postgres::Error) -> LogError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::FOREIGN_KEY_VIOLATION
            || *code == SqlState::CHECK_VIOLATION
            || *code == SqlState::NOT_NULL_VIOLATION
        {
            return LogError::Constraint {
                constraint: db.constraint().unwrap_or("(unnamed)").to_owned(),
                detail: db.message().to_owned(),
            };
        }
        return LogError::Postgres(format!("{} ({})", db.message(), code.code()));
    }
    LogError::Postgres(e.to_string())
}

fn to_i64(n: u64, what: &str) -> Result<i64, LogError> {
    i64::try_from(n).map_err(|_| LogError::Postgres(format!("{what} {n} exceeds a bigint")))
}

fn to_u64(n: i64, what: &str) -> Result<u64, LogError> {
    u64::try_from(n).map_err(|_| LogError::CorruptMeta(format!("{what} {n} is negative")))
}

/// A `max_seq` as a bigint bound (u64::MAX: no bound).
fn bound(max_seq: u64) -> i64 {
    i64::try_from(max_seq).unwrap_or(i64::MAX)
}

/// Decodes `(seq, record)` rows.
fn envelopes(rows: Vec<::postgres::Row>) -> Result<Vec<Envelope>, LogError> {
    rows.into_iter()
        .map(|row| {
            let seq = to_u64(row.try_get(0).map_err(pg_error)?, "seq")?;
            let record: Vec<u8> = row.try_get(1).map_err(pg_error)?;
            decode_event(seq, &record)
        })
        .collect()
}

/// The log in a PostgreSQL database.
pub struct PgLogStore {
    writer: Conn,
    readers: Vec<Conn>,
    next_reader: AtomicUsize,
}

impl PgLogStore {
    /// Connects, creates the schema if absent and checks its versions.
    pub fn open(url: &str) -> Result<PgLogStore, LogError> {
        let writer = Conn::open(url, "motcua-pg-writer")?;
        writer.run(|client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            tx.batch_execute(SCHEMA).map_err(pg_error)?;
            tx.execute(
                "insert into motcua_meta (key, value) values ('schema_version', $1), \
                 ('format_version', $2) on conflict (key) do nothing",
                &[
                    &PG_SCHEMA_VERSION.to_string(),
                    &i64::from(FORMAT_VERSION).to_string(),
                ],
            )
            .map_err(pg_error)?;
            for row in tx
                .query("select key, value from motcua_meta", &[])
                .map_err(pg_error)?
            {
                let key: String = row.try_get(0).map_err(pg_error)?;
                let value: String = row.try_get(1).map_err(pg_error)?;
                let n: i64 = value
                    .parse()
                    .map_err(|_| LogError::CorruptMeta(format!("motcua_meta {key} = {value:?}")))?;
                match key.as_str() {
                    "schema_version" if n > PG_SCHEMA_VERSION => {
                        return Err(LogError::CorruptMeta(format!(
                            "the PostgreSQL schema is version {n}, newer than this build's \
                             {PG_SCHEMA_VERSION}: upgrade motcua"
                        )))
                    }
                    "format_version" if n > i64::from(FORMAT_VERSION) => {
                        return Err(LogError::NewerFormat {
                            found: u8::try_from(n).unwrap_or(u8::MAX),
                            supported: FORMAT_VERSION,
                        })
                    }
                    _ => {}
                }
            }
            tx.commit().map_err(pg_error)
        })?;
        let readers = (0..PG_READ_CONNECTIONS)
            .map(|i| Conn::open(url, &format!("motcua-pg-read-{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PgLogStore {
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The last event's seq, hash and `recorded_at` (zeros for an empty log).
    pub(crate) fn head(&self) -> Result<MetaHead, LogError> {
        self.writer.run(|client| {
            let row = client
                .query_opt(
                    "select seq, hash, recorded_at_ms from events order by seq desc limit 1",
                    &[],
                )
                .map_err(pg_error)?;
            let Some(row) = row else {
                return Ok(MetaHead::default());
            };
            let hash: Vec<u8> = row.try_get(1).map_err(pg_error)?;
            Ok(MetaHead {
                seq: to_u64(row.try_get(0).map_err(pg_error)?, "seq")?,
                hash: hash
                    .try_into()
                    .map_err(|_| LogError::CorruptMeta("a hash of the wrong size".into()))?,
                recorded_at_ms: row.try_get(2).map_err(pg_error)?,
            })
        })
    }

    fn reader(&self) -> &Conn {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed);
        &self.readers[i % self.readers.len()]
    }

    fn query_envelopes(
        &self,
        sql: &'static str,
        params: QueryParams,
    ) -> Result<Vec<Envelope>, LogError> {
        self.reader().run(move |client| {
            let refs = params.refs();
            envelopes(client.query(sql, &refs).map_err(pg_error)?)
        })
    }
}

type Param = dyn ::postgres::types::ToSql + Sync;

/// Owned parameters of a read (a job outlives the caller's borrows).
enum QueryParams {
    Ints(Vec<i64>),
    StreamInts(String, Vec<i64>),
}

impl QueryParams {
    fn refs(&self) -> Vec<&Param> {
        match self {
            QueryParams::Ints(ints) => ints.iter().map(|i| i as &Param).collect(),
            QueryParams::StreamInts(s, ints) => {
                let mut v: Vec<&Param> = vec![s];
                v.extend(ints.iter().map(|i| i as &Param));
                v
            }
        }
    }
}

impl LogStore for PgLogStore {
    fn prefetch(
        &self,
        ids: &[EventId],
        streams: &[StreamId],
    ) -> Result<Option<Prefetched>, LogError> {
        let ids: Vec<Vec<u8>> = ids.iter().map(|id| id.0.to_vec()).collect();
        let names: Vec<String> = streams.iter().map(|s| s.as_str().to_owned()).collect();
        self.writer.run(move |client| {
            let mut events = HashMap::new();
            if !ids.is_empty() {
                let rows = client
                    .query(
                        "select seq, record from events where event_id = any($1)",
                        &[&ids],
                    )
                    .map_err(pg_error)?;
                for env in envelopes(rows)? {
                    events.insert(env.event_id, env);
                }
            }
            let mut versions = HashMap::new();
            if !names.is_empty() {
                let rows = client
                    .query(
                        "select stream, max(version) from events where stream = any($1) \
                         group by stream",
                        &[&names],
                    )
                    .map_err(pg_error)?;
                for row in rows {
                    let stream: String = row.try_get(0).map_err(pg_error)?;
                    let version = to_u64(row.try_get(1).map_err(pg_error)?, "version")?;
                    versions.insert(StreamId::new(stream)?, version);
                }
            }
            Ok(Some(Prefetched { events, versions }))
        })
    }

    fn commit(&self, envelopes: &[Envelope], _head: &MetaHead) -> Result<(), LogError> {
        // The rows are built here, on the writer's thread; the job only sends them. The head
        // needs no row of its own: it is the last event.
        let mut seqs = Vec::with_capacity(envelopes.len());
        let mut hashes = Vec::with_capacity(envelopes.len());
        let mut prev_hashes = Vec::with_capacity(envelopes.len());
        let mut streams = Vec::with_capacity(envelopes.len());
        let mut versions = Vec::with_capacity(envelopes.len());
        let mut ids = Vec::with_capacity(envelopes.len());
        let mut recorded = Vec::with_capacity(envelopes.len());
        let mut records = Vec::with_capacity(envelopes.len());
        for env in envelopes {
            seqs.push(to_i64(env.seq, "seq")?);
            hashes.push(env.hash.to_vec());
            prev_hashes.push(env.prev_hash.to_vec());
            streams.push(env.stream.as_str().to_owned());
            versions.push(to_i64(env.version, "version")?);
            ids.push(env.event_id.0.to_vec());
            recorded.push(env.recorded_at_ms);
            records.push(codec::encode_record(env));
        }
        self.writer.run(move |client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            tx.execute(
                "insert into events (seq, prev_seq, hash, prev_hash, stream, version, \
                 prev_version, event_id, recorded_at_ms, record) \
                 select seq, case when seq > 1 then seq - 1 end, hash, prev_hash, stream, \
                 version, case when version > 1 then version - 1 end, event_id, \
                 recorded_at_ms, record \
                 from unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::text[], \
                 $5::bigint[], $6::bytea[], $7::bigint[], $8::bytea[]) \
                 as r (seq, hash, prev_hash, stream, version, event_id, recorded_at_ms, record)",
                &[
                    &seqs,
                    &hashes,
                    &prev_hashes,
                    &streams,
                    &versions,
                    &ids,
                    &recorded,
                    &records,
                ],
            )
            .map_err(pg_error)?;
            tx.commit().map_err(pg_error)
        })
    }

    fn make_durable(&self) -> Result<(), StorageError> {
        // Each commit returned after its WAL flush (synchronous_commit = on).
        Ok(())
    }

    fn find_event(&self, id: &EventId, max_seq: u64) -> Result<Option<Envelope>, LogError> {
        let id = id.0.to_vec();
        let max = bound(max_seq);
        let mut found = self.reader().run(move |client| {
            envelopes(
                client
                    .query(
                        "select seq, record from events where event_id = $1 and seq <= $2",
                        &[&id, &max],
                    )
                    .map_err(pg_error)?,
            )
        })?;
        Ok(found.pop())
    }

    fn stream_version(&self, stream: &StreamId, max_seq: u64) -> Result<u64, LogError> {
        let stream = stream.as_str().to_owned();
        let max = bound(max_seq);
        self.reader().run(move |client| {
            let row = client
                .query_one(
                    "select coalesce(max(version), 0) from events \
                     where stream = $1 and seq <= $2",
                    &[&stream, &max],
                )
                .map_err(pg_error)?;
            to_u64(row.try_get(0).map_err(pg_error)?, "version")
        })
    }

    fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        // Versions are contiguous and grow with seq, so "up to the first event past max_seq"
        // is "seq <= max_seq".
        self.query_envelopes(
            "select seq, record from events where stream = $1 and version >= $2 and seq <= $3 \
             order by version",
            QueryParams::StreamInts(
                stream.as_str().to_owned(),
                vec![bound(from_version.max(1)), bound(max_seq)],
            ),
        )
    }

    fn read_all(
        &self,
        after_seq: u64,
        limit: usize,
        max_seq: u64,
    ) -> Result<Vec<Envelope>, LogError> {
        if after_seq >= max_seq || limit == 0 {
            return Ok(Vec::new());
        }
        self.query_envelopes(
            "select seq, record from events where seq > $1 and seq <= $2 order by seq limit $3",
            QueryParams::Ints(vec![
                bound(after_seq),
                bound(max_seq),
                i64::try_from(limit).unwrap_or(i64::MAX),
            ]),
        )
    }

    fn scan(&self, after_seq: u64, max_seq: u64) -> EnvelopeIter<'_> {
        Box::new(Scan {
            store: self,
            after: after_seq,
            max_seq,
            page: VecDeque::new(),
            done: false,
        })
    }

    fn last_stream_with_prefix(
        &self,
        prefix: &str,
        max_seq: u64,
    ) -> Result<Option<StreamId>, LogError> {
        // Byte order, as sled's keys: the column is `collate "C"`, which compares bytes, so
        // the prefix is the range [prefix, prefix ++ U+10FFFF) of the (stream, version) index:
        // no character of it is a pattern, as it would be with LIKE.
        let low = prefix.to_owned();
        let high = format!("{prefix}\u{10FFFF}");
        let max = bound(max_seq);
        let stream: Option<String> = self.reader().run(move |client| {
            let row = client
                .query_opt(
                    "select stream from events where stream >= $1 and stream < $2 \
                     and seq <= $3 order by stream desc limit 1",
                    &[&low, &high, &max],
                )
                .map_err(pg_error)?;
            row.map(|r| r.try_get(0)).transpose().map_err(pg_error)
        })?;
        stream.map(|s| StreamId::new(&s)).transpose()
    }

    fn verify(&self, head: Position) -> Result<VerifyReport, LogError> {
        // The chain and versions from the records, as on sled; then the columns the
        // constraints hold must say what the record says (they are this store's indexes).
        // Up to the head only: unlike sled's directory, the database is not this process's
        // alone, and a killed writer's last commit may land after the head was read (its
        // rows are then the next open's; this writer's next commit is refused by the key).
        let mut walk = Walk::new();
        let mut after = 0u64;
        let head_seq = bound(head.seq);
        loop {
            let rows: Vec<VerifyRow> = {
                let a = bound(after);
                let page = i64::try_from(PG_SCAN_PAGE).unwrap_or(i64::MAX);
                self.reader().run(move |client| {
                    client
                        .query(
                            "select seq, record, stream, version, event_id from events \
                             where seq > $1 and seq <= $3 order by seq limit $2",
                            &[&a, &page, &head_seq],
                        )
                        .map_err(pg_error)?
                        .into_iter()
                        .map(|r| {
                            Ok((
                                to_u64(r.try_get(0).map_err(pg_error)?, "seq")?,
                                r.try_get(1).map_err(pg_error)?,
                                r.try_get(2).map_err(pg_error)?,
                                to_u64(r.try_get(3).map_err(pg_error)?, "version")?,
                                r.try_get(4).map_err(pg_error)?,
                            ))
                        })
                        .collect()
                })?
            };
            let Some(last) = rows.last() else { break };
            after = last.0;
            for (seq, record, stream, version, event_id) in rows {
                let Some(env) = walk.event(seq, decode_event(seq, &record)) else {
                    continue;
                };
                if env.stream.as_str() != stream || env.version != version {
                    walk.findings.push(finding_about(
                        &env,
                        "stream_index",
                        format!("the row's columns say {stream} version {version}"),
                    ));
                }
                if env.event_id.0.as_slice() != event_id.as_slice() {
                    walk.findings.push(finding_about(
                        &env,
                        "event_id_index",
                        format!("the row's column says event id {}", hex::encode(&event_id)),
                    ));
                }
            }
        }
        walk.check_head(head);
        Ok(walk.report(head))
    }
}

/// What verification reads of a row: seq, record, stream, version, event id.
type VerifyRow = (u64, Vec<u8>, String, u64, Vec<u8>);

/// A lazy walk of the log, one page per query.
struct Scan<'a> {
    store: &'a PgLogStore,
    after: u64,
    max_seq: u64,
    page: VecDeque<Envelope>,
    done: bool,
}

impl Iterator for Scan<'_> {
    type Item = Result<Envelope, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() && !self.done {
            match self.store.read_all(self.after, PG_SCAN_PAGE, self.max_seq) {
                Ok(page) => {
                    self.done = page.len() < PG_SCAN_PAGE;
                    if let Some(last) = page.last() {
                        self.after = last.seq;
                    }
                    self.page = page.into();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.page.pop_front().map(Ok)
    }
}
