//! The key store of personal data: one key per person, outside the log, in trees of the data
//! directory's store that neither the log, nor an export, nor a backup archive carries.
//!
//! - `personal.keys`: subject id (16 bytes) -> the person's key (32), when it last sealed (i64
//!   ms, little-endian), and the keyed digest of their identity number (32).
//! - `personal.index`: the keyed digest of an identity number -> subject id, so a person who
//!   comes back is sealed under the same key (and erased at once with all their dossiers). The
//!   digest is HMAC-SHA256 under a random secret of this store (`personal.meta`), so even the
//!   store's copy cannot be searched for an identity number without that secret.
//!
//! - `personal.search`, `personal.dossiers`, `personal.words`: the search index of applicants
//!   (the console's search by name, identity number or phone), keyed digests of folded words,
//!   never the words; erased with the key, so an erased person cannot be found by their name.
//!
//! Erasing a person removes their key, index and search entries and flushes: from then on every sealed
//! applicant of theirs, in the live log and in every archive, is ciphertext nobody can open.
//! The domain's side (what is sealed, how) is `domain/personal.rs`; the rule for when a key is
//! erased is `docs/personal-data.md`.
//!
//! Durability: a key is inserted before the event sealed under it is appended, and the log's
//! durable flush covers every tree of the store, so an acknowledged event's key is durable.

use std::sync::Mutex;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::domain::events::Applicant;
use crate::domain::personal::{
    encode, ApplicantRecord, Opened, PersonKey, PersonalError, SealedApplicant, SubjectId, KEY_LEN,
    NONCE_LEN, SUBJECT_LEN,
};
use crate::domain::text;
use crate::domain::types::{DossierCode, Timestamp};
use crate::storage::{KvTree, StorageError, Store};

/// The trees of the key store (kept out of exports and backups: the log is in its own trees).
pub const KEYS_TREE: &str = "personal.keys";
pub const INDEX_TREE: &str = "personal.index";
pub const META_TREE: &str = "personal.meta";
/// digest(word) ‖ subject -> ()
pub const SEARCH_TREE: &str = "personal.search";
/// subject ‖ dossier code -> ()
pub const DOSSIERS_TREE: &str = "personal.dossiers";
/// subject -> the digests of every word indexed for them (what an erasure removes)
pub const WORDS_TREE: &str = "personal.words";

/// The most index entries one search word reads (a very common word, like a family name, is
/// cut there; the search says so).
pub const MAX_SEARCH_ENTRIES: usize = 20_000;

const INDEX_SECRET_KEY: &[u8] = b"index-secret";
const RECORD_LEN: usize = KEY_LEN + 8 + 32;
const NONCE_TAG: &[u8] = b"motcua applicant nonce\0";

/// What the key store can fail with.
#[derive(Debug, Error)]
pub enum PersonalStoreError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A record of the store is not the size it is written with (damage).
    #[error("the key store (tree {tree}) is damaged: a record of {len} bytes; restore the key store from its backup")]
    Damaged { tree: &'static str, len: usize },
    #[error(transparent)]
    Personal(#[from] PersonalError),
    /// Reading the log's erasures failed.
    #[error("reading the log: {0}")]
    Log(String),
    /// A key backup is loaded only into a store that holds no key yet.
    #[error("the key store already holds keys: load a key backup only into a freshly restored data directory, before the server first starts on it")]
    NotEmpty,
}

/// One person's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub subject: SubjectId,
    pub key: PersonKey,
    pub last_sealed: Timestamp,
    index_digest: [u8; 32],
}

