//! Every numeric setting of the configuration in one table: its key, default, the range it
//! must lie in, and why (the shape of NLnet Labs' `DefMinMax`). `Config::load` reads values
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
    reason: "milliseconds to wait for one upstream before the next; Unbound starts at 376",
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

/// Every numeric setting, for the tests against `config/lookaside.toml`.
#[cfg(test)]
pub const ALL: [Setting; 10] = [
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

    #[test]
    fn defaults_lie_in_their_ranges() {
        for s in ALL {
            assert!(s.min <= s.default && s.default <= s.max, "{}", s.key);
            assert_eq!(s.value(None), Ok(s.default));
            assert!(s.value(Some(s.max + 1)).unwrap_err().contains(s.key));
        }
    }
}
