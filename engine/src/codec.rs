//! The one codec: every byte motcua stores or exports is encoded and decoded here.
//!
//! Why one module: bincode 2 is unmaintained and has two traps (see
//! `docs/dependencies.md`): decoding corrupt bytes without a size limit can abort the process
//! on a huge allocation, and some serde attributes encode but never decode. Every decode therefore
//! goes through [`decode`], which applies [`DECODE_LIMIT`] and rejects trailing bytes, and the
//! stored types are kept plain (no `tag`/`untagged`/`flatten`/`skip_serializing_if`).
//!
//! Stored records carry a leading format-version byte ([`FORMAT_VERSION`]) so a future change of
//! the envelope layout is detected instead of misread. Payload schemas evolve separately, keyed by
//! the envelope's `schema_version`, through the [`Upcast`] mechanism.

use serde::{de::DeserializeOwned, Serialize};
use thiserror::Error;

/// Largest byte string any single decode may read (1 MiB). Far above the largest event the log
/// accepts (see `log::limits`), far below anything that could exhaust memory: corrupt length
/// prefixes fail with [`CodecError::Decode`] instead of attempting a huge allocation.
pub const DECODE_LIMIT: usize = 1 << 20;

/// Largest value [`decode_large`] may read (256 MiB). Only for values this engine wrote itself
/// and that grow with the history of one key: a projection's packed bucket holds every row of
/// one unit and day (up to 9,999 dossier records under the daily code numbering) or period, so
/// a busy unit outgrows [`DECODE_LIMIT`] within a day (the SIGKILL soak did: 3,000 records in
/// one day made the bucket unreadable). A corrupt length prefix still fails without a huge
/// allocation.
pub const LARGE_DECODE_LIMIT: usize = 1 << 28;

/// Version of the stored record layout (the first byte of every record written by
/// [`encode_record`]). Bump it, with an upgrade path, whenever the envelope encoding changes.
pub const FORMAT_VERSION: u8 = 1;

/// Errors from decoding (encoding our own plain types does not fail).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    #[error("decode failed: {0}")]
    Decode(String),
    #[error("{0} trailing byte(s) after the encoded value")]
    TrailingBytes(usize),
    #[error("empty record (no format-version byte)")]
    EmptyRecord,
    #[error("record format version {found} is not supported (this build reads 1..={supported})")]
    UnsupportedFormat { found: u8, supported: u8 },
    #[error("unknown schema version {version} for {type_name}")]
    UnknownSchema {
        type_name: &'static str,
        version: u16,
    },
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Encodes a value with the canonical configuration (bincode 2 `standard`: little-endian,
/// variable-length integers).
///
/// Panics only if `T`'s `Serialize` impl uses a serde feature bincode cannot encode (a sequence
/// without a known length): a programming error caught by the first test that touches the type,
/// never something input bytes can cause. Use [`try_encode`] where that cannot be ruled out.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    match try_encode(value) {
        Ok(bytes) => bytes,
        Err(e) => panic!("codec: type cannot be encoded with bincode: {e}"),
    }
}

/// [`encode`] appended to `out` (same bytes), so a caller can reuse one buffer.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    if let Err(e) = bincode::serde::encode_into_std_write(value, out, config()) {
        panic!("codec: type cannot be encoded with bincode: {e}");
    }
}

/// Fallible [`encode`], for types whose `Serialize` impl is not under our control.
pub fn try_encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| CodecError::Decode(e.to_string()))
}

/// Decodes exactly one value from `bytes`, with the [`DECODE_LIMIT`] and no trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, read) = bincode::serde::decode_from_slice::<T, _>(bytes, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - read));
    }
    Ok(value)
}

/// [`decode`] with the [`LARGE_DECODE_LIMIT`], for the engine's own growing values (projection
/// buckets); never for bytes that came from outside (requests, archives, log records).
pub fn decode_large<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let config = bincode::config::standard().with_limit::<LARGE_DECODE_LIMIT>();
    let (value, read) = bincode::serde::decode_from_slice::<T, _>(bytes, config)
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - read));
    }
    Ok(value)
}

