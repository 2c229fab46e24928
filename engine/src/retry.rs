//! The one retry loop of the command services: optimistic concurrency, bounded, with jitter.
//!
//! A command reads its stream, decides, and appends with the version it read
//! (`ExpectedVersion::Exact`, or `NoStream` for a new dossier code). If someone else appended in
//! between, the append is refused and the attempt reports [`Attempt::Conflict`]; the command is
//! then decided again on a fresh read. Refusals (the domain's, a caller's stale `If-Match`) end
//! the loop at once: only a conflict the caller did not ask to see is retried.
//!
//! Why these numbers: in each round of N writers racing on one stream exactly one wins, so the
//! last of a burst needs N attempts. Without a pause the losers of one round meet again in the
//! next and the same ones keep losing; a random pause, growing with the attempt (up to 2^n ms,
//! capped at [`BACKOFF_CAP_MS`]), spreads them out. [`MAX_CONFLICT_RETRIES`] re-decisions cover
//! the bursts a desk sees (a few staff on one dossier; a dozen planners reporting on one plan
//! in the tests) in at most ~0.4 s of pauses; losing that many rounds in a row means something
//! is hammering the stream, and the caller gets a `Contended` error to retry later.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// Re-decisions after a version conflict (so at most `MAX_CONFLICT_RETRIES + 1` attempts).
pub const MAX_CONFLICT_RETRIES: usize = 10;

/// Longest pause between two attempts, in milliseconds.
pub const BACKOFF_CAP_MS: u64 = 64;

/// What one attempt of a command came to.
#[derive(Debug)]
pub enum Attempt<T, S = ()> {
    /// The command's outcome (recorded, or answered from the log).
    Done(T),
    /// Another writer appended first: decide again, starting from `S` (what the next attempt
    /// needs to know about this one; e.g. the dossier number it must not take again).
    Conflict(S),
}

/// Conflicts persisted through every attempt on `stream` (both command services' error types
/// carry it as it is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stream {stream} kept changing: gave up after {attempts} attempts")]
pub struct Contended {
    pub stream: String,
    pub attempts: usize,
}

/// The pause before attempt `attempt` (1-based count of conflicts so far): random in
/// `0..=min(2^attempt, BACKOFF_CAP_MS)` ms.
fn backoff(attempt: usize) -> Duration {
    let cap = (1u64 << attempt.min(16)).min(BACKOFF_CAP_MS);
    Duration::from_millis(rand::thread_rng().gen_range(0..=cap))
}

/// Runs `attempt` (given the state the last conflict left, `initial` first) until it is done
/// or fails; after [`MAX_CONFLICT_RETRIES`] conflicts in a row on `stream`, fails with
/// [`Contended`].
pub async fn retry_on_conflict<T, S, E, F, Fut>(
    stream: &str,
    initial: S,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut(S) -> Fut,
    Fut: Future<Output = Result<Attempt<T, S>, E>>,
    E: From<Contended>,
{
    let mut state = initial;
    for conflicts in 0..=MAX_CONFLICT_RETRIES {
        if conflicts > 0 {
            tokio::time::sleep(backoff(conflicts)).await;
        }
        match attempt(state).await? {
            Attempt::Done(t) => return Ok(t),
            Attempt::Conflict(next) => state = next,
        }
    }
    Err(E::from(Contended {
        stream: stream.to_owned(),
        attempts: MAX_CONFLICT_RETRIES + 1,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum TestError {
        Refused,
        Contended(Contended),
    }

    impl From<Contended> for TestError {
        fn from(c: Contended) -> TestError {
            TestError::Contended(c)
        }
    }

    #[tokio::test]
    async fn retries_conflicts_then_gives_up_and_stops_at_the_first_error() {
        // Done after three conflicts, each attempt seeing the state the last one left.
        let r: Result<u32, TestError> = retry_on_conflict("s/1", 0u32, |n| async move {
            Ok(if n < 3 {
                Attempt::Conflict(n + 1)
            } else {
                Attempt::Done(n * 10)
            })
        })
        .await;
        assert_eq!(r, Ok(30));
        // Always a conflict: bounded.
        let mut calls = 0;
        let r: Result<(), TestError> = retry_on_conflict("s/1", (), |()| {
            calls += 1;
            async { Ok(Attempt::Conflict(())) }
        })
        .await;
        let gave_up = Contended {
            stream: "s/1".into(),
            attempts: MAX_CONFLICT_RETRIES + 1,
        };
        assert_eq!(r, Err(TestError::Contended(gave_up)));
        assert_eq!(calls, MAX_CONFLICT_RETRIES + 1);
        // A refusal ends the loop at once.
        let mut calls = 0;
        let r: Result<(), TestError> = retry_on_conflict("s/1", (), |()| {
            calls += 1;
            async { Err(TestError::Refused) }
        })
        .await;
        assert_eq!((r, calls), (Err(TestError::Refused), 1));
    }

    #[test]
    fn pauses_grow_and_stay_under_the_cap() {
        for attempt in 1..=40 {
            let cap = (1u64 << attempt.min(16)).min(BACKOFF_CAP_MS);
            for _ in 0..20 {
                assert!(backoff(attempt) <= Duration::from_millis(cap));
            }
        }
    }
}
