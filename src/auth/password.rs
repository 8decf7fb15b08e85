//! Password hashing with argon2id, off the async workers.
//!
//! Parameters: m = 19 MiB, t = 2, p = 1 — OWASP's recommended minimum for
//! argon2id. Hashing costs tens of milliseconds of CPU, so it runs on the
//! blocking pool, at most `CONCURRENT_HASHES` at a time: a burst of logins
//! queues instead of starving the webhook of CPU.

use std::sync::LazyLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

const CONCURRENT_HASHES: usize = 2;
static HASHING: Semaphore = Semaphore::const_new(CONCURRENT_HASHES);

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 10;
/// The longest: argon2 would take any length, but a 1 MB password is an attack.
pub const MAX_LENGTH: usize = 256;

fn argon2() -> Argon2<'static> {
    static PARAMS: LazyLock<Params> = LazyLock::new(|| {
        Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid")
    });
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS.clone())
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    let _permit = HASHING.acquire().await?;
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// True when `password` matches `stored` (a PHC string). A malformed stored
/// hash never matches.
pub async fn verify(password: String, stored: String) -> anyhow::Result<bool> {
    let _permit = HASHING.acquire().await?;
    Ok(tokio::task::spawn_blocking(move || {
        argon2()
            .verify_password(password.as_bytes(), stored.as_str())
            .is_ok()
    })
    .await?)
}

/// A hash to verify against when the account does not exist, so that
/// "no such user" takes as long as "wrong password".
pub async fn dummy_hash() -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            hash("not a real password at all".into())
                .await
                .unwrap_or_default()
        })
        .await
}

/// Why a new password is refused, if it is.
pub fn check_strength(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!("must be at least {MIN_LENGTH} characters long"));
    }
    if length > MAX_LENGTH {
        return Err(format!("must be at most {MAX_LENGTH} characters long"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(
            verify("correct horse battery".into(), stored.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify("correct horse battery!".into(), stored)
                .await
                .unwrap()
        );
        assert!(!verify("x".into(), "not a hash".into()).await.unwrap());
    }

    #[test]
    fn weak_and_absurd_passwords_are_refused() {
        assert!(check_strength("short").is_err());
        assert!(check_strength(&"x".repeat(MAX_LENGTH + 1)).is_err());
        assert!(check_strength("long enough password").is_ok());
    }
}
