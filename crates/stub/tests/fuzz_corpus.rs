//! The `respond` fuzz target's seed corpus (fuzz/corpus/respond) as an ordinary test: client
//! queries, each answered every way the policy can, with every truncation and a flipped byte at
//! each position. No reply may panic or exceed the client's UDP limit.

#[test]
fn respond_corpus_runs_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/respond");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        lookaside_stub::fuzzing::respond(&data);
        for n in 0..data.len() {
            lookaside_stub::fuzzing::respond(&data[..n]);
        }
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 0x5a;
            lookaside_stub::fuzzing::respond(&d);
        }
        count += 1;
    }
    assert!(count >= 5, "seed corpus present");
}
