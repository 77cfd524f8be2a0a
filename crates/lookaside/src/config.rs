//! The configuration file (TOML) and its defaults; command-line flags override it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lookaside_dnssec::TrustAnchors;
use lookaside_dnssec::name::Name;
use serde::Deserialize;

use lookaside_stub::local::LocalData;
use lookaside_stub::tls::TlsAuth;
use lookaside_stub::upstream::{DOT_PORT, UpstreamSpec};

use crate::access::{self, AccessList};
use crate::defaults;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys; the message names line and column.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A trust-anchor file is malformed.
    #[error("{path}: {source}")]
    Anchor {
        /// The file.
        path: PathBuf,
        /// The line and problem.
        source: lookaside_dnssec::anchor::AnchorError,
    },
    /// A value is out of range or unusable.
    #[error("{0}")]
    Invalid(String),
}

/// The file's contents. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// Addresses to listen on (UDP and TCP).
    pub listen: Option<Vec<String>>,
    /// Client address prefixes allowed to query (default: loopback only); others get REFUSED.
    pub allow: Option<Vec<String>>,
    /// What clients outside `allow` get: "refused" (REFUSED with EDE 18, the default) or "drop"
    /// (nothing: no answer to reflect).
    pub refuse: Option<String>,
    /// Upstream recursive resolvers: `IP`, `IP:PORT`, `tls://IP[:PORT]#AUTH_NAME`, or a table;
    /// default: the nameservers of /etc/resolv.conf.
    pub upstreams: Option<Vec<UpstreamEntry>>,
    /// CA certificates (PEM) for TLS upstreams authenticated by name; default: the system's.
    pub tls_ca_file: Option<PathBuf>,
    /// Upstream addresses that do not echo the question's case: no 0x20 for them.
    #[serde(rename = "no-0x20")]
    pub no_0x20: Option<Vec<String>>,
    /// Trust-anchor files (DS/DNSKEY lines, BIND trust-anchors blocks, root-anchors.xml).
    pub trust_anchors: Option<Vec<PathBuf>>,
    /// Whether the built-in root anchors apply (default true).
    pub builtin_root_anchors: Option<bool>,
    /// Domains treated as insecure (RFC 7646 negative trust anchors).
    pub negative_trust_anchors: Option<Vec<String>>,
    /// Cache settings.
    pub cache: Option<CacheConfig>,
    /// Limits.
    pub limits: Option<LimitsConfig>,
    /// Log filter (`info`, `debug`, or a RUST_LOG-style directive).
    pub log_level: Option<String>,
    /// Look-aside registries (`[[lookaside]]`), in precedence order after specificity.
    pub lookaside: Option<Vec<LookasideConfig>>,
    /// Path of the control socket for `lookaside ctl`.
    pub control_socket: Option<PathBuf>,
    /// Answer to CHAOS `version.bind` (default: "lookaside VERSION").
    pub version_string: Option<String>,
    /// Refuse CHAOS `version.bind` queries (default false).
    pub hide_version: Option<bool>,
    /// Answer to CHAOS `id.server` (default: refused).
    pub identity: Option<String>,
    /// Address of the Prometheus metrics endpoint, e.g. `127.0.0.1:9153` (default: off).
    pub metrics_listen: Option<String>,
    /// User to switch to after binding, when started as root outside systemd.
    pub user: Option<String>,
    /// Directory for state kept across restarts (the RFC 5011 root trust point).
    pub state_directory: Option<PathBuf>,
    /// RFC 5011 automated updates of the root anchor (default true).
    pub auto_trust: Option<bool>,
    /// Seconds between RFC 5011 probes ([`defaults::AUTO_TRUST_INTERVAL`]).
    pub auto_trust_interval: Option<u64>,
    /// Seconds between rechecks of negative trust anchors ([`defaults::NTA_RECHECK_INTERVAL`]).
    pub nta_recheck_interval: Option<u64>,
    /// Zones whose anchors (from trust-anchor files) RFC 5011 keeps up to date, besides the root.
    pub auto_trust_anchors: Option<Vec<String>>,
    /// EDNS UDP payload size advertised to upstreams ([`defaults::EDNS_BUFFER_SIZE`]).
    pub edns_buffer_size: Option<u64>,
    /// Seconds between upstream probes ([`defaults::UPSTREAM_PROBE_INTERVAL`]).
    pub upstream_probe_interval: Option<u64>,
    /// Names answered from the configuration.
    pub local: Option<Vec<LocalEntry>>,
    /// Domains with upstreams of their own.
    pub forward: Option<Vec<ForwardEntry>>,
    /// Seconds between runs of the watch reports ([`defaults::WATCH_INTERVAL`]).
    pub watch_interval: Option<u64>,
    /// XMPP domains whose report the daemon exports as metrics.
    pub watch: Option<Vec<WatchEntry>>,
}

