//! Which address a request comes from, behind a reverse proxy or not.
//!
//! Rate limits count per client address. Behind a reverse proxy every connection comes from the
//! proxy, so keyed by the socket peer every citizen shared one allowance and one client could
//! block lookups for everybody. With `--trusted-proxy` (a list of CIDRs), a request whose socket
//! peer is a trusted proxy is attributed to the rightmost address of `X-Forwarded-For` that is
//! not itself a trusted proxy: each proxy appends the address it saw, so the entries to the left
//! of the last trusted hop are whatever the client wrote and are never believed. A request from
//! any other peer is attributed to the peer, whatever headers it sends.
//!
//! IPv6 clients are counted per /64 ([`rate_key`]): one subscriber usually holds a whole /64,
//! so keyed by the exact address one machine could take 2^64 fresh allowances.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::{IpNet, Ipv6Net};

/// The prefix an IPv6 client is counted by: a subscriber's usual allocation.
pub const IPV6_CLIENT_PREFIX: u8 = 64;

/// Why a `--trusted-proxy` entry is not a CIDR.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    #[error("{0:?} is not an IP address")]
    Address(String),
    #[error("{0:?} is not a prefix length for this address family")]
    Prefix(String),
}

/// An address block, `192.0.2.0/24` or `2001:db8::/32` (a bare address is its own block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// True when `ip` lies in this block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::Address(addr.to_owned()))?;
        let network = network.to_canonical();
        let block = match prefix {
            None => IpNet::from(network),
            Some(p) => p
                .parse::<u8>()
                .ok()
                .and_then(|len| IpNet::new(network, len).ok())
                .ok_or_else(|| CidrError::Prefix(p.to_owned()))?,
        };
        Ok(Cidr(block))
    }
}

/// The client a request is attributed to: the socket `peer`, or, when the peer is one of the
/// `trusted` proxies, the rightmost `X-Forwarded-For` hop that is not a trusted proxy (the
/// leftmost hop when all are trusted; the last trusted hop seen when the next one to the left
/// does not parse, since only a proxy's own entries are known to be well formed).
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Several `X-Forwarded-For` lines are one list, in order (RFC 9110, 5.3).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// The key a rate limiter counts `ip` under: IPv4 as is, IPv6 by its /64.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => Ipv6Net::new(v6, IPV6_CLIENT_PREFIX)
            .map_or(IpAddr::V6(v6), |net| IpAddr::V6(net.network())),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.200.1.1")));
        assert!(c.contains(ip("::ffff:10.0.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::Prefix("33".into()))
        );
        assert_eq!(
            "proxy/8".parse::<Cidr>(),
            Err(CidrError::Address("proxy".into()))
        );
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop_and_only_behind_a_trusted_peer() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy = ip("10.0.0.2");
        // Not a trusted peer: the header is ignored.
        let h = xff(&["203.0.113.7"]);
        assert_eq!(
            client_addr(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        // A trusted peer: the rightmost untrusted hop; a forged entry to its left is ignored.
        let h = xff(&["1.1.1.1, 203.0.113.7"]);
        assert_eq!(client_addr(proxy, &h, &trusted), ip("203.0.113.7"));
        // Two proxies: the inner one's hop is skipped; two header lines are one list.
        let h = xff(&["203.0.113.7", "10.0.0.9"]);
        assert_eq!(client_addr(proxy, &h, &trusted), ip("203.0.113.7"));
        // No header, or garbage where the client was: the last trusted hop.
        assert_eq!(client_addr(proxy, &HeaderMap::new(), &trusted), proxy);
        let h = xff(&["junk, 10.0.0.9"]);
        assert_eq!(client_addr(proxy, &h, &trusted), ip("10.0.0.9"));
        // No trusted proxy configured: always the peer.
        let h = xff(&["203.0.113.7"]);
        assert_eq!(client_addr(proxy, &h, &[]), proxy);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_ne!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_key(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(rate_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
