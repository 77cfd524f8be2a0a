//! The software users put behind lookaside, driven for real against the daemon and the signed
//! hierarchy: libunbound (unbound-host, and lua-unbound as Prosody and Snikket load it), Erlang's
//! resolver (as ejabberd uses it), glibc (res_query and getaddrinfo, in a private mount namespace
//! with its own resolv.conf) and delv. The client configurations are the files of config/, which
//! docs/deploying.md quotes; the tests substitute only addresses and anchors.

mod harness;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness::{Daemon, Hierarchy, repo_root, udp_exchange};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::wire::Message;

macro_rules! hierarchy {
    () => {
        match Hierarchy::get() {
            Some(h) => h,
            None => return,
        }
    };
}

fn config_file(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("config").join(name)).unwrap()
}

fn write(h: &Hierarchy, name: &str, text: &str) -> PathBuf {
    let p = h.dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// config/libunbound.conf, forwarding to `addr` with the test root as anchor.
fn libunbound_conf(h: &Hierarchy, addr: SocketAddr, tcp: bool) -> PathBuf {
    let mut text = config_file("libunbound.conf")
        .replace("/usr/share/dns/root.ds", &h.anchor.display().to_string())
        .replace("127.0.0.1@53", &format!("{}@{}", addr.ip(), addr.port()));
    text = text.replace("server:\n", "server:\n  do-not-query-localhost: no\n");
    if tcp {
        text = text.replace("server:\n", "server:\n  tcp-upstream: yes\n");
    }
    write(h, if tcp { "libunbound-tcp.conf" } else { "libunbound.conf" }, &text)
}

#[test]
fn docs_quote_the_config_files_the_tests_use() {
    let docs = std::fs::read_to_string(repo_root().join("docs/deploying.md")).unwrap();
    for f in ["resolv.conf", "prosody.cfg.lua", "libunbound.conf", "inetrc"] {
        assert!(docs.contains(config_file(f).trim_end()), "docs/deploying.md quotes config/{f} verbatim");
    }
}

#[test]
fn libunbound_validates_again_behind_lookaside_over_udp_and_tcp() {
    let h = hierarchy!();
    let d = h.daemon(&[]);
    for tcp in [false, true] {
        let conf = libunbound_conf(h, d.addr, tcp);
        let host = |name: &str, t: &str| {
            sh(Command::new("unbound-host").arg("-C").arg(&conf).args(["-v", "-t", t, name]))
        };
        for (name, t) in [
            (".", "NS"),
            (".", "DNSKEY"),
            ("_xmpp-server._tcp.secure.example.", "SRV"),
            ("xmpp.secure.example.", "A"),
            ("xmpp.secure.example.", "AAAA"),
            ("_5269._tcp.xmpp.secure.example.", "TLSA"),
            ("nothere.secure.example.", "A"),
        ] {
            let out = host(name, t);
            assert!(out.contains("(secure)"), "tcp={tcp} {name} {t}: {out}");
        }
        let out = host("www.insecure.example.", "A");
        assert!(out.contains("(insecure)"), "tcp={tcp}: {out}");
        let out = host("www.expired.example.", "A");
        assert!(out.contains("BOGUS"), "tcp={tcp}: {out}");
    }
}

/// Snikket's start-up probe and Prosody's lookups, through lua-unbound reading a resolv.conf that
/// names lookaside (on port 53, which is all resolv.conf can say).
#[test]
fn lua_unbound_as_prosody_and_snikket_use_it() {
    let h = hierarchy!();
    let d = h.daemon_on_53(&["--trust-anchor", &h.anchor.display().to_string()]);
    let resolv = write(
        h,
        "resolv-lua.conf",
        &config_file("resolv.conf").replace("127.0.0.1", &d.addr.ip().to_string()),
    );
    let script = write(
        h,
        "probe.lua",
        r#"
local lunbound = require "lunbound"
local ub = lunbound.new{ resolvconf = arg[1], trustfile = arg[2], hoststxt = false }
local function show(name, qtype)
  local r = ub:resolve(name, qtype)
  local verdict = r.secure and "secure" or (r.bogus and "bogus" or "insecure")
  print(name, qtype, verdict, r.rcode, r.havedata)
end
-- Snikket: resolve "." (type A: a NODATA at the root) must be secure.
show(".", 1)
show("_xmpp-server._tcp.secure.example.", 33)
show("xmpp.secure.example.", 1)
show("_5269._tcp.xmpp.secure.example.", 52)
show("www.insecure.example.", 1)
show("www.expired.example.", 1)
"#,
    );
    let out = sh(Command::new("lua5.4").arg(&script).arg(&resolv).arg(&h.anchor));
    let line = |prefix: &str| {
        out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {out}")).to_string()
    };
    line(".\t1\tsecure\t0");
    assert!(line("_xmpp-server._tcp.secure.example.\t33\tsecure").contains("true"), "{out}");
    assert!(line("xmpp.secure.example.\t1\tsecure").contains("true"), "{out}");
    assert!(line("_5269._tcp.xmpp.secure.example.\t52\tsecure").contains("true"), "{out}");
    line("www.insecure.example.\t1\tinsecure");
    line("www.expired.example.\t1\tbogus");
}

/// A relay in front of Unbound that upper-cases the question and every owner name of the
/// answers, like servers that answer YAX.IM to yax.im.
fn upper_casing_relay(h: &Hierarchy) -> SocketAddr {
    let sock = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let addr = sock.local_addr().unwrap();
    let unbound = h.unbound;
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let Some(reply) = udp_exchange(unbound, &buf[..n], Duration::from_secs(3)) else { continue };
            let Ok(mut m) = Message::parse(&reply) else { continue };
            let upper = |n: &Name| Name::parse(&n.to_string().to_uppercase()).unwrap();
            for q in &mut m.questions {
                q.name = upper(&q.name);
            }
            for r in m.answer.iter_mut().chain(m.authority.iter_mut()) {
                r.owner = upper(&r.owner);
            }
            let _ = sock.send_to(&m.to_wire(), peer);
        }
    });
    addr
}