/// One `[[watch]]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchEntry {
    /// The XMPP domain.
    pub domain: String,
    /// Also check the served certificates (default false).
    pub tls: Option<bool>,
}

/// A watched XMPP domain, ready for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// The domain.
    pub domain: Name,
    /// Connect and check the certificates too.
    pub tls: bool,
}

/// One `[[forward]]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardEntry {
    /// Names at or below this domain are forwarded.
    pub domain: String,
    /// Where to, in the forms `upstreams` takes.
    pub upstreams: Vec<UpstreamEntry>,
    /// "validate" (the default) or "off" (insecure by policy, as Unbound's domain-insecure).
    pub dnssec: Option<String>,
}

/// A forwarded domain, ready for the resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardConfig {
    /// The domain.
    pub domain: Name,
    /// Its upstreams.
    pub upstreams: Vec<UpstreamSpec>,
    /// False for `dnssec = "off"`.
    pub validate: bool,
}

/// Reads `DOMAIN=ADDR[,ADDR…]` (`--forward`).
pub fn parse_forward_arg(arg: &str) -> Result<ForwardConfig, ConfigError> {
    let (domain, addrs) = arg
        .split_once('=')
        .ok_or_else(|| ConfigError::Invalid(format!("--forward {arg:?}: write DOMAIN=ADDR[,ADDR...]")))?;
    let domain =
        Name::parse(domain).map_err(|e| ConfigError::Invalid(format!("--forward {domain:?}: {e}")))?;
    let upstreams = addrs.split(',').map(|a| parse_upstream(a.trim())).collect::<Result<Vec<_>, _>>()?;
    Ok(ForwardConfig { domain, upstreams, validate: true })
}

fn forward_config(e: &ForwardEntry) -> Result<ForwardConfig, ConfigError> {
    let domain = Name::parse(&e.domain)
        .map_err(|err| ConfigError::Invalid(format!("[[forward]] domain {:?}: {err}", e.domain)))?;
    if e.upstreams.is_empty() {
        return Err(ConfigError::Invalid(format!("[[forward]] {domain}: no upstreams")));
    }
    let upstreams = e.upstreams.iter().map(parse_upstream_entry).collect::<Result<Vec<_>, _>>()?;
    let validate = match e.dnssec.as_deref() {
        None | Some("validate") => true,
        Some("off") => false,
        Some(other) => {
            return Err(ConfigError::Invalid(format!(
                "[[forward]] {domain}: dnssec = {other:?}: use \"validate\" or \"off\""
            )));
        }
    };
    Ok(ForwardConfig { domain, upstreams, validate })
}

/// Forwards that cannot all be meant: the same domain twice is an error; a domain inside
/// another with the same upstreams and policy changes nothing (a warning).
pub fn forward_conflicts(forwards: &[ForwardConfig]) -> (Vec<String>, Vec<String>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    for (i, a) in forwards.iter().enumerate() {
        for b in &forwards[i + 1..] {
            if a.domain == b.domain {
                errors.push(format!("{} is forwarded twice; only one entry can apply", a.domain));
            }
        }
        // The closest enclosing forward decides what `a` would get without its entry.
        let parent = forwards
            .iter()
            .filter(|p| p.domain != a.domain && a.domain.is_at_or_below(&p.domain))
            .max_by_key(|p| p.domain.label_count());
        if let Some(p) = parent
            && p.upstreams == a.upstreams
            && p.validate == a.validate
        {
            warnings.push(format!(
                "the forward for {} is shadowed by the one for {} (same upstreams and dnssec): it changes nothing",
                a.domain, p.domain
            ));
        }
    }
    (errors, warnings)
}

/// One `[[local]]` table: a name and its records, in presentation form.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalEntry {
    /// The name.
    pub name: String,
    /// TTL of its records (default 300 s).
    pub ttl: Option<u32>,
    /// IPv4 addresses.
    #[serde(rename = "A")]
    pub a: Option<Vec<String>>,
    /// IPv6 addresses.
    #[serde(rename = "AAAA")]
    pub aaaa: Option<Vec<String>>,
    /// Text strings.
    #[serde(rename = "TXT")]
    pub txt: Option<Vec<String>>,
    /// `PRIORITY WEIGHT PORT TARGET`.
    #[serde(rename = "SRV")]
    pub srv: Option<Vec<String>>,
    /// An alias target.
    #[serde(rename = "CNAME")]
    pub cname: Option<Vec<String>>,
    /// A name, for reverse lookups.
    #[serde(rename = "PTR")]
    pub ptr: Option<Vec<String>>,
}

/// TTL of local records when `ttl` is not given.
pub const DEFAULT_LOCAL_TTL: u32 = 300;

