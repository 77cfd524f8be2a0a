#!/usr/bin/env bash
# Checks a built lookaside .deb (packaging/build-deb.sh) the way a distribution would, then
# prepares a throw-away Debian root for the install test in crates/lookaside/tests/package.rs:
#   - dpkg-deb -I / -c: control fields, dependencies, conffiles and the file list;
#   - lintian: errors fail, warnings are listed;
#   - every man page renders with man -l (groff warnings fail);
#   - the bash completion loads and completes subcommands, the zsh and fish ones parse;
#   - a minimal Debian root made by debootstrap (bookworm, minbase plus adduser and
#     init-system-helpers, the package's own dependencies): a real dpkg runs the maintainer
#     scripts there, not on this machine. The root's path is the last line printed.
# Usage: packaging/check-deb.sh PATH/TO/lookaside_*.deb
# Needs root (debootstrap, chroot); installs lintian, man-db, debootstrap, zsh, fish when missing.
set -euo pipefail
deb=$(realpath "$1")
fail() { echo "check-deb: FAILED: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); echo "check-deb: ok: $*"; }

need=()
for pair in lintian:lintian man:man-db groff:groff-base debootstrap:debootstrap zsh:zsh fish:fish; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

info=$(dpkg-deb -I "$deb")
for field in "Package: lookaside" "Section: net" "Priority: optional" "Architecture: amd64"; do
  grep -q "^ $field" <<<"$info" || fail "control lacks '$field'"
done
depends=$(dpkg-deb -f "$deb" Depends)
for d in libc6 adduser; do grep -q "$d" <<<"$depends" || fail "Depends lacks $d: $depends"; done
ok "control fields, Depends: $depends"
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
[ "$conffiles" = "/etc/lookaside/lookaside.toml" ] || fail "conffiles: $conffiles"
ok "conffiles: $conffiles"
# Read whole before grepping: grep -q closing a pipe early would fail it under pipefail.
control_files=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
for script in postinst prerm postrm; do
  grep -qx "./$script" <<<"$control_files" || fail "no $script"
done
postinst=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst)
grep -q "deb-systemd-invoke" <<<"$postinst" || fail "postinst does not start the service"
grep -q "adduser --system" <<<"$postinst" || fail "postinst does not create the user"
ok "maintainer scripts postinst, prerm, postrm (systemd snippets included)"

files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#')
expect=(
  /usr/bin/lookaside /etc/lookaside/lookaside.toml
  /usr/share/lookaside/trust-anchors/root.ds /usr/share/lookaside/trust-anchors/root.key
  /usr/share/doc/lookaside/README.md /usr/share/doc/lookaside/deploying.md /usr/share/doc/lookaside/copyright
  /usr/share/doc/lookaside/examples/lookaside.socket
  /usr/share/man/man5/lookaside.toml.5.gz /usr/share/man/man8/lookaside.8.gz
  /usr/share/bash-completion/completions/lookaside /usr/share/zsh/vendor-completions/_lookaside
  /usr/share/fish/vendor_completions.d/lookaside.fish
)
for sub in serve check-config query trace ctl xmpp probe dlv-record check-zone; do expect+=("/usr/share/man/man8/lookaside-$sub.8.gz"); done
for f in "${expect[@]}"; do grep -qx "$f" <<<"$files" || fail "package lacks $f"; done
grep -Eqx '(/usr)?/lib/systemd/system/lookaside.service' <<<"$files" || fail "package lacks the systemd unit"
ok "file list (${#expect[@]} files and the systemd unit)"

# lintian: errors fail the check; warnings and info are listed for the note.
set +e
lint=$(lintian --fail-on error --tag-display-limit 0 "$deb" 2>&1); rc=$?
set -e
[ -n "$lint" ] && echo "$lint" | sed 's/^/check-deb: lintian: /'
[ $rc -eq 0 ] || fail "lintian reports errors"
ok "lintian: no errors ($(grep -c '^W:' <<<"$lint" || true) warnings)"

work=$(mktemp -d /tmp/lookaside-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/x"
for page in "$work"/x/usr/share/man/man*/*.gz; do
  out=$(MANWIDTH=80 MAN_KEEP_FORMATTING=0 man --warnings -l "$page" 2>&1 >/dev/null) || fail "man -l $page"
  [ -z "$out" ] || fail "man -l $(basename "$page"): $out"
  rendered=$(MANWIDTH=80 man -l "$page" 2>/dev/null)
  grep -q "^NAME" <<<"$rendered" || fail "$(basename "$page") has no NAME section"
done
ok "man -l renders $(ls "$work"/x/usr/share/man/man*/*.gz | wc -l) pages without warnings"

completed=$(bash -c '
  source "$1"
  complete -p lookaside >/dev/null || exit 1
  COMP_WORDS=(lookaside se); COMP_CWORD=1; COMP_LINE="lookaside se"; COMP_POINT=${#COMP_LINE}
  _lookaside lookaside se lookaside
  echo "${COMPREPLY[@]}"' _ "$work/x/usr/share/bash-completion/completions/lookaside")
grep -qw serve <<<"$completed" || fail "bash completion of 'lookaside se' gave: $completed"
zsh -n "$work/x/usr/share/zsh/vendor-completions/_lookaside" || fail "zsh completion does not parse"
fish --no-execute "$work/x/usr/share/fish/vendor_completions.d/lookaside.fish" || fail "fish completion does not parse"
ok "completions: bash completes 'lookaside se' to '$completed'; zsh and fish parse"

# The throw-away root for the install test; kept between runs on one machine (it is only ever
# copied, never installed into).
root=/var/tmp/lookaside-deb-root
if [ ! -x "$root/usr/bin/dpkg" ] || [ ! -e "$root/.complete" ]; then
  rm -rf "$root"
  debootstrap --variant=minbase --include=adduser,init-system-helpers bookworm "$root" \
    http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  touch "$root/.complete"
fi
ok "throw-away Debian root at $root"
echo "check-deb: $passed passed, 0 failed"
echo "$root"
