//! `lookaside xmpp --tls` and `--new-cert` against real servers: Prosody (STARTTLS, c2s and s2s,
//! one host whose certificate the TLSA records publish and one whose certificate they do not),
//! `openssl s_server` for XEP-0368 direct TLS, and a chain (CA + leaf) made by openssl for every
//! TLSA usage, selector and matching type. The expected association data are computed with
//! openssl and sha256sum/sha512sum, not with our code. The hostile side: a refused port and a
//! server that answers the stream header with garbage.

mod harness;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{Guarded, Hierarchy, free_port};
use serde_json::Value;

const IP: &str = "127.0.0.34";

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Certificates made by openssl in `dir`: a CA, leaves signed by it, a self-signed one.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Self {
        let d = dir.display();
        sh(&format!(
            "cd {d} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
             -keyout ca.key -out ca.crt -subj '/CN=lookaside test CA' \
             -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null"
        ));
        Self { dir: dir.into() }
    }

    /// A leaf named `names`, signed by the CA; writes NAME.crt, NAME.key and NAME.chain (leaf+CA).
    fn leaf(&self, file: &str, names: &[&str], eku: &str) {
        let d = self.dir.display();
        let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        std::fs::write(
            self.dir.join(format!("{file}.ext")),
            format!("subjectAltName={}\nextendedKeyUsage={eku}\nbasicConstraints=CA:false\n", san.join(",")),
        )
        .unwrap();
        sh(&format!(
            "cd {d} && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {file}.key \
             -out {file}.csr -subj /CN={first} 2>/dev/null && openssl x509 -req -in {file}.csr -CA ca.crt \
             -CAkey ca.key -CAcreateserial -days 30 -out {file}.crt -extfile {file}.ext 2>/dev/null && \
             cat {file}.crt ca.crt > {file}.chain",
            first = names[0]
        ));
    }

    /// A self-signed certificate.
    fn self_signed(&self, file: &str, name: &str) {
        let d = self.dir.display();
        sh(&format!(
            "cd {d} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
             -keyout {file}.key -out {file}.crt -subj /CN={name} -addext subjectAltName=DNS:{name} 2>/dev/null"
        ));
    }

    /// TLSA association data for `file`.crt with `selector` and `matching`, by openssl.
    fn data(&self, file: &str, selector: u8, matching: u8) -> String {
        let d = self.dir.display();
        let select = if selector == 0 {
            format!("openssl x509 -in {d}/{file}.crt -outform DER")
        } else {
            format!("openssl x509 -in {d}/{file}.crt -noout -pubkey | openssl pkey -pubin -outform DER")
        };
        let hash = match matching {
            0 => "od -An -v -tx1 | tr -d ' \\n'",
            1 => "sha256sum | cut -d' ' -f1",
            _ => "sha512sum | cut -d' ' -f1",
        };
        sh(&format!("{select} | {hash}")).trim().to_string()
    }
}

/// `lookaside ARGS [--config CONFIG]` against the hierarchy.
fn lookaside(h: &Hierarchy, config: Option<&Path>, args: &[&str]) -> (i32, String) {
    let mut all: Vec<&str> = args.to_vec();
    if let Some(c) = config {
        all.extend(["--config", c.to_str().unwrap()]);
    }
    h.cli(&all)
}

