//! Views of the DNSSEC RDATA layouts (RFC 4034 §2–§5, RFC 5155 §3, RFC 4431), parsed from raw
//! octets. A record that does not parse is simply not usable; it never fails a whole message.

use crate::name::Name;
use crate::wire::{Record, read_name};

/// DNSKEY flag: zone key (RFC 4034 §2.1.1).
pub const FLAG_ZONE: u16 = 0x0100;
/// DNSKEY flag: revoked (RFC 5011 §3).
pub const FLAG_REVOKE: u16 = 0x0080;
/// DNSKEY flag: secure entry point.
pub const FLAG_SEP: u16 = 0x0001;

/// A DNSKEY record's RDATA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dnskey {
    /// Flags.
    pub flags: u16,
    /// Protocol; anything but 3 makes the key unusable (RFC 4034 §2.1.2).
    pub protocol: u8,
    /// Algorithm number.
    pub algorithm: u8,
    /// Public key material.
    pub public_key: Vec<u8>,
    /// The whole RDATA, for digests and key tags.
    pub rdata: Vec<u8>,
    /// The key tag, computed once at parse time (it is looked up for every RRSIG).
    tag: u16,
}

impl Dnskey {
    /// Reads DNSKEY RDATA.
    pub fn parse(rdata: &[u8]) -> Option<Self> {
        if rdata.len() < 4 {
            return None;
        }
        Some(Self {
            flags: u16::from_be_bytes([rdata[0], rdata[1]]),
            protocol: rdata[2],
            algorithm: rdata[3],
            public_key: rdata[4..].to_vec(),
            rdata: rdata.to_vec(),
            tag: key_tag(rdata),
        })
    }

    /// The key tag of RFC 4034 Appendix B.
    pub fn key_tag(&self) -> u16 {
        self.tag
    }

    /// Usable for verifying zone data: ZONE bit set, protocol 3 (RFC 4035 §5.3.1).
    pub fn is_zone_key(&self) -> bool {
        self.flags & FLAG_ZONE != 0 && self.protocol == 3
    }

    /// The REVOKE bit (RFC 5011 §2.1): a revoked key must not be used to validate.
    pub fn is_revoked(&self) -> bool {
        self.flags & FLAG_REVOKE != 0
    }
}

/// RFC 4034 Appendix B key tag over DNSKEY RDATA.
pub fn key_tag(rdata: &[u8]) -> u16 {
    // RFC 4034 Appendix B sums in an unsigned long; a 64-bit sum cannot overflow for any RDATA
    // (at most 65,535 octets), where 32 bits would for ~128 KiB of key data from a state file.
    let mut ac: u64 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 { u64::from(*b) } else { u64::from(*b) << 8 };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// A DS (or DLV, same layout) record's RDATA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ds {
    /// Key tag of the referenced DNSKEY.
    pub key_tag: u16,
    /// Its algorithm.
    pub algorithm: u8,
    /// Digest type.
    pub digest_type: u8,
    /// Digest.
    pub digest: Vec<u8>,
}

impl Ds {
    /// Reads DS or DLV RDATA.
    pub fn parse(rdata: &[u8]) -> Option<Self> {
        if rdata.len() < 5 {
            return None;
        }
        Some(Self {
            key_tag: u16::from_be_bytes([rdata[0], rdata[1]]),
            algorithm: rdata[2],
            digest_type: rdata[3],
            digest: rdata[4..].to_vec(),
        })
    }

    /// Writes the RDATA.
    pub fn to_rdata(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 + self.digest.len());
        v.extend_from_slice(&self.key_tag.to_be_bytes());
        v.push(self.algorithm);
        v.push(self.digest_type);
        v.extend_from_slice(&self.digest);
        v
    }
}

/// An RRSIG record's RDATA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rrsig {
    /// Type covered.
    pub type_covered: u16,
    /// Algorithm.
    pub algorithm: u8,
    /// Labels of the original owner name, not counting a wildcard label.
    pub labels: u8,
    /// Original TTL.
    pub original_ttl: u32,
    /// Expiration, seconds since the epoch modulo 2^32 (RFC 4034 §3.1.5).
    pub expiration: u32,
    /// Inception, same arithmetic.
    pub inception: u32,
    /// Key tag of the signing key.
    pub key_tag: u16,
    /// Signer's name (the zone apex).
    pub signer: Name,
    /// Signature octets.
    pub signature: Vec<u8>,
    /// RDATA up to and including the signer name (lower-cased), the prefix of the signed data.
    pub signed_prefix: Vec<u8>,
}

