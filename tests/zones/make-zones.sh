#!/usr/bin/env bash
# Builds the signed test hierarchy with real signers (ldns-keygen, ldns-signzone from Debian's
# ldnsutils). Used twice:
#   - committed fixtures for the validator's unit tests, signed with a fixed window
#     (inception 2025-01-01, expiration 2060-01-01) and checked with a fixed clock:
#       tests/zones/make-zones.sh crates/dnssec/tests/fixtures
#   - the integration tests, which sign a fresh copy at test time into a temporary directory.
# Output: <out>/<zone>.zone (signed or not), <out>/root.ds (the trust anchor), <out>/zones.list
# (zone name and file, for the authoritative server's configuration).
#
# Usage: make-zones.sh OUTDIR [INCEPTION EXPIRATION [NS_ADDR]]   (dates as YYYYMMDD; NS_ADDR is the
# address every name server name resolves to: the authoritative server of the test run).
# SOA_SERIAL (environment, default 1) is every zone's serial: check-zone's tests make a second,
# out-of-sync copy of the hierarchy with another serial and other keys.
set -euo pipefail
out=${1:?usage: make-zones.sh OUTDIR [INCEPTION EXPIRATION]}
inception=${2:-20250101}
expiration=${3:-20600101}
ns_addr=${4:-127.0.0.1}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

: > "$out/zones.list"
declare -A KSK ZSK DSLINE

# keygen ZONE ALG [BITS] -> sets KSK[zone], ZSK[zone]
keygen() {
  local zone=$1 alg=$2 bits=${3:-}
  local b=(); [ -n "$bits" ] && b=(-b "$bits")
  KSK[$zone]=$(ldns-keygen -a "$alg" "${b[@]}" -k "$zone")
  ZSK[$zone]=$(ldns-keygen -a "$alg" "${b[@]}" "$zone")
  DSLINE[$zone]=$(sed 's/\t/ /g' "${KSK[$zone]}.ds")
}

at() { # LABEL ZONE -> LABEL.ZONE (the root has no trailing label)
  if [ "$2" = . ]; then echo "$1."; else echo "$1.$2"; fi
}

# keygen_bind ZONE: keys for dnssec-signzone (BIND reads only its own key files)
keygen_bind() {
  KSK[$1]=$(dnssec-keygen -q -a ECDSAP256SHA256 -f KSK "$1")
  ZSK[$1]=$(dnssec-keygen -q -a ECDSAP256SHA256 "$1")
  DSLINE[$1]=$(dnssec-dsfromkey -2 "${KSK[$1]}.key" | sed 's/\t/ /g')
}

soa() { # ZONE
  local ns; ns=$(at ns "$1")
  printf '$TTL 3600\n%s 3600 IN SOA %s %s %s 7200 3600 1209600 300\n%s 3600 IN NS %s\n%s 3600 IN A %s\n' "$1" "$ns" "$(at hostmaster "$1")" "${SOA_SERIAL:-1}" "$1" "$ns" "$ns" "$ns_addr"
}

delegate() { # PARENTFILE CHILD [DS lines...]
  local file=$1 child=$2; shift 2
  printf '%s 3600 IN NS ns.%s\nns.%s 3600 IN A %s\n' "$child" "$child" "$child" "$ns_addr" >> "$file"
  for ds in "$@"; do echo "$ds" | sed 's/\t/ /g' >> "$file"; done
}

sign() { # ZONE FILE [extra ldns-signzone options...]
  local zone=$1 file=$2; shift 2
  ldns-signzone "$@" -i "$inception" -e "$expiration" -f "$out/${zone%.}.zone" "$file" "${KSK[$zone]}" "${ZSK[$zone]}"
  [ "$zone" = . ] && mv "$out/.zone" "$out/root.zone"
  echo "$zone $( [ "$zone" = . ] && echo root || echo "${zone%.}").zone" >> "$out/zones.list"
}