/// Waits until something accepts TCP connections on `port`.
fn wait_tcp(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect((IP, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The targets of one service in the JSON report.
fn targets<'a>(report: &'a Value, service: &str) -> &'a Vec<Value> {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == service)
        .unwrap_or_else(|| panic!("no {service} in {report}"))["targets"]
        .as_array()
        .unwrap()
}

#[test]
fn xmpp_tls_checks_served_certificates_against_tlsa_and_new_cert_guards_renewals() {
    for tool in ["prosody", "openssl"] {
        let found =
            Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status();
        assert!(
            found.is_ok_and(|s| s.success()),
            "{tool} is needed: run tests/run-all.sh, which installs it"
        );
    }
    let scratch = std::env::temp_dir().join(format!("lookaside-xmpptls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let pki = Pki::new(&scratch);
    pki.leaf("dane", &["dane.secure.example", "xmppd.secure.example"], "serverAuth,clientAuth");
    pki.leaf("renewed", &["dane.secure.example", "xmppd.secure.example"], "serverAuth,clientAuth");
    // Server authentication only, as public CAs now issue: a finding on a server-to-server port.
    pki.leaf("wrongname", &["elsewhere.example"], "serverAuth");
    pki.self_signed("bad", "bad.secure.example");

    // Ports: Prosody c2s and s2s; openssl s_server for direct TLS (two: all combinations, and a
    // certificate with the wrong name under DANE-TA); a refused port; a garbage server.
    let (c2s, s2s) = (free_port(IP), free_port(IP));
    let direct = free_port(IP);
    let wrong = free_port(IP);
    let refused = free_port(IP);
    let garbage = TcpListener::bind((IP, 0)).unwrap();
    let garbage_port = garbage.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in garbage.incoming().flatten() {
            let mut s = s;
            let _ = s.read(&mut [0u8; 1024]);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });

    // A server that accepts and never says a word: the check gives up after its time-out.
    let silent = TcpListener::bind((IP, 0)).unwrap();
    let silent_port = silent.local_addr().unwrap().port();

    let leaf311 = pki.data("dane", 1, 1);
    let mut combos = String::new();
    // Every usage × selector × matching type: end-entity usages (3, 1) name the leaf, the
    // trust-anchor usages (2, 0) the CA.
    for (usage, file) in [(3, "dane"), (2, "ca"), (1, "dane"), (0, "ca")] {
        for selector in 0..2 {
            for matching in 0..3 {
                combos.push_str(&format!(
                    "_{direct}._tcp.xmppd.secure.example. 3600 IN TLSA {usage} {selector} {matching} {}\n",
                    pki.data(file, selector, matching)
                ));
            }
        }
    }
    let ca211 = pki.data("ca", 1, 1);
    let extra = format!(
        "_xmpp-client._tcp.dane.secure.example. 3600 IN SRV 0 0 {c2s} xmppd.secure.example.\n\
         _xmpp-server._tcp.dane.secure.example. 3600 IN SRV 0 0 {s2s} xmppd.secure.example.\n\
         _xmpps-client._tcp.dane.secure.example. 3600 IN SRV 0 0 {direct} xmppd.secure.example.\n\
         _xmpps-server._tcp.dane.secure.example. 3600 IN SRV 0 0 {wrong} xmppd.secure.example.\n\
         xmppd.secure.example. 3600 IN A {IP}\n\
         _{c2s}._tcp.xmppd.secure.example. 3600 IN TLSA 3 1 1 {leaf311}\n\
         _{s2s}._tcp.xmppd.secure.example. 3600 IN TLSA 3 1 1 {leaf311}\n\
         {combos}\
         _{direct}._tcp.xmppd.secure.example. 3600 IN TLSA 3 1 1 {zeros}\n\
         _{wrong}._tcp.xmppd.secure.example. 3600 IN TLSA 2 1 1 {ca211}\n\
         _xmpp-client._tcp.bad.secure.example. 3600 IN SRV 0 0 {c2s} xmppb.secure.example.\n\
         _xmpp-server._tcp.bad.secure.example. 3600 IN SRV 0 0 {s2s} xmppb.secure.example.\n\
         _xmpps-client._tcp.bad.secure.example. 3600 IN SRV 0 0 {refused} xmppb.secure.example.\n\
         _xmpps-server._tcp.bad.secure.example. 3600 IN SRV 0 0 {garbage_port} xmppb.secure.example.\n\
         xmppb.secure.example. 3600 IN A {IP}\n\
         _{c2s}._tcp.xmppb.secure.example. 3600 IN TLSA 3 1 1 {leaf311}\n\
         _{s2s}._tcp.xmppb.secure.example. 3600 IN TLSA 3 1 1 {leaf311}\n\
         _xmpp-client._tcp.junk.secure.example. 3600 IN SRV 0 0 {garbage_port} xmppb.secure.example.\n\
         _xmpp-server._tcp.junk.secure.example. 3600 IN SRV 0 0 {silent_port} xmppb.secure.example.\n",
        zeros = "0".repeat(64),
    );
    let Some(h) = Hierarchy::start(Some(&extra)) else { return };

    let d = scratch.display();
    let prosody_cfg = scratch.join("p.cfg.lua");
    std::fs::write(
        &prosody_cfg,
        format!(
            "run_as_root = true\ndaemonize = false\npidfile = \"{d}/p.pid\"\ndata_path = \"{d}/p-data\"\n\
             log = {{ debug = \"{d}/p.log\" }}\ninterfaces = {{ \"{IP}\" }}\nc2s_ports = {{ {c2s} }}\n\
             s2s_ports = {{ {s2s} }}\nadmin_socket = \"{d}/p.sock\"\n\
             modules_enabled = {{ \"tls\", \"saslauth\", \"dialback\", \"disco\" }}\n\
             VirtualHost \"dane.secure.example\"\n  ssl = {{ certificate = \"{d}/dane.chain\"; key = \"{d}/dane.key\"; }}\n\
             VirtualHost \"bad.secure.example\"\n  ssl = {{ certificate = \"{d}/bad.crt\"; key = \"{d}/bad.key\"; }}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(scratch.join("p-data")).unwrap();
    let _prosody = Guarded::spawn(
        "prosody",
        "prosody",
        &["--config", prosody_cfg.to_str().unwrap()],
        &scratch.join("p.out"),
    );
    let s_server = |port: u16, file: &str, alpn: &str, log: &str| {
        let args = [
            "s_server".to_string(),
            "-quiet".into(),
            "-accept".into(),
            format!("{IP}:{port}"),
            "-cert".into(),
            format!("{d}/{file}.crt"),
            "-key".into(),
            format!("{d}/{file}.key"),
            "-cert_chain".into(),
            format!("{d}/ca.crt"),
            "-alpn".into(),
            alpn.into(),
        ];
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Guarded::spawn("openssl", "openssl", &refs, &scratch.join(log))
    };
    let _direct = s_server(direct, "dane", "xmpp-client", "direct.out");
    let _wrong = s_server(wrong, "wrongname", "xmpp-server", "wrong.out");
    wait_tcp(c2s, "prosody", &scratch.join("p.out"));
    wait_tcp(direct, "openssl s_server", &scratch.join("direct.out"));
    wait_tcp(wrong, "openssl s_server", &scratch.join("wrong.out"));

    // The CA is trusted for the PKIX usages through tls-ca-file.
    let config = scratch.join("lookaside.toml");
    std::fs::write(&config, format!("tls-ca-file = \"{d}/ca.crt\"\n")).unwrap();

    // --- dane.secure.example.: every served certificate matched -------------------------------
    let (code, out) = lookaside(&h, Some(&config), &["xmpp", "dane.secure.example.", "--tls", "--json"]);
    let report: Value = serde_json::from_str(&out[..out.rfind('}').map_or(0, |i| i + 1)])
        .unwrap_or_else(|e| panic!("{e}: {out}"));
    for (service, mode) in [
        ("_xmpp-client._tcp", "STARTTLS (jabber:client)"),
        ("_xmpp-server._tcp", "STARTTLS (jabber:server)"),
        ("_xmpps-client._tcp", "direct TLS (ALPN xmpp-client)"),
    ] {
        let t = &targets(&report, service)[0];
        let tls = &t["tls"][0];
        assert_eq!(tls["mode"], mode, "{tls}");
        assert_eq!(tls["dane_matches"], true, "{service}: {tls}");
        assert!(tls["verdict"].as_str().unwrap().starts_with("DANE matches"), "{tls}");
        assert_eq!(
            tls["chain"][0]["names"],
            serde_json::json!(["dane.secure.example", "xmppd.secure.example"])
        );
        assert!(
            tls["pkix"].as_str().unwrap().contains("valid for dane.secure.example against the CA store"),
            "{tls}"
        );
    }
    // Direct TLS: all 24 records (usages 0-3 × selectors × matching types) authenticate, the
    // PKIX ones because the CA is in the store; the zero digest matches nothing.
    let records = targets(&report, "_xmpps-client._tcp")[0]["tls"][0]["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), 25, "{records:?}");
    for r in &records {
        let text = r["record"].as_str().unwrap();
        if text.ends_with(&"0".repeat(64)) {
            assert_eq!(r["authenticates"], false);
            assert_eq!(r["detail"], "does not match the end-entity certificate");
        } else {
            assert_eq!(r["authenticates"], true, "{r}");
            let at = if text.starts_with('3') || text.starts_with('1') { 0 } else { 1 };
            assert_eq!(r["matched"], at, "{r}");
        }
    }
    // DANE-TA needs the names: a certificate from the right CA for elsewhere.example. does not do.
    let wrong_tls = &targets(&report, "_xmpps-server._tcp")[0]["tls"][0];
    assert_eq!(wrong_tls["dane_matches"], false, "{wrong_tls}");
    let detail = wrong_tls["records"][0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("DANE-TA: certificate 1 matches, but the path check failed: name mismatch"),
        "{detail}"
    );
    assert!(
        wrong_tls["names"]
            .as_str()
            .unwrap()
            .contains("names none of dane.secure.example, xmppd.secure.example")
    );
    assert_eq!(code, 1, "one target's TLSA does not authenticate: exit 1\n{out}");

    // Without the CA in the store the PKIX usages do not authenticate, DANE's still do.
    let (_, out) = lookaside(&h, None, &["xmpp", "dane.secure.example.", "--tls", "--json"]);
    let report: Value = serde_json::from_str(&out[..out.rfind('}').map_or(0, |i| i + 1)]).unwrap();
    let records = targets(&report, "_xmpps-client._tcp")[0]["tls"][0]["records"].as_array().unwrap().clone();
    let pkix: Vec<&Value> =
        records.iter().filter(|r| r["record"].as_str().unwrap().starts_with(['0', '1'])).collect();
    assert_eq!(pkix.len(), 12);
    for r in pkix {
        assert_eq!(r["authenticates"], false, "{r}");
        assert!(r["detail"].as_str().unwrap().contains("path check failed: unknown CA"), "{r}");
    }

    // --- bad.secure.example.: Prosody serves a certificate no TLSA names; hostile ports -------
    let (code, out) = lookaside(&h, None, &["xmpp", "bad.secure.example.", "--tls"]);
    assert_eq!(code, 1, "{out}");
    let mismatch =
        "=> no TLSA record matches the served certificate (a client that requires DANE will refuse)";
    assert_eq!(out.matches(mismatch).count(), 2, "c2s and s2s: {out}");
    assert!(out.contains("certificate 0: CN=bad.secure.example; names bad.secure.example;"), "{out}");
    assert!(out.contains("=> no certificate checked: cannot connect: Connection refused"), "{out}");
    assert!(
        out.contains("=> no certificate checked: TLS handshake failed: received corrupt message"),
        "{out}"
    );
    assert!(out.contains("=> DANE usable, but the certificate served at 127.0.0.34:"), "{out}");
    let (code, out) = lookaside(&h, None, &["xmpp", "junk.secure.example.", "--tls"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("=> no certificate checked: the server does not speak XMPP: it answered \"HTTP/1.1 400 Bad Request"),
        "{out}"
    );
    assert!(out.contains("=> no certificate checked: no TLS handshake within 10 s"), "{out}");
    drop(silent);

    // --- --new-cert: the rollover guard -------------------------------------------------------
    // The chain Prosody serves: matched at all four targets (at the direct-TLS server-to-server
    // port through DANE-TA, since this leaf carries the names).
    let chain = format!("{d}/dane.chain");
    let (code, out) = lookaside(&h, None, &["xmpp", "dane.secure.example.", "--new-cert", &chain]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("matched by the published TLSA records of all 4 target(s): safe to deploy"),
        "{out}"
    );
    // A renewed key: the 3 1 1 records of c2s and s2s do not match it; the DANE-TA records do.
    let renewed = format!("{d}/renewed.chain");
    let (code, out) = lookaside(&h, None, &["xmpp", "dane.secure.example.", "--new-cert", &renewed]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT matched at every target: do not deploy yet"), "{out}");
    let renewed311 = pki.data("renewed", 1, 1).to_uppercase();
    let ca211_upper = ca211.to_uppercase();
    assert!(
        out.contains(&format!("publish: _{c2s}._tcp.xmppd.secure.example. 3600 IN TLSA 3 1 1 {renewed311}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("publish: _{s2s}._tcp.xmppd.secure.example. 3600 IN TLSA 2 1 1 {ca211_upper}")),
        "{out}"
    );
    assert!(out.contains("wait 3600 s (the TLSA TTL)"), "{out}");
    // An unreadable file is a clear error, exit 2.
    std::fs::write(scratch.join("junk.pem"), "not a certificate\n").unwrap();
    let (code, out) =
        lookaside(&h, None, &["xmpp", "dane.secure.example.", "--new-cert", &format!("{d}/junk.pem")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no PEM CERTIFICATE block found"), "{out}");

    // [[watch]] with tls = true exports the same judgement as metrics.
    let metrics = format!("{}:{}", h.ip, free_port(&h.ip));
    let watch = scratch.join("watch.toml");
    std::fs::write(
        &watch,
        format!(
            "metrics-listen = \"{metrics}\"\ntls-ca-file = \"{d}/ca.crt\"\n\n[[watch]]\ndomain = \"dane.secure.example.\"\ntls = true\n"
        ),
    )
    .unwrap();
    let daemon =
        h.daemon(&["--config", watch.to_str().unwrap(), "--trust-anchor", h.anchor.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let series = |text: &str, service: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("lookaside_watch_tlsa_match{") && l.contains(&format!("service=\"{service}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    let text = loop {
        let mut s = std::net::TcpStream::connect(&metrics).ok();
        let mut text = String::new();
        if let Some(s) = s.as_mut() {
            let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
            let _ = s.read_to_string(&mut text);
        }
        if series(&text, "_xmpps-server._tcp").is_some() {
            break text;
        }
        assert!(Instant::now() < deadline, "no watch metrics: {text}\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    for service in ["_xmpp-client._tcp", "_xmpp-server._tcp", "_xmpps-client._tcp"] {
        assert_eq!(series(&text, service), Some(1.0), "{service}: {text}");
    }
    assert_eq!(series(&text, "_xmpps-server._tcp"), Some(0.0), "{text}");
    assert!(
        daemon.log().contains("DANE-TA") || daemon.log().contains("no TLSA record matches"),
        "{}",
        daemon.log()
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