impl KeyRecord {
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(RECORD_LEN);
        v.extend_from_slice(&self.key.0);
        v.extend_from_slice(&self.last_sealed.0.to_le_bytes());
        v.extend_from_slice(&self.index_digest);
        v
    }

    fn from_bytes(subject: SubjectId, v: &[u8]) -> Result<KeyRecord, PersonalStoreError> {
        let damaged = || PersonalStoreError::Damaged {
            tree: KEYS_TREE,
            len: v.len(),
        };
        let (key, rest) = v.split_first_chunk::<KEY_LEN>().ok_or_else(damaged)?;
        let (at, rest) = rest.split_first_chunk::<8>().ok_or_else(damaged)?;
        let index_digest: [u8; 32] = rest.try_into().map_err(|_| damaged())?;
        Ok(KeyRecord {
            subject,
            key: PersonKey(*key),
            last_sealed: Timestamp(i64::from_le_bytes(*at)),
            index_digest,
        })
    }
}

/// The key store.
pub struct PersonalStore {
    keys: KvTree,
    index: KvTree,
    search: KvTree,
    dossiers: KvTree,
    words: KvTree,
    index_secret: [u8; 32],
    /// Serialises find-or-create of a person's subject (two receipts for one new person must
    /// not make two keys).
    creating: Mutex<()>,
}

impl std::fmt::Debug for PersonalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalStore(..)")
    }
}

impl PersonalStore {
    /// Opens the key store of `store`, creating its index secret the first time.
    pub fn open(store: &Store) -> Result<PersonalStore, PersonalStoreError> {
        let meta = store.tree(META_TREE)?;
        let mut fresh = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        // Two handles opening a new store at once must agree on one secret.
        let v = meta.insert_if_absent(INDEX_SECRET_KEY, fresh.to_vec())?;
        let index_secret = v
            .as_slice()
            .try_into()
            .map_err(|_| PersonalStoreError::Damaged {
                tree: META_TREE,
                len: v.len(),
            })?;
        Ok(PersonalStore {
            keys: store.tree(KEYS_TREE)?,
            index: store.tree(INDEX_TREE)?,
            search: store.tree(SEARCH_TREE)?,
            dossiers: store.tree(DOSSIERS_TREE)?,
            words: store.tree(WORDS_TREE)?,
            index_secret,
            creating: Mutex::new(()),
        })
    }

    /// Seals `applicant` of dossier `code` under their person's key (made the first time the
    /// person is seen), recording `at` as the person's last seal and indexing the dossier for
    /// search. With a `seed` (a keyed command's first event id), the nonce is derived from the
    /// seed and the plaintext, so a retry seals to the same bytes; without one it is random.
    ///
    /// The index is written before the event is appended, so it may name a code whose append
    /// then failed (another receipt took the number): a search checks each candidate against
    /// the log ([`PersonalStore::search`] says so).
    pub fn seal(
        &self,
        applicant: &Applicant,
        code: &DossierCode,
        at: Timestamp,
        seed: Option<&[u8]>,
    ) -> Result<SealedApplicant, PersonalStoreError> {
        let record = self.person(&applicant.id_number, at)?;
        self.index_dossier(&record.subject, code, applicant)?;
        let nonce = match seed {
            Some(seed) => derived_nonce(seed, &record.subject, applicant),
            None => {
                let mut n = [0u8; NONCE_LEN];
                rand::thread_rng().fill_bytes(&mut n);
                n
            }
        };
        Ok(SealedApplicant::seal(
            applicant,
            record.subject,
            &record.key,
            nonce,
        )?)
    }

    /// An applicant as recorded, opened: in clear (an old event), opened with the person's key,
    /// or erased (no key any more).
    pub fn unseal(&self, record: &ApplicantRecord) -> Result<Opened, PersonalStoreError> {
        match record {
            ApplicantRecord::Clear(a) => Ok(Opened::Present(a.clone())),
            ApplicantRecord::Sealed(s) => match self.key_of(&s.subject)? {
                Some(r) => Ok(Opened::Present(s.open(&r.key)?)),
                None => Ok(Opened::Erased),
            },
        }
    }

