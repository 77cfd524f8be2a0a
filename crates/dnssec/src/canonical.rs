//! RFC 4034 §6 canonical form and the data an RRSIG signs (RFC 4034 §3.1.8.1), and grouping of
//! records into RRsets with their signatures.

use crate::name::Name;
use crate::rdata::Rrsig;
use crate::rtype::{self, Field};
use crate::wire::{Record, read_name};

/// An RRset: records sharing owner, type and class, with the RRSIGs that cover it.
#[derive(Clone, Debug)]
pub struct Rrset {
    /// Owner name (spelling of the first record).
    pub owner: Name,
    /// Type.
    pub rtype: u16,
    /// Class.
    pub class: u16,
    /// Smallest TTL of the members.
    pub ttl: u32,
    /// RDATA of the members, as received.
    pub rdatas: Vec<Vec<u8>>,
    /// RRSIGs over this RRset that parsed.
    pub rrsigs: Vec<Rrsig>,
}

impl Rrset {
    /// The signers named by this RRset's RRSIGs, deduplicated.
    pub fn signers(&self) -> Vec<Name> {
        let mut out: Vec<Name> = Vec::new();
        for s in &self.rrsigs {
            if !out.contains(&s.signer) {
                out.push(s.signer.clone());
            }
        }
        out
    }
}

/// Groups records into RRsets, attaching RRSIGs by owner and type covered. RRSIGs that cover
/// nothing present are dropped; unparsable RRSIGs are ignored.
pub fn group(records: &[Record]) -> Vec<Rrset> {
    let mut sets: Vec<Rrset> = Vec::new();
    for r in records.iter().filter(|r| r.rtype != rtype::RRSIG) {
        match sets.iter_mut().find(|s| s.rtype == r.rtype && s.class == r.class && s.owner == r.owner) {
            Some(s) => {
                s.ttl = s.ttl.min(r.ttl);
                s.rdatas.push(r.rdata.clone());
            }
            None => sets.push(Rrset {
                owner: r.owner.clone(),
                rtype: r.rtype,
                class: r.class,
                ttl: r.ttl,
                rdatas: vec![r.rdata.clone()],
                rrsigs: Vec::new(),
            }),
        }
    }
    for r in records.iter().filter(|r| r.rtype == rtype::RRSIG) {
        let Some(sig) = Rrsig::parse(&r.rdata) else { continue };
        if let Some(s) =
            sets.iter_mut().find(|s| s.rtype == sig.type_covered && s.class == r.class && s.owner == r.owner)
        {
            s.rrsigs.push(sig);
        }
    }
    sets
}

/// RDATA in canonical form: embedded names of the RFC 4034 §6.2 types lower-cased (RFC 6840
/// §5.1: not NSEC's next name). RDATA of other types is returned unchanged.
pub fn canonical_rdata(rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut out = rdata.to_vec();
    if !rtype::lowercases_rdata_names(rtype) {
        return out;
    }
    if rtype == rtype::A6 {
        // RFC 2874: prefix length, address suffix, then the prefix name when the length > 0.
        if let Some(&plen) = rdata.first() {
            let start = 1 + (128usize.saturating_sub(plen as usize)).div_ceil(8);
            if plen > 0 && start < out.len() {
                lowercase_name_at(&mut out, start);
            }
        }
        return out;
    }
    let Some(layout) = rtype::name_layout(rtype) else { return out };
    let mut i = 0;
    for field in layout {
        match *field {
            Field::Name => match lowercase_name_at(&mut out, i) {
                Some(next) => i = next,
                None => return out,
            },
            Field::Fixed(n) => i += n,
            Field::CharString => match out.get(i) {
                Some(&n) => i += 1 + n as usize,
                None => return out,
            },
        }
    }
    out
}

