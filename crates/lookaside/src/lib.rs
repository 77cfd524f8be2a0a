//! `lookaside`: a validating DNS stub resolver with DNSSEC look-aside validation.
//!
//! The daemon and its tools as a library, so that `src/main.rs` stays a dispatcher and the fuzz
//! targets reach the configuration and control parsers.
//!
//! [`cli`] holds the command line and the one-shot tools, [`daemon`] runs `serve`, [`listener`]
//! answers clients, [`control`] serves `lookaside ctl`, [`config`] reads the configuration.

pub mod access;
pub mod check_zone;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dane;
pub mod defaults;
pub mod dist;
#[doc(hidden)]
pub mod fuzzing;
pub mod listener;
pub mod privileges;
pub mod served_chain;
pub mod tcp_table;
pub mod tools;
#[cfg(target_os = "linux")]
pub mod udp_batch;
pub mod watch;
