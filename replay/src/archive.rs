//! The motcua archive: a self-contained, stable file holding a contiguous range of the event log,
//! written by `motcua export` / `backup` / `GET /v1/export` and read by `motcua-replay`.
//!
//! The byte layout is documented in `docs/archive-format.md` and pinned by golden tests
//! (`tests/archive_golden.rs`). In short (all integers big-endian):
//!
//! ```text
//! "MOTCUAAR"  u16 format_version
//! u16 len + unit (UTF-8)   u64 first_seq   u64 last_seq   [32] first_prev_hash
//! i64 created_at_ms        u16 len + engine_version (UTF-8)
//! { u32 len (1..=MAX_RECORD_BYTES)  len bytes: the log's stored record of one envelope }*
//! u32 0  (end of records)
//! "MOTCUAEN"  u64 count  [32] head_hash  [32] SHA-256 of every byte before this field
//! EOF
//! ```
//!
//! Why a stream of length-prefixed records rather than one encoded structure: an archive of a
//! million events is read and written in constant memory, a truncated file still yields every
//! complete record before the cut (and says where it stopped), and the records are byte for byte
//! what the log stores (`codec::encode_record(Envelope)`), so each event's hash can be checked
//! against the very bytes the commune's server wrote.
//!
//! The reader never trusts a length: records are bounded by [`MAX_RECORD_BYTES`], strings by
//! [`MAX_HEADER_STRING`], and anything after the trailer is an error.

use std::io::{self, Read, Write};

use motcua_engine::codec;
use motcua_engine::log::{ChainCheck, Envelope, EventLog, LogError, GENESIS_HASH};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// First 8 bytes of every archive.
pub const MAGIC: [u8; 8] = *b"MOTCUAAR";
/// First 8 bytes of the trailer, after the end-of-records marker.
pub const TRAILER_MAGIC: [u8; 8] = *b"MOTCUAEN";
/// The archive layout version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Largest record accepted: the codec refuses to decode more than `DECODE_LIMIT` bytes of body
/// after the record's format byte, so nothing larger could be a valid record. Bounds memory
/// against a corrupt or hostile length prefix.
pub const MAX_RECORD_BYTES: u32 = codec::DECODE_LIMIT as u32 + 1;
/// Longest header string (unit code, engine version) in bytes.
pub const MAX_HEADER_STRING: usize = 1024;
/// Trailer size after the end-of-records marker: magic, count, head hash, SHA-256.
pub const TRAILER_LEN: usize = 8 + 8 + 32 + 32;

/// Everything that can go wrong writing or reading an archive.
#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("not a motcua archive (bad magic {found})")]
    BadMagic { found: String },
    #[error("archive format version {found} is not supported (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion { found: u16 },
    #[error("corrupt archive header: {0}")]
    BadHeader(String),
    #[error("record at byte {offset} claims {len} bytes, more than the limit {MAX_RECORD_BYTES}")]
    RecordTooLarge { offset: u64, len: u32 },
    #[error("archive truncated at byte {offset} ({what}); last complete record: seq {}", fmt_seq(*.last_good_seq))]
    Truncated {
        offset: u64,
        what: &'static str,
        last_good_seq: Option<u64>,
    },
    #[error("bad trailer magic at byte {offset}")]
    BadTrailer { offset: u64 },
    #[error("{extra}+ byte(s) of trailing garbage after the trailer at byte {offset}")]
    TrailingGarbage { offset: u64, extra: u64 },
    #[error("writer: {0}")]
    Writer(String),
    #[error("log: {0}")]
    Log(#[from] LogError),
}

fn fmt_seq(seq: Option<u64>) -> String {
    seq.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// The archive header: what the archive claims to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveHeader {
    /// The exporting unit's code (e.g. `000.00.00.G10`); empty when not known.
    pub unit: String,
    /// Seq of the first event (1 for a full export).
    pub first_seq: u64,
    /// Seq of the last event (`first_seq - 1` for an empty range).
    pub last_seq: u64,
    /// `prev_hash` of the first event: the hash of event `first_seq - 1`, all zeros from seq 1.
    /// An auditor holding an earlier archive checks that it equals that archive's head.
    pub first_prev_hash: [u8; 32],
    /// When the archive was written (UTC unix milliseconds).
    pub created_at_ms: i64,
    /// `motcua-engine` version that wrote it.
    pub engine_version: String,
}

impl ArchiveHeader {
    /// Number of events the header announces.
    pub fn expected_count(&self) -> u64 {
        // checked: a hostile header may claim last_seq = u64::MAX (found by fuzzing).
        self.last_seq
            .checked_sub(self.first_seq)
            .map_or(0, |d| d.saturating_add(1))
    }

