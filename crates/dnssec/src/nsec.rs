//! NSEC denial proofs (RFC 4035 §5.4, RFC 4592 for wildcards). The NSEC RRsets handed in have
//! already been verified with the keys of `zone`.

use crate::denial::Claim;
use crate::name::Name;
use crate::rdata::Nsec;
use crate::rtype;

/// What an NSEC set says about a DS at a name, for the chain walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsAbsence {
    /// The name is a delegation without DS: the child is insecure.
    InsecureDelegation,
    /// The name exists but is no zone cut (no NS), so the walk goes on in the same zone.
    NoDelegation,
}

/// True when the NSEC is a delegation point's record from the parent side: NS without SOA.
fn is_delegation(n: &Nsec) -> bool {
    n.types.contains(rtype::NS) && !n.types.contains(rtype::SOA)
}

/// RFC 4035 §5.4 / RFC 6672: an NSEC whose owner is a delegation or DNAME above `name` comes from
/// the wrong side of a cut and proves nothing about `name`.
fn usable_for(n: &Nsec, name: &Name) -> bool {
    !(name.is_below(&n.owner) && (is_delegation(n) || n.types.contains(rtype::DNAME)))
}

fn covering<'a>(nsecs: &'a [Nsec], name: &Name) -> Option<&'a Nsec> {
    nsecs.iter().find(|n| n.covers(name) && usable_for(n, name))
}

fn matching<'a>(nsecs: &'a [Nsec], name: &Name) -> Option<&'a Nsec> {
    nsecs.iter().find(|n| n.owner == *name)
}

/// The closest encloser implied by an NSEC covering `name`: the longer of the common ancestors of
/// `name` with the NSEC's owner and next name.
fn closest_encloser(n: &Nsec, name: &Name) -> Name {
    let a = name.common_ancestor(&n.owner);
    let b = name.common_ancestor(&n.next);
    if a.label_count() >= b.label_count() { a } else { b }
}

/// Proves that `qname` does not exist: an NSEC covers it and another covers the wildcard at its
/// closest encloser (RFC 4035 §5.4).
/// The error is the claim that could not be proven (the name's absence, or the wildcard's).
pub fn prove_name_error(nsecs: &[Nsec], qname: &Name, zone: &Name) -> Result<(), Claim> {
    let unproven = || Claim::NameError { name: qname.clone() };
    let cover = covering(nsecs, qname).ok_or_else(unproven)?;
    let ce = closest_encloser(cover, qname);
    if !ce.is_at_or_below(zone) {
        return Err(unproven());
    }
    let wildcard = ce.wildcard().ok_or_else(unproven)?;
    if matching(nsecs, &wildcard).is_some() || covering(nsecs, &wildcard).is_none() {
        return Err(Claim::NameError { name: wildcard });
    }
    Ok(())
}

/// Proves that `qname` has no `qtype` data (RFC 4035 §5.4, RFC 4592 wildcard NODATA, and empty
/// non-terminals).
pub fn prove_nodata(nsecs: &[Nsec], qname: &Name, qtype: u16) -> Result<(), Claim> {
    let what = || Claim::NoData { name: qname.clone(), qtype };
    if let Some(n) = matching(nsecs, qname) {
        if n.types.contains(qtype) || n.types.contains(rtype::CNAME) {
            return Err(what());
        }
        // A DS NODATA must come from the parent: the child apex's NSEC (with SOA) cannot deny DS.
        // Any other NODATA from a delegation NSEC is the parent speaking for the child.
        let wrong_side = if qtype == rtype::DS {
            n.types.contains(rtype::SOA) && !qname.is_root()
        } else {
            is_delegation(n)
        };
        return if wrong_side { Err(what()) } else { Ok(()) };
    }
    let Some(cover) = covering(nsecs, qname) else { return Err(what()) };
    // Empty non-terminal: the next name lies below qname.
    if cover.next.is_below(qname) {
        return Ok(());
    }
    // Wildcard NODATA: the wildcard at the closest encloser exists without the type.
    let ce = closest_encloser(cover, qname);
    if let Some(wild) = ce.wildcard().and_then(|w| matching(nsecs, &w))
        && !wild.types.contains(qtype)
        && !wild.types.contains(rtype::CNAME)
    {
        return Ok(());
    }
    Err(what())
}

/// Proves that no closer match than the wildcard exists for a wildcard-expanded answer (RFC 4035
/// §5.3.4): an NSEC covers `qname`.
pub fn prove_wildcard_answer(nsecs: &[Nsec], qname: &Name) -> Result<(), Claim> {
    covering(nsecs, qname).map(|_| ()).ok_or_else(|| Claim::WildcardAnswer { name: qname.clone() })
}

/// What the NSECs say about a DS at `name` (a validated NODATA or NXDOMAIN for `name DS`).
pub fn ds_absence(nsecs: &[Nsec], name: &Name) -> Result<DsAbsence, Claim> {
    if let Some(n) = matching(nsecs, name) {
        prove_nodata(nsecs, name, rtype::DS)?;
        return Ok(if n.types.contains(rtype::NS) {
            DsAbsence::InsecureDelegation
        } else {
            DsAbsence::NoDelegation
        });
    }
    // Empty non-terminal or a name that does not exist: no zone cut here.
    if covering(nsecs, name).is_some() {
        return Ok(DsAbsence::NoDelegation);
    }
    Err(Claim::NoData { name: name.clone(), qtype: rtype::DS })
}