fn local_data(entries: &[LocalEntry]) -> Result<LocalData, ConfigError> {
    use lookaside_dnssec::rtype;
    let mut local = LocalData::default();
    for e in entries {
        let name = Name::parse(&e.name)
            .map_err(|err| ConfigError::Invalid(format!("[[local]] name {:?}: {err}", e.name)))?;
        let ttl = e.ttl.unwrap_or(DEFAULT_LOCAL_TTL);
        let lists = [
            (rtype::A, &e.a),
            (rtype::AAAA, &e.aaaa),
            (rtype::TXT, &e.txt),
            (rtype::SRV, &e.srv),
            (rtype::CNAME, &e.cname),
            (rtype::PTR, &e.ptr),
        ];
        if lists.iter().all(|(_, l)| l.as_ref().is_none_or(Vec::is_empty)) {
            return Err(ConfigError::Invalid(format!(
                "[[local]] {name}: no records (A, AAAA, TXT, SRV, CNAME, PTR)"
            )));
        }
        let cname = e.cname.as_ref().is_some_and(|c| !c.is_empty());
        if cname
            && (e.cname.as_ref().map_or(0, Vec::len) > 1
                || lists.iter().filter(|(_, l)| l.is_some()).count() > 1)
        {
            return Err(ConfigError::Invalid(format!(
                "[[local]] {name}: a CNAME stands alone (RFC 1034 §3.6.2): one target, no other records"
            )));
        }
        for (t, list) in lists {
            for value in list.iter().flatten() {
                local
                    .add(&name, t, value, ttl)
                    .map_err(|err| ConfigError::Invalid(format!("[[local]] {err}")))?;
            }
        }
    }
    Ok(local)
}

/// One entry of `upstreams`: a string, or a table for DNS over TLS with pins.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum UpstreamEntry {
    /// `IP`, `IP:PORT` or `tls://IP[:PORT]#AUTH_NAME`.
    Text(String),
    /// `{ address = "192.0.2.1:853", tls = true, auth-name = "dns.example", spki-pins = [...] }`.
    Table(UpstreamTable),
}

/// The table form of an upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UpstreamTable {
    /// `IP` or `IP:PORT` (port 853 with TLS, 53 without, by default).
    pub address: String,
    /// DNS over TLS (RFC 7858).
    pub tls: Option<bool>,
    /// The name the server's certificate must be valid for (RFC 8310).
    pub auth_name: Option<String>,
    /// Base64 SHA-256 digests of acceptable SubjectPublicKeyInfos (RFC 7858 §4.2).
    pub spki_pins: Option<Vec<String>>,
}

/// Reads one upstream: `IP`, `IP:PORT`, `[IPv6]:PORT` or `tls://ADDR[:PORT]#AUTH_NAME`.
pub fn parse_upstream(s: &str) -> Result<UpstreamSpec, ConfigError> {
    let Some(rest) = s.strip_prefix("tls://") else { return parse_addr(s, 53).map(UpstreamSpec::plain) };
    let (addr, name) = match rest.split_once('#') {
        Some((a, n)) if !n.is_empty() => (a, Some(n.trim_end_matches('.').to_string())),
        Some(_) => return Err(ConfigError::Invalid(format!("{s:?}: empty authentication name after '#'"))),
        None => (rest, None),
    };
    let Some(name) = name else {
        return Err(ConfigError::Invalid(format!(
            "{s:?}: a TLS upstream needs its authentication name (tls://ADDR#NAME) or, in the \
             configuration file, SPKI pins (RFC 8310 strict profile)"
        )));
    };
    Ok(UpstreamSpec {
        addr: parse_addr(addr, DOT_PORT)?,
        tls: Some(TlsAuth { auth_name: Some(name), spki_pins: Vec::new() }),
    })
}

fn parse_upstream_entry(e: &UpstreamEntry) -> Result<UpstreamSpec, ConfigError> {
    let t = match e {
        UpstreamEntry::Text(s) => return parse_upstream(s),
        UpstreamEntry::Table(t) => t,
    };
    let tls = t.tls.unwrap_or(t.auth_name.is_some() || t.spki_pins.is_some());
    let addr = parse_addr(&t.address, if tls { DOT_PORT } else { 53 })?;
    if !tls {
        if t.auth_name.is_some() || t.spki_pins.is_some() {
            return Err(ConfigError::Invalid(format!(
                "upstream {}: auth-name and spki-pins need tls = true",
                t.address
            )));
        }
        return Ok(UpstreamSpec::plain(addr));
    }
    let spki_pins = t
        .spki_pins
        .iter()
        .flatten()
        .map(|p| {
            TlsAuth::parse_pin(p).map_err(|e| ConfigError::Invalid(format!("upstream {}: {e}", t.address)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let auth_name = t.auth_name.as_ref().map(|n| n.trim_end_matches('.').to_string());
    if auth_name.is_none() && spki_pins.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "upstream {}: a TLS upstream needs auth-name, spki-pins or both (RFC 8310 strict profile)",
            t.address
        )));
    }
    Ok(UpstreamSpec { addr, tls: Some(TlsAuth { auth_name, spki_pins }) })
}

