//! Shared by the `fuzz_*` tests: case counts from the environment, a JSON model that can
//! say things `serde_json::Value` cannot (huge number literals, `\u` escapes, odd
//! whitespace), structure-aware request generators with the outcome `parse` must give,
//! the error codes `PROTOCOL.md` documents, and a panic counter for server threads.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};

use proptest::prelude::*;
use throng_chat::protocol::{ClientMsg, CLIENT_TYPES};

/// `var` parsed as a case count, else `default` (the CI size).
pub fn env_cases(var: &str, default: u32) -> u32 {
    match std::env::var(var) {
        Ok(s) => s
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{var}={s} is not a case count")),
        Err(_) => default,
    }
}

/// The `error.code` values `PROTOCOL.md` documents: its "Errors" table, and `timeout`
/// (documented with the 4000 close that follows it).
pub fn documented_error_codes() -> &'static BTreeSet<String> {
    static CODES: OnceLock<BTreeSet<String>> = OnceLock::new();
    CODES.get_or_init(|| {
        let doc = include_str!("../../PROTOCOL.md");
        let section = doc
            .split("\n## Errors")
            .nth(1)
            .expect("PROTOCOL.md has an Errors section");
        let section = section.split("\n## ").next().unwrap();
        let mut codes: BTreeSet<String> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_owned)
            .collect();
        assert!(codes.len() >= 10, "the Errors table parsed: {codes:?}");
        assert!(doc.contains("preceded by an `error` with code `timeout`"));
        codes.insert("timeout".into());
        codes
    })
}

// ---------------------------------------------------------------------------------------
// Panics on server threads.

static PANICS: AtomicU64 = AtomicU64::new(0);
static PANIC_NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Name of the threads of [`server_runtime`]; panics on them (and on the sequencer's
/// thread) are counted by [`server_panics`].
pub const SERVER_THREAD: &str = "fuzz-server";

/// Installs (once) a panic hook that counts panics on server threads, then calls the
/// default hook. Tokio catches a task's panic, so without this a panicking connection
/// task would go unnoticed.
pub fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if name.starts_with(SERVER_THREAD) || name.starts_with("throng-") {
                PANICS.fetch_add(1, Ordering::SeqCst);
                PANIC_NOTES
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{name}: {info}"));
            }
            default(info);
        }));
    });
}

/// Panics on server threads so far, with their messages.
pub fn server_panics() -> (u64, Vec<String>) {
    (
        PANICS.load(Ordering::SeqCst),
        PANIC_NOTES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    )
}

/// A two-worker runtime whose threads [`watch_panics`] watches.
pub fn server_runtime() -> tokio::runtime::Runtime {
    watch_panics();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .expect("runtime")
}

// ---------------------------------------------------------------------------------------
// A JSON model.

/// JSON text as a tree, with number literals kept as written.
#[derive(Debug, Clone)]
pub enum J {
    Null,
    Bool(bool),
    /// A number literal, as written (`1e400`, `18446744073709551616`, `-0`).
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

/// How [`J::render`] writes text.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whitespace between tokens.
    pub pad: &'static str,
    /// Escape every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF).
    pub escape_all: bool,
}

pub const PADS: [&str; 4] = ["", " ", "\n\t ", "\r\n  "];

impl J {
    pub fn render(&self, style: Style) -> String {
        let mut s = String::new();
        self.write(style, &mut s);
        s
    }

    fn write(&self, st: Style, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => write_str(s, st, out),
            J::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(st.pad);
                    v.write(st, out);
                }
                out.push_str(st.pad);
                out.push(']');
            }
            J::Obj(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(st.pad);
                    write_str(k, st, out);
                    out.push_str(st.pad);
                    out.push(':');
                    out.push_str(st.pad);
                    v.write(st, out);
                }
                out.push_str(st.pad);
                out.push('}');
            }
        }
    }
}

fn write_str(s: &str, st: Style, out: &mut String) {
    if !st.escape_all {
        out.push_str(&serde_json::to_string(s).unwrap());
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
        }
    }
    out.push('"');
}

