//! Test support: reads the zones signed by tests/zones/make-zones.sh (ldns-signzone output) and
//! answers DS/DNSKEY/data questions from them like an authoritative server would, so that the
//! validator sees real signatures over real data. Only the lookup is ours; every record and
//! signature comes from the real signer.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use lookaside_dnssec::codec::{base32hex_decode, base64_decode, hex_decode};
use lookaside_dnssec::crypto::nsec3_hash;
use lookaside_dnssec::name::Name;
use lookaside_dnssec::rdata::Nsec3;
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Message, Question, Record};

/// 2026-11-29 00:00:00 UTC: inside the fixtures' signature window (2025-01-01 … 2060-01-01).
pub const NOW: u64 = 1_795_910_400;

pub fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

pub fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

/// Parses one zone-file line as ldns writes it: `owner ttl class type rdata…`.
pub fn parse_record(line: &str) -> Option<Record> {
    let line = line.split(';').next()?.trim();
    if line.is_empty() || line.starts_with('$') {
        return None;
    }
    let tokens = tokenize(line);
    let owner = Name::parse(&tokens[0]).ok()?;
    let ttl: u32 = tokens[1].parse().ok()?;
    assert_eq!(tokens[2], "IN");
    let t = rtype::parse_type(&tokens[3]).unwrap_or_else(|| panic!("type {}", tokens[3]));
    let f: Vec<&str> = tokens[4..].iter().map(String::as_str).collect();
    let rdata = rdata_from_text(t, &f);
    Some(Record { owner, rtype: t, class: rtype::CLASS_IN, ttl, rdata })
}

fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                if quoted {
                    out.push(format!("\"{cur}"));
                    cur.clear();
                }
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn wire(n: &str) -> Vec<u8> {
    name(n).as_wire().to_vec()
}

