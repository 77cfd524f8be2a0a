//! lookaside-stub: the asynchronous half of lookaside.
//!
//! [`upstream`] talks to the recursive resolvers, [`cache`] keeps answers and validated keys,
//! [`pipeline`] drives the validator of `lookaside-dnssec` with lookups from the upstreams, and
//! [`respond`] turns a verdict into the bytes a client receives (RFC 4035 §3.2, RFC 6840 §5.7–5.9).

pub mod aggressive;
pub mod answer_cache;
pub mod cache;
pub mod coalesce;
pub mod counters;
pub mod forward;
pub mod local;
pub mod packed;
pub mod pipeline;
pub mod probe;
pub mod resolution;
pub mod respond;
pub mod rtt;
pub mod stream;
pub mod tls;
pub mod upkeep;
pub mod upstream;

pub use pipeline::{Resolver, ResolverConfig};
pub use resolution::{Judgement, Resolution};

/// Entry points for the fuzz targets in `fuzz/`; their seed corpora run as ordinary tests.
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::Arc;

    use lookaside_dnssec::outcome::{IndeterminateReason, Security};
    use lookaside_dnssec::rtype::rcode;
    use lookaside_dnssec::wire::Message;

    use crate::resolution::{Judgement, Resolution};
    use crate::respond::{self, Rejection};

    /// Reads `data` as a client query and answers it every way the policy can: with `data`
    /// itself as the upstream's answer (secure, bogus, unchecked), and with a SERVFAIL carrying
    /// a long EDE. Every reply must parse and fit the client's UDP limit.
    pub fn respond(data: &[u8]) {
        let query = match respond::parse_query(data) {
            Ok(q) => q,
            Err(Rejection::Unanswerable) => return,
            Err(Rejection::BadVersion(q)) => q,
            Err(Rejection::Error { id, flags, rcode, question }) => {
                let r = respond::error_response(id, flags, rcode, question.as_ref(), None, None, 512);
                assert!(r.len() <= 512 || question.is_none());
                return;
            }
        };
        let limit = query.udp_limit();
        let upstream = Message::parse(data).unwrap_or_default();
        for judgement in [
            Judgement::Checked(Security::Secure),
            Judgement::Checked(Security::Indeterminate(IndeterminateReason::LookupFailed {
                what: "x".repeat(400),
            })),
            Judgement::Unchecked,
        ] {
            let res = Resolution {
                response: Some(Arc::new(upstream.clone())),
                judgement,
                summary: ". [T] > example. [B]".repeat(20),
                age: 7,
                cached: true,
                steps: Vec::new(),
                stale: data.len().is_multiple_of(2),
            };
            let reply = respond::build_response(&query, &res, limit);
            assert!(reply.len() <= limit, "{} octets over a limit of {limit}", reply.len());
            Message::parse(&reply).expect("our reply parses");
        }
        let reply = query.error(rcode::SERVFAIL, Some((6, "y".repeat(1000))));
        assert!(reply.len() <= limit, "an error of {} octets over {limit}", reply.len());
    }

    /// The question the upstream fuzz targets pretend to have sent (0x20 applied) and the
    /// spelling the client used.
    pub fn sent_question() -> (lookaside_dnssec::wire::Question, lookaside_dnssec::name::Name) {
        use lookaside_dnssec::name::Name;
        let sent = lookaside_dnssec::wire::Question {
            name: Name::parse("_xMpP-SeRvEr._TcP.YaX.iM.").expect("a name"),
            qtype: lookaside_dnssec::rtype::SRV,
            qclass: 1,
        };
        (sent, Name::parse("_xmpp-server._tcp.yax.im.").expect("a name"))
    }

    /// The ID the upstream fuzz targets' queries carry over UDP.
    pub const FUZZ_ID: u16 = 0x4a17;

    /// Reads `data` as a datagram from the upstream's address and judges it as the UDP path does:
    /// what is taken as the answer matches the ID and question (and, with 0x20, its case), and
    /// leaves in the client's spelling. Data whose first octet is even gets our ID written in,
    /// so that the fuzzer reaches past the ID check. Returns how many of the two judgements
    /// (without 0x20, with it) took the datagram as the answer.
    pub fn upstream_datagram(data: &[u8]) -> usize {
        use crate::upstream::{UdpReply, judge_udp_reply, reply_matches, restore_case};
        let (sent, original) = sent_question();
        let mut d = data.to_vec();
        if d.len() >= 2 && d[0].is_multiple_of(2) {
            d[..2].copy_from_slice(&FUZZ_ID.to_be_bytes());
        }
        let mut taken = 0;
        for exact_case in [false, true] {
            match judge_udp_reply(&d, FUZZ_ID, &sent, exact_case) {
                Some(UdpReply::Answer(mut m)) => {
                    taken += 1;
                    assert!(reply_matches(&m, FUZZ_ID, &sent), "a reply taken that does not match");
                    assert!(!exact_case || m.questions[0].name.eq_exact(&sent.name), "0x20 not enforced");
                    restore_case(&mut m, &original);
                    assert!(m.questions[0].name.eq_exact(&original), "the client's spelling is not restored");
                }
                Some(UdpReply::CaseMismatch) => assert!(exact_case, "a case mismatch without 0x20"),
                None => {}
            }
        }
        taken
    }

    /// Feeds `data` as the byte stream a TCP or TLS upstream sends back while three queries are
    /// pending on one pipelined connection: two-octet length prefixes, replies in any order,
    /// short frames, garbage, an early end. The ID of each frame is overwritten with the ID of
    /// one of the pending queries in turn (else the fuzzer could not guess them). Every query
    /// must end (answered, or told the connection closed), and each answer must match its own
    /// question. Returns how many queries were answered.
    pub fn upstream_stream(data: &[u8]) -> usize {
        use std::time::Duration;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        use crate::upstream::{build_query, reply_matches};

        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        let rt = RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
        });
        rt.block_on(async {
            let mut answered = 0;
            let (sent, _) = sent_question();
            let mut questions = vec![sent.clone()];
            for (i, qtype) in [(1u8, lookaside_dnssec::rtype::A), (2, lookaside_dnssec::rtype::TLSA)] {
                let mut q = sent.clone();
                q.name = lookaside_dnssec::name::Name::parse(&format!("h{i}.yax.im.")).expect("a name");
                q.qtype = qtype;
                questions.push(q);
            }
            let (client, mut server) = tokio::io::duplex(1 << 17);
            let live = crate::stream::start(client);
            // Far enough never to matter: the stream's end, not a clock, ends every query.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
            let asks: Vec<_> = questions
                .iter()
                .cloned()
                .map(|q| {
                    let live = live.clone();
                    tokio::spawn(async move {
                        let build = |id| build_query(id, &q, crate::upstream::EDNS_BUFFER);
                        let result = live.ask(&q, &build, deadline).await;
                        (q, result)
                    })
                })
                .collect();
            // The queries as the server sees them: their IDs, in arrival order, and questions.
            let mut ids = Vec::new();
            let mut asked = std::collections::HashMap::new();
            for _ in 0..questions.len() {
                let mut len = [0u8; 2];
                server.read_exact(&mut len).await.expect("a query frame");
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                server.read_exact(&mut q).await.expect("a query");
                let query = Message::parse(&q).expect("our query parses");
                ids.push(query.id);
                asked.insert(query.id, query.questions[0].clone());
            }
            let mut stream = data.to_vec();
            let (mut at, mut k) = (0usize, 0usize);
            while at + 4 <= stream.len() {
                let len = u16::from_be_bytes([stream[at], stream[at + 1]]) as usize;
                stream[at + 2..at + 4].copy_from_slice(&ids[k % ids.len()].to_be_bytes());
                k += 1;
                at = at.saturating_add(2).saturating_add(len);
            }
            let _ = server.write_all(&stream).await;
            drop(server);
            for ask in asks {
                let (q, result) = ask.await.expect("the query task ends");
                match result {
                    Ok(m) => {
                        answered += 1;
                        assert_eq!(asked.get(&m.id), Some(&q), "an answer under another query's ID");
                        assert!(reply_matches(&m, m.id, &q), "an answer to another question");
                    }
                    Err(crate::stream::AskError::Closed) => {}
                    Err(crate::stream::AskError::Timeout) => panic!("a query waited for its deadline"),
                }
            }
            answered
        })
    }
}
