//! Who may call the webhook: the secret in the URL and the source-address
//! allow-list (both optional, both configured in `ServeSettings`).

use std::net::IpAddr;

use crate::config::ServeSettings;

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong or missing secret: answered 404, as if there were nothing here.
    NotFound,
    /// The source address is not allowed.
    Forbidden,
}

pub fn check(
    settings: &ServeSettings,
    path_secret: Option<&str>,
    peer: Option<IpAddr>,
) -> Result<(), Refusal> {
    match (&settings.webhook_secret, path_secret) {
        (None, None) => {}
        (Some(secret), Some(given))
            if constant_time_eq::constant_time_eq(secret.expose().as_bytes(), given.as_bytes()) => {
        }
        _ => return Err(Refusal::NotFound),
    }
    if settings.webhook_allow.is_empty() {
        return Ok(());
    }
    match peer {
        Some(ip) if settings.webhook_allow.iter().any(|net| net.contains(&ip)) => Ok(()),
        _ => Err(Refusal::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: Option<&str>, allow: &[&str]) -> ServeSettings {
        ServeSettings {
            webhook_secret: secret.map(|s| s.parse().unwrap()),
            webhook_allow: allow.iter().map(|n| n.parse().unwrap()).collect(),
            ..ServeSettings::for_tests()
        }
    }

    #[test]
    fn without_configuration_everyone_may_call_the_plain_path() {
        assert_eq!(check(&settings(None, &[]), None, None), Ok(()));
        assert_eq!(
            check(&settings(None, &[]), Some("anything"), None),
            Err(Refusal::NotFound)
        );
    }

    #[test]
    fn a_secret_hides_the_plain_path_and_wrong_secrets() {
        let s = settings(Some("0123456789abcdef-secret"), &[]);
        assert_eq!(check(&s, Some("0123456789abcdef-secret"), None), Ok(()));
        assert_eq!(check(&s, None, None), Err(Refusal::NotFound));
        assert_eq!(
            check(&s, Some("0123456789abcdef-secreT"), None),
            Err(Refusal::NotFound)
        );
    }

    #[test]
    fn the_allow_list_matches_networks() {
        let s = settings(None, &["10.1.0.0/16", "192.0.2.7/32"]);
        assert_eq!(check(&s, None, Some("10.1.200.3".parse().unwrap())), Ok(()));
        assert_eq!(check(&s, None, Some("192.0.2.7".parse().unwrap())), Ok(()));
        assert_eq!(
            check(&s, None, Some("192.0.2.8".parse().unwrap())),
            Err(Refusal::Forbidden)
        );
        assert_eq!(check(&s, None, None), Err(Refusal::Forbidden));
    }
}