    /// The header's bytes, magic and format version included.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ArchiveError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        put_str(&mut out, &self.unit)?;
        out.extend_from_slice(&self.first_seq.to_be_bytes());
        out.extend_from_slice(&self.last_seq.to_be_bytes());
        out.extend_from_slice(&self.first_prev_hash);
        out.extend_from_slice(&self.created_at_ms.to_be_bytes());
        put_str(&mut out, &self.engine_version)?;
        Ok(out)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), ArchiveError> {
    if s.len() > MAX_HEADER_STRING {
        return Err(ArchiveError::Writer(format!(
            "header string of {} bytes exceeds {MAX_HEADER_STRING}",
            s.len()
        )));
    }
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// The trailer as read, plus the checksum the reader computed over the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// Number of records the writer wrote.
    pub count: u64,
    /// Hash of the last event (the header's `first_prev_hash` for an empty archive).
    pub head_hash: [u8; 32],
    /// SHA-256 stored in the file.
    pub sha256: [u8; 32],
    /// SHA-256 the reader computed over every byte before the stored one.
    pub computed_sha256: [u8; 32],
    /// Records the reader actually read.
    pub records_read: u64,
}

impl Trailer {
    pub fn checksum_ok(&self) -> bool {
        self.sha256 == self.computed_sha256
    }
}

/// What a finished write produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveSummary {
    pub count: u64,
    pub head_hash: [u8; 32],
    pub sha256: [u8; 32],
    pub bytes: u64,
}

/// A `Write` adapter hashing and counting everything written through it.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }
}

/// Streaming archive writer: header at creation, one record per [`push`](Self::push), trailer on
/// [`finish`](Self::finish). Refuses to write an archive that would contradict its own header
/// (a seq outside the range, a gap, a broken link: the engine's `ChainCheck`, anchored at the
/// header), so a bug upstream cannot produce an archive that only fails later, at the
/// inspector's desk.
pub struct ArchiveWriter<W: Write> {
    out: HashingWriter<W>,
    header: ArchiveHeader,
    chain: ChainCheck,
    count: u64,
    head: [u8; 32],
}

impl<W: Write> ArchiveWriter<W> {
    /// Writes the header.
    pub fn new(out: W, header: ArchiveHeader) -> Result<ArchiveWriter<W>, ArchiveError> {
        if header.first_seq == 0 || header.last_seq + 1 < header.first_seq {
            return Err(ArchiveError::Writer(format!(
                "invalid seq range {}..={}",
                header.first_seq, header.last_seq
            )));
        }
        let mut out = HashingWriter {
            inner: out,
            hasher: Sha256::new(),
            bytes: 0,
        };
        out.put(&header.to_bytes()?)?;
        let head = header.first_prev_hash;
        Ok(ArchiveWriter {
            out,
            chain: ChainCheck::anchored(header.first_seq, head),
            header,
            count: 0,
            head,
        })
    }

    /// Appends one envelope, encoded exactly as the log stores it.
    pub fn push(&mut self, env: &Envelope) -> Result<(), ArchiveError> {
        if env.seq > self.header.last_seq {
            return Err(ArchiveError::Writer(format!(
                "seq {} is outside the range {}..={}",
                env.seq, self.header.first_seq, self.header.last_seq
            )));
        }
        // Position and link only: the content's hash is the log's to have checked.
        let breaks = self
            .chain
            .check_parts(env.seq, &env.prev_hash, &env.hash, None);
        if let Some(b) = breaks.into_iter().next() {
            return Err(ArchiveError::Writer(format!("seq {}: {b}", b.seq())));
        }
        let record = codec::encode_record(env);
        let len = u32::try_from(record.len())
            .ok()
            .filter(|l| *l <= MAX_RECORD_BYTES)
            .ok_or_else(|| ArchiveError::Writer(format!("seq {} record too large", env.seq)))?;
        self.out.put(&len.to_be_bytes())?;
        self.out.put(&record)?;
        self.count += 1;
        self.head = env.hash;
        Ok(())
    }

