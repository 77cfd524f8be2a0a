//! The debugging commands: `query` (like delv), `trace` (the chain of trust, like drill -DT) and
//! `xmpp` (the XMPP/DANE report). They drive the same resolver and validator as the daemon.

use std::io::IsTerminal;

use lookaside_dnssec::chain::{ChainStep, StepStatus};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::Security;
use lookaside_dnssec::presentation::record_text;
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Message, Question, Record};
use lookaside_stub::{Resolution, Resolver};
use serde::Serialize;

use crate::dane;
use crate::served_chain;

/// One lookup and its verdict, as shown and as serialised for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Lookup {
    /// The name asked for.
    pub name: String,
    /// The type asked for.
    #[serde(rename = "type")]
    pub rtype: String,
    /// `secure`, `insecure`, `bogus` or `indeterminate`.
    pub verdict: String,
    /// Why, for anything but secure.
    pub reason: Option<String>,
    /// The response code of the answer.
    pub rcode: String,
    /// The Extended DNS Error the daemon would attach.
    pub ede: Option<Ede>,
    /// The records of the answer section, in presentation format.
    pub records: Vec<String>,
    /// The chain of trust, top-down.
    pub chain: Vec<Step>,
    #[serde(skip)]
    answer: Vec<Record>,
    #[serde(skip)]
    security: Option<Security>,
    #[serde(skip)]
    all_records: Vec<Record>,
}

/// An Extended DNS Error.
#[derive(Debug, Clone, Serialize)]
pub struct Ede {
    /// INFO-CODE.
    pub code: u16,
    /// EXTRA-TEXT.
    pub text: String,
}

/// One step of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The zone or name.
    pub zone: String,
    /// `trusted`, `insecure`, `bogus`, `look-aside` or `no zone cut`.
    pub status: String,
    /// What was used or found.
    pub detail: String,
}

fn status_word(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Bogus => "bogus",
        StepStatus::Insecure => "insecure",
        StepStatus::Lookaside => "look-aside",
        StepStatus::NotZoneCut => "no zone cut",
        StepStatus::Trusted => "trusted",
    }
}

fn rcode_name(rc: u16) -> String {
    match rcode::name(rc) {
        "RCODE" => format!("RCODE{rc}"),
        known => known.into(),
    }
}

fn steps(chain: &[ChainStep]) -> Vec<Step> {
    chain
        .iter()
        .map(|s| Step {
            zone: s.zone.to_string(),
            status: status_word(s.status).into(),
            detail: s.detail.to_string(),
        })
        .collect()
}

impl Lookup {
    fn from_resolution(name: &Name, qtype: u16, res: Resolution) -> Self {
        let response: Option<&Message> = res.response.as_deref();
        let answer: Vec<Record> = response.map(|m| m.answer.clone()).unwrap_or_default();
        let all_records: Vec<Record> = response
            .map(|m| m.answer.iter().chain(m.authority.iter()).cloned().collect())
            .unwrap_or_default();
        // The tools ask without CD, so every answer is checked.
        let security = res.security().cloned();
        let usable = matches!(security, Some(Security::Secure | Security::Insecure(_)));
        let rc = if usable { response.map_or(rcode::SERVFAIL, Message::rcode) } else { rcode::SERVFAIL };
        let reason = match &security {
            None | Some(Security::Secure) => None,
            Some(Security::Insecure(r)) => Some(r.to_string()),
            Some(Security::Bogus(r)) => Some(r.to_string()),
            Some(Security::Indeterminate(r)) => Some(r.to_string()),
        };
        let ede = security.as_ref().and_then(Security::ede).map(|(code, text)| Ede {
            code,
            text: if res.summary.is_empty() { text } else { format!("{}: {text}", res.summary) },
        });
        Self {
            name: name.to_string(),
            rtype: rtype::type_name(qtype),
            verdict: res.judgement.label().into(),
            reason,
            rcode: rcode_name(rc),
            ede,
            records: if usable {
                answer.iter().filter(|r| r.rtype != rtype::RRSIG).map(record_text).collect()
            } else {
                Vec::new()
            },
            chain: steps(&res.steps),
            answer: if usable { answer } else { Vec::new() },
            security,
            all_records,
        }
    }

    /// True for a secure verdict.
    pub fn is_secure(&self) -> bool {
        matches!(self.security, Some(Security::Secure))
    }

    /// True for an insecure verdict.
    pub fn is_insecure(&self) -> bool {
        matches!(self.security, Some(Security::Insecure(_)))
    }

