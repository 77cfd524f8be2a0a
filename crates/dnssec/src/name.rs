//! Domain names in wire form, with the original spelling kept.
//!
//! RFC 4034 §6.1 canonical order and RFC 4343 case-insensitive comparison live here, so that no
//! other module compares names as strings or byte slices.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Longest name in wire form (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §3.1).
pub const MAX_LABEL_LEN: usize = 63;

/// An absolute domain name in uncompressed wire form, with the case it arrived in.
///
/// Equality, hashing and ordering ignore ASCII case; [`Name::eq_exact`] compares the spelling.
/// `Ord` is the canonical DNSSEC order of RFC 4034 §6.1.
#[derive(Clone)]
pub struct Name {
    wire: Vec<u8>,
}

/// Why a name could not be read from presentation or wire form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// A label is longer than 63 octets.
    #[error("label longer than 63 octets")]
    LabelTooLong,
    /// The whole name is longer than 255 octets.
    #[error("name longer than 255 octets")]
    NameTooLong,
    /// An empty label in the middle of a name (`a..b`).
    #[error("empty label")]
    EmptyLabel,
    /// A backslash escape that is not `\X` or `\DDD` with DDD ≤ 255.
    #[error("bad escape sequence")]
    BadEscape,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Self {
        Self { wire: vec![0] }
    }

    /// Takes a name in uncompressed wire form. The caller guarantees the form (the wire reader
    /// does); lengths are checked again here.
    pub fn from_wire(wire: Vec<u8>) -> Result<Self, NameError> {
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        let mut i = 0;
        loop {
            let Some(&len) = wire.get(i) else {
                return Err(NameError::EmptyLabel);
            };
            if len == 0 {
                if i + 1 != wire.len() {
                    return Err(NameError::EmptyLabel);
                }
                return Ok(Self { wire });
            }
            if len as usize > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            i += 1 + len as usize;
        }
    }

    /// Parses presentation form (`www.Example.com.`; a missing final dot is accepted, the name is
    /// always absolute). Supports `\X` and `\DDD` escapes.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let text = text.trim();
        if text == "." || text.is_empty() {
            return Ok(Self::root());
        }
        let mut wire = Vec::with_capacity(text.len() + 2);
        let mut label: Vec<u8> = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        let flush = |label: &mut Vec<u8>, wire: &mut Vec<u8>| -> Result<(), NameError> {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
            label.clear();
            Ok(())
        };
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'.' => {
                    flush(&mut label, &mut wire)?;
                    i += 1;
                    if i == bytes.len() {
                        break;
                    }
                }
                b'\\' => {
                    let rest = &bytes[i + 1..];
                    if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                        let v = (rest[0] - b'0') as u32 * 100
                            + (rest[1] - b'0') as u32 * 10
                            + (rest[2] - b'0') as u32;
                        if v > 255 {
                            return Err(NameError::BadEscape);
                        }
                        label.push(v as u8);
                        i += 4;
                    } else if let Some(&x) = rest.first() {
                        label.push(x);
                        i += 2;
                    } else {
                        return Err(NameError::BadEscape);
                    }
                }
                _ => {
                    label.push(c);
                    i += 1;
                }
            }
        }
        if !label.is_empty() {
            flush(&mut label, &mut wire)?;
        }
        wire.push(0);
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Self { wire })
    }

    /// The uncompressed wire form, original case.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// The wire form lower-cased, as RFC 4034 §6.2 wants it in signed data.
    pub fn to_canonical_wire(&self) -> Vec<u8> {
        self.wire.to_ascii_lowercase()
    }

    /// A lower-cased copy.
    pub fn to_lowercase(&self) -> Self {
        Self { wire: self.wire.to_ascii_lowercase() }
    }

    /// True for `.`.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// The labels from left to right, without the empty root label.
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: &self.wire, pos: 0 }
    }

    /// Number of labels, not counting the root and not counting a leading `*`, which is what the
    /// RRSIG Labels field counts (RFC 4034 §3.1.3).
    pub fn rrsig_label_count(&self) -> usize {
        let n = self.label_count();
        if self.is_wildcard() { n - 1 } else { n }
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// True when the leftmost label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.wire.len() >= 2 && self.wire[0] == 1 && self.wire[1] == b'*'
    }

    /// The name one label up; the root's parent is `None`.
    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        let skip = 1 + self.wire[0] as usize;
        Some(Self { wire: self.wire[skip..].to_vec() })
    }

    /// Keeps the rightmost `n` labels (fewer labels than `n`: the name itself).
    pub fn trim_to(&self, n: usize) -> Self {
        let total = self.label_count();
        let mut name = self.clone();
        for _ in n..total {
            name = name.parent().unwrap_or_else(Self::root);
        }
        name
    }

    /// `label.self`, or `None` when the result would be too long.
    pub fn prepend(&self, label: &[u8]) -> Option<Self> {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return None;
        }
        let mut wire = Vec::with_capacity(self.wire.len() + label.len() + 1);
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.wire);
        if wire.len() > MAX_NAME_LEN {
            return None;
        }
        Some(Self { wire })
    }

    /// `*.self`.
    pub fn wildcard(&self) -> Option<Self> {
        self.prepend(b"*")
    }

    /// `self` followed by `suffix` (for look-aside names `zone.registry`).
    pub fn concat(&self, suffix: &Self) -> Option<Self> {
        let mut wire = self.wire[..self.wire.len() - 1].to_vec();
        wire.extend_from_slice(&suffix.wire);
        if wire.len() > MAX_NAME_LEN {
            return None;
        }
        Some(Self { wire })
    }

    /// True when `self` equals `ancestor` or lies below it.
    pub fn is_at_or_below(&self, ancestor: &Self) -> bool {
        let a = &ancestor.wire;
        if a.len() > self.wire.len() {
            return false;
        }
        let offset = self.wire.len() - a.len();
        if !self.wire[offset..].eq_ignore_ascii_case(a) {
            return false;
        }
        // The suffix must start on a label boundary.
        let mut i = 0;
        while i < offset {
            i += 1 + self.wire[i] as usize;
        }
        i == offset
    }

    /// True when `self` lies strictly below `ancestor`.
    pub fn is_below(&self, ancestor: &Self) -> bool {
        self.wire.len() > ancestor.wire.len() && self.is_at_or_below(ancestor)
    }

    /// The longest name that is an ancestor of (or equal to) both.
    pub fn common_ancestor(&self, other: &Self) -> Self {
        let mut a = self.clone();
        while !other.is_at_or_below(&a) {
            a = a.parent().unwrap_or_else(Self::root);
        }
        a
    }

    /// The ancestor of `self` that has one label more than `ancestor` (the "next closer" name of
    /// RFC 5155 §1.3). `None` when `self` is not strictly below `ancestor`.
    pub fn child_towards(&self, ancestor: &Self) -> Option<Self> {
        if !self.is_below(ancestor) {
            return None;
        }
        Some(self.trim_to(ancestor.label_count() + 1))
    }

    /// Exact, case-sensitive equality.
    pub fn eq_exact(&self, other: &Self) -> bool {
        self.wire == other.wire
    }

    /// Replaces the spelling with `other`'s when the two are equal ignoring case.
    pub fn with_spelling_of(&self, other: &Self) -> Self {
        if self == other { other.clone() } else { self.clone() }
    }
}

