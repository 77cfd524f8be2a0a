//! DANE for XMPP: which TLSA record (RFC 6698) matches which certificate of a chain, and whether
//! that match authenticates the server under the rules of its certificate usage (RFC 7671 §5,
//! RFC 7673 for SRV services). Pure: the chain, the records, the names and the time come in;
//! nothing is fetched here.
//!
//! The usages, as RFC 7671 operates them:
//! - 3 DANE-EE: the leaf matches; nothing else is checked (no names, no expiry, §5.1).
//! - 2 DANE-TA: a CA certificate the server sends matches; the leaf must chain to it and carry
//!   one of the reference identifiers (§5.2; RFC 7673 §4 for the names). A TA given only as a
//!   bare public key, not sent by the server, is not checked (servers should send it, §8).
//! - 1 PKIX-EE and 0 PKIX-TA: the match (leaf, resp. a CA of the chain) and an ordinary PKIX
//!   validation against the CA store, with the names.

use std::sync::Arc;
use std::time::Duration;

use lookaside_dnssec::codec::hex_encode;
use rustls::RootCertStore;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Most certificates in one served chain or file that are looked at: real chains have 2–4; a
/// server that sends hundreds gets the first ones checked, not unbounded work.
pub const MAX_CHAIN_CERTIFICATES: usize = 16;

/// One TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    /// Certificate usage, 0–3.
    pub usage: u8,
    /// Selector: 0 the whole certificate, 1 its SubjectPublicKeyInfo.
    pub selector: u8,
    /// Matching type: 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// Certificate association data.
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Reads TLSA RDATA; `None` when shorter than its fixed part.
    pub fn parse(rdata: &[u8]) -> Option<Self> {
        let (&[usage, selector, matching], data) = rdata.split_first_chunk::<3>()?;
        Some(Self { usage, selector, matching, data: data.to_vec() })
    }

    /// The RDATA in presentation form, `3 1 1 ABCD…`.
    pub fn text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching,
            hex_encode(&self.data).to_uppercase()
        )
    }

    /// What the record asks for, in words; `None` when it names a usage, selector or matching
    /// type RFC 6698 does not define (such records are unusable, RFC 7671 §4).
    pub fn unusable_reason(&self) -> Option<String> {
        if self.usage > 3 {
            return Some(format!("certificate usage {} is not defined", self.usage));
        }
        if self.selector > 1 {
            return Some(format!("selector {} is not defined", self.selector));
        }
        match (self.matching, self.data.len()) {
            (0, _) => None,
            (1, 32) | (2, 64) => None,
            (1 | 2, n) => Some(format!("a matching type {} digest cannot be {n} octets long", self.matching)),
            (m, _) => Some(format!("matching type {m} is not defined")),
        }
    }

    /// True when `cert` is what this record describes (selector and matching type applied).
    pub fn matches(&self, cert: &Certificate) -> bool {
        if self.unusable_reason().is_some() {
            return false;
        }
        let selected = if self.selector == 0 { &cert.der[..] } else { &cert.spki[..] };
        match self.matching {
            0 => selected == self.data.as_slice(),
            1 => ring::digest::digest(&ring::digest::SHA256, selected).as_ref() == self.data.as_slice(),
            _ => ring::digest::digest(&ring::digest::SHA512, selected).as_ref() == self.data.as_slice(),
        }
    }
}

/// What one certificate says, as far as DANE and XMPP care.
#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    /// Position in the chain: 0 is the server's own (leaf) certificate.
    pub position: usize,
    /// Subject, in the usual one-line form.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// DNS names (subjectAltName dNSName; the subject's CN only when there is no SAN).
    pub names: Vec<String>,
    /// Not valid before (seconds since the epoch).
    pub not_before: i64,
    /// Not valid after (seconds since the epoch).
    pub not_after: i64,
    /// Extended key usage: `None` when the extension is absent (any use), else the purposes.
    pub extended_key_usage: Option<Vec<String>>,
    /// A CA certificate (basicConstraints cA).
    pub is_ca: bool,
    /// The DER bytes.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// The SubjectPublicKeyInfo's DER bytes.
    #[serde(skip)]
    pub spki: Vec<u8>,
}

