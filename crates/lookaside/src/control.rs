//! `lookaside ctl`: a line-based control protocol over a Unix socket that only root and the
//! daemon's owner can open (mode 0600): `status`, `flush [NAME]`, `flush-bogus`,
//! `nta add NAME [DURATION]`, `nta list`, `nta remove NAME`, `reload`. One command per
//! connection; the reply is text, its first line `ok` or `error: …`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use lookaside_dnssec::name::Name;
use lookaside_stub::Resolver;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Default lifetime of a negative trust anchor (BIND's `rndc nta` default).
pub const DEFAULT_NTA_LIFETIME: Duration = Duration::from_secs(3600);
/// Longest negative trust anchor lifetime (BIND caps at one week).
pub const MAX_NTA_LIFETIME: Duration = Duration::from_secs(7 * 86400);

/// What the control server needs.
pub struct Control {
    /// The resolver in service (swapped on reload).
    pub resolver: Arc<ArcSwap<Resolver>>,
    /// When the daemon started.
    pub started: Instant,
    /// Asks the main loop to reload; the reply says whether it worked.
    pub reload: mpsc::Sender<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

/// Parses `30s`, `10m`, `1h`, `2d` or plain seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let unit = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    // Checked: `--for 999999999999999d` is refused, not wrapped (callers cap it at 7 days).
    n.checked_mul(unit).map(Duration::from_secs)
}

impl Control {
    /// Binds the socket (replacing a stale one), before privileges are dropped. `None`, with a
    /// warning, when it cannot: the daemon still serves DNS.
    pub fn bind(path: &Path) -> Option<UnixListener> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::remove_file(path);
        match UnixListener::bind(path) {
            Ok(l) => {
                restrict(path);
                info!("control socket {}", path.display());
                Some(l)
            }
            Err(e) => {
                warn!("control socket {}: {e}; `lookaside ctl` will not work", path.display());
                None
            }
        }
    }

    /// Serves commands until the process ends.
    pub async fn serve(self: Arc<Self>, listener: UnixListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let this = self.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                // Bounded: a line longer than any command is cut and then refused by parse.
                let limit = (MAX_COMMAND_LINE + 2) as u64;
                if BufReader::new(read.take(limit)).read_line(&mut line).await.is_err() {
                    return;
                }
                let reply = this.execute(line.trim()).await;
                let _ = write.write_all(reply.as_bytes()).await;
            });
        }
    }

    /// Parses and runs one command line; the reply text starts with `ok` or `error: …`.
    pub async fn execute(&self, line: &str) -> String {
        match ControlCommand::parse(line) {
            Ok(command) => self.run(command).await,
            Err(e) => format!("error: {e}\n"),
        }
    }

    async fn run(&self, command: ControlCommand) -> String {
        let resolver = self.resolver.load_full();
        match command {
            ControlCommand::Status => {
                let s = &resolver.stats;
                let (answers, keys) = resolver.cache_sizes();
                let mut out = format!("ok\nuptime {} s\n", self.started.elapsed().as_secs());
                let u = &resolver.upstreams().stats;
                out.push_str(&format!(
                    "upstream queries {} dropped-replies {} failures {} tcp-retries {} case-mismatches {}\n",
                    u.queries.load(Ordering::Relaxed),
                    u.dropped_replies.load(Ordering::Relaxed),
                    u.failures.load(Ordering::Relaxed),
                    u.tcp_retries.load(Ordering::Relaxed),
                    u.case_mismatches.load(Ordering::Relaxed),
                ));
                for line in resolver.upstreams().status_lines() {
                    out.push_str(&line);
                    out.push('\n');
                }
                for f in resolver.forwards().iter() {
                    for line in f.upstreams.status_lines() {
                        out.push_str(&format!("forward {} {line}\n", f.domain));
                    }
                }
                out.push_str(&format!(
                    "cache answers {answers} keys {keys} bytes {}\n",
                    resolver.cache_bytes()
                ));
                out.push_str(&format!(
                    "answers secure {} insecure {} bogus {} indeterminate {} unchecked {}\n",
                    s.secure.load(Ordering::Relaxed),
                    s.insecure.load(Ordering::Relaxed),
                    s.bogus.load(Ordering::Relaxed),
                    s.indeterminate.load(Ordering::Relaxed),
                    s.unchecked.load(Ordering::Relaxed)
                ));
                out.push_str(&format!(
                    "cache hits {} misses {} stale {} prefetches {} synthesised {}\n",
                    s.cache_hits.load(Ordering::Relaxed),
                    s.cache_misses.load(Ordering::Relaxed),
                    s.stale.load(Ordering::Relaxed),
                    s.prefetches.load(Ordering::Relaxed),
                    s.synthesised.load(Ordering::Relaxed)
                ));
                for line in negative_anchor_lines(&resolver) {
                    out.push_str(&format!("nta {line}\n"));
                }
                out
            }
            ControlCommand::Flush(None) => {
                let (answers, _) = resolver.cache_sizes();
                resolver.flush();
                format!("ok\nflushed {answers} answers and every key\n")
            }
            ControlCommand::Flush(Some(n)) => {
                format!("ok\nflushed {} answers at or below {n}\n", resolver.flush_name(&n))
            }
            ControlCommand::FlushBogus => {
                format!("ok\nflushed {} bogus or failed answers\n", resolver.flush_bogus())
            }
            ControlCommand::NtaAdd { zone, lifetime } => {
                let until = unix_now().saturating_add(lifetime.as_secs());
                if !resolver.negative_anchors().add_runtime(zone.clone(), until) {
                    return format!(
                        "error: {} run-time negative trust anchors exist already; remove some first\n",
                        lookaside_dnssec::negative::MAX_RUNTIME_NEGATIVE_ANCHORS
                    );
                }
                resolver.flush_name(&zone);
                info!(%zone, seconds = lifetime.as_secs(), "negative trust anchor added");
                format!("ok\nnegative trust anchor {zone} for {} s\n", lifetime.as_secs())
            }
            ControlCommand::NtaList => {
                let mut out = String::from("ok\n");
                for line in negative_anchor_lines(&resolver) {
                    out.push_str(&line);
                    out.push('\n');
                }
                out
            }
            ControlCommand::NtaRemove(zone) => {
                if resolver.negative_anchors().remove_runtime(&zone) {
                    resolver.flush_name(&zone);
                    format!("ok\nremoved {zone}\n")
                } else {
                    format!(
                        "error: no run-time negative trust anchor for {zone} (configured ones leave by reload)\n"
                    )
                }
            }
            ControlCommand::Reload => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if self.reload.send(tx).await.is_err() {
                    return "error: the daemon is shutting down\n".into();
                }
                match rx.await {
                    Ok(Ok(())) => "ok\nconfiguration reloaded\n".into(),
                    Ok(Err(e)) => format!("error: reload failed, the old configuration stays: {e}\n"),
                    Err(_) => "error: no reply\n".into(),
                }
            }
        }
    }
}

