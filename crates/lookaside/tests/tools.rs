//! The debugging commands against the real-server hierarchy: `query` verdict lines, `trace`
//! steps (secure, insecure, four kinds of bogus, look-aside), `--json` output checked against its
//! schema, and the `xmpp` report for secure, insecure, bogus-TLSA, no-SRV and look-aside domains.

mod harness;

use harness::Hierarchy;
use serde_json::Value;

macro_rules! hierarchy {
    () => {
        match Hierarchy::get() {
            Some(h) => h,
            None => return,
        }
    };
}

#[test]
fn query_prints_records_and_the_delv_style_verdict() {
    let h = hierarchy!();
    let (code, out) = h.cli(&["query", "www.secure.example.", "A"]);
    assert_eq!(code, 0, "{out}");
    // The shared upstream may have held the record a second or two for another test: TTL 3600
    // or a little less.
    let ttl = out.lines().find_map(|l| {
        l.strip_prefix("www.secure.example.\t")?.strip_suffix("\tIN\tA\t192.0.2.2")?.parse::<u32>().ok()
    });
    assert!(ttl.is_some_and(|t| (3500..=3600).contains(&t)), "{out}");
    assert!(out.trim_end().ends_with("; fully validated"), "{out}");
    let (_, out) = h.cli(&["query", "nothere.nsec3.example."]);
    assert!(out.contains("; negative response, fully validated"), "{out}");
    let (code, out) = h.cli(&["query", "www.insecure.nsec3.example."]);
    assert_eq!(code, 0);
    assert!(
        out.contains("; insecure: chain ends at insecure.nsec3.example. (no DS, proven by NSEC3)"),
        "{out}"
    );
    let (code, out) = h.cli(&["query", "www.expired.example."]);
    assert_eq!(code, 1);
    assert!(
        out.contains("; bogus: expired.example. DNSKEY: RRSIG by expired.example. expired 2021-01-01"),
        "{out}"
    );
    let (_, out) = h.cli(&["query", "--dnssec", "www.secure.example.", "A"]);
    assert!(out.contains("RRSIG\tA 13 3 3600"), "{out}");
}

#[test]
fn trace_shows_each_zone_from_the_anchor_down() {
    let h = hierarchy!();
    let (code, out) = h.cli(&["trace", "www.sub.secure.example."]);
    assert_eq!(code, 0, "{out}");
    for needle in [
        "Chain of trust for www.sub.secure.example. A",
        ".  ",
        "example.  ",
        "secure.example.  ",
        "sub.secure.example.  trusted     DS ",
        "/alg 15/KSK",
        "www.sub.secure.example. A signed by key",
        "Result: secure (NOERROR)",
    ] {
        assert!(out.contains(needle), "{needle:?} in\n{out}");
    }
    let (_, out) = h.cli(&["trace", "www.insecure.example."]);
    assert!(
        out.contains(
            "insecure.example.  insecure    chain ends at insecure.example. (no DS, proven by NSEC)"
        ),
        "{out}"
    );
    assert!(out.contains("Result: insecure"), "{out}");
}

#[test]
fn trace_names_the_step_and_reason_of_four_kinds_of_bogus() {
    let h = hierarchy!();
    for (name, reason) in [
        ("www.expired.example.", "expired.example. DNSKEY: RRSIG by expired.example. expired 2021-01-01"),
        ("www.future.example.", "not valid before 2050-01-01"),
        ("www.nokey.example.", "no DNSKEY of nokey.example. matches its DS and signs the key set"),
        ("nothere.iter600.example.", "NSEC3 with 600 iterations"),
    ] {
        let (code, out) = h.cli(&["trace", name]);
        assert_eq!(code, 1, "{out}");
        let line = out
            .lines()
            .find(|l| l.contains("bogus "))
            .unwrap_or_else(|| panic!("{name}: no bogus step in\n{out}"));
        assert!(line.contains(reason), "{name}: {line}");
        assert!(out.contains("Result: bogus"), "{out}");
    }
}

#[test]
fn trace_shows_look_aside() {
    let h = hierarchy!();
    let (code, out) = h.cli(&["trace", "--lookaside", "dlv.example.", "yax.unsignedtld."]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("unsignedtld.      insecure    chain ends at unsignedtld."), "{out}");
    assert!(
        out.contains(
            "yax.unsignedtld.  look-aside  DLV found in dlv.example. at yax.unsignedtld.dlv.example."
        ),
        "{out}"
    );
    assert!(out.contains("Result: secure"), "{out}");
}

fn assert_lookup_schema(v: &Value) {
    for key in ["name", "type", "verdict", "rcode"] {
        assert!(v[key].is_string(), "{key} in {v}");
    }
    assert!(["secure", "insecure", "bogus", "indeterminate"].contains(&v["verdict"].as_str().unwrap()));
    assert!(v["reason"].is_string() || v["reason"].is_null());
    assert!(v["ede"].is_null() || (v["ede"]["code"].is_u64() && v["ede"]["text"].is_string()));
    assert!(v["records"].as_array().unwrap().iter().all(Value::is_string));
    for step in v["chain"].as_array().unwrap() {
        for key in ["zone", "status", "detail"] {
            assert!(step[key].is_string(), "{key} in {step}");
        }
        assert!(
            ["trusted", "insecure", "bogus", "look-aside", "no zone cut"]
                .contains(&step["status"].as_str().unwrap())
        );
    }
}

