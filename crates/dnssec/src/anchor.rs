//! Trust anchors: the built-in root KSKs, anchor files (zone-file DS/DNSKEY lines, BIND
//! `trust-anchors { }` blocks, IANA root-anchors.xml). The closest enclosing anchor applies to a
//! name (islands of trust). Negative trust anchors live in [`crate::negative`].

use crate::name::Name;
use crate::rdata::{Dnskey, Ds};
use crate::rtype;

/// The root zone's KSK-2017 (20326) and KSK-2024 (38696) DS records, as IANA publishes them in
/// root-anchors.xml (identical in Debian dns-root-data 2024071801). KSK-2010 is not shipped.
pub const ROOT_ANCHORS: &str = "\
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
";

/// A trust anchor for one zone: DS records and/or DNSKEYs that are trusted a priori.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustAnchor {
    /// The zone.
    pub zone: Name,
    /// Trusted DS records.
    pub ds: Vec<Ds>,
    /// Trusted DNSKEYs.
    pub keys: Vec<Dnskey>,
}

/// An error in an anchor file, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct AnchorError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// All anchors in force.
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<TrustAnchor>,
}

impl TrustAnchors {
    /// No anchors at all (everything is indeterminate).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in root anchors.
    pub fn builtin_root() -> Self {
        let mut set = Self::empty();
        // The constant is ours and known good (`builtin_root_has_both_ksks` and the root DS
        // vector test check it), so its parse result carries no information.
        let _ = set.add_text(ROOT_ANCHORS, 0);
        set
    }