/// Short strings a client might send: names, unicode, control characters.
pub fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "lobby", "dev", "a", "r.1", "x_y-z", "", " ", "al ice", "émile", "a/b",
            "ok\u{0}nul", "\u{1F600}", "\u{FEFF}bom", "\u{202E}rtl", "lobby\n",
            "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdefg",
        ])
        .prop_map(str::to_owned),
        3 => any::<String>(),
        2 => "[ -~]{0,40}",
    ]
}

/// [`short_text`], and now and then a long run (up to past the 64 KiB frame limit).
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => short_text(),
        2 => (any::<char>(), 0usize..5000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => (0usize..70_000).prop_map(|n| "x".repeat(n)),
    ]
}

/// Number literals, including ones no Rust integer holds.
pub fn any_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        prop::sample::select(vec![
            "0",
            "-0",
            "1.0",
            "1e2",
            "1E+2",
            "-1e-400",
            "1e400",
            "18446744073709551616",
            "-9223372036854775809",
            "4294967296",
            "4294967295",
            "123456789012345678901234567890123456789012345678901234567890",
            "0.000000000000000000000000000000000000000000001",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Any JSON value, at most `depth` containers deep.
pub fn any_json(depth: u32) -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any_number().prop_map(J::Num),
        short_text().prop_map(J::Str),
    ];
    leaf.prop_recursive(depth, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(J::Arr),
            prop::collection::vec((short_text(), inner), 0..8).prop_map(J::Obj),
        ]
    })
}

/// `depth` nested arrays or objects (serde_json refuses more than 128).
pub fn deep(depth: usize, objects: bool) -> J {
    let mut v = J::Num("1".into());
    for _ in 0..depth {
        v = if objects {
            J::Obj(vec![("a".into(), v)])
        } else {
            J::Arr(vec![v])
        };
    }
    v
}

// ---------------------------------------------------------------------------------------
// Requests with a known outcome.

/// What a field of a request type holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    U64,
    U32,
}

/// The fields of each request type (besides `type`) and whether each is required.
pub fn schema(kind: &str) -> &'static [(&'static str, Ty, bool)] {
    match kind {
        "hello" => &[("name", Ty::Str, false), ("token", Ty::Str, false)],
        "join" | "leave" => &[("room", Ty::Str, true)],
        "post" => &[
            ("room", Ty::Str, true),
            ("text", Ty::Str, true),
            ("id", Ty::Str, false),
        ],
        "history" => &[
            ("room", Ty::Str, true),
            ("before", Ty::U64, false),
            ("limit", Ty::U32, false),
        ],
        "ping" => &[],
        other => panic!("no schema for {other}"),
    }
}

/// One field of a generated request.
#[derive(Debug, Clone)]
pub enum Field {
    Absent,
    Null,
    /// A value of the right type: the string, or the number.
    Str(String),
    Num(u64),
    /// A value of the wrong type (or out of range).
    Wrong(J),
}

impl Field {
    fn json(&self) -> Option<J> {
        match self {
            Field::Absent => None,
            Field::Null => Some(J::Null),
            Field::Str(s) => Some(J::Str(s.clone())),
            Field::Num(n) => Some(J::Num(n.to_string())),
            Field::Wrong(j) => Some(j.clone()),
        }
    }

    fn ok(&self, required: bool) -> bool {
        match self {
            Field::Str(_) | Field::Num(_) => true,
            Field::Absent | Field::Null => !required,
            Field::Wrong(_) => false,
        }
    }

