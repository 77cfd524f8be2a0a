//! Local data: a few names the operator answers from the configuration (`[[local]]`), so that
//! an internal XMPP host resolves the same for glibc and Erlang (whose `inetrc` skips
//! /etc/hosts) without a zone of its own.
//!
//! Semantics as Unbound's `local-data` in a transparent zone: a configured name answers the
//! types configured for it; another type at that name gets NOERROR with no data (so that an
//! AAAA query does not leak to the upstreams and come back with a public address); every other
//! name is resolved as usual. Local answers are never validated and never carry AD.

use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::InsecureReason;
use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::{Message, Question, Record, flags};
use std::collections::HashMap;

use crate::resolution::Resolution;

/// Local records, by owner name (compared without regard to case).
#[derive(Debug, Default, Clone)]
pub struct LocalData {
    names: HashMap<Vec<u8>, Vec<Record>>,
}

/// Why a local entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalDataError {
    /// The value does not read as data of its type.
    #[error("{name} {rtype} {value:?}: {reason}")]
    BadValue {
        /// The name.
        name: String,
        /// The type.
        rtype: String,
        /// What was given.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

impl LocalData {
    /// How many names are configured.
    pub fn names(&self) -> usize {
        self.names.len()
    }

    /// True when nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Adds one record for `name` from its presentation form. Types: A, AAAA, TXT (one string),
    /// SRV (`priority weight port target`), CNAME and PTR (a name).
    pub fn add(&mut self, name: &Name, qtype: u16, value: &str, ttl: u32) -> Result<(), LocalDataError> {
        let bad = |reason: String| LocalDataError::BadValue {
            name: name.to_string(),
            rtype: rtype::type_name(qtype),
            value: value.to_string(),
            reason,
        };
        let rdata = match qtype {
            rtype::A => value
                .parse::<std::net::Ipv4Addr>()
                .map(|a| a.octets().to_vec())
                .map_err(|_| bad("not an IPv4 address".into()))?,
            rtype::AAAA => value
                .parse::<std::net::Ipv6Addr>()
                .map(|a| a.octets().to_vec())
                .map_err(|_| bad("not an IPv6 address".into()))?,
            rtype::TXT => {
                if value.len() > 255 {
                    return Err(bad("a TXT string holds at most 255 octets".into()));
                }
                let mut d = vec![value.len() as u8];
                d.extend_from_slice(value.as_bytes());
                d
            }
            rtype::SRV => {
                let f: Vec<&str> = value.split_whitespace().collect();
                let [prio, weight, port, target] = f.as_slice() else {
                    return Err(bad("write SRV as \"PRIORITY WEIGHT PORT TARGET\"".into()));
                };
                let num =
                    |s: &str| s.parse::<u16>().map_err(|_| bad(format!("{s:?} is not a number 0–65535")));
                let target = Name::parse(target).map_err(|e| bad(e.to_string()))?;
                let mut d = Vec::new();
                for n in [num(prio)?, num(weight)?, num(port)?] {
                    d.extend_from_slice(&n.to_be_bytes());
                }
                d.extend_from_slice(target.as_wire());
                d
            }
            rtype::CNAME | rtype::PTR => {
                Name::parse(value).map_err(|e| bad(e.to_string()))?.as_wire().to_vec()
            }
            _ => return Err(bad("local data holds A, AAAA, TXT, SRV, CNAME or PTR".into())),
        };
        let record = Record { owner: name.clone(), rtype: qtype, class: 1, ttl, rdata };
        self.names.entry(key(name)).or_default().push(record);
        Ok(())
    }

    /// The local answer to `question`, when its name is configured.
    pub fn answer(&self, question: &Question) -> Option<Resolution> {
        if question.qclass != 1 {
            return None;
        }
        let records = self.names.get(&key(&question.name))?;
        let mut m =
            Message { flags: flags::QR | flags::AA, questions: vec![question.clone()], ..Default::default() };
        m.answer = records
            .iter()
            .filter(|r| r.rtype == question.qtype || question.qtype == rtype::ANY || r.rtype == rtype::CNAME)
            .map(|r| Record { owner: question.name.clone(), ..r.clone() })
            .collect();
        let reason = InsecureReason::LocalData { name: question.name.clone() };
        Some(Resolution::insecure_by_policy(m, reason))
    }
}

fn key(name: &Name) -> Vec<u8> {
    name.as_wire().to_ascii_lowercase()
}
