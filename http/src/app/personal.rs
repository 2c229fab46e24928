//! Erasing people's personal data (Decree 13/2023/NĐ-CP): one person on their request, or
//! everyone whose retention period ended. Each erasure is recorded in the log (who, when, why,
//! the person's pseudonym only) and destroys the person's key, after which every applicant
//! sealed for them reads "(đã xoá)" here and is ciphertext in every copy of the log. The rule
//! of when to erase is `docs/personal-data.md`; the mechanism is the engine's
//! (`engine/src/personal.rs`).

use chrono::NaiveDate;
use motcua_engine::domain::calendar::from_local;
use motcua_engine::domain::personal::{ErasureReason, SubjectId};
use motcua_engine::domain::types::Role;

use crate::app::caller::Caller;
use crate::app::clock;
use crate::app::error::AppError;
use crate::app::handle::App;

/// The most people one retention sweep erases (a sweep that finds more is run again).
pub const MAX_SWEEP: usize = 10_000;

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    pub subjects: Vec<SubjectId>,
    /// Log seq of the last erasure recorded (0 when none was).
    pub last_seq: u64,
    /// Whether people remain to erase (a sweep stopped at [`MAX_SWEEP`]).
    pub more: bool,
}

/// The personal data commands of an [`App`].
pub struct Personal<'a> {
    app: &'a App,
}

impl App {
    /// Personal data commands.
    pub fn personal(&self) -> Personal<'_> {
        Personal { app: self }
    }
}

impl Personal<'_> {
    /// Erases the person with identity number `id_number` at their request; `NotFound` when no
    /// dossier was sealed for them (or they are already erased).
    pub async fn erase_person(
        &self,
        caller: &Caller,
        id_number: &str,
        note: &str,
    ) -> Result<Erased, AppError> {
        caller.require_any(&[Role::Admin])?;
        let service = self.app.service();
        let subject = service
            .personal()
            .subject_of(id_number)
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound("no personal data kept for this person".into()))?;
        let seq = service
            .erase_person(
                subject,
                ErasureReason::Request,
                note,
                &caller.actor(),
                clock::now(),
            )
            .await?
            .ok_or_else(|| AppError::NotFound("no personal data kept for this person".into()))?;
        Ok(Erased {
            subjects: vec![subject],
            last_seq: seq,
            more: false,
        })
    }

    /// Erases everyone whose last dossier was sealed before the start of local day `before`
    /// (the day the retention period of the unit's records list ends for them).
    pub async fn sweep(
        &self,
        caller: &Caller,
        before: NaiveDate,
        note: &str,
    ) -> Result<Erased, AppError> {
        caller.require_any(&[Role::Admin])?;
        if before > clock::today() {
            return Err(AppError::invalid(
                "sealed_before",
                "must not be after today: retention is counted from the past",
            ));
        }
        let service = self.app.service();
        let cut = from_local(before.and_time(chrono::NaiveTime::MIN));
        let mut found = service
            .personal()
            .sealed_before(cut)
            .map_err(AppError::internal)?;
        let more = found.len() > MAX_SWEEP;
        found.truncate(MAX_SWEEP);
        let mut out = Erased {
            subjects: Vec::new(),
            last_seq: 0,
            more,
        };
        for subject in found {
            let recorded = service
                .erase_person(
                    subject,
                    ErasureReason::RetentionEnded,
                    note,
                    &caller.actor(),
                    clock::now(),
                )
                .await?;
            if let Some(seq) = recorded {
                out.subjects.push(subject);
                out.last_seq = seq;
            }
        }
        Ok(out)
    }
}
