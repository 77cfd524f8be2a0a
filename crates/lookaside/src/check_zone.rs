//! `lookaside check-zone`: the pre-flight an operator runs before a zone (or a key or signature
//! change) goes live. It asks each of the zone's own authoritative servers directly, without
//! recursion, so it works before the delegation exists (`--ns`), and reports findings with a
//! severity:
//! - every server answers authoritatively, with the same SOA serial and DNSKEY set, and RRSIGs
//!   that verify against that set (the "out of sync" check DLV registries made);
//! - every server keeps the case of the question (RFC 4343 §4.1; the `YAX.IM` problem);
//! - signatures that expire within `--warn-days`, or whose inception is in the future;
//! - a DS at the parent, a DLV in a configured registry (RFC 5074), or a DS/DLV file, matching a
//!   key that signs the DNSKEY set (RFC 4035 §5.2);
//! - NSEC3 parameters against RFC 9276 and algorithms against RFC 8624;
//! - the XMPP records: SRV present and signed, their in-zone targets' A/AAAA and TLSA signed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lookaside_dnssec::canonical::{self, Rrset};
use lookaside_dnssec::civil_time;
use lookaside_dnssec::limits::{self, Budget};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::Security;
use lookaside_dnssec::rdata::{Dnskey, Ds, Rrsig};
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::verify::{self, Clock};
use lookaside_dnssec::wire::{Message, Question, Record, flags, read_name};
use lookaside_stub::Resolver;
use serde::Serialize;

/// How long one server gets to answer one question (each of UDP and TCP).
pub const SERVER_WAIT: Duration = Duration::from_secs(3);

/// Most name-server addresses asked: a zone with more is checked on the first ones (a
/// misconfigured NS set must not turn the tool into a flood).
pub const MAX_SERVERS: usize = 16;

/// EDNS payload size offered to the servers (the DNS Flag Day 2020 value).
const UDP_SIZE: u16 = 1232;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked and fine.
    Ok,
    /// Works today, but should be fixed.
    Warning,
    /// Breaks validation or resolution for some clients.
    Error,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Its severity.
    pub severity: Severity,
    /// What was checked: `servers`, `case`, `sync`, `signatures`, `ds`, `nsec3`,
    /// `algorithm`, `xmpp`.
    pub check: &'static str,
    /// What was found, in words.
    pub message: String,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The zone.
    pub zone: String,
    /// The servers asked, as `name (address)` or the address.
    pub servers: Vec<String>,
    /// The findings, in the order they were made.
    pub findings: Vec<Finding>,
    /// Signatures whose validity was already reported (owner, type, key tag, expiration).
    #[serde(skip)]
    signatures_seen: Vec<(Name, u16, u16, u32)>,
    /// The earliest expiration among them (seconds left, the expiration).
    #[serde(skip)]
    earliest_expiry: Option<(i64, u32)>,
}

impl Report {
    /// The worst severity found.
    pub fn worst(&self) -> Severity {
        self.findings.iter().map(|f| f.severity).max().unwrap_or(Severity::Ok)
    }

    /// Adds a finding, once (two services sharing a target would repeat its findings).
    fn add(&mut self, severity: Severity, check: &'static str, message: impl Into<String>) {
        let f = Finding { severity, check, message: message.into() };
        if !self
            .findings
            .iter()
            .any(|g| g.severity == f.severity && g.check == f.check && g.message == f.message)
        {
            self.findings.push(f);
        }
    }
}

/// What the check is told.
pub struct Options {
    /// Servers to ask instead of the parent's NS set.
    pub ns: Vec<SocketAddr>,
    /// DS or DLV records to check instead of the published ones ("what if I published this").
    pub ds: Option<Vec<Ds>>,
    /// Warn about signatures that expire within this many days.
    pub warn_days: u32,
    /// The configured look-aside registries.
    pub registries: Vec<Name>,
    /// Seconds since the epoch.
    pub now: u64,
}