impl Certificate {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8], position: usize) -> Result<Self, String> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| format!("certificate {position} is not valid X.509: {e}"))?;
        let mut names: Vec<String> = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                if let GeneralName::DNSName(d) = n {
                    names.push(d.to_ascii_lowercase());
                }
            }
        }
        if names.is_empty() && !cert.is_ca() {
            // RFC 6125 §6.4.4: the CN only when no subjectAltName is present (and a CA's CN
            // is not a host name).
            names.extend(
                cert.subject().iter_common_name().filter_map(|cn| cn.as_str().ok()).map(str::to_lowercase),
            );
        }
        let extended_key_usage = match cert.extended_key_usage() {
            Ok(Some(eku)) => {
                let e = &eku.value;
                let mut v = Vec::new();
                for (set, word) in
                    [(e.any, "any"), (e.server_auth, "serverAuth"), (e.client_auth, "clientAuth")]
                {
                    if set {
                        v.push(word.to_string());
                    }
                }
                v.extend(e.other.iter().map(|o| o.to_id_string()));
                Some(v)
            }
            _ => None,
        };
        Ok(Self {
            position,
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            names,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            extended_key_usage,
            is_ca: cert.is_ca(),
            der: der.to_vec(),
            spki: cert.public_key().raw.to_vec(),
        })
    }

    /// Reads every certificate of a PEM text (a fullchain file: leaf first).
    pub fn chain_from_pem(text: &[u8]) -> Result<Vec<Self>, String> {
        use rustls::pki_types::pem::PemObject;
        let mut chain = Vec::new();
        for (i, der) in CertificateDer::pem_slice_iter(text).enumerate().take(MAX_CHAIN_CERTIFICATES) {
            let der = der.map_err(|e| format!("PEM block {i}: {e}"))?;
            chain.push(Self::from_der(&der, i)?);
        }
        if chain.is_empty() {
            return Err("no PEM CERTIFICATE block found".into());
        }
        Ok(chain)
    }

    /// True when one of the certificate's names matches `reference` (RFC 6125 §6.4: a wildcard
    /// only as the whole left-most label, standing for exactly one label).
    pub fn has_name(&self, reference: &str) -> bool {
        let reference = reference.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|n| {
            let n = n.trim_end_matches('.');
            match n.strip_prefix("*.") {
                Some(rest) => {
                    reference.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail == rest)
                }
                None => n == reference,
            }
        })
    }

    /// Whether the certificate may authenticate a TLS server (RFC 5280 §4.2.1.12).
    pub fn allows_server_auth(&self) -> bool {
        self.extended_key_usage.as_ref().is_none_or(|e| e.iter().any(|p| p == "serverAuth" || p == "any"))
    }

    /// What the extended key usage means for XMPP: servers must allow serverAuth (RFC 5280
    /// §4.2.1.12); a server-to-server certificate without clientAuth is refused by peers that
    /// check it on the server's outgoing connections. `None` when there is nothing to say.
    pub fn eku_problem(&self, server_to_server: bool) -> Option<String> {
        let eku = self.extended_key_usage.as_ref()?;
        if !self.allows_server_auth() {
            return Some(
                "the extended key usage does not allow TLS server authentication: clients refuse it".into(),
            );
        }
        let client = eku.iter().any(|p| p == "clientAuth" || p == "any");
        (server_to_server && !client).then(|| {
            "the extended key usage lacks clientAuth: peers that check it refuse this server's outgoing s2s connections".into()
        })
    }

    /// "expires in N days" or "expired N days ago", for reports.
    pub fn expiry_words(&self, now: u64) -> String {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let left = self.not_after.saturating_sub(now);
        if now < self.not_before {
            format!("not valid yet (for another {} days)", self.not_before.saturating_sub(now) / 86_400)
        } else if left < 0 {
            format!("expired {} days ago", left.unsigned_abs() / 86_400)
        } else {
            format!("expires in {} days", left / 86_400)
        }
    }
}