/// Encodes a stored record: `[FORMAT_VERSION] ++ encode(value)`.
pub fn encode_record<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let body = encode(value);
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&body);
    out
}

/// Decodes a stored record written by [`encode_record`], refusing unknown format versions.
pub fn decode_record<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::EmptyRecord)?;
    if version == 0 || version > FORMAT_VERSION {
        return Err(CodecError::UnsupportedFormat {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    decode(body)
}

/// Payload upcasting: decode a payload written with any known `schema_version` into today's type.
///
/// Implement it on the current payload type; `upcast` receives the stored schema version and the
/// payload bytes and converts older shapes forward (typically `decode::<V1>(bytes)?.into()`).
/// Events are immutable, so old payloads stay in the log forever: the conversion is the only way
/// they reach today's code. [`decode_payload`] is the single entry point.
pub trait Upcast: Sized {
    /// The schema version new events of this type are written with.
    const CURRENT_SCHEMA: u16;
    /// Type name for error messages.
    const TYPE_NAME: &'static str;
    /// Converts a payload of an older (or the current) schema version.
    fn upcast(schema_version: u16, bytes: &[u8]) -> Result<Self, CodecError>;
}

/// Decodes a payload of the given schema version into `T`, upcasting older versions.
pub fn decode_payload<T: Upcast + DeserializeOwned>(
    schema_version: u16,
    bytes: &[u8],
) -> Result<T, CodecError> {
    if schema_version == T::CURRENT_SCHEMA {
        decode(bytes)
    } else if schema_version > T::CURRENT_SCHEMA {
        Err(CodecError::UnknownSchema {
            type_name: T::TYPE_NAME,
            version: schema_version,
        })
    } else {
        T::upcast(schema_version, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Actor, Envelope, EventId, StreamId};
    use serde::Deserialize;

    #[test]
    fn encode_into_appends_the_same_bytes_as_encode() {
        let env = fixed_envelope();
        let mut out = vec![7u8];
        encode_into(&env, &mut out);
        assert_eq!(out[0], 7);
        assert_eq!(&out[1..], encode(&env).as_slice());
    }

    fn fixed_envelope() -> Envelope {
        let mut env = Envelope {
            seq: 1,
            stream: StreamId::new("dossier/000.00.00.G10-230126-0001").expect("valid"),
            version: 1,
            event_id: EventId([0x11; 16]),
            event_type: "DossierReceived".into(),
            schema_version: 1,
            recorded_at_ms: 1_674_700_000_000,
            actor: Actor {
                staff: "s-01".into(),
                role: "reception".into(),
            },
            correlation_id: Some(EventId([0x22; 16])),
            causation_id: None,
            payload: vec![1, 2, 3],
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        env.hash = env.compute_hash();
        env
    }

    /// Pins the exact stored bytes of a fixed envelope: if this test fails, the on-disk format
    /// changed. That must be deliberate: bump FORMAT_VERSION, add an upgrade path, update
    /// docs/storage.md, then update the expected bytes here.
    /// Pins the exact stored bytes of a fixed envelope: if this test fails, the on-disk format
    /// changed. That must be deliberate: bump FORMAT_VERSION, add an upgrade path, update
    /// docs/storage.md, then update the expected bytes here.
    #[test]
    fn golden_envelope_bytes() {
        let env = fixed_envelope();
        let golden = concat!(
            "01",                                                                 // FORMAT_VERSION
            "01", // seq = 1 (varint)
            "21", // stream: length 33 ...
            "646f73736965722f3030302e30302e30302e4731302d3233303132362d30303031", // ... bytes
            "01", // version = 1
            "11111111111111111111111111111111", // event_id: 16 raw bytes
            "0f446f737369657252656365697665", // event_type: len 15 + "DossierReceived"
            "64", // ... (last byte 'd')
            "01", // schema_version = 1
            "fd0016ccd70b030000", // recorded_at_ms: zigzag(1674700000000) as u64
            "04732d3031", // actor.staff "s-01"
            "09726563657074696f6e", // actor.role "reception"
            "0122222222222222222222222222222222", // correlation_id: Some + 16 bytes
            "00", // causation_id: None
            "03010203", // payload: len 3 + bytes
            "0000000000000000000000000000000000000000000000000000000000000000", // prev_hash
            "01728e9567e94d588096e13f4d411aa0917bc20b7f385ff91af06493bd3884da", // hash
        );
        assert_eq!(hex::encode(encode_record(&env)), golden);
        assert_eq!(
            hex::encode(env.hash),
            "01728e9567e94d588096e13f4d411aa0917bc20b7f385ff91af06493bd3884da"
        );
        let back: Envelope = decode_record(&hex::decode(golden).expect("hex")).expect("decodes");
        assert_eq!(back, env);
    }

    #[test]
    fn rejects_trailing_bytes_and_bad_versions() {
        let mut bytes = encode(&7u32);
        bytes.push(0);
        assert_eq!(decode::<u32>(&bytes), Err(CodecError::TrailingBytes(1)));
        assert_eq!(decode_record::<u32>(&[]), Err(CodecError::EmptyRecord));
        assert!(matches!(
            decode_record::<u32>(&[2, 7]),
            Err(CodecError::UnsupportedFormat { found: 2, .. })
        ));
        assert!(matches!(
            decode_record::<u32>(&[0, 7]),
            Err(CodecError::UnsupportedFormat { found: 0, .. })
        ));
    }

    #[test]
    fn huge_length_prefix_fails_cleanly() {
        // A varint claiming a 2^40-byte string: must be an error, not an allocation abort.
        let bytes = [0xfd, 0, 0, 0, 0, 0, 1, 0, 0, b'a'];
        assert!(matches!(
            decode::<String>(&bytes),
            Err(CodecError::Decode(_))
        ));
        let bytes = [0xfd, 0, 0, 0, 0, 0, 1, 0, 0];
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }

    #[test]
    fn every_truncation_of_a_record_is_an_error() {
        let record = encode_record(&fixed_envelope());
        for n in 0..record.len() {
            assert!(
                decode_record::<Envelope>(&record[..n]).is_err(),
                "prefix {n}"
            );
        }
    }

    // --- upcasting example: a payload type whose v1 had a single `name` field ---

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct ApplicantV1 {
        name: String,
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Applicant {
        family_name: String,
        given_name: String,
        phone: Option<String>,
    }

    impl From<ApplicantV1> for Applicant {
        fn from(v1: ApplicantV1) -> Self {
            // Vietnamese names: family name first, given name last.
            let mut parts: Vec<&str> = v1.name.split_whitespace().collect();
            let given = parts.pop().unwrap_or_default().to_string();
            let family = parts.first().copied().unwrap_or_default().to_string();
            Applicant {
                family_name: family,
                given_name: given,
                phone: None,
            }
        }
    }

    impl Upcast for Applicant {
        const CURRENT_SCHEMA: u16 = 2;
        const TYPE_NAME: &'static str = "Applicant";
        fn upcast(schema_version: u16, bytes: &[u8]) -> Result<Self, CodecError> {
            match schema_version {
                1 => Ok(decode::<ApplicantV1>(bytes)?.into()),
                v => Err(CodecError::UnknownSchema {
                    type_name: Self::TYPE_NAME,
                    version: v,
                }),
            }
        }
    }

    #[test]
    fn upcasts_v1_payload_to_current() {
        let v1 = encode(&ApplicantV1 {
            name: "Nguyễn Văn An".into(),
        });
        let now: Applicant = decode_payload(1, &v1).expect("upcast");
        assert_eq!(
            now,
            Applicant {
                family_name: "Nguyễn".into(),
                given_name: "An".into(),
                phone: None
            }
        );
        let v2 = encode(&now);
        assert_eq!(decode_payload::<Applicant>(2, &v2), Ok(now));
        assert!(matches!(
            decode_payload::<Applicant>(3, &v2),
            Err(CodecError::UnknownSchema { version: 3, .. })
        ));
        assert!(decode_payload::<Applicant>(0, &v1).is_err());
    }
}