/// What one server said.
struct ServerView {
    label: String,
    addr: SocketAddr,
    serial: Option<u32>,
    keys: Vec<Vec<u8>>,
    dnskey: Message,
}

/// Reads DS or DLV lines (zone-file form, `owner [ttl] [IN] DS|DLV tag alg digest-type hex`;
/// comments and blank lines skipped) for `--ds`.
pub fn parse_ds_file(text: &str) -> Result<Vec<Ds>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) =
            words.iter().position(|w| w.eq_ignore_ascii_case("DS") || w.eq_ignore_ascii_case("DLV"))
        else {
            return Err(format!("line {}: no DS or DLV record: {line:?}", i + 1));
        };
        let fields = &words[at + 1..];
        let bad = || format!("line {}: expected \"KEY-TAG ALGORITHM DIGEST-TYPE DIGEST\": {line:?}", i + 1);
        let [tag, alg, digest_type, hex @ ..] = fields else { return Err(bad()) };
        let digest =
            lookaside_dnssec::codec::hex_decode(&hex.concat()).filter(|d| !d.is_empty()).ok_or_else(bad)?;
        out.push(Ds {
            key_tag: tag.parse().map_err(|_| bad())?,
            algorithm: alg.parse().map_err(|_| bad())?,
            digest_type: digest_type.parse().map_err(|_| bad())?,
            digest,
        });
    }
    if out.is_empty() {
        return Err("no DS or DLV record in the file".into());
    }
    Ok(out)
}

/// The question's name with its letters in alternating case, so that a server that rewrites
/// case is caught whatever spelling it prefers.
fn mixed_case(name: &Name) -> Name {
    let mut wire = name.as_wire().to_vec();
    let mut upper = true;
    for b in wire.iter_mut().filter(|b| b.is_ascii_alphabetic()) {
        *b = if upper { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() };
        upper = !upper;
    }
    Name::from_wire(wire).unwrap_or_else(|_| name.clone())
}

fn question(name: &Name, qtype: u16) -> Question {
    Question { name: name.clone(), qtype, qclass: rtype::CLASS_IN }
}

/// One question to one server, without recursion, with DO.
async fn ask(addr: SocketAddr, name: &Name, qtype: u16) -> Option<Message> {
    lookaside_stub::probe::ask_server(addr, &question(name, qtype), 0, SERVER_WAIT, UDP_SIZE).await
}

fn rrsigs_of<'a>(records: &'a [Record], owner: &Name, covered: u16) -> impl Iterator<Item = Rrsig> + 'a {
    let owner = owner.clone();
    records
        .iter()
        .filter(move |r| r.rtype == rtype::RRSIG && r.owner == owner)
        .filter_map(|r| Rrsig::parse(&r.rdata))
        .filter(move |s| s.type_covered == covered)
}

fn date(t: u32) -> String {
    civil_time::format_time(t)
}