/// How one TLSA record fared against a chain.
#[derive(Debug, Clone, Serialize)]
pub struct RecordOutcome {
    /// The record, `3 1 1 …`.
    pub record: String,
    /// The chain position it matched, if any.
    pub matched: Option<usize>,
    /// True when the record authenticates the server (match plus what its usage requires).
    pub authenticates: bool,
    /// In words.
    pub detail: String,
}

/// Checks every record against `chain`. `names` are the reference identifiers (RFC 7673 §4:
/// the service domain, and the SRV target when the SRV answer was secure); `roots` the CA store
/// for the PKIX usages (0, 1), `None` when it could not be read.
pub fn evaluate(
    records: &[Tlsa],
    chain: &[Certificate],
    names: &[String],
    roots: Option<&Arc<RootCertStore>>,
    now: u64,
) -> Vec<RecordOutcome> {
    records.iter().map(|r| evaluate_one(r, chain, names, roots, now)).collect()
}

fn evaluate_one(
    r: &Tlsa,
    chain: &[Certificate],
    names: &[String],
    roots: Option<&Arc<RootCertStore>>,
    now: u64,
) -> RecordOutcome {
    let outcome = |matched, authenticates, detail: String| RecordOutcome {
        record: r.text(),
        matched,
        authenticates,
        detail,
    };
    if let Some(why) = r.unusable_reason() {
        return outcome(None, false, format!("unusable: {why}"));
    }
    let Some(leaf) = chain.first() else {
        return outcome(None, false, "no certificate to match".into());
    };
    // End-entity usages look at the leaf only; trust-anchor usages at the certificates above it.
    let candidates: &[Certificate] = if r.usage % 2 == 1 { &chain[..1] } else { &chain[1..] };
    let Some(hit) = candidates.iter().find(|c| r.matches(c)) else {
        let what = match r.usage {
            3 | 1 => "the end-entity certificate".to_string(),
            _ if chain.len() < 2 => "any CA certificate: the server sent none besides its own".into(),
            _ => format!("any of the {} CA certificate(s) sent", chain.len() - 1),
        };
        return outcome(None, false, format!("does not match {what}"));
    };
    let at = hit.position;
    // What the match must be completed with: nothing for DANE-EE; a path from the leaf to the
    // matched certificate for DANE-TA; a path to the CA store for the PKIX usages.
    let (kind, roots, validated) = match r.usage {
        3 => {
            let words =
                "DANE-EE: matches the end-entity certificate (names and dates not checked, RFC 7671 §5.1)";
            return outcome(Some(at), true, words.into());
        }
        2 => {
            let mut anchor = RootCertStore::empty();
            if anchor.add(CertificateDer::from(hit.der.clone())).is_err() {
                let words = format!("DANE-TA: certificate {at} matches but cannot serve as a trust anchor");
                return outcome(Some(at), false, words);
            }
            ("DANE-TA", Arc::new(anchor), "the end-entity certificate chains to it")
        }
        _ => {
            let kind = if r.usage == 1 { "PKIX-EE" } else { "PKIX-TA" };
            let Some(roots) = roots else {
                let words = format!(
                    "{kind}: certificate {at} matches, but no CA store could be read for the PKIX check"
                );
                return outcome(Some(at), false, words);
            };
            (kind, Arc::clone(roots), "the chain validates against the CA store")
        }
    };
    match verify_path(leaf, &chain[1..], &roots, names, now) {
        Ok(name) => {
            outcome(Some(at), true, format!("{kind}: certificate {at} matches and {validated} for {name}"))
        }
        Err(why) => outcome(Some(at), false, format!("{kind}: certificate {at} matches, but {why}")),
    }
}

