//! Real upstreams and where queries go (issue: "Real upstreams"): forwarding by domain to a
//! second, private Unbound serving an unsigned internal zone, with dnssec "off" and "validate";
//! a forward target that never answers.

mod harness;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use harness::{
    Counts, Guarded, Hierarchy, Opts, ask, counting_relay, ede, free_port, udp_exchange, udp_relay, wait_for,
};
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
    let up = Arc::new(AtomicBool::new(true));
    let on = up.clone();
    let (addr, _) = udp_relay(h, move |q| {
        on.load(Ordering::SeqCst).then(|| udp_exchange(target, q, Duration::from_secs(3))).flatten()
    });
    (addr, up)
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

/// A UDP "upstream" that answers NXDOMAIN to everything, unsigned, as a resolver without
/// Internet access or a captive portal does.
fn nxdomain_upstream(h: &Hierarchy) -> (String, Counts) {
    udp_relay(h, |q| {
        let mut m = Message::parse(q).ok()?;
        m.flags = (m.flags & !0x000f) | flags::QR | flags::RA | 3;
        m.answer.clear();
        m.authority.clear();
        m.additional.clear();
        Some(m.to_wire())
    })
}

/// A UDP relay to Unbound that strips RRSIG, NSEC and NSEC3 records, as old home routers do.
fn stripping_relay(h: &Hierarchy) -> String {
    rewriting_relay(h, |_| {}, strip_dnssec, true)
}

/// A UDP relay to Unbound that rewrites each query (`query`) or reply (`reply`) on the way.
fn rewriting_relay(h: &Hierarchy, query: fn(&mut Message), reply: fn(&mut Message), forward: bool) -> String {
    counted_rewriting_relay(h, query, reply, forward).0
}

/// As [`rewriting_relay`], counting the queries by "name TYPE".
fn counted_rewriting_relay(
    h: &Hierarchy,
    query: fn(&mut Message),
    reply: fn(&mut Message),
    forward: bool,
) -> (String, Counts) {
    let target = h.unbound;
    udp_relay(h, move |raw| {
        let mut q = Message::parse(raw).ok()?;
        query(&mut q);
        let mut m = if forward {
            Message::parse(&udp_exchange(target, &q.to_wire(), Duration::from_secs(3))?).ok()?
        } else {
            q
        };
        reply(&mut m);
        Some(m.to_wire())
    })
}

/// A relay on one port for UDP and TCP in front of Unbound that truncates every UDP answer over
/// 512 octets, as an upstream with a 512-octet EDNS buffer does; TCP is relayed untouched.
fn small_edns_relay(h: &Hierarchy) -> String {
    use std::io::{Read, Write};
    let udp = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = std::net::TcpListener::bind(addr).unwrap();
    let target = h.unbound;
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = udp.recv_from(&mut buf) {
            let Some(reply) = udp_exchange(target, &buf[..n], Duration::from_secs(3)) else { continue };
            let Ok(mut m) = Message::parse(&reply) else { continue };
            if reply.len() > 512 {
                m.flags |= flags::TC;
                m.answer.clear();
                m.authority.clear();
                m.additional.clear();
            }
            let _ = udp.send_to(&m.to_wire(), peer);
        }
    });
    std::thread::spawn(move || {
        for client in tcp.incoming().flatten() {
            std::thread::spawn(move || {
                let mut client = client;
                let mut len = [0u8; 2];
                if client.read_exact(&mut len).is_err() {
                    return;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if client.read_exact(&mut q).is_err() {
                    return;
                }
                let Ok(mut up) = std::net::TcpStream::connect(target) else { return };
                let _ = up.write_all(&len);
                let _ = up.write_all(&q);
                let mut rlen = [0u8; 2];
                if up.read_exact(&mut rlen).is_err() {
                    return;
                }
                let mut r = vec![0u8; u16::from_be_bytes(rlen) as usize];
                if up.read_exact(&mut r).is_ok() {
                    let _ = client.write_all(&rlen);
                    let _ = client.write_all(&r);
                }
            });
        }
    });
    addr.to_string()
}

