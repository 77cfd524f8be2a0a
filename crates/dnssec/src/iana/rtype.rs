//! Record type, class and rcode numbers (IANA DNS parameters), with their mnemonics.
//!
//! Types are plain `u16`s so that unknown types survive untouched (RFC 3597).

#![allow(missing_docs)] // each constant is its IANA mnemonic

pub const A: u16 = 1;
pub const NS: u16 = 2;
pub const MD: u16 = 3;
pub const MF: u16 = 4;
pub const CNAME: u16 = 5;
pub const SOA: u16 = 6;
pub const MB: u16 = 7;
pub const MG: u16 = 8;
pub const MR: u16 = 9;
pub const PTR: u16 = 12;
pub const HINFO: u16 = 13;
pub const MINFO: u16 = 14;
pub const MX: u16 = 15;
pub const TXT: u16 = 16;
pub const RP: u16 = 17;
pub const AFSDB: u16 = 18;
pub const RT: u16 = 21;
pub const SIG: u16 = 24;
pub const PX: u16 = 26;
pub const AAAA: u16 = 28;
pub const NXT: u16 = 30;
pub const SRV: u16 = 33;
pub const NAPTR: u16 = 35;
pub const KX: u16 = 36;
pub const A6: u16 = 38;
pub const DNAME: u16 = 39;
pub const OPT: u16 = 41;
pub const DS: u16 = 43;
pub const RRSIG: u16 = 46;
pub const NSEC: u16 = 47;
pub const DNSKEY: u16 = 48;
pub const NSEC3: u16 = 50;
pub const NSEC3PARAM: u16 = 51;
pub const TLSA: u16 = 52;
pub const CDS: u16 = 59;
pub const CDNSKEY: u16 = 60;
pub const SVCB: u16 = 64;
pub const HTTPS: u16 = 65;
pub const ANY: u16 = 255;
pub const CAA: u16 = 257;
/// DNSSEC Look-aside Validation record (RFC 4431), DS layout.
pub const DLV: u16 = 32769;

/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Class CH (CHAOS).
pub const CLASS_CH: u16 = 3;

/// Response codes (RFC 1035 §4.1.1, RFC 6895).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    /// Bad EDNS version (RFC 6891 §6.1.3), a 12-bit rcode.
    pub const BADVERS: u16 = 16;

    /// The mnemonic of a response code, or `RCODE` for others.
    pub fn name(rc: u16) -> &'static str {
        match rc {
            NOERROR => "NOERROR",
            FORMERR => "FORMERR",
            SERVFAIL => "SERVFAIL",
            NXDOMAIN => "NXDOMAIN",
            NOTIMP => "NOTIMP",
            REFUSED => "REFUSED",
            BADVERS => "BADVERS",
            _ => "RCODE",
        }
    }
}

const TABLE: &[(u16, &str)] = &[
    (A, "A"),
    (NS, "NS"),
    (CNAME, "CNAME"),
    (SOA, "SOA"),
    (PTR, "PTR"),
    (HINFO, "HINFO"),
    (MX, "MX"),
    (TXT, "TXT"),
    (RP, "RP"),
    (AFSDB, "AFSDB"),
    (AAAA, "AAAA"),
    (SRV, "SRV"),
    (NAPTR, "NAPTR"),
    (DNAME, "DNAME"),
    (OPT, "OPT"),
    (DS, "DS"),
    (RRSIG, "RRSIG"),
    (NSEC, "NSEC"),
    (DNSKEY, "DNSKEY"),
    (NSEC3, "NSEC3"),
    (NSEC3PARAM, "NSEC3PARAM"),
    (TLSA, "TLSA"),
    (CDS, "CDS"),
    (CDNSKEY, "CDNSKEY"),
    (SVCB, "SVCB"),
    (HTTPS, "HTTPS"),
    (ANY, "ANY"),
    (CAA, "CAA"),
    (DLV, "DLV"),
    (KX, "KX"),
    (RT, "RT"),
    (PX, "PX"),
];

/// The mnemonic of a type, or `TYPEnnn` (RFC 3597 §5).
pub fn type_name(t: u16) -> String {
    TABLE.iter().find(|(v, _)| *v == t).map(|(_, n)| (*n).to_string()).unwrap_or_else(|| format!("TYPE{t}"))
}

/// Parses a mnemonic or `TYPEnnn`, case-insensitively.
pub fn parse_type(s: &str) -> Option<u16> {
    let upper = s.to_ascii_uppercase();
    if let Some(num) = upper.strip_prefix("TYPE") {
        return num.parse().ok();
    }
    TABLE.iter().find(|(_, n)| *n == upper).map(|(v, _)| *v)
}

/// How names are embedded in a type's RDATA, for decompression and RFC 4034 §6.2 lower-casing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    /// A domain name.
    Name,
    /// A fixed number of octets.
    Fixed(usize),
    /// A length-prefixed character string.
    CharString,
}

/// The layout of RDATA up to the last embedded name, for the types that embed names; `None` for
/// types whose RDATA holds no names (or whose layout we do not know: those stay opaque).
pub(crate) fn name_layout(t: u16) -> Option<&'static [Field]> {
    use Field::*;
    Some(match t {
        NS | MD | MF | CNAME | MB | MG | MR | PTR | DNAME => &[Name],
        SOA => &[Name, Name],
        MINFO | RP => &[Name, Name],
        MX | AFSDB | RT | KX => &[Fixed(2), Name],
        PX => &[Fixed(2), Name, Name],
        SRV => &[Fixed(6), Name],
        NAPTR => &[Fixed(4), CharString, CharString, CharString, Name],
        NXT | NSEC => &[Name],
        SIG | RRSIG => &[Fixed(18), Name],
        _ => return None,
    })
}

/// Types whose embedded names RFC 4034 §6.2 (as corrected by RFC 6840 §5.1: not NSEC) lower-cases
/// in canonical form.
pub(crate) fn lowercases_rdata_names(t: u16) -> bool {
    matches!(
        t,
        NS | MD
            | MF
            | CNAME
            | SOA
            | MB
            | MG
            | MR
            | PTR
            | MINFO
            | MX
            | RP
            | AFSDB
            | RT
            | SIG
            | PX
            | NXT
            | NAPTR
            | KX
            | SRV
            | DNAME
            | A6
            | RRSIG
    )
}

/// Types whose RDATA names may be compressed on the wire: RFC 1035's own types (RFC 3597 §4), plus
/// the later ones some servers compress anyway; decompressing a name with no pointer changes
/// nothing. RRSIG and NSEC are excluded: RFC 4034 forbids compressing them.
pub(crate) fn may_compress(t: u16) -> bool {
    matches!(
        t,
        NS | MD
            | MF
            | CNAME
            | SOA
            | MB
            | MG
            | MR
            | PTR
            | MINFO
            | MX
            | RP
            | AFSDB
            | RT
            | PX
            | SRV
            | NAPTR
            | KX
            | DNAME
    )
}