/// `[[lookaside]]`: one look-aside registry (a zone of DLV records).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LookasideConfig {
    /// The registry zone, e.g. `dlv.example.net`.
    pub domain: String,
    /// Its trust anchor file (DS/DNSKEY lines), or `chained` (validated from the root; default).
    pub anchor: Option<String>,
    /// The part of the tree it may vouch for (default: the root).
    pub subtree: Option<String>,
}

/// `[cache]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CacheConfig {
    /// Answers kept ([`defaults::CACHE_ANSWERS`]).
    pub answers: Option<usize>,
    /// Zones' keys kept ([`defaults::CACHE_KEYS`]).
    pub keys: Option<usize>,
    /// Bytes all caches may hold ([`defaults::CACHE_MEMORY`]): bytes, or "64M".
    pub memory: Option<MemorySize>,
    /// Longest cache lifetime in seconds ([`defaults::MAX_TTL`]).
    pub max_ttl: Option<u32>,
    /// Lifetime of bogus and failed answers in seconds ([`defaults::BOGUS_TTL`]).
    pub bogus_ttl: Option<u32>,
    /// Seconds past the TTL an answer may be served stale ([`defaults::SERVE_STALE`]).
    pub serve_stale: Option<u64>,
    /// Milliseconds a client waits for a refresh before getting the stale answer
    /// ([`defaults::STALE_ANSWER_CLIENT_TIMEOUT`]).
    pub stale_answer_client_timeout: Option<u64>,
    /// Refresh answers asked for in the last tenth of their TTL (default true).
    pub prefetch: Option<bool>,
    /// Answer NXDOMAIN and NODATA from validated NSEC records in the cache (RFC 8198; default
    /// true).
    pub aggressive_nsec: Option<bool>,
}

/// A size in bytes: an integer, or a string with a K, M or G suffix (powers of 1024).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MemorySize {
    /// Bytes.
    Bytes(u64),
    /// "64M", "512K", "2G".
    Text(String),
}

