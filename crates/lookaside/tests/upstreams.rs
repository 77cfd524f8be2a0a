//! Real upstreams and where queries go (issue: "Real upstreams"): forwarding by domain to a
//! second, private Unbound serving an unsigned internal zone, with dnssec "off" and "validate";
//! a forward target that never answers.

mod harness;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::{Guarded, Hierarchy, Opts, ask, ede, free_port, udp_exchange, wait_for};
use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::{Message, flags};

macro_rules! hierarchy {
    () => {
        match Hierarchy::get() {
            Some(h) => h,
            None => return,
        }
    };
}

/// An Unbound that knows only its own unsigned `corp.internal.` (local-zone static), as an
/// office's internal resolver would.
fn private_unbound(h: &Hierarchy, tag: &str) -> (Guarded, SocketAddr) {
    let port = free_port(&h.ip);
    let d = h.dir.join(format!("private-{tag}"));
    std::fs::create_dir_all(&d).unwrap();
    let conf = format!(
        "server:\n  interface: {ip}@{port}\n  port: {port}\n  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  \
         username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  \
         logfile: \"{d}/unbound.log\"\n  module-config: \"iterator\"\n  num-threads: 1\n  so-reuseport: no\n  \
         local-zone: \"corp.internal.\" static\n  \
         local-data: \"corp.internal. 300 IN SOA ns.corp.internal. admin.corp.internal. 1 3600 600 86400 300\"\n  \
         local-data: \"xmpp.corp.internal. 300 IN A 10.1.2.3\"\n  \
         local-data: \"_xmpp-client._tcp.corp.internal. 300 IN SRV 0 5 5222 xmpp.corp.internal.\"\n\
         remote-control:\n  control-enable: no\n",
        ip = h.ip,
        d = d.display()
    );
    let path = d.join("unbound.conf");
    std::fs::write(&path, conf).unwrap();
    let log = d.join("unbound.out");
    let guard = Guarded::spawn("unbound", "unbound", &["-d", "-c", path.to_str().unwrap()], &log);
    let addr: SocketAddr = format!("{}:{port}", h.ip).parse().unwrap();
    wait_for(addr, "corp.internal.", &log);
    (guard, addr)
}

type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// A UDP relay to `target` that counts queries by "name TYPE".
fn counting_relay(h: &Hierarchy, target: SocketAddr) -> (String, Counts) {
    let sock = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let addr = sock.local_addr().unwrap();
    let counts: Counts = Arc::default();
    let seen = counts.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            if let Ok(m) = Message::parse(&buf[..n])
                && let Some(q) = m.questions.first()
            {
                let key = format!("{} {}", q.name.to_string().to_lowercase(), rtype::type_name(q.qtype));
                *seen.lock().unwrap().entry(key).or_insert(0) += 1;
            }
            if let Some(reply) = udp_exchange(target, &buf[..n], Duration::from_secs(3)) {
                let _ = sock.send_to(&reply, peer);
            }
        }
    });
    (addr.to_string(), counts)
}

fn write_config(h: &Hierarchy, name: &str, body: &str) -> String {
    let path = h.dir.join(name);
    std::fs::write(&path, format!("trust-anchors = [\"{}\"]\n\n{body}", h.anchor.display())).unwrap();
    path.display().to_string()
}

