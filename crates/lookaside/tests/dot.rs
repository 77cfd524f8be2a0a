//! DNS over TLS to upstreams (RFC 7858, RFC 8310 strict profile) against real TLS servers on
//! loopback: Unbound with `tls-service-key` forwarding to the test hierarchy, and `openssl
//! s_server` presenting certificates that must be refused. Certificates come from a test CA made
//! by openssl at test time. Every refusal names its reason, and nothing reaches the refused
//! address in the clear (a UDP socket on its port stays silent).

mod harness;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use harness::{Daemon, Guarded, Hierarchy, Opts, ask, ede, free_port};
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::flags;

macro_rules! hierarchy {
    () => {
        match Hierarchy::get() {
            Some(h) => h,
            None => return,
        }
    };
}

fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh").arg("-ec").arg(script).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test PKI: a CA, a server certificate for dot.test signed by it, one that expired, and one
/// for dot.test from a CA the client does not know. Made once per test process.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn get(h: &Hierarchy) -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            let dir = h.dir.join("pki");
            std::fs::create_dir_all(&dir).unwrap();
            sh(
                &dir,
                r#"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
printf 'subjectAltName=DNS:dot.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' > ext.cnf
key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 30 -subj /CN=lookaside-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
key srv.key
openssl req -new -key srv.key -out srv.csr -subj /CN=dot.test
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 30 -extfile ext.cnf 2>/dev/null
# Expired: signed by the CA for 2020 only (openssl ca takes explicit dates).
key old.key
openssl req -new -key old.key -out old.csr -subj /CN=dot.test
: > index.txt; echo 1000 > serial
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' > ca.cnf
openssl ca -batch -notext -config ca.cnf -cert ca.pem -keyfile ca.key -in old.csr -out old.pem \
  -startdate 20200101000000Z -enddate 20210101000000Z -extfile ext.cnf 2>/dev/null
# Unknown CA: a valid-looking certificate from a CA the client does not know.
key other-ca.key
openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 30 -subj /CN=unknown-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
key self.key
openssl req -new -key self.key -out self.csr -subj /CN=dot.test
openssl x509 -req -in self.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -out self.pem -days 30 -extfile ext.cnf 2>/dev/null
"#,
            );
            Pki { dir }
        })
    }

    fn path(&self, f: &str) -> String {
        self.dir.join(f).display().to_string()
    }

    /// The RFC 7858 §4.2 pin of a certificate: base64(SHA-256(SubjectPublicKeyInfo)), by openssl.
    fn pin(&self, cert: &str) -> String {
        sh(
            &self.dir,
            &format!(
                "openssl x509 -in {cert} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A"
            ),
        )
        .trim()
        .to_string()
    }
}

