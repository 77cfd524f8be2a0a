//! The configuration's keys in one place: every numeric setting with its default, the range it
//! must lie in and why (the shape of NLnet Labs' `DefMinMax`), and every key's meaning
//! ([`KEYS`]), from which `lookaside.toml(5)` is written. `Config::load` reads values
//! through it (so `check-config` refuses what lies outside the range), and a test checks that
//! `config/lookaside.toml` shows these defaults.

/// One numeric setting.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// The key in the configuration file (`table.key` inside a table).
    pub key: &'static str,
    /// The value when the file does not set it.
    pub default: u64,
    /// The smallest value accepted.
    pub min: u64,
    /// The largest value accepted.
    pub max: u64,
    /// Why these numbers.
    pub reason: &'static str,
}

impl Setting {
    /// The configured value or the default; an error naming the key, range and reason when out
    /// of range.
    pub fn value(&self, configured: Option<u64>) -> Result<u64, String> {
        let v = configured.unwrap_or(self.default);
        if v < self.min || v > self.max {
            return Err(format!("{} {v} is outside {}–{} ({})", self.key, self.min, self.max, self.reason));
        }
        Ok(v)
    }
}

/// `cache.answers`.
pub const CACHE_ANSWERS: Setting = Setting {
    key: "cache.answers",
    default: 100_000,
    min: 1,
    max: 100_000_000,
    reason: "answers kept; Unbound's default msg-cache is 4 MB, about 10^4 to 10^5 answers",
};
/// `cache.memory`, in bytes (written with a K, M or G suffix in the file).
pub const CACHE_MEMORY: Setting = Setting {
    key: "cache.memory",
    default: 64 << 20,
    min: 1 << 20,
    max: 64 << 30,
    reason: "bytes all caches may hold, as Unbound's msg-cache-size + rrset-cache-size (4 MB + 4 MB by default); a flood of large answers must not exhaust the host",
};
/// `cache.keys`.
pub const CACHE_KEYS: Setting = Setting {
    key: "cache.keys",
    default: 10_000,
    min: 1,
    max: 10_000_000,
    reason: "zones' validated keys, kept apart so that a flood of names cannot evict the root's",
};
/// `cache.max-ttl`.
pub const MAX_TTL: Setting = Setting {
    key: "cache.max-ttl",
    default: 86_400,
    min: 1,
    max: 604_800,
    reason: "seconds; one day as Unbound's cache-max-ttl, at most the RFC 8767 week",
};
/// `cache.bogus-ttl`.
pub const BOGUS_TTL: Setting = Setting {
    key: "cache.bogus-ttl",
    default: 30,
    min: 1,
    max: 300,
    reason: "seconds a bogus or failed answer is remembered: RFC 9520 §3.2, 1 s to 5 min",
};
/// `limits.max-inflight`.
pub const MAX_INFLIGHT: Setting = Setting {
    key: "limits.max-inflight",
    default: 2048,
    min: 1,
    max: 1_000_000,
    reason: "client queries in flight before new ones get SERVFAIL at once (Unbound: 1024 per thread)",
};
/// `limits.tcp-connections`.
pub const TCP_CONNECTIONS: Setting = Setting {
    key: "limits.tcp-connections",
    default: 128,
    min: 1,
    max: 65_536,
    reason: "concurrent client TCP connections (Unbound's incoming-num-tcp is 10 per thread)",
};
/// `limits.tcp-idle-timeout`.
pub const TCP_IDLE_TIMEOUT: Setting = Setting {
    key: "limits.tcp-idle-timeout",
    default: 10,
    min: 1,
    max: 3600,
    reason: "seconds an idle client TCP connection stays open (RFC 7766 §6.2.3 suggests seconds)",
};
/// `limits.upstream-timeout-ms`.
pub const UPSTREAM_TIMEOUT_MS: Setting = Setting {
    key: "limits.upstream-timeout-ms",
    default: 400,
    min: 10,
    max: 10_000,
    reason: "first wait for an upstream not yet measured; then srtt + 4 rttvar, doubled on a timeout; Unbound starts at 376",
};
/// `cache.serve-stale`, in seconds.
pub const SERVE_STALE: Setting = Setting {
    key: "cache.serve-stale",
    default: 86_400,
    min: 0,
    max: 604_800,
    reason: "seconds past its TTL a secure or insecure answer may be served when no upstream answers; RFC 8767 suggests 1 to 3 days, 0 turns it off",
};
/// `cache.stale-answer-client-timeout`, in milliseconds.
pub const STALE_ANSWER_CLIENT_TIMEOUT: Setting = Setting {
    key: "cache.stale-answer-client-timeout",
    default: 1800,
    min: 0,
    max: 10_000,
    reason: "milliseconds a client waits for a refresh before it gets the stale answer (RFC 8767 §5; Unbound 1800)",
};
/// `upstream-probe-interval`, in seconds.
pub const UPSTREAM_PROBE_INTERVAL: Setting = Setting {
    key: "upstream-probe-interval",
    default: 300,
    min: 10,
    max: 86_400,
    reason: "seconds between probes of the upstreams' DNSSEC fitness (five queries each); also probed at start-up and on reload",
};
/// `watch-interval`, in seconds.
pub const WATCH_INTERVAL: Setting = Setting {
    key: "watch-interval",
    default: 3600,
    min: 10,
    max: 86_400,
    reason: "seconds between runs of the XMPP report for each [[watch]] domain (a few dozen cached lookups each, plus TLS connections where tls = true)",
};
/// `edns-buffer-size`.
pub const EDNS_BUFFER_SIZE: Setting = Setting {
    key: "edns-buffer-size",
    default: 1232,
    min: 512,
    max: 4096,
    reason: "UDP payload size advertised to upstreams; 1232 avoids IP fragmentation (DNS Flag Day 2020), larger answers come over TCP",
};
/// `auto-trust-interval`.
pub const AUTO_TRUST_INTERVAL: Setting = Setting {
    key: "auto-trust-interval",
    default: 3600,
    min: 1,
    max: 1_296_000,
    reason: "seconds between RFC 5011 probes; §2.3 bounds the active refresh by 15 days",
};
/// `nta-recheck-interval`.
pub const NTA_RECHECK_INTERVAL: Setting = Setting {
    key: "nta-recheck-interval",
    default: 300,
    min: 1,
    max: 604_800,
    reason: "seconds between rechecks of negative trust anchors; BIND's nta-recheck is 5 min (RFC 7646 §2.1)",
};

