//! What one lookup-secret digest costs (`docs/domain/dossier.md`, "The lookup secret"): the
//! figure the parameters of `engine/src/domain/secret.rs` were chosen by. A measurement, run by
//! hand in release on an idle machine:
//!
//! `cargo test --release -p motcua-engine --test secret_cost -- --ignored --nocapture`

use std::time::Instant;

use motcua_engine::domain::secret::{
    verify_nothing, SecretDigest, ARGON2_LANES, ARGON2_MEMORY_KIB, ARGON2_PASSES, SALT_LEN,
};

/// Digests per measurement.
const ROUNDS: u32 = 300;

#[test]
#[ignore = "a measurement: run by hand in release"]
fn cost_of_one_digest_and_one_check() {
    let start = Instant::now();
    let mut last = None;
    for i in 0..ROUNDS {
        let salt = [i as u8; SALT_LEN];
        last = SecretDigest::argon2id("ABCDEFGH23", salt).ok();
    }
    let digest_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(ROUNDS);
    let Some(digest) = last else {
        panic!("the parameters are valid");
    };
    let start = Instant::now();
    for _ in 0..ROUNDS {
        std::hint::black_box(digest.verify("ABCDEFGH24"));
    }
    let verify_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(ROUNDS);
    let start = Instant::now();
    for _ in 0..ROUNDS {
        verify_nothing("ABCDEFGH24");
    }
    let nothing_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(ROUNDS);
    // An attacker holding the log needs 2^49 guesses on average for a 50-bit secret.
    let years = 2f64.powi(49) * digest_ms / 1e3 / (365.25 * 86_400.0);
    println!(
        "argon2id m={ARGON2_MEMORY_KIB}KiB t={ARGON2_PASSES} p={ARGON2_LANES}: digest {digest_ms:.3} ms, \
         verify {verify_ms:.3} ms, verify_nothing {nothing_ms:.3} ms; \
         2^49 guesses x {digest_ms:.3} ms = {years:.0} CPU-years per dossier"
    );
}