fn strip_dnssec(m: &mut Message) {
    for section in [&mut m.answer, &mut m.authority, &mut m.additional] {
        section.retain(|r| ![rtype::RRSIG, rtype::NSEC, rtype::NSEC3].contains(&r.rtype));
    }
}

fn clear_do(q: &mut Message) {
    if let Some(e) = q.edns.as_mut() {
        e.dnssec_ok = false;
    }
}

/// The broken upstreams of the field, each with the words its probe must find: (name, relay,
/// its query counts, the reason).
fn broken_upstreams(h: &Hierarchy) -> Vec<(&'static str, String, Counts, &'static str)> {
    let (liar, liar_counts) = nxdomain_upstream(h);
    let (stripper, strip_counts) = counted_rewriting_relay(h, |_| {}, strip_dnssec, true);
    let (no_do, no_do_counts) = counted_rewriting_relay(h, clear_do, |_| {}, true);
    vec![
        ("NXDOMAIN to everything", liar, liar_counts, "answered NXDOMAIN to . DNSKEY"),
        (
            "strips RRSIGs and proofs",
            stripper,
            strip_counts,
            "strips RRSIGs: . DNSKEY came without signatures",
        ),
        ("clears DO", no_do, no_do_counts, "cleared the DO bit"),
    ]
}

/// dnsmasq as a plain forwarder to Unbound (no --dnssec, no --proxy-dnssec), as many home
/// routers run it.
fn dnsmasq_forwarder(h: &Hierarchy) -> Option<(Guarded, String)> {
    let program = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].into_iter().find(|p| Path::new(p).exists())?;
    let port = free_port(&h.ip);
    let log = h.dir.join(format!("dnsmasq-{port}.log"));
    let server = format!("--server={}#{}", h.unbound.ip(), h.unbound.port());
    let listen = format!("--listen-address={}", h.ip);
    let port_arg = format!("--port={port}");
    let guard = Guarded::spawn(
        "dnsmasq",
        program,
        &[
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--conf-file=/dev/null",
            &listen,
            &port_arg,
            &server,
        ],
        &log,
    );
    let addr: SocketAddr = format!("{}:{port}", h.ip).parse().unwrap();
    wait_for(addr, "example.", &log);
    Some((guard, addr.to_string()))
}

fn probe_json(args: &[&str]) -> (bool, Vec<serde_json::Value>) {
    let mut all = vec!["probe", "--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = lookaside(&all);
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (ok, list)
}

fn verdict_of<'a>(list: &'a [serde_json::Value], upstream: &str) -> (&'a str, &'a str) {
    let v = list.iter().find(|v| v["upstream"] == upstream).unwrap_or_else(|| panic!("{upstream}: {list:?}"));
    (v["verdict"].as_str().unwrap(), v["reason"].as_str().unwrap())
}

