//! What a package installs besides the binary, generated from the same definitions the program
//! uses, so that they cannot drift: man pages from the clap command line (`lookaside(8)` and one
//! per subcommand) and from the configuration keys (`lookaside.toml(5)`), and shell completions
//! for bash, zsh and fish. `packaging/build-deb.sh` runs `lookaside dist DIR`.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::defaults::{Default, KEYS};

/// Writes `DIR/man/*.8`, `DIR/man/lookaside.toml.5` and `DIR/completions/*`.
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let cmd = Cli::command();
    let version = env!("CARGO_PKG_VERSION");
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .source(format!("lookaside {version}"))
        .render(&mut top)?;
    std::fs::write(man.join("lookaside.8"), top)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("lookaside-{}", sub.get_name());
        let page = sub.clone().name(name.clone()).display_name(name.clone());
        let mut out = Vec::new();
        clap_mangen::Man::new(page).section("8").source(format!("lookaside {version}")).render(&mut out)?;
        std::fs::write(man.join(format!("{name}.8")), out)?;
    }
    std::fs::write(man.join("lookaside.toml.5"), config_manual(version))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = Cli::command();
        clap_complete::generate_to(shell, &mut cmd, "lookaside", &completions)?;
    }
    Ok(())
}

/// Escapes text for roff: backslashes, and a leading dot or quote.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) { format!("\\&{t}") } else { t }
}

/// `lookaside.toml(5)`, from [`KEYS`].
fn config_manual(version: &str) -> String {
    let mut m = Vec::new();
    let _ = writeln!(m, ".TH LOOKASIDE.TOML 5 \"\" \"lookaside {version}\" \"File Formats\"");
    let _ = writeln!(m, ".SH NAME\nlookaside.toml \\- configuration of the lookaside DNS stub resolver");
    let _ = writeln!(m, ".SH SYNOPSIS\n/etc/lookaside/lookaside.toml");
    let _ = writeln!(
        m,
        ".SH DESCRIPTION\nA TOML file read by \\fBlookaside serve\\fR and the other subcommands \
         (\\fB\\-\\-config\\fR). Every key is optional; unknown keys are refused with their line. \
         Check a file with \\fBlookaside check\\-config\\fR \\fIFILE\\fR; reload a running daemon \
         with \\fBsystemctl reload lookaside\\fR or \\fBlookaside ctl reload\\fR. Keys inside \
         \\fB[cache]\\fR and \\fB[limits]\\fR are written as \\fItable.key\\fR below; \
         \\fB[[lookaside]]\\fR tables may repeat."
    );
    let _ = writeln!(m, ".SH KEYS");
    for k in KEYS {
        let default = match k.default {
            Default::Text(t) => format!("Default: {}.", roff(t)),
            Default::Number(s) => {
                format!("Default: {}; accepted: {} to {} ({}).", s.default, s.min, s.max, roff(s.reason))
            }
        };
        let _ = writeln!(m, ".TP\n.B {}\n{}\n{}", roff(k.key), roff(k.doc), default);
    }
    let _ = writeln!(
        m,
        ".SH FILES\n/etc/lookaside/lookaside.toml, /usr/share/lookaside/trust\\-anchors/, \
         /var/lib/lookaside/ (RFC 5011 state)\n.SH SEE ALSO\n\\fBlookaside\\fR(8), \
         \\fBlookaside\\-serve\\fR(8), \\fBlookaside\\-ctl\\fR(8)"
    );
    String::from_utf8_lossy(&m).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_manual_lists_every_key_with_its_default() {
        let page = config_manual("0");
        for k in KEYS {
            assert!(page.contains(&format!(".B {}\n", roff(k.key))), "{}", k.key);
        }
        assert!(page.contains("Default: 30; accepted: 1 to 300"), "bogus-ttl's range");
    }
}