    /// The subject of the person with identity number `id_number`, if the store knows them.
    pub fn subject_of(&self, id_number: &str) -> Result<Option<SubjectId>, PersonalStoreError> {
        let digest = self.index_digest(id_number);
        match self.index.get(digest)? {
            Some(v) => Ok(Some(subject_from(&v)?)),
            None => Ok(None),
        }
    }

    /// Erases a person: their key and index entry. True if they had a key. Durable on return.
    pub fn erase(&self, store: &Store, subject: &SubjectId) -> Result<bool, PersonalStoreError> {
        let _creating = self.creating.lock().unwrap_or_else(|p| p.into_inner());
        let Some(record) = self.key_of(subject)? else {
            return Ok(false);
        };
        self.index.remove(record.index_digest)?;
        self.forget_words(subject)?;
        self.keys.remove(subject.0)?;
        store.flush_durable()?;
        Ok(true)
    }

    /// The dossiers whose applicant has every word of `query` (folded: "nguyen van a" finds
    /// "Nguyễn Văn A"; an identity number or a phone number is one word), as (person, code)
    /// candidates in code order, and whether a word was too common to read whole. Candidates
    /// must be checked against the log: the person the dossier's events seal for must be the
    /// one found.
    pub fn search(
        &self,
        query: &str,
    ) -> Result<(Vec<(SubjectId, DossierCode)>, bool), PersonalStoreError> {
        let words = text::words(query);
        let mut cut = false;
        let mut subjects: Option<std::collections::BTreeSet<SubjectId>> = None;
        for word in &words {
            let digest = self.word_digest(word);
            let mut found = std::collections::BTreeSet::new();
            for (i, pair) in self.search.scan_prefix(digest).enumerate() {
                if i == MAX_SEARCH_ENTRIES {
                    cut = true;
                    break;
                }
                let (k, _) = pair?;
                found.insert(subject_from(&k[32..])?);
            }
            subjects = Some(match subjects {
                None => found,
                Some(s) => s.intersection(&found).copied().collect(),
            });
        }
        let mut out = Vec::new();
        for subject in subjects.unwrap_or_default() {
            for pair in self.dossiers.scan_prefix(subject.0) {
                let (k, _) = pair?;
                let code = std::str::from_utf8(&k[SUBJECT_LEN..])
                    .ok()
                    .and_then(|c| c.parse::<DossierCode>().ok());
                if let Some(code) = code {
                    out.push((subject, code));
                }
            }
        }
        out.sort_by(|a, b| a.1.as_str().cmp(b.1.as_str()));
        Ok((out, cut))
    }

    /// Indexes dossier `code` of `subject` under the words of `applicant`'s name, identity
    /// number and phone (digits only).
    fn index_dossier(
        &self,
        subject: &SubjectId,
        code: &DossierCode,
        applicant: &Applicant,
    ) -> Result<(), PersonalStoreError> {
        let mut words = text::words(&applicant.name);
        words.extend(text::words(&applicant.id_number));
        let phone: String = applicant
            .phone
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if !phone.is_empty() {
            words.push(phone);
        }
        let mut known = self.words.get(subject.0)?.unwrap_or_default();
        for word in words {
            let digest = self.word_digest(&word);
            let mut key = digest.to_vec();
            key.extend_from_slice(&subject.0);
            self.search.insert(key, Vec::new())?;
            if !known.chunks(32).any(|d| d == digest) {
                known.extend_from_slice(&digest);
            }
        }
        self.words.insert(subject.0, known)?;
        let mut key = subject.0.to_vec();
        key.extend_from_slice(code.as_str().as_bytes());
        self.dossiers.insert(key, Vec::new())?;
        Ok(())
    }

