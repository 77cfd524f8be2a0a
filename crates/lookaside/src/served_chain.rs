//! Fetching the certificate chain an XMPP server actually serves: STARTTLS on `_xmpp-client`
//! and `_xmpp-server` ports (RFC 6120 §5.4, a real stream header and `<starttls/>`), direct TLS
//! on `_xmpps-*` ports (XEP-0368, with the `xmpp-client` / `xmpp-server` ALPN). The handshake is
//! completed (signatures checked by ring) but the certificate is *accepted whatever it is*: this
//! is a measuring tool, and the judging is `dane`'s. Nothing is sent after the handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest stream prologue (header and features) read before STARTTLS: a real server sends a
/// few hundred octets; anything longer is not an XMPP server worth waiting on.
pub const MAX_PROLOGUE: usize = 64 * 1024;

/// How the connection gets to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// RFC 6120 STARTTLS with this stream namespace (`jabber:client` or `jabber:server`).
    StartTls(&'static str),
    /// XEP-0368 direct TLS with this ALPN protocol id.
    Direct(&'static str),
}

impl Mode {
    /// The mode for an SRV service prefix such as `_xmpps-server._tcp`.
    pub fn for_service(service: &str) -> Self {
        match service {
            s if s.starts_with("_xmpps-client") => Self::Direct("xmpp-client"),
            s if s.starts_with("_xmpps-server") => Self::Direct("xmpp-server"),
            s if s.starts_with("_xmpp-server") => Self::StartTls("jabber:server"),
            _ => Self::StartTls("jabber:client"),
        }
    }

    /// In words, for reports.
    pub fn words(self) -> String {
        match self {
            Self::StartTls(ns) => format!("STARTTLS ({ns})"),
            Self::Direct(alpn) => format!("direct TLS (ALPN {alpn})"),
        }
    }
}

/// Accepts any certificate; checks handshake signatures properly (so the chain is the one the
/// peer holds the key for).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What the fetch yields.
#[derive(Debug)]
pub struct Served {
    /// The DER certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The negotiated ALPN protocol, for direct TLS.
    pub alpn: Option<String>,
}

/// Connects to `addr`, gets to TLS as `mode` says, with SNI `domain` (RFC 7590 §3.1: the XMPP
/// domain), and returns the chain. Every failure is a sentence, for the report.
pub async fn fetch(addr: SocketAddr, domain: &str, mode: Mode, wait: Duration) -> Result<Served, String> {
    match tokio::time::timeout(wait, fetch_inner(addr, domain, mode)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no TLS handshake within {} s", wait.as_secs())),
    }
}

async fn fetch_inner(addr: SocketAddr, domain: &str, mode: Mode) -> Result<Served, String> {
    let domain = domain.trim_end_matches('.');
    let mut tcp = TcpStream::connect(addr).await.map_err(|e| format!("cannot connect: {e}"))?;
    if let Mode::StartTls(ns) = mode {
        starttls(&mut tcp, domain, ns).await?;
    }
    let provider = lookaside_stub::tls::provider();
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    if let Mode::Direct(alpn) = mode {
        config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    }
    let name = ServerName::try_from(domain.to_string()).map_err(|e| format!("{domain:?}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake failed: {}", lookaside_stub::tls::failure_reason(&e)))?;
    let (_, session) = tls.get_ref();
    let chain: Vec<Vec<u8>> =
        session.peer_certificates().unwrap_or_default().iter().map(|c| c.as_ref().to_vec()).collect();
    let alpn = session.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
    if chain.is_empty() {
        return Err("the server sent no certificate".into());
    }
    Ok(Served { chain, alpn })
}

/// RFC 6120 §5.4.2: stream header to the service domain, wait for features offering
/// `<starttls/>`, ask for it, wait for `<proceed/>`.
async fn starttls(tcp: &mut TcpStream, domain: &str, ns: &str) -> Result<(), String> {
    let header = format!(
        "<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' xml:lang='en' xmlns='{ns}' \
         xmlns:stream='http://etherx.jabber.org/streams'>"
    );
    tcp.write_all(header.as_bytes()).await.map_err(|e| format!("cannot send the stream header: {e}"))?;
    let features = read_until(tcp, &["</stream:features>", "<stream:features/>"]).await?;
    if !features.contains("urn:ietf:params:xml:ns:xmpp-tls") {
        return Err("the server does not offer STARTTLS".into());
    }
    tcp.write_all(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .await
        .map_err(|e| format!("cannot ask for STARTTLS: {e}"))?;
    let reply = read_until(tcp, &["<proceed", "<failure"]).await?;
    if reply.contains("<failure") {
        return Err("the server refused STARTTLS (<failure/>)".into());
    }
    // `<proceed .../>` ends the plain-text part; the server waits for our ClientHello.
    Ok(())
}

/// Reads until one of `ends` appears; a stream error, a closed stream or too much text is a
/// failure in words.
async fn read_until(tcp: &mut TcpStream, ends: &[&str]) -> Result<String, String> {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match tcp.read(&mut buf).await {
            Ok(0) | Err(_)
                if !text.is_empty() && !String::from_utf8_lossy(&text).contains("<stream:stream") =>
            {
                let said: String = String::from_utf8_lossy(&text).chars().take(60).collect();
                return Err(format!("the server does not speak XMPP: it answered {said:?} and closed"));
            }
            Ok(0) => return Err("the server closed the stream before TLS".into()),
            Err(e) => return Err(format!("reading the stream: {e}")),
            Ok(n) => n,
        };
        text.extend_from_slice(&buf[..n]);
        let s = String::from_utf8_lossy(&text);
        if let Some(at) = s.find("<stream:error") {
            let err: String = s[at..].chars().take(200).collect();
            return Err(format!("the server sent a stream error: {err}"));
        }
        if ends.iter().any(|e| s.contains(e)) {
            return Ok(s.into_owned());
        }
        if text.len() > MAX_PROLOGUE {
            return Err(format!("no STARTTLS exchange within {MAX_PROLOGUE} octets"));
        }
    }
}