    /// Adds anchors from a file's text in any supported format; `now` (seconds since the epoch)
    /// filters root-anchors.xml entries by validFrom/validUntil.
    pub fn add_text(&mut self, text: &str, now: u64) -> Result<(), AnchorError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with("<?xml") || trimmed.starts_with("<TrustAnchor") {
            return self.add_root_anchors_xml(text, now);
        }
        if is_bind_block(text) {
            return self.add_bind_block(text);
        }
        for (i, raw) in text.lines().enumerate() {
            let line = strip_comment(raw).trim();
            if line.is_empty() || line.starts_with('$') {
                continue;
            }
            self.add_zone_line(line).map_err(|message| AnchorError { line: i + 1, message })?;
        }
        Ok(())
    }

    /// Adds one `owner [ttl] [class] TYPE rdata` line (DS, DNSKEY, or DLV-free forms).
    pub fn add_zone_line(&mut self, line: &str) -> Result<(), String> {
        let tokens: Vec<&str> = line.split_whitespace().filter(|t| *t != "(" && *t != ")").collect();
        let owner = tokens.first().ok_or("empty line")?;
        let zone = Name::parse(owner).map_err(|e| format!("bad owner name {owner:?}: {e}"))?;
        let mut i = 1;
        while i < tokens.len()
            && (tokens[i].chars().all(|c| c.is_ascii_digit()) || tokens[i].eq_ignore_ascii_case("IN"))
        {
            i += 1;
        }
        let rtype = tokens.get(i).ok_or("missing record type")?;
        let rdata = &tokens[i + 1..];
        match rtype::parse_type(rtype) {
            Some(rtype::DS) => {
                let ds = parse_ds_fields(rdata)?;
                self.insert(zone, Some(ds), None);
            }
            Some(rtype::DNSKEY) => {
                let key = parse_dnskey_fields(rdata)?;
                self.insert(zone, None, Some(key));
            }
            _ => return Err(format!("expected DS or DNSKEY, found {rtype:?}")),
        }
        Ok(())
    }

    fn add_bind_block(&mut self, text: &str) -> Result<(), AnchorError> {
        // Entries look like: NAME (static-key|initial-key|static-ds|initial-ds) fields... "quoted";
        let body_start = text.find('{').map_or(0, |i| i + 1);
        let mut offset = body_start;
        for entry in text[body_start..].split(';') {
            let lead = entry.len() - entry.trim_start().len();
            let line = 1 + text[..offset + lead].matches('\n').count();
            offset += entry.len() + 1;
            let clean: String = entry.lines().map(strip_bind_comment).collect::<Vec<_>>().join(" ");
            let clean = clean.replace(['"', '}'], " ");
            let tokens: Vec<&str> = clean.split_whitespace().collect();
            if tokens.is_empty() {
                continue;
            }
            if tokens.len() < 3 {
                return Err(AnchorError {
                    line,
                    message: format!("incomplete entry {:?}", tokens.join(" ")),
                });
            }
            let zone = Name::parse(tokens[0])
                .map_err(|e| AnchorError { line, message: format!("bad name {:?}: {e}", tokens[0]) })?;
            let err = |message: String| AnchorError { line, message };
            match tokens[1] {
                "initial-key" | "static-key" => {
                    let key = parse_dnskey_fields(&tokens[2..]).map_err(err)?;
                    self.insert(zone, None, Some(key));
                }
                "initial-ds" | "static-ds" => {
                    let ds = parse_ds_fields(&tokens[2..]).map_err(err)?;
                    self.insert(zone, Some(ds), None);
                }
                other => {
                    // trusted-keys / managed-keys style: NAME [initial-key] FLAGS PROTO ALG KEY
                    if other.chars().all(|c| c.is_ascii_digit()) {
                        let key = parse_dnskey_fields(&tokens[1..]).map_err(err)?;
                        self.insert(zone, None, Some(key));
                    } else {
                        return Err(err(format!("unknown anchor kind {other:?}")));
                    }
                }
            }
        }
        Ok(())
    }

    fn add_root_anchors_xml(&mut self, text: &str, now: u64) -> Result<(), AnchorError> {
        let zone_text = tag(text, "Zone").unwrap_or(".");
        let zone =
            Name::parse(zone_text).map_err(|e| AnchorError { line: 1, message: format!("bad Zone: {e}") })?;
        let mut rest = text;
        let mut found = false;
        while let Some(start) = rest.find("<KeyDigest") {
            let after = &rest[start..];
            let end = after
                .find("</KeyDigest>")
                .ok_or(AnchorError { line: 0, message: "unclosed KeyDigest".into() })?;
            let block = &after[..end];
            let line = 1 + text[..text.len() - rest.len() + start].matches('\n').count();
            let err = |message: String| AnchorError { line, message };
            let valid_from = attribute(block, "validFrom").map(parse_xml_time).transpose().map_err(err)?;
            let valid_until = attribute(block, "validUntil").map(parse_xml_time).transpose().map_err(err)?;
            let in_force = valid_from.is_none_or(|t| t <= now) && valid_until.is_none_or(|t| now < t);
            if now == 0 || in_force {
                let fields: Vec<&str> = ["KeyTag", "Algorithm", "DigestType", "Digest"]
                    .iter()
                    .map(|t| tag(block, t).ok_or_else(|| err(format!("KeyDigest without {t}"))))
                    .collect::<Result<_, _>>()?;
                let ds = parse_ds_fields(&fields).map_err(err)?;
                self.insert(zone.clone(), Some(ds), None);
                found = true;
            }
            rest = &after[end..];
        }
        if !found {
            return Err(AnchorError { line: 1, message: "no KeyDigest valid now".into() });
        }
        Ok(())
    }

    fn insert(&mut self, zone: Name, ds: Option<Ds>, key: Option<Dnskey>) {
        let idx = match self.anchors.iter().position(|a| a.zone == zone) {
            Some(i) => i,
            None => {
                self.anchors.push(TrustAnchor { zone, ds: Vec::new(), keys: Vec::new() });
                self.anchors.len() - 1
            }
        };
        let a = &mut self.anchors[idx];
        if let Some(ds) = ds
            && !a.ds.contains(&ds)
        {
            a.ds.push(ds);
        }
        if let Some(k) = key
            && !a.keys.contains(&k)
        {
            a.keys.push(k);
        }
    }

    /// Adds one anchor directly.
    pub fn add(&mut self, anchor: TrustAnchor) {
        for ds in anchor.ds {
            self.insert(anchor.zone.clone(), Some(ds), None);
        }
        for key in anchor.keys {
            self.insert(anchor.zone.clone(), None, Some(key));
        }
    }

    /// The deepest anchor at or above `name`.
    pub fn closest(&self, name: &Name) -> Option<&TrustAnchor> {
        self.anchors.iter().filter(|a| name.is_at_or_below(&a.zone)).max_by_key(|a| a.zone.label_count())
    }

    /// Every anchor.
    pub fn iter(&self) -> impl Iterator<Item = &TrustAnchor> {
        self.anchors.iter()
    }

    /// True when there are no positive anchors.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// A zone-file line without its comment: from `;` (RFC 1035 §5.1), or `#` as a courtesy. Not