    /// Removes every search entry of `subject`.
    fn forget_words(&self, subject: &SubjectId) -> Result<(), PersonalStoreError> {
        for digest in self.words.get(subject.0)?.unwrap_or_default().chunks(32) {
            let mut key = digest.to_vec();
            key.extend_from_slice(&subject.0);
            self.search.remove(key)?;
        }
        self.words.remove(subject.0)?;
        let codes: Vec<Vec<u8>> = self
            .dossiers
            .scan_prefix(subject.0)
            .map(|p| p.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        for k in codes {
            self.dossiers.remove(k)?;
        }
        Ok(())
    }

    /// A word's keyed digest (a label keeps it apart from identity-number digests).
    fn word_digest(&self, word: &str) -> [u8; 32] {
        self.keyed_digest(b"word\0", word)
    }

    /// The people whose last seal is before `before` (their retention ended), in subject order.
    pub fn sealed_before(&self, before: Timestamp) -> Result<Vec<SubjectId>, PersonalStoreError> {
        let mut out = Vec::new();
        for pair in self.keys.iter() {
            let (k, v) = pair?;
            let record = KeyRecord::from_bytes(subject_from(&k)?, &v)?;
            if record.last_sealed < before {
                out.push(record.subject);
            }
        }
        Ok(out)
    }

    /// The key record of `subject`, if not erased.
    pub fn key_of(&self, subject: &SubjectId) -> Result<Option<KeyRecord>, PersonalStoreError> {
        match self.keys.get(subject.0)? {
            Some(v) => Ok(Some(KeyRecord::from_bytes(*subject, &v)?)),
            None => Ok(None),
        }
    }

    /// The person with `id_number`: found (their last seal moved to `at`), or made.
    fn person(&self, id_number: &str, at: Timestamp) -> Result<KeyRecord, PersonalStoreError> {
        let _creating = self.creating.lock().unwrap_or_else(|p| p.into_inner());
        let digest = self.index_digest(id_number);
        if let Some(v) = self.index.get(digest)? {
            let subject = subject_from(&v)?;
            if let Some(mut record) = self.key_of(&subject)? {
                if record.last_sealed < at {
                    record.last_sealed = at;
                    self.keys.insert(subject.0, record.to_bytes())?;
                }
                return Ok(record);
            }
        }
        let mut subject = [0u8; SUBJECT_LEN];
        let mut key = [0u8; KEY_LEN];
        rand::thread_rng().fill_bytes(&mut subject);
        rand::thread_rng().fill_bytes(&mut key);
        let record = KeyRecord {
            subject: SubjectId(subject),
            key: PersonKey(key),
            last_sealed: at,
            index_digest: digest,
        };
        // The key first: an index entry never names a subject without a key.
        self.keys.insert(subject, record.to_bytes())?;
        self.index.insert(digest, subject.to_vec())?;
        Ok(record)
    }

    fn index_digest(&self, id_number: &str) -> [u8; 32] {
        self.keyed_digest(b"", id_number.trim())
    }

    fn keyed_digest(&self, label: &[u8], value: &str) -> [u8; 32] {
        // A key of any length is accepted by HMAC; `new_from_slice` cannot fail here.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.index_secret) {
            Ok(m) => m,
            Err(_) => return [0; 32],
        };
        mac.update(label);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Every key of a store, for its backup (`motcua keys export`): as sensitive as the personal
/// data itself, so the operator's tool encrypts it before it touches a disk.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyDump {
    index_secret: [u8; 32],
    records: Vec<KeyRecord>,
}

impl std::fmt::Debug for KeyDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyDump({} keys)", self.records.len())
    }
}

/// The first bytes of a dump's encoding (its version).
const DUMP_MAGIC: &[u8] = b"motcua-keys-v1\0";

