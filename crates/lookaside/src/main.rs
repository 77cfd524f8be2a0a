//! `lookaside`: a validating DNS stub resolver with DNSSEC look-aside validation.

mod config;
mod control;
mod listener;
mod tools;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use tokio::signal::unix::SignalKind;

use clap::{Args, Parser, Subcommand};
use lookaside_dnssec::Validator;
use lookaside_stub::upstream::{DEFAULT_TOTAL_TIMEOUT, Upstreams};
use lookaside_stub::{Resolver, ResolverConfig};
use tracing::{error, info};

use crate::config::{Config, Overrides};
use crate::listener::{Listener, ListenerLimits};

/// A validating DNS stub resolver for XMPP hosts (DNSSEC, with look-aside validation).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What to look up.
#[derive(Args, Clone)]
struct LookupArgs {
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
struct CommonArgs {
    /// Configuration file (TOML); see config/lookaside.toml.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Address to listen on, UDP and TCP (repeatable; overrides the file).
    #[arg(long)]
    listen: Vec<String>,
    /// Upstream resolver, IP or IP:PORT (repeatable; overrides the file and resolv.conf).
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
}

impl CommonArgs {
    fn load(&self) -> Result<Config, config::ConfigError> {
        let overrides = Overrides {
            listen: self.listen.clone(),
            upstreams: self.upstream.clone(),
            trust_anchors: self.trust_anchor.clone(),
            lookaside: self.lookaside.clone(),
            control_socket: self.control_socket.clone(),
        };
        Config::load(self.config.as_deref(), &overrides)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Logs to stderr, or to the journal when systemd connected stderr to it (JOURNAL_STREAM).
/// RUST_LOG-style filters; the configured level is the default.
fn init_logging(level: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journald) = tracing_journald::layer()
    {
        tracing_subscriber::registry().with(filter).with(journald).init();
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Switches to `user` after the sockets are bound, when started as root and not by systemd
/// (which runs us as our own user with CAP_NET_BIND_SERVICE instead).
fn drop_privileges(user: &str) -> Result<(), String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 || std::env::var_os("NOTIFY_SOCKET").is_some() {
        return Ok(());
    }
    let cname = std::ffi::CString::new(user).map_err(|_| format!("bad user name {user:?}"))?;
    // SAFETY: getpwnam takes a NUL-terminated string and returns a pointer to static storage or
    // null; we read the two ids before any other call that could overwrite it.
    let (uid, gid) = unsafe {
        let pw = libc::getpwnam(cname.as_ptr());
        if pw.is_null() {
            return Err(format!("no such user {user:?}"));
        }
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    // SAFETY: plain system calls; order matters: groups and gid before giving up root with setuid.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
            return Err(format!("cannot switch to user {user:?}: {}", std::io::Error::last_os_error()));
        }
    }
    info!(user, uid, gid, "dropped root privileges");
    Ok(())
}

/// Warns when the clock lies outside the root DNSKEY signature window: every answer would be
/// bogus (XMPP hosts are often VMs without a reliable clock).
async fn check_clock(resolver: Arc<ArcSwap<Resolver>>) {
    // After start-up has settled, so that the probe does not compete with the first queries.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let q = lookaside_dnssec::Question {
        name: lookaside_dnssec::Name::root(),
        qtype: lookaside_dnssec::rtype::DNSKEY,
        qclass: lookaside_dnssec::rtype::CLASS_IN,
    };
    let res = resolver.load_full().resolve(&q, true).await;
    let Some(response) = res.response else { return };
    let now = now() as u32;
    for r in response.answer.iter().filter(|r| r.rtype == lookaside_dnssec::rtype::RRSIG) {
        let Some(sig) = lookaside_dnssec::rdata::Rrsig::parse(&r.rdata) else { continue };
        let inside = lookaside_dnssec::verify::serial_le(sig.inception, now)
            && lookaside_dnssec::verify::serial_le(now, sig.expiration);
        if !inside {
            tracing::warn!(
                "the system clock ({}) is outside the root DNSKEY signature window ({} to {}): answers will be bogus until the clock is right",
                lookaside_dnssec::outcome::format_time(now),
                lookaside_dnssec::outcome::format_time(sig.inception),
                lookaside_dnssec::outcome::format_time(sig.expiration)
            );
        }
        return;
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::CheckConfig { file } => check_config(&file),
        Command::Ctl { config, socket, command } => {
            let path = socket.unwrap_or_else(|| {
                let file = config
                    .as_deref()
                    .and_then(|p| std::fs::read_to_string(p).ok().map(|t| (p.to_path_buf(), t)));
                file.and_then(|(p, t)| config::parse_file(&t, &p).ok())
                    .and_then(|f| f.control_socket)
                    .unwrap_or_else(|| config::DEFAULT_CONTROL_SOCKET.into())
            });
            control::client(&path, &command.join(" "))
        }
        Command::Query { common, lookup, dnssec } => {
            lookup_tool(&common, lookup, |l| tools::print_query(l, dnssec))
        }
        Command::Trace { common, lookup } => lookup_tool(&common, lookup, tools::print_trace),
        Command::Xmpp { common, domain, server, json } => {
            run_tool(&common, server.as_deref(), |r| async move {
                let name = lookaside_dnssec::Name::parse(&domain).map_err(|e| format!("{domain:?}: {e}"))?;
                let report = tools::xmpp_report(&r, &name).await;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                } else {
                    tools::print_xmpp(&report);
                }
                Ok(report.services.iter().all(|s| !s.srv.is_bogus()))
            })
        }
    }
}

