//! Records in presentation (zone-file) format, for the debugging commands (RFC 1035 §5,
//! RFC 3597 §5 for unknown types, and the DNSSEC types' own RFCs).

use std::fmt::Write;

use crate::codec::{base32hex_encode, base64_encode, hex_encode as hex};
use crate::name::Name;
use crate::rdata::{Dnskey, Ds, Nsec, Nsec3, Rrsig, TypeBitmap};
use crate::rtype::{self, type_name};
use crate::wire::{Record, read_name};

fn types(bm: &TypeBitmap) -> String {
    bm.types().iter().map(|t| type_name(*t)).collect::<Vec<_>>().join(" ")
}

fn time(t: u32) -> String {
    crate::civil_time::format_time(t)[..19].replace(['-', ' ', ':'], "")
}

fn char_strings(mut d: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while let Some((&len, rest)) = d.split_first() {
        let s = rest.get(..len as usize)?;
        let mut t = String::from("\"");
        for &c in s {
            match c {
                b'"' | b'\\' => {
                    t.push('\\');
                    t.push(c as char);
                }
                0x20..=0x7e => t.push(c as char),
                _ => {
                    let _ = write!(t, "\\{c:03}");
                }
            }
        }
        t.push('"');
        parts.push(t);
        d = &rest[len as usize..];
    }
    Some(parts.join(" "))
}

/// The RDATA of a record in presentation format; unknown or malformed RDATA as `\# len hex`.
pub fn rdata_text(r: &Record) -> String {
    known_rdata_text(r).unwrap_or_else(|| format!("\\# {} {}", r.rdata.len(), hex(&r.rdata)))
}

fn name_at(d: &[u8], at: usize) -> Option<(Name, usize)> {
    read_name(d, at).ok()
}

fn known_rdata_text(r: &Record) -> Option<String> {
    let d = &r.rdata;
    let u16_at = |i: usize| Some(u16::from_be_bytes([*d.get(i)?, *d.get(i + 1)?]));
    Some(match r.rtype {
        rtype::A if d.len() == 4 => format!("{}.{}.{}.{}", d[0], d[1], d[2], d[3]),
        rtype::AAAA if d.len() == 16 => {
            let a: [u8; 16] = d[..].try_into().ok()?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        rtype::NS | rtype::CNAME | rtype::DNAME | rtype::PTR => name_at(d, 0)?.0.to_string(),
        rtype::MX => format!("{} {}", u16_at(0)?, name_at(d, 2)?.0),
        rtype::SRV => format!("{} {} {} {}", u16_at(0)?, u16_at(2)?, u16_at(4)?, name_at(d, 6)?.0),
        rtype::SOA => {
            let (m, i) = name_at(d, 0)?;
            let (rname, i) = name_at(d, i)?;
            let n: Vec<u32> = (0..5)
                .map(|k| {
                    d.get(i + 4 * k..i + 4 * k + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                })
                .collect::<Option<_>>()?;
            format!("{m} {rname} {} {} {} {} {}", n[0], n[1], n[2], n[3], n[4])
        }
        rtype::TXT => char_strings(d)?,
        rtype::TLSA if d.len() >= 3 => format!("{} {} {} {}", d[0], d[1], d[2], hex(&d[3..])),
        rtype::DS | rtype::DLV | rtype::CDS => {
            let ds = Ds::parse(d)?;
            format!("{} {} {} {}", ds.key_tag, ds.algorithm, ds.digest_type, hex(&ds.digest))
        }
        rtype::DNSKEY | rtype::CDNSKEY => {
            let k = Dnskey::parse(d)?;
            format!(
                "{} {} {} {} ; key tag {}",
                k.flags,
                k.protocol,
                k.algorithm,
                base64_encode(&k.public_key),
                k.key_tag()
            )
        }
        rtype::RRSIG => {
            let s = Rrsig::parse(d)?;
            format!(
                "{} {} {} {} {} {} {} {} {}",
                type_name(s.type_covered),
                s.algorithm,
                s.labels,
                s.original_ttl,
                time(s.expiration),
                time(s.inception),
                s.key_tag,
                s.signer,
                base64_encode(&s.signature)
            )
        }
        rtype::NSEC => {
            let n = Nsec::from_record(r)?;
            format!("{} {}", n.next, types(&n.types))
        }
        rtype::NSEC3 => {
            let n = Nsec3::from_record(r)?;
            let salt = if n.salt.is_empty() { "-".into() } else { hex(&n.salt) };
            format!(
                "{} {} {} {} {} {}",
                n.hash_algorithm,
                n.flags,
                n.iterations,
                salt,
                base32hex_encode(&n.next_hash).to_uppercase(),
                types(&n.types)
            )
        }
        _ => return None,
    })
}

/// A whole record: `owner TTL CLASS TYPE RDATA`.
pub fn record_text(r: &Record) -> String {
    let class = if r.class == rtype::CLASS_IN { "IN".to_string() } else { format!("CLASS{}", r.class) };
    format!("{}\t{}\t{}\t{}\t{}", r.owner, r.ttl, class, type_name(r.rtype), rdata_text(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_print_in_zone_file_format() {
        let r = Record {
            owner: Name::parse("_xmpp-client._tcp.yax.im.").unwrap(),
            rtype: rtype::SRV,
            class: 1,
            ttl: 300,
            rdata: [&[0u8, 5, 0, 0, 0x14, 0x66][..], Name::parse("xmpp.yax.im.").unwrap().as_wire()].concat(),
        };
        assert_eq!(record_text(&r), "_xmpp-client._tcp.yax.im.\t300\tIN\tSRV\t5 0 5222 xmpp.yax.im.");
        let odd = Record { owner: Name::root(), rtype: 65280, class: 1, ttl: 0, rdata: vec![1, 2] };
        assert_eq!(rdata_text(&odd), "\\# 2 0102");
    }
}