/// `//`: base64 keys contain it (about one P-256 key in fifty), and a key cut there is unreadable.
fn strip_comment(line: &str) -> &str {
    let cut = [line.find(';'), line.find('#')].into_iter().flatten().min();
    cut.map_or(line, |i| &line[..i])
}

/// A line of a BIND block without its `#` or `//` comment, outside double quotes (the quoted
/// key or digest may itself contain `//`). `;` ends statements there and is split on elsewhere.
fn strip_bind_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut quoted = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'#' if !quoted => return &line[..i],
            b'/' if !quoted && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].trim())
}

fn attribute<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    let head = &block[..block.find('>')?];
    let pat = format!("{name}=\"");
    let start = head.find(&pat)? + pat.len();
    let end = head[start..].find('"')? + start;
    Some(&head[start..end])
}

/// Parses `YYYY-MM-DDTHH:MM:SS[+00:00|Z]` into seconds since the epoch.
fn parse_xml_time(s: &str) -> Result<u64, String> {
    let bad = || format!("bad time {s:?}");
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|v| v.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    u64::try_from(crate::civil_time::epoch_from_civil(y, mo, d, h, mi, se)).map_err(|_| bad())
}

/// True when the text opens a BIND `trust-anchors`, `trusted-keys` or `managed-keys` block: the
/// keyword as the first word of a line outside comments, followed by `{` (a zone-file anchor may
/// mention the words in a comment).
fn is_bind_block(text: &str) -> bool {
    let code: String =
        text.lines().map(|l| strip_comment(strip_bind_comment(l))).collect::<Vec<_>>().join("\n");
    let words: Vec<&str> = code.split_whitespace().collect();
    words
        .windows(2)
        .any(|w| matches!(w[0], "trust-anchors" | "trusted-keys" | "managed-keys") && w[1].starts_with('{'))
        || words.iter().any(|w| matches!(*w, "trust-anchors{" | "trusted-keys{" | "managed-keys{"))
}

/// Parses DS presentation fields: key tag, algorithm, digest type, hex digest (may be split).
pub fn parse_ds_fields(fields: &[&str]) -> Result<Ds, String> {
    if fields.len() < 4 {
        return Err("DS needs key tag, algorithm, digest type and digest".into());
    }
    let key_tag = fields[0].parse().map_err(|_| format!("bad key tag {:?}", fields[0]))?;
    let algorithm = fields[1].parse().map_err(|_| format!("bad algorithm {:?}", fields[1]))?;
    let digest_type = fields[2].parse().map_err(|_| format!("bad digest type {:?}", fields[2]))?;
    let digest = crate::codec::hex_decode(&fields[3..].concat()).ok_or("digest is not hexadecimal")?;
    if let Some(len) = match digest_type {
        1 => Some(20),
        2 => Some(32),
        4 => Some(48),
        _ => None,
    } && digest.len() != len
    {
        return Err(format!("digest type {digest_type} needs {len} octets, found {}", digest.len()));
    }
    Ok(Ds { key_tag, algorithm, digest_type, digest })
}