/// Runs Erlang with config/inetrc (ERL_INETRC) pointed at the daemon.
fn erlang(h: &Hierarchy, d: &Daemon, body: &str) -> String {
    let ip = d.addr.ip().to_string().replace('.', ",");
    let inetrc = config_file("inetrc").replace("{127,0,0,1}, 53", &format!("{{{ip}}}, {}", d.addr.port()));
    assert!(inetrc.contains(&d.addr.port().to_string()), "config/inetrc names a nameserver");
    let path = write(h, "inetrc", &inetrc);
    let script = format!("Opts = [{{timeout, 5000}}], {body} halt().");
    // A crashing `erl` writes erl_crash.dump into the working directory (the crate, under
    // cargo test): send it to the test's own work directory instead.
    let dump = write(h, "erl_crash.dump", "");
    sh(Command::new("erl")
        .env("ERL_INETRC", path)
        .env("ERL_CRASH_DUMP", dump)
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .args(["-noshell", "-eval", &script]))
}

#[test]
fn erlang_inet_res_as_ejabberd_uses_it() {
    let h = hierarchy!();
    let relay = upper_casing_relay(h);
    // The relay upper-cases the question too, so it cannot take part in 0x20, and it has no TCP
    // for the retry: exempt it, as an operator would (`no-0x20`).
    let config = write(h, "no-0x20.toml", &format!("no-0x20 = [\"{}\"]\n", relay.ip()));
    let d = h.daemon(&[
        "--upstream",
        &relay.to_string(),
        "--config",
        config.to_str().unwrap(),
        "--trust-anchor",
        &h.anchor.display().to_string(),
    ]);
    let out = erlang(
        h,
        &d,
        r#"io:format("srv ~p~n", [inet_res:lookup("_xmpp-server._tcp.secure.example", in, srv, Opts)]),
           io:format("a ~p~n", [inet_res:lookup("xmpp.secure.example", in, a, Opts)]),
           io:format("aaaa ~p~n", [inet_res:lookup("www.secure.example", in, aaaa, Opts)]),
           io:format("big ~p~n", [length(inet_res:lookup("big.secure.example", in, txt, Opts))]),
           io:format("bogus ~p~n", [element(1, element(2, inet_res:resolve("www.expired.example", in, a, Opts)))]),"#,
    );
    assert!(out.contains("srv [{5,0,5269,\"xmpp.secure.example\"}]"), "{out}");
    assert!(out.contains("a [{127,0,0,1}]"), "{out}");
    assert!(out.contains("aaaa [{8193,3512,0,0,0,0,0,2}]"), "{out}");
    // Over 512 bytes without EDNS: truncated over UDP, then fetched over TCP by inet_res.
    assert!(out.contains("big 2"), "{out}");
    assert!(out.contains("bogus servfail"), "{out}");
}

