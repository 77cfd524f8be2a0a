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

use lookaside_dnssec::name::Name;
use lookaside_dnssec::wire::{Message, Question, Record};
use lookaside_stub::fuzzing::{FUZZ_ID, sent_question, upstream_datagram, upstream_stream};
use lookaside_stub::upstream::build_query;

fn corpus(target: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

/// A reply to `q` with one record of its type, as an upstream would send it.
fn reply(id: u16, q: &Question) -> Vec<u8> {
    let mut m = Message::parse(&build_query(id, q, 1232)).unwrap();
    m.flags |= 0x8000 | 0x0080; // QR, RA
    let rdata = match q.qtype {
        1 => vec![192, 0, 2, 1],
        33 => [&[0, 0, 0, 5, 0x14, 0x95][..], Name::parse("xmpp.yax.im.").unwrap().as_wire()].concat(),
        _ => vec![3, 1, 1, 0xab, 0xcd],
    };
    m.answer.push(Record { owner: q.name.clone(), rtype: q.qtype, class: 1, ttl: 300, rdata });
    m.to_wire()
}

fn framed(messages: &[Vec<u8>]) -> Vec<u8> {
    messages.iter().flat_map(|m| [&(m.len() as u16).to_be_bytes()[..], m].concat()).collect()
}

/// The three questions `upstream_stream` sends, in order.
fn stream_questions() -> Vec<Question> {
    let (sent, _) = sent_question();
    let mut out = vec![sent.clone()];
    for (i, t) in [(1, 1), (2, 52)] {
        out.push(Question { name: Name::parse(&format!("h{i}.yax.im.")).unwrap(), qtype: t, qclass: 1 });
    }
    out
}

/// Seeds: a reply spelled as sent, one with the case changed, one to another question, a
/// query instead of a reply; for the stream, the three replies in order, reversed, with a
/// short frame and garbage between, and cut in the middle.
fn write_upstream_seeds() {
    let (sent, original) = sent_question();
    let lower = Question { name: original, ..sent.clone() };
    let other = Question { name: Name::parse("yax.im.").unwrap(), ..sent.clone() };
    let datagrams = [
        reply(FUZZ_ID, &sent),
        reply(FUZZ_ID, &lower),
        reply(FUZZ_ID, &other),
        build_query(FUZZ_ID, &sent, 1232),
    ];
    std::fs::create_dir_all(corpus("upstream_datagram")).unwrap();
    for (i, d) in datagrams.iter().enumerate() {
        std::fs::write(corpus("upstream_datagram").join(format!("seed-{i}")), d).unwrap();
    }
    let qs = stream_questions();
    let replies: Vec<Vec<u8>> = qs.iter().map(|q| reply(0, q)).collect();
    let in_order = framed(&replies);
    let reversed = framed(&replies.iter().rev().cloned().collect::<Vec<_>>());
    let noisy =
        framed(&[replies[0].clone(), vec![0, 0, 1], vec![0xff; 40], replies[1].clone(), replies[2].clone()]);
    let cut = in_order[..in_order.len() - 7].to_vec();
    std::fs::create_dir_all(corpus("upstream_stream")).unwrap();
    for (i, d) in [in_order, reversed, noisy, cut].iter().enumerate() {
        std::fs::write(corpus("upstream_stream").join(format!("seed-{i}")), d).unwrap();
    }
}

fn seed(target: &str, i: usize) -> Vec<u8> {
    std::fs::read(corpus(target).join(format!("seed-{i}"))).unwrap()
}

#[test]
fn upstream_datagram_corpus_judges_as_the_udp_path_does() {
    if std::env::var_os("LOOKASIDE_WRITE_CORPUS").is_some() {
        write_upstream_seeds();
    }
    // Taken with and without 0x20; taken only without it (case changed); never (other
    // question, not a reply).
    assert_eq!(upstream_datagram(&seed("upstream_datagram", 0)), 2);
    assert_eq!(upstream_datagram(&seed("upstream_datagram", 1)), 1);
    assert_eq!(upstream_datagram(&seed("upstream_datagram", 2)), 0);
    assert_eq!(upstream_datagram(&seed("upstream_datagram", 3)), 0);
    for entry in std::fs::read_dir(corpus("upstream_datagram")).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        for n in 0..data.len() {
            upstream_datagram(&data[..n]);
        }
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 0x20;
            upstream_datagram(&d);
        }
    }
}

#[test]
fn upstream_stream_corpus_answers_each_query_with_its_own_reply() {
    // All three answered in order; in reverse each frame carries another query's ID and is
    // dropped; noise between frames is skipped; a cut stream answers what arrived whole.
    assert_eq!(upstream_stream(&seed("upstream_stream", 0)), 3);
    assert_eq!(upstream_stream(&seed("upstream_stream", 1)), 1, "the middle one lines up");
    assert_eq!(upstream_stream(&seed("upstream_stream", 2)), 1, "IDs shift after the noise");
    assert_eq!(upstream_stream(&seed("upstream_stream", 3)), 2);
    for entry in std::fs::read_dir(corpus("upstream_stream")).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        for n in (0..data.len()).step_by(3) {
            upstream_stream(&data[..n]);
        }
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 0x20;
            upstream_stream(&d);
        }
    }
}