    fn str(&self) -> Option<String> {
        match self {
            Field::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn num(&self) -> Option<u64> {
        match self {
            Field::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// The `type` field of a generated request.
#[derive(Debug, Clone)]
pub enum TypeField {
    Known(&'static str),
    Unknown(String),
    Wrong(J),
    Absent,
}

/// A generated request: its fields, extra (unknown) fields, and how it is written.
#[derive(Debug, Clone)]
pub struct Req {
    pub kind: TypeField,
    pub fields: Vec<(&'static str, Field)>,
    pub extras: Vec<(String, J)>,
    /// Entry order: a permutation of `0..entries`.
    pub order: Vec<usize>,
    pub style: Style,
}

/// What `parse` must answer for a [`Req`].
#[derive(Debug, PartialEq, Eq)]
pub enum Expected {
    Ok(ClientMsg),
    BadRequest,
    UnknownType,
}

impl Req {
    /// The object's entries, in `order`.
    pub fn json(&self) -> J {
        let mut entries = Vec::new();
        match &self.kind {
            TypeField::Known(k) => entries.push(("type".to_owned(), J::Str((*k).into()))),
            TypeField::Unknown(k) => entries.push(("type".to_owned(), J::Str(k.clone()))),
            TypeField::Wrong(j) => entries.push(("type".to_owned(), j.clone())),
            TypeField::Absent => {}
        }
        for (name, f) in &self.fields {
            if let Some(j) = f.json() {
                entries.push(((*name).to_owned(), j));
            }
        }
        entries.extend(self.extras.iter().cloned());
        let mut ordered: Vec<_> = entries.into_iter().map(Some).collect();
        let mut out = Vec::with_capacity(ordered.len());
        let n = ordered.len();
        for &i in self.order.iter().filter(|&&i| i < n) {
            out.extend(ordered[i].take());
        }
        out.extend(ordered.into_iter().flatten());
        J::Obj(out)
    }

    pub fn text(&self) -> String {
        self.json().render(self.style)
    }

    /// The string `id` the error's `ref` must carry.
    pub fn reference(&self) -> Option<String> {
        self.fields
            .iter()
            .filter(|(n, _)| *n == "id")
            .find_map(|(_, f)| f.str())
            .or_else(|| {
                self.extras.iter().find_map(|(k, v)| match v {
                    J::Str(s) if k == "id" => Some(s.clone()),
                    _ => None,
                })
            })
    }

    pub fn expected(&self) -> Expected {
        let kind = match &self.kind {
            TypeField::Known(k) => *k,
            TypeField::Unknown(k) if CLIENT_TYPES.contains(&k.as_str()) => {
                unreachable!("generated unknown types are unknown")
            }
            TypeField::Unknown(_) => return Expected::UnknownType,
            TypeField::Wrong(_) | TypeField::Absent => return Expected::BadRequest,
        };
        let fields_ok = schema(kind)
            .iter()
            .zip(&self.fields)
            .all(|(&(_, _, required), (_, f))| f.ok(required));
        if !fields_ok || !self.extras.is_empty() {
            return Expected::BadRequest;
        }
        let f = |name: &str| &self.fields.iter().find(|(n, _)| *n == name).unwrap().1;
        Expected::Ok(match kind {
            "hello" => ClientMsg::Hello {
                name: f("name").str(),
                token: f("token").str(),
            },
            "join" => ClientMsg::Join {
                room: f("room").str().unwrap(),
            },
            "leave" => ClientMsg::Leave {
                room: f("room").str().unwrap(),
            },
            "post" => ClientMsg::Post {
                room: f("room").str().unwrap(),
                text: f("text").str().unwrap(),
                id: f("id").str(),
            },
            "history" => ClientMsg::History {
                room: f("room").str().unwrap(),
                before: f("before").num(),
                limit: f("limit").num().map(|n| u32::try_from(n).unwrap()),
            },
            "ping" => ClientMsg::Ping {},
            _ => unreachable!(),
        })
    }
}

/// A value of the wrong type for `ty`.
fn wrong(ty: Ty) -> BoxedStrategy<J> {
    let containers = prop_oneof![
        any::<bool>().prop_map(J::Bool),
        Just(J::Arr(vec![])),
        Just(J::Obj(vec![])),
        any_json(3).prop_filter("a container", |j| matches!(j, J::Arr(_) | J::Obj(_))),
    ];
    match ty {
        Ty::Str => prop_oneof![any_number().prop_map(J::Num), containers].boxed(),
        Ty::U64 | Ty::U32 => {
            let big = if ty == Ty::U32 {
                (u64::from(u32::MAX) + 1..=u64::MAX)
                    .prop_map(|n| n.to_string())
                    .boxed()
            } else {
                Just("18446744073709551616".to_owned()).boxed()
            };
            prop_oneof![
                any_text().prop_map(J::Str),
                (i64::MIN..0).prop_map(|n| J::Num(n.to_string())),
                prop::sample::select(vec!["1.0", "1e2", "-0.5", "1e400", "0.1"])
                    .prop_map(|s| J::Num(s.into())),
                big.prop_map(J::Num),
                containers,
            ]
            .boxed()
        }
    }
}

fn field(ty: Ty, good: u32, null: u32, absent: u32, bad: u32) -> BoxedStrategy<Field> {
    let right = match ty {
        Ty::Str => any_text().prop_map(Field::Str).boxed(),
        Ty::U64 => prop_oneof![any::<u64>(), 0u64..1000]
            .prop_map(Field::Num)
            .boxed(),
        Ty::U32 => prop_oneof![any::<u32>(), 0u32..1000]
            .prop_map(|n| Field::Num(n.into()))
            .boxed(),
    };
    prop_oneof![
        good => right,
        null => Just(Field::Null),
        absent => Just(Field::Absent),
        bad => wrong(ty).prop_map(Field::Wrong),
    ]
    .boxed()
}

/// Unknown field names: other types' fields, server fields, anything.
fn extra_key(kind: &TypeField) -> impl Strategy<Value = String> {
    let own: Vec<&str> = match kind {
        TypeField::Known(k) => schema(k).iter().map(|f| f.0).collect(),
        _ => vec![],
    };
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "room",
            "text",
            "name",
            "token",
            "before",
            "limit",
            "seq",
            "ts",
            "from",
            "Type",
            "TYPE",
            "type ",
            "",
            "__proto__",
        ])
        .prop_map(str::to_owned),
        any_text(),
    ]
    .prop_map(move |k| {
        if k == "type" || own.contains(&k.as_str()) {
            format!("x-{k}")
        } else {
            k
        }
    })
}

/// The `type` field: mostly a known type.
fn type_field() -> impl Strategy<Value = TypeField> {
    prop_oneof![
        12 => prop::sample::select(CLIENT_TYPES.to_vec()).prop_map(TypeField::Known),
        1 => any_text()
            .prop_filter("unknown", |t| !CLIENT_TYPES.contains(&t.as_str()))
            .prop_map(TypeField::Unknown),
        1 => prop::sample::select(vec!["Hello", "PING", " ping", "post\u{0}", "join\n", "message", "error", "welcome"])
            .prop_map(|t| TypeField::Unknown(t.into())),
        1 => any_json(2)
            .prop_filter("not a string", |j| !matches!(j, J::Str(_)))
            .prop_map(TypeField::Wrong),
        1 => Just(TypeField::Absent),
    ]
}

/// Requests of every type, mostly well formed, some with missing, null, mistyped or
/// unknown fields.
pub fn any_request() -> impl Strategy<Value = Req> {
    type_field().prop_flat_map(|kind| {
        let fields: Vec<BoxedStrategy<(&'static str, Field)>> = match &kind {
            TypeField::Known(k) => schema(k)
                .iter()
                .map(|&(name, ty, required)| {
                    let f = if required {
                        field(ty, 20, 1, 1, 1)
                    } else {
                        field(ty, 6, 2, 6, 1)
                    };
                    f.prop_map(move |f| (name, f)).boxed()
                })
                .collect(),
            _ => vec![],
        };
        let extras = prop_oneof![
            6 => Just(vec![]),
            1 => prop::collection::vec((extra_key(&kind), any_json(2)), 1..4),
        ];
        let style = (
            prop::sample::select(PADS.to_vec()),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(pad, escape_all)| Style { pad, escape_all });
        (
            Just(kind),
            fields,
            extras,
            Just((0..10).collect::<Vec<usize>>()).prop_shuffle(),
            style,
        )
            .prop_map(|(kind, fields, extras, order, style)| {
                let mut extras: Vec<(String, J)> = extras;
                // Distinct keys: serde_json keeps the last of duplicates, which this model
                // does not follow (duplicates are fuzzed without an oracle elsewhere).
                let mut seen = BTreeSet::new();
                extras.retain(|(k, _)| seen.insert(k.clone()));
                Req {
                    kind,
                    fields,
                    extras,
                    order,
                    style,
                }
            })
    })
}
