//! Server-side request forgery guard for alert webhooks: a tenant's URL
//! must not make ivrhub reach into its own network.
//!
//! Two checks, both needed:
//! * [`check_url`] when a rule is written: `http`/`https` only, no user
//!   info, and a host that is not a loopback, private, link-local or
//!   otherwise special address literal, nor `localhost`;
//! * [`GuardedResolver`] when a delivery is sent: every address a name
//!   resolves to is checked, and a name resolving only to forbidden ones is
//!   refused (a name that points at 10.0.0.5 today, or DNS rebinding). The
//!   client follows no redirects, which could lead anywhere.
//!
//! The platform may allow private addresses (`IVRHUB_ALERT_ALLOW_PRIVATE_URLS`:
//! a receiver inside the cluster; the tests' local receivers).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a URL: {0}")]
    Malformed(String),
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("a URL with a user name or password is not allowed; use the signature to authenticate")]
    UserInfo,
    #[error(
        "{0} is a loopback, private, link-local or reserved address: webhooks must reach a public address"
    )]
    Private(String),
    #[error("at most 2000 characters")]
    TooLong,
}

/// Checks a webhook URL as written (no name resolution).
pub fn check_url(text: &str, allow_private: bool) -> Result<reqwest::Url, Refusal> {
    if text.len() > 2000 {
        return Err(Refusal::TooLong);
    }
    let url = reqwest::Url::parse(text).map_err(|error| Refusal::Malformed(error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::UserInfo);
    }
    let forbidden = match url.host() {
        None => return Err(Refusal::Malformed("no host".into())),
        Some(url::Host::Ipv4(ip)) => forbidden(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => forbidden(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if forbidden && !allow_private {
        return Err(Refusal::Private(
            url.host_str().unwrap_or_default().to_owned(),
        ));
    }
    Ok(url)
}

/// Loopback, private (RFC 1918, unique local), link-local, shared (CGNAT),
/// unspecified, broadcast, multicast, documentation and other reserved
/// addresses; IPv4 inside IPv6 is judged as IPv4.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => forbidden_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
                || first == 0x0064 && ip.segments()[1] == 0xff9b // NAT64 of anything
                || ip == Ipv6Addr::UNSPECIFIED
                || ip.segments()[..6] == [0; 6] // IPv4-compatible ::a.b.c.d
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

/// The name resolver of the delivery client: the system's resolver, with
/// forbidden addresses removed (unless allowed); a name with none left is
/// an error the attempt records.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|addr| allow_private || !forbidden(addr.ip()))
                .collect();
            if allowed.is_empty() {
                let shown: Vec<String> = found.iter().map(|addr| addr.ip().to_string()).collect();
                let error: Box<dyn std::error::Error + Send + Sync> = format!(
                    "{host} resolves to {} only: a loopback, private or reserved address; refused",
                    shown.join(", ")
                )
                .into();
                return Err(error);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for url in [
            "http://127.0.0.1/hook",
            "http://127.1.2.3:8080/",
            "https://10.0.0.5/",
            "https://172.16.9.1/",
            "https://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:10.1.2.3]/",
            "http://localhost:9000/",
            "http://api.localhost/",
            "http://LOCALHOST./",
            "http://2130706433/", // 127.0.0.1 as one number
            "http://0x7f.1/",
        ] {
            assert!(
                matches!(check_url(url, false), Err(Refusal::Private(_))),
                "{url}: {:?}",
                check_url(url, false)
            );
            assert!(
                check_url(url, true).is_ok(),
                "{url} allowed by the platform"
            );
        }
    }

    #[test]
    fn public_urls_pass_and_other_schemes_do_not() {
        assert!(check_url("https://ops.example.com/hooks/ivrhub?x=1", false).is_ok());
        assert!(check_url("http://93.184.216.34/", false).is_ok());
        assert!(check_url("http://[2606:2800:220:1::1]/", false).is_ok());
        assert_eq!(check_url("ftp://example.com/", false), Err(Refusal::Scheme));
        assert_eq!(check_url("file:///etc/passwd", false), Err(Refusal::Scheme));
        assert_eq!(
            check_url("https://user:pw@example.com/", false),
            Err(Refusal::UserInfo)
        );
        assert!(matches!(
            check_url("not a url", false),
            Err(Refusal::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_private_addresses() {
        use reqwest::dns::Resolve;
        let name = || -> reqwest::dns::Name { "localhost".parse().unwrap() };
        let error = GuardedResolver {
            allow_private: false,
        }
        .resolve(name())
        .await
        .err()
        .expect("localhost refused");
        assert!(error.to_string().contains("refused"), "{error}");
        let allowed = match (GuardedResolver {
            allow_private: true,
        })
        .resolve(name())
        .await
        {
            Ok(addrs) => addrs,
            Err(error) => panic!("allowed by the platform: {error}"),
        };
        assert!(allowed.into_iter().any(|addr| addr.ip().is_loopback()));
    }
}