plain() { # ZONE FILE: an unsigned zone
  cp "$2" "$out/${1%.}.zone"
  echo "$1 ${1%.}.zone" >> "$out/zones.list"
}

# --- keys ------------------------------------------------------------------------------------
keygen . RSASHA256 2048
keygen example. ECDSAP256SHA256
for z in secure nsec3 expired future nokey kskunsigned digest3 iter100 iter600; do
  keygen $z.example. ECDSAP256SHA256
done
keygen_bind optout.example.
keygen sub.secure.example. ED25519
keygen alg5.example. RSASHA1 2048
keygen alg7.example. RSASHA1-NSEC3-SHA1 1024
keygen alg8.example. RSASHA256 2048
keygen alg10.example. RSASHA512 2048
keygen alg13.example. ECDSAP256SHA256
keygen alg14.example. ECDSAP384SHA384
keygen alg15.example. ED25519
keygen alg16.example. ED448
keygen yax.unsignedtld. ECDSAP256SHA256
keygen conference.yax.unsignedtld. ECDSAP256SHA256
for z in badkey nodlv unalgo other expiredkeys deleg; do keygen $z.unsignedtld. ECDSAP256SHA256; done
keygen deleg.unsignedtld.dlv.example. ECDSAP256SHA256
keygen unsigned.optout.example. ECDSAP256SHA256
keygen dlv.example. ECDSAP256SHA256
keygen dlv2.example. ECDSAP256SHA256
# A key that is never published: the DLV for badkey.unsignedtld. names it.
stray_dlv=$(ldns-keygen -a ECDSAP256SHA256 -k badkey.unsignedtld.)
# A key that is never published: its DS makes nokey.example. bogus.
stray=$(ldns-keygen -a ECDSAP256SHA256 -k nokey.example.)
stray_ds=$(sed 's/\t/ /g' "$stray.ds")

# --- root --------------------------------------------------------------------------------------
soa . > root.src
delegate root.src example. "${DSLINE[example.]}"
delegate root.src unsignedtld.
sign . root.src
ldns-key2ds -n -2 "${KSK[.]}.key" | sed 's/\t/ /g' > "$out/root.ds"

# --- example. (TLD, NSEC) ------------------------------------------------------------------------
soa example. > example.src
for z in secure nsec3 optout expired future kskunsigned iter100 iter600; do
  delegate example.src $z.example. "${DSLINE[$z.example.]}"
done
delegate example.src nokey.example. "$stray_ds"
for a in 5 7 8 10 13 14 15 16; do delegate example.src alg$a.example. "${DSLINE[alg$a.example.]}"; done
# digest3.example.: only a GOST (digest type 3) DS, which we cannot compute: insecure.
delegate example.src digest3.example. "digest3.example. 3600 IN DS $(echo "${DSLINE[digest3.example.]}" | awk '{print $4, $5}') 3 $(printf '%064d' 0)"
delegate example.src insecure.example.
# Look-aside registries: dlv.example. is chained from the root (DS here); dlv2.example. is an
# island, trusted only through its own anchor file (no DS).
delegate example.src dlv.example. "${DSLINE[dlv.example.]}"
delegate example.src dlv2.example.
echo 'www.example. 3600 IN A 192.0.2.80' >> example.src
sign example. example.src