fn glibc_probe(h: &Hierarchy) -> PathBuf {
    let src = write(
        h,
        "resq.c",
        r#"#include <stdio.h>
#include <string.h>
#include <netdb.h>
#include <resolv.h>
#include <arpa/nameser.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    unsigned char buf[4096];
    res_init();
    int n = res_query(argv[1], C_IN, T_A, buf, sizeof buf);
    if (n < 0) printf("res_query failed\n");
    else printf("res_query ok ad=%d\n", ((HEADER *)buf)->ad);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    printf("getaddrinfo %s\n", getaddrinfo(argv[1], NULL, &hints, &ai) == 0 ? "ok" : "failed");
    return 0;
}
"#,
    );
    let bin = h.dir.join("resq");
    let out = Command::new("gcc").arg("-o").arg(&bin).arg(&src).arg("-lresolv").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    bin
}

#[test]
fn glibc_passes_ad_with_trust_ad() {
    let h = hierarchy!();
    let d = h.daemon_on_53(&["--trust-anchor", &h.anchor.display().to_string()]);
    let resolv = write(
        h,
        "resolv-glibc.conf",
        &config_file("resolv.conf").replace("127.0.0.1", &d.addr.ip().to_string()),
    );
    let bin = glibc_probe(h);
    let run = |name: &str| -> String {
        // glibc reads only /etc/resolv.conf: give this process its own, in a private mount namespace.
        sh(Command::new("unshare").args(["-m", "sh", "-c"]).arg(format!(
            "mount --bind {} /etc/resolv.conf && exec {} {name}",
            resolv.display(),
            bin.display()
        )))
    };
    let out = run("www.secure.example");
    assert!(out.contains("res_query ok ad=1") && out.contains("getaddrinfo ok"), "{out}");
    let out = run("www.insecure.example");
    assert!(out.contains("res_query ok ad=0") && out.contains("getaddrinfo ok"), "{out}");
    let out = run("www.expired.example");
    assert!(out.contains("res_query failed") && out.contains("getaddrinfo failed"), "{out}");
}

fn delv(d: &Daemon, anchors: &Path, args: &[&str]) -> String {
    sh(Command::new("delv")
        .arg(format!("@{}", d.addr.ip()))
        .args(["-p", &d.addr.port().to_string(), "-a"])
        .arg(anchors)
        .arg("+root")
        .args(args))
}

#[test]
fn delv_fully_validates_what_lookaside_passes_on() {
    let h = hierarchy!();
    let d = h.daemon(&[]);
    let ds = std::fs::read_to_string(&h.anchor).unwrap();
    let f: Vec<&str> = ds.split_whitespace().collect();
    let n = f.len();
    let anchors = write(
        h,
        "delv.anchors",
        &format!(
            "trust-anchors {{\n  . static-ds {} {} {} \"{}\";\n}};\n",
            f[n - 4],
            f[n - 3],
            f[n - 2],
            f[n - 1]
        ),
    );
    let out = delv(&d, &anchors, &["www.secure.example.", "A"]);
    assert!(out.contains("; fully validated"), "{out}");
    let out = delv(&d, &anchors, &["nothere.secure.example.", "A"]);
    assert!(out.contains("; negative response, fully validated"), "NXDOMAIN: {out}");
    let out = delv(&d, &anchors, &["www.secure.example.", "MX"]);
    assert!(out.contains("; negative response, fully validated"), "NODATA: {out}");
    let out = delv(&d, &anchors, &["nothere.nsec3.example.", "A"]);
    assert!(out.contains("; negative response, fully validated"), "NSEC3 NXDOMAIN: {out}");
    let out = delv(&d, &anchors, &["www.insecure.example.", "A"]);
    assert!(out.contains("; unsigned answer"), "insecure delegation: {out}");
}