    /// Writes the end marker and the trailer, flushes, and returns the summary and the sink.
    pub fn finish(mut self) -> Result<(ArchiveSummary, W), ArchiveError> {
        if self.count != self.header.expected_count() {
            return Err(ArchiveError::Writer(format!(
                "header announces {} events, {} written",
                self.header.expected_count(),
                self.count
            )));
        }
        self.out.put(&0u32.to_be_bytes())?;
        self.out.put(&TRAILER_MAGIC)?;
        self.out.put(&self.count.to_be_bytes())?;
        let head = self.head;
        self.out.put(&head)?;
        let sha: [u8; 32] = self.out.hasher.clone().finalize().into();
        self.out.inner.write_all(&sha)?;
        self.out.inner.flush()?;
        let bytes = self.out.bytes + 32;
        Ok((
            ArchiveSummary {
                count: self.count,
                head_hash: head,
                sha256: sha,
                bytes,
            },
            self.out.inner,
        ))
    }
}

/// What to put in the header besides the range, which is read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveMeta {
    pub unit: String,
    pub created_at_ms: i64,
}

/// The engine version recorded in archives written by this build.
pub fn engine_version() -> String {
    format!("motcua-replay {}", env!("CARGO_PKG_VERSION"))
}

/// Writes events `from..=to` of `log` (clamped to its durable head; `to: None` = the head) to
/// `out`. The range is fixed when the call starts: events appended meanwhile are not included.
pub fn write_archive<W: Write>(
    log: &EventLog,
    from: u64,
    to: Option<u64>,
    meta: &ArchiveMeta,
    out: W,
) -> Result<(ArchiveSummary, W), ArchiveError> {
    let head = log.head().seq;
    let first_seq = from.max(1);
    let last_seq = to.unwrap_or(head).min(head).max(first_seq - 1);
    let first_prev_hash = if first_seq == 1 {
        GENESIS_HASH
    } else {
        // The hash of event `first_seq - 1` itself, not the next event's `prev_hash`: for an
        // empty range at the head the next event may not exist yet, and the moving head is not
        // the anchor once events arrive meanwhile.
        match log.read_all(first_seq - 2, 1)?.into_iter().next() {
            Some(env) if env.seq == first_seq - 1 => env.hash,
            // Range starts after the head: an empty archive anchored at the head.
            _ => log.head().hash,
        }
    };
    let header = ArchiveHeader {
        unit: meta.unit.clone(),
        first_seq,
        last_seq,
        first_prev_hash,
        created_at_ms: meta.created_at_ms,
        engine_version: engine_version(),
    };
    let events = log
        .scan(first_seq - 1)
        .take_while(|r| r.as_ref().map_or(true, |e| e.seq <= last_seq));
    write_archive_from(header, events, out)
}

/// Writes `header`, then every envelope of `events`, then the trailer.
pub fn write_archive_from<W, I, E>(
    header: ArchiveHeader,
    events: I,
    out: W,
) -> Result<(ArchiveSummary, W), ArchiveError>
where
    W: Write,
    I: IntoIterator<Item = Result<Envelope, E>>,
    ArchiveError: From<E>,
{
    let mut w = ArchiveWriter::new(out, header)?;
    for env in events {
        w.push(&env?)?;
    }
    w.finish()
}

impl From<std::convert::Infallible> for ArchiveError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

/// One record as read from an archive: the log's stored bytes of one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Byte offset of the record's length prefix in the archive.
    pub offset: u64,
    pub bytes: Vec<u8>,
}

impl RawRecord {
    /// The seq the record announces, read from its first field without decoding the rest (the
    /// record is `[format byte] ++ bincode(Envelope)` and `seq` is the first field, a bincode
    /// varint). Used to name the last good seq when a later record is cut off.
    pub fn seq_hint(&self) -> Option<u64> {
        peek_seq(&self.bytes)
    }
}

/// Reads the bincode varint `seq` after a record's format byte.
pub fn peek_seq(record: &[u8]) -> Option<u64> {
    let b = record.get(1..)?;
    let (&tag, rest) = b.split_first()?;
    match tag {
        0..=250 => Some(u64::from(tag)),
        251 => Some(u64::from(u16::from_le_bytes(
            rest.get(..2)?.try_into().ok()?,
        ))),
        252 => Some(u64::from(u32::from_le_bytes(
            rest.get(..4)?.try_into().ok()?,
        ))),
        253 => Some(u64::from_le_bytes(rest.get(..8)?.try_into().ok()?)),
        _ => None,
    }
}

/// A `Read` adapter hashing and counting everything read through it.
struct HashingReader<R: Read> {
    inner: R,
    hasher: Sha256,
    offset: u64,
}

impl<R: Read> HashingReader<R> {
    /// Reads exactly `buf.len()` bytes; `Ok(false)` if the input ended first (partial data is
    /// still counted so the offset says where it ended).
    fn fill(&mut self, buf: &mut [u8], hash: bool) -> io::Result<bool> {
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if hash {
            self.hasher.update(&buf[..done]);
        }
        self.offset += done as u64;
        Ok(done == buf.len())
    }
}