/// Lower-cases the uncompressed name at `start`; returns the offset after it.
fn lowercase_name_at(buf: &mut [u8], start: usize) -> Option<usize> {
    let (name, end) = read_name(buf, start).ok()?;
    if end - start != name.as_wire().len() {
        return None; // compressed: the record was kept raw and will not verify anyway
    }
    buf[start..end].make_ascii_lowercase();
    Some(end)
}

/// The owner name as signed: lower-cased, and for a wildcard expansion (RRSIG labels fewer than
/// the owner's) `*.` plus the rightmost `labels` labels (RFC 4035 §5.3.2). `None` when the RRSIG
/// labels field exceeds the owner's label count (RFC 4035 §5.3.1).
pub fn signed_owner(owner: &Name, sig_labels: u8) -> Option<Name> {
    let count = owner.rrsig_label_count();
    let labels = sig_labels as usize;
    if labels > count {
        return None;
    }
    if labels == count {
        return Some(owner.to_lowercase());
    }
    owner.trim_to(labels).wildcard().map(|n| n.to_lowercase())
}

/// The octets an RRSIG signs over an RRset (RFC 4034 §3.1.8.1): the RRSIG RDATA without the
/// signature, then each RR in canonical form and order, duplicates removed, with the original TTL.
pub fn signed_data(set: &Rrset, sig: &Rrsig) -> Option<Vec<u8>> {
    let owner = signed_owner(&set.owner, sig.labels)?;
    let mut rdatas: Vec<Vec<u8>> = set.rdatas.iter().map(|r| canonical_rdata(set.rtype, r)).collect();
    // RFC 4034 §6.3: order by RDATA as left-justified octet strings; equal RRs appear once.
    rdatas.sort();
    rdatas.dedup();
    let owner = owner.as_wire();
    let mut data = Vec::with_capacity(
        sig.signed_prefix.len() + rdatas.iter().map(|r| r.len() + owner.len() + 10).sum::<usize>(),
    );
    data.extend_from_slice(&sig.signed_prefix);
    for r in &rdatas {
        data.extend_from_slice(owner);
        data.extend_from_slice(&set.rtype.to_be_bytes());
        data.extend_from_slice(&set.class.to_be_bytes());
        data.extend_from_slice(&sig.original_ttl.to_be_bytes());
        data.extend_from_slice(&(r.len() as u16).to_be_bytes());
        data.extend_from_slice(r);
    }
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_listed_types_are_lowercased() {
        let mx = [&[0u8, 10][..], b"\x04MAIL\x07Example\x00"].concat();
        assert_eq!(canonical_rdata(rtype::MX, &mx), [&[0u8, 10][..], b"\x04mail\x07example\x00"].concat());
        let dname = b"\x03Foo\x00".to_vec();
        assert_eq!(canonical_rdata(rtype::DNAME, &dname), b"\x03foo\x00".to_vec());
        // RFC 6840 §5.1: the NSEC next name keeps its case.
        let nsec = b"\x03Foo\x00\x00\x01\x40".to_vec();
        assert_eq!(canonical_rdata(rtype::NSEC, &nsec), nsec);
        // TXT is opaque.
        let txt = b"\x03ABC".to_vec();
        assert_eq!(canonical_rdata(rtype::TXT, &txt), txt);
        let soa = b"\x02NS\x00\x02HM\x00AAAABBBBCCCCDDDDEEEE".to_vec();
        assert_eq!(canonical_rdata(rtype::SOA, &soa), b"\x02ns\x00\x02hm\x00AAAABBBBCCCCDDDDEEEE".to_vec());
    }

    #[test]
    fn wildcard_owner_is_reconstructed() {
        let owner = Name::parse("a.b.Example.").unwrap();
        assert_eq!(signed_owner(&owner, 2).unwrap().to_string(), "*.b.example.");
        assert_eq!(signed_owner(&owner, 1).unwrap().to_string(), "*.example.");
        assert_eq!(signed_owner(&owner, 3).unwrap().to_string(), "a.b.example.");
        assert!(signed_owner(&owner, 4).is_none());
    }
}
