-- Prosody with DANE, resolving through lookaside (Debian: apt install prosody lua-unbound).
-- Prosody's resolver (lua-unbound) forwards to the nameservers of /etc/resolv.conf, which point
-- at lookaside, and validates again itself: lookaside passes RRSIGs and proofs on (DO=1).
use_dane = true
unbound = {
    resolvconf = true;   -- forward to /etc/resolv.conf's nameservers (lookaside)
}
