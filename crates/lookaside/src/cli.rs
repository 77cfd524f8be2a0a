//! The command line: subcommands and their options (clap), and the runners of the one-shot
//! tools (`query`, `trace`, `xmpp`, `check-config`), which build the resolver exactly as `serve`
//! does.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use lookaside_stub::Resolver;

use crate::config::{self, Config, Overrides};
use crate::daemon::{build_resolver, init_logging};
use crate::tools;

/// A validating DNS stub resolver for XMPP hosts (DNSSEC, with look-aside validation).
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Doc comments on their fields would become clap help text, so the flattened
/// argument groups go undocumented here (their own types say what they hold).
#[derive(Subcommand)]
// `[NAME]` in the help text is not a doc link.
#[allow(missing_docs, rustdoc::broken_intra_doc_links)]
pub enum Command {
    /// Run the resolver: listen, forward to the upstreams, validate, answer.
    Serve(CommonArgs),
    /// Check a configuration file and the anchor files it names; print the effective settings.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Resolve and validate one name, like delv: records, then a verdict line. Exit status 0
    /// for secure or insecure answers, 1 for bogus or indeterminate ones.
    Query {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        lookup: LookupArgs,
        /// Print every record of the answer, RRSIGs and proofs included.
        #[arg(long)]
        dnssec: bool,
    },
    /// Show the chain of trust from the anchor down, one step per zone: DS and DNSKEY sets used,
    /// which key signed what, and where and why it broke.
    Trace {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        lookup: LookupArgs,
    },
    /// Control a running daemon: status, flush [NAME], flush-bogus, nta add NAME [--for 1h],
    /// nta list, nta remove NAME, reload. Exit status 3 when the daemon is not running.
    Ctl {
        /// Configuration file naming the control socket.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// The control socket (default: the config's control-socket, else /run/lookaside/control.sock).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Probe the upstreams' DNSSEC fitness: signed . DNSKEY over UDP and TCP, a signed denial,
    /// a TLD's signed DS, the question's case. One block per upstream with each check and a
    /// verdict (fit, degraded, unfit, unreachable); exit status 0 when one is fit, 2 otherwise.
    Probe {
        #[command(flatten)]
        common: CommonArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the DLV records (RFC 4431) and DS records for a zone's key-signing keys, as
    /// `dnssec-dsfromkey -l` did: from the zone's published DNSKEY set (asked with CD, so it works
    /// before any chain exists) or from a key file.
    DlvRecord {
        #[command(flatten)]
        common: CommonArgs,
        /// The zone.
        zone: String,
        /// The look-aside registry the DLV records go into (default: the first configured one).
        #[arg(long)]
        registry: Option<String>,
        /// Read the keys from this file (zone-file DNSKEY lines) instead of asking for them.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Pre-flight a zone at its own authoritative servers: authoritative answers, the same SOA
    /// serial and DNSKEY set everywhere, the question's case kept, signatures that verify and
    /// do not expire soon, DS/DLV matching a signing key, NSEC3 and algorithm advice, signed
    /// XMPP records. Exit status 0 when all is well, 1 with warnings, 2 with errors.
    CheckZone {
        #[command(flatten)]
        common: CommonArgs,
        /// The zone.
        zone: String,
        /// Ask this server (IP or IP:PORT, repeatable) instead of the parent's NS set; works
        /// before the delegation exists.
        #[arg(long, value_name = "ADDR")]
        ns: Vec<String>,
        /// Check these DS or DLV records (zone-file lines) instead of the published ones.
        #[arg(long, value_name = "FILE")]
        ds: Option<PathBuf>,
        /// Warn about signatures that expire within this many days.
        #[arg(long, default_value_t = 7)]
        warn_days: u32,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the man pages and shell completions into DIR (for packaging).
    #[command(hide = true)]
    Dist {
        /// Output directory.
        dir: PathBuf,
    },
    /// XMPP/DANE report for a domain: SRV records, their targets' addresses and TLSA records,
    /// verdicts, which certificate names are acceptable, and whether DANE can be used.
    Xmpp {
        #[command(flatten)]
        common: CommonArgs,
        /// The XMPP domain.
        domain: String,
        /// Upstream to ask instead of the configured ones (e.g. the running daemon).
        #[arg(long)]
        server: Option<String>,
        /// Connect to every target address (STARTTLS on xmpp-*, direct TLS on xmpps-*) and check
        /// the served certificate against the TLSA records. Exit status 1 when a target's TLSA
        /// records do not match or it cannot be reached.
        #[arg(long)]
        tls: bool,
        /// A renewed certificate (PEM, leaf first, e.g. fullchain.pem) to check against the
        /// published TLSA records before deploying it; prints the records to publish and exits
        /// with 1 when none matches.
        #[arg(long, value_name = "FILE")]
        new_cert: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What to look up.
#[derive(Args, Clone)]
pub struct LookupArgs {
    /// The name.
    name: String,
    /// The record type (A, AAAA, SRV, TLSA, ... or TYPEnnn).
    #[arg(default_value = "A")]
    rtype: String,
    /// Upstream to ask instead of the configured ones (e.g. the running daemon).
    #[arg(long)]
    server: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Options shared by the subcommands that resolve.
#[derive(Args, Clone)]
pub struct CommonArgs {
    /// Configuration file (TOML); see config/lookaside.toml.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Address to listen on, UDP and TCP (repeatable; overrides the file).
    #[arg(long)]
    listen: Vec<String>,
    /// Upstream resolver: IP, IP:PORT, or tls://IP[:PORT]#AUTH_NAME for DNS over TLS
    /// (repeatable; overrides the file and resolv.conf).
    #[arg(long)]
    upstream: Vec<String>,
    /// Extra trust-anchor file (repeatable). A file with a root anchor replaces the built-in ones.
    #[arg(long)]
    trust_anchor: Vec<PathBuf>,
    /// Look-aside registry DOMAIN[=ANCHOR_FILE] (repeatable); without a file the registry is
    /// validated through the root chain.
    #[arg(long, value_name = "DOMAIN[=ANCHOR_FILE]")]
    lookaside: Vec<String>,
    /// Control socket for `lookaside ctl` (overrides the file).
    #[arg(long)]
    control_socket: Option<PathBuf>,
    /// Client address prefix allowed to query, e.g. 192.168.0.0/16 (repeatable; replaces the
    /// file's `allow`; default loopback only).
    #[arg(long, value_name = "PREFIX")]
    allow: Vec<String>,
    /// Send the names under DOMAIN to these upstreams instead, validated (repeatable; added to
    /// the file's [[forward]] tables; the most specific domain wins).
    #[arg(long, value_name = "DOMAIN=ADDR[,ADDR...]")]
    forward: Vec<String>,
}

impl CommonArgs {
    /// The effective configuration: the file (if any), then the command-line overrides.
    pub fn load(&self) -> Result<Config, config::ConfigError> {
        let overrides = Overrides {
            listen: self.listen.clone(),
            upstreams: self.upstream.clone(),
            trust_anchors: self.trust_anchor.clone(),
            lookaside: self.lookaside.clone(),
            control_socket: self.control_socket.clone(),
            allow: self.allow.clone(),
            forwards: self.forward.clone(),
        };
        Config::load(self.config.as_deref(), &overrides)
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `query` and `trace`: one lookup, printed as JSON or by `print`.
pub fn lookup_tool(common: &CommonArgs, lookup: LookupArgs, print: impl FnOnce(&tools::Lookup)) -> ExitCode {
    let server = lookup.server.clone();
    run_tool(common, server.as_deref(), |r| async move {
        let (name, t) = parse_lookup(&lookup)?;
        let l = tools::lookup(&r, &name, t).await;
        if lookup.json {
            println!("{}", serde_json::to_string_pretty(&l).unwrap_or_default());
        } else {
            print(&l);
        }
        Ok(l.is_secure() || l.is_insecure())
    })
}

fn parse_lookup(l: &LookupArgs) -> Result<(lookaside_dnssec::Name, u16), String> {
    let name = lookaside_dnssec::Name::parse(&l.name).map_err(|e| format!("{:?}: {e}", l.name))?;
    let t = lookaside_dnssec::rtype::parse_type(&l.rtype)
        .ok_or_else(|| format!("unknown record type {:?}", l.rtype))?;
    Ok((name, t))
}

/// Builds the resolver as `serve` would and runs one tool on it. The tool returns whether the
/// outcome counts as success for the exit status.
pub fn run_tool<F, Fut>(args: &CommonArgs, server: Option<&str>, tool: F) -> ExitCode
where
    F: FnOnce(Arc<Resolver>) -> Fut,
    Fut: Future<Output = Result<bool, String>>,
{
    run_tool_with_status(args, server, |r| async move {
        tool(r).await.map(|ok| if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

/// As [`run_tool`], for a tool that chooses its own exit status; an `Err` prints and exits 2.
pub fn run_tool_with_status<F, Fut>(args: &CommonArgs, server: Option<&str>, tool: F) -> ExitCode
where
    F: FnOnce(Arc<Resolver>) -> Fut,
    Fut: Future<Output = Result<ExitCode, String>>,
{
    let mut args = args.clone();
    if let Some(s) = server {
        args.upstream = vec![s.to_string()];
    }
    let setup = args
        .load()
        .and_then(|c| c.require_upstreams().map(|()| c))
        .and_then(|c| c.anchors(now()).map(|a| (c, a)));
    let (config, anchors) = match setup {
        Ok(x) => x,
        Err(e) => {
            eprintln!("lookaside: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(if std::env::var_os("RUST_LOG").is_some() { "info" } else { "warn" });
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lookaside: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let resolver = match build_resolver(&config, anchors, None) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("lookaside: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(tool(resolver)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lookaside: {e}");
            ExitCode::from(2)
        }
    }
}

/// `lookaside check-zone`: asks the zone's own servers and prints the findings; exit status 0
/// when all is well, 1 with warnings, 2 with errors (or when the check cannot run).
pub fn check_zone(
    common: &CommonArgs,
    zone: &str,
    ns: &[String],
    ds: Option<&std::path::Path>,
    warn_days: u32,
    json: bool,
) -> ExitCode {
    use crate::check_zone::{self as cz, Severity};
    let zone = match lookaside_dnssec::Name::parse(zone) {
        Ok(z) => z,
        Err(e) => {
            eprintln!("lookaside: {zone:?}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut servers = Vec::new();
    for n in ns {
        match config::parse_addr(n, 53) {
            Ok(a) => servers.push(a),
            Err(e) => {
                eprintln!("lookaside: --ns {n:?}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let ds = match ds {
        Some(path) => {
            match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| cz::parse_ds_file(&t))
            {
                Ok(set) => Some(set),
                Err(e) => {
                    eprintln!("lookaside: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
        None => None,
    };
    let registries =
        common.load().map(|c| c.lookaside.iter().map(|(d, _, _)| d.clone()).collect()).unwrap_or_default();
    let opts = cz::Options { ns: servers, ds, warn_days, registries, now: now() };
    run_tool_with_status(common, None, |r| async move {
        let report = cz::check_zone(&r, &zone, &opts).await;
        if json {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        } else {
            cz::print(&report);
        }
        Ok(match report.worst() {
            Severity::Ok => ExitCode::SUCCESS,
            Severity::Warning => ExitCode::from(1),
            Severity::Error => ExitCode::from(2),
        })
    })
}

/// `lookaside probe`: probes every configured upstream at once and prints the verdicts.
pub fn probe(args: &CommonArgs, json: bool) -> ExitCode {
    use lookaside_stub::probe::{Fitness, Outcome, Report};
    let config = match args.load().and_then(|c| c.require_upstreams().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lookaside: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lookaside: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let upstreams = match lookaside_stub::upstream::Upstreams::from_specs(
        config.upstreams.clone(),
        config.tls_ca_file.as_deref(),
    ) {
        Ok(u) => u.with_edns_buffer_size(config.edns_buffer_size),
        Err(e) => {
            eprintln!("lookaside: {e}");
            return ExitCode::from(2);
        }
    };
    let reports: Vec<Report> = runtime.block_on(upstreams.probe_all(lookaside_stub::upkeep::PROBE_WAIT));
    let name_of = |r: &Report| {
        config
            .upstreams
            .iter()
            .find(|u| u.addr == r.upstream)
            .map_or(r.upstream.to_string(), ToString::to_string)
    };
    if json {
        let outcome = |o: &Outcome| match o {
            Outcome::Pass(d) => serde_json::json!({"result": "pass", "detail": d}),
            Outcome::Fail(f, d) => serde_json::json!({"result": "fail", "makes": f.word(), "detail": d}),
            Outcome::Skipped(d) => serde_json::json!({"result": "skipped", "detail": d}),
        };
        let list: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                serde_json::json!({
                    "upstream": name_of(r),
                    "verdict": r.fitness().word(),
                    "reason": r.reason(),
                    "checks": r.checks.iter().map(|c| {
                        let mut v = outcome(&c.outcome);
                        v["check"] = serde_json::Value::from(c.what.clone());
                        v
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
    } else {
        for r in &reports {
            match r.fitness() {
                Fitness::Fit => println!("upstream {}: fit", name_of(r)),
                f => println!("upstream {}: {f}: {}", name_of(r), r.reason()),
            }
            for c in &r.checks {
                match &c.outcome {
                    Outcome::Pass(d) => println!("  ok    {}: {d}", c.what),
                    Outcome::Fail(_, d) => println!("  FAIL  {}: {d}", c.what),
                    Outcome::Skipped(d) => println!("  skip  {}: {d}", c.what),
                }
            }
        }
    }
    if reports.iter().any(|r| r.fitness().usable()) { ExitCode::SUCCESS } else { ExitCode::from(2) }
}

/// `lookaside dlv-record`: the DLV and DS records of a zone's key-signing keys.
pub fn dlv_record(
    common: &CommonArgs,
    zone: &str,
    registry: Option<&str>,
    key_file: Option<&std::path::Path>,
    json: bool,
) -> ExitCode {
    use lookaside_dnssec::name::Name;
    use lookaside_dnssec::rdata::Dnskey;
    let zone = match Name::parse(zone) {
        Ok(z) => z,
        Err(e) => {
            eprintln!("lookaside: {zone:?}: {e}");
            return ExitCode::from(2);
        }
    };
    let registry = match registry {
        Some(r) => match Name::parse(r) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("lookaside: --registry {r:?}: {e}");
                return ExitCode::from(2);
            }
        },
        None => common.load().ok().and_then(|c| c.lookaside.first().map(|(domain, _, _)| domain.clone())),
    };
    let print = |keys: Vec<Dnskey>| -> bool {
        // Key-signing keys (SEP bit) of the zone, not revoked; all zone keys when none has SEP.
        let zone_keys: Vec<&Dnskey> =
            keys.iter().filter(|k| k.flags & 0x0100 != 0 && k.flags & 0x0080 == 0).collect();
        let ksks: Vec<&Dnskey> = zone_keys.iter().copied().filter(|k| k.flags & 0x0001 != 0).collect();
        let chosen = if ksks.is_empty() { zone_keys } else { ksks };
        let mut rows = Vec::new();
        for k in chosen {
            // SHA-256 (RFC 4509): SHA-1 must no longer be published (RFC 8624 §3.3).
            let Some(ds) = lookaside_dnssec::verify::ds_for(&zone, k, 2) else { continue };
            let rdata = format!(
                "{} {} {} {}",
                ds.key_tag,
                ds.algorithm,
                ds.digest_type,
                lookaside_dnssec::codec::hex_encode(&ds.digest).to_uppercase()
            );
            rows.push((k.key_tag(), k.algorithm, rdata));
        }
        let dlv_owner = registry.as_ref().map(|r| {
            let z = zone.to_string();
            format!("{}{}", z, if r.is_root() { String::new() } else { r.to_string() })
        });
        if json {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|(tag, alg, rdata)| {
                    serde_json::json!({
                        "key_tag": tag, "algorithm": alg,
                        "ds": format!("{zone} IN DS {rdata}"),
                        "dlv": dlv_owner.as_ref().map(|o| format!("{o} IN DLV {rdata}")),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
        } else {
            if dlv_owner.is_none() {
                println!("; no look-aside registry configured or given (--registry): DS records only");
            }
            for (tag, alg, rdata) in &rows {
                println!("; key-signing key {tag} (algorithm {alg}) of {zone}");
                if let Some(owner) = &dlv_owner {
                    println!("{owner} 3600 IN DLV {rdata}");
                }
                println!("{zone} 3600 IN DS {rdata}");
            }
        }
        if rows.is_empty() {
            eprintln!("lookaside: no zone keys of {zone} found");
        }
        !rows.is_empty()
    };
    if let Some(path) = key_file {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("lookaside: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        let mut anchors = lookaside_dnssec::TrustAnchors::empty();
        if let Err(e) = anchors.add_text(&text, now()) {
            eprintln!("lookaside: {}: {e}", path.display());
            return ExitCode::from(2);
        }
        let keys: Vec<Dnskey> =
            anchors.iter().filter(|a| a.zone == zone).flat_map(|a| a.keys.clone()).collect();
        return if print(keys) { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    let asked = zone.clone();
    run_tool(common, None, |r| async move {
        let zone = asked;
        let q = lookaside_dnssec::wire::Question {
            name: zone.clone(),
            qtype: lookaside_dnssec::rtype::DNSKEY,
            qclass: lookaside_dnssec::rtype::CLASS_IN,
        };
        let res = r.resolve(&q, true).await;
        let response = res.response.ok_or_else(|| format!("no answer for {zone} DNSKEY"))?;
        let keys: Vec<Dnskey> = response
            .answer
            .iter()
            .filter(|rec| rec.rtype == lookaside_dnssec::rtype::DNSKEY && rec.owner == zone)
            .filter_map(|rec| Dnskey::parse(&rec.rdata))
            .collect();
        Ok(print(keys))
    })
}

/// How long `xmpp --tls` waits for one server's TLS handshake.
pub const XMPP_CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `lookaside xmpp`: the XMPP/DANE report, with `--tls` the served certificates, with
/// `--new-cert` the rollover check. Exit status 1 when an SRV answer is bogus, a served or
/// renewed certificate is not matched by the published TLSA records, or a server cannot be
/// checked; 2 when the tool cannot run.
pub fn xmpp(
    common: &CommonArgs,
    domain: &str,
    server: Option<&str>,
    tls: bool,
    new_cert: Option<&std::path::Path>,
    json: bool,
) -> ExitCode {
    let new_chain = match new_cert {
        Some(path) => match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|text| crate::dane::Certificate::chain_from_pem(&text))
        {
            Ok(chain) => Some(chain),
            Err(e) => {
                eprintln!("lookaside: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let ca_file = common.load().ok().and_then(|c| c.tls_ca_file);
    let roots = lookaside_stub::tls::load_roots(ca_file.as_deref()).ok();
    let opts =
        tools::XmppOptions { tls, new_cert: new_chain, roots, connect_wait: XMPP_CONNECT_WAIT, now: now() };
    let domain = domain.to_string();
    run_tool(common, server, |r| async move {
        let name = lookaside_dnssec::Name::parse(&domain).map_err(|e| format!("{domain:?}: {e}"))?;
        let report = tools::xmpp_report(&r, &name, &opts).await;
        if json {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        } else {
            tools::print_xmpp(&report);
        }
        let targets = || report.services.iter().flat_map(|s| s.targets.iter());
        let srv_ok = report.services.iter().all(|s| !s.srv.is_bogus());
        let tls_ok =
            targets().all(|t| t.tls.iter().all(|c| c.error.is_none() && (!t.dane_usable || c.dane_matches)));
        let renewal_ok = targets().filter_map(|t| t.new_cert.as_ref()).all(|n| n.matches);
        if opts.new_cert.is_some() && !json {
            let checked = targets().filter(|t| t.new_cert.is_some()).count();
            if checked == 0 {
                println!();
                println!(
                    "new certificate: no target has secure TLSA records, so DANE is not in play and the swap cannot break it"
                );
            } else if renewal_ok {
                println!();
                println!(
                    "new certificate: matched by the published TLSA records of all {checked} target(s): safe to deploy"
                );
            } else {
                println!();
                println!(
                    "new certificate: NOT matched at every target: do not deploy yet (see \"publish:\" above)"
                );
            }
        }
        Ok(srv_ok && tls_ok && renewal_ok)
    })
}

/// `lookaside check-config FILE`: loads the file as `serve` would and prints the effective
/// settings; exit status 2 on an error.
pub fn check_config(file: &std::path::Path) -> ExitCode {
    let args = CommonArgs {
        config: Some(file.into()),
        listen: vec![],
        upstream: vec![],
        trust_anchor: vec![],
        lookaside: vec![],
        control_socket: None,
        allow: vec![],
        forward: vec![],
    };
    let cfg = match args.load().and_then(|c| c.anchors(now()).map(|a| (c, a))) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (c, anchors) = cfg;
    println!("listen = {:?}", c.listen.iter().map(ToString::to_string).collect::<Vec<_>>());
    if c.upstreams.is_empty() {
        println!(
            "upstreams = [] (warning: none configured and none in /etc/resolv.conf; serve will refuse to start)"
        );
    } else {
        println!("upstreams = {:?}", c.upstreams.iter().map(ToString::to_string).collect::<Vec<_>>());
    }
    for a in anchors.iter() {
        let tags: Vec<String> =
            a.ds.iter()
                .map(|d| format!("DS {}", d.key_tag))
                .chain(a.keys.iter().map(|k| format!("DNSKEY {}", k.key_tag())))
                .collect();
        println!("trust anchor {} ({})", a.zone, tags.join(", "));
    }
    for n in &c.negative_trust_anchors {
        println!("negative trust anchor {n}");
    }
    for (domain, subtree, anchor) in &c.lookaside {
        let how = anchor
            .as_ref()
            .map_or("chained from the root".to_string(), |p| format!("anchor {}", p.display()));
        println!("look-aside registry {domain} for {subtree} ({how})");
    }
    println!(
        "cache answers = {}, keys = {}, memory = {} bytes, max-ttl = {} s, bogus-ttl = {} s, serve-stale = {} s",
        c.cache_answers, c.cache_keys, c.cache_memory, c.max_ttl, c.bogus_ttl, c.serve_stale
    );
    println!(
        "limits max-inflight = {}, tcp-connections = {}, tcp-idle-timeout = {} s, upstream-timeout = {} ms",
        c.max_inflight, c.tcp_connections, c.tcp_idle_timeout, c.upstream_timeout_ms
    );
    println!("edns-buffer-size = {}", c.edns_buffer_size);
    for f in &c.forwards {
        let to: Vec<String> = f.upstreams.iter().map(ToString::to_string).collect();
        let policy = if f.validate { "validated" } else { "dnssec off: insecure by policy" };
        println!("forward {} to [{}] ({policy})", f.domain, to.join(", "));
    }
    for w in config::forward_conflicts(&c.forwards).1 {
        println!("warning: {w}");
    }
    for w in &c.watches {
        let tls = if w.tls { ", served certificates too" } else { "" };
        println!("watch {} every {} s{tls}", w.domain, c.watch_interval.as_secs());
    }
    if !c.local.is_empty() {
        println!("local data for {} name(s)", c.local.names());
    }
    let allow: Vec<String> = c.allow.prefixes().iter().map(ToString::to_string).collect();
    println!("allow = [{}]", allow.join(", "));
    ExitCode::SUCCESS
}