    /// True for a bogus verdict.
    pub fn is_bogus(&self) -> bool {
        matches!(self.security, Some(Security::Bogus(_)))
    }

    /// The RRSIGs of the answer and authority sections (for `watch`'s expiry figures).
    pub fn rrsigs(&self) -> Vec<lookaside_dnssec::rdata::Rrsig> {
        self.all_records
            .iter()
            .filter(|r| r.rtype == rtype::RRSIG)
            .filter_map(|r| lookaside_dnssec::rdata::Rrsig::parse(&r.rdata))
            .collect()
    }

    /// Records of `t` owned by anything in the answer (the end of a CNAME chain included).
    fn data(&self, t: u16) -> Vec<&Record> {
        self.answer.iter().filter(|r| r.rtype == t).collect()
    }

    /// The delv-style verdict line.
    pub fn verdict_line(&self) -> String {
        match &self.security {
            Some(Security::Secure) if self.answer.iter().any(|r| r.rtype != rtype::RRSIG) => {
                "; fully validated".into()
            }
            Some(Security::Secure) => "; negative response, fully validated".into(),
            Some(other) => format!("; {other}"),
            None => "; no answer".into(),
        }
    }
}

/// Resolves one name and type.
pub async fn lookup(resolver: &Resolver, name: &Name, qtype: u16) -> Lookup {
    let q = Question { name: name.clone(), qtype, qclass: rtype::CLASS_IN };
    let res = resolver.resolve(&q, false).await;
    Lookup::from_resolution(name, qtype, res)
}

/// `lookaside query`: records and the verdict line.
pub fn print_query(l: &Lookup, dnssec: bool) {
    let records: Vec<String> =
        if dnssec { l.all_records.iter().map(record_text).collect() } else { l.records.clone() };
    for r in &records {
        println!("{r}");
    }
    if records.is_empty() && l.rcode != "NOERROR" {
        println!(";; {}", l.rcode);
    }
    println!("{}", l.verdict_line());
}

struct Paint(bool);

impl Paint {
    fn status(&self, s: &str) -> String {
        let code = match s {
            "trusted" => "32",
            "insecure" => "33",
            "bogus" => "31;1",
            "look-aside" => "36",
            _ => "2",
        };
        if self.0 { format!("\x1b[{code}m{s:<11}\x1b[0m") } else { format!("{s:<11}") }
    }
}

/// `lookaside trace`: the chain of trust, one line per step.
pub fn print_trace(l: &Lookup) {
    let paint = Paint(std::io::stdout().is_terminal());
    println!("Chain of trust for {} {}", l.name, l.rtype);
    let width = l.chain.iter().map(|s| s.zone.len()).max().unwrap_or(1).max(1);
    for s in &l.chain {
        println!("  {:<width$}  {} {}", s.zone, paint.status(&s.status), s.detail);
    }
    if l.chain.is_empty() {
        println!("  (no chain: {})", l.reason.as_deref().unwrap_or("answered without validation"));
    }
    let verdict = match &l.reason {
        Some(r) => format!("{}: {r}", l.verdict),
        None => l.verdict.clone(),
    };
    println!("Result: {} ({})", paint.status(&verdict).trim_end(), l.rcode);
}

/// One target of an XMPP service.
#[derive(Debug, Serialize)]
pub struct Target {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// A lookup.
    pub a: Lookup,
    /// AAAA lookup.
    pub aaaa: Lookup,
    /// TLSA lookup at `_port._tcp.host` (RFC 7673).
    pub tlsa: Lookup,
    /// Whether DANE can authenticate this target.
    pub dane_usable: bool,
    /// Why or why not.
    pub dane: String,
    /// The certificates served at each address (`--tls`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsCheck>,
    /// Whether a renewed certificate would be accepted (`--new-cert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_cert: Option<NewCertCheck>,
}

/// The certificate served at one address of a target, against the target's TLSA records.
#[derive(Debug, Serialize)]
pub struct TlsCheck {
    /// Address and port connected to.
    pub address: String,
    /// STARTTLS or direct TLS.
    pub mode: String,
    /// Why no certificate was obtained (a refused connection, a time-out, no STARTTLS).
    pub error: Option<String>,
    /// The served chain, leaf first.
    pub chain: Vec<dane::Certificate>,
    /// Each secure TLSA record against the chain.
    pub records: Vec<dane::RecordOutcome>,
    /// Which reference identifier the leaf carries, or that it carries none (RFC 7673 §4).
    pub names: String,
    /// PKIX validation against the CA store, for clients that do not use DANE.
    pub pkix: String,
    /// A problem with the leaf's extended key usage, if any.
    pub eku: Option<String>,
    /// True when a TLSA record authenticates the served chain.
    pub dane_matches: bool,
    /// The verdict for this address.
    pub verdict: String,
}