/// Checks the RRset `owner`/`rtype` of `m` against `keys`: verified, or the reason. Also notes
/// every RRSIG's validity window in `report` (once per signature).
fn check_signed(
    report: &mut Report,
    m: &Message,
    zone: &Name,
    owner: &Name,
    rt: u16,
    keys: &[Dnskey],
    opts: &Options,
) -> Result<(), String> {
    let clock = Clock { now: opts.now as u32, skew: 0 };
    let warn = u64::from(opts.warn_days) * 86_400;
    for sig in rrsigs_of(&m.answer, owner, rt) {
        let id = (owner.to_lowercase(), rt, sig.key_tag, sig.expiration);
        if report.signatures_seen.contains(&id) {
            continue;
        }
        report.signatures_seen.push(id);
        let what = format!("RRSIG {} {} by key {}", owner, rtype::type_name(rt), sig.key_tag);
        let left = i64::from(sig.expiration.wrapping_sub(clock.now) as i32);
        if report.earliest_expiry.is_none_or(|(l, _)| left < l) {
            report.earliest_expiry = Some((left, sig.expiration));
        }
        if !verify::serial_le(sig.inception, clock.now) {
            report.add(
                Severity::Error,
                "signatures",
                format!(
                    "{what}: inception {} is in the future (validators reject it until then)",
                    date(sig.inception)
                ),
            );
        } else if left < 0 {
            report.add(Severity::Error, "signatures", format!("{what}: expired {}", date(sig.expiration)));
        } else if u64::try_from(left).unwrap_or(0) < warn {
            report.add(
                Severity::Warning,
                "signatures",
                format!(
                    "{what}: expires {} ({} days {} hours left, under --warn-days {}): re-sign",
                    date(sig.expiration),
                    left / 86_400,
                    left % 86_400 / 3600,
                    opts.warn_days
                ),
            );
        }
    }
    let set: Vec<Record> = m
        .answer
        .iter()
        .filter(|r| r.owner == *owner && (r.rtype == rt || r.rtype == rtype::RRSIG))
        .cloned()
        .collect();
    let Some(rrset) = canonical::group(&set).into_iter().find(|s: &Rrset| s.rtype == rt) else {
        return Err(format!("no {} RRset at {owner}", rtype::type_name(rt)));
    };
    let mut budget = Budget::default();
    // The check is for a zone about to go live: no clock skew is allowed for.
    verify::verify_rrset(&rrset, zone, keys, clock, &mut budget).map(|_| ()).map_err(|e| e.to_string())
}

/// The SOA serial of an answer (RFC 1035 §3.3.13: after MNAME and RNAME).
fn soa_serial(m: &Message, zone: &Name) -> Option<u32> {
    let r = m.answer.iter().find(|r| r.rtype == rtype::SOA && r.owner == *zone)?;
    let (_, after_mname) = read_name(&r.rdata, 0).ok()?;
    let (_, after_rname) = read_name(&r.rdata, after_mname).ok()?;
    Some(u32::from_be_bytes(r.rdata.get(after_rname..after_rname + 4)?.try_into().ok()?))
}

fn keys_of(m: &Message, zone: &Name) -> Vec<Dnskey> {
    m.answer
        .iter()
        .filter(|r| r.rtype == rtype::DNSKEY && r.owner == *zone)
        .filter_map(|r| Dnskey::parse(&r.rdata))
        .collect()
}

fn tags(keys: &[Dnskey]) -> String {
    let mut t: Vec<String> = keys.iter().map(|k| format!("{} (alg {})", k.key_tag(), k.algorithm)).collect();
    t.sort();
    t.join(", ")
}