#[test]
fn json_output_follows_its_schema() {
    let h = hierarchy!();
    let (_, out) = h.cli(&["trace", "--json", "www.expired.example."]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_lookup_schema(&v);
    assert_eq!(v["verdict"], "bogus");
    assert_eq!(v["ede"]["code"], 7);
    let (_, out) = h.cli(&["query", "--json", "www.secure.example."]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_lookup_schema(&v);
    assert_eq!(v["verdict"], "secure");
    let (_, out) = h.cli(&["xmpp", "--json", "secure.example."]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["domain"], "secure.example.");
    for s in v["services"].as_array().unwrap() {
        assert!(s["service"].is_string() && s["dane"].is_string() && s["certificate_names"].is_string());
        assert!(s["fallback"].is_boolean());
        assert_lookup_schema(&s["srv"]);
        for t in s["targets"].as_array().unwrap() {
            assert!(t["host"].is_string() && t["port"].is_u64() && t["dane_usable"].is_boolean());
            for l in ["a", "aaaa", "tlsa"] {
                assert_lookup_schema(&t[l]);
            }
        }
    }
}

#[test]
fn xmpp_report_applies_prosodys_dane_rules() {
    let h = hierarchy!();
    let (code, out) = h.cli(&["xmpp", "secure.example."]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("_xmpp-server._tcp.secure.example.  SRV  secure"), "{out}");
    assert!(
        out.contains("certificate may name: secure.example. or the SRV target(s) xmpp.secure.example."),
        "{out}"
    );
    assert_eq!(out.matches("=> DANE usable").count(), 2, "{out}");

    let (_, out) = h.cli(&["xmpp", "insecure.example."]);
    assert!(out.contains("certificate may name: insecure.example. only"), "{out}");
    assert!(!out.contains("=> DANE usable"), "{out}");

    let (_, out) = h.cli(&["xmpp", "badtlsa.secure.example."]);
    assert!(
        out.contains("DANE not usable because target.badtlsa.secure.example.: the TLSA lookup is bogus"),
        "{out}"
    );

    let (_, out) = h.cli(&["xmpp", "nosrv.secure.example."]);
    assert!(out.contains("no SRV records: falling back to nosrv.secure.example. (RFC 6120 §3.2)"), "{out}");
    assert!(
        out.contains("no TLSA records exist at _5269._tcp.nosrv.secure.example. (securely denied)"),
        "{out}"
    );

    let (_, out) = h.cli(&["xmpp", "--lookaside", "dlv.example.", "yax.unsignedtld."]);
    assert!(out.contains("_xmpp-server._tcp.yax.unsignedtld.  SRV  secure"), "{out}");
    assert_eq!(out.matches("=> DANE usable").count(), 2, "{out}");
}

#[test]
fn dlv_record_prints_what_the_registry_publishes() {
    let h = hierarchy!();
    let (code, out) = h.cli(&["dlv-record", "yax.unsignedtld", "--registry", "dlv.example"]);
    assert_eq!(code, 0, "{out}");
    let dlv = out
        .lines()
        .find(|l| l.starts_with("yax.unsignedtld.dlv.example. 3600 IN DLV "))
        .unwrap_or_else(|| panic!("{out}"));
    let digest = dlv.split_whitespace().last().unwrap().to_lowercase();
    assert!(
        out.contains(&format!("yax.unsignedtld. 3600 IN DS {}", dlv.split(" DLV ").nth(1).unwrap())),
        "{out}"
    );
    // The registry's own record (written by ldns-key2ds) has the same digest.
    let (_, served) = h.cli(&["query", "yax.unsignedtld.dlv.example.", "DLV"]);
    assert!(served.to_lowercase().contains(&digest), "{served}\nvs\n{out}");
    // From a key file, before anything is published: the same record.
    let (_, keys) = h.cli(&["query", "yax.unsignedtld.", "DNSKEY"]);
    let lines: String = keys.lines().filter(|l| l.contains("\tDNSKEY\t")).map(|l| format!("{l}\n")).collect();
    let file = h.dir.join("yax.keys");
    std::fs::write(&file, lines).unwrap();
    let (code, from_file) = h.cli(&[
        "dlv-record",
        "yax.unsignedtld",
        "--registry",
        "dlv.example",
        "--key-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{from_file}");
    assert!(from_file.contains(dlv), "{from_file}");
    // No registry: DS records only, and it says so.
    let (_, ds_only) = h.cli(&["dlv-record", "yax.unsignedtld"]);
    assert!(ds_only.contains("DS records only") && !ds_only.contains(" DLV "), "{ds_only}");
}
