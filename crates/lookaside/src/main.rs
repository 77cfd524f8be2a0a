//! `lookaside`: a validating DNS stub resolver with DNSSEC look-aside validation.
//!
//! [`cli`] holds the command line and the one-shot tools, [`daemon`] runs `serve`, [`listener`]
//! answers clients, [`control`] serves `lookaside ctl`, [`config`] reads the configuration.

mod access;
mod cli;
mod config;
mod control;
mod daemon;
mod defaults;
mod dist;
mod listener;
mod privileges;
mod tcp_table;
mod tools;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, check_config, lookup_tool, run_tool};
use crate::daemon::serve;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::CheckConfig { file } => check_config(&file),
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