impl MemorySize {
    /// The number of bytes.
    pub fn bytes(&self) -> Result<u64, ConfigError> {
        let text = match self {
            Self::Bytes(b) => return Ok(*b),
            Self::Text(t) => t.trim(),
        };
        let (digits, shift) = match text.char_indices().last() {
            Some((i, 'K' | 'k')) => (&text[..i], 10),
            Some((i, 'M' | 'm')) => (&text[..i], 20),
            Some((i, 'G' | 'g')) => (&text[..i], 30),
            _ => (text, 0),
        };
        digits.trim().parse::<u64>().ok().and_then(|n| n.checked_mul(1 << shift)).ok_or_else(|| {
            ConfigError::Invalid(format!("cache.memory {text:?} is not a size (e.g. 64M, 512K, 2G)"))
        })
    }
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitsConfig {
    /// Client queries in flight before new ones get SERVFAIL ([`defaults::MAX_INFLIGHT`]).
    pub max_inflight: Option<usize>,
    /// Concurrent TCP connections ([`defaults::TCP_CONNECTIONS`]).
    pub tcp_connections: Option<usize>,
    /// Seconds an idle TCP connection stays open ([`defaults::TCP_IDLE_TIMEOUT`]).
    pub tcp_idle_timeout: Option<u64>,
    /// Milliseconds to wait for one upstream before the next ([`defaults::UPSTREAM_TIMEOUT_MS`]).
    pub upstream_timeout_ms: Option<u64>,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listening addresses.
    pub listen: Vec<SocketAddr>,
    /// Clients allowed to query.
    pub allow: AccessList,
    /// Drop queries from clients outside `allow` instead of answering REFUSED.
    pub refuse_drop: bool,
    /// Upstreams, plain and TLS.
    pub upstreams: Vec<UpstreamSpec>,
    /// CA file for TLS upstreams (`None`: the system's store).
    pub tls_ca_file: Option<PathBuf>,
    /// Upstreams exempt from 0x20.
    pub no_0x20: Vec<IpAddr>,
    /// Anchor files.
    pub trust_anchor_files: Vec<PathBuf>,
    /// Built-in root anchors on or off.
    pub builtin_root_anchors: bool,
    /// Negative trust anchors.
    pub negative_trust_anchors: Vec<Name>,
    /// Answers cached.
    pub cache_answers: usize,
    /// Keys cached.
    pub cache_keys: usize,
    /// Bytes all caches may hold.
    pub cache_memory: usize,
    /// Longest TTL.
    pub max_ttl: u32,
    /// Bogus TTL.
    pub bogus_ttl: u32,
    /// Serve-stale window in seconds (0: off).
    pub serve_stale: u32,
    /// Client response timer for stale answers.
    pub stale_answer_client_timeout: Duration,
    /// Background refresh of answers near expiry.
    pub prefetch: bool,
    /// Denials synthesised from validated NSEC records (RFC 8198).
    pub aggressive_nsec: bool,
    /// In-flight cap.
    pub max_inflight: usize,
    /// TCP connection cap.
    pub tcp_connections: usize,
    /// TCP idle timeout, seconds.
    pub tcp_idle_timeout: u64,
    /// Upstream try timeout, milliseconds.
    pub upstream_timeout_ms: u64,
    /// Log filter.
    pub log_level: String,
    /// Look-aside registries: domain, subtree, anchor file (`None`: chained from the root).
    pub lookaside: Vec<(Name, Name, Option<PathBuf>)>,
    /// Control socket path.
    pub control_socket: PathBuf,
    /// CHAOS `version.bind` answer, `None` to refuse.
    pub version: Option<String>,
    /// CHAOS `id.server` answer, `None` to refuse.
    pub identity: Option<String>,
    /// Prometheus endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// User to drop to.
    pub user: Option<String>,
    /// State directory.
    pub state_directory: PathBuf,
    /// RFC 5011 on or off.
    pub auto_trust: bool,
    /// Probe interval.
    pub auto_trust_interval: Duration,
    /// Negative trust anchor recheck interval.
    pub nta_recheck_interval: Duration,
    /// Zones under RFC 5011 besides the root.
    pub auto_trust_anchors: Vec<Name>,
    /// EDNS UDP payload size advertised to upstreams.
    pub edns_buffer_size: u16,
    /// Between upstream probes.
    pub upstream_probe_interval: Duration,
    /// Names answered from the configuration.
    pub local: LocalData,
    /// Domains with upstreams of their own: the file's, then `--forward`'s.
    pub forwards: Vec<ForwardConfig>,
    /// XMPP domains watched.
    pub watches: Vec<WatchConfig>,
    /// Between runs of the watch reports.
    pub watch_interval: Duration,
}

/// Default state directory (systemd's StateDirectory=lookaside).
pub const DEFAULT_STATE_DIRECTORY: &str = "/var/lib/lookaside";

/// Default control socket.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/lookaside/control.sock";

/// Overrides from the command line.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Vec<String>,
    /// `--upstream`.
    pub upstreams: Vec<String>,
    /// `--trust-anchor`.
    pub trust_anchors: Vec<PathBuf>,
    /// `--lookaside DOMAIN[=ANCHOR_FILE]`.
    pub lookaside: Vec<String>,
    /// `--control-socket`.
    pub control_socket: Option<PathBuf>,
    /// `--allow` (replaces the file's list when given).
    pub allow: Vec<String>,
    /// `--forward DOMAIN=ADDR[,ADDR…]` (added to the file's).
    pub forwards: Vec<String>,
}

/// Default listening addresses.
pub const DEFAULT_LISTEN: [&str; 2] = ["127.0.0.1:53", "[::1]:53"];

/// Parses `IP`, `IP:PORT` or `[IPv6]:PORT`, with `default_port` when none is given.
pub fn parse_addr(s: &str, default_port: u16) -> Result<SocketAddr, ConfigError> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.trim_matches(['[', ']'])
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default_port))
        .map_err(|_| ConfigError::Invalid(format!("{s:?} is not an address (IP, IP:PORT or [IPv6]:PORT)")))
}