/// The servers: `--ns`, else the zone's NS set and its addresses through the normal path
/// (with CD, so a zone that does not validate yet can still be checked).
async fn servers(
    resolver: &Resolver,
    zone: &Name,
    opts: &Options,
    report: &mut Report,
) -> Vec<(String, SocketAddr)> {
    if !opts.ns.is_empty() {
        return opts.ns.iter().take(MAX_SERVERS).map(|a| (a.to_string(), *a)).collect();
    }
    let res = resolver.resolve(&question(zone, rtype::NS), true).await;
    let names: Vec<Name> = res
        .response
        .as_deref()
        .map(|m| {
            m.answer
                .iter()
                .filter(|r| r.rtype == rtype::NS && r.owner == *zone)
                // Lower case: the resolver's 0x20 spelling can show through compressed RDATA.
                .filter_map(|r| read_name(&r.rdata, 0).ok().map(|(n, _)| n.to_lowercase()))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        report.add(
            Severity::Error,
            "servers",
            format!("no NS records for {zone} could be found: give the servers with --ns ADDR"),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for ns in names {
        let mut found = false;
        for t in [rtype::A, rtype::AAAA] {
            let res = resolver.resolve(&question(&ns, t), true).await;
            for r in res.response.as_deref().map_or(&[][..], |m| &m.answer[..]) {
                let ip = match (r.rtype, r.rdata.len()) {
                    (rtype::A, 4) => <[u8; 4]>::try_from(r.rdata.as_slice()).ok().map(IpAddr::from),
                    (rtype::AAAA, 16) => <[u8; 16]>::try_from(r.rdata.as_slice()).ok().map(IpAddr::from),
                    _ => None,
                };
                if let Some(ip) = ip
                    && out.len() < MAX_SERVERS
                {
                    out.push((format!("{ns} ({ip})"), SocketAddr::new(ip, 53)));
                    found = true;
                }
            }
        }
        if !found {
            report.add(Severity::Error, "servers", format!("name server {ns} has no address"));
        }
    }
    out
}

/// Runs every check. `resolver` finds the servers (without `--ns`), the published DS or DLV, and
/// out-of-zone XMPP targets.
pub async fn check_zone(resolver: &Resolver, zone: &Name, opts: &Options) -> Report {
    let mut report = Report {
        zone: zone.to_string(),
        servers: Vec::new(),
        findings: Vec::new(),
        signatures_seen: Vec::new(),
        earliest_expiry: None,
    };
    let servers = servers(resolver, zone, opts, &mut report).await;
    report.servers = servers.iter().map(|(l, _)| l.clone()).collect();
    let asked = mixed_case(zone);
    let mut views: Vec<ServerView> = Vec::new();
    let mut nsec3param: Option<Vec<u8>> = None;
    for (label, addr) in &servers {
        let Some(soa) = ask(*addr, &asked, rtype::SOA).await else {
            report.add(
                Severity::Error,
                "servers",
                format!("{label} does not answer (UDP and TCP, {} s each)", SERVER_WAIT.as_secs()),
            );
            continue;
        };
        if soa.rcode() != rcode::NOERROR || !soa.has_flag(flags::AA) || soa_serial(&soa, zone).is_none() {
            report.add(
                Severity::Error,
                "servers",
                format!(
                    "{label} is not authoritative for {zone} (answered {}{}): a lame delegation",
                    rcode::name(soa.rcode()),
                    if soa.has_flag(flags::AA) { "" } else { " without AA" }
                ),
            );
            continue;
        }
        // RFC 4343 §4.1: the question comes back as it was asked; owners compressed against it
        // follow it. A server that writes its own spelling breaks resolvers that compare case
        // (Erlang's inet_res) and was refused by DLV registries.
        let echoed = soa.questions.first().map(|q| q.name.clone());
        let owner = soa.answer.iter().find(|r| r.rtype == rtype::SOA).map(|r| r.owner.clone());
        match (echoed, owner) {
            (Some(q), Some(o)) if q.eq_exact(&asked) && o.eq_exact(&asked) => {}
            (q, o) => {
                let shown = if q.as_ref().is_some_and(|q| !q.eq_exact(&asked)) { q } else { o };
                report.add(
                    Severity::Error,
                    "case",
                    format!(
                        "{label} changes the case of the question: asked {asked}, answered {} (breaks resolvers that compare case, such as Erlang's, and DLV registries refused such zones)",
                        shown.map_or("?".to_string(), |n| n.to_string())
                    ),
                );
            }
        }
        let serial = soa_serial(&soa, zone);
        let Some(dnskey) = ask(*addr, zone, rtype::DNSKEY).await else {
            report.add(Severity::Error, "servers", format!("{label} does not answer the DNSKEY question"));
            continue;
        };
        let keys = keys_of(&dnskey, zone);
        if keys.is_empty() {
            report.add(
                Severity::Error,
                "signatures",
                format!("{label} serves no DNSKEY for {zone}: the zone is not signed there"),
            );
        } else {
            if let Err(e) = check_signed(&mut report, &dnskey, zone, zone, rtype::DNSKEY, &keys, opts) {
                report.add(
                    Severity::Error,
                    "signatures",
                    format!("{label}: the DNSKEY set does not verify: {e}"),
                );
            }
            if let Err(e) = check_signed(&mut report, &soa, zone, zone, rtype::SOA, &keys, opts) {
                report.add(Severity::Error, "signatures", format!("{label}: the SOA does not verify: {e}"));
            }
            if let Some(m) = ask(*addr, zone, rtype::NSEC3PARAM).await
                && let Some(r) = m.answer.iter().find(|r| r.rtype == rtype::NSEC3PARAM && r.owner == *zone)
            {
                nsec3param.get_or_insert_with(|| r.rdata.clone());
                if let Err(e) = check_signed(&mut report, &m, zone, zone, rtype::NSEC3PARAM, &keys, opts) {
                    report.add(
                        Severity::Error,
                        "signatures",
                        format!("{label}: the NSEC3PARAM does not verify: {e}"),
                    );
                }
            }
        }
        let mut key_rdata: Vec<Vec<u8>> = dnskey
            .answer
            .iter()
            .filter(|r| r.rtype == rtype::DNSKEY && r.owner == *zone)
            .map(|r| r.rdata.clone())
            .collect();
        key_rdata.sort();
        views.push(ServerView { label: label.clone(), addr: *addr, serial, keys: key_rdata, dnskey });
    }
    sync_findings(&mut report, &views, zone);
    let Some(first) = views.iter().find(|v| !v.keys.is_empty()) else {
        if !servers.is_empty() && views.is_empty() {
            report.add(
                Severity::Error,
                "servers",
                "no server answered authoritatively: nothing more to check",
            );
        }
        return report;
    };
    let keys: Vec<Dnskey> = first.keys.iter().filter_map(|k| Dnskey::parse(k)).collect();
    if !report.signatures_seen.is_empty() && !report.findings.iter().any(|f| f.check == "signatures") {
        report.add(
            Severity::Ok,
            "signatures",
            format!(
                "the {} signatures verify; the first to expire does so {} ({} days left, --warn-days {})",
                if nsec3param.is_some() { "SOA, DNSKEY and NSEC3PARAM" } else { "SOA and DNSKEY" },
                report.earliest_expiry.map_or(String::new(), |(_, e)| date(e)),
                report.earliest_expiry.map_or(0, |(l, _)| l / 86_400),
                opts.warn_days
            ),
        );
    }
    algorithm_findings(&mut report, &keys);
    nsec3_findings(&mut report, nsec3param.as_deref());
    ds_findings(resolver, &mut report, zone, &first.dnskey, &keys, opts).await;
    let at = ZoneAt { resolver, zone, server: first.addr, keys: &keys, opts };
    xmpp_findings(&at, &mut report).await;
    report
}

/// All servers: the same serial and the same DNSKEY set.
fn sync_findings(report: &mut Report, views: &[ServerView], zone: &Name) {
    let Some(first) = views.first() else { return };
    let serials: Vec<String> =
        views.iter().map(|v| format!("{}: {}", v.label, v.serial.unwrap_or(0))).collect();
    if views.iter().all(|v| v.serial == first.serial) {
        report.add(
            Severity::Ok,
            "sync",
            format!("{} server(s) serve SOA serial {}", views.len(), first.serial.unwrap_or(0)),
        );
    } else {
        report.add(
            Severity::Error,
            "sync",
            format!("the servers are out of sync: SOA serials differ ({})", serials.join("; ")),
        );
    }
    let sets: Vec<String> = views
        .iter()
        .map(|v| {
            let keys: Vec<Dnskey> = v.keys.iter().filter_map(|k| Dnskey::parse(k)).collect();
            format!("{}: {}", v.label, tags(&keys))
        })
        .collect();
    if views.iter().all(|v| v.keys == first.keys) {
        if views.len() > 1 {
            report.add(Severity::Ok, "sync", format!("all servers serve the same DNSKEY set for {zone}"));
        }
    } else {
        report.add(
            Severity::Error,
            "sync",
            format!("the servers are out of sync: DNSKEY sets differ ({})", sets.join("; ")),
        );
    }
}

/// RFC 8624 §3.1, the signing column.
fn algorithm_findings(report: &mut Report, keys: &[Dnskey]) {
    let mut algs: Vec<u8> = keys.iter().map(|k| k.algorithm).collect();
    algs.sort_unstable();
    algs.dedup();
    for a in algs {
        let (severity, words) = match a {
            1 | 3 | 6 | 12 => (
                Severity::Error,
                "MUST NOT be used for signing (RFC 8624 §3.1); validators treat it as unsupported: insecure",
            ),
            5 | 7 => (
                Severity::Warning,
                "RSASHA1 is NOT RECOMMENDED for signing (RFC 8624 §3.1) and some validators now treat it as insecure: roll to algorithm 13 or 8",
            ),
            10 => (
                Severity::Warning,
                "RSASHA512 is NOT RECOMMENDED for signing (RFC 8624 §3.1): roll to algorithm 13 or 8",
            ),
            8 | 13 => (Severity::Ok, "MUST be supported by validators (RFC 8624 §3.1)"),
            14..=16 => (Severity::Ok, "usable (RFC 8624 §3.1); not every validator supports it yet"),
            _ => (Severity::Error, "not a DNSSEC signing algorithm validators know"),
        };
        report.add(severity, "algorithm", format!("algorithm {a}: {words}"));
    }
}

/// RFC 9276 §3.1 (zone publishers) and §3.2 (validators).
fn nsec3_findings(report: &mut Report, param: Option<&[u8]>) {
    let Some(p) = param else {
        report.add(Severity::Ok, "nsec3", "the zone uses NSEC (no NSEC3PARAM)");
        return;
    };
    let (Some(&[_alg, _flags, hi, lo]), Some(&salt_len)) = (p.first_chunk::<4>(), p.get(4)) else {
        report.add(Severity::Error, "nsec3", "the NSEC3PARAM record is malformed");
        return;
    };
    let iterations = u16::from_be_bytes([hi, lo]);
    if iterations > limits::NSEC3_ITERATIONS_BOGUS {
        report.add(Severity::Error, "nsec3", format!("NSEC3 iterations {iterations}: above {}, validators (lookaside among them) find the zone's denials bogus (RFC 9276 §3.2): use 0", limits::NSEC3_ITERATIONS_BOGUS));
    } else if iterations > limits::NSEC3_ITERATIONS_INSECURE {
        report.add(Severity::Error, "nsec3", format!("NSEC3 iterations {iterations}: above {}, lookaside, BIND, Knot and PowerDNS treat the zone's denials as insecure (RFC 9276 §3.2): use 0", limits::NSEC3_ITERATIONS_INSECURE));
    } else if iterations > 0 {
        report.add(Severity::Warning, "nsec3", format!("NSEC3 iterations {iterations}: RFC 9276 §3.1 says 0 (extra iterations cost validators, protect nothing)"));
    } else {
        report.add(Severity::Ok, "nsec3", "NSEC3 iterations 0 (RFC 9276 §3.1)");
    }
    if salt_len > 0 {
        report.add(
            Severity::Warning,
            "nsec3",
            format!("NSEC3 salt of {salt_len} octet(s): RFC 9276 §3.1 says no salt"),
        );
    }
}

/// Keys of `keys` that sign the DNSKEY set (by a valid RRSIG at the first server, re-checked
/// here key by key).
fn signing_keys<'a>(dnskey: &Message, zone: &Name, keys: &'a [Dnskey], now: u64) -> Vec<&'a Dnskey> {
    let set: Vec<Record> = dnskey.answer.iter().filter(|r| r.owner == *zone).cloned().collect();
    let Some(rrset) = canonical::group(&set).into_iter().find(|s| s.rtype == rtype::DNSKEY) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|k| {
            let mut budget = Budget::default();
            verify::verify_rrset(&rrset, zone, std::slice::from_ref(*k), Clock::at(now), &mut budget).is_ok()
        })
        .collect()
}