/// `query` and `trace`: one lookup, printed as JSON or by `print`.
fn lookup_tool(common: &CommonArgs, lookup: LookupArgs, print: impl FnOnce(&tools::Lookup)) -> ExitCode {
    let server = lookup.server.clone();
    run_tool(common, server.as_deref(), |r| async move {
        let (name, t) = parse_lookup(&lookup)?;
        let l = tools::lookup(&r, &name, t).await;
        if lookup.json {
            println!("{}", serde_json::to_string_pretty(&l).unwrap_or_default());
        } else {
            print(&l);
        }
        Ok(l.is_secure() || l.verdict == "insecure")
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
fn run_tool<F, Fut>(args: &CommonArgs, server: Option<&str>, tool: F) -> ExitCode
where
    F: FnOnce(Arc<Resolver>) -> Fut,
    Fut: Future<Output = Result<bool, String>>,
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
            return ExitCode::FAILURE;
        }
    };
    init_logging(if std::env::var_os("RUST_LOG").is_some() { "info" } else { "warn" });
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lookaside: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let resolver = Arc::new(build_resolver(&config, anchors));
    match runtime.block_on(tool(resolver)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("lookaside: {e}");
            ExitCode::from(2)
        }
    }
}

fn build_resolver(config: &Config, anchors: lookaside_dnssec::TrustAnchors) -> Resolver {
    let upstreams = Upstreams::new(config.upstreams.clone())
        .with_timeouts(Duration::from_millis(config.upstream_timeout_ms), DEFAULT_TOTAL_TIMEOUT);
    let resolver_config = ResolverConfig {
        answer_cache_size: config.cache_answers,
        key_cache_size: config.cache_keys,
        max_ttl: config.max_ttl,
        bogus_ttl: config.bogus_ttl,
    };
    let validator = Validator::new(anchors).with_registries(config.registries());
    Resolver::new(upstreams, validator, resolver_config)
}

