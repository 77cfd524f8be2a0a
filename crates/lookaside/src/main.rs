//! The `lookaside` command: parses the command line and hands over to the library's parts.

use std::process::ExitCode;

use clap::Parser;

use lookaside::cli::{Cli, Command, check_config, lookup_tool};
use lookaside::daemon::serve;
use lookaside::{config, control, dist, tools};

/// jemalloc, not glibc's malloc: cached answers are small long-lived allocations made among a
/// validation's many short-lived ones, which glibc left scattered (resident memory per cached
/// name 2.3 times the cache's own; README "Performance").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::CheckConfig { file } => check_config(&file),
        Command::CheckZone { common, zone, ns, ds, warn_days, json } => {
            lookaside::cli::check_zone(&common, &zone, &ns, ds.as_deref(), warn_days, json)
        }
        Command::Probe { common, json } => lookaside::cli::probe(&common, json),
        Command::DlvRecord { common, zone, registry, key_file, json } => {
            lookaside::cli::dlv_record(&common, &zone, registry.as_deref(), key_file.as_deref(), json)
        }
        Command::Dist { dir } => match dist::write_all(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lookaside: {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
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
        Command::Xmpp { common, domain, server, tls, new_cert, json } => {
            lookaside::cli::xmpp(&common, &domain, server.as_deref(), tls, new_cert.as_deref(), json)
        }
    }
}