/// Streaming, bounded archive reader. Yields each record's bytes in file order; checks the
/// structure (magic, version, bounds, end marker, trailer magic, nothing after the trailer) and
/// computes the checksum, but leaves judging the content (hashes, count, head) to the caller:
/// an auditor wants every finding, not the first error.
pub struct ArchiveReader<R: Read> {
    input: HashingReader<R>,
    header: ArchiveHeader,
    last_good_seq: Option<u64>,
    records: u64,
    trailer: Option<Trailer>,
}

impl<R: Read> ArchiveReader<R> {
    /// Reads and checks the header.
    pub fn open(input: R) -> Result<ArchiveReader<R>, ArchiveError> {
        let mut input = HashingReader {
            inner: input,
            hasher: Sha256::new(),
            offset: 0,
        };
        let mut magic = [0u8; 8];
        if !input.fill(&mut magic, true)? {
            return Err(ArchiveError::BadMagic {
                found: hex::encode(&magic[..input.offset as usize]),
            });
        }
        if magic != MAGIC {
            return Err(ArchiveError::BadMagic {
                found: hex::encode(magic),
            });
        }
        let version = u16::from_be_bytes(read_arr(&mut input, "format version")?);
        if version != FORMAT_VERSION {
            return Err(ArchiveError::UnsupportedVersion { found: version });
        }
        let unit = read_str(&mut input, "unit")?;
        let first_seq = u64::from_be_bytes(read_arr(&mut input, "first_seq")?);
        let last_seq = u64::from_be_bytes(read_arr(&mut input, "last_seq")?);
        let first_prev_hash = read_arr::<_, 32>(&mut input, "first_prev_hash")?;
        let created_at_ms = i64::from_be_bytes(read_arr(&mut input, "created_at_ms")?);
        let engine_version = read_str(&mut input, "engine_version")?;
        if first_seq == 0 || last_seq.saturating_add(1) < first_seq {
            return Err(ArchiveError::BadHeader(format!(
                "invalid seq range {first_seq}..={last_seq}"
            )));
        }
        Ok(ArchiveReader {
            input,
            header: ArchiveHeader {
                unit,
                first_seq,
                last_seq,
                first_prev_hash,
                created_at_ms,
                engine_version,
            },
            last_good_seq: None,
            records: 0,
            trailer: None,
        })
    }

    pub fn header(&self) -> &ArchiveHeader {
        &self.header
    }

    /// The trailer, once [`next_record`](Self::next_record) has returned `Ok(None)`.
    pub fn trailer(&self) -> Option<&Trailer> {
        self.trailer.as_ref()
    }

    /// Seq announced by the last complete record read.
    pub fn last_good_seq(&self) -> Option<u64> {
        self.last_good_seq
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.input.offset
    }

    fn truncated(&self, what: &'static str) -> ArchiveError {
        ArchiveError::Truncated {
            offset: self.input.offset,
            what,
            last_good_seq: self.last_good_seq,
        }
    }

    /// The next record, or `Ok(None)` once the trailer has been read and the input has ended.
    pub fn next_record(&mut self) -> Result<Option<RawRecord>, ArchiveError> {
        if self.trailer.is_some() {
            return Ok(None);
        }
        let offset = self.input.offset;
        let mut len = [0u8; 4];
        if !self.input.fill(&mut len, true)? {
            return Err(self.truncated("record length"));
        }
        let len = u32::from_be_bytes(len);
        if len == 0 {
            self.read_trailer()?;
            return Ok(None);
        }
        if len > MAX_RECORD_BYTES {
            return Err(ArchiveError::RecordTooLarge { offset, len });
        }
        let mut bytes = vec![0u8; len as usize];
        if !self.input.fill(&mut bytes, true)? {
            return Err(self.truncated("record body"));
        }
        let rec = RawRecord { offset, bytes };
        if let Some(seq) = rec.seq_hint() {
            self.last_good_seq = Some(seq);
        }
        self.records += 1;
        Ok(Some(rec))
    }