fn bitmap(types: &[&str]) -> Vec<u8> {
    let mut windows: BTreeMap<u8, [u8; 32]> = BTreeMap::new();
    for t in types {
        let v = rtype::parse_type(t).unwrap_or_else(|| panic!("type {t}"));
        let w = windows.entry((v >> 8) as u8).or_insert([0; 32]);
        w[(v & 0xff) as usize / 8] |= 0x80 >> (v % 8);
    }
    let mut out = Vec::new();
    for (win, bits) in windows {
        let len = bits.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        out.push(win);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
    out
}

fn time(s: &str) -> u32 {
    if s.len() != 14 {
        return s.parse().unwrap();
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, mo, d, h, mi, se) = (n(0..4), n(4..6), n(6..8), n(8..10), n(10..12), n(12..14));
    lookaside_dnssec::civil_time::epoch_from_civil(y, mo, d, h, mi, se) as u32
}

pub fn rdata_from_text(t: u16, f: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    let u16b = |s: &str| s.parse::<u16>().unwrap().to_be_bytes();
    match t {
        rtype::A => v.extend(f[0].parse::<std::net::Ipv4Addr>().unwrap().octets()),
        rtype::AAAA => v.extend(f[0].parse::<std::net::Ipv6Addr>().unwrap().octets()),
        rtype::NS | rtype::CNAME | rtype::DNAME | rtype::PTR => v.extend(wire(f[0])),
        rtype::MX => {
            v.extend(u16b(f[0]));
            v.extend(wire(f[1]));
        }
        rtype::SOA => {
            v.extend(wire(f[0]));
            v.extend(wire(f[1]));
            for x in &f[2..7] {
                v.extend(x.parse::<u32>().unwrap().to_be_bytes());
            }
        }
        rtype::TXT => {
            for s in f {
                let s = s.trim_start_matches('"');
                v.push(s.len() as u8);
                v.extend(s.as_bytes());
            }
        }
        rtype::SRV => {
            for x in &f[0..3] {
                v.extend(u16b(x));
            }
            v.extend(wire(f[3]));
        }
        rtype::TLSA => {
            for x in &f[0..3] {
                v.push(x.parse().unwrap());
            }
            v.extend(hex_decode(&f[3..].concat()).unwrap());
        }
        rtype::DS | rtype::DLV => {
            v.extend(u16b(f[0]));
            v.push(f[1].parse().unwrap());
            v.push(f[2].parse().unwrap());
            v.extend(hex_decode(&f[3..].concat()).unwrap());
        }
        rtype::DNSKEY => {
            v.extend(u16b(f[0]));
            v.push(f[1].parse().unwrap());
            v.push(f[2].parse().unwrap());
            v.extend(base64_decode(&f[3..].concat()).unwrap());
        }
        rtype::RRSIG => {
            v.extend(rtype::parse_type(f[0]).unwrap().to_be_bytes());
            v.push(f[1].parse().unwrap());
            v.push(f[2].parse().unwrap());
            v.extend(f[3].parse::<u32>().unwrap().to_be_bytes());
            v.extend(time(f[4]).to_be_bytes());
            v.extend(time(f[5]).to_be_bytes());
            v.extend(u16b(f[6]));
            v.extend(wire(f[7]));
            v.extend(base64_decode(&f[8..].concat()).unwrap());
        }
        rtype::NSEC => {
            v.extend(wire(f[0]));
            v.extend(bitmap(&f[1..]));
        }
        rtype::NSEC3 | rtype::NSEC3PARAM => {
            v.push(f[0].parse().unwrap());
            v.push(f[1].parse().unwrap());
            v.extend(u16b(f[2]));
            let salt = if f[3] == "-" { Vec::new() } else { hex_decode(f[3]).unwrap() };
            v.push(salt.len() as u8);
            v.extend(salt);
            if t == rtype::NSEC3 {
                let h = base32hex_decode(f[4].as_bytes()).unwrap();
                v.push(h.len() as u8);
                v.extend(h);
                v.extend(bitmap(&f[5..]));
            }
        }
        other => panic!("no text parser for type {other}"),
    }
    v
}

/// One zone's records.
pub struct Zone {
    pub apex: Name,
    pub records: Vec<Record>,
}

/// All zones of the hierarchy, answering like authoritative servers behind a recursive resolver.
pub struct Authority {
    pub zones: Vec<Zone>,
}

impl Authority {
    pub fn load(dir: &Path) -> Self {
        let list = std::fs::read_to_string(dir.join("zones.list")).unwrap();
        let zones = list
            .lines()
            .map(|l| {
                let (apex, file) = l.split_once(' ').unwrap();
                let text = std::fs::read_to_string(dir.join(file)).unwrap();
                Zone { apex: name(apex), records: text.lines().filter_map(parse_record).collect() }
            })
            .collect();
        Self { zones }
    }

    pub fn fixtures() -> Self {
        Self::load(fixtures())
    }

    pub fn anchor_text(&self) -> String {
        std::fs::read_to_string(fixtures().join("root.ds")).unwrap()
    }

    /// The zone that answers for `qname`/`qtype`: the deepest apex at or above, except that DS
    /// at an apex is answered by the parent.
    fn zone_for(&self, qname: &Name, qtype: u16) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|z| {
                qname.is_at_or_below(&z.apex)
                    && !(qtype == rtype::DS && *qname == z.apex && !z.apex.is_root())
            })
            .max_by_key(|z| z.apex.label_count())
    }

    /// Answers like a recursive resolver would: CNAMEs are chased.
    pub fn query(&self, qname: &Name, qtype: u16) -> Message {
        let mut m = self.query_one(qname, qtype);
        let mut hops = 0;
        while qtype != rtype::CNAME && hops < 8 {
            let Some(target) = m
                .answer
                .iter()
                .rev()
                .find(|r| r.rtype == rtype::CNAME)
                .map(|r| Name::from_wire(r.rdata.clone()).unwrap())
            else {
                break;
            };
            if m.answer.iter().any(|r| r.owner == target) {
                break;
            }
            let next = self.query_one(&target, qtype);
            m.answer.extend(next.answer);
            m.authority = next.authority;
            m.flags = (m.flags & !0xf) | (next.flags & 0xf);
            hops += 1;
        }
        let mut seen: Vec<Record> = Vec::new();
        m.authority.retain(|r| {
            let dup = seen.contains(r);
            seen.push(r.clone());
            !dup
        });
        m
    }

    fn query_one(&self, qname: &Name, qtype: u16) -> Message {
        let mut m = Message {
            id: 1,
            flags: 0x8180,
            questions: vec![Question { name: qname.clone(), qtype, qclass: 1 }],
            ..Default::default()
        };
        let Some(zone) = self.zone_for(qname, qtype) else {
            m.flags |= rcode::REFUSED;
            return m;
        };
        let at = |n: &Name, t: u16| -> Vec<Record> {
            let mut out: Vec<Record> =
                zone.records.iter().filter(|r| r.owner == *n && r.rtype == t).cloned().collect();
            out.extend(
                zone.records
                    .iter()
                    .filter(|r| r.owner == *n && r.rtype == rtype::RRSIG && covered(r) == t)
                    .cloned(),
            );
            out
        };
        let exists = |n: &Name| zone.records.iter().any(|r| r.owner.is_at_or_below(n));
        let soa = at(&zone.apex, rtype::SOA);
        let direct = at(qname, qtype);
        if !direct.is_empty() {
            m.answer = direct;
            return m;
        }
        let cname = at(qname, rtype::CNAME);
        if !cname.is_empty() {
            m.answer = cname;
            return m;
        }
        let nsec3 = zone.records.iter().any(|r| r.rtype == rtype::NSEC3);
        if exists(qname) {
            // NODATA.
            m.authority = soa;
            m.authority.extend(self.denial(zone, qname, nsec3, false));
            return m;
        }
        // Wildcard at the closest encloser?
        let mut ce = qname.parent().unwrap();
        while !exists(&ce) {
            ce = ce.parent().unwrap();
        }
        let wild = ce.wildcard().unwrap();
        if exists(&wild) {
            let data = at(&wild, qtype);
            if data.is_empty() {
                m.authority = soa;
                m.authority.extend(self.denial(zone, qname, nsec3, false));
                m.authority.extend(self.denial(zone, &wild, nsec3, false));
            } else {
                m.answer = data
                    .into_iter()
                    .map(|mut r| {
                        r.owner = qname.clone();
                        r
                    })
                    .collect();
                m.authority.extend(self.denial(zone, qname, nsec3, true));
            }
            return m;
        }
        m.flags = (m.flags & !0xf) | rcode::NXDOMAIN;
        m.authority = soa;
        m.authority.extend(self.denial(zone, qname, nsec3, true));
        m.authority.extend(self.denial(zone, &wild, nsec3, true));
        m
    }

    /// The NSEC/NSEC3 records (with RRSIGs) matching or covering `n`; for NSEC3 and a name
    /// that does not exist, the closest encloser proof.
    fn denial(&self, zone: &Zone, n: &Name, nsec3: bool, missing: bool) -> Vec<Record> {
        let with_sigs = |rs: Vec<&Record>| -> Vec<Record> {
            let mut out = Vec::new();
            for r in rs {
                out.push(r.clone());
                out.extend(
                    zone.records
                        .iter()
                        .filter(|s| s.owner == r.owner && s.rtype == rtype::RRSIG && covered(s) == r.rtype)
                        .cloned(),
                );
            }
            out
        };
        if !nsec3 {
            let nsecs: Vec<&Record> = zone.records.iter().filter(|r| r.rtype == rtype::NSEC).collect();
            let exact = nsecs.iter().copied().find(|r| r.owner == *n);
            if let Some(r) = exact {
                return with_sigs(vec![r]);
            }
            let cover = nsecs.iter().copied().filter(|r| r.owner < *n).max_by(|a, b| a.owner.cmp(&b.owner));
            return with_sigs(cover.into_iter().collect());
        }
        let n3: Vec<(&Record, Nsec3)> = zone
            .records
            .iter()
            .filter(|r| r.rtype == rtype::NSEC3)
            .filter_map(|r| Some((r, Nsec3::from_record(r)?)))
            .collect();
        let (salt, iter) = (n3[0].1.salt.clone(), n3[0].1.iterations);
        let h = |x: &Name| nsec3_hash(&x.to_canonical_wire(), &salt, iter);
        let matching = |x: &Name| n3.iter().find(|(_, p)| p.matches(&h(x))).map(|(r, _)| *r);
        let covering = |x: &Name| n3.iter().find(|(_, p)| p.covers(&h(x))).map(|(r, _)| *r);
        if !missing && let Some(r) = matching(n) {
            return with_sigs(vec![r]);
        }
        // Closest encloser proof: match for the closest existing ancestor, cover for next closer.
        let mut ce = n.parent().unwrap();
        while matching(&ce).is_none() {
            ce = ce.parent().unwrap();
        }
        let mut out = vec![matching(&ce).unwrap()];
        if let Some(c) = n.child_towards(&ce).and_then(|nc| covering(&nc)) {
            out.push(c);
        }
        out.dedup_by(|a, b| a.owner == b.owner);
        with_sigs(out)
    }

    /// A fetch function for [`lookaside_dnssec::Session::validate_with`].
    pub fn fetch(&self) -> impl FnMut(&lookaside_dnssec::KeyQuery) -> Option<Message> + '_ {
        |q| Some(self.query(&q.name, q.rtype))
    }
}

pub fn covered(r: &Record) -> u16 {
    u16::from_be_bytes([r.rdata[0], r.rdata[1]])
}
