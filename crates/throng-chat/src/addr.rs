//! Who a connection comes from: the client's address behind trusted proxies, and the key
//! that per-address limits count under.
//!
//! - [`AddrKey`]: the address prefix a client is counted under. IPv4 addresses are keyed
//!   one by one (`/32`, `--ipv4-prefix`); IPv6 addresses by their `/64`
//!   (`--ipv6-prefix`), because one subscriber usually holds a whole `/64` and could
//!   otherwise open connections from 2^64 addresses. IPv4-mapped IPv6 addresses
//!   (`::ffff:192.0.2.1`) count as the IPv4 address.
//! - [`ClientAddr`]: the client's address and its key, for connection caps and for any
//!   other per-address limit (rate limits).
//! - [`AddrArgs::client_addr`]: the client's address. The TCP peer, unless the peer is one
//!   of `--trusted-proxy`; then the `Forwarded` header (RFC 7239 `for=`) or, when there is
//!   none, `X-Forwarded-For`, read from the right: the right-most address that is not
//!   itself a trusted proxy. From any other peer those headers are ignored, so a client
//!   cannot pick the address it is counted under.
//! - [`host_is_own`]: whether a `Host` header names this server (the Origin check's
//!   defence against DNS rebinding).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::{header, HeaderMap};
use clap::Args;
use ipnet::IpNet;

/// Default `--ipv4-prefix`: every IPv4 address on its own.
pub const DEFAULT_IPV4_PREFIX: u8 = 32;
/// Default `--ipv6-prefix`: one key per `/64`, what one subscriber or host usually holds.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// How client addresses are found and grouped, and which hosts are this server's own.
#[derive(Debug, Clone, Args)]
pub struct AddrArgs {
    /// IPv4 addresses that share the leading this-many bits count as one address for
    /// `--max-connections-per-ip` (32: each address on its own).
    #[arg(long, env = "THRONG_CHAT_IPV4_PREFIX", default_value_t = DEFAULT_IPV4_PREFIX,
          value_parser = clap::value_parser!(u8).range(8..=32))]
    pub ipv4_prefix: u8,

    /// IPv6 addresses that share the leading this-many bits count as one address for
    /// `--max-connections-per-ip` (64: one subscriber's usual allocation).
    #[arg(long, env = "THRONG_CHAT_IPV6_PREFIX", default_value_t = DEFAULT_IPV6_PREFIX,
          value_parser = clap::value_parser!(u8).range(16..=128))]
    pub ipv6_prefix: u8,

    /// Reverse proxies (CIDR, e.g. 10.0.0.0/8 or 127.0.0.1, comma-separated) whose
    /// `Forwarded` / `X-Forwarded-For` headers are believed; from any other peer those
    /// headers are ignored.
    #[arg(long = "trusted-proxy", env = "THRONG_CHAT_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = parse_cidr)]
    pub trusted_proxies: Vec<IpNet>,

    /// Host names this server is reached by (comma-separated, e.g. chat.example.com). A
    /// browser page is "the server's own" only if its `Host` is one of these, an IP
    /// literal, `localhost`, or the host of an `--allowed-origin` (DNS rebinding defence).
    #[arg(long = "public-host", env = "THRONG_CHAT_PUBLIC_HOSTS", value_delimiter = ',',
          value_parser = parse_host_name)]
    pub public_hosts: Vec<String>,
}

impl Default for AddrArgs {
    fn default() -> Self {
        Self {
            ipv4_prefix: DEFAULT_IPV4_PREFIX,
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
            trusted_proxies: Vec::new(),
            public_hosts: Vec::new(),
        }
    }
}