/// Would a renewed certificate be accepted by the target's published TLSA records?
#[derive(Debug, Serialize)]
pub struct NewCertCheck {
    /// Each secure TLSA record against the new chain.
    pub records: Vec<dane::RecordOutcome>,
    /// True when one of them authenticates it.
    pub matches: bool,
    /// TLSA records to publish first, when none matches.
    pub publish: Vec<String>,
    /// Seconds to wait after publishing (the TLSA RRset's TTL) before swapping.
    pub wait_seconds: u32,
    /// The verdict.
    pub verdict: String,
}

/// What `xmpp` does besides DNS.
#[derive(Default)]
pub struct XmppOptions {
    /// Connect to every target address and check the served certificates (`--tls`).
    pub tls: bool,
    /// A renewed chain to check against the published TLSA records (`--new-cert`).
    pub new_cert: Option<Vec<dane::Certificate>>,
    /// CA store for the PKIX usages and the PKIX line (`tls-ca-file`, else the system's).
    pub roots: Option<std::sync::Arc<rustls::RootCertStore>>,
    /// How long one connection may take.
    pub connect_wait: std::time::Duration,
    /// Seconds since the epoch.
    pub now: u64,
}

/// One XMPP service (client or server, STARTTLS or direct TLS).
#[derive(Debug, Serialize)]
pub struct Service {
    /// SRV owner prefix, e.g. `_xmpp-server._tcp`.
    pub service: String,
    /// The SRV lookup.
    pub srv: Lookup,
    /// True when the targets come from the RFC 6120 §3.2 fallback (no SRV).
    pub fallback: bool,
    /// Which names a certificate may carry.
    pub certificate_names: String,
    /// The targets.
    pub targets: Vec<Target>,
    /// The final line: DANE usable, or why not.
    pub dane: String,
}

/// The `lookaside xmpp` report.
#[derive(Debug, Serialize)]
pub struct XmppReport {
    /// The XMPP domain.
    pub domain: String,
    /// Its services.
    pub services: Vec<Service>,
}

/// XMPP services (RFC 6120 §3.2.1; XEP-0368 for the direct-TLS ones), their default ports, and
/// whether a missing SRV falls back to the domain itself.
pub const SERVICES: [(&str, u16, bool); 4] = [
    ("_xmpp-client._tcp", 5222, true),
    ("_xmpps-client._tcp", 5223, false),
    ("_xmpp-server._tcp", 5269, true),
    ("_xmpps-server._tcp", 5270, false),
];

fn srv_targets(l: &Lookup) -> Vec<(String, u16)> {
    l.data(rtype::SRV)
        .iter()
        .filter_map(|r| {
            let port = u16::from_be_bytes([*r.rdata.get(4)?, *r.rdata.get(5)?]);
            let (host, _) = lookaside_dnssec::wire::read_name(&r.rdata, 6).ok()?;
            Some((host.to_string(), port))
        })
        .collect()
}