# --- secure.example. (NSEC; wildcard, CNAME, DNAME, ENT, XMPP records, children) -----------------
z=secure.example.
soa $z > s.src
cat >> s.src <<ZONE
secure.example. 3600 IN A 192.0.2.1
secure.example. 3600 IN AAAA 2001:db8::1
secure.example. 3600 IN MX 10 mail.secure.example.
www.secure.example. 3600 IN A 192.0.2.2
www.secure.example. 3600 IN AAAA 2001:db8::2
MixedCase.secure.example. 3600 IN TXT "case kept"
mail.secure.example. 3600 IN A 192.0.2.3
cname.secure.example. 3600 IN CNAME www.secure.example.
outside.secure.example. 3600 IN CNAME www.insecure.example.
todlv.secure.example. 3600 IN CNAME yax.unsignedtld.
*.wild.secure.example. 3600 IN A 192.0.2.4
*.wild.secure.example. 3600 IN TXT "wildcard"
exists.wild.secure.example. 3600 IN A 192.0.2.5
a.b.ent.secure.example. 3600 IN A 192.0.2.6
dname.secure.example. 3600 IN DNAME nsec3.example.
_xmpp-client._tcp.secure.example. 3600 IN SRV 5 0 5222 xmpp.secure.example.
_xmpp-server._tcp.secure.example. 3600 IN SRV 5 0 5269 xmpp.secure.example.
xmpp.secure.example. 3600 IN A 127.0.0.1
_5222._tcp.xmpp.secure.example. 3600 IN TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
_5269._tcp.xmpp.secure.example. 3600 IN TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
_xmpp-server._tcp.badtlsa.secure.example. 3600 IN SRV 5 0 5269 target.badtlsa.secure.example.
target.badtlsa.secure.example. 3600 IN A 127.0.0.1
_5269._tcp.target.badtlsa.secure.example. 3600 IN CNAME www.expired.example.
nosrv.secure.example. 3600 IN A 127.0.0.1
big.secure.example. 3600 IN TXT "$(printf 'x%.0s' {1..250})" "$(printf 'y%.0s' {1..250})"
big.secure.example. 3600 IN TXT "$(printf 'z%.0s' {1..250})" "$(printf 'w%.0s' {1..250})"
ZONE
# Records a test adds to secure.example. (e.g. SRV, A and TLSA of XMPP servers it runs).
if [ -n "${EXTRA_SECURE_RECORDS:-}" ]; then cat "$EXTRA_SECURE_RECORDS" >> s.src; fi
delegate s.src sub.secure.example. "${DSLINE[sub.secure.example.]}"
delegate s.src unsigned.secure.example.
sign $z s.src

soa sub.secure.example. > sub.src
echo 'www.sub.secure.example. 3600 IN A 192.0.2.7' >> sub.src
sign sub.secure.example. sub.src

soa unsigned.secure.example. > u.src
echo 'www.unsigned.secure.example. 3600 IN A 192.0.2.8' >> u.src
plain unsigned.secure.example. u.src

# --- nsec3.example. (NSEC3, salt, 5 iterations) ------------------------------------------------
soa nsec3.example. > n3.src
cat >> n3.src <<ZONE
www.nsec3.example. 3600 IN A 192.0.2.9
*.wild.nsec3.example. 3600 IN A 192.0.2.10
a.b.ent.nsec3.example. 3600 IN A 192.0.2.11
cname.nsec3.example. 3600 IN CNAME www.nsec3.example.
ZONE
delegate n3.src insecure.nsec3.example.
sign nsec3.example. n3.src -n -s aabbccdd -t 5

soa insecure.nsec3.example. > in3.src
echo 'www.insecure.nsec3.example. 3600 IN A 192.0.2.12' >> in3.src
plain insecure.nsec3.example. in3.src

# --- optout.example. (NSEC3 opt-out) -----------------------------------------------------------
soa optout.example. > oo.src
echo 'www.optout.example. 3600 IN A 192.0.2.13' >> oo.src
delegate oo.src unsigned.optout.example.
# dnssec-signzone leaves the unsigned delegation out of the opt-out NSEC3 chain (ldns-signzone
# keeps it), so the no-DS proof must use the opt-out span (RFC 5155 §6).
grep -hv '^;' "${KSK[optout.example.]}.key" "${ZSK[optout.example.]}.key" >> oo.src
dnssec-signzone -q -O full -3 - -A -H 0 -s "${inception}000000" -e "${expiration}000000" -o optout.example. \
  -f "$out/optout.example.zone" oo.src "${KSK[optout.example.]}" "${ZSK[optout.example.]}" >/dev/null
sed -i '/^;/d' "$out/optout.example.zone"
echo "optout.example. optout.example.zone" >> "$out/zones.list"

