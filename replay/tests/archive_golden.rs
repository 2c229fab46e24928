//! Golden bytes of a fixed two-event archive: if this test fails, the archive format changed.
//! That must be deliberate: bump `archive::FORMAT_VERSION`, keep a reader for the old version,
//! update docs/archive-format.md, then the hex below.

use motcua_engine::log::{Actor, Envelope, EventId, StreamId, GENESIS_HASH};
use motcua_replay::archive::{decode_record, write_archive_from, ArchiveHeader, ArchiveReader};

fn envelope(seq: u64, prev_hash: [u8; 32], payload: &[u8]) -> Envelope {
    let mut env = Envelope {
        seq,
        stream: StreamId::new("catalog").unwrap(),
        version: seq,
        event_id: EventId([seq as u8; 16]),
        event_type: "t".into(),
        schema_version: 1,
        recorded_at_ms: 1_000,
        actor: Actor {
            staff: "a".into(),
            role: "admin".into(),
        },
        correlation_id: None,
        causation_id: None,
        payload: payload.to_vec(),
        prev_hash,
        hash: [0; 32],
    };
    env.hash = env.compute_hash();
    env
}

fn golden() -> (ArchiveHeader, Vec<Envelope>) {
    let e1 = envelope(1, GENESIS_HASH, &[0xAA]);
    let e2 = envelope(2, e1.hash, &[0xBB, 0xCC]);
    let header = ArchiveHeader {
        unit: "000.00.00.G10".into(),
        first_seq: 1,
        last_seq: 2,
        first_prev_hash: GENESIS_HASH,
        created_at_ms: 1_700_000_000_000,
        engine_version: "v1".into(),
    };
    (header, vec![e1, e2])
}

const GOLDEN_HEX: &str = concat!(
    "4d4f544355414152",           // magic "MOTCUAAR"
    "0001",                       // format version 1
    "000d",                       // unit length 13
    "3030302e30302e30302e473130", // unit "000.00.00.G10"
    "0000000000000001",           // first_seq 1
    "0000000000000002",           // last_seq 2
    "0000000000000000000000000000000000000000000000000000000000000000", // first_prev_hash (genesis: zeros)
    "0000018bcfe56800",                 // created_at_ms 1700000000000
    "0002",                             // engine_version length 2
    "7631",                             // engine_version "v1"
    "0000006d",                         // record 1: length 109
    "01",                               //   record format version 1
    "01",                               //   seq 1 (varint)
    "07636174616c6f67",                 //   stream: len 7 + "catalog"
    "01",                               //   version 1
    "01010101010101010101010101010101", //   event_id
    "0174",                             //   event_type: len 1 + "t"
    "01",                               //   schema_version 1
    "fbd007",                           //   recorded_at_ms 1000 (zigzag varint 0xfb u16)
    "0161",                             //   actor.staff: len 1 + "a"
    "0561646d696e",                     //   actor.role: len 5 + "admin"
    "00",                               //   correlation_id: None
    "00",                               //   causation_id: None
    "01aa",                             //   payload: len 1 + bytes
    "0000000000000000000000000000000000000000000000000000000000000000", //   prev_hash
    "f83e9833b4245c88a7edcf340db7879fa205a1bccf06e2ef6c48f72f801d04ae", //   hash
    "0000006e",                         // record 2: length 110
    "01",                               //   record format version 1
    "02",                               //   seq 2 (varint)
    "07636174616c6f67",                 //   stream: len 7 + "catalog"
    "02",                               //   version 2
    "02020202020202020202020202020202", //   event_id
    "0174",                             //   event_type: len 1 + "t"
    "01",                               //   schema_version 1
    "fbd007",                           //   recorded_at_ms 1000 (zigzag varint 0xfb u16)
    "0161",                             //   actor.staff: len 1 + "a"
    "0561646d696e",                     //   actor.role: len 5 + "admin"
    "00",                               //   correlation_id: None
    "00",                               //   causation_id: None
    "02bbcc",                           //   payload: len 2 + bytes
    "f83e9833b4245c88a7edcf340db7879fa205a1bccf06e2ef6c48f72f801d04ae", //   prev_hash
    "d97ba5e17d053623327b0fe5f81d37f9d49e0b34085b77ccdd690906db79c4da", //   hash
    "00000000",                         // end of records (length 0)
    "4d4f54435541454e",                 // trailer magic "MOTCUAEN"
    "0000000000000002",                 // count 2
    "d97ba5e17d053623327b0fe5f81d37f9d49e0b34085b77ccdd690906db79c4da", // head hash (= record 2 hash)
    "4c2c27df623c428c0d312e068c5a6e92feae8b5e7d7e5e959fbddb967a378cd3", // SHA-256 of every byte above
);

#[test]
fn golden_two_event_archive() {
    let (header, envs) = golden();
    let (summary, bytes) = write_archive_from(
        header.clone(),
        envs.iter().cloned().map(Ok::<_, std::convert::Infallible>),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(hex::encode(&bytes), GOLDEN_HEX);
    assert_eq!(summary.count, 2);
    assert_eq!(summary.head_hash, envs[1].hash);
    assert_eq!(summary.bytes, bytes.len() as u64);

    // And it reads back exactly.
    let mut r = ArchiveReader::open(&bytes[..]).unwrap();
    assert_eq!(r.header(), &header);
    let mut back = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        back.push(decode_record(&rec.bytes).unwrap());
    }
    assert_eq!(back, envs);
    let t = r.trailer().unwrap();
    assert!(t.checksum_ok());
    assert_eq!((t.count, t.head_hash), (2, envs[1].hash));
}

#[test]
fn writer_refuses_an_archive_that_would_contradict_its_header() {
    let (header, envs) = golden();
    // A gap.
    let r = write_archive_from(
        header.clone(),
        [envs[1].clone()]
            .into_iter()
            .map(Ok::<_, std::convert::Infallible>),
        Vec::new(),
    );
    assert!(r.is_err());
    // Fewer events than announced.
    let r = write_archive_from(
        header,
        [envs[0].clone()]
            .into_iter()
            .map(Ok::<_, std::convert::Infallible>),
        Vec::new(),
    );
    assert!(r.is_err());
}

#[test]
fn every_truncation_is_reported_with_the_last_good_seq() {
    let (header, envs) = golden();
    let (_, bytes) = write_archive_from(
        header,
        envs.into_iter().map(Ok::<_, std::convert::Infallible>),
        Vec::new(),
    )
    .unwrap();
    for n in 0..bytes.len() {
        let Ok(mut r) = ArchiveReader::open(&bytes[..n]) else {
            continue; // cut inside the header
        };
        let outcome = loop {
            match r.next_record() {
                Ok(Some(_)) => continue,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match outcome {
            Err(motcua_replay::archive::ArchiveError::Truncated { last_good_seq, .. }) => {
                assert_eq!(last_good_seq, r.last_good_seq(), "cut at {n}");
            }
            other => panic!("cut at {n}: {other:?}"),
        }
    }
}
