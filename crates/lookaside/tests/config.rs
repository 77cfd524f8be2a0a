//! `lookaside check-config` on the shipped configuration and on broken files: exit 0 or 1, and
//! errors that name the file and the line.

use std::path::Path;
use std::process::Command;

fn check(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lookaside")).arg("check-config").arg(file).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lookaside-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn shipped_config_is_accepted_and_printed_with_defaults() {
    let (ok, out) = check(&repo().join("config/lookaside.toml"));
    assert!(ok, "{out}");
    assert!(out.contains("listen = [\"127.0.0.1:53\", \"[::1]:53\"]"), "{out}");
    assert!(out.contains("trust anchor . (DS 20326, DS 38696)"), "{out}");
    assert!(out.contains("bogus-ttl = 30 s"), "{out}");
}

#[test]
fn docker_config_is_accepted() {
    let (ok, out) = check(&repo().join("config/docker.toml"));
    assert!(ok, "{out}");
    assert!(out.contains("listen = [\"0.0.0.0:53\", \"[::]:53\"]"), "{out}");
}

#[test]
fn systemd_units_have_what_the_service_needs() {
    let service = std::fs::read_to_string(repo().join("config/systemd/lookaside.service")).unwrap();
    for needle in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "SystemCallFilter=@system-service",
        "RuntimeDirectory=lookaside",
        "User=lookaside",
    ] {
        assert!(service.lines().any(|l| l.trim() == needle || l.starts_with(needle)), "{needle}");
    }
    let exec = service.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    assert!(exec.contains(" serve --config /etc/lookaside/lookaside.toml"));
    let socket = std::fs::read_to_string(repo().join("config/systemd/lookaside.socket")).unwrap();
    assert!(socket.contains("ListenDatagram=127.0.0.1:53") && socket.contains("ListenStream=127.0.0.1:53"));
}

#[test]
fn shipped_anchor_files_load() {
    let root = repo().join("trust-anchors");
    let text = format!(
        "upstreams = [\"192.0.2.1\"]\ntrust-anchors = [\"{}\", \"{}\"]\n\n[[lookaside]]\ndomain = \"dlv.example.net\"\nanchor = \"{}\"\n",
        root.join("root.ds").display(),
        root.join("root.key").display(),
        root.join("lookaside.example.ds").display()
    );
    let (ok, out) = check(&temp("anchors.toml", &text));
    assert!(ok, "{out}");
    assert!(out.contains("DS 20326, DS 38696, DNSKEY 20326, DNSKEY 38696"), "{out}");
    assert!(out.contains("trust anchor dlv.example.net. (DS 12345)"), "{out}");
    assert!(out.contains("look-aside registry dlv.example.net. for . (anchor"), "{out}");
}

#[test]
fn unknown_key_names_file_and_line() {
    let p = temp("typo.toml", "listen = [\"127.0.0.1:5353\"]\n\n[cache]\nanswer = 10\n");
    let (ok, out) = check(&p);
    assert!(!ok);
    assert!(out.contains("typo.toml"), "{out}");
    assert!(out.contains("line 4"), "{out}");
    assert!(out.contains("answer"), "{out}");
}

#[test]
fn bad_anchor_file_names_file_and_line() {
    let anchor = temp("bad.ds", "; a comment\nexample. IN DS 1 8 2 NOTHEX\n");
    let p = temp("bad-anchor.toml", &format!("trust-anchors = [\"{}\"]\n", anchor.display()));
    let (ok, out) = check(&p);
    assert!(!ok);
    assert!(out.contains("bad.ds: line 2"), "{out}");
}

#[test]
fn out_of_range_values_are_refused() {
    let (ok, out) = check(&temp("ttl.toml", "[cache]\nbogus-ttl = 3600\n"));
    assert!(!ok);
    assert!(out.contains("RFC 9520"), "{out}");
}

#[test]
fn watch_entries_are_checked_and_shown() {
    let (ok, out) =
        check(&temp("watch.toml", "watch-interval = 600\n[[watch]]\ndomain = \"yax.im\"\ntls = true\n"));
    assert!(ok, "{out}");
    assert!(out.contains("watch yax.im. every 600 s, served certificates too"), "{out}");
    let (ok, out) = check(&temp("watch-bad.toml", "[[watch]]\ndomain = \"yax..im\"\n"));
    assert!(!ok);
    assert!(out.contains("[[watch]] domain \"yax..im\": empty label"), "{out}");
    let (ok, out) = check(&temp("watch-fast.toml", "watch-interval = 1\n"));
    assert!(!ok);
    assert!(out.contains("watch-interval 1 is outside 10–86400"), "{out}");
    let (ok, out) = check(&temp("watch-typo.toml", "[[watch]]\ndomain = \"yax.im\"\ntsl = true\n"));
    assert!(!ok);
    assert!(out.contains("tsl"), "{out}");
}
