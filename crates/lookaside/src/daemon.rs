//! `lookaside serve`: start-up, the signal and reload loop, a clean stop, and the background
//! tasks around the listener (clock check, RFC 5011, negative anchor recheck).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use lookaside_dnssec::Validator;
use lookaside_dnssec::negative::NegativeAnchors;
use lookaside_stub::forward::{Forward, Forwards};
use lookaside_stub::upkeep::{self, TrustPointFile};
use lookaside_stub::upstream::{DEFAULT_TOTAL_TIMEOUT, Upstreams};
use lookaside_stub::{Resolver, ResolverConfig};
use std::process::ExitCode;
use tokio::signal::unix::SignalKind;
use tracing::{error, info};

use crate::cli::{CommonArgs, now};
use crate::config::Config;
use crate::control;
use crate::listener::{self, Listener, ListenerLimits};
use crate::privileges::drop_privileges;

/// Logs to stderr, or to the journal when systemd connected stderr to it (JOURNAL_STREAM).
/// RUST_LOG-style filters; the configured level is the default.
pub fn init_logging(level: &str) {
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
                lookaside_dnssec::civil_time::format_time(now),
                lookaside_dnssec::civil_time::format_time(sig.inception),
                lookaside_dnssec::civil_time::format_time(sig.expiration)
            );
        }
        return;
    }
}

/// The resolver a configuration describes; `negative` is the negative-anchor set to share
/// (on reload), else one is made from the configured anchors.
pub fn build_resolver(
    config: &Config,
    anchors: lookaside_dnssec::TrustAnchors,
    negative: Option<Arc<NegativeAnchors>>,
) -> Result<Resolver, String> {
    let upstreams_of = |specs: Vec<lookaside_stub::upstream::UpstreamSpec>| {
        Upstreams::from_specs(specs, config.tls_ca_file.as_deref()).map_err(|e| e.to_string()).map(|u| {
            u.without_0x20(&config.no_0x20)
                .with_timeouts(Duration::from_millis(config.upstream_timeout_ms), DEFAULT_TOTAL_TIMEOUT)
                .with_edns_buffer_size(config.edns_buffer_size)
        })
    };
    let upstreams = upstreams_of(config.upstreams.clone())?;
    let mut forwards = Vec::new();
    for f in &config.forwards {
        forwards.push(Forward {
            domain: f.domain.clone(),
            upstreams: upstreams_of(f.upstreams.clone()).map_err(|e| format!("forward {}: {e}", f.domain))?,
            validate: f.validate,
        });
    }
    let resolver_config = ResolverConfig {
        answer_cache_size: config.cache_answers,
        cache_memory: config.cache_memory,
        key_cache_size: config.cache_keys,
        max_ttl: config.max_ttl,
        bogus_ttl: config.bogus_ttl,
        serve_stale: config.serve_stale,
        stale_client_timeout: config.stale_answer_client_timeout,
        prefetch: config.prefetch,
        aggressive_nsec: config.aggressive_nsec,
    };
    let negative =
        negative.unwrap_or_else(|| Arc::new(NegativeAnchors::configured(&config.negative_trust_anchors)));
    let validator =
        Validator::new(anchors).with_registries(config.registries()).with_negative_anchors(negative);
    Ok(Resolver::new(upstreams, validator, resolver_config)
        .with_local_data(config.local.clone())
        .with_forwards(Forwards::new(forwards)))
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn serve(args: &CommonArgs) -> ExitCode {
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
        let resolver = match build_resolver(&config, anchors, None) {
            Ok(r) => {
                let r = Arc::new(r);
                r.start_refresher();
                Arc::new(ArcSwap::new(r))
            }
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let limits = ListenerLimits {
            max_inflight: config.max_inflight,
            tcp_connections: config.tcp_connections,
            tcp_idle: Duration::from_secs(config.tcp_idle_timeout),
            version: config.version.clone(),
            identity: config.identity.clone(),
            allow: config.allow.clone(),
            refuse_drop: config.refuse_drop,
        };
        let listener = Listener::new(resolver.clone(), limits);
        let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel(4);
        let reload_tx_for_trust = reload_tx.clone();
        let control = Arc::new(control::Control { resolver: resolver.clone(), started: Instant::now(), reload: reload_tx });
        if let Some(l) = control_socket {
            tokio::spawn(control.serve(l));
        }
        tokio::spawn(check_clock(resolver.clone()));
        let current = {
            let resolver = resolver.clone();
            move || resolver.load_full()
        };
        tokio::spawn(upkeep::recheck_negative_anchors(current.clone(), config.nta_recheck_interval));
        let probe_wake = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(upkeep::probe_periodically(current.clone(), config.upstream_probe_interval, probe_wake.clone()));
        if !config.watches.is_empty() {
            let roots = lookaside_stub::tls::load_roots(config.tls_ca_file.as_deref()).ok();
            tokio::spawn(crate::watch::watch_periodically(
                current.clone(),
                config.watches.clone(),
                config.watch_interval,
                roots,
            ));
        }
        let points: Vec<TrustPointFile> = config
            .auto_trust_zones()
            .into_iter()
            .map(|zone| TrustPointFile { path: config.auto_trust_file(&zone), zone })
            .collect();
        if !points.is_empty() {
            // New trusted keys: reload, which reads the state files as the zones' anchors.
            let changed = move || {
                let reload = reload_tx_for_trust.clone();
                async move {
                    let (tx, _rx) = tokio::sync::oneshot::channel();
                    let _ = reload.send(tx).await;
                }
            };
            tokio::spawn(upkeep::follow_trust_points(points, config.auto_trust_interval, current, changed));
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
                    probe_wake.notify_one();
                }
                Some(reply) = reload_rx.recv() => {
                    let _ = reply.send(reload(args, &resolver));
                    probe_wake.notify_one();
                }
                _ = tokio::time::sleep(watchdog.unwrap_or(Duration::from_secs(3600))), if watchdog.is_some() => {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                }
            }
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        // Stop taking queries, then let the ones in flight finish (bounded by the upstream timeout).
        serving.abort();
        listener.stop();
        if !listener.drain(DEFAULT_TOTAL_TIMEOUT + Duration::from_secs(1)).await {
            tracing::warn!("stopping with queries still in flight");
        }
        ExitCode::SUCCESS
    })
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
            // Counters and negative trust anchors carry over: the configured anchors are
            // replaced by the new file's, the run-time ones stay.
            let negative = old.negative_anchors().clone();
            negative.replace_configured(&config.negative_trust_anchors);
            let new = match build_resolver(&config, anchors, Some(negative)) {
                Ok(r) => r.with_stats(old.stats.clone()),
                Err(e) => {
                    error!("reload failed, keeping the running configuration: {e}");
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
                    return Err(e);
                }
            };
            let new = Arc::new(new);
            new.start_refresher();
            current.store(new);
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
