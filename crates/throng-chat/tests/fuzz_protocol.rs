//! `protocol::parse` under property tests ("hostile clients": fuzzing on the stable
//! toolchain): arbitrary strings, JSON-ish byte soup, structure-aware requests with a
//! model of the answer `parse` must give, and mutations of valid frames and of the
//! committed corpus (`tests/fuzz-corpus/`, replayed on every run).
//!
//! For every input: no panic; an error has a code `PROTOCOL.md` documents (and only
//! `bad_request` or `unknown_type` from `parse`), a `ref` exactly when the frame is a JSON
//! object with a string `id`, and its `error` frame is well-formed JSON; an `Ok` holds the
//! fields it was given.
//!
//! Size: `THRONG_FUZZ_CASES` cases in all (default 100,000, under a minute in a debug
//! build on one core); `THRONG_FUZZ_CASES=1000000` for the full run.

mod support;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, FileFailurePersistence};
use serde_json::Value;
use support::fuzz::{any_json, any_request, deep, documented_error_codes, env_cases, Expected};
use support::fuzz::{Style, J, PADS};
use throng_chat::protocol::{error_frame, parse, ClientMsg, ErrorCode, ParseError};

/// The CI default for `THRONG_FUZZ_CASES`.
const CI_CASES: u32 = 100_000;

/// `share` percent of the run's cases.
fn config(share: u32) -> PropConfig {
    let total = env_cases("THRONG_FUZZ_CASES", CI_CASES);
    PropConfig {
        cases: (total / 100 * share).max(1),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..PropConfig::default()
    }
}

/// Runs `parse` and checks what holds for every input.
fn check(text: &str) -> Result<Result<ClientMsg, ParseError>, TestCaseError> {
    let r = parse(text);
    if let Err(e) = &r {
        let code = serde_json::to_value(e.code).unwrap();
        let code = code.as_str().unwrap();
        prop_assert!(
            documented_error_codes().contains(code),
            "undocumented code {code}"
        );
        prop_assert!(
            matches!(e.code, ErrorCode::BadRequest | ErrorCode::UnknownType),
            "parse answered {code}"
        );
        prop_assert!(!e.message.is_empty());
        let id = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("id")?.as_str().map(str::to_owned));
        prop_assert_eq!(&e.reference, &id, "the ref is the request's string id");
        let frame = error_frame(e.code, &e.message, e.reference.as_deref());
        let v: Value = serde_json::from_slice(frame.payload()).expect("the error frame is JSON");
        prop_assert_eq!(v["type"].as_str(), Some("error"));
        prop_assert_eq!(v["code"].as_str(), Some(code));
    }
    Ok(r)
}

// ---------------------------------------------------------------------------------------
// The corpus.

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus")
}