soa unsigned.optout.example. > uo.src
echo 'www.unsigned.optout.example. 3600 IN A 192.0.2.14' >> uo.src
# Signed, but its parent has no DS for it (opt-out span): insecure, unless a registry vouches.
sign unsigned.optout.example. uo.src

# --- algorithms ---------------------------------------------------------------------------------
for a in 5 7 8 10 13 14 15 16; do
  z=alg$a.example.
  soa $z > a$a.src
  echo "www.$z 3600 IN A 192.0.2.$((100 + a))" >> a$a.src
  if [ $a = 7 ]; then sign $z a$a.src -n -t 1; else sign $z a$a.src; fi
done

# --- broken chains ------------------------------------------------------------------------------
# kskunsigned.example.: the KSK that the parent's DS names is published but signs nothing; the
# zone, its DNSKEY set included, is signed by the ZSK alone.
soa kskunsigned.example. > ku.src
echo "www.kskunsigned.example. 3600 IN A 192.0.2.20" >> ku.src
grep -hv '^;' "${KSK[kskunsigned.example.]}.key" >> ku.src
ldns-signzone -i "$inception" -e "$expiration" -f "$out/kskunsigned.example.zone" ku.src "${ZSK[kskunsigned.example.]}"
echo "kskunsigned.example. kskunsigned.example.zone" >> "$out/zones.list"
for z in nokey digest3; do
  soa $z.example. > $z.src
  echo "www.$z.example. 3600 IN A 192.0.2.20" >> $z.src
  sign $z.example. $z.src
done
soa expired.example. > ex.src
echo 'www.expired.example. 3600 IN A 192.0.2.21' >> ex.src
ldns-signzone -i 20200101 -e 20210101 -f "$out/expired.example.zone" ex.src "${KSK[expired.example.]}" "${ZSK[expired.example.]}"
echo "expired.example. expired.example.zone" >> "$out/zones.list"
soa future.example. > fu.src
echo 'www.future.example. 3600 IN A 192.0.2.22' >> fu.src
ldns-signzone -i 20500101 -e 20590101 -f "$out/future.example.zone" fu.src "${KSK[future.example.]}" "${ZSK[future.example.]}"
echo "future.example. future.example.zone" >> "$out/zones.list"
for it in 100 600; do
  soa iter$it.example. > it$it.src
  echo "www.iter$it.example. 3600 IN A 192.0.2.23" >> it$it.src
  sign iter$it.example. it$it.src -n -t $it -s 00
done

soa insecure.example. > ie.src
echo 'www.insecure.example. 3600 IN A 192.0.2.30' >> ie.src
plain insecure.example. ie.src

# --- an unsigned TLD holding a signed zone without DS (the yax.im case) -----------------------------
soa unsignedtld. > ut.src
delegate ut.src yax.unsignedtld.
soa yax.unsignedtld. > yax.src
cat >> yax.src <<ZONE
yax.unsignedtld. 3600 IN A 127.0.0.1
x.y.z.yax.unsignedtld. 3600 IN A 127.0.0.1
_xmpp-client._tcp.yax.unsignedtld. 3600 IN SRV 5 0 5222 xmpp.yax.unsignedtld.
_xmpp-server._tcp.yax.unsignedtld. 3600 IN SRV 5 0 5269 xmpp.yax.unsignedtld.
xmpp.yax.unsignedtld. 3600 IN A 127.0.0.1
_5222._tcp.xmpp.yax.unsignedtld. 3600 IN TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
_5269._tcp.xmpp.yax.unsignedtld. 3600 IN TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
ZONE
delegate yax.src conference.yax.unsignedtld. "${DSLINE[conference.yax.unsignedtld.]}"
sign yax.unsignedtld. yax.src
soa conference.yax.unsignedtld. > conf.src
echo 'conference.yax.unsignedtld. 3600 IN A 127.0.0.1' >> conf.src
sign conference.yax.unsignedtld. conf.src
ldns-key2ds -n -2 "${KSK[yax.unsignedtld.]}.key" | sed 's/\t/ /g' > "$out/yax.unsignedtld.ds"
for z in badkey nodlv unalgo other deleg; do
  soa $z.unsignedtld. > $z.src
  echo "www.$z.unsignedtld. 3600 IN A 192.0.2.40" >> $z.src
  sign $z.unsignedtld. $z.src
  delegate ut.src $z.unsignedtld.