/// Builds the XMPP/DANE report for `domain`, following the rules Prosody applies.
pub async fn xmpp_report(resolver: &Resolver, domain: &Name, opts: &XmppOptions) -> XmppReport {
    let mut services = Vec::new();
    for (prefix, default_port, has_fallback) in SERVICES {
        let Some(owner) = prefix.split('.').rev().try_fold(domain.clone(), |n, l| n.prepend(l.as_bytes()))
        else {
            continue;
        };
        let srv = lookup(resolver, &owner, rtype::SRV).await;
        let mut targets_list = srv_targets(&srv);
        let explicitly_unavailable = targets_list.len() == 1 && targets_list[0].0 == ".";
        let fallback = targets_list.is_empty() && !srv.is_bogus() && has_fallback;
        if fallback {
            targets_list.push((domain.to_string(), default_port));
        }
        if explicitly_unavailable {
            targets_list.clear();
        }
        let certificate_names = if srv.is_secure() && !fallback && !targets_list.is_empty() {
            let hosts: Vec<&str> = targets_list.iter().map(|(h, _)| h.as_str()).collect();
            format!("{domain} or the SRV target(s) {} (secure SRV: XMPP DNSSEC prooftype)", hosts.join(", "))
        } else {
            format!("{domain} only")
        };
        let mut targets = Vec::new();
        for (host, port) in &targets_list {
            let Ok(host_name) = Name::parse(host) else { continue };
            let a = lookup(resolver, &host_name, rtype::A).await;
            let aaaa = lookup(resolver, &host_name, rtype::AAAA).await;
            let tlsa_name = host_name.prepend(b"_tcp").and_then(|n| n.prepend(format!("_{port}").as_bytes()));
            let tlsa = match tlsa_name {
                Some(n) => lookup(resolver, &n, rtype::TLSA).await,
                None => continue,
            };
            let (dane_usable, dane) = dane_decision(&srv, fallback, &a, &aaaa, &tlsa);
            // RFC 7673 §4 and the XMPP DNSSEC prooftype: the service domain, and the SRV target
            // when the SRV answer is secure.
            let mut names = vec![domain.to_string()];
            if srv.is_secure() && !fallback {
                names.push(host.clone());
            }
            let records = if dane_usable { tlsa_records(&tlsa) } else { Vec::new() };
            let mut target = Target {
                host: host.clone(),
                port: *port,
                a,
                aaaa,
                tlsa,
                dane_usable,
                dane,
                tls: Vec::new(),
                new_cert: None,
            };
            if opts.tls {
                for ip in addresses(&target) {
                    let addr = std::net::SocketAddr::new(ip, *port);
                    let mode = served_chain::Mode::for_service(prefix);
                    target.tls.push(tls_check(&target, addr, mode, domain, &names, &records, opts).await);
                }
            }
            if let Some(chain) = &opts.new_cert
                && target.dane_usable
            {
                target.new_cert = Some(new_cert_check(&target, chain, &names, &records, opts));
            }
            targets.push(target);
        }
        let dane = if srv.is_bogus() {
            format!(
                "DANE not usable because the SRV lookup is bogus ({})",
                srv.reason.clone().unwrap_or_default()
            )
        } else if explicitly_unavailable {
            "DANE not usable because the service is explicitly unavailable (SRV target \".\")".into()
        } else if targets.is_empty() && srv.records.is_empty() {
            "DANE not usable because the service is not offered (no SRV records)".into()
        } else if targets.is_empty() {
            "DANE not usable because there is no target".into()
        } else if targets.iter().all(|t| t.dane_usable) {
            let unmatched: Vec<&str> = targets
                .iter()
                .flat_map(|t| t.tls.iter())
                .filter(|c| !c.dane_matches)
                .map(|c| c.address.as_str())
                .collect();
            if unmatched.is_empty() {
                "DANE usable".into()
            } else {
                format!(
                    "DANE usable, but the certificate served at {} is not authenticated by it",
                    unmatched.join(", ")
                )
            }
        } else {
            let why: Vec<String> = targets
                .iter()
                .filter(|t| !t.dane_usable)
                .map(|t| format!("{}: {}", t.host, t.dane))
                .collect();
            format!("DANE not usable because {}", why.join("; "))
        };
        services.push(Service { service: prefix.into(), srv, fallback, certificate_names, targets, dane });
    }
    XmppReport { domain: domain.to_string(), services }
}

/// The secure TLSA records of a lookup.
fn tlsa_records(tlsa: &Lookup) -> Vec<dane::Tlsa> {
    tlsa.data(rtype::TLSA).iter().filter_map(|r| dane::Tlsa::parse(&r.rdata)).collect()
}

/// The TTL the TLSA RRset was published with: the RRSIG's original TTL (RFC 4034 §3.1.4), since
/// the record's own TTL has been counting down in caches.
fn tlsa_ttl(tlsa: &Lookup) -> u32 {
    let signed = tlsa
        .answer
        .iter()
        .filter(|r| r.rtype == rtype::RRSIG && r.rdata.get(..2) == Some(&rtype::TLSA.to_be_bytes()[..]))
        .filter_map(|r| Some(u32::from_be_bytes(r.rdata.get(4..8)?.try_into().ok()?)))
        .max();
    signed.or_else(|| tlsa.data(rtype::TLSA).iter().map(|r| r.ttl).max()).unwrap_or(0)
}

/// The target's addresses from its A and AAAA answers.
fn addresses(t: &Target) -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    for r in t.a.data(rtype::A) {
        if let Ok(b) = <[u8; 4]>::try_from(r.rdata.as_slice()) {
            out.push(std::net::IpAddr::from(b));
        }
    }
    for r in t.aaaa.data(rtype::AAAA) {
        if let Ok(b) = <[u8; 16]>::try_from(r.rdata.as_slice()) {
            out.push(std::net::IpAddr::from(b));
        }
    }
    out
}

