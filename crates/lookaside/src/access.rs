//! Which clients may use the resolver: a list of address prefixes (`allow` in the configuration,
//! `--allow` on the command line). The default is loopback only, as Unbound's implicit
//! access-control: a resolver that answers anyone is an open resolver and, with DNSSEC answers
//! many times larger than the query, an amplifier for reflection attacks (RFC 5358).

use std::fmt;
use std::net::IpAddr;

/// One address prefix, such as `10.0.0.0/8` or `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// Parses `ADDR/LEN` or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| format!("{s:?} is not an address prefix (e.g. 192.168.0.0/16, fd00::/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0–{max}"))?,
        };
        Ok(Self { addr, len })
    }

    /// True when `ip` lies in the prefix. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, seen
    /// on dual-stack sockets) count as the IPv4 address they carry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                masked(u32::from(p).into(), self.len, 32) == masked(u32::from(a).into(), self.len, 32)
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                masked(u128::from(p), self.len, 128) == masked(u128::from(a), self.len, 128)
            }
            _ => false,
        }
    }
}

/// The top `len` bits of a `width`-bit address.
fn masked(bits: u128, len: u8, width: u32) -> u128 {
    let len = u32::from(len).min(width);
    if len == 0 { 0 } else { bits >> (width - len) }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// The clients allowed to query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessList {
    allowed: Vec<Prefix>,
}

/// The default: loopback only.
pub const LOOPBACK: [&str; 2] = ["127.0.0.0/8", "::1/128"];

impl AccessList {
    /// A list of these prefixes (`ADDR/LEN` strings).
    pub fn parse(prefixes: &[String]) -> Result<Self, String> {
        Ok(Self { allowed: prefixes.iter().map(|p| Prefix::parse(p)).collect::<Result<_, _>>()? })
    }

    /// True when a client at `ip` may query.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allowed.iter().any(|p| p.contains(ip))
    }

    /// The prefixes, for `check-config`.
    pub fn prefixes(&self) -> &[Prefix] {
        &self.allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(p: &[&str]) -> AccessList {
        AccessList::parse(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn prefixes_match_their_ranges_only() {
        let l = list(&["10.0.0.0/8", "192.168.1.7", "fd00::/8"]);
        assert!(l.allows("10.200.1.1".parse().unwrap()));
        assert!(!l.allows("11.0.0.1".parse().unwrap()));
        assert!(l.allows("192.168.1.7".parse().unwrap()));
        assert!(!l.allows("192.168.1.8".parse().unwrap()));
        assert!(l.allows("fd12:3456::1".parse().unwrap()));
        assert!(!l.allows("fe80::1".parse().unwrap()));
        assert!(l.allows("::ffff:10.1.2.3".parse().unwrap()), "IPv4-mapped counts as IPv4");
        assert!(list(&["0.0.0.0/0"]).allows("203.0.113.9".parse().unwrap()));
        assert!(!list(&["0.0.0.0/0"]).allows("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn the_default_is_loopback_only() {
        let l = list(&LOOPBACK);
        assert!(l.allows("127.0.0.153".parse().unwrap()));
        assert!(l.allows("::1".parse().unwrap()));
        assert!(!l.allows("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn bad_prefixes_are_refused_with_a_reason() {
        assert!(Prefix::parse("10.0.0.0/33").unwrap_err().contains("0–32"));
        assert!(Prefix::parse("example.net").unwrap_err().contains("not an address prefix"));
        assert!(Prefix::parse("::/129").is_err());
    }
}