#[test]
fn probe_tells_fit_degraded_unfit_and_unreachable_apart() {
    let h = hierarchy!();
    let good = h.unbound.to_string();
    let (liar, _) = nxdomain_upstream(h);
    let stripper = stripping_relay(h);
    let (udp_only, _) = counting_relay(h, h.unbound);
    let silent = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let dead = silent.local_addr().unwrap().to_string();
    let (ok, list) = probe_json(&[
        "--upstream",
        &good,
        "--upstream",
        &liar,
        "--upstream",
        &stripper,
        "--upstream",
        &udp_only,
        "--upstream",
        &dead,
    ]);
    assert!(ok, "one upstream is fit: exit status 0");
    assert_eq!(verdict_of(&list, &good), ("fit", ""));
    let (v, why) = verdict_of(&list, &liar);
    assert_eq!((v, why), ("unfit", "answered NXDOMAIN to . DNSKEY"));
    let (v, why) = verdict_of(&list, &stripper);
    assert!(v == "unfit" && why.contains("strips RRSIGs"), "{v}: {why}");
    let (v, why) = verdict_of(&list, &udp_only);
    assert!(v == "degraded" && why.contains("no answer over TCP"), "{v}: {why}");
    let (v, why) = verdict_of(&list, &dead);
    assert!(v == "unreachable" && why.contains("no reply"), "{v}: {why}");
    // The fit one's checks all pass or are skipped with a reason.
    let fit = list.iter().find(|v| v["upstream"] == good.as_str()).unwrap();
    assert!(fit["checks"].as_array().unwrap().iter().all(|c| c["result"] != "fail"), "{fit}");
    // A resolver that clears DO, one that truncates everything and has no TCP.
    let no_do = rewriting_relay(
        h,
        |q| {
            if let Some(e) = q.edns.as_mut() {
                e.dnssec_ok = false
            }
        },
        |_| {},
        true,
    );
    let truncating = rewriting_relay(
        h,
        |_| {},
        |m| {
            m.flags |= flags::QR | flags::TC;
            m.answer.clear();
        },
        false,
    );
    let no_cd = rewriting_relay(h, |_| {}, |m| m.flags &= !flags::CD, true);
    // A small EDNS buffer: the DNSKEY set (under 1232 octets) comes truncated, TCP works.
    let small = small_edns_relay(h);
    let (_, list) = probe_json(&["--upstream", &small]);
    let (v, why) = verdict_of(&list, &small);
    assert!(v == "degraded" && why.starts_with("small EDNS buffer: truncated"), "{v}: {why}");
    let (_, list) = probe_json(&["--upstream", &no_do, "--upstream", &truncating, "--upstream", &no_cd]);
    assert_eq!(verdict_of(&list, &no_cd).0, "degraded");
    let checks = &list.iter().find(|v| v["upstream"] == no_cd.as_str()).unwrap()["checks"];
    let cd =
        checks.as_array().unwrap().iter().find(|c| c["check"].as_str().unwrap().starts_with("CD")).unwrap();
    assert!(cd["result"] == "fail" && cd["detail"].as_str().unwrap().contains("drops the CD bit"), "{cd}");
    let (v, why) = verdict_of(&list, &no_do);
    assert!(v == "unfit" && why.contains("cleared the DO bit"), "{v}: {why}");
    let (v, why) = verdict_of(&list, &truncating);
    assert!(v == "unfit" && why.contains("truncates . DNSKEY over UDP and has no TCP"), "{v}: {why}");
    // dnsmasq 2.90 as a plain forwarder passes DO, signatures and proofs through, over UDP
    // and TCP: fit (measured; older firmware dnsmasq builds are the ones that strip).
    if let Some((_dnsmasq, addr)) = dnsmasq_forwarder(h) {
        let (_, list) = probe_json(&["--upstream", &addr]);
        assert_eq!(verdict_of(&list, &addr), ("fit", ""));
    }
    // Text form, and exit status 2 when none is fit.
    let (ok, out, _) = lookaside(&["probe", "--upstream", &liar, "--upstream", &stripper]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("upstream {liar}: unfit: answered NXDOMAIN to . DNSKEY")), "{out}");
    assert!(out.contains("  FAIL  . DNSKEY over UDP with DO"), "{out}");
}

