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
    // Configured and run-time negative anchors are one list, and `nta list` shows both.
    d.ctl(&["nta", "add", "expired.example.", "--for", "1h"]);
    let (_, list) = d.ctl(&["nta", "list"]);
    assert!(list.lines().any(|l| l == "nokey.example. configured"), "{list}");
    assert!(list.lines().any(|l| l.starts_with("expired.example. ") && l.ends_with(" s")), "{list}");
    let (code, out) = d.ctl(&["nta", "remove", "nokey.example."]);
    assert_eq!(code, 1, "configured anchors leave by reload: {out}");

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

fn scrape(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

/// The value of a sample `name{labels}` in Prometheus text exposition format.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (key, value) = l.rsplit_once(' ')?;
        (key == name_and_labels).then(|| value.parse().ok()).flatten()
    })
}

#[test]
fn prometheus_endpoint_counts_queries_and_verdicts() {
    let h = hierarchy!();
    let port = harness::free_port(&h.ip);
    let metrics: std::net::SocketAddr = format!("{}:{port}", h.ip).parse().unwrap();
    let config = h.dir.join("metrics.toml");
    std::fs::write(
        &config,
        format!("trust-anchors = [\"{}\"]\nmetrics-listen = \"{metrics}\"\n", h.anchor.display()),
    )
    .unwrap();
    let d = h.daemon(&["--config", config.to_str().unwrap()]);
    ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    ask(d.addr, "www.expired.example.", rtype::A, Opts::default());
    let first = scrape(metrics);
    assert!(first.contains("200 OK"), "{first}");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(&first, &format!("lookaside_build_info{{version=\"{version}\"}}")),
        Some(1.0),
        "{first}"
    );
    let udp = sample(&first, "lookaside_queries_total{protocol=\"udp\"}").unwrap();
    assert!(sample(&first, "lookaside_answers_total{verdict=\"bogus\"}").unwrap() >= 1.0, "{first}");
    assert!(sample(&first, "lookaside_ede_total{code=\"7\"}").unwrap() >= 1.0, "{first}");
    assert!(sample(&first, "lookaside_signature_checks_total").unwrap() >= 1.0, "{first}");
    assert!(first.contains("lookaside_upstream_latency_seconds"), "{first}");
    assert!(sample(&first, "lookaside_responses_total{rcode=\"SERVFAIL\"}").unwrap() >= 1.0, "{first}");
    ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    let second = scrape(metrics);
    assert_eq!(sample(&second, "lookaside_queries_total{protocol=\"udp\"}").unwrap(), udp + 1.0);
    assert!(sample(&second, "lookaside_cache_hits_total").unwrap() >= 1.0, "{second}");
}

#[test]
fn root_drops_to_the_configured_user_after_binding() {
    let h = hierarchy!();
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let config = h.dir.join("user.toml");
    std::fs::write(&config, format!("trust-anchors = [\"{}\"]\nuser = \"nobody\"\n", h.anchor.display()))
        .unwrap();
    let d = h.daemon(&["--config", config.to_str().unwrap()]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid.split_whitespace().skip(1).all(|u| u == "65534"), "{uid}");
    assert!(ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
    assert!(d.log().contains("dropped root privileges"));
}

#[test]
fn systemd_socket_activation() {
    use std::os::unix::io::AsRawFd;
    use std::os::unix::process::CommandExt;
    let h = hierarchy!();
    let port = harness::free_port(&h.ip);
    let addr: std::net::SocketAddr = format!("{}:{port}", h.ip).parse().unwrap();
    let udp = std::net::UdpSocket::bind(addr).unwrap();
    let tcp = std::net::TcpListener::bind(addr).unwrap();
    let (ufd, tfd) = (udp.as_raw_fd(), tcp.as_raw_fd());
    let control = h.dir.join("activated.sock");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=2 exec \"$0\" serve --upstream \"$1\" --trust-anchor \"$2\" --control-socket \"$3\"")
        .arg(env!("CARGO_BIN_EXE_lookaside"))
        .arg(h.unbound.to_string())
        .arg(&h.anchor)
        .arg(&control)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(h.dir.join("activated.log")).unwrap());
    // SAFETY: only dup2 and fcntl, which are async-signal-safe, between fork and exec. Through
    // high numbers first, in case a source descriptor is 3 or 4 itself.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(ufd, 100) < 0
                || libc::dup2(tfd, 101) < 0
                || libc::dup2(100, 3) < 0
                || libc::dup2(101, 4) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(100);
            libc::close(101);
            Ok(())
        });
    }
    /// Kills the daemon even when an assertion fails first.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = KillOnDrop(cmd.spawn().unwrap());
    drop((udp, tcp));
    let deadline = Instant::now() + Duration::from_secs(10);
    let answered = loop {
        let q = harness::query_bytes(9, "www.secure.example.", rtype::A, Opts::default());
        if let Some(r) = harness::udp_exchange(addr, &q, Duration::from_millis(300)) {
            break Message::parse(&r).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no answer on the inherited socket: {}",
            std::fs::read_to_string(h.dir.join("activated.log")).unwrap_or_default()
        );
    };
    let tcp_answer = Message::parse(&harness::tcp_exchange(
        addr,
        &harness::query_bytes(10, "www.secure.example.", rtype::A, Opts::default()),
    ))
    .unwrap();
    drop(child);
    assert!(answered.has_flag(flags::AD));
    assert!(tcp_answer.has_flag(flags::AD));
}