/// The nameservers of a resolv.conf text, port 53.
pub fn resolv_conf_nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some("nameserver")).then(|| it.next()).flatten()
        })
        .filter_map(|a| a.split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

impl Config {
    /// Reads the file (if any), applies the overrides and fills in defaults.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|source| ConfigError::Read { path: p.into(), source })?;
                parse_file(&text, p)?
            }
            None => FileConfig::default(),
        };
        Self::from_file(file, overrides)
    }

    /// The configuration of a parsed file with the overrides applied and defaults filled in.
    /// Reads /etc/resolv.conf only when neither names an upstream, and the anchor files only to
    /// see whether one holds a root anchor (which switches RFC 5011 off by default).
    pub fn from_file(file: FileConfig, overrides: &Overrides) -> Result<Self, ConfigError> {
        let listen_src: Vec<String> = if !overrides.listen.is_empty() {
            overrides.listen.clone()
        } else {
            file.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.iter().map(|s| s.to_string()).collect())
        };
        let listen = listen_src.iter().map(|s| parse_addr(s, 53)).collect::<Result<Vec<_>, _>>()?;
        let allow_src: Vec<String> = if !overrides.allow.is_empty() {
            overrides.allow.clone()
        } else {
            file.allow.clone().unwrap_or_else(|| access::LOOPBACK.iter().map(|s| s.to_string()).collect())
        };
        let allow = AccessList::parse(&allow_src).map_err(|e| ConfigError::Invalid(format!("allow: {e}")))?;
        let upstreams: Vec<UpstreamSpec> = if !overrides.upstreams.is_empty() {
            overrides.upstreams.iter().map(|s| parse_upstream(s)).collect::<Result<_, _>>()?
        } else if let Some(list) = &file.upstreams {
            list.iter().map(parse_upstream_entry).collect::<Result<_, _>>()?
        } else {
            let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            resolv_conf_nameservers(&text).into_iter().map(UpstreamSpec::plain).collect()
        };
        // Never forward to ourselves: that loops every query until it times out.
        let upstreams: Vec<UpstreamSpec> =
            upstreams.into_iter().filter(|u| !listen.contains(&u.addr)).collect();
        let mut trust_anchor_files = file.trust_anchors.clone().unwrap_or_default();
        trust_anchor_files.extend(overrides.trust_anchors.iter().cloned());
        let negative_trust_anchors = file
            .negative_trust_anchors
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|s| {
                Name::parse(s).map_err(|e| ConfigError::Invalid(format!("negative trust anchor {s:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cache = file.cache.unwrap_or_default();
        let limits = file.limits.unwrap_or_default();
        let setting = |s: &defaults::Setting, v: Option<u64>| s.value(v).map_err(ConfigError::Invalid);
        let bogus_ttl = setting(&defaults::BOGUS_TTL, cache.bogus_ttl.map(u64::from))? as u32;
        let max_ttl = setting(&defaults::MAX_TTL, cache.max_ttl.map(u64::from))? as u32;
        let serve_stale = setting(&defaults::SERVE_STALE, cache.serve_stale)? as u32;
        let stale_answer_client_timeout = Duration::from_millis(setting(
            &defaults::STALE_ANSWER_CLIENT_TIMEOUT,
            cache.stale_answer_client_timeout,
        )?);
        let cache_answers = setting(&defaults::CACHE_ANSWERS, cache.answers.map(|v| v as u64))? as usize;
        let cache_keys = setting(&defaults::CACHE_KEYS, cache.keys.map(|v| v as u64))? as usize;
        let memory = cache.memory.as_ref().map(MemorySize::bytes).transpose()?;
        let cache_memory = setting(&defaults::CACHE_MEMORY, memory)? as usize;
        let max_inflight = setting(&defaults::MAX_INFLIGHT, limits.max_inflight.map(|v| v as u64))? as usize;
        let tcp_connections =
            setting(&defaults::TCP_CONNECTIONS, limits.tcp_connections.map(|v| v as u64))? as usize;
        let tcp_idle_timeout = setting(&defaults::TCP_IDLE_TIMEOUT, limits.tcp_idle_timeout)?;
        let upstream_timeout_ms = setting(&defaults::UPSTREAM_TIMEOUT_MS, limits.upstream_timeout_ms)?;
        let auto_trust_interval = setting(&defaults::AUTO_TRUST_INTERVAL, file.auto_trust_interval)?;
        let nta_recheck_interval = setting(&defaults::NTA_RECHECK_INTERVAL, file.nta_recheck_interval)?;
        let edns_buffer_size = setting(&defaults::EDNS_BUFFER_SIZE, file.edns_buffer_size)?;
        let upstream_probe_interval =
            setting(&defaults::UPSTREAM_PROBE_INTERVAL, file.upstream_probe_interval)?;
        let watch_interval = setting(&defaults::WATCH_INTERVAL, file.watch_interval)?;
        let watches = file
            .watch
            .iter()
            .flatten()
            .map(|w| {
                Name::parse(&w.domain)
                    .map(|domain| WatchConfig { domain, tls: w.tls.unwrap_or(false) })
                    .map_err(|e| ConfigError::Invalid(format!("[[watch]] domain {:?}: {e}", w.domain)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut lookaside_src = file.lookaside.clone().unwrap_or_default();
        for arg in &overrides.lookaside {
            let (domain, anchor) = match arg.split_once('=') {
                Some((d, a)) => (d.to_string(), Some(a.to_string())),
                None => (arg.clone(), None),
            };
            lookaside_src.push(LookasideConfig { domain, anchor, subtree: None });
        }
        let mut lookaside = Vec::new();
        for l in &lookaside_src {
            let domain = Name::parse(&l.domain)
                .map_err(|e| ConfigError::Invalid(format!("look-aside registry {:?}: {e}", l.domain)))?;
            let subtree = match &l.subtree {
                Some(s) => Name::parse(s)
                    .map_err(|e| ConfigError::Invalid(format!("look-aside subtree {s:?}: {e}")))?,
                None => Name::root(),
            };
            let anchor = l.anchor.as_deref().filter(|a| *a != "chained").map(PathBuf::from);
            lookaside.push((domain, subtree, anchor));
        }
        let version = match (file.hide_version.unwrap_or(false), &file.version_string) {
            (true, _) => None,
            (false, Some(v)) => Some(v.clone()),
            (false, None) => Some(format!("lookaside {}", env!("CARGO_PKG_VERSION"))),
        };
        Ok(Self {
            control_socket: overrides
                .control_socket
                .clone()
                .or_else(|| file.control_socket.clone())
                .unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.into()),
            version,
            identity: file.identity.clone(),
            metrics_listen: file.metrics_listen.as_deref().map(|s| parse_addr(s, 9153)).transpose()?,
            user: file.user.clone(),
            state_directory: file.state_directory.clone().unwrap_or_else(|| DEFAULT_STATE_DIRECTORY.into()),
            // On by default only with the built-in root anchors: a root anchor file (a test root,
            // a private root) is the operator's to keep.
            auto_trust: file.auto_trust.unwrap_or_else(|| {
                !trust_anchor_files
                    .iter()
                    .any(|p| std::fs::read_to_string(p).is_ok_and(|t| has_root_anchor(&t)))
            }),
            auto_trust_interval: Duration::from_secs(auto_trust_interval),
            nta_recheck_interval: Duration::from_secs(nta_recheck_interval),
            edns_buffer_size: u16::try_from(edns_buffer_size).unwrap_or(u16::MAX),
            upstream_probe_interval: Duration::from_secs(upstream_probe_interval),
            watch_interval: Duration::from_secs(watch_interval),
            watches,
            serve_stale,
            stale_answer_client_timeout,
            prefetch: cache.prefetch.unwrap_or(true),
            aggressive_nsec: cache.aggressive_nsec.unwrap_or(true),
            local: local_data(file.local.as_deref().unwrap_or_default())?,
            forwards: {
                let mut f =
                    file.forward.iter().flatten().map(forward_config).collect::<Result<Vec<_>, _>>()?;
                for arg in &overrides.forwards {
                    f.push(parse_forward_arg(arg)?);
                }
                let (errors, _) = forward_conflicts(&f);
                if let Some(e) = errors.first() {
                    return Err(ConfigError::Invalid(format!("[[forward]] {e}")));
                }
                f
            },
            auto_trust_anchors: file
                .auto_trust_anchors
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    Name::parse(s).map_err(|e| ConfigError::Invalid(format!("auto-trust-anchors {s:?}: {e}")))
                })
                .collect::<Result<_, _>>()?,
            lookaside,
            listen,
            allow,
            refuse_drop: match file.refuse.as_deref() {
                None | Some("refused") => false,
                Some("drop") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid(format!(
                        "refuse = {other:?}: use \"refused\" or \"drop\""
                    )));
                }
            },
            upstreams,
            tls_ca_file: file.tls_ca_file.clone(),
            no_0x20: file
                .no_0x20
                .iter()
                .flatten()
                .map(|a| {
                    a.trim_matches(['[', ']'])
                        .parse::<IpAddr>()
                        .map_err(|_| ConfigError::Invalid(format!("no-0x20: {a:?} is not an IP address")))
                })
                .collect::<Result<_, _>>()?,
            trust_anchor_files,
            // With explicit anchor files only (e.g. a test root), the built-in ones stay on unless
            // switched off; islands of trust coexist with the root.
            builtin_root_anchors: file.builtin_root_anchors.unwrap_or(true),
            negative_trust_anchors,
            cache_answers,
            cache_keys,
            cache_memory,
            max_ttl,
            bogus_ttl,
            max_inflight,
            tcp_connections,
            tcp_idle_timeout,
            upstream_timeout_ms,
            log_level: file.log_level.unwrap_or_else(|| "info".into()),
        })
    }

    /// Builds the trust anchors: built-in root (unless off), files, negative anchors.
    pub fn anchors(&self, now: u64) -> Result<TrustAnchors, ConfigError> {
        let mut anchors =
            if self.builtin_root_anchors { TrustAnchors::builtin_root() } else { TrustAnchors::empty() };
        let mut builtin_root = self.builtin_root_anchors;
        for path in &self.trust_anchor_files {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            if builtin_root && has_root_anchor(&text) {
                // Root anchors from a file replace the built-in ones rather than adding to them.
                anchors = without_root(anchors);
                builtin_root = false;
            }
            anchors
                .add_text(&text, now)
                .map_err(|source| ConfigError::Anchor { path: path.clone(), source })?;
        }
        for (_, _, file) in &self.lookaside {
            let Some(path) = file else { continue };
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            anchors
                .add_text(&text, now)
                .map_err(|source| ConfigError::Anchor { path: path.clone(), source })?;
        }
        for zone in self.auto_trust_zones() {
            if let Some(keys) = self.auto_trust_keys(&zone) {
                // The RFC 5011 state, once there, is the zone's anchor.
                anchors = without_zone(anchors, &zone);
                anchors.add(lookaside_dnssec::anchor::TrustAnchor { zone, ds: Vec::new(), keys });
            }
        }
        if anchors.is_empty() {
            return Err(ConfigError::Invalid("no trust anchor configured".into()));
        }
        Ok(anchors)
    }
}

impl Config {
    /// The trust points kept up to date by RFC 5011: the root when `auto-trust` is on, and the
    /// zones of `auto-trust-anchors`.
    pub fn auto_trust_zones(&self) -> Vec<Name> {
        let mut zones = self.auto_trust_anchors.clone();
        if self.auto_trust && !zones.iter().any(Name::is_root) {
            zones.insert(0, Name::root());
        }
        zones
    }

    /// The RFC 5011 state file of a trust point (`root.5011`, `example.org.5011`).
    pub fn auto_trust_file(&self, zone: &Name) -> PathBuf {
        let stem = if zone.is_root() { "root".to_string() } else { zone.to_string().to_ascii_lowercase() };
        self.state_directory.join(format!("{}.5011", stem.trim_end_matches('.')))
    }

    /// The keys the RFC 5011 state of `zone` trusts, when there is a state file.
    pub fn auto_trust_keys(&self, zone: &Name) -> Option<Vec<lookaside_dnssec::rdata::Dnskey>> {
        let text = std::fs::read_to_string(self.auto_trust_file(zone)).ok()?;
        let tp = lookaside_dnssec::autotrust::TrustPoint::from_text(&text).ok()?;
        let keys = tp.trusted();
        (!keys.is_empty()).then_some(keys)
    }

    /// Fails when there is nothing to forward to (checked when serving, not when only checking
    /// a file on another machine).
    pub fn require_upstreams(&self) -> Result<(), ConfigError> {
        if self.upstreams.is_empty() {
            return Err(ConfigError::Invalid(
                "no upstream resolver: configure `upstreams` or --upstream (the nameservers of \
                 /etc/resolv.conf are missing or are this daemon's own listening addresses)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The look-aside registries for the validator.
    pub fn registries(&self) -> Vec<lookaside_dnssec::chain::Registry> {
        self.lookaside
            .iter()
            .map(|(domain, subtree, _)| lookaside_dnssec::chain::Registry {
                domain: domain.clone(),
                subtree: subtree.clone(),
            })
            .collect()
    }
}

fn has_root_anchor(text: &str) -> bool {
    text.lines().any(|l| l.trim_start().starts_with(". ") || l.trim_start().starts_with(".\t"))
        || text.contains("<Zone>.</Zone>")
}

fn without_root(anchors: TrustAnchors) -> TrustAnchors {
    without_zone(anchors, &Name::root())
}

fn without_zone(anchors: TrustAnchors, zone: &Name) -> TrustAnchors {
    let mut out = TrustAnchors::empty();
    for a in anchors.iter().filter(|a| a.zone != *zone) {
        out.add(a.clone());
    }
    out
}

/// Parses the TOML text of a config file.
pub fn parse_file(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    toml::from_str(text)
        .map_err(|e| ConfigError::Syntax { path: path.into(), message: e.to_string().trim().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let err = parse_file("listen = [\"127.0.0.1:53\"]\nupstream = [\"1.2.3.4\"]\n", Path::new("x.toml"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("upstream"), "{msg}");
    }

    #[test]
    fn resolv_conf_is_read() {
        let ns = resolv_conf_nameservers(
            "# c\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\noptions edns0 trust-ad\n",
        );
        assert_eq!(ns.len(), 2);
        assert_eq!(ns[0], "192.0.2.1:53".parse().unwrap());
    }

    #[test]
    fn own_address_is_never_an_upstream() {
        let o = Overrides {
            listen: vec!["127.0.0.1:53".into()],
            upstreams: vec!["127.0.0.1".into()],
            ..Default::default()
        };
        let err = Config::load(None, &o).unwrap().require_upstreams().unwrap_err();
        assert!(err.to_string().contains("no upstream resolver"), "{err}");
    }

    #[test]
    fn addresses_parse_with_default_port() {
        assert_eq!(parse_addr("::1", 53).unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(parse_addr("[::1]:5353", 53).unwrap(), "[::1]:5353".parse().unwrap());
        assert!(parse_addr("nonsense", 53).is_err());
    }
}