/// Parses DNSKEY presentation fields: flags, protocol, algorithm, base64 key (may be split).
pub fn parse_dnskey_fields(fields: &[&str]) -> Result<Dnskey, String> {
    if fields.len() < 4 {
        return Err("DNSKEY needs flags, protocol, algorithm and key".into());
    }
    let flags: u16 = fields[0].parse().map_err(|_| format!("bad flags {:?}", fields[0]))?;
    let protocol: u8 = fields[1].parse().map_err(|_| format!("bad protocol {:?}", fields[1]))?;
    let algorithm: u8 = fields[2].parse().map_err(|_| format!("bad algorithm {:?}", fields[2]))?;
    let key = crate::codec::base64_decode(&fields[3..].concat()).ok_or("key is not base64")?;
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    let mut rdata = flags.to_be_bytes().to_vec();
    rdata.push(protocol);
    rdata.push(algorithm);
    rdata.extend_from_slice(&key);
    Dnskey::parse(&rdata).ok_or_else(|| "bad DNSKEY".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_file_anchor_whose_comment_names_trust_anchors_is_read_as_a_zone_file() {
        let mut a = TrustAnchors::empty();
        a.add_text(
            "; copied from the trust-anchors { } block of named.conf\n\
             example. IN DS 12345 13 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
            0,
        )
        .unwrap();
        assert_eq!(a.closest(&Name::parse("www.example.").unwrap()).unwrap().ds.len(), 1);
    }

    /// Base64 keys may hold `//`, which is a comment in named.conf but not in a zone file or
    /// inside a quoted BIND key (a test once failed on a freshly generated key that did).
    #[test]
    fn keys_whose_base64_holds_two_slashes_are_read_whole() {
        let key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e////KCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRg==";
        let mut a = TrustAnchors::empty();
        a.add_text(&format!("example. 3600 IN DNSKEY 257 3 13 {key} ; the KSK\n"), 0).unwrap();
        let whole = crate::codec::base64_decode(key).unwrap();
        assert_eq!(a.closest(&Name::parse("example.").unwrap()).unwrap().keys[0].public_key, whole);
        let bind = format!("trust-anchors {{\n  example. initial-key 257 3 13 \"{key}\"; // the KSK\n}};\n");
        let mut b = TrustAnchors::empty();
        b.add_text(&bind, 0).unwrap();
        assert_eq!(b.closest(&Name::parse("example.").unwrap()).unwrap().keys[0].public_key, whole);
    }

    #[test]
    fn builtin_root_has_both_ksks() {
        let a = TrustAnchors::builtin_root();
        let root = a.closest(&Name::parse("yax.im.").unwrap()).unwrap();
        let tags: Vec<u16> = root.ds.iter().map(|d| d.key_tag).collect();
        assert_eq!(tags, vec![20326, 38696]);
    }

    #[test]
    fn bind_block_and_bad_lines() {
        let text = "trust-anchors {\n  example. initial-ds 12345 13 2 \"E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\";\n};\n";
        let mut a = TrustAnchors::empty();
        a.add_text(text, 0).unwrap();
        assert_eq!(a.closest(&Name::parse("www.example.").unwrap()).unwrap().ds[0].key_tag, 12345);

        let mut b = TrustAnchors::empty();
        let err = b.add_text("; comment\nexample. IN DS 1 8 2 XYZ\n", 0).unwrap_err();
        assert_eq!(err.line, 2);
        let err = b.add_text("example. IN A 192.0.2.1\n", 0).unwrap_err();
        assert!(err.message.contains("expected DS or DNSKEY"));
        let err = b.add_text("example. IN DS 1 8 2 00\n", 0).unwrap_err();
        assert!(err.message.contains("needs 32 octets"), "{err}");
    }

    #[test]
    fn root_anchors_xml_honours_validity() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<TrustAnchor id="x" source="http://data.iana.org/root-anchors/root-anchors.xml">
<Zone>.</Zone>
<KeyDigest id="Kjqmt7v" validFrom="2010-07-15T00:00:00+00:00" validUntil="2019-01-11T00:00:00+00:00">
<KeyTag>19036</KeyTag><Algorithm>8</Algorithm><DigestType>2</DigestType>
<Digest>49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5</Digest>
</KeyDigest>
<KeyDigest id="Klajeyz" validFrom="2017-02-02T00:00:00+00:00">
<KeyTag>20326</KeyTag><Algorithm>8</Algorithm><DigestType>2</DigestType>
<Digest>E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D</Digest>
</KeyDigest>
</TrustAnchor>"#;
        let mut a = TrustAnchors::empty();
        a.add_text(xml, 1_800_000_000).unwrap();
        let tags: Vec<u16> = a.closest(&Name::root()).unwrap().ds.iter().map(|d| d.key_tag).collect();
        assert_eq!(tags, vec![20326]);
        assert_eq!(parse_xml_time("2017-02-02T00:00:00+00:00").unwrap(), 1_485_993_600);
    }
}