impl KeyDump {
    /// The number of people whose key it holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The magic, the index secret, then each subject and its record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = DUMP_MAGIC.to_vec();
        v.extend_from_slice(&self.index_secret);
        for r in &self.records {
            v.extend_from_slice(&r.subject.0);
            v.extend_from_slice(&r.to_bytes());
        }
        v
    }

    pub fn from_bytes(v: &[u8]) -> Result<KeyDump, PersonalStoreError> {
        let damaged = || PersonalStoreError::Damaged {
            tree: "key backup",
            len: v.len(),
        };
        let rest = v.strip_prefix(DUMP_MAGIC).ok_or_else(damaged)?;
        let (secret, mut rest) = rest.split_first_chunk::<32>().ok_or_else(damaged)?;
        let mut records = Vec::new();
        while !rest.is_empty() {
            let (subject, tail) = rest
                .split_first_chunk::<SUBJECT_LEN>()
                .ok_or_else(damaged)?;
            let body = tail.get(..RECORD_LEN).ok_or_else(damaged)?;
            records.push(KeyRecord::from_bytes(SubjectId(*subject), body)?);
            rest = &tail[RECORD_LEN..];
        }
        Ok(KeyDump {
            index_secret: *secret,
            records,
        })
    }
}

impl PersonalStore {
    /// Every key, for a backup.
    pub fn dump(&self) -> Result<KeyDump, PersonalStoreError> {
        let mut records = Vec::new();
        for pair in self.keys.iter() {
            let (k, v) = pair?;
            records.push(KeyRecord::from_bytes(subject_from(&k)?, &v)?);
        }
        Ok(KeyDump {
            index_secret: self.index_secret,
            records,
        })
    }
}

/// Loads a key backup into the key store of the stopped data directory `store` (after a
/// restore): only into a store holding no key yet (its index secret is replaced by the
/// backup's, which its index digests were made with), and never a key whose erasure
/// `erased` lists: an old backup must not bring an erased person back. The keys loaded,
/// durable on return.
pub fn load_dump(
    store: &Store,
    dump: &KeyDump,
    erased: &std::collections::HashSet<SubjectId>,
) -> Result<usize, PersonalStoreError> {
    let keys = store.tree(KEYS_TREE)?;
    if !keys.is_empty() {
        return Err(PersonalStoreError::NotEmpty);
    }
    let index = store.tree(INDEX_TREE)?;
    store
        .tree(META_TREE)?
        .insert(INDEX_SECRET_KEY, dump.index_secret.to_vec())?;
    let mut loaded = 0;
    for r in dump.records.iter().filter(|r| !erased.contains(&r.subject)) {
        keys.insert(r.subject.0, r.to_bytes())?;
        index.insert(r.index_digest, r.subject.0.to_vec())?;
        loaded += 1;
    }
    store.flush_durable()?;
    Ok(loaded)
}