/// Connects to one address and judges the served chain (`--tls`).
async fn tls_check(
    t: &Target,
    addr: std::net::SocketAddr,
    mode: served_chain::Mode,
    domain: &Name,
    names: &[String],
    records: &[dane::Tlsa],
    opts: &XmppOptions,
) -> TlsCheck {
    let mut check = TlsCheck {
        address: addr.to_string(),
        mode: mode.words(),
        error: None,
        chain: Vec::new(),
        records: Vec::new(),
        names: String::new(),
        pkix: String::new(),
        eku: None,
        dane_matches: false,
        verdict: String::new(),
    };
    let served = match served_chain::fetch(addr, &domain.to_string(), mode, opts.connect_wait).await {
        Ok(s) => s,
        Err(e) => {
            check.verdict = format!("no certificate checked: {e}");
            check.error = Some(e);
            return check;
        }
    };
    for (i, der) in served.chain.iter().take(dane::MAX_CHAIN_CERTIFICATES).enumerate() {
        match dane::Certificate::from_der(der, i) {
            Ok(c) => check.chain.push(c),
            Err(e) => {
                check.verdict = format!("no certificate checked: {e}");
                check.error = Some(e);
                return check;
            }
        }
    }
    if let served_chain::Mode::Direct(alpn) = mode
        && served.alpn.as_deref() != Some(alpn)
    {
        check.pkix = format!("(the server did not confirm ALPN {alpn}) ");
    }
    let leaf = &check.chain[0];
    check.names = match names.iter().find(|n| leaf.has_name(n)) {
        Some(n) => format!("the certificate names {}", n.trim_end_matches('.')),
        None => format!(
            "the certificate names none of {} (it names {})",
            names.iter().map(|n| n.trim_end_matches('.')).collect::<Vec<_>>().join(", "),
            if leaf.names.is_empty() { "nothing".to_string() } else { leaf.names.join(", ") }
        ),
    };
    check.eku = leaf.eku_problem(matches!(
        mode,
        served_chain::Mode::StartTls("jabber:server") | served_chain::Mode::Direct("xmpp-server")
    ));
    check.pkix += &match &opts.roots {
        Some(roots) => match dane::pkix_check(&check.chain, names, roots, opts.now) {
            Ok(n) => format!("valid for {n} against the CA store"),
            Err(e) => format!("not valid against the CA store: {e}"),
        },
        None => "not checked (no CA store could be read)".into(),
    };
    check.records = dane::evaluate(records, &check.chain, names, opts.roots.as_ref(), opts.now);
    check.dane_matches = check.records.iter().any(|r| r.authenticates);
    check.verdict = if !t.dane_usable {
        format!("DANE not in play: {}", t.dane)
    } else if check.dane_matches {
        let r = check.records.iter().find(|r| r.authenticates).map_or(String::new(), |r| r.record.clone());
        format!("DANE matches (TLSA {r})")
    } else {
        "no TLSA record matches the served certificate (a client that requires DANE will refuse)".into()
    };
    check
}

/// Would `chain` be accepted by the target's published TLSA records (`--new-cert`)?
fn new_cert_check(
    t: &Target,
    chain: &[dane::Certificate],
    names: &[String],
    records: &[dane::Tlsa],
    opts: &XmppOptions,
) -> NewCertCheck {
    let outcomes = dane::evaluate(records, chain, names, opts.roots.as_ref(), opts.now);
    let matches = outcomes.iter().any(|r| r.authenticates);
    let wait = tlsa_ttl(&t.tlsa);
    let publish = if matches {
        Vec::new()
    } else {
        let owner = format!("_{}._tcp.{}", t.port, t.host);
        dane::records_for(chain, &owner, wait)
    };
    let verdict = if matches {
        "the new certificate matches a published TLSA record: safe to deploy".to_string()
    } else {
        format!(
            "no published TLSA record matches the new certificate: publish one of the records below, \
             wait {wait} s (the TLSA TTL) so caches have it, then deploy"
        )
    };
    NewCertCheck { records: outcomes, matches, publish, wait_seconds: wait, verdict }
}