/// Parses a `--trusted-proxy`: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a bare address (a
/// single host). Host bits set below the prefix are refused (`10.0.0.1/8` is a typo for
/// either `10.0.0.1` or `10.0.0.0/8`).
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = s.parse().map_err(|_| {
        format!("`{s}` is not an address or CIDR (like 10.0.0.0/8, 192.0.2.7 or fd00::/8)")
    })?;
    if net.trunc() != net {
        return Err(format!(
            "`{s}` has host bits set below its prefix; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// Parses a `--public-host`: a DNS name (letters, digits, `-`, `.`), lowercased; no
/// scheme, port or path.
pub fn parse_host_name(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('.');
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !ok {
        return Err(format!(
            "`{s}` is not a host name (like chat.example.com; no scheme, port or path)"
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// The address prefix a client is counted under (see the module docs). Displays as a
/// CIDR (`192.0.2.1/32`, `2001:db8::/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrKey(IpNet);

impl AddrKey {
    /// The key of `ip`: its leading `v4` bits for IPv4 (and IPv4-mapped IPv6), its
    /// leading `v6` bits for IPv6. Prefix lengths past the address's width are capped.
    pub fn new(ip: IpAddr, v4: u8, v6: u8) -> Self {
        let net = match ip.to_canonical() {
            IpAddr::V4(a) => IpNet::V4(
                ipnet::Ipv4Net::new(a, v4.min(32))
                    .expect("prefix capped at 32")
                    .trunc(),
            ),
            IpAddr::V6(a) => IpNet::V6(
                ipnet::Ipv6Net::new(a, v6.min(128))
                    .expect("prefix capped at 128")
                    .trunc(),
            ),
        };
        Self(net)
    }

    /// The prefix as a network.
    pub fn net(&self) -> IpNet {
        self.0
    }
}

impl fmt::Display for AddrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A client's address (after trusted proxies) and the key it is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    /// The client's address.
    pub ip: IpAddr,
    /// Its prefix, for per-address limits.
    pub key: AddrKey,
}

impl AddrArgs {
    /// The key `ip` is counted under.
    pub fn key(&self, ip: IpAddr) -> AddrKey {
        AddrKey::new(ip, self.ipv4_prefix, self.ipv6_prefix)
    }

    /// Whether `ip` is inside one of `--trusted-proxy`.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// The client behind TCP peer `peer`: `peer` itself unless it is a trusted proxy;
    /// then the right-most address of `Forwarded` (or, without that header,
    /// `X-Forwarded-For`) that is not a trusted proxy. A hop that does not parse
    /// (`unknown`, an obfuscated `_name`, garbage) stops the walk at the last trusted
    /// address, so a client can never choose the address it is counted under.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddr {
        let ip = self.client_ip(peer, headers);
        ClientAddr {
            ip,
            key: self.key(ip),
        }
    }

    fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted_proxy(peer) {
            return peer;
        }
        let hops: Vec<Option<IpAddr>> = if headers.contains_key(header::FORWARDED) {
            header_list(headers, header::FORWARDED.as_str())
                .map(|element| forwarded_for(element).and_then(parse_node))
                .collect()
        } else {
            header_list(headers, "x-forwarded-for")
                .map(parse_node)
                .collect()
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) if self.is_trusted_proxy(ip) => client = ip,
                Some(ip) => return ip,
                None => break,
            }
        }
        client
    }
}

/// The comma-separated items of every `name` header line, in order. A line that is not
/// visible ASCII counts as one unparseable item.
fn header_list<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The `for=` value of one `Forwarded` element (`for=192.0.2.1;proto=https`), unquoted.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| v.trim().trim_matches('"'))
    })
}

/// A node: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`, or a
/// bare `2001:db8::1` (as some proxies write X-Forwarded-For). `unknown`, obfuscated
/// identifiers and anything else: `None`.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let (v6, _port) = rest.split_once(']')?;
        return v6
            .parse::<Ipv6Addr>()
            .ok()
            .map(|a| IpAddr::V6(a).to_canonical());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (v4, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    v4.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Whether the `Host` header value `host` names this server itself: an IP literal
/// (`127.0.0.1:8080`, `[::1]:8080`), `localhost`, or one of `names` (compared without
/// the port, case-insensitively). A DNS name an attacker controls can be made to resolve
/// to this server (DNS rebinding), so a page served under such a name must not count as
/// the server's own.
pub fn host_is_own(host: &str, names: &[String]) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, port))
                if port.is_empty() || port.strip_prefix(':').is_some_and(valid_port) =>
            {
                return v6.parse::<Ipv6Addr>().is_ok();
            }
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if valid_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    let name = name.trim_end_matches('.');
    name.parse::<Ipv4Addr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
}