/// Iterator over the labels of a [`Name`], left to right.
pub struct Labels<'a> {
    wire: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.get(self.pos)? as usize;
        if len == 0 {
            return None;
        }
        let label = self.wire.get(self.pos + 1..self.pos + 1 + len)?;
        self.pos += 1 + len;
        Some(label)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }
}
impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in &self.wire {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl Ord for Name {
    /// RFC 4034 §6.1: compare label by label from the right, each label as a lower-cased octet
    /// string; a name sorts before its descendants.
    fn cmp(&self, other: &Self) -> Ordering {
        let a: Vec<&[u8]> = self.labels().collect();
        let b: Vec<&[u8]> = other.labels().collect();
        for (x, y) in a.iter().rev().zip(b.iter().rev()) {
            let ord = x.iter().map(u8::to_ascii_lowercase).cmp(y.iter().map(u8::to_ascii_lowercase));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.len().cmp(&b.len())
    }
}
impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &c in label {
                match c {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => write!(f, "\\{}", c as char)?,
                    0x21..=0x7e => write!(f, "{}", c as char)?,
                    _ => write!(f, "\\{c:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn rfc4034_section_6_1_canonical_order() {
        // The example list of RFC 4034 §6.1, in its order.
        let list = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let names: Vec<Name> = list.iter().map(|s| n(s)).collect();
        for w in names.windows(2) {
            assert!(w[0] < w[1], "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn case_is_ignored_for_equality_but_kept() {
        let a = n("YAX.im.");
        let b = n("yax.IM");
        assert_eq!(a, b);
        assert!(!a.eq_exact(&b));
        assert_eq!(a.to_string(), "YAX.im.");
    }

    #[test]
    fn ancestry() {
        assert!(n("a.b.example.").is_at_or_below(&n("example.")));
        assert!(!n("aexample.").is_at_or_below(&n("example.")));
        assert!(n("x.").is_below(&Name::root()));
        assert_eq!(n("a.b.example.").common_ancestor(&n("c.b.example.")), n("b.example."));
        assert_eq!(n("a.b.c.d.").child_towards(&n("d.")), Some(n("c.d.")));
        assert_eq!(n("*.example.").rrsig_label_count(), 1);
    }

    #[test]
    fn bad_names_are_errors() {
        assert_eq!(Name::parse(&"a".repeat(64)), Err(NameError::LabelTooLong));
        assert_eq!(Name::parse("a..b"), Err(NameError::EmptyLabel));
        let long = vec!["abcdefghi"; 30].join(".");
        assert_eq!(Name::parse(&long), Err(NameError::NameTooLong));
    }
}