/// Prosody's rules (mod_s2s, net/resolvers/service.lua): a bogus SRV is an error; an insecure SRV
/// turns DANE off; addresses must be secure; the TLSA answer must be secure and hold records (a
/// secure denial means "no DANE", not an error).
fn dane_decision(srv: &Lookup, fallback: bool, a: &Lookup, aaaa: &Lookup, tlsa: &Lookup) -> (bool, String) {
    if !fallback && !srv.is_secure() {
        return (
            false,
            format!("the SRV records are {} ({})", srv.verdict, srv.reason.clone().unwrap_or_default()),
        );
    }
    if fallback && !srv.is_secure() {
        return (false, format!("the absence of SRV records is {}", srv.verdict));
    }
    for addr in [a, aaaa] {
        if !addr.records.is_empty() && !addr.is_secure() {
            return (false, format!("the {} records are {}", addr.rtype, addr.verdict));
        }
    }
    if tlsa.is_bogus() {
        return (false, format!("the TLSA lookup is bogus ({})", tlsa.reason.clone().unwrap_or_default()));
    }
    if !tlsa.is_secure() {
        return (false, format!("the TLSA records are {}", tlsa.verdict));
    }
    if tlsa.data(rtype::TLSA).is_empty() {
        return (false, format!("no TLSA records exist at {} (securely denied)", tlsa.name));
    }
    (true, format!("{} secure TLSA record(s) at {}", tlsa.data(rtype::TLSA).len(), tlsa.name))
}

/// Prints the report as text.
pub fn print_xmpp(r: &XmppReport) {
    let paint = Paint(std::io::stdout().is_terminal());
    println!("XMPP report for {}", r.domain);
    for s in &r.services {
        println!();
        println!("{}.{}  SRV  {}", s.service, r.domain, paint.status(&s.srv.verdict).trim_end());
        if let Some(reason) = &s.srv.reason {
            println!("    {reason}");
        }
        for rec in &s.srv.records {
            println!("    {rec}");
        }
        if s.fallback {
            println!("    no SRV records: falling back to {} (RFC 6120 §3.2)", r.domain);
        }
        println!("    certificate may name: {}", s.certificate_names);
        for t in &s.targets {
            println!("  target {} port {}", t.host, t.port);
            for l in [&t.a, &t.aaaa, &t.tlsa] {
                let shown = if l.records.is_empty() {
                    format!("({})", l.rcode)
                } else {
                    format!("{} record(s)", l.records.len())
                };
                println!("    {:<6} {} {shown}", l.rtype, paint.status(&l.verdict));
            }
            println!("    DANE: {}", t.dane);
            for c in &t.tls {
                print_tls(c, paint.0);
            }
            if let Some(n) = &t.new_cert {
                println!("    new certificate: {}", n.verdict);
                for r in &n.records {
                    println!("      TLSA {}: {}", abbreviated(&r.record), r.detail);
                }
                for p in &n.publish {
                    println!("      publish: {p}");
                }
            }
        }
        println!("  => {}", s.dane);
    }
}

/// A TLSA record for the text report: association data longer than a SHA-512 digest (full
/// certificates or keys, matching type 0) shortened to its start and length; `--json` has it all.
fn abbreviated(record: &str) -> String {
    match record.rsplit_once(' ') {
        Some((head, data)) if data.len() > 128 => {
            format!("{head} {}… ({} octets)", &data[..32], data.len() / 2)
        }
        _ => record.to_string(),
    }
}

fn print_tls(c: &TlsCheck, color: bool) {
    println!("    TLS {} {}", c.address, c.mode);
    if c.error.is_none() {
        for cert in &c.chain {
            let eku = match &cert.extended_key_usage {
                None => "any use".to_string(),
                Some(e) => e.join(", "),
            };
            let now = crate::cli::now();
            println!(
                "      certificate {}: {}; names {}; {}; EKU {eku}{}",
                cert.position,
                cert.subject,
                if cert.names.is_empty() { "none".to_string() } else { cert.names.join(", ") },
                cert.expiry_words(now),
                if cert.is_ca { "; CA" } else { "" }
            );
        }
        for r in &c.records {
            println!("      TLSA {}: {}", abbreviated(&r.record), r.detail);
        }
        println!("      names: {}", c.names);
        if let Some(e) = &c.eku {
            println!("      EKU: {e}");
        }
        println!("      PKIX: {}", c.pkix);
    }
    let verdict = if !color {
        c.verdict.clone()
    } else if c.dane_matches {
        format!("\x1b[32m{}\x1b[0m", c.verdict)
    } else {
        format!("\x1b[31;1m{}\x1b[0m", c.verdict)
    };
    println!("      => {verdict}");
}