fn wait_for_probe(d: &harness::Daemon, upstream: &str, verdict: &str) {
    for _ in 0..100 {
        let (_, status) = d.ctl(&["status"]);
        if status.lines().any(|l| {
            l.starts_with(&format!("upstream {upstream} ")) && l.contains(&format!("probe={verdict}"))
        }) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no probe verdict {verdict} for {upstream}: {}", d.ctl(&["status"]).1);
}

#[test]
fn unfit_upstreams_are_quarantined_while_a_fit_one_exists() {
    let h = hierarchy!();
    let good = h.unbound.to_string();
    for (kind, bad, counts, _) in broken_upstreams(h) {
        let d = h.daemon(&["--upstream", &bad, "--upstream", &good]);
        wait_for_probe(&d, &bad, "unfit");
        wait_for_probe(&d, &good, "fit");
        let before: usize = counts.lock().unwrap().values().sum();
        let names = [
            ("www.secure.example.", rtype::A),
            ("_xmpp-server._tcp.secure.example.", rtype::SRV),
            ("_5269._tcp.xmpp.secure.example.", rtype::TLSA),
            ("www.sub.secure.example.", rtype::A),
            ("nothere.secure.example.", rtype::A),
            ("www.nsec3.example.", rtype::AAAA),
            ("nothere.nsec3.example.", rtype::A),
        ];
        for (name, qtype) in names {
            let m = ask(d.addr, name, qtype, Opts::default());
            assert!(m.has_flag(flags::AD), "{kind}: {name}: rcode {} {:?}", m.rcode(), ede(&m));
        }
        let after: usize = counts.lock().unwrap().values().sum();
        assert_eq!(after, before, "{kind}: no query to it after its probe: {:?}", counts.lock().unwrap());
    }
}

#[test]
fn with_only_an_unfit_upstream_the_error_names_it() {
    let h = hierarchy!();
    for (kind, bad, _, reason) in broken_upstreams(h) {
        let d = h.daemon(&["--upstream", &bad]);
        wait_for_probe(&d, &bad, "unfit");
        let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
        assert_eq!(m.rcode(), 2, "{kind}");
        let e = ede(&m);
        let expected = format!("upstream {bad} does not serve DNSSEC data ({reason}");
        assert!(e.iter().any(|(code, text)| *code == 23 && text.contains(&expected)), "{kind}: {e:?}");
        assert!(d.log().contains(&format!("upstream probe: unfit: {reason}")), "{kind}: {}", d.log());
    }
}

#[test]
fn an_upstream_that_starts_stripping_is_probed_again_and_named() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let h = hierarchy!();
    // Honest at first; later it strips RRSIGs, NSEC and NSEC3 (a router's firmware update).
    let strip = Arc::new(AtomicBool::new(false));
    let (stripping, target) = (strip.clone(), h.unbound);
    let (relay, _) = udp_relay(h, move |q| {
        let mut m = Message::parse(&udp_exchange(target, q, Duration::from_secs(3))?).ok()?;
        if stripping.load(Ordering::SeqCst) {
            strip_dnssec(&mut m);
        }
        Some(m.to_wire())
    });
    let d = h.daemon(&["--upstream", &relay]);
    wait_for_probe(&d, &relay, "degraded"); // usable; UDP only, so no TCP
    assert!(ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
    strip.store(true, Ordering::SeqCst);
    for i in 0..5 {
        let m = ask(d.addr, &format!("n{i}.secure.example."), rtype::A, Opts::default());
        assert_eq!(m.rcode(), 2, "{:?}", ede(&m));
    }
    // Five failures in a row that look like its doing: probed again at once, found unfit.
    wait_for_probe(&d, &relay, "unfit");
    let m = ask(d.addr, "www.sub.secure.example.", rtype::A, Opts::default());
    let e = ede(&m);
    assert!(
        e.iter().any(|(code, text)| *code == 23
            && text.contains(&format!("upstream {relay} does not serve DNSSEC data (strips RRSIGs"))),
        "{e:?}"
    );
    assert!(d.log().contains("lacked DNSSEC records: probing it again"), "{}", d.log());
}

#[test]
fn rfc8767_5_the_refresh_goes_on_after_the_stale_answer_is_sent() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let h = hierarchy!();
    // An upstream that turns slow: slower than the client's patience, not dead.
    let sock = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let relay = sock.local_addr().unwrap().to_string();
    let delay_ms = Arc::new(AtomicU64::new(0));
    let (delay, target) = (delay_ms.clone(), h.unbound);
    let sock = Arc::new(sock);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let (query, sock, wait) = (buf[..n].to_vec(), sock.clone(), delay.load(Ordering::SeqCst));
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(wait));
                if let Some(reply) = udp_exchange(target, &query, Duration::from_secs(3)) {
                    let _ = sock.send_to(&reply, peer);
                }
            });
        }
    });
    let config =
        write_config(h, "stale-refresh.toml", "[cache]\nmax-ttl = 2\nstale-answer-client-timeout = 200\n");
    let d = h.daemon(&["--config", &config, "--upstream", &relay]);
    assert!(ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
    delay_ms.store(700, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2500));
    let stale = |m: &Message| ede(m).iter().any(|(code, _)| *code == 3);
    let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert!(m.has_flag(flags::AD) && stale(&m), "served stale while the upstream is slow: {:?}", ede(&m));
    // The refresh was not abandoned: a fresh answer arrives well before the 30 s hold-off ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
        if !stale(&m) {
            assert!(m.has_flag(flags::AD));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still stale: the refresh was dropped");
        std::thread::sleep(Duration::from_millis(200));
    }
}