fn lookaside(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lookaside")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_forwarded_internal_zone_with_dnssec_off_is_answered_insecure_by_policy() {
    let h = hierarchy!();
    let (_private, private) = private_unbound(h, "off");
    let (relay, counts) = counting_relay(h, private);
    // Without the forward, the signed root proves corp.internal. does not exist.
    let plain = h.daemon(&[]);
    let m = ask(plain.addr, "xmpp.corp.internal.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), 3);
    assert!(m.has_flag(flags::AD));
    let config = write_config(
        h,
        "forward-off.toml",
        &format!("[[forward]]\ndomain = \"corp.internal\"\nupstreams = [\"{relay}\"]\ndnssec = \"off\"\n"),
    );
    let d = h.daemon(&["--config", &config]);
    let ad = Opts { ad: true, ..Opts::default() };
    let m = ask(d.addr, "xmpp.corp.internal.", rtype::A, ad);
    assert_eq!(m.rcode(), 0, "{:?}", ede(&m));
    assert_eq!(m.answer.first().map(|r| r.rdata.clone()), Some(vec![10, 1, 2, 3]));
    assert!(!m.has_flag(flags::AD), "not validated, so not authenticated");
    let srv = ask(d.addr, "_xmpp-client._tcp.corp.internal.", rtype::SRV, ad);
    assert_eq!(srv.answer.len(), 1);
    // Everything else still goes to the default upstream, validated.
    assert!(ask(d.addr, "www.secure.example.", rtype::A, ad).has_flag(flags::AD));
    let c = counts.lock().unwrap().clone();
    assert!(c.keys().all(|k| k.contains("corp.internal")), "only the forwarded names went there: {c:?}");
    assert!(c.keys().all(|k| !k.ends_with(" DS") && !k.ends_with(" DNSKEY")), "no key lookups: {c:?}");
    // query and trace say why.
    let (_, out, _) = lookaside(&["query", "--config", &config, "xmpp.corp.internal", "A"]);
    assert!(out.contains("forwarded with dnssec = \"off\""), "{out}");
}

#[test]
fn a_forwarded_signed_zone_is_validated_with_its_own_upstreams() {
    let h = hierarchy!();
    let (relay, counts) = counting_relay(h, h.unbound);
    let forward = format!("secure.example={relay}");
    let d = h.daemon(&["--forward", &forward]);
    let m = ask(d.addr, "www.sub.secure.example.", rtype::A, Opts::default());
    assert!(m.has_flag(flags::AD), "{:?}", ede(&m));
    let c = counts.lock().unwrap().clone();
    assert_eq!(c.get("www.sub.secure.example. A"), Some(&1), "{c:?}");
    // Key lookups for names under the forwarded domain went there too; the root's did not.
    assert!(
        c.contains_key("sub.secure.example. DNSKEY") && c.contains_key("sub.secure.example. DS"),
        "{c:?}"
    );
    assert!(!c.contains_key(". DNSKEY") && !c.contains_key("example. DNSKEY"), "{c:?}");
    // The same zone with dnssec "off": the signed data is passed on without AD.
    let config = write_config(
        h,
        "forward-signed-off.toml",
        &format!(
            "[[forward]]\ndomain = \"secure.example\"\nupstreams = [\"{}\"]\ndnssec = \"off\"\n",
            h.unbound
        ),
    );
    let off = h.daemon(&["--config", &config]);
    let m = ask(off.addr, "www.secure.example.", rtype::A, Opts { ad: true, ..Opts::default() });
    assert_eq!(m.rcode(), 0);
    assert!(!m.has_flag(flags::AD));
}

#[test]
fn a_forward_target_that_never_answers_fails_only_its_own_names() {
    let h = hierarchy!();
    let silent = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let forward = format!("corp.internal={}", silent.local_addr().unwrap());
    let d = h.daemon(&["--forward", &forward]);
    let m = ask(d.addr, "xmpp.corp.internal.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), 2);
    let e = ede(&m);
    assert!(e.iter().any(|(code, text)| *code == 22 && text.contains("no answer")), "{e:?}");
    assert!(ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
}

#[test]
fn check_config_reports_duplicate_and_shadowed_forwards() {
    let h = hierarchy!();
    let dup = write_config(
        h,
        "forward-dup.toml",
        "[[forward]]\ndomain = \"corp.internal\"\nupstreams = [\"10.0.0.1\"]\n\n\
         [[forward]]\ndomain = \"CORP.internal.\"\nupstreams = [\"10.0.0.2\"]\n",
    );
    let (ok, _, err) = lookaside(&["check-config", &dup]);
    assert!(!ok && err.contains("corp.internal. is forwarded twice"), "{err}");
    let shadow = write_config(
        h,
        "forward-shadow.toml",
        "[[forward]]\ndomain = \"corp.internal\"\nupstreams = [\"10.0.0.1\"]\n\n\
         [[forward]]\ndomain = \"lab.corp.internal\"\nupstreams = [\"10.0.0.1\"]\n\n\
         [[forward]]\ndomain = \"dev.corp.internal\"\nupstreams = [\"10.0.0.1\"]\ndnssec = \"off\"\n",
    );
    let (ok, out, err) = lookaside(&["check-config", &shadow]);
    assert!(ok, "{err}");
    assert!(
        out.contains("warning: the forward for lab.corp.internal. is shadowed by the one for corp.internal."),
        "{out}"
    );
    assert!(!out.contains("dev.corp.internal. is shadowed"), "a different policy is not shadowed: {out}");
    let bad = write_config(
        h,
        "forward-bad.toml",
        "[[forward]]\ndomain = \"x.\"\nupstreams = [\"10.0.0.1\"]\ndnssec = \"maybe\"\n",
    );
    let (ok, _, err) = lookaside(&["check-config", &bad]);
    assert!(!ok && err.contains("use \"validate\" or \"off\""), "{err}");
}

/// A UDP relay to `target` that can be switched off (it then drops every query), as an
/// upstream that goes down.
fn switchable_relay(h: &Hierarchy, target: SocketAddr) -> (String, Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let sock = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let addr = sock.local_addr().unwrap();
    let up = Arc::new(AtomicBool::new(true));
    let on = up.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            if !on.load(Ordering::SeqCst) {
                continue;
            }
            if let Some(reply) = udp_exchange(target, &buf[..n], Duration::from_secs(3)) {
                let _ = sock.send_to(&reply, peer);
            }
        }
    });
    (addr.to_string(), up)
}