/// Unbound answering DNS over TLS with the test CA's dot.test certificate, forwarding to the
/// hierarchy's Unbound; it closes connections idle for `idle_ms`.
fn unbound_dot(h: &Hierarchy, pki: &Pki, idle_ms: u32) -> (SocketAddr, Guarded) {
    let port = free_port(&h.ip);
    let dir = h.dir.join(format!("dot-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let conf = format!(
        "server:\n  interface: {ip}@{port}\n  tls-port: {port}\n  tls-service-key: \"{key}\"\n  \
         tls-service-pem: \"{pem}\"\n  do-ip6: no\n  do-not-query-localhost: no\n  \
         access-control: 127.0.0.0/8 allow\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  \
         pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  \
         module-config: \"iterator\"\n  num-threads: 1\n  so-reuseport: no\n  tcp-idle-timeout: {idle_ms}\n  \
         incoming-num-tcp: 64\n  verbosity: 1\n\
         forward-zone:\n  name: \".\"\n  forward-addr: {up_ip}@{up_port}\n\
         remote-control:\n  control-enable: no\n",
        ip = h.ip,
        key = pki.path("srv.key"),
        pem = pki.path("srv.pem"),
        up_ip = h.unbound.ip(),
        up_port = h.unbound.port(),
    );
    std::fs::write(dir.join("unbound.conf"), conf).unwrap();
    let conf_path = dir.join("unbound.conf");
    let g = Guarded::spawn(
        "unbound-dot",
        "unbound",
        &["-d", "-c", conf_path.to_str().unwrap()],
        &dir.join("out"),
    );
    let addr: SocketAddr = format!("{}:{port}", h.ip).parse().unwrap();
    wait_tcp(addr);
    (addr, g)
}

/// `openssl s_server` with this certificate: a TLS server that must be refused.
fn s_server(h: &Hierarchy, pki: &Pki, cert: &str, key: &str) -> (SocketAddr, Guarded) {
    let port = free_port(&h.ip);
    let accept = format!("{}:{port}", h.ip);
    let log = h.dir.join(format!("s_server-{port}.log"));
    let g = Guarded::spawn(
        "s_server",
        "openssl",
        &["s_server", "-accept", &accept, "-cert", &pki.path(cert), "-key", &pki.path(key), "-quiet"],
        &log,
    );
    let addr = accept.parse().unwrap();
    wait_tcp(addr);
    (addr, g)
}

fn wait_tcp(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{addr} does not accept connections");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A daemon whose only upstream is `upstream` (a TOML value), with the test CA.
fn daemon(h: &Hierarchy, pki: &Pki, name: &str, upstream: &str) -> Daemon {
    let config = h.dir.join(format!("dot-{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "upstreams = [{upstream}]\ntls-ca-file = \"{}\"\ntrust-anchors = [\"{}\"]\n",
            pki.path("ca.pem"),
            h.anchor.display()
        ),
    )
    .unwrap();
    h.daemon_with(vec!["--config".into(), config.display().to_string()])
}

fn status_line(d: &Daemon, upstream: SocketAddr) -> String {
    let (_, out) = d.ctl(&["status"]);
    out.lines().find(|l| l.contains(&upstream.to_string())).unwrap_or_else(|| panic!("{out}")).to_string()
}

#[test]
fn rfc7858_secure_insecure_and_bogus_through_a_tls_upstream() {
    let h = hierarchy!();
    let pki = Pki::get(h);
    let (dot, _server) = unbound_dot(h, pki, 10_000);
    let d = daemon(h, pki, "good", &format!("\"tls://{dot}#dot.test\""));
    let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::NOERROR);
    assert!(m.has_flag(flags::AD), "secure over TLS");
    let m = ask(d.addr, "www.insecure.example.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::NOERROR);
    assert!(!m.has_flag(flags::AD), "insecure stays insecure");
    let m = ask(d.addr, "www.expired.example.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::SERVFAIL, "bogus stays bogus: TLS protects the path, not the data");
    assert_eq!(ede(&m).first().map(|e| e.0), Some(7), "{:?}", ede(&m));
    let line = status_line(&d, dot);
    assert!(line.starts_with(&format!("upstream tls://{dot}#dot.test healthy")), "{line}");
}

#[test]
fn rfc7858_3_4_queries_share_one_connection_and_one_handshake() {
    let h = hierarchy!();
    let pki = Pki::get(h);
    let (dot, _server) = unbound_dot(h, pki, 10_000);
    // Authenticated by pin alone (RFC 7858 §4.2), the pin computed by openssl.
    let pin = pki.pin("srv.pem");
    let d =
        daemon(h, pki, "pinned", &format!("{{ address = \"{dot}\", tls = true, spki-pins = [\"{pin}\"] }}"));
    // 100 different names at once (cache misses, each with its own upstream query).
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let addr = d.addr;
            std::thread::spawn(move || ask(addr, &format!("n{i}.secure.example."), rtype::A, Opts::default()))
        })
        .collect();
    for t in threads {
        let m = t.join().unwrap();
        assert_eq!(m.rcode(), rcode::NXDOMAIN);
        assert!(m.has_flag(flags::AD), "secure denial over TLS");
    }
    let line = status_line(&d, dot);
    assert!(line.contains("connections=1 handshakes=1"), "one connection for everything: {line}");
}

#[test]
fn a_server_that_closes_idle_connections_is_reconnected() {
    let h = hierarchy!();
    let pki = Pki::get(h);
    let (dot, _server) = unbound_dot(h, pki, 200);
    let d = daemon(h, pki, "idle", &format!("\"tls://{dot}#dot.test\""));
    let handshakes = |d: &Daemon| -> u32 {
        let line = status_line(d, dot);
        line.split_once("handshakes=").and_then(|(_, r)| r.split(' ').next()?.parse().ok()).unwrap()
    };
    assert!(ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
    std::thread::sleep(Duration::from_millis(800));
    // (The start-up probe may have opened connections of its own before.)
    let before = handshakes(&d);
    let m = ask(d.addr, "_xmpp-server._tcp.secure.example.", rtype::SRV, Opts::default());
    assert!(m.has_flag(flags::AD), "answered on a new connection: {:?}", ede(&m));
    assert_eq!(handshakes(&d), before + 1, "{}", status_line(&d, dot));
}

/// A TLS upstream that must be refused: SERVFAIL, the reason in `ctl status` and the log, and
/// nothing sent to its address in the clear.
fn refused(h: &Hierarchy, pki: &Pki, name: &str, server: SocketAddr, upstream: &str, reason: &str) {
    let cleartext = UdpSocket::bind(server).unwrap();
    cleartext.set_nonblocking(true).unwrap();
    let d = daemon(h, pki, name, upstream);
    let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::SERVFAIL, "{name}");
    let line = status_line(&d, server);
    assert!(line.contains(&format!("last-error=\"{reason}")), "{name}: {line}");
    assert!(d.log().contains(&format!("tls upstream not used: {reason}")), "{name}: {}", d.log());
    let mut buf = [0u8; 512];
    assert!(cleartext.recv_from(&mut buf).is_err(), "{name}: a query reached {server} in the clear");
}

#[test]
fn rfc8310_unauthenticated_servers_are_refused_with_the_reason() {
    let h = hierarchy!();
    let pki = Pki::get(h);
    let (good, _g1) = s_server(h, pki, "srv.pem", "srv.key");
    refused(h, pki, "name", good, &format!("\"tls://{good}#wrong.test\""), "name mismatch");
    let other_pin = pki.pin("self.pem");
    refused(
        h,
        pki,
        "pin",
        good,
        &format!("{{ address = \"{good}\", auth-name = \"dot.test\", spki-pins = [\"{other_pin}\"] }}"),
        "pin mismatch",
    );
    let (old, _g2) = s_server(h, pki, "old.pem", "old.key");
    refused(h, pki, "expired", old, &format!("\"tls://{old}#dot.test\""), "expired certificate");
    let (unknown, _g3) = s_server(h, pki, "self.pem", "self.key");
    refused(h, pki, "unknown-ca", unknown, &format!("\"tls://{unknown}#dot.test\""), "unknown CA");
}

#[test]
fn a_tls_upstream_without_name_or_pin_is_a_configuration_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_lookaside"))
        .args(["query", "--upstream", "tls://192.0.2.1", "example."])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authentication name"), "{err}");
}