/// One control command, parsed from its line before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlCommand {
    /// `status`: uptime, upstream and cache counters, verdict counts, negative trust anchors.
    Status,
    /// `flush` (everything) or `flush NAME` (answers at or below NAME).
    Flush(Option<Name>),
    /// `flush-bogus`: answers that were bogus or failed.
    FlushBogus,
    /// `nta add NAME [[--for] DURATION]`.
    NtaAdd {
        /// The zone below which answers are not validated.
        zone: Name,
        /// How long the anchor lives (1 s … 7 days).
        lifetime: Duration,
    },
    /// `nta list`.
    NtaList,
    /// `nta remove NAME`: a run-time negative trust anchor.
    NtaRemove(Name),
    /// `reload`: re-read the configuration and the anchor files.
    Reload,
}

/// Why a control line was refused; the message goes back to `lookaside ctl`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The first words are no command we know.
    #[error("unknown command; try status, flush [NAME], flush-bogus, nta add|list|remove, reload")]
    Unknown,
    /// A command with the wrong arguments.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// A name that does not parse.
    #[error("{text:?} is not a domain name: {reason}")]
    BadName {
        /// What was given.
        text: String,
        /// Why it is not a name.
        reason: String,
    },
    /// A lifetime that does not parse or is out of range.
    #[error("{0:?} is not a duration of at most 7d (e.g. 30m, 1h)")]
    BadDuration(String),
}

/// Longest control line read; longer ones are refused (a command is a few words).
pub const MAX_COMMAND_LINE: usize = 1024;