/// The default of a key, as shown in the manual.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    /// A numeric setting with its range.
    Number(Setting),
    /// Any other default, in words.
    Text(&'static str),
}

/// One key of the configuration file, documented.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// `key`, `table.key` or `[[table]].key`.
    pub key: &'static str,
    /// Its default.
    pub default: Default,
    /// What it does.
    pub doc: &'static str,
}

const fn text(key: &'static str, default: &'static str, doc: &'static str) -> Key {
    Key { key, default: Default::Text(default), doc }
}

const fn number(setting: Setting, doc: &'static str) -> Key {
    Key { key: setting.key, default: Default::Number(setting), doc }
}

/// Every key of the configuration file, in the order of `config/lookaside.toml`.
pub const KEYS: &[Key] = &[
    text(
        "listen",
        "[\"127.0.0.1:53\", \"[::1]:53\"]",
        "Addresses to listen on, UDP and TCP (IP, IP:PORT or [IPv6]:PORT).",
    ),
    text(
        "allow",
        "[\"127.0.0.0/8\", \"::1/128\"]",
        "Client address prefixes allowed to query; others get REFUSED with EDE 18. Loopback only by default: a resolver open to everyone is an amplifier (RFC 5358).",
    ),
    text(
        "refuse",
        "refused",
        "What clients outside allow get: refused (REFUSED with EDE 18) or drop (no answer at all, so nothing to reflect).",
    ),
    text(
        "upstreams",
        "the nameservers of /etc/resolv.conf",
        "Upstream recursive resolvers, minus this daemon's own addresses: IP or IP:PORT (UDP, TCP for large answers), tls://IP[:PORT]#AUTH_NAME (DNS over TLS, port 853, the certificate checked for AUTH_NAME), or a table { address, tls, auth-name, spki-pins } where spki-pins are base64 SHA-256 digests of the server's key (RFC 7858 section 4.2). A TLS upstream that cannot be authenticated is not used, and nothing is sent to it in the clear.",
    ),
    text(
        "no-0x20",
        "none",
        "Upstream IP addresses that do not echo the question's case, exempt from 0x20 (draft-vixie-dnsext-dns0x20: queries to plain upstreams carry a random case, and a reply must echo it exactly, else it is asked again over TCP). An upstream found not to echo the case over TCP is exempted by itself.",
    ),
    text(
        "tls-ca-file",
        "/etc/ssl/certs/ca-certificates.crt",
        "CA certificates (PEM) that TLS upstreams with an auth-name are checked against.",
    ),
    text(
        "trust-anchors",
        "none",
        "Trust-anchor files: zone-file DS/DNSKEY lines, BIND trust-anchors blocks or IANA's root-anchors.xml. A file holding a root anchor replaces the built-in root anchors.",
    ),
    text("builtin-root-anchors", "true", "Whether the built-in root anchors (KSK-2017 and KSK-2024) apply."),
    text(
        "negative-trust-anchors",
        "none",
        "Domains treated as insecure (RFC 7646 negative trust anchors), until removed from the file and reloaded.",
    ),
    text(
        "log-level",
        "info",
        "Log filter: error, warn, info, debug, trace, or RUST_LOG-style directives. Logs go to stderr, or to the journal under systemd.",
    ),
    text("control-socket", "/run/lookaside/control.sock", "Unix socket for lookaside ctl (mode 0600)."),
    text(
        "state-directory",
        "/var/lib/lookaside",
        "Directory for state kept across restarts: the RFC 5011 trust points.",
    ),
    text(
        "auto-trust",
        "true with the built-in root anchors, false with a root anchor file",
        "RFC 5011 automated updates of the root anchor.",
    ),
    text(
        "auto-trust-anchors",
        "none",
        "Other zones whose anchors (from trust-anchors files) RFC 5011 keeps up to date.",
    ),
    number(AUTO_TRUST_INTERVAL, "Seconds between RFC 5011 probes of the trust points."),
    number(
        NTA_RECHECK_INTERVAL,
        "Seconds between rechecks that remove a run-time negative trust anchor once its zone validates again.",
    ),
    text("metrics-listen", "off", "Address of the Prometheus metrics endpoint, e.g. 127.0.0.1:9153."),
    text(
        "user",
        "none",
        "When started as root outside systemd: the user to switch to once the sockets are bound.",
    ),
    text("version-string", "lookaside VERSION", "Answer to CHAOS TXT version.bind."),
    text("hide-version", "false", "Refuse CHAOS TXT version.bind queries."),
    text("identity", "refused", "Answer to CHAOS TXT id.server."),
    number(CACHE_ANSWERS, "Answers kept in the cache (in 16 shards, each evicting by CLOCK)."),
    number(CACHE_KEYS, "Zones' validated keys kept, apart from answers."),
    text(
        "cache.memory",
        "\"64M\" (1M to 64G)",
        "Bytes all caches may hold together, as an integer or with a K, M or G suffix: answers get three quarters, CD answers and keys an eighth each. Answers not asked for since the clock hand last passed go first, keys least recently used first; an answer over a sixty-fourth of its share is not cached; expired entries are swept every 1024 insertions.",
    ),
    number(MAX_TTL, "Longest time in seconds an answer is cached."),
    number(BOGUS_TTL, "Seconds a bogus or failed answer is remembered (RFC 9520)."),
    number(
        SERVE_STALE,
        "Serve-stale (RFC 8767): seconds past its TTL an answer may still be served, with TTL 30 and EDE 3 (Stale Answer), when no upstream answers. Only answers that were secure or insecure when cached and whose signatures are still valid; never bogus data. 0 turns it off.",
    ),
    text(
        "cache.aggressive-nsec",
        "true",
        "Answer NXDOMAIN and NODATA from NSEC records of earlier secure answers without asking upstream (RFC 8198), as Unbound's aggressive-nsec: a flood of random names under a signed zone costs one upstream query per NSEC span. NSEC only (NSEC3 spans may be opt-out); never under a negative trust anchor or a forward with dnssec off. At most 10,000 NSEC records are kept.",
    ),
    text(
        "cache.prefetch",
        "true",
        "Refresh an answer asked for in the last tenth of its TTL (at least 10 s) in the background, as Unbound's prefetch, so that names in use do not expire in the clients' face.",
    ),
    number(
        STALE_ANSWER_CLIENT_TIMEOUT,
        "Milliseconds a client waits for the refresh of an expired answer before it gets the stale one; after a failed refresh, stale answers are served at once for 30 s.",
    ),
    number(MAX_INFLIGHT, "Client queries in flight; more get SERVFAIL at once."),
    number(TCP_CONNECTIONS, "Concurrent client TCP connections."),
    number(TCP_IDLE_TIMEOUT, "Seconds an idle client TCP connection stays open."),
    number(
        UPSTREAM_TIMEOUT_MS,
        "Milliseconds to wait for an upstream not yet measured; after its first replies, the wait \
         follows its measured round trip (smoothed RTT + 4 × deviation, at least 50 ms, doubled after a timeout).",
    ),
    number(
        UPSTREAM_PROBE_INTERVAL,
        "Seconds between probes of the upstreams (also at start-up and on reload): does . DNSKEY come signed over UDP and TCP, a denial with signed proofs, a TLD's DS signed, the question's case kept, CD echoed. Unfit and unreachable upstreams are asked only when no fit one is left; see lookaside probe.",
    ),
    number(
        EDNS_BUFFER_SIZE,
        "EDNS UDP payload size advertised to the upstreams (RFC 6891 §6.2.5); a larger answer arrives truncated and is asked again over TCP. Answers to clients are kept to 1232 octets over UDP whatever the setting.",
    ),
    text(
        "[[forward]].domain",
        "none",
        "Names at or below this domain go to the entry's own upstreams (also --forward DOMAIN=ADDR[,ADDR...]); the most specific domain wins. Key lookups for names under it go there too.",
    ),
    text("[[forward]].upstreams", "none", "The domain's upstreams, in the forms upstreams takes."),
    text(
        "[[forward]].dnssec",
        "\"validate\"",
        "\"validate\", or \"off\": the domain's answers are passed on unvalidated, without AD, insecure by policy (as Unbound's domain-insecure); trace says so.",
    ),
    text(
        "[[local]].name",
        "none",
        "A name answered from the configuration, before the cache and the upstreams, without AD, with the records given as A, AAAA, TXT, SRV (\"PRIORITY WEIGHT PORT TARGET\"), CNAME or PTR lists. Other types at that name get NOERROR with no data (as Unbound's local-data); other names resolve as usual.",
    ),
    text("[[local]].ttl", "300", "TTL of the local records, in seconds."),
    number(
        WATCH_INTERVAL,
        "Seconds between runs of the XMPP report for the [[watch]] domains (also run at start-up and after a reload); the results are metrics (metrics-listen) and WARN lines when something turns bad.",
    ),
    text(
        "[[watch]].domain",
        "none",
        "An XMPP domain of yours to watch: its SRV, A/AAAA and TLSA verdicts (lookaside_watch_record_verdict), the seconds until the earliest RRSIG expiry of each zone involved (lookaside_watch_rrsig_expiry_seconds), whether look-aside (DLV) vouched for it (lookaside_watch_dlv).",
    ),
    text(
        "[[watch]].tls",
        "false",
        "Also connect to every target, as lookaside xmpp --tls does, and export whether a TLSA record authenticates the served certificate (lookaside_watch_tlsa_match).",
    ),
    text(
        "[[lookaside]].domain",
        "none",
        "A look-aside registry zone (RFC 4431/5074), e.g. dlv.example.net. Registries are used only where the ordinary chain ends insecure.",
    ),
    text(
        "[[lookaside]].anchor",
        "chained",
        "The registry's trust-anchor file, or chained to validate it through the root.",
    ),
    text(
        "[[lookaside]].subtree",
        ".",
        "The part of the tree the registry may vouch for; the most specific subtree is asked first.",
    ),
];