/// PKIX validation of a served chain against `roots` for any of `names`, as a client that does
/// not use DANE would do it; the name it is valid for, or why not.
pub fn pkix_check(
    chain: &[Certificate],
    names: &[String],
    roots: &Arc<RootCertStore>,
    now: u64,
) -> Result<String, String> {
    let (leaf, rest) = chain.split_first().ok_or("no certificate")?;
    verify_path(leaf, rest, roots, names, now)
}

/// webpki's path validation of `leaf` to one of `roots` for any of `names`; the name it
/// validated for, or why not.
fn verify_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &Arc<RootCertStore>,
    names: &[String],
    now: u64,
) -> Result<String, String> {
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::clone(roots),
        lookaside_stub::tls::provider(),
    )
    .build()
    .map_err(|e| format!("the chain cannot be checked: {e}"))?;
    let end = CertificateDer::from(leaf.der.clone());
    let inter: Vec<CertificateDer<'static>> =
        intermediates.iter().map(|c| CertificateDer::from(c.der.clone())).collect();
    let at = UnixTime::since_unix_epoch(Duration::from_secs(now));
    let mut last = String::from("no reference identifier to check the names against");
    for name in names {
        let Ok(server) = ServerName::try_from(name.trim_end_matches('.').to_string()) else { continue };
        match verifier.verify_server_cert(&end, &inter, &server, &[], at) {
            Ok(_) => return Ok(name.trim_end_matches('.').to_string()),
            Err(e) => last = lookaside_stub::tls::failure_reason(&std::io::Error::other(e)),
        }
    }
    Err(format!("the path check failed: {last}"))
}

/// TLSA records that would authenticate `chain` (RFC 7671 §5: 3 1 1 for the server's key, and
/// 2 1 1 for each CA key sent above it), in zone-file form at `owner` with `ttl`.
pub fn records_for(chain: &[Certificate], owner: &str, ttl: u32) -> Vec<String> {
    let mut out = Vec::new();
    for c in chain {
        let usage = if c.position == 0 { 3 } else { 2 };
        let digest = ring::digest::digest(&ring::digest::SHA256, &c.spki);
        out.push(format!("{owner} {ttl} IN TLSA {usage} 1 1 {}", hex_encode(digest.as_ref()).to_uppercase()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlsa_records_that_rfc_6698_does_not_define_are_unusable() {
        let t = |u, s, m, n| Tlsa { usage: u, selector: s, matching: m, data: vec![0; n] };
        assert_eq!(t(3, 1, 1, 32).unusable_reason(), None);
        assert_eq!(t(2, 0, 2, 64).unusable_reason(), None);
        assert!(t(4, 1, 1, 32).unusable_reason().unwrap().contains("usage 4"));
        assert!(t(3, 2, 1, 32).unusable_reason().unwrap().contains("selector 2"));
        assert!(t(3, 1, 3, 32).unusable_reason().unwrap().contains("matching type 3"));
        assert!(t(3, 1, 1, 20).unusable_reason().unwrap().contains("20 octets"));
        assert_eq!(Tlsa::parse(&[3, 1]), None);
        assert_eq!(Tlsa::parse(&[3, 1, 1, 0xab]).unwrap().text(), "3 1 1 AB");
    }

    #[test]
    fn wildcards_stand_for_one_whole_label() {
        let c = Certificate {
            position: 0,
            subject: String::new(),
            issuer: String::new(),
            names: vec!["*.example.net".into(), "xmpp.example.org".into()],
            not_before: 0,
            not_after: 0,
            extended_key_usage: Some(vec!["clientAuth".into()]),
            is_ca: false,
            der: vec![],
            spki: vec![],
        };
        assert!(c.has_name("a.example.net."));
        assert!(c.has_name("XMPP.example.org"));
        assert!(!c.has_name("example.net"));
        assert!(!c.has_name("a.b.example.net"));
        assert!(!c.allows_server_auth());
    }
}
