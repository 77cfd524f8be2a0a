//! DNS over TLS to upstreams (RFC 7858) with the RFC 8310 strict privacy profile: the server is
//! authenticated by its certificate for the configured authentication name (webpki, against the
//! system's CA store or `tls-ca-file`), and/or by SPKI pins (RFC 7858 §4.2: SHA-256 of the
//! certificate's SubjectPublicKeyInfo, base64). An upstream that cannot be authenticated is not
//! used, and nothing is sent to it in the clear. rustls uses ring, the project's one crypto
//! library.
//!
//! TLS protects the path (who asks what, and answers rewritten on the way); DNSSEC protects the
//! data whatever path it took. Answers from TLS upstreams are validated exactly like the others.

use std::path::Path;
use std::sync::Arc;

use lookaside_dnssec::codec::base64_decode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// Where the system's CA certificates are on Debian (package ca-certificates).
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How a TLS upstream is authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsAuth {
    /// The name its certificate must be valid for (RFC 8310 authentication domain name).
    pub auth_name: Option<String>,
    /// SHA-256 digests of acceptable SubjectPublicKeyInfos (RFC 7858 §4.2).
    pub spki_pins: Vec<[u8; 32]>,
}

impl TlsAuth {
    /// Reads a base64 SHA-256 pin.
    pub fn parse_pin(text: &str) -> Result<[u8; 32], String> {
        base64_decode(text.trim())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| format!("SPKI pin {text:?} is not the base64 of a SHA-256 digest (44 characters)"))
    }
}

/// The CA certificates to check upstream certificates against: `file` (PEM), else the system's.
pub fn load_roots(file: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
    let path = file.unwrap_or(Path::new(SYSTEM_CA_FILE));
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut roots = RootCertStore::empty();
    let mut bad = 0;
    for der in CertificateDer::pem_slice_iter(&text) {
        if der.map_err(|_| ()).and_then(|der| roots.add(der).map_err(|_| ())).is_err() {
            bad += 1;
        }
    }
    if roots.is_empty() {
        return Err(format!("{}: no usable CA certificate ({bad} unreadable)", path.display()));
    }
    Ok(Arc::new(roots))
}

/// The rustls provider: ring (RFC 8310 needs nothing else).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that authenticates one upstream as `auth` says. Session resumption is
/// on (rustls keeps tickets in memory), so reconnections skip the full handshake.
pub fn client_config(auth: &TlsAuth, roots: &Arc<RootCertStore>) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let webpki = match &auth.auth_name {
        Some(_) => Some(
            WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| format!("TLS verifier: {e}"))?,
        ),
        None => None,
    };
    let verifier = Arc::new(Verifier {
        webpki,
        pins: auth.spki_pins.clone(),
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Checks the certificate for the name (webpki) when one is configured, then the pins when any
/// are; with pins only, the pin alone authenticates (RFC 7858 §4.2).
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pins: Vec<[u8; 32]>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if let Some(webpki) = &self.webpki {
            webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        }
        if !self.pins.is_empty() {
            let spki = spki_of(end_entity).ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
            let digest = lookaside_dnssec::crypto::ds_digest(lookaside_dnssec::iana::digest::SHA256, spki)
                .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
            if !self.pins.iter().any(|p| p[..] == digest[..]) {
                return Err(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The words for why a TLS upstream could not be used, for logs, `ctl status` and EDE texts.
pub fn failure_reason(e: &std::io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) else {
        return e.to_string();
    };
    match tls {
        Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
            "expired certificate".into()
        }
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "certificate not yet valid".into(),
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "name mismatch (the certificate is not valid for the authentication name)".into(),
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => "unknown CA".into(),
        Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure) => {
            "pin mismatch (no SPKI pin matches the certificate's key)".into()
        }
        // webpki's reasons without a rustls variant of their own.
        Error::InvalidCertificate(CertificateError::Other(o))
            if o.to_string().contains("CaUsedAsEndEntity") =>
        {
            "the server's certificate is a CA certificate (basicConstraints cA), not a server's".into()
        }
        other => other.to_string(),
    }
}

/// The SubjectPublicKeyInfo of a DER certificate (RFC 5280 §4.1): the seventh element of
/// tbsCertificate when the explicit version is present, the sixth otherwise. Bounds-checked;
/// `None` for anything malformed.
pub fn spki_of(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = der_element(cert, 0x30)?;
    let (tbs, _) = der_element(content(certificate)?, 0x30)?;
    let mut rest = content(tbs)?;
    let mut index = 0;
    loop {
        let (element, next) = der_any(rest)?;
        if index == 0 && element.first() == Some(&0xa0) {
            rest = next; // [0] EXPLICIT version
            continue;
        }
        if index == 5 {
            return (element.first() == Some(&0x30)).then_some(element);
        }
        index += 1;
        rest = next;
    }
}

/// One DER element (tag, length, content) at the start of `data`, and what follows it.
fn der_any(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let first_len = *data.get(1)?;
    let (len, header) = if first_len < 0x80 {
        (first_len as usize, 2)
    } else {
        let n = (first_len & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = data.get(2..2 + n)?;
        (bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((data.get(..end)?, data.get(end..)?))
}

fn der_element(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    (data.first() == Some(&tag)).then(|| der_any(data)).flatten()
}

/// The content of a DER element (after tag and length).
fn content(element: &[u8]) -> Option<&[u8]> {
    let first_len = *element.get(1)?;
    let header = if first_len < 0x80 { 2 } else { 2 + (first_len & 0x7f) as usize };
    element.get(header..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_must_be_sha256_in_base64() {
        assert!(TlsAuth::parse_pin("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_ok());
        assert!(TlsAuth::parse_pin("c2hvcnQ=").unwrap_err().contains("SHA-256"));
    }

    #[test]
    fn spki_reader_refuses_garbage() {
        assert!(spki_of(&[]).is_none());
        assert!(spki_of(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(spki_of(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_none());
    }
}