/// Every numeric setting, for the tests against `config/lookaside.toml`.
#[cfg(test)]
pub const ALL: [Setting; 15] = [
    CACHE_ANSWERS,
    CACHE_KEYS,
    MAX_TTL,
    BOGUS_TTL,
    MAX_INFLIGHT,
    TCP_CONNECTIONS,
    TCP_IDLE_TIMEOUT,
    UPSTREAM_TIMEOUT_MS,
    AUTO_TRUST_INTERVAL,
    NTA_RECHECK_INTERVAL,
    EDNS_BUFFER_SIZE,
    SERVE_STALE,
    STALE_ANSWER_CLIENT_TIMEOUT,
    UPSTREAM_PROBE_INTERVAL,
    WATCH_INTERVAL,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The example configuration shows every numeric setting with its default value.
    #[test]
    fn shipped_example_config_shows_these_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/lookaside.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let file: toml::Table = toml::from_str(&text).unwrap();
        for s in ALL {
            let (table, key) = s.key.split_once('.').map_or((None, s.key), |(t, k)| (Some(t), k));
            let scope = match table {
                Some(t) => file.get(t).and_then(|v| v.as_table()).unwrap_or_else(|| panic!("[{t}] missing")),
                None => &file,
            };
            let shown = scope.get(key).and_then(toml::Value::as_integer);
            assert_eq!(shown, Some(s.default as i64), "{} in config/lookaside.toml", s.key);
        }
    }

    /// Every key of the example configuration (set or shown commented out) is documented in
    /// [`KEYS`], and every documented key is in the example.
    #[test]
    fn every_key_is_documented_and_in_the_example() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/lookaside.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let mut table = String::new();
        let mut shown = Vec::new();
        for line in text.lines() {
            let l = line.trim_start_matches('#').trim();
            if let Some(t) =
                l.strip_prefix('[').and_then(|t| t.split(']').next()).filter(|_| !l.contains('='))
            {
                table = t.trim_matches(['[', ']']).to_string();
                continue;
            }
            let Some((key, _)) = l.split_once(" = ").or_else(|| l.split_once('=')) else { continue };
            let key = key.trim();
            if key.is_empty()
                || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                continue;
            }
            shown.push(match table.as_str() {
                "" => key.to_string(),
                "lookaside" | "local" | "forward" | "watch" => format!("[[{table}]].{key}"),
                t => format!("{t}.{key}"),
            });
        }
        for k in KEYS {
            assert!(shown.iter().any(|s| s == k.key), "{} is not in config/lookaside.toml", k.key);
        }
        for s in &shown {
            assert!(
                KEYS.iter().any(|k| k.key == s),
                "{s} in config/lookaside.toml is not documented in KEYS"
            );
        }
    }

    #[test]
    fn defaults_lie_in_their_ranges() {
        for s in ALL {
            assert!(s.min <= s.default && s.default <= s.max, "{}", s.key);
            assert_eq!(s.value(None), Ok(s.default));
            assert!(s.value(Some(s.max + 1)).unwrap_err().contains(s.key));
        }
    }
}
