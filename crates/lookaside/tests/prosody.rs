//! Prosody itself, with use_dane = true and lua-unbound forwarding to lookaside: instance A
//! (a.secure.example.) pings instance B (b.secure.example.), whose self-signed certificate can
//! only be authenticated through its TLSA record (DANE-EE, RFC 7673 naming). A requires
//! authenticated s2s (s2s_secure_auth), so a pong means DANE worked. The same server also hosts
//! c.secure.example., whose TLSA lookup is bogus: A must refuse that connection.

mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{Guarded, Hierarchy, free_port};

fn which(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A self-signed certificate for `domain`; returns (cert, key, SHA-256 of its SubjectPublicKeyInfo).
fn certificate(dir: &Path, domain: &str) -> (PathBuf, PathBuf, String) {
    let cert = dir.join(format!("{domain}crt"));
    let key = dir.join(format!("{domain}key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-subj", &format!("/CN={}", domain.trim_end_matches('.'))])
        .args(["-addext", &format!("subjectAltName=DNS:{}", domain.trim_end_matches('.'))])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -in {} -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum",
            cert.display()
        ))
        .output()
        .unwrap();
    let hash = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string();
    (cert, key, hash)
}

/// `trusted_ca`: a certificate this instance accepts as a CA (B trusts A's self-signed one, so
/// that A is authenticated by certificate on B's side and the test is about A's side only).
#[allow(clippy::too_many_arguments)]
fn prosody_config(
    dir: &Path,
    name: &str,
    ip: &str,
    s2s_port: u16,
    trusted_ca: Option<&Path>,
    resolv: &Path,
    anchor: &Path,
    hosts: &[(&str, &Path, &Path)],
) -> PathBuf {
    let c2s_port = free_port(ip);
    let mut text = format!(
        r#"run_as_root = true
daemonize = false
pidfile = "{dir}/{name}.pid"
data_path = "{dir}/{name}-data"
log = {{ debug = "{dir}/{name}.log" }}
interfaces = {{ "{ip}" }}
c2s_ports = {{ {c2s_port} }}
s2s_ports = {{ {s2s_port} }}
admin_socket = "{dir}/{name}.sock"
modules_enabled = {{ "admin_shell", "tls", "saslauth", "dialback", "ping", "disco", "s2s_bidi" }}
s2s_secure_auth = true
"#,
        dir = dir.display(),
    );
    // The shipped snippet (config/prosody.cfg.lua, quoted in docs/deploying.md), pointed at the
    // test's resolv.conf and root anchor.
    let snippet = std::fs::read_to_string(harness::repo_root().join("config/prosody.cfg.lua")).unwrap();
    let ours = format!(
        "resolvconf = \"{}\"; trustfile = \"{}\"; hoststxt = false;",
        resolv.display(),
        anchor.display()
    );
    assert!(snippet.contains("resolvconf = true;"));
    text.push_str(&snippet.replace("resolvconf = true;", &ours));
    if let Some(ca) = trusted_ca {
        text.push_str(&format!("ssl = {{ cafile = \"{}\"; }}\n", ca.display()));
    }
    for (host, cert, key) in hosts {
        text.push_str(&format!(
            "VirtualHost \"{}\"\n  ssl = {{ certificate = \"{}\"; key = \"{}\"; }}\n",
            host.trim_end_matches('.'),
            cert.display(),
            key.display()
        ));
    }
    std::fs::create_dir_all(dir.join(format!("{name}-data"))).unwrap();
    let path = dir.join(format!("{name}.cfg.lua"));
    std::fs::write(&path, text).unwrap();
    path
}

