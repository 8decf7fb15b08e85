//! Access tokens (JWT, HS256 pinned) and refresh tokens (random, stored hashed).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Role;

pub const ISSUER: &str = "ivrhub";
pub const AUDIENCE: &str = "ivrhub-api";
/// Access tokens are short-lived: a disabled user or a changed role is also
/// checked on every request, but a stolen token should not last.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const REFRESH_TTL_DAYS: i64 = 30;

/// The claims of an access token. Every one is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub role: Role,
    /// `None` for platform admins.
    pub tenant: Option<i64>,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    /// Keys from a secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(
        &self,
        user_id: i64,
        role: Role,
        tenant: Option<i64>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + ACCESS_TTL_SECS,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            role,
            tenant,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a valid token: right algorithm, signature, issuer,
    /// audience, not expired, every claim present.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
    }
}

/// Why a token was refused, in words a client's developer can act on.
pub fn refusal(error: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => {
            "the access token has expired: get a new one with POST /api/v1/auth/refresh (or log in again)"
        }
        ErrorKind::ImmatureSignature => "the access token is not valid yet",
        ErrorKind::InvalidSignature => {
            "the access token's signature does not match: it was not issued here, or was changed"
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the access token is signed with another algorithm than HS256"
        }
        ErrorKind::InvalidAudience => "the access token is for another audience",
        ErrorKind::InvalidIssuer => "the access token was issued by someone else",
        ErrorKind::MissingRequiredClaim(_) => {
            "the access token lacks a required claim (exp, iat, iss, aud, sub)"
        }
        _ => "the access token is malformed",
    }
}

/// A new refresh token: what the client gets, and the hash we store.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A random secret for signing tokens, as text.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn an_issued_token_verifies() {
        let token = keys().issue(7, Role::Editor, Some(3), Utc::now()).unwrap();
        let claims = keys().verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.role, claims.tenant),
            ("7", Role::Editor, Some(3))
        );
    }

    #[test]
    fn expired_and_foreign_tokens_do_not() {
        let old = Utc::now() - chrono::Duration::hours(1);
        assert!(
            keys()
                .verify(&keys().issue(7, Role::Viewer, Some(3), old).unwrap())
                .is_err()
        );
        let other = TokenKeys::new(b"another-secret-another-secret-32");
        assert!(
            keys()
                .verify(&other.issue(7, Role::Viewer, Some(3), Utc::now()).unwrap())
                .is_err()
        );
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), hash_a);
        assert_eq!(a.len(), 43);
    }
}