#[test]
fn rfc5011_state_is_seeded_kept_and_used_across_restarts() {
    let h = hierarchy!();
    let state = h.dir.join("state-5011");
    let _ = std::fs::remove_dir_all(&state);
    let config = h.dir.join("autotrust.toml");
    std::fs::write(
        &config,
        format!(
            "trust-anchors = [\"{}\"]\nauto-trust = true\nauto-trust-interval = 1\nstate-directory = \"{}\"\n",
            h.anchor.display(),
            state.display()
        ),
    )
    .unwrap();
    let file = state.join("root.5011");
    {
        let d = h.daemon(&["--config", config.to_str().unwrap()]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !file.exists() {
            assert!(Instant::now() < deadline, "no RFC 5011 state written: {}", d.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // The test root's KSK (the one its DS names) is trusted.
        let ds_tag =
            std::fs::read_to_string(&h.anchor).unwrap().split_whitespace().nth(4).unwrap().to_string();
        assert!(
            text.lines().any(|l| l.starts_with("valid ") && l.ends_with(&format!("key tag {ds_tag}"))),
            "{text}"
        );
    }
    // Restarted with the state file: the root anchor now comes from it, and still validates.
    let d = h.daemon(&["--config", config.to_str().unwrap()]);
    assert!(ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lookaside"))
        .args(["check-config"])
        .arg(&config)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("trust anchor . (DNSKEY"), "{out}");
}

#[test]
fn negative_trust_anchor_is_removed_once_the_zone_validates() {
    let h = hierarchy!();
    let config = h.dir.join("recheck.toml");
    std::fs::write(
        &config,
        format!("trust-anchors = [\"{}\"]\nnta-recheck-interval = 1\n", h.anchor.display()),
    )
    .unwrap();
    let d = h.daemon(&["--config", config.to_str().unwrap()]);
    // secure.example. validates: its anchor goes at the next recheck; expired.example.'s stays.
    d.ctl(&["nta", "add", "secure.example."]);
    d.ctl(&["nta", "add", "expired.example."]);
    assert!(!ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = d.ctl(&["nta", "list"]);
        if !list.contains("secure.example.\t") && !list.lines().any(|l| l.starts_with("secure.example. ")) {
            assert!(list.contains("expired.example."), "{list}");
            break;
        }
        assert!(Instant::now() < deadline, "not rechecked: {list}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(ask(d.addr, "www.secure.example.", rtype::A, Opts::default()).has_flag(flags::AD));
    assert!(d.log().contains("negative trust anchor removed: the zone validates again"));
}

#[test]
fn rfc5011_also_tracks_anchors_marked_auto() {
    let h = hierarchy!();
    let state = h.dir.join("state-5011-auto");
    let _ = std::fs::remove_dir_all(&state);
    let config = h.dir.join("autotrust-zone.toml");
    let island = h.dir.join("zones/dlv2.example.ds");
    std::fs::write(
        &config,
        format!(
            "trust-anchors = [\"{}\", \"{}\"]\nauto-trust-anchors = [\"dlv2.example.\"]\nauto-trust-interval = 1\nstate-directory = \"{}\"\n",
            h.anchor.display(),
            island.display(),
            state.display()
        ),
    )
    .unwrap();
    let d = h.daemon(&["--config", config.to_str().unwrap()]);
    let file = state.join("dlv2.example.5011");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(Instant::now() < deadline, "no state for dlv2.example.: {}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(std::fs::read_to_string(&file).unwrap().lines().any(|l| l.starts_with("valid ")));
    // The root is not tracked here: a root anchor file is the operator's to keep.
    assert!(!state.join("root.5011").exists());
}

#[test]
fn sigterm_lets_queries_in_flight_finish() {
    let h = hierarchy!();
    // A silent upstream keeps the query in flight for the upstream timeout.
    let silent = std::net::UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let config = h.dir.join("drain.toml");
    std::fs::write(
        &config,
        format!("trust-anchors = [\"{}\"]\n[limits]\nupstream-timeout-ms = 1500\n", h.anchor.display()),
    )
    .unwrap();
    let d = h.daemon(&[
        "--config",
        config.to_str().unwrap(),
        "--upstream",
        &silent.local_addr().unwrap().to_string(),
    ]);
    std::thread::sleep(Duration::from_millis(1700)); // the harness's start-up probe gives up
    let addr = d.addr;
    let pending = std::thread::spawn(move || {
        harness::udp_exchange(
            addr,
            &harness::query_bytes(3, "www.secure.example.", rtype::A, Opts::default()),
            Duration::from_secs(5),
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let pid = d.pid();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    let reply = pending.join().unwrap().expect("the query in flight is answered before exit");
    assert_eq!(Message::parse(&reply).unwrap().rcode(), rcode::SERVFAIL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(d.log().contains("terminated, exiting"), "{}", d.log());
}