#[test]
fn rfc8767_secure_and_insecure_answers_are_served_stale_when_the_upstream_is_down() {
    let h = hierarchy!();
    let (relay, up) = switchable_relay(h, h.unbound);
    let config = write_config(h, "stale.toml", "[cache]\nmax-ttl = 2\nstale-answer-client-timeout = 300\n");
    let d = h.daemon(&["--config", &config, "--upstream", &relay]);
    let secure = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert!(secure.has_flag(flags::AD));
    let insecure = ask(d.addr, "www.unsigned.secure.example.", rtype::A, Opts::default());
    assert!(insecure.rcode() == 0 && !insecure.has_flag(flags::AD) && !insecure.answer.is_empty());
    let bogus = ask(d.addr, "www.expired.example.", rtype::A, Opts::default());
    assert_eq!(bogus.rcode(), 2);
    up.store(false, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2500));
    let stale_ede = |m: &Message| ede(m).iter().any(|(code, _)| *code == 3);
    let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), 0, "{:?}", ede(&m));
    assert!(m.has_flag(flags::AD), "stale secure data keeps AD");
    assert!(stale_ede(&m), "EDE 3: {:?}", ede(&m));
    assert!(!m.answer.is_empty() && m.answer.iter().all(|r| r.ttl <= 30), "{:?}", m.answer);
    let m = ask(d.addr, "www.unsigned.secure.example.", rtype::A, Opts::default());
    assert!(m.rcode() == 0 && !m.has_flag(flags::AD) && stale_ede(&m), "{:?}", ede(&m));
    // Never bogus data, never what was not cached.
    let m = ask(d.addr, "www.expired.example.", rtype::A, Opts::default());
    assert!(m.rcode() == 2 && !stale_ede(&m));
    let m = ask(d.addr, "nothere.secure.example.", rtype::TXT, Opts::default());
    assert!(m.rcode() == 2 && !stale_ede(&m));
    // The second ask in the hold-off is answered at once from the stale entry.
    let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert!(m.has_flag(flags::AD) && stale_ede(&m));
    let (_, status) = d.ctl(&["status"]);
    assert!(status.contains("stale 3"), "{status}");
}

#[test]
fn an_answer_asked_for_near_its_expiry_is_refreshed_in_the_background() {
    let h = hierarchy!();
    let (relay, counts) = counting_relay(h, h.unbound);
    let config = write_config(h, "prefetch.toml", "[cache]\nmax-ttl = 10\n");
    let d = h.daemon(&["--config", &config, "--upstream", &relay]);
    let asked = || counts.lock().unwrap().get("www.secure.example. A").copied().unwrap_or(0);
    assert!(ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
    assert_eq!(asked(), 1);
    // Halfway: a plain cache hit.
    std::thread::sleep(Duration::from_secs(5));
    ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert_eq!(asked(), 1);
    // In the last tenth of its TTL: answered from the cache, refreshed behind it.
    std::thread::sleep(Duration::from_millis(4200));
    let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert!(m.has_flag(flags::AD));
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(asked(), 2, "one refresh: {:?}", counts.lock().unwrap());
    // Past the old expiry the refreshed answer is there: no client waits for the upstream.
    std::thread::sleep(Duration::from_millis(1500));
    let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert!(m.has_flag(flags::AD));
    assert_eq!(asked(), 2, "answered from the refreshed entry");
    let (_, status) = d.ctl(&["status"]);
    assert!(status.contains("prefetches 1"), "{status}");
}
