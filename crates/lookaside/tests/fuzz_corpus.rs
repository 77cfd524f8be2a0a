//! The seed corpora of the `config` and `control` fuzz targets (fuzz/corpus/…) as ordinary
//! tests: every seed, every truncation of it and each byte flipped must run without a panic.
//! The seeds are what an operator writes: the shipped configuration files and ctl lines.

use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    assert!(!seeds.is_empty(), "{} has seeds", dir.display());
    seeds
}

fn each_variant(data: &[u8], mut f: impl FnMut(&[u8])) {
    f(data);
    for n in 0..data.len() {
        f(&data[..n]);
    }
    for i in 0..data.len() {
        let mut d = data.to_vec();
        d[i] ^= 0x21;
        f(&d);
    }
}

#[test]
fn config_corpus_runs_without_panic() {
    for (path, data) in seeds("config") {
        // The seeds themselves must be valid, or the fuzzer starts from nothing.
        let text = String::from_utf8(data.clone()).unwrap();
        lookaside::config::parse_file(&text, &path).unwrap_or_else(|e| panic!("{e}"));
        each_variant(&data, lookaside::fuzzing::config_file);
    }
}

#[test]
fn control_corpus_runs_without_panic() {
    for (_, data) in seeds("control") {
        each_variant(&data, lookaside::fuzzing::control_line);
    }
}