/// The DS at the parent, else a DLV in a registry, else `--ds`: one must match a key that signs
/// the DNSKEY set (RFC 4035 §5.2; RFC 4431 §2 for DLV, the same layout).
async fn ds_findings(
    resolver: &Resolver,
    report: &mut Report,
    zone: &Name,
    dnskey: &Message,
    keys: &[Dnskey],
    opts: &Options,
) {
    let signers = signing_keys(dnskey, zone, keys, opts.now);
    let (source, set): (String, Vec<Ds>) = if let Some(given) = &opts.ds {
        ("the given DS/DLV file".into(), given.clone())
    } else {
        let res = resolver.resolve(&question(zone, rtype::DS), false).await;
        let ds: Vec<Ds> = res
            .response
            .as_deref()
            .map(|m| {
                m.answer.iter().filter(|r| r.rtype == rtype::DS).filter_map(|r| Ds::parse(&r.rdata)).collect()
            })
            .unwrap_or_default();
        if !ds.is_empty() {
            let how = match res.security() {
                Some(Security::Secure) => "secure",
                _ => "not validated",
            };
            (format!("the parent's DS set ({how})"), ds)
        } else {
            let mut found = None;
            for registry in &opts.registries {
                let Some(owner) = zone.concat(registry) else { continue };
                let res = resolver.resolve(&question(&owner, rtype::DLV), false).await;
                let dlv: Vec<Ds> = res
                    .response
                    .as_deref()
                    .map(|m| {
                        m.answer
                            .iter()
                            .filter(|r| r.rtype == rtype::DLV)
                            .filter_map(|r| Ds::parse(&r.rdata))
                            .collect()
                    })
                    .unwrap_or_default();
                if !dlv.is_empty() {
                    found = Some((format!("the DLV set in registry {registry}"), dlv));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => {
                    let registries = if opts.registries.is_empty() {
                        "no look-aside registry is configured".to_string()
                    } else {
                        format!(
                            "no DLV in {}",
                            opts.registries.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                        )
                    };
                    report.add(
                        Severity::Warning,
                        "ds",
                        format!("no DS for {zone} at the parent and {registries}: validators treat the zone as insecure (publish what `lookaside dlv-record {zone}` prints)"),
                    );
                    return;
                }
            }
        }
    };
    let mut matched = false;
    for ds in &set {
        let text = format!("{} {} {}", ds.key_tag, ds.algorithm, ds.digest_type);
        match keys.iter().find(|k| verify::ds_matches(zone, k, ds)) {
            Some(k) if signers.contains(&k) => {
                matched = true;
                report.add(
                    Severity::Ok,
                    "ds",
                    format!("{source}: DS {text} matches key {}, which signs the DNSKEY set", k.key_tag()),
                );
            }
            Some(k) => report.add(
                Severity::Warning,
                "ds",
                format!(
                    "{source}: DS {text} matches key {}, but that key does not sign the DNSKEY set",
                    k.key_tag()
                ),
            ),
            None => report.add(
                Severity::Warning,
                "ds",
                format!("{source}: DS {text} matches no published key (a stale or mistyped record)"),
            ),
        }
    }
    if !matched {
        report.add(
            Severity::Error,
            "ds",
            format!("{source}: no record matches a key that signs the DNSKEY set: validators will find {zone} bogus"),
        );
    }
}

/// The zone as the XMPP checks see it: where to ask and what to verify with.
struct ZoneAt<'a> {
    resolver: &'a Resolver,
    zone: &'a Name,
    server: SocketAddr,
    keys: &'a [Dnskey],
    opts: &'a Options,
}

