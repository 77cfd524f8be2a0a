//! Running it as a service: control socket commands, negative trust anchors with expiry, reload
//! by SIGHUP and by `ctl reload` (good and broken configurations, queries answered throughout),
//! sd-notify READY/STOPPING to a fake NOTIFY_SOCKET, and CHAOS answers.

mod harness;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use harness::{Hierarchy, Opts, ask};
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Message, flags};

macro_rules! hierarchy {
    () => {
        match Hierarchy::get() {
            Some(h) => h,
            None => return,
        }
    };
}

#[test]
fn ctl_status_flush_and_errors() {
    let h = hierarchy!();
    let d = h.daemon(&[]);
    ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    ask(d.addr, "www.expired.example.", rtype::A, Opts::default());
    let (code, out) = d.ctl(&["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("upstream {} healthy", h.unbound)), "{out}");
    // Secure: the harness's start-up probe (. NS) and www.secure.example.
    assert!(out.contains("answers secure 2 insecure 0 bogus 1 indeterminate 0"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("cache answers ") && !l.starts_with("cache answers 0 ")),
        "{out}"
    );
    let (code, out) = d.ctl(&["flush-bogus"]);
    assert_eq!(code, 0);
    assert!(out.contains("flushed 1 bogus"), "{out}");
    let (code, out) = d.ctl(&["flush", "secure.example."]);
    assert_eq!(code, 0);
    assert!(out.contains("flushed 1 answers at or below secure.example."), "{out}");
    let (code, _) = d.ctl(&["flush"]);
    assert_eq!(code, 0);
    let (code, out) = d.ctl(&["frobnicate"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown command"), "{out}");
}

#[test]
fn ctl_exits_3_when_the_daemon_is_not_running() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lookaside"))
        .args(["ctl", "--socket", "/nonexistent/lookaside.sock", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn negative_trust_anchor_makes_a_bogus_zone_insecure_until_it_expires() {
    let h = hierarchy!();
    let d = h.daemon(&[]);
    assert_eq!(ask(d.addr, "www.expired.example.", rtype::A, Opts::default()).rcode(), rcode::SERVFAIL);
    let (code, out) = d.ctl(&["nta", "add", "expired.example.", "--for", "2s"]);
    assert_eq!(code, 0, "{out}");
    let m = ask(d.addr, "www.expired.example.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::NOERROR);
    assert!(!m.has_flag(flags::AD));
    let (_, list) = d.ctl(&["nta", "list"]);
    assert!(list.contains("expired.example."), "{list}");
    std::thread::sleep(Duration::from_millis(2300));
    let (_, list) = d.ctl(&["nta", "list"]);
    assert!(!list.contains("expired.example."), "expired: {list}");
    // Bogus again (the failure cache was flushed when the anchor was added).
    assert_eq!(ask(d.addr, "www.expired.example.", rtype::A, Opts::default()).rcode(), rcode::SERVFAIL);
    // Add and remove by hand.
    d.ctl(&["nta", "add", "expired.example."]);
    assert_eq!(ask(d.addr, "www.expired.example.", rtype::A, Opts::default()).rcode(), rcode::NOERROR);
    let (code, _) = d.ctl(&["nta", "remove", "expired.example."]);
    assert_eq!(code, 0);
    assert_eq!(ask(d.addr, "www.expired.example.", rtype::A, Opts::default()).rcode(), rcode::SERVFAIL);
    let (code, out) = d.ctl(&["nta", "add", "expired.example.", "--for", "1y"]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn reload_swaps_configuration_and_keeps_the_old_one_when_broken() {
    let h = hierarchy!();
    let config = h.dir.join("reload.toml");
    let write = |nta: &str| {
        std::fs::write(
            &config,
            format!("trust-anchors = [\"{}\"]\nnegative-trust-anchors = [{nta}]\n", h.anchor.display()),
        )
        .unwrap()
    };
    write("");
    let d = h.daemon(&["--config", config.to_str().unwrap()]);
    assert_eq!(ask(d.addr, "www.nokey.example.", rtype::A, Opts::default()).rcode(), rcode::SERVFAIL);

    // A query stream runs during the reloads: every query must get an answer.
    let addr = d.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let m = ask(addr, "www.secure.example.", rtype::A, Opts::default());
                assert!(m.has_flag(flags::AD));
                answered += 1;
            }
            answered
        }
    });

    // By ctl: the new negative trust anchor applies.
    write("\"nokey.example.\"");
    let (code, out) = d.ctl(&["reload"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(ask(d.addr, "www.nokey.example.", rtype::A, Opts::default()).rcode(), rcode::NOERROR);

    // A broken file is reported and the running configuration stays.
    std::fs::write(&config, "trust-anchors = [\"/nonexistent/anchor\"]\n").unwrap();
    let (code, out) = d.ctl(&["reload"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reload failed") && out.contains("/nonexistent/anchor"), "{out}");
    assert_eq!(ask(d.addr, "www.nokey.example.", rtype::A, Opts::default()).rcode(), rcode::NOERROR);

    // By SIGHUP: back to no anchor, bogus again.
    write("");
    let status = std::process::Command::new("kill").args(["-HUP", &d.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while ask(d.addr, "www.nokey.example.", rtype::A, Opts::default()).rcode() != rcode::SERVFAIL {
        assert!(Instant::now() < deadline, "SIGHUP reload did not apply: {}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(stream.join().unwrap() > 0);
    assert!(d.log().contains("reload failed, keeping the running configuration"), "{}", d.log());
}

#[test]
fn sd_notify_ready_and_stopping() {
    let h = hierarchy!();
    let path = h.dir.join(format!("notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let d = h.daemon_env(&[], &[("NOTIFY_SOCKET", path.to_str().unwrap())]);
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    let status = std::process::Command::new("kill").args(["-TERM", &d.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let n = sock.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1"));
}

#[test]
fn chaos_version_and_identity() {
    let h = hierarchy!();
    let config = h.dir.join("chaos.toml");
    std::fs::write(
        &config,
        format!("trust-anchors = [\"{}\"]\nidentity = \"xmpp-host-1\"\n", h.anchor.display()),
    )
    .unwrap();
    let d = h.daemon(&["--config", config.to_str().unwrap()]);
    let txt = |name: &str| -> Message {
        let mut q = harness::query_bytes(5, name, rtype::TXT, Opts::default());
        // Class CH instead of IN.
        let at = q.len() - 11 - 2;
        q[at..at + 2].copy_from_slice(&rtype::CLASS_CH.to_be_bytes());
        Message::parse(&harness::udp_exchange(d.addr, &q, Duration::from_secs(3)).unwrap()).unwrap()
    };
    let m = txt("version.bind.");
    assert_eq!(m.rcode(), rcode::NOERROR);
    assert!(String::from_utf8_lossy(&m.answer[0].rdata).contains("lookaside"));
    let m = txt("id.server.");
    assert!(String::from_utf8_lossy(&m.answer[0].rdata).contains("xmpp-host-1"));
    let m = txt("other.bind.");
    assert_eq!(m.rcode(), rcode::REFUSED);
    // Hidden when asked to.
    let hidden = h.dir.join("chaos-hidden.toml");
    std::fs::write(&hidden, format!("trust-anchors = [\"{}\"]\nhide-version = true\n", h.anchor.display()))
        .unwrap();
    let d2 = h.daemon(&["--config", hidden.to_str().unwrap()]);
    let mut q = harness::query_bytes(5, "version.bind.", rtype::TXT, Opts::default());
    let at = q.len() - 11 - 2;
    q[at..at + 2].copy_from_slice(&rtype::CLASS_CH.to_be_bytes());
    let m = Message::parse(&harness::udp_exchange(d2.addr, &q, Duration::from_secs(3)).unwrap()).unwrap();
    assert_eq!(m.rcode(), rcode::REFUSED);
}