    fn read_trailer(&mut self) -> Result<(), ArchiveError> {
        let at = self.input.offset;
        let mut magic = [0u8; 8];
        if !self.input.fill(&mut magic, true)? {
            return Err(self.truncated("trailer"));
        }
        if magic != TRAILER_MAGIC {
            return Err(ArchiveError::BadTrailer { offset: at });
        }
        let mut count = [0u8; 8];
        let mut head_hash = [0u8; 32];
        if !self.input.fill(&mut count, true)? || !self.input.fill(&mut head_hash, true)? {
            return Err(self.truncated("trailer"));
        }
        let computed_sha256: [u8; 32] = self.input.hasher.clone().finalize().into();
        let mut sha256 = [0u8; 32];
        if !self.input.fill(&mut sha256, false)? {
            return Err(self.truncated("trailer checksum"));
        }
        let end = self.input.offset;
        let mut extra = [0u8; 64];
        let mut n = 0u64;
        loop {
            match self.input.inner.read(&mut extra) {
                Ok(0) => break,
                Ok(k) => {
                    n += k as u64;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if n > 0 {
            return Err(ArchiveError::TrailingGarbage {
                offset: end,
                extra: n,
            });
        }
        self.trailer = Some(Trailer {
            count: u64::from_be_bytes(count),
            head_hash,
            sha256,
            computed_sha256,
            records_read: self.records,
        });
        Ok(())
    }
}

impl<R: Read> Iterator for ArchiveReader<R> {
    type Item = Result<RawRecord, ArchiveError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

fn read_arr<R: Read, const N: usize>(
    input: &mut HashingReader<R>,
    what: &'static str,
) -> Result<[u8; N], ArchiveError> {
    let mut buf = [0u8; N];
    if !input.fill(&mut buf, true)? {
        return Err(ArchiveError::Truncated {
            offset: input.offset,
            what,
            last_good_seq: None,
        });
    }
    Ok(buf)
}

fn read_str<R: Read>(
    input: &mut HashingReader<R>,
    what: &'static str,
) -> Result<String, ArchiveError> {
    let len = u16::from_be_bytes(read_arr(input, what)?) as usize;
    if len > MAX_HEADER_STRING {
        return Err(ArchiveError::BadHeader(format!(
            "{what}: {len} bytes exceeds {MAX_HEADER_STRING}"
        )));
    }
    let mut buf = vec![0u8; len];
    if !input.fill(&mut buf, true)? {
        return Err(ArchiveError::Truncated {
            offset: input.offset,
            what,
            last_good_seq: None,
        });
    }
    String::from_utf8(buf).map_err(|e| ArchiveError::BadHeader(format!("{what}: {e}")))
}

/// Decodes a record's envelope (the log's codec, with its limits).
pub fn decode_record(bytes: &[u8]) -> Result<Envelope, codec::CodecError> {
    codec::decode_record(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_seq_reads_every_varint_width() {
        for seq in [0u64, 1, 250, 251, 65_535, 65_536, 1 << 40] {
            let mut rec = vec![1u8];
            rec.extend(codec::encode(&seq));
            rec.extend([9, 9, 9]);
            assert_eq!(peek_seq(&rec), Some(seq), "{seq}");
        }
        assert_eq!(peek_seq(&[1]), None);
        assert_eq!(peek_seq(&[1, 253, 0]), None);
    }

    #[test]
    fn empty_archive_round_trips() {
        let header = ArchiveHeader {
            unit: "000.00.00.G10".into(),
            first_seq: 1,
            last_seq: 0,
            first_prev_hash: GENESIS_HASH,
            created_at_ms: 0,
            engine_version: "t".into(),
        };
        let (sum, bytes) = write_archive_from(
            header.clone(),
            std::iter::empty::<Result<Envelope, std::convert::Infallible>>(),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(sum.count, 0);
        let mut r = ArchiveReader::open(&bytes[..]).unwrap();
        assert_eq!(r.header(), &header);
        assert!(r.next_record().unwrap().is_none());
        let t = r.trailer().unwrap();
        assert!(t.checksum_ok());
        assert_eq!(t.count, 0);
        assert_eq!(t.head_hash, GENESIS_HASH);
        let mut garbage = bytes.clone();
        garbage.push(0);
        let mut r = ArchiveReader::open(&garbage[..]).unwrap();
        assert!(matches!(
            r.next_record(),
            Err(ArchiveError::TrailingGarbage { extra: 1, .. })
        ));
    }

    #[test]
    fn rejects_huge_length_prefix_without_allocating() {
        let header = ArchiveHeader {
            unit: String::new(),
            first_seq: 1,
            last_seq: 1,
            first_prev_hash: GENESIS_HASH,
            created_at_ms: 0,
            engine_version: String::new(),
        };
        let mut bytes = header.to_bytes().unwrap();
        bytes.extend(u32::MAX.to_be_bytes());
        let mut r = ArchiveReader::open(&bytes[..]).unwrap();
        assert!(matches!(
            r.next_record(),
            Err(ArchiveError::RecordTooLarge { len: u32::MAX, .. })
        ));
    }
}