/// XMPP services of the zone: SRV present and signed; in-zone targets' A/AAAA and TLSA signed.
async fn xmpp_findings(z: &ZoneAt<'_>, report: &mut Report) {
    let zone = z.zone;
    let mut any = false;
    for (prefix, _, _) in crate::tools::SERVICES {
        let Some(owner) = prefix.split('.').rev().try_fold(zone.clone(), |n, l| n.prepend(l.as_bytes()))
        else {
            continue;
        };
        let Some(m) = ask(z.server, &owner, rtype::SRV).await else { continue };
        let targets: Vec<(Name, u16)> = m
            .answer
            .iter()
            .filter(|r| r.rtype == rtype::SRV && r.owner == owner)
            .filter_map(|r| {
                let port = u16::from_be_bytes([*r.rdata.get(4)?, *r.rdata.get(5)?]);
                Some((read_name(&r.rdata, 6).ok()?.0, port))
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        any = true;
        match check_signed(report, &m, zone, &owner, rtype::SRV, z.keys, z.opts) {
            Ok(()) => report.add(Severity::Ok, "xmpp", format!("SRV {owner} is signed")),
            Err(e) => report.add(Severity::Error, "xmpp", format!("SRV {owner} does not verify: {e}")),
        }
        for (target, port) in targets {
            if target.is_root() {
                continue;
            }
            let tlsa_owner = target.prepend(b"_tcp").and_then(|n| n.prepend(format!("_{port}").as_bytes()));
            let mut wanted = vec![(target.clone(), rtype::A), (target.clone(), rtype::AAAA)];
            if let Some(t) = tlsa_owner {
                wanted.push((t, rtype::TLSA));
            }
            for (name, t) in wanted {
                xmpp_record(z, report, &name, t).await;
            }
        }
    }
    if !any {
        report.add(
            Severity::Warning,
            "xmpp",
            format!("no XMPP SRV records at {zone} (clients fall back to {zone} itself on ports 5222/5269)"),
        );
    }
}

/// One record of an XMPP target: signed if in the zone (asked at its server), else judged by
/// the resolver.
async fn xmpp_record(z: &ZoneAt<'_>, report: &mut Report, name: &Name, t: u16) {
    let tname = rtype::type_name(t);
    let direct = if name.is_at_or_below(z.zone) { ask(z.server, name, t).await } else { None };
    if let Some(m) = direct.filter(|m| m.has_flag(flags::AA)) {
        let has = m.answer.iter().any(|r| r.rtype == t);
        if !has {
            if t == rtype::TLSA {
                report.add(
                    Severity::Warning,
                    "xmpp",
                    format!("no TLSA at {name}: DANE is not in play for this target"),
                );
            }
            return;
        }
        match check_signed(report, &m, z.zone, name, t, z.keys, z.opts) {
            Ok(()) => report.add(Severity::Ok, "xmpp", format!("{tname} {name} is signed")),
            Err(e) => report.add(Severity::Error, "xmpp", format!("{tname} {name} does not verify: {e}")),
        }
        return;
    }
    let res = z.resolver.resolve(&question(name, t), false).await;
    let has = res.response.as_deref().is_some_and(|m| m.answer.iter().any(|r| r.rtype == t));
    match res.security() {
        _ if !has && t != rtype::TLSA => {}
        Some(Security::Secure) if has => {
            report.add(Severity::Ok, "xmpp", format!("{tname} {name} is secure (outside the zone)"))
        }
        Some(Security::Secure) => report.add(
            Severity::Warning,
            "xmpp",
            format!("no TLSA at {name}: DANE is not in play for this target"),
        ),
        Some(other) => {
            report.add(Severity::Warning, "xmpp", format!("{tname} {name} is not secure: {other}"))
        }
        None => report.add(Severity::Warning, "xmpp", format!("{tname} {name}: no answer")),
    }
}

/// Prints the report as text: one line per finding, then the tally.
pub fn print(r: &Report) {
    println!(
        "check-zone {} at {}",
        r.zone,
        if r.servers.is_empty() { "no server".to_string() } else { r.servers.join(", ") }
    );
    for f in &r.findings {
        let word = match f.severity {
            Severity::Ok => "ok",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        };
        println!("  {word:<8} {:<10} {}", f.check, f.message);
    }
    let count = |s| r.findings.iter().filter(|f| f.severity == s).count();
    println!("Result: {} error(s), {} warning(s)", count(Severity::Error), count(Severity::Warning));
}