impl Rrsig {
    /// Reads RRSIG RDATA; the signer name must not be compressed (RFC 4034 §3.1.7).
    pub fn parse(rdata: &[u8]) -> Option<Self> {
        if rdata.len() < 19 {
            return None;
        }
        let (signer, end) = read_name(rdata, 18).ok()?;
        // read_name follows no pointer here: any pointer would point before offset 18 of RDATA,
        // which is not a name; refuse it.
        if end != 18 + signer.as_wire().len() {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes([rdata[i], rdata[i + 1], rdata[i + 2], rdata[i + 3]]);
        let mut signed_prefix = rdata[..18].to_vec();
        signed_prefix.extend_from_slice(&signer.to_canonical_wire());
        Some(Self {
            type_covered: u16::from_be_bytes([rdata[0], rdata[1]]),
            algorithm: rdata[2],
            labels: rdata[3],
            original_ttl: u32_at(4),
            expiration: u32_at(8),
            inception: u32_at(12),
            key_tag: u16::from_be_bytes([rdata[16], rdata[17]]),
            signer,
            signature: rdata[end..].to_vec(),
            signed_prefix,
        })
    }
}

/// A type bitmap (RFC 4034 §4.1.2), kept in wire form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeBitmap(Vec<u8>);

impl TypeBitmap {
    /// Takes the wire octets; `None` when the windows are malformed.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let mut i = 0;
        while i < raw.len() {
            let len = *raw.get(i + 1)? as usize;
            if len == 0 || len > 32 || i + 2 + len > raw.len() {
                return None;
            }
            i += 2 + len;
        }
        Some(Self(raw.to_vec()))
    }

    /// True when type `t` is listed.
    pub fn contains(&self, t: u16) -> bool {
        let (window, bit) = ((t >> 8) as u8, (t & 0xff) as usize);
        let raw = &self.0;
        let mut i = 0;
        while i + 1 < raw.len() {
            let len = raw[i + 1] as usize;
            if raw[i] == window {
                return raw.get(i + 2 + bit / 8).is_some_and(|b| b & (0x80 >> (bit % 8)) != 0);
            }
            i += 2 + len;
        }
        false
    }

    /// All listed types, ascending.
    pub fn types(&self) -> Vec<u16> {
        let raw = &self.0;
        let mut out = Vec::new();
        let mut i = 0;
        while i + 1 < raw.len() {
            let (window, len) = (raw[i] as u16, raw[i + 1] as usize);
            for (j, b) in raw[i + 2..(i + 2 + len).min(raw.len())].iter().enumerate() {
                for k in 0..8 {
                    if b & (0x80 >> k) != 0 {
                        out.push((window << 8) | (j * 8 + k) as u16);
                    }
                }
            }
            i += 2 + len;
        }
        out
    }
}

/// An NSEC record (owner taken from the record).
#[derive(Clone, Debug)]
pub struct Nsec {
    /// Owner name.
    pub owner: Name,
    /// Next owner name in canonical order.
    pub next: Name,
    /// Types at the owner.
    pub types: TypeBitmap,
}

impl Nsec {
    /// Reads an NSEC record.
    pub fn from_record(r: &Record) -> Option<Self> {
        Self::from_rdata(&r.owner, &r.rdata)
    }

    /// Reads the RDATA of an NSEC record owned by `owner`.
    pub fn from_rdata(owner: &Name, rdata: &[u8]) -> Option<Self> {
        let (next, end) = read_name(rdata, 0).ok()?;
        Some(Self { owner: owner.clone(), next, types: TypeBitmap::parse(&rdata[end..])? })
    }

    /// RFC 4035 §5.4: true when `name` sorts strictly between owner and next; the last NSEC of a
    /// zone (next = apex, which sorts first) covers everything after its owner.
    pub fn covers(&self, name: &Name) -> bool {
        if self.owner < self.next {
            self.owner < *name && *name < self.next
        } else {
            // Wrap-around: next is the zone apex; the names after owner in the zone.
            self.owner < *name && name.is_at_or_below(&self.next)
        }
    }
}