/// The host name of an origin (`https://chat.example.com:8443` → `chat.example.com`),
/// for `--allowed-origin`s that name this server.
pub fn origin_host(origin: &str) -> Option<&str> {
    let (_, authority) = origin.split_once("://")?;
    let host = match authority.strip_prefix('[') {
        Some(rest) => return rest.split_once(']').map(|(h, _)| h),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn args(proxies: &[&str]) -> AddrArgs {
        AddrArgs {
            trusted_proxies: proxies.iter().map(|p| parse_cidr(p).unwrap()).collect(),
            ..AddrArgs::default()
        }
    }

    #[test]
    fn ipv6_addresses_in_one_slash_64_share_a_key() {
        let a = AddrArgs::default();
        let k = a.key(ip("2001:db8:1:2:aaaa::1"));
        assert_eq!(k, a.key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(k, a.key(ip("2001:db8:1:3::1")));
        assert_eq!(k.to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv4_addresses_are_keyed_one_by_one_by_default() {
        let a = AddrArgs::default();
        assert_ne!(a.key(ip("192.0.2.1")), a.key(ip("192.0.2.2")));
        assert_eq!(a.key(ip("192.0.2.1")).to_string(), "192.0.2.1/32");
    }

    #[test]
    fn prefixes_are_configurable() {
        let a = AddrArgs {
            ipv4_prefix: 24,
            ipv6_prefix: 48,
            ..AddrArgs::default()
        };
        assert_eq!(a.key(ip("192.0.2.1")), a.key(ip("192.0.2.200")));
        assert_ne!(a.key(ip("192.0.2.1")), a.key(ip("192.0.3.1")));
        assert_eq!(
            a.key(ip("2001:db8:1:2::1")),
            a.key(ip("2001:db8:1:ffff::1"))
        );
        assert_eq!(a.key(ip("2001:db8:1::1")).to_string(), "2001:db8:1::/48");
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_ipv4() {
        let a = AddrArgs::default();
        assert_eq!(a.key(ip("::ffff:192.0.2.1")), a.key(ip("192.0.2.1")));
    }

    #[test]
    fn cidrs_are_validated() {
        assert_eq!(parse_cidr("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_cidr("127.0.0.1").unwrap().to_string(), "127.0.0.1/32");
        assert_eq!(parse_cidr("::1").unwrap().to_string(), "::1/128");
        assert_eq!(parse_cidr("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert!(parse_cidr("10.0.0.1/8").unwrap_err().contains("10.0.0.0/8"));
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("proxy.local").is_err());
        assert!(parse_cidr("").is_err());
    }

    #[test]
    fn host_names_are_validated() {
        assert_eq!(
            parse_host_name("Chat.Example.com"),
            Ok("chat.example.com".into())
        );
        assert!(parse_host_name("https://chat.example.com").is_err());
        assert!(parse_host_name("chat.example.com:443").is_err());
        assert!(parse_host_name("").is_err());
        assert!(parse_host_name("a..b").is_err());
    }

    #[test]
    fn the_flags_are_validated_at_parse_time() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::Config::try_parse_from(
                std::iter::once("throng-chat").chain(args.iter().copied()),
            )
        };
        let c = parse(&[
            "--trusted-proxy",
            "10.0.0.0/8,::1",
            "--public-host",
            "Chat.Example.com",
        ])
        .unwrap();
        assert_eq!(c.net.trusted_proxies.len(), 2);
        assert_eq!(c.net.public_hosts, ["chat.example.com"]);
        assert_eq!((c.net.ipv4_prefix, c.net.ipv6_prefix), (32, 64));
        for bad in [
            &["--trusted-proxy", "10.0.0.0/8,nope"][..],
            &["--trusted-proxy", "10.1.2.3/8"],
            &["--ipv6-prefix", "129"],
            &["--ipv6-prefix", "8"],
            &["--ipv4-prefix", "33"],
            &["--public-host", "https://chat.example.com"],
            &["--auth", "password"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
        let a = args(&["10.0.0.0/8"]);
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=198.51.100.8"),
        ]);
        assert_eq!(a.client_addr(ip("192.0.2.1"), &h).ip, ip("192.0.2.1"));
        assert_eq!(
            AddrArgs::default().client_addr(ip("10.0.0.1"), &h).ip,
            ip("10.0.0.1")
        );
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right_skipping_trusted_proxies() {
        let a = args(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        // The client put a forged address first; the proxies appended the real ones.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(a.client_addr(peer, &h).ip, ip("198.51.100.7"));
        // Several header lines are one list.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(a.client_addr(peer, &h).ip, ip("198.51.100.7"));
        // IPv6, with or without brackets.
        let h = headers(&[("x-forwarded-for", "2001:db8::7")]);
        assert_eq!(a.client_addr(peer, &h).ip, ip("2001:db8::7"));
        // No header: the proxy itself.
        assert_eq!(a.client_addr(peer, &HeaderMap::new()).ip, peer);
        // Only proxies: the left-most of them.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(a.client_addr(peer, &h).ip, ip("10.9.9.9"));
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, nonsense, 10.0.0.2")]);
        assert_eq!(a.client_addr(peer, &h).ip, ip("10.0.0.2"));
    }

    #[test]
    fn forwarded_is_preferred_and_parsed_per_rfc_7239() {
        let a = args(&["10.0.0.0/8", "fd00::/8"]);
        let peer = ip("fd00::1");
        let h = headers(&[
            (
                "forwarded",
                r#"for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https, For="10.0.0.3:80";by=10.0.0.1"#,
            ),
            ("x-forwarded-for", "198.51.100.9"),
        ]);
        let c = a.client_addr(peer, &h);
        assert_eq!(c.ip, ip("2001:db8:cafe::17"));
        assert_eq!(c.key.to_string(), "2001:db8:cafe::/64");
        let h = headers(&[("forwarded", "proto=https;for=192.0.2.60")]);
        assert_eq!(a.client_addr(peer, &h).ip, ip("192.0.2.60"));
        // `unknown` and obfuscated nodes cannot be keyed: the last trusted hop is used.
        let h = headers(&[("forwarded", "for=unknown, for=10.0.0.4")]);
        assert_eq!(a.client_addr(peer, &h).ip, ip("10.0.0.4"));
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(a.client_addr(peer, &h).ip, peer);
    }

    #[test]
    fn own_hosts_are_ip_literals_localhost_and_configured_names() {
        let names = vec!["chat.example.com".to_string()];
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "[2001:db8::1]",
            "localhost:8080",
            "LOCALHOST",
            "chat.example.com",
            "Chat.Example.com:443",
            "192.0.2.1:80",
        ] {
            assert!(host_is_own(host, &names), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "chat.example.com.evil.example",
            "127.0.0.1.nip.io:8080",
            "[::1",
            "[::1]8080",
            "[not-v6]:80",
            "127.0.0.1:port",
            "",
        ] {
            assert!(!host_is_own(host, &names), "{host}");
        }
    }

    #[test]
    fn origin_hosts_are_extracted() {
        assert_eq!(
            origin_host("https://chat.example.com:8443"),
            Some("chat.example.com")
        );
        assert_eq!(origin_host("http://[::1]:8080"), Some("::1"));
        assert_eq!(origin_host("http://a.example"), Some("a.example"));
        assert_eq!(origin_host("*"), None);
    }
}