/// Rebuilds the search index of `keys` from `log`: every sealed applicant whose key the store
/// holds, opened and indexed (after `load_dump`: the index is not in a key backup, it follows
/// from the log and the keys). The dossiers indexed.
pub fn reindex(
    log: &crate::log::EventLog,
    keys: &PersonalStore,
) -> Result<u64, PersonalStoreError> {
    use crate::domain::events::{DossierChange, Event};
    let mut n = 0;
    for env in log.scan(0) {
        let env = env.map_err(|e| PersonalStoreError::Log(e.to_string()))?;
        if env.stream.dossier_code().is_none() {
            continue;
        }
        let Event::Dossier(d) = crate::recorded::decode_event(&env)
            .map_err(|e| PersonalStoreError::Log(e.to_string()))?
        else {
            continue;
        };
        let (DossierChange::Received(crate::domain::events::Receipt { applicant, .. })
        | DossierChange::SubmittedOnline(crate::domain::events::Submission {
            applicant, ..
        })) = &d.change
        else {
            continue;
        };
        if let (ApplicantRecord::Sealed(s), Opened::Present(a)) =
            (applicant, keys.unseal(applicant)?)
        {
            keys.index_dossier(&s.subject, &d.code, &a)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The people whose erasure `log` records (a scan of the whole log: for the operator's tools).
pub fn erased_in(
    log: &crate::log::EventLog,
) -> Result<std::collections::HashSet<SubjectId>, PersonalStoreError> {
    let mut out = std::collections::HashSet::new();
    for env in log.scan(0) {
        let env = env.map_err(|e| PersonalStoreError::Log(e.to_string()))?;
        if !env.stream.is_personal() {
            continue;
        }
        let event = crate::recorded::decode_event(&env)
            .map_err(|e| PersonalStoreError::Log(e.to_string()))?;
        if let crate::domain::events::Event::Personal(
            crate::domain::personal::PersonalEvent::Erased { subject, .. },
        ) = event
        {
            out.insert(subject);
        }
    }
    Ok(out)
}

fn subject_from(v: &[u8]) -> Result<SubjectId, PersonalStoreError> {
    let bytes: [u8; SUBJECT_LEN] = v.try_into().map_err(|_| PersonalStoreError::Damaged {
        tree: INDEX_TREE,
        len: v.len(),
    })?;
    Ok(SubjectId(bytes))
}

/// A keyed retry's nonce: from the seed, the subject and the plaintext, so the same request
/// seals to the same bytes and two different plaintexts never share a nonce under one key.
fn derived_nonce(seed: &[u8], subject: &SubjectId, applicant: &Applicant) -> [u8; NONCE_LEN] {
    let mut h = Sha256::new();
    h.update(NONCE_TAG);
    h.update((seed.len() as u64).to_be_bytes());
    h.update(seed);
    h.update(subject.0);
    h.update(encode(applicant));
    let digest: [u8; 32] = h.finalize().into();
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&digest[..NONCE_LEN]);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: i64) -> DossierCode {
        DossierCode::new(
            &"000.00.00.G10".parse().unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            u16::try_from(n).unwrap(),
        )
        .unwrap()
    }

    fn applicant(id: &str) -> Applicant {
        Applicant {
            name: "Trần Thị B".into(),
            id_number: id.into(),
            phone: "0987654321".into(),
            address: "Xóm 2".into(),
        }
    }

    #[test]
    fn one_person_one_key_and_erasing_it_erases_every_seal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let keys = PersonalStore::open(&store).unwrap();
        let a = keys
            .seal(&applicant("001199000002"), &code(10), Timestamp(10), None)
            .unwrap();
        let b = keys
            .seal(&applicant("001199000002"), &code(20), Timestamp(20), None)
            .unwrap();
        let c = keys
            .seal(&applicant("001199000003"), &code(15), Timestamp(15), None)
            .unwrap();
        assert_eq!(a.subject, b.subject);
        assert_ne!(a.subject, c.subject);
        assert_ne!(a.nonce, b.nonce);
        let rec = |s: &SealedApplicant| ApplicantRecord::Sealed(s.clone());
        assert_eq!(
            keys.unseal(&rec(&a)).unwrap(),
            Opened::Present(applicant("001199000002"))
        );
        assert_eq!(keys.subject_of("001199000002").unwrap(), Some(a.subject));
        assert_eq!(keys.sealed_before(Timestamp(16)).unwrap(), vec![c.subject]);
        assert!(keys.erase(&store, &a.subject).unwrap());
        assert!(!keys.erase(&store, &a.subject).unwrap());
        assert_eq!(keys.unseal(&rec(&a)).unwrap(), Opened::Erased);
        assert_eq!(keys.unseal(&rec(&b)).unwrap(), Opened::Erased);
        assert_eq!(keys.subject_of("001199000002").unwrap(), None);
        assert_eq!(
            keys.unseal(&rec(&c)).unwrap(),
            Opened::Present(applicant("001199000003"))
        );
        // The person comes back after the erasure: a new subject and a new key.
        let d = keys
            .seal(&applicant("001199000002"), &code(30), Timestamp(30), None)
            .unwrap();
        assert_ne!(d.subject, a.subject);
    }

    #[test]
    fn a_dump_round_trips_and_loads_only_unerased_keys_into_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let keys = PersonalStore::open(&store).unwrap();
        let a = keys
            .seal(&applicant("001199000005"), &code(1), Timestamp(1), None)
            .unwrap();
        let b = keys
            .seal(&applicant("001199000006"), &code(2), Timestamp(2), None)
            .unwrap();
        let dump = keys.dump().unwrap();
        assert_eq!(dump.len(), 2);
        let bytes = dump.to_bytes();
        assert_eq!(KeyDump::from_bytes(&bytes).unwrap(), dump);
        assert!(KeyDump::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let erased = std::collections::HashSet::from([a.subject]);
        assert!(matches!(
            load_dump(&store, &dump, &erased),
            Err(PersonalStoreError::NotEmpty)
        ));
        let other = tempfile::tempdir().unwrap();
        let restored = Store::open(other.path()).unwrap();
        assert_eq!(load_dump(&restored, &dump, &erased).unwrap(), 1);
        let keys = PersonalStore::open(&restored).unwrap();
        assert_eq!(
            keys.unseal(&ApplicantRecord::Sealed(b.clone())).unwrap(),
            Opened::Present(applicant("001199000006"))
        );
        assert_eq!(
            keys.unseal(&ApplicantRecord::Sealed(a)).unwrap(),
            Opened::Erased
        );
        assert_eq!(keys.subject_of("001199000006").unwrap(), Some(b.subject));
    }

    #[test]
    fn a_search_finds_every_word_folded_and_forgets_the_erased() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let keys = PersonalStore::open(&store).unwrap();
        let mut a = applicant("001199000007");
        a.name = "Nguyễn Văn Á".into();
        a.phone = "0912 345 678".into();
        let mut b = applicant("001199000008");
        b.name = "Nguyễn Thị Bé".into();
        let sa = keys.seal(&a, &code(1), Timestamp(1), None).unwrap();
        keys.seal(&a, &code(3), Timestamp(2), None).unwrap();
        let sb = keys.seal(&b, &code(2), Timestamp(3), None).unwrap();
        let found = |q: &str| -> Vec<u16> {
            let (hits, cut) = keys.search(q).unwrap();
            assert!(!cut);
            hits.iter().map(|(_, c)| c.sequence()).collect()
        };
        assert_eq!(found("nguyen van a"), [1, 3]);
        assert_eq!(found("NGUYỄN"), [1, 2, 3]);
        assert_eq!(found("nguyen be"), [2]);
        assert_eq!(found("001199000008"), [2]);
        assert_eq!(found("0912345678"), [1, 3]);
        assert_eq!(found("nguyen tran"), Vec::<u16>::new());
        assert_eq!(found(""), Vec::<u16>::new());
        assert!(keys.erase(&store, &sa.subject).unwrap());
        assert_eq!(found("nguyen"), [2]);
        assert_eq!(keys.search("nguyen").unwrap().0[0].0, sb.subject);
    }

    #[test]
    fn a_keyed_retry_seals_to_the_same_bytes_and_the_store_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let store = Store::open(dir.path()).unwrap();
            let keys = PersonalStore::open(&store).unwrap();
            let one = keys
                .seal(
                    &applicant("001199000004"),
                    &code(1),
                    Timestamp(1),
                    Some(b"k"),
                )
                .unwrap();
            let two = keys
                .seal(
                    &applicant("001199000004"),
                    &code(1),
                    Timestamp(1),
                    Some(b"k"),
                )
                .unwrap();
            assert_eq!(one, two);
            store.flush_durable().unwrap();
            one
        };
        let store = Store::open(dir.path()).unwrap();
        let keys = PersonalStore::open(&store).unwrap();
        assert_eq!(
            keys.unseal(&ApplicantRecord::Sealed(first.clone()))
                .unwrap(),
            Opened::Present(applicant("001199000004"))
        );
        let again = keys
            .seal(
                &applicant("001199000004"),
                &code(1),
                Timestamp(1),
                Some(b"k"),
            )
            .unwrap();
        assert_eq!(again, first);
    }
}
