//! Entry points for the fuzz targets in `fuzz/` (and for `cargo test`, which replays their seed
//! corpora): the configuration file and the control-socket commands, the daemon's two inputs
//! that are not DNS messages. Each must never panic, whatever the bytes.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::config::{Config, FileConfig, Overrides, parse_file};
use crate::control::{Control, ControlCommand};

/// Reads `data` as a configuration file and, when it parses, builds the effective
/// configuration from it, as `serve` and `check-config` do.
pub fn config_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(file) = parse_file(&text, Path::new("fuzz.toml")) else { return };
    // Paths are only names here: keep the run off the fuzzing machine's files (a `trust-anchors`
    // entry of /dev/zero would never finish reading), and never read its resolv.conf.
    let file =
        FileConfig { trust_anchors: None, upstreams: file.upstreams.or_else(|| Some(Vec::new())), ..file };
    if let Ok(config) = Config::from_file(file, &Overrides::default()) {
        let _ = config.registries();
        let _ = config.auto_trust_zones();
    }
}

struct ControlWorld {
    runtime: tokio::runtime::Runtime,
    control: Arc<Control>,
}

fn control_world() -> &'static ControlWorld {
    static WORLD: OnceLock<ControlWorld> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let overrides = Overrides { upstreams: vec!["127.0.0.1:9".into()], ..Default::default() };
        let config = Config::from_file(FileConfig::default(), &overrides).expect("default config");
        let anchors = lookaside_dnssec::TrustAnchors::builtin_root();
        let resolver = crate::daemon::build_resolver(&config, anchors, None).expect("resolver");
        let (reload, mut requests) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<_>>(1);
        runtime.spawn(async move {
            while let Some(reply) = requests.recv().await {
                let _ = reply.send(Err("not while fuzzing".to_string()));
            }
        });
        let control = Arc::new(Control {
            resolver: Arc::new(ArcSwap::from_pointee(resolver)),
            started: Instant::now(),
            reload,
        });
        ControlWorld { runtime, control }
    })
}

/// Reads `data` as a control line and runs it against a resolver that never sends a query
/// (`status`, `flush`, `nta`, … change only its caches and anchors; `reload` is refused).
/// Every reply starts with `ok` or `error: `; a line that does not parse gets its parse error.
pub fn control_line(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    let parsed = ControlCommand::parse(&line);
    let world = control_world();
    let reply = world.runtime.block_on(world.control.execute(&line));
    assert!(reply.starts_with("ok\n") || reply.starts_with("error: "), "reply {reply:?}");
    if let Err(e) = parsed {
        assert_eq!(reply, format!("error: {e}\n"));
    }
}