fn ping(config: &Path, from: &str, to: &str) -> String {
    let mut child = Command::new("prosodyctl")
        .arg("--config")
        .arg(config)
        .arg("shell")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "xmpp:ping(\"{from}\", \"{to}\", 10)").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn prosody_authenticates_s2s_by_dane_through_lookaside() {
    if !which("prosody") || !which("openssl") {
        panic!("prosody and openssl are needed: run tests/run-all.sh, which installs them");
    }
    let scratch = std::env::temp_dir().join(format!("lookaside-prosody-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let (a_cert, a_key, _) = certificate(&scratch, "a.secure.example.");
    let (b_cert, b_key, b_hash) = certificate(&scratch, "b.secure.example.");
    let (c_cert, c_key, c_hash) = certificate(&scratch, "c.secure.example.");
    let ip_a = "127.0.0.31";
    let ip_b = "127.0.0.32";
    let (port_a, port_b) = (free_port(ip_a), free_port(ip_b));
    let _ = c_hash;
    let extra = format!(
        "_xmpp-server._tcp.a.secure.example. 3600 IN SRV 0 0 {port_a} xmpp-a.secure.example.\n\
         xmpp-a.secure.example. 3600 IN A {ip_a}\n\
         _xmpp-server._tcp.b.secure.example. 3600 IN SRV 0 0 {port_b} xmpp-b.secure.example.\n\
         xmpp-b.secure.example. 3600 IN A {ip_b}\n\
         _{port_b}._tcp.xmpp-b.secure.example. 3600 IN TLSA 3 1 1 {b_hash}\n\
         _xmpp-server._tcp.c.secure.example. 3600 IN SRV 0 0 {port_b} xmpp-c.secure.example.\n\
         xmpp-c.secure.example. 3600 IN A {ip_b}\n\
         _{port_b}._tcp.xmpp-c.secure.example. 3600 IN CNAME www.expired.example.\n"
    );
    let Some(h) = Hierarchy::start(Some(&extra)) else { return };
    let d = h.daemon_on_53(&["--trust-anchor", &h.anchor.display().to_string()]);
    let resolv = scratch.join("resolv.conf");
    std::fs::write(&resolv, format!("nameserver {}\noptions edns0 trust-ad\n", d.addr.ip())).unwrap();

    let cfg_a = prosody_config(
        &scratch,
        "a",
        ip_a,
        port_a,
        None,
        &resolv,
        &h.anchor,
        &[("a.secure.example.", &a_cert, &a_key)],
    );
    let cfg_b = prosody_config(
        &scratch,
        "b",
        ip_b,
        port_b,
        Some(&a_cert),
        &resolv,
        &h.anchor,
        &[("b.secure.example.", &b_cert, &b_key), ("c.secure.example.", &c_cert, &c_key)],
    );
    let _a = Guarded::spawn(
        "prosody-a",
        "prosody",
        &["--config", cfg_a.to_str().unwrap()],
        &scratch.join("a.out"),
    );
    let _b = Guarded::spawn(
        "prosody-b",
        "prosody",
        &["--config", cfg_b.to_str().unwrap()],
        &scratch.join("b.out"),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(scratch.join("a.sock").exists() && scratch.join("b.sock").exists()) {
        assert!(
            Instant::now() < deadline,
            "prosody did not start: {}",
            std::fs::read_to_string(scratch.join("a.out")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_a = || std::fs::read_to_string(scratch.join("a.log")).unwrap_or_default();

    let out = ping(&cfg_a, "a.secure.example", "b.secure.example");
    assert!(out.contains("pong"), "ping through DANE-authenticated s2s: {out}\n--- a.log ---\n{}", log_a());
    let log = log_a();
    assert!(log.contains("Enabling DANE with 1 TLSA records"), "{log}");
    assert!(log.contains("SASL EXTERNAL with b.secure.example succeeded"), "{log}");

    let out = ping(&cfg_a, "a.secure.example", "c.secure.example");
    assert!(!out.contains("pong"), "c.secure.example. has a bogus TLSA: {out}");
    // libunbound found the TLSA answer bogus, so no DANE, so the self-signed certificate is refused.
    let tlsa = format!("_{port_b}._tcp.xmpp-c.secure.example IN TLSA: 0 items (validation failure");
    assert!(log_a().contains(&tlsa), "{}", log_a());
    assert!(log_a().contains("Forbidding insecure connection to/from c.secure.example"), "{}", log_a());
    let _ = std::fs::remove_dir_all(&scratch);
}