done
# expiredkeys.unsignedtld.: a DLV vouches for it, but its signatures expired (dlv_keyretry).
soa expiredkeys.unsignedtld. > ek.src
echo "www.expiredkeys.unsignedtld. 3600 IN A 192.0.2.41" >> ek.src
ldns-signzone -i 20200101 -e 20210101 -f "$out/expiredkeys.unsignedtld.zone" ek.src "${KSK[expiredkeys.unsignedtld.]}" "${ZSK[expiredkeys.unsignedtld.]}"
echo "expiredkeys.unsignedtld. expiredkeys.unsignedtld.zone" >> "$out/zones.list"
delegate ut.src expiredkeys.unsignedtld.
plain unsignedtld. ut.src

# dlv_rdata ZONE KEYFILE: the DS of a key, as DLV RDATA (RFC 4431: same layout).
dlv_rdata() { ldns-key2ds -n -2 "$2.key" | awk '{print $(NF-3), $(NF-2), $(NF-1), $NF}'; }

# --- look-aside registry dlv.example. (subtree: the whole tree) -------------------------------
soa dlv.example. > dlv.src
cat >> dlv.src <<ZONE
yax.unsignedtld.dlv.example. 3600 IN DLV $(dlv_rdata yax.unsignedtld. "${KSK[yax.unsignedtld.]}")
badkey.unsignedtld.dlv.example. 3600 IN DLV $(dlv_rdata badkey.unsignedtld. "$stray_dlv")
unalgo.unsignedtld.dlv.example. 3600 IN DLV 12345 253 2 $(printf '%064d' 0)
secure.example.dlv.example. 3600 IN DLV $(dlv_rdata secure.example. "$stray")
expiredkeys.unsignedtld.dlv.example. 3600 IN DLV $(dlv_rdata expiredkeys.unsignedtld. "${KSK[expiredkeys.unsignedtld.]}")
unsigned.optout.example.dlv.example. 3600 IN DLV $(dlv_rdata unsigned.optout.example. "${KSK[unsigned.optout.example.]}")
ZONE
# dlv_delegation: the registry delegates part of its namespace to a signed child zone, whose
# apex holds the DLV for deleg.unsignedtld.
delegate dlv.src deleg.unsignedtld.dlv.example. "${DSLINE[deleg.unsignedtld.dlv.example.]}"
soa deleg.unsignedtld.dlv.example. > dd.src
echo "deleg.unsignedtld.dlv.example. 3600 IN DLV $(dlv_rdata deleg.unsignedtld. "${KSK[deleg.unsignedtld.]}")" >> dd.src
sign deleg.unsignedtld.dlv.example. dd.src
sign dlv.example. dlv.src
ldns-key2ds -n -2 "${KSK[dlv.example.]}.key" | sed 's/\t/ /g' > "$out/dlv.example.ds"

# --- look-aside registry dlv2.example. (subtree: unsignedtld.; its own anchor) -----------------
soa dlv2.example. > dlv2.src
echo "other.dlv2.example. 3600 IN DLV $(dlv_rdata other.unsignedtld. "${KSK[other.unsignedtld.]}")" >> dlv2.src
# NSEC3: the walk cannot skip names here and must still end (one label at a time).
sign dlv2.example. dlv2.src -n -s 01 -t 0
ldns-key2ds -n -2 "${KSK[dlv2.example.]}.key" | sed 's/\t/ /g' > "$out/dlv2.example.ds"

# Strip ldns's key comments so the files stay plain zone files.
sed -i 's/ *;{id = .*$//' "$out"/*.zone
echo "zones written to $out"