/// A DNS-over-TLS relay with the test CA's dot.test certificate that records the length of every
/// query it receives and passes it on to the hierarchy's Unbound over TCP.
fn recording_relay(h: &Hierarchy, pki: &Pki) -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<usize>>>) {
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    let cert = rustls::pki_types::CertificateDer::from_pem_file(pki.dir.join("srv.pem")).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(pki.dir.join("srv.key")).unwrap();
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap(),
    );
    let listener = std::net::TcpListener::bind(format!("{}:0", h.ip)).unwrap();
    let addr = listener.local_addr().unwrap();
    let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let upstream = h.unbound;
    let seen = sizes.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (config, seen) = (config.clone(), seen.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, client);
                let Ok(mut unbound) = std::net::TcpStream::connect(upstream) else { return };
                loop {
                    let mut len = [0u8; 2];
                    if tls.read_exact(&mut len).is_err() {
                        return;
                    }
                    let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
                    if tls.read_exact(&mut query).is_err() {
                        return;
                    }
                    seen.lock().unwrap().push(query.len());
                    if unbound.write_all(&len).and_then(|()| unbound.write_all(&query)).is_err() {
                        return;
                    }
                    if unbound.read_exact(&mut len).is_err() {
                        return;
                    }
                    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
                    if unbound.read_exact(&mut reply).is_err() {
                        return;
                    }
                    if tls
                        .write_all(&len)
                        .and_then(|()| tls.write_all(&reply))
                        .and_then(|()| tls.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, sizes)
}

#[test]
fn rfc8467_queries_arrive_padded_to_128_octets() {
    let h = hierarchy!();
    let pki = Pki::get(h);
    let (relay, sizes) = recording_relay(h, pki);
    let d = daemon(h, pki, "padded", &format!("\"tls://{relay}#dot.test\""));
    for name in ["www.secure.example.", "_xmpp-server._tcp.secure.example.", "x.wild.nsec3.example."] {
        assert!(ask(d.addr, name, rtype::A, Opts::default()).rcode() != rcode::SERVFAIL, "{name}");
    }
    let sizes = sizes.lock().unwrap().clone();
    assert!(sizes.len() >= 4, "answer and key lookups went through the relay: {sizes:?}");
    assert!(sizes.iter().all(|n| n % 128 == 0), "every query padded to a multiple of 128: {sizes:?}");
}

#[test]
fn a_tls_upstream_is_probed_through_its_own_authenticated_connection() {
    let h = hierarchy!();
    let pki = Pki::get(h);
    let (dot, _server) = unbound_dot(h, pki, 10_000);
    let d = daemon(h, pki, "probed", &format!("\"tls://{dot}#dot.test\""));
    // The daemon's start-up probe.
    let mut line = String::new();
    for _ in 0..100 {
        line = status_line(&d, dot);
        if line.contains("probe=fit") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(line.contains("probe=fit"), "{line}");
    // The command, with the same configuration, and with a name the certificate does not have.
    let config = h.dir.join("dot-probed.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_lookaside"))
        .args(["probe", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("upstream tls://{dot}#dot.test: fit")), "{text}");
    assert!(text.contains("ok    . DNSKEY over TLS with DO"), "{text}");
    let wrong = h.dir.join("dot-wrong-name.toml");
    std::fs::write(
        &wrong,
        format!("upstreams = [\"tls://{dot}#other.test\"]\ntls-ca-file = \"{}\"\n", pki.path("ca.pem")),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lookaside"))
        .args(["probe", "--config", wrong.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(": unreachable: no reply to . DNSKEY over TLS:"), "{text}");
}