/// Every corpus file: its name and text. A name starts with what `parse` must answer:
/// `ok`, `bad_request` or `unknown_type`.
fn corpus() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("tests/fuzz-corpus exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap();
            let text = String::from_utf8(bytes)
                .unwrap_or_else(|_| panic!("{name}: frames are UTF-8 (the reader says 1007)"));
            (name, text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_corpus_replays_with_the_answers_its_names_promise() {
    let files = corpus();
    assert!(files.len() >= 20, "the corpus is there: {}", files.len());
    for (name, text) in files {
        let r = check(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = match &r {
            Ok(_) => "ok",
            Err(e) if e.code == ErrorCode::BadRequest => "bad_request",
            Err(_) => "unknown_type",
        };
        assert!(
            name.starts_with(&format!("{got}.")),
            "{name}: parse answered {got}: {r:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Mutations.

/// One edit of a frame's bytes.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Replace(usize, u8),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let tokens: Vec<&[u8]> = vec![
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b",",
        b":",
        b"\\",
        b"\\u",
        b"\\ud800",
        b"\\udc00",
        b"\\u0000",
        b"null",
        b"true",
        b"1e400",
        b"-",
        b"0",
        b".",
        b"\"type\":\"post\"",
        b"\"id\":\"x\"",
        b"\"id\":7",
        b"\"room\":",
        b"\x00",
        b"\xff",
        b"\xc3",
        b"\xf0\x9f",
        "\u{FEFF}".as_bytes(),
        b" ",
        b"\n",
    ];
    prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(a, n)| Edit::Delete(a, n)),
        (
            any::<usize>(),
            prop_oneof![
                prop::sample::select(tokens).prop_map(|t| t.to_vec()),
                prop::collection::vec(any::<u8>(), 1..4),
            ]
        )
            .prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), 1usize..16).prop_map(|(a, n)| Edit::Duplicate(a, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Replace(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let at = |a: usize, len: usize| if len == 0 { 0 } else { a % (len + 1) };
        match e {
            Edit::Delete(a, n) => {
                let s = at(*a, b.len());
                let end = (s + n).min(b.len());
                b.drain(s..end);
            }
            Edit::Insert(a, t) => {
                let s = at(*a, b.len());
                b.splice(s..s, t.iter().copied());
            }
            Edit::Duplicate(a, n) => {
                let s = at(*a, b.len());
                let end = (s + n).min(b.len());
                let part = b[s..end].to_vec();
                b.splice(end..end, part);
            }
            Edit::Replace(a, v) => {
                if !b.is_empty() {
                    let s = a % b.len();
                    b[s] = *v;
                }
            }
            Edit::Truncate(a) => {
                let s = at(*a, b.len());
                b.truncate(s);
            }
        }
    }
    // Frames are UTF-8 by the time they reach `parse` (the reader closes with 1007).
    String::from_utf8_lossy(&b).into_owned()
}

/// Texts to mutate: the corpus and generated requests.
fn seed() -> impl Strategy<Value = String> {
    let corpus: Vec<String> = corpus().into_iter().map(|(_, t)| t).collect();
    prop_oneof![
        prop::sample::select(corpus),
        any_request().prop_map(|r| r.text()),
    ]
}

// ---------------------------------------------------------------------------------------
// Properties.

/// Bytes biased towards JSON's alphabet.
fn json_soup() -> impl Strategy<Value = String> {
    let alphabet = b"{}[]\":,0123456789.eE+-tfnrul \\/abcxyz\t\n".to_vec();
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(alphabet),
            1 => any::<u8>(),
        ],
        0..96,
    )
    .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

proptest! {
    #![proptest_config(config(15))]
    #[test]
    fn arbitrary_strings_never_panic_and_get_documented_codes(s in any::<String>()) {
        let _ = check(&s)?;
    }
}

proptest! {
    #![proptest_config(config(15))]
    #[test]
    fn json_soup_never_panics_and_gets_documented_codes(s in json_soup()) {
        let _ = check(&s)?;
    }
}

proptest! {
    #![proptest_config(config(10))]
    #[test]
    fn any_json_value_is_an_ok_or_a_documented_error(
        v in any_json(6),
        pad in prop::sample::select(PADS.to_vec()),
        escape_all in any::<bool>(),
        depth in 0usize..300,
        objects in any::<bool>(),
    ) {
        let _ = check(&v.render(Style { pad, escape_all }))?;
        // Nesting past serde_json's limit (128) is a bad_request, not a stack overflow.
        let r = check(&deep(depth, objects).render(Style { pad: "", escape_all: false }))?;
        prop_assert_eq!(r.unwrap_err().code, ErrorCode::BadRequest);
        let wrapped = J::Obj(vec![
            ("type".into(), J::Str("ping".into())),
            ("x".into(), deep(depth, objects)),
        ]);
        prop_assert_eq!(check(&wrapped.render(Style { pad: "", escape_all: false }))?.unwrap_err().code, ErrorCode::BadRequest);
    }
}

proptest! {
    #![proptest_config(config(40))]
    #[test]
    fn structured_requests_get_exactly_the_modelled_answer(req in any_request()) {
        let text = req.text();
        let r = check(&text)?;
        // A number serde_json cannot hold (`1e400`) anywhere makes the frame malformed.
        let well_formed = serde_json::from_str::<Value>(&text).is_ok();
        let want = if well_formed { req.expected() } else { Expected::BadRequest };
        match (want, r) {
            (Expected::Ok(want), Ok(got)) => prop_assert_eq!(got, want, "the fields round-trip"),
            (Expected::BadRequest, Err(e)) => {
                prop_assert_eq!(e.code, ErrorCode::BadRequest, "{}", e.message);
                if well_formed {
                    prop_assert_eq!(e.reference, req.reference());
                }
            }
            (Expected::UnknownType, Err(e)) => {
                prop_assert_eq!(e.code, ErrorCode::UnknownType, "{}", e.message);
                prop_assert_eq!(e.reference, req.reference());
            }
            (want, got) => prop_assert!(false, "{text}: expected {want:?}, got {got:?}"),
        }
    }
}

proptest! {
    #![proptest_config(config(20))]
    #[test]
    fn mutated_frames_never_panic_and_get_documented_codes(
        text in seed(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let _ = check(&apply(&text, &edits))?;
    }
}