impl ControlCommand {
    /// Parses one line: words separated by white space, as `lookaside ctl` joins its arguments.
    pub fn parse(line: &str) -> Result<Self, CommandError> {
        if line.len() > MAX_COMMAND_LINE {
            return Err(CommandError::Usage("a command line of at most 1024 bytes"));
        }
        let name = |text: &str| {
            Name::parse(text).map_err(|e| CommandError::BadName { text: text.into(), reason: e.to_string() })
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        Ok(match words.as_slice() {
            ["status"] => Self::Status,
            ["flush"] => Self::Flush(None),
            ["flush", n] => Self::Flush(Some(name(n)?)),
            ["flush", ..] => return Err(CommandError::Usage("flush [NAME]")),
            ["flush-bogus"] => Self::FlushBogus,
            ["nta", "add", n, rest @ ..] => {
                let zone = name(n)?;
                let lifetime = match rest {
                    [] => DEFAULT_NTA_LIFETIME,
                    [d] | ["--for", d] => match parse_duration(d) {
                        Some(d) if d <= MAX_NTA_LIFETIME && !d.is_zero() => d,
                        _ => return Err(CommandError::BadDuration((*d).into())),
                    },
                    _ => return Err(CommandError::Usage("nta add NAME [--for DURATION]")),
                };
                Self::NtaAdd { zone, lifetime }
            }
            ["nta", "list"] => Self::NtaList,
            ["nta", "remove", n] => Self::NtaRemove(name(n)?),
            ["nta", ..] => {
                return Err(CommandError::Usage(
                    "nta add NAME [--for DURATION] | nta list | nta remove NAME",
                ));
            }
            ["reload"] => Self::Reload,
            _ => return Err(CommandError::Unknown),
        })
    }
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_path: &Path) {}

/// The client side: sends one command, prints the reply. Exit status 0 for `ok`, 1 for an error
/// reply, 3 when the daemon is not running (as unbound-control).
pub fn client(path: &Path, command: &str) -> std::process::ExitCode {
    use std::io::{Read, Write};
    let mut stream = match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lookaside ctl: cannot reach the daemon at {}: {e}", path.display());
            return std::process::ExitCode::from(3);
        }
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    if writeln!(stream, "{command}").is_err() {
        return std::process::ExitCode::from(3);
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    let (status, body) = reply.split_once('\n').unwrap_or((reply.as_str(), ""));
    print!("{body}");
    if status == "ok" {
        std::process::ExitCode::SUCCESS
    } else {
        eprintln!("lookaside ctl: {status}");
        std::process::ExitCode::FAILURE
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One line per negative trust anchor, run-time and configured alike: `ZONE N s` or
/// `ZONE configured`.
fn negative_anchor_lines(resolver: &Resolver) -> Vec<String> {
    let now = unix_now();
    resolver
        .negative_anchors()
        .list(now)
        .into_iter()
        .map(|a| match a.remaining(now) {
            Some(left) => format!("{} {left} s", a.zone),
            None => format!("{} configured", a.zone),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_into_their_kinds_and_bad_ones_say_why() {
        assert_eq!(ControlCommand::parse(" status "), Ok(ControlCommand::Status));
        assert_eq!(ControlCommand::parse("flush"), Ok(ControlCommand::Flush(None)));
        assert!(matches!(ControlCommand::parse("flush a b"), Err(CommandError::Usage(_))));
        assert_eq!(
            ControlCommand::parse("nta add example.org --for 2h"),
            Ok(ControlCommand::NtaAdd {
                zone: Name::parse("example.org").unwrap(),
                lifetime: Duration::from_secs(7200)
            })
        );
        assert!(matches!(ControlCommand::parse("nta add example.org 8d"), Err(CommandError::BadDuration(_))));
        assert!(matches!(ControlCommand::parse("nta add example.org 0"), Err(CommandError::BadDuration(_))));
        assert!(matches!(ControlCommand::parse("flush a..b"), Err(CommandError::BadName { .. })));
        assert_eq!(ControlCommand::parse("halt"), Err(CommandError::Unknown));
        assert!(ControlCommand::parse(&"flush ".repeat(300)).is_err());
    }

    #[test]
    fn durations_parse_and_overflow_is_refused() {
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("999999999999999d"), None);
        assert_eq!(parse_duration("1y"), None);
    }
}