fn check_config(file: &std::path::Path) -> ExitCode {
    let args = CommonArgs {
        config: Some(file.into()),
        listen: vec![],
        upstream: vec![],
        trust_anchor: vec![],
        lookaside: vec![],
        control_socket: None,
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
    for n in anchors.negatives() {
        println!("negative trust anchor {n}");
    }
    for (domain, subtree, anchor) in &c.lookaside {
        let how = anchor
            .as_ref()
            .map_or("chained from the root".to_string(), |p| format!("anchor {}", p.display()));
        println!("look-aside registry {domain} for {subtree} ({how})");
    }
    println!(
        "cache answers = {}, keys = {}, max-ttl = {} s, bogus-ttl = {} s",
        c.cache_answers, c.cache_keys, c.max_ttl, c.bogus_ttl
    );
    println!(
        "limits max-inflight = {}, tcp-connections = {}, tcp-idle-timeout = {} s, upstream-timeout = {} ms",
        c.max_inflight, c.tcp_connections, c.tcp_idle_timeout, c.upstream_timeout_ms
    );
    ExitCode::SUCCESS
}

fn serve(args: &CommonArgs) -> ExitCode {
    let config = match args.load().and_then(|c| c.require_upstreams().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lookaside: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config.log_level);
    let anchors = match config.anchors(now()) {
        Ok(a) => a,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        // Sockets from systemd socket activation, else our own.
        let sockets = match listener::inherited() {
            Ok(s) if !s.udp.is_empty() || !s.tcp.is_empty() => {
                info!(udp = s.udp.len(), tcp = s.tcp.len(), "using sockets passed by systemd");
                s
            }
            _ => match listener::bind(&config.listen).await {
                Ok(s) => s,
                Err(e) => {
                    error!("cannot listen: {e}");
                    return ExitCode::FAILURE;
                }
            },
        };
        let control_socket = control::Control::bind(&config.control_socket);
        if let Some(addr) = config.metrics_listen {
            let exporter = metrics_exporter_prometheus::PrometheusBuilder::new().with_http_listener(addr).install();
            match exporter {
                Ok(()) => info!(%addr, "Prometheus metrics on http://{addr}/metrics"),
                Err(e) => {
                    error!("metrics endpoint {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            metrics::gauge!("lookaside_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        }
        if let Some(user) = &config.user
            && let Err(e) = drop_privileges(user)
        {
            error!("{e}");
            return ExitCode::FAILURE;
        }
        let anchor_names: Vec<String> = anchors.iter().map(|a| a.zone.to_string()).collect();
        info!(
            listen = ?config.listen.iter().map(ToString::to_string).collect::<Vec<_>>(),
            upstreams = ?config.upstreams.iter().map(ToString::to_string).collect::<Vec<_>>(),
            anchors = ?anchor_names,
            lookaside = ?config.lookaside.iter().map(|(d, _, _)| d.to_string()).collect::<Vec<_>>(),
            "lookaside {} ready", env!("CARGO_PKG_VERSION")
        );
        let resolver = Arc::new(ArcSwap::from_pointee(build_resolver(&config, anchors)));
        let limits = ListenerLimits {
            max_inflight: config.max_inflight,
            tcp_connections: config.tcp_connections,
            tcp_idle: Duration::from_secs(config.tcp_idle_timeout),
            version: config.version.clone(),
            identity: config.identity.clone(),
        };
        let listener = Listener::new(resolver.clone(), limits);
        let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel(4);
        let reload_tx_for_trust = reload_tx.clone();
        let control = Arc::new(control::Control { resolver: resolver.clone(), started: Instant::now(), reload: reload_tx });
        if let Some(l) = control_socket {
            tokio::spawn(control.serve(l));
        }
        tokio::spawn(check_clock(resolver.clone()));
        tokio::spawn(control::recheck_negative_anchors(resolver.clone(), config.nta_recheck_interval));
        if !config.auto_trust_zones().is_empty() {
            tokio::spawn(auto_trust(config.clone(), resolver.clone(), reload_tx_for_trust));
        }
        let serving = tokio::spawn(listener.clone().run(sockets));
        // Listeners bound and anchors loaded: tell systemd (Type=notify); a no-op elsewhere.
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        let watchdog = watchdog_interval();
        let mut hangup = signal(SignalKind::hangup());
        let mut term = signal(SignalKind::terminate());
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => { info!("interrupted, exiting"); break; }
                _ = recv(&mut term) => { info!("terminated, exiting"); break; }
                _ = recv(&mut hangup) => {
                    let _ = reload(args, &resolver);
                }
                Some(reply) = reload_rx.recv() => {
                    let _ = reply.send(reload(args, &resolver));
                }
                _ = tokio::time::sleep(watchdog.unwrap_or(Duration::from_secs(3600))), if watchdog.is_some() => {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                }
            }
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        // Stop taking queries, then let the ones in flight finish (bounded by the upstream timeout).
        serving.abort();
        if !listener.drain(DEFAULT_TOTAL_TIMEOUT + Duration::from_secs(1)).await {
            tracing::warn!("stopping with queries still in flight");
        }
        ExitCode::SUCCESS
    })
}

/// RFC 5011 for the root (with the built-in anchors) and for every zone in `auto-trust-anchors`:
/// probes each trust point's DNSKEY set, feeds its state machine, writes its state file, and
/// reloads when the trusted keys change. The first probe seeds a state from the configured
/// anchor.
async fn auto_trust(
    config: Config,
    resolver: Arc<ArcSwap<Resolver>>,
    reload: tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<Result<(), String>>>,
) {
    let mut warned = false;
    loop {
        let mut changed = false;
        for zone in config.auto_trust_zones() {
            changed |= probe_trust_point(&config, &resolver, &zone, &mut warned).await;
        }
        if changed {
            let (tx, _rx) = tokio::sync::oneshot::channel();
            let _ = reload.send(tx).await;
        }
        tokio::time::sleep(config.auto_trust_interval).await;
    }
}

/// One RFC 5011 probe of `zone`; true when its trusted keys changed.
async fn probe_trust_point(
    config: &Config,
    resolver: &ArcSwap<Resolver>,
    zone: &lookaside_dnssec::Name,
    warned: &mut bool,
) -> bool {
    use lookaside_dnssec::autotrust::TrustPoint;
    use lookaside_dnssec::canonical::group;
    use lookaside_dnssec::rdata::Dnskey;
    use lookaside_dnssec::rtype;
    let path = config.auto_trust_file(zone);
    let q = lookaside_dnssec::Question { name: zone.clone(), qtype: rtype::DNSKEY, qclass: rtype::CLASS_IN };
    let current = resolver.load_full();
    let res = current.resolve(&q, true).await;
    let Some(response) = res.response.as_deref() else { return false };
    let Some(set) =
        group(&response.answer).into_iter().find(|s| s.rtype == rtype::DNSKEY && s.owner == *zone)
    else {
        return false;
    };
    let published: Vec<Dnskey> = set.rdatas.iter().filter_map(|r| Dnskey::parse(r)).collect();
    let clock = lookaside_dnssec::verify::Clock::at(now());
    let signed_by: Vec<u16> = published
        .iter()
        .filter(|k| {
            let mut budget = lookaside_dnssec::limits::Budget::default();
            lookaside_dnssec::verify::verify_rrset(&set, zone, std::slice::from_ref(*k), clock, &mut budget)
                .is_ok()
        })
        .map(Dnskey::key_tag)
        .collect();
    let mut tp = match std::fs::read_to_string(&path).ok().map(|t| TrustPoint::from_text(&t)) {
        Some(Ok(tp)) => tp,
        Some(Err(e)) => {
            tracing::warn!("{}: {e}; RFC 5011 updates for {zone} paused", path.display());
            return false;
        }
        None => {
            // Seed from the configured anchor of the zone (DS or keys).
            let anchors = current.validator().anchors();
            let seeds: Vec<Dnskey> = anchors
                .closest(zone)
                .filter(|a| a.zone == *zone)
                .map(|a| {
                    published
                        .iter()
                        .filter(|k| {
                            a.keys.contains(k)
                                || a.ds.iter().any(|d| lookaside_dnssec::verify::ds_matches(&a.zone, k, d))
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            TrustPoint::from_keys(&seeds)
        }
    };
    let before = tp.trusted();
    if let Err(e) = tp.observe(now(), &published, &signed_by) {
        tracing::warn!("RFC 5011 probe of the {zone} DNSKEY set: {e}");
        return false;
    }
    if let Err(e) =
        std::fs::create_dir_all(&config.state_directory).and_then(|()| std::fs::write(&path, tp.to_text()))
    {
        if !*warned {
            tracing::warn!("cannot write {}: {e}; RFC 5011 state is not kept", path.display());
            *warned = true;
        }
        return false;
    }
    let changed = tp.trusted() != before;
    if changed {
        info!("trust anchors of {zone} changed by RFC 5011: {} key(s) trusted", tp.trusted().len());
    }
    changed
}

/// Half the systemd watchdog interval, when systemd asks for keep-alives.
fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

fn signal(kind: SignalKind) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).ok()
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Re-reads the configuration and anchor files and swaps in a new resolver; on any error the
/// old configuration keeps serving. Listening addresses and limits need a restart.
fn reload(args: &CommonArgs, current: &ArcSwap<Resolver>) -> Result<(), String> {
    let setup = args
        .load()
        .and_then(|c| c.require_upstreams().map(|()| c))
        .and_then(|c| c.anchors(now()).map(|a| (c, a)));
    match setup {
        Ok((config, anchors)) => {
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Reloading]);
            let old = current.load_full();
            let new = build_resolver(&config, anchors)
                .with_shared(old.stats.clone(), old.negative_anchors().clone());
            current.store(Arc::new(new));
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
            info!("configuration reloaded");
            Ok(())
        }
        Err(e) => {
            error!("reload failed, keeping the running configuration: {e}");
            Err(e.to_string())
        }
    }
}