/// An NSEC3 record (RFC 5155 §3) with the hash taken from the owner's first label.
#[derive(Clone, Debug)]
pub struct Nsec3 {
    /// Owner name.
    pub owner: Name,
    /// The zone the record belongs to (owner minus its first label).
    pub zone: Name,
    /// Owner hash, decoded from base32hex.
    pub owner_hash: Vec<u8>,
    /// Hash algorithm (only 1, SHA-1, is defined).
    pub hash_algorithm: u8,
    /// Flags; bit 0 is opt-out.
    pub flags: u8,
    /// Additional iterations.
    pub iterations: u16,
    /// Salt.
    pub salt: Vec<u8>,
    /// Next hashed owner name.
    pub next_hash: Vec<u8>,
    /// Types at the original owner.
    pub types: TypeBitmap,
}

impl Nsec3 {
    /// Reads an NSEC3 record; `None` when malformed or the owner label is not base32hex.
    pub fn from_record(r: &Record) -> Option<Self> {
        Self::from_rdata(&r.owner, &r.rdata)
    }

    /// Reads the RDATA of an NSEC3 record owned by `owner`.
    pub fn from_rdata(owner: &Name, d: &[u8]) -> Option<Self> {
        if d.len() < 5 {
            return None;
        }
        let salt_len = d[4] as usize;
        let salt = d.get(5..5 + salt_len)?.to_vec();
        let hash_len = *d.get(5 + salt_len)? as usize;
        let hash_start = 6 + salt_len;
        let next_hash = d.get(hash_start..hash_start + hash_len)?.to_vec();
        let types = TypeBitmap::parse(&d[hash_start + hash_len..])?;
        let first = owner.labels().next()?;
        let owner_hash = crate::codec::base32hex_decode(first)?;
        Some(Self {
            owner: owner.clone(),
            zone: owner.parent()?,
            owner_hash,
            hash_algorithm: d[0],
            flags: d[1],
            iterations: u16::from_be_bytes([d[2], d[3]]),
            salt,
            next_hash,
            types,
        })
    }

    /// The opt-out flag (RFC 5155 §3.1.2.1).
    pub fn opt_out(&self) -> bool {
        self.flags & 1 != 0
    }

    /// True when this record's owner hash equals `hash`.
    pub fn matches(&self, hash: &[u8]) -> bool {
        self.owner_hash == hash
    }

    /// True when `hash` falls strictly between owner and next hash, with wrap-around for the
    /// last record of the chain (RFC 5155 §8.3).
    pub fn covers(&self, hash: &[u8]) -> bool {
        let (o, n) = (self.owner_hash.as_slice(), self.next_hash.as_slice());
        if o < n { o < hash && hash < n } else { hash > o || hash < n }
    }
}

/// The SOA MINIMUM field, for negative caching (RFC 2308 §5).
pub fn soa_minimum(rdata: &[u8]) -> Option<u32> {
    let tail = rdata.get(rdata.len().checked_sub(4)?..)?;
    Some(u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_tags_of_huge_key_data_do_not_overflow() {
        // ~128 KiB of 0xff overflowed a 32-bit sum (reachable from anchor and state files).
        let big = vec![0xffu8; 140_000];
        let _ = key_tag(&big);
        assert_eq!(key_tag(&[1, 1, 3, 8]), 0x0409);
    }

    #[test]
    fn bitmap_lookup() {
        // A NS SOA MX RRSIG NSEC DNSKEY (RFC 4034 §4.3 example shape) + TYPE1234.
        let mut raw = vec![0u8, 6, 0x62, 0x01, 0x00, 0x00, 0x00, 0x03, 4, 27];
        raw.extend_from_slice(&[0; 26]);
        raw.push(0x20);
        let bm = TypeBitmap::parse(&raw).unwrap();
        for t in [1, 2, 6, 15, 46, 47] {
            assert!(bm.contains(t), "type {t}");
        }
        assert!(!bm.contains(5));
        assert!(!bm.contains(43));
        assert!(bm.contains(1234));
        assert_eq!(bm.types(), vec![1, 2, 6, 15, 46, 47, 1234]);
        assert!(TypeBitmap::parse(&[0, 0]).is_none());
    }
}
