//! End-to-end harness: a signed hierarchy (tests/zones/make-zones.sh, signed now by
//! ldns-signzone and dnssec-signzone) served by NSD on 127.0.0.X:53, Unbound as the
//! non-validating recursive upstream with root hints pointing at it, and lookaside daemons in
//! front. Every process is started through a small shell wrapper that kills it when our end of
//! its stdin closes, so nothing outlives the test process, even after a panic.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lookaside_dnssec::civil_time::format_time;
use lookaside_dnssec::name::Name;
use lookaside_dnssec::wire::{Edns, Message, Question, Writer, flags};

/// A process that dies with us.
pub struct Guarded {
    child: Child,
    pub name: String,
}

impl Guarded {
    pub fn spawn(name: &str, program: &str, args: &[&str], log: &Path) -> Self {
        Self::spawn_env(name, program, args, log, &[])
    }

    pub fn spawn_env(name: &str, program: &str, args: &[&str], log: &Path, env: &[(&str, &str)]) -> Self {
        let log = std::fs::File::create(log).expect("log file");
        let err = log.try_clone().expect("log file");
        let child = Command::new("sh")
            .envs(env.iter().copied())
            .arg("-c")
            .arg(r#"exec 3<&0; "$@" <&- & p=$!; (cat <&3 >/dev/null; kill $p 2>/dev/null) & wait $p"#)
            .arg("sh")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Self { child, name: name.into() }
    }

    pub fn stop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

fn which(cmd: &str) -> Option<PathBuf> {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/sbin", "/sbin"]) {
        let p = Path::new(dir).join(cmd);
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn yyyymmdd(t: u64) -> String {
    format_time(t as u32)[..10].replace('-', "")
}

pub fn free_port(ip: &str) -> u16 {
    for _ in 0..100 {
        let Ok(u) = UdpSocket::bind(format!("{ip}:0")) else { continue };
        let port = u.local_addr().unwrap().port();
        if TcpListener::bind(format!("{ip}:{port}")).is_ok() {
            return port;
        }
    }
    panic!("no free port on {ip}");
}

/// The shared hierarchy: NSD + Unbound.
pub struct Hierarchy {
    pub dir: PathBuf,
    pub ip: String,
    pub unbound: SocketAddr,
    pub anchor: PathBuf,
    _nsd: Guarded,
    _unbound: Guarded,
}

static HIERARCHY: OnceLock<Option<Hierarchy>> = OnceLock::new();

impl Hierarchy {
    /// The hierarchy, started on first use; `None` (with a message) where it cannot run.
    pub fn get() -> Option<&'static Hierarchy> {
        HIERARCHY.get_or_init(|| Self::start(None)).as_ref()
    }

    /// A hierarchy of one's own, with extra records in secure.example. (zone-file lines); it
    /// stops when dropped.
    pub fn start(extra_secure_records: Option<&str>) -> Option<Self> {
        for tool in ["nsd", "unbound", "ldns-signzone", "dnssec-signzone"] {
            if which(tool).is_none() {
                panic!("{tool} is missing: run tests/run-all.sh, which installs it");
            }
        }
        // NSD must listen on port 53: Unbound follows the hierarchy's NS records to port 53.
        let seed = std::process::id() as usize;
        let ip = (0..150).map(|i| format!("127.0.0.{}", 100 + (seed + i * 7) % 150)).find(|ip| {
            UdpSocket::bind(format!("{ip}:53")).is_ok() && TcpListener::bind(format!("{ip}:53")).is_ok()
        });
        let Some(ip) = ip else {
            eprintln!("SKIPPED: cannot bind port 53 on a loopback address (these tests need root)");
            return None;
        };
        // Remove what earlier runs left (their processes are gone: the wrappers saw to that).
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(rest) = name.strip_prefix("lookaside-e2e-")
                    && let Some(pid) = rest.split('-').next()
                    && !Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        static INSTANCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lookaside-e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let zones = dir.join("zones");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mut make = Command::new(repo_root().join("tests/zones/make-zones.sh"));
        if let Some(extra) = extra_secure_records {
            let path = dir.join("extra-secure.records");
            std::fs::write(&path, extra).unwrap();
            make.env("EXTRA_SECURE_RECORDS", path);
        }
        let status = make
            .arg(&zones)
            .arg(yyyymmdd(now - 86_400))
            .arg(yyyymmdd(now + 30 * 86_400))
            .arg(&ip)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("make-zones.sh");
        assert!(status.success(), "make-zones.sh failed");

        let nsd = start_nsd(&dir, &zones, &format!("{ip}@53"), None);
        let d = dir.display();

        let port = free_port(&ip);
        std::fs::write(dir.join("root.hints"), format!(". 3600 IN NS ns.\nns. 3600 IN A {ip}\n")).unwrap();
        let unbound_conf = format!(
            "server:\n  interface: {ip}@{port}\n  port: {port}\n  do-ip6: no\n  do-not-query-localhost: no\n  \
             access-control: 127.0.0.0/8 allow\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  \
             pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  \
             module-config: \"iterator\"\n  qname-minimisation: no\n  num-threads: 1\n  so-reuseport: no\n  \
             root-hints: \"{d}/root.hints\"\n  verbosity: 1\n\
             remote-control:\n  control-enable: no\n"
        );
        std::fs::write(dir.join("unbound.conf"), unbound_conf).unwrap();
        let ub_conf = dir.join("unbound.conf");
        let unbound_proc = Guarded::spawn(
            "unbound",
            "unbound",
            &["-d", "-c", ub_conf.to_str().unwrap()],
            &dir.join("unbound.out"),
        );
        let unbound: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        let nsd_addr: SocketAddr = format!("{ip}:53").parse().unwrap();
        wait_for(nsd_addr, "ns.", &dir.join(format!("nsd-{}-53.out", ip.replace('.', "-"))));
        wait_for(unbound, "www.secure.example.", &dir.join("unbound.out"));
        Some(Self { anchor: zones.join("root.ds"), dir, ip, unbound, _nsd: nsd, _unbound: unbound_proc })
    }

    /// Starts a lookaside daemon forwarding to Unbound with the test root as anchor.
    pub fn daemon(&self, extra: &[&str]) -> Daemon {
        let mut args: Vec<String> = Vec::new();
        if !extra.contains(&"--upstream") {
            args.extend(["--upstream".into(), self.unbound.to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        self.daemon_with(args)
    }

    pub fn daemon_with(&self, args: Vec<String>) -> Daemon {
        let port = free_port(&self.ip);
        let addr: SocketAddr = format!("{}:{port}", self.ip).parse().unwrap();
        self.daemon_at(addr, args, &[])
    }

    /// A daemon with extra environment variables (e.g. NOTIFY_SOCKET).
    pub fn daemon_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let port = free_port(&self.ip);
        let addr: SocketAddr = format!("{}:{port}", self.ip).parse().unwrap();
        let mut args: Vec<String> = vec!["--upstream".into(), self.unbound.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        self.daemon_at(addr, args, env)
    }

    /// A daemon on port 53 of another loopback address, for clients that only talk to port 53
    /// (glibc, libunbound's resolv.conf reader).
    pub fn daemon_on_53(&self, extra: &[&str]) -> Daemon {
        // Tests run in parallel: pick and bind one address at a time.
        static PICK: Mutex<()> = Mutex::new(());
        let _one_at_a_time = PICK.lock().unwrap_or_else(|e| e.into_inner());
        let seed = std::process::id() as usize + 37;
        let ip = (0..150)
            .map(|i| format!("127.0.0.{}", 100 + (seed + i * 11) % 150))
            .find(|ip| {
                *ip != self.ip
                    && UdpSocket::bind(format!("{ip}:53")).is_ok()
                    && TcpListener::bind(format!("{ip}:53")).is_ok()
            })
            .expect("a loopback address with port 53 free");
        let mut args: Vec<String> = vec!["--upstream".into(), self.unbound.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        self.daemon_at(format!("{ip}:53").parse().unwrap(), args, &[])
    }

    fn daemon_at(&self, addr: SocketAddr, mut args: Vec<String>, env: &[(&str, &str)]) -> Daemon {
        let port = addr.port();
        let control = self.dir.join(format!("control-{}-{port}.sock", addr.ip()));
        let mut full = vec![
            "serve".to_string(),
            "--listen".into(),
            addr.to_string(),
            "--control-socket".into(),
            control.display().to_string(),
        ];
        if !args.iter().any(|a| a == "--trust-anchor" || a == "--config") {
            full.extend(["--trust-anchor".into(), self.anchor.display().to_string()]);
        }
        full.append(&mut args);
        let log = self.dir.join(format!("lookaside-{port}.log"));
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        let proc = Guarded::spawn_env("lookaside", env!("CARGO_BIN_EXE_lookaside"), &refs, &log, env);
        wait_for(addr, ".", &log);
        Daemon { addr, log, control, _proc: proc }
    }
}

/// Starts NSD in `dir` on `listen` (`IP@PORT`) serving the zones of `zones`/zones.list (or only
/// `only`); stops when dropped. Its files are named after the port, so several can share `dir`.
pub fn start_nsd(dir: &Path, zones: &Path, listen: &str, only: Option<&str>) -> Guarded {
    let tag = listen.replace(['.', '@'], "-");
    let d = dir.display();
    let z = zones.display();
    let mut nsd_conf = format!(
        "server:\n  ip-address: {listen}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{z}\"\n  database: \"\"\n  \
         zonelistfile: \"{d}/zone-{tag}.list\"\n  xfrdfile: \"{d}/xfrd-{tag}.state\"\n  pidfile: \"{d}/nsd-{tag}.pid\"\n  \
         logfile: \"{d}/nsd-{tag}.log\"\n  server-count: 1\n  verbosity: 1\n  rrl-ratelimit: 0\n\
         remote-control:\n  control-enable: no\n"
    );
    for line in std::fs::read_to_string(zones.join("zones.list")).unwrap().lines() {
        let (name, file) = line.split_once(' ').unwrap();
        if only.is_none_or(|o| o == name) {
            nsd_conf.push_str(&format!("zone:\n  name: \"{name}\"\n  zonefile: \"{file}\"\n"));
        }
    }
    let conf = dir.join(format!("nsd-{tag}.conf"));
    std::fs::write(&conf, nsd_conf).unwrap();
    Guarded::spawn("nsd", "nsd", &["-d", "-c", conf.to_str().unwrap()], &dir.join(format!("nsd-{tag}.out")))
}

impl Hierarchy {
    /// Runs a one-shot `lookaside` command (query, xmpp, check-zone, ...) against this
    /// hierarchy's Unbound with its root anchor: exit status and stdout+stderr.
    pub fn cli(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_lookaside"))
            .args(args)
            .args([
                "--upstream",
                &self.unbound.to_string(),
                "--trust-anchor",
                &self.anchor.display().to_string(),
            ])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    }
}

/// A running lookaside.
pub struct Daemon {
    pub addr: SocketAddr,
    pub log: PathBuf,
    pub control: PathBuf,
    _proc: Guarded,
}

impl Daemon {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's own PID (found by its unique control socket path in /proc), for signals.
    pub fn pid(&self) -> u32 {
        let needle = self.control.display().to_string();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.starts_with(env!("CARGO_BIN_EXE_lookaside")) && cmdline.contains(&needle) {
                return pid;
            }
        }
        panic!("daemon process not found");
    }

    /// Runs `lookaside ctl` against this daemon.
    pub fn ctl(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_lookaside"))
            .arg("ctl")
            .arg("--socket")
            .arg(&self.control)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    }
}

pub fn wait_for(addr: SocketAddr, name: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if udp_exchange(addr, &query_bytes(1, name, 2, Opts::default()), Duration::from_millis(300)).is_some()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{addr} did not answer; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

/// Query options.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    pub edns: bool,
    pub dnssec_ok: bool,
    pub ad: bool,
    pub cd: bool,
    pub udp_size: u16,
}

impl Default for Opts {
    fn default() -> Self {
        Self { edns: true, dnssec_ok: true, ad: false, cd: false, udp_size: 1232 }
    }
}

pub fn query_bytes(id: u16, name: &str, qtype: u16, o: Opts) -> Vec<u8> {
    let mut f = flags::RD;
    if o.ad {
        f |= flags::AD;
    }
    if o.cd {
        f |= flags::CD;
    }
    let mut w = Writer::new(id, f);
    w.question(&Question { name: Name::parse(name).unwrap(), qtype, qclass: 1 });
    if o.edns {
        w.edns(&Edns { udp_size: o.udp_size, dnssec_ok: o.dnssec_ok, ..Default::default() });
    }
    w.finish()
}

pub fn udp_exchange(addr: SocketAddr, packet: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.send_to(packet, addr).ok()?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

pub fn tcp_exchange(addr: SocketAddr, packet: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Asks over UDP and parses the answer.
pub fn ask(addr: SocketAddr, name: &str, qtype: u16, o: Opts) -> Message {
    let bytes = udp_exchange(addr, &query_bytes(0x4242, name, qtype, o), Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer for {name} from {addr}"));
    Message::parse(&bytes).expect("answer parses")
}

/// The EDE options of a message.
pub fn ede(m: &Message) -> Vec<(u16, String)> {
    m.edns
        .iter()
        .flat_map(|e| e.options.iter())
        .filter(|(code, _)| *code == 15)
        .map(|(_, d)| (u16::from_be_bytes([d[0], d[1]]), String::from_utf8_lossy(&d[2..]).into_owned()))
        .collect()
}

/// Runs dig and returns its output.
pub fn dig(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .arg("-p")
        .arg(addr.port().to_string())
        .args(args)
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Queries seen by a relay, by "name TYPE".
pub type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// Counts a query by "name TYPE" (name in lower case).
pub fn count(counts: &Counts, packet: &[u8]) {
    if let Ok(m) = Message::parse(packet)
        && let Some(q) = m.questions.first()
    {
        let key =
            format!("{} {}", q.name.to_string().to_lowercase(), lookaside_dnssec::rtype::type_name(q.qtype));
        *counts.lock().unwrap().entry(key).or_insert(0) += 1;
    }
}

/// A UDP relay on a fresh loopback port: each query is counted by "name TYPE" and answered
/// with what `answer` makes of it (nothing: dropped). Every relay of these tests is one.
pub fn udp_relay(
    h: &Hierarchy,
    answer: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> (String, Counts) {
    let sock = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let addr = sock.local_addr().unwrap();
    let counts: Counts = Arc::default();
    let seen = counts.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            count(&seen, &buf[..n]);
            if let Some(reply) = answer(&buf[..n]) {
                let _ = sock.send_to(&reply, peer);
            }
        }
    });
    (addr.to_string(), counts)
}

/// A UDP relay to `target` that counts queries by "name TYPE".
pub fn counting_relay(h: &Hierarchy, target: SocketAddr) -> (String, Counts) {
    udp_relay(h, move |q| udp_exchange(target, q, Duration::from_secs(3)))
}
