//! The Debian package, installed for real: `packaging/build-deb.sh` builds it,
//! `packaging/check-deb.sh` checks its metadata and prepares a minimal Debian root (debootstrap),
//! and this test installs the package into a copy of that root with the root's own dpkg, so the
//! maintainer scripts run as on a real system (chroot) without touching this machine. The
//! installed binary with the installed configuration then validates an answer through the test
//! hierarchy, and remove and purge keep and delete what they should. `tests/run-all.sh` runs the
//! two scripts and passes their results in `LOOKASIDE_DEB` and `LOOKASIDE_DEB_ROOT`.
//!
//! What it cannot cover: systemd is not running in the chroot, so "start" is checked as the
//! enable symlink and the start call in postinst, not as a running service.

mod harness;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use harness::Hierarchy;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn chroot(root: &Path, args: &[&str]) -> String {
    run(Command::new("chroot").arg(root).args(args).env("DEBIAN_FRONTEND", "noninteractive"))
}

#[test]
fn debian_package_installs_validates_and_purges() {
    let (Some(deb), Some(pristine)) =
        (std::env::var_os("LOOKASIDE_DEB"), std::env::var_os("LOOKASIDE_DEB_ROOT"))
    else {
        eprintln!(
            "SKIPPED: LOOKASIDE_DEB and LOOKASIDE_DEB_ROOT are not set (tests/run-all.sh builds the package)"
        );
        return;
    };
    let Some(h) = Hierarchy::get() else { return };
    let root = h.dir.join("debian-root");
    let _ = std::fs::remove_dir_all(&root);
    run(Command::new("cp").arg("-a").arg(&pristine).arg(&root));
    // As in a container image: no service starts during installation (the scripts must honour it).
    std::fs::write(root.join("usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n").unwrap();
    run(Command::new("chmod").arg("+x").arg(root.join("usr/sbin/policy-rc.d")));
    std::fs::copy(&deb, root.join("tmp/lookaside.deb")).unwrap();
    std::fs::copy(&h.anchor, root.join("tmp/root.ds")).unwrap();

    chroot(&root, &["dpkg", "-i", "/tmp/lookaside.deb"]);
    let passwd = chroot(&root, &["getent", "passwd", "lookaside"]);
    let uid: u32 = passwd.split(':').nth(2).unwrap().parse().unwrap();
    let state = std::fs::metadata(root.join("var/lib/lookaside")).unwrap();
    assert_eq!(state.uid(), uid, "state directory owned by the lookaside user");
    assert!(
        root.join("etc/systemd/system/multi-user.target.wants/lookaside.service").symlink_metadata().is_ok(),
        "the service is enabled"
    );
    assert!(
        chroot(&root, &["lookaside", "check-config", "/etc/lookaside/lookaside.toml"]).contains("allow = ")
    );

    // The installed binary and configuration validate through the test hierarchy.
    let out = chroot(
        &root,
        &[
            "/usr/bin/lookaside",
            "query",
            "--config",
            "/etc/lookaside/lookaside.toml",
            "--upstream",
            &h.unbound.to_string(),
            "--trust-anchor",
            "/tmp/root.ds",
            "www.secure.example.",
        ],
    );
    assert!(out.contains("192.0.2.2") && out.contains("; fully validated"), "{out}");

    // Remove keeps the configuration and the state; purge deletes them.
    std::fs::write(root.join("var/lib/lookaside/root.5011"), "state").unwrap();
    chroot(&root, &["dpkg", "-r", "lookaside"]);
    assert!(!root.join("usr/bin/lookaside").exists());
    assert!(root.join("etc/lookaside/lookaside.toml").exists(), "remove keeps the configuration");
    assert!(root.join("var/lib/lookaside/root.5011").exists(), "remove keeps the state");
    chroot(&root, &["dpkg", "-P", "lookaside"]);
    assert!(!root.join("etc/lookaside").exists(), "purge deletes the configuration");
    assert!(!root.join("var/lib/lookaside").exists(), "purge deletes the state");
    let _ = std::fs::remove_dir_all(&root);
}
