//! Allocation concealment against every role, as an adversary would attack it.
//!
//! A 2:1 trial (permuted blocks of 3 or 6, cap raised to 240) enrolls 150 patients, alternating
//! between two sites. Before each randomization every role — admin, investigator,
//! pharmacist, monitor, and a SITE01-limited investigator and pharmacist — reads everything
//! it may read: every API resource, the audit trail, the exports and every web page it can
//! open. From what it read, an adversary predicts the next arm whenever it is certain of
//! it. Its knowledge: the arms of earlier allocations it saw (at their sequence numbers),
//! plus every piece of block information found anywhere (`block_index`, `block_size`,
//! `position_in_block`, balance `blocks`, CSV columns and HTML tables about blocks). The
//! set of block segmentations consistent with that knowledge is tracked exactly, by dynamic
//! programming over positions; the next arm is certain when every consistent state allows
//! one arm only.
//!
//! The contract: while the seed is secret, no role may be certain of an allocation an
//! observer knowing the design and every earlier arm (but not where blocks begin) cannot
//! be certain of. So every role's certain positions must lie within that baseline's, and
//! nothing an investigator or pharmacist reads may confirm a guess of the design (the
//! protocol digest, the block sizes). Every test on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::io::BufReader;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use reqwest::blocking::{Client, Response};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use trialgate::protocol::{Protocol, DEFAULT_PROTOCOL_TOML};

use common::app::{eligible, TestApp};
use common::TestDb;

const TRIAL: &str = "NCT06987370";
/// The raised cap, and how many patients are randomized (each one read about by every role
/// beforehand).
const CAP: u32 = 240;
const ALLOCATIONS: usize = 150;
/// Reading every list, export and page of six roles before each of 150 allocations takes
/// minutes in a debug build (most are linear in the trial's size). So each role reads
/// everything before each of the first `FULL_READS_UNTIL` allocations, before the last one
/// and before every `FULL_READ_EVERY`-th (the roles in turn); before every allocation it
/// reads what is new — the new screening and subject, the audit trail's new entries — the
/// balance and its home page (the dashboard, the queue…).
const FULL_READS_UNTIL: usize = 12;
const FULL_READ_EVERY: usize = 6;

// ---------------------------------------------------------------------------------------
// The design as the adversary knows it.

struct Design {
    sizes: Vec<u8>,
    ratios: [u32; 2],
    codes: [String; 2],
    names: [String; 2],
}

impl Design {
    fn of(p: &Protocol) -> Design {
        assert_eq!(p.arms.len(), 2, "the model handles two arms");
        assert!(p.stratification.is_empty(), "the model is unstratified");
        Design {
            sizes: p.block_sizes.iter().map(|&s| s as u8).collect(),
            ratios: [p.arms[0].ratio, p.arms[1].ratio],
            codes: [p.arms[0].code.clone(), p.arms[1].code.clone()],
            names: [p.arms[0].name.clone(), p.arms[1].name.clone()],
        }
    }

    /// How many allocations of `arm` a block of `size` holds.
    fn quota(&self, arm: usize, size: u8) -> u8 {
        (u32::from(size) * self.ratios[arm] / (self.ratios[0] + self.ratios[1])) as u8
    }

    /// The arm a code or a display name stands for.
    fn arm(&self, text: &str) -> Option<usize> {
        (0..2).find(|&i| self.codes[i] == text || self.names[i] == text)
    }
}

// ---------------------------------------------------------------------------------------
// What one observer knows, and the exact set of schedules consistent with it.

/// One block as a balance listing reports it at some moment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BlockFill {
    /// 0-based.
    index: i64,
    size: u32,
    filled: u32,
    counts: Option<[u32; 2]>,
}

#[derive(Default)]
struct Knowledge {
    /// 0-based position (sequence − 1) → arm.
    arms: BTreeMap<usize, usize>,
    block_index_at: BTreeMap<usize, i64>,
    block_size_at: BTreeMap<usize, u32>,
    /// 0-based offset inside the block.
    offset_at: BTreeMap<usize, u32>,
    /// Block index → size.
    size_of_block: BTreeMap<i64, u32>,
    /// Number of allocations when read → block listings read then.
    snapshots: BTreeMap<usize, BTreeSet<Vec<BlockFill>>>,
    /// Learned subject id → 0-based position.
    subject_position: BTreeMap<String, usize>,
    /// The smallest DP layer the knowledge added since the last prediction affects.
    dirty: usize,
    /// Block information found but not understood (reported, not used).
    unrecognized: BTreeSet<String>,
    /// Where block information was read.
    block_sources: BTreeSet<String>,
}

/// Adds `value` at `key`; a contradiction means the server contradicts itself or the test
/// misreads it. Returns whether it is new.
fn learn<K: Ord + Copy + std::fmt::Debug, V: PartialEq + Copy + std::fmt::Debug>(
    map: &mut BTreeMap<K, V>,
    key: K,
    value: V,
    what: &str,
) -> bool {
    match map.get(&key) {
        Some(old) if *old == value => false,
        Some(old) => panic!("contradictory {what} at {key:?}: {old:?} and {value:?}"),
        None => {
            map.insert(key, value);
            true
        }
    }
}

impl Knowledge {
    fn new() -> Knowledge {
        Knowledge::default()
    }

    fn touch(&mut self, layer: usize) {
        self.dirty = self.dirty.min(layer);
    }

    fn arm_at(&mut self, pos: usize, arm: usize) {
        if learn(&mut self.arms, pos, arm, "arm") {
            self.touch(pos + 1);
        }
    }

    fn block_index(&mut self, pos: usize, index: i64) {
        if learn(&mut self.block_index_at, pos, index, "block index") {
            self.touch(pos + 1);
        }
    }

    fn block_size(&mut self, pos: usize, size: u32) {
        if learn(&mut self.block_size_at, pos, size, "block size") {
            self.touch(pos + 1);
        }
    }

    fn offset(&mut self, pos: usize, offset: u32) {
        if learn(&mut self.offset_at, pos, offset, "offset in block") {
            self.touch(pos + 1);
        }
    }

    fn size_of(&mut self, index: i64, size: u32) {
        if learn(&mut self.size_of_block, index, size, "size of block") {
            self.touch(0);
        }
    }

    fn snapshot(&mut self, at: usize, mut fills: Vec<BlockFill>) {
        if fills.is_empty() {
            return;
        }
        fills.sort();
        for f in &fills {
            self.size_of(f.index, f.size);
        }
        if self.snapshots.entry(at).or_default().insert(fills) {
            self.touch(at);
        }
    }

    /// Whether anything ties positions to block indices (then the DP tracks the index).
    fn indexed(&self) -> bool {
        !self.block_index_at.is_empty()
            || !self.size_of_block.is_empty()
            || !self.snapshots.is_empty()
    }

    fn block_facts(&self) -> usize {
        self.block_index_at.len()
            + self.block_size_at.len()
            + self.offset_at.len()
            + self.size_of_block.len()
            + self.snapshots.values().map(BTreeSet::len).sum::<usize>()
    }
}

/// A schedule's state after some positions: the current block (index, size), how many of
/// its places are filled and with which arms. `filled == size`: the block is complete and
/// the next position opens a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct State {
    block: i32,
    size: u8,
    filled: u8,
    counts: [u8; 2],
}

const START: State = State {
    block: -1,
    size: 0,
    filled: 0,
    counts: [0, 0],
};

/// The states after 0, 1, … positions, kept between predictions.
#[derive(Default)]
struct Tracker {
    layers: Vec<Vec<State>>,
    indexed: bool,
}

impl Tracker {
    /// The arms position `n` may receive, given everything known about positions `0..n`.
    fn possible_next(
        &mut self,
        know: &mut Knowledge,
        design: &Design,
        n: usize,
        who: &str,
    ) -> BTreeSet<usize> {
        let indexed = know.indexed();
        if indexed != self.indexed {
            self.indexed = indexed;
            self.layers.clear();
        }
        let keep = know.dirty.min(self.layers.len()).min(n + 1);
        self.layers.truncate(keep);
        if self.layers.is_empty() {
            let first = apply_snapshots(know, 0, vec![START]);
            self.layers.push(first);
        }
        while self.layers.len() <= n {
            let k = self.layers.len() - 1;
            let mut next = Vec::new();
            for st in &self.layers[k] {
                for arm in arms_at(know, k) {
                    next.extend(advance(design, know, indexed, *st, k, arm));
                }
            }
            next.sort_unstable();
            next.dedup();
            let next = apply_snapshots(know, k + 1, next);
            assert!(
                !next.is_empty(),
                "{who}: no schedule fits what it read up to position {k} (a bug of the model \
                 or of reading the server's answers)"
            );
            self.layers.push(next);
        }
        know.dirty = usize::MAX;
        let mut possible = BTreeSet::new();
        for st in &self.layers[n] {
            for arm in 0..2 {
                if !advance(design, know, indexed, *st, n, arm).is_empty() {
                    possible.insert(arm);
                }
            }
        }
        assert!(!possible.is_empty(), "{who}: no arm fits position {n}");
        possible
    }
}

fn arms_at(know: &Knowledge, pos: usize) -> Vec<usize> {
    match know.arms.get(&pos) {
        Some(&a) => vec![a],
        None => vec![0, 1],
    }
}

/// The states after giving position `pos` to `arm` from `st`, within the design and
/// everything known about `pos`.
fn advance(
    design: &Design,
    know: &Knowledge,
    indexed: bool,
    st: State,
    pos: usize,
    arm: usize,
) -> Vec<State> {
    let mut candidates = Vec::with_capacity(design.sizes.len());
    if st.filled == st.size {
        for &size in &design.sizes {
            let mut counts = [0, 0];
            counts[arm] = 1;
            candidates.push(State {
                block: if indexed { st.block + 1 } else { 0 },
                size,
                filled: 1,
                counts,
            });
        }
    } else {
        let mut next = st;
        next.filled += 1;
        next.counts[arm] += 1;
        candidates.push(next);
    }
    candidates.retain(|c| {
        (0..2).all(|a| c.counts[a] <= design.quota(a, c.size))
            && know
                .block_index_at
                .get(&pos)
                .is_none_or(|&b| i64::from(c.block) == b)
            && know
                .block_size_at
                .get(&pos)
                .is_none_or(|&s| u32::from(c.size) == s)
            && know
                .offset_at
                .get(&pos)
                .is_none_or(|&o| u32::from(c.filled) == o + 1)
            && (!indexed
                || know
                    .size_of_block
                    .get(&i64::from(c.block))
                    .is_none_or(|&s| u32::from(c.size) == s))
    });
    candidates
}

/// Keeps the states after `at` positions that agree with the block listings read when
/// `at` patients were allocated. Sound for any subset of blocks listed.
fn apply_snapshots(know: &Knowledge, at: usize, mut states: Vec<State>) -> Vec<State> {
    let Some(listings) = know.snapshots.get(&at) else {
        return states;
    };
    states.retain(|st| {
        listings.iter().all(|fills| {
            fills.iter().all(|f| {
                let current = i64::from(st.block);
                if f.index > current {
                    f.filled == 0
                } else if f.index < current {
                    f.filled == f.size
                } else {
                    u32::from(st.filled) == f.filled
                        && u32::from(st.size) == f.size
                        && f.counts
                            .is_none_or(|c| c == [u32::from(st.counts[0]), u32::from(st.counts[1])])
                }
            })
        })
    });
    states
}

// ---------------------------------------------------------------------------------------
// Reading the server's answers: JSON anywhere, CSV, HTML.

/// What the extraction needs to know besides the answer.
struct Reading<'a> {
    design: &'a Design,
    /// Patients allocated when the answer was read.
    allocated: usize,
    source: &'a str,
}

const KNOWN_BLOCK_KEYS: [&str; 5] = [
    "block_index",
    "block_size",
    "blocks",
    "block_sizes",
    "position_in_block",
];

/// The 0-based position of a subject id `NCT…-0042` (the format every role sees).
fn position_of_subject(know: &Knowledge, id: &str) -> Option<usize> {
    if let Some(&p) = know.subject_position.get(id) {
        return Some(p);
    }
    let rest = id.strip_prefix(TRIAL)?.strip_prefix('-')?;
    let n: usize = rest.parse().ok()?;
    n.checked_sub(1)
}

/// The position a JSON object is about, if it names one.
fn locate(know: &Knowledge, m: &serde_json::Map<String, Value>) -> Option<usize> {
    if let Some(seq) = m.get("sequence").and_then(Value::as_u64) {
        return (seq as usize).checked_sub(1);
    }
    // Unstratified: the stratum position is the trial position.
    if let Some(p) = m.get("stratum_position").and_then(Value::as_u64) {
        return Some(p as usize);
    }
    for key in ["subject_id", "id"] {
        if let Some(p) = m
            .get(key)
            .and_then(Value::as_str)
            .and_then(|s| position_of_subject(know, s))
        {
            return Some(p);
        }
    }
    m.get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("value").and_then(Value::as_str))
        .find_map(|s| position_of_subject(know, s))
}

fn absorb_json(know: &mut Knowledge, r: &Reading, v: &Value) {
    match v {
        Value::Object(m) => {
            let pos = locate(know, m);
            if let (Some(p), Some(seq)) = (pos, m.get("sequence").and_then(Value::as_u64)) {
                if let Some(id) = m.get("subject_id").and_then(Value::as_str) {
                    debug_assert_eq!(seq as usize, p + 1);
                    know.subject_position.insert(id.to_string(), p);
                }
            }
            if let Some(p) = pos {
                for key in ["arm", "assignedArm", "actualArm", "arm_name"] {
                    if let Some(arm) = m
                        .get(key)
                        .and_then(Value::as_str)
                        .and_then(|t| r.design.arm(t))
                    {
                        know.arm_at(p, arm);
                    }
                }
            }
            let index = m.get("block_index").and_then(Value::as_i64);
            let size = m
                .get("block_size")
                .and_then(Value::as_u64)
                .map(|s| s as u32);
            let offset = m
                .get("position_in_block")
                .and_then(Value::as_u64)
                .map(|s| s as u32);
            if index.is_some() || size.is_some() || offset.is_some() {
                match pos {
                    Some(p) => {
                        know.block_sources.insert(r.source.to_string());
                        if let Some(b) = index {
                            know.block_index(p, b);
                        }
                        if let Some(s) = size {
                            know.block_size(p, s);
                        }
                        if let Some(o) = offset {
                            know.offset(p, o);
                        }
                        if let (Some(b), Some(s)) = (index, size) {
                            know.size_of(b, s);
                        }
                    }
                    // Objects of a `blocks` listing are read with it.
                    None if m.contains_key("filled") => {}
                    None => {
                        know.unrecognized.insert(format!(
                            "{}: block information without a position: {}",
                            r.source,
                            Value::Object(m.clone())
                        ));
                    }
                }
            }
            for (key, value) in m {
                let lower = key.to_lowercase();
                if key == "blocks" {
                    absorb_blocks(know, r, value);
                } else if (lower.contains("block") || lower.contains("offset"))
                    && !KNOWN_BLOCK_KEYS.contains(&key.as_str())
                {
                    know.unrecognized
                        .insert(format!("{}: key {key:?} = {value}", r.source));
                }
                absorb_json(know, r, value);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| absorb_json(know, r, i)),
        // JSON inside strings: the audit trail's records.
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            if let Ok(inner) = serde_json::from_str::<Value>(s) {
                absorb_json(know, r, &inner);
            }
        }
        _ => {}
    }
}

/// A `blocks` listing: `[{block_index, size, filled, counts: [{arm, count}], complete}]`.
fn absorb_blocks(know: &mut Knowledge, r: &Reading, value: &Value) {
    let Some(items) = value.as_array() else {
        know.unrecognized
            .insert(format!("{}: \"blocks\" = {value}", r.source));
        return;
    };
    let mut fills = Vec::new();
    for item in items {
        let index = item.get("block_index").and_then(Value::as_i64);
        let size = item.get("size").and_then(Value::as_u64);
        let filled = item.get("filled").and_then(Value::as_u64);
        let (Some(index), Some(size), Some(filled)) = (index, size, filled) else {
            know.unrecognized
                .insert(format!("{}: block listing entry {item}", r.source));
            continue;
        };
        let mut counts = [0u32; 2];
        let mut seen = [false; 2];
        for c in item
            .get("counts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let arm = c
                .get("arm")
                .and_then(Value::as_str)
                .and_then(|a| r.design.arm(a));
            if let (Some(a), Some(n)) = (arm, c.get("count").and_then(Value::as_u64)) {
                counts[a] = n as u32;
                seen[a] = true;
            }
        }
        fills.push(BlockFill {
            index,
            size: size as u32,
            filled: filled as u32,
            counts: (seen == [true, true]).then_some(counts),
        });
    }
    know.block_sources.insert(r.source.to_string());
    know.snapshot(r.allocated, fills);
}

fn absorb_csv(know: &mut Knowledge, r: &Reading, text: &str) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    for h in &headers {
        let lower = h.to_lowercase();
        if (lower.contains("block") || lower.contains("offset"))
            && !KNOWN_BLOCK_KEYS.contains(&h.as_str())
        {
            know.unrecognized
                .insert(format!("{}: CSV column {h:?}", r.source));
        }
    }
    let (seq, sub, arm) = (col("sequence"), col("subject_id"), col("arm"));
    let (bi, bs, off) = (
        col("block_index"),
        col("block_size"),
        col("position_in_block"),
    );
    for record in reader.records() {
        let record = record.unwrap();
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).filter(|s| !s.is_empty());
        let pos = field(seq)
            .and_then(|s| s.parse::<usize>().ok())
            .and_then(|s| s.checked_sub(1))
            .or_else(|| field(sub).and_then(|s| position_of_subject(know, s)));
        let Some(p) = pos else {
            if bi.is_some() || bs.is_some() || off.is_some() {
                know.unrecognized
                    .insert(format!("{}: CSV row without a position", r.source));
            }
            continue;
        };
        if let Some(a) = field(arm).and_then(|a| r.design.arm(a)) {
            know.arm_at(p, a);
        }
        let index = field(bi).and_then(|s| s.parse::<i64>().ok());
        let size = field(bs).and_then(|s| s.parse::<u32>().ok());
        if index.is_some() || size.is_some() || field(off).is_some() {
            know.block_sources.insert(r.source.to_string());
        }
        if let Some(b) = index {
            know.block_index(p, b);
        }
        if let Some(s) = size {
            know.block_size(p, s);
        }
        if let (Some(b), Some(s)) = (index, size) {
            know.size_of(b, s);
        }
        if let Some(o) = field(off).and_then(|s| s.parse::<u32>().ok()) {
            know.offset(p, o);
        }
    }
}

struct Table {
    caption: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The text of an HTML fragment: tags dropped, entities decoded, whitespace trimmed.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode(&out).trim().to_string()
}

/// The pieces `<tag …>piece</tag>` of `html`, in order (no nesting of `tag` expected).
fn elements<'h>(html: &'h str, tag: &str) -> Vec<&'h str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        // `<th` must not match `<thead`.
        if !after.starts_with(['>', ' ', '/']) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let body = &after[gt + 1..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

fn tables(html: &str) -> Vec<Table> {
    elements(html, "table")
        .into_iter()
        .map(|t| {
            let caption = elements(t, "caption")
                .first()
                .map(|c| text_of(c))
                .unwrap_or_default();
            let mut headers = Vec::new();
            let mut rows = Vec::new();
            for tr in elements(t, "tr") {
                let th: Vec<String> = elements(tr, "th").into_iter().map(text_of).collect();
                let td: Vec<String> = elements(tr, "td").into_iter().map(text_of).collect();
                if td.is_empty() && headers.is_empty() {
                    headers = th;
                } else {
                    rows.push(td);
                }
            }
            Table {
                caption,
                headers,
                rows,
            }
        })
        .collect()
}

/// An attribute of one tag's text (`<a href="…" …`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')?;
    Some(decode(&tag[start..start + end]))
}

/// Same-site pages an HTML page links to: `<a href>` and `<form method="get" action>`.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in html.split('<').skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
        let target = if tag.starts_with("a ") {
            attribute(tag, "href")
        } else if tag.starts_with("form ") && attribute(tag, "method").as_deref() == Some("get") {
            attribute(tag, "action")
        } else {
            None
        };
        let Some(mut t) = target else { continue };
        if let Some(hash) = t.find('#') {
            t.truncate(hash);
        }
        let skip = !t.starts_with('/')
            || t.starts_with("//")
            || t == "/"
            || t.starts_with("/static/")
            || t.starts_with("/signout")
            || t.starts_with("/signin");
        if !skip {
            out.push(t);
        }
    }
    out
}

fn absorb_html(know: &mut Knowledge, r: &Reading, html: &str) {
    // Mentions of blocks in what is read below; the rest of the page is reported if it
    // mentions blocks too.
    let mentions = |text: &str| text_of(text).to_lowercase().matches("block").count();
    let mut understood = 0;
    for (t, inner) in tables(html).into_iter().zip(elements(html, "table")) {
        let lower: Vec<String> = t.headers.iter().map(|h| h.to_lowercase()).collect();
        // The dashboard's "Balance per block": Block (1-based), Size, Filled, arms, Complete.
        if lower.iter().any(|h| h.contains("block")) {
            let col = |name: &str| lower.iter().position(|h| h == name);
            let arm_cols: Vec<(usize, usize)> = t
                .headers
                .iter()
                .enumerate()
                .filter_map(|(i, h)| r.design.arm(h).map(|a| (i, a)))
                .collect();
            match (col("block"), col("size"), col("filled")) {
                (Some(b), Some(s), Some(f)) => {
                    understood += mentions(inner);
                    let mut fills = Vec::new();
                    for row in &t.rows {
                        let num = |c: usize| row.get(c).and_then(|v| v.parse::<i64>().ok());
                        let (Some(index), Some(size), Some(filled)) = (num(b), num(s), num(f))
                        else {
                            know.unrecognized
                                .insert(format!("{}: block table row {row:?}", r.source));
                            continue;
                        };
                        let mut counts = [0u32; 2];
                        let mut seen = [false; 2];
                        for &(c, a) in &arm_cols {
                            if let Some(n) = num(c) {
                                counts[a] = n as u32;
                                seen[a] = true;
                            }
                        }
                        fills.push(BlockFill {
                            index: index - 1,
                            size: size as u32,
                            filled: filled as u32,
                            counts: (seen == [true, true]).then_some(counts),
                        });
                    }
                    know.block_sources.insert(r.source.to_string());
                    know.snapshot(r.allocated, fills);
                }
                _ => {
                    know.unrecognized.insert(format!(
                        "{}: table {:?} with headers {:?}",
                        r.source, t.caption, t.headers
                    ));
                }
            }
        }
        // Allocation tables: Subject and Arm columns.
        let subject = lower.iter().position(|h| h == "subject");
        let arm = lower.iter().position(|h| h == "arm");
        if let (Some(sc), Some(ac)) = (subject, arm) {
            for row in &t.rows {
                let p = row.get(sc).and_then(|s| position_of_subject(know, s));
                let a = row.get(ac).and_then(|a| r.design.arm(a));
                if let (Some(p), Some(a)) = (p, a) {
                    know.arm_at(p, a);
                }
            }
        }
    }
    // Records shown as JSON (the audit log browser).
    for pre in elements(html, "pre") {
        if let Ok(v) = serde_json::from_str::<Value>(&decode(pre)) {
            understood += mentions(pre);
            absorb_json(know, r, &v);
        }
    }
    if mentions(html) > understood {
        know.unrecognized
            .insert(format!("{}: the page mentions \"block\"", r.source));
    }
}

// ---------------------------------------------------------------------------------------
// One role's reader: API client and signed-in browser.

/// Ids the test created, with their patients' sites: pages naming one are read once (they
/// do not grow), and a refusal of one is a refusal of that kind of page at that site.
#[derive(Default)]
struct Ids {
    sites: BTreeMap<String, String>,
}

impl Ids {
    fn add(&mut self, id: &str, site: &str) {
        self.sites.insert(id.to_string(), site.to_string());
    }

    fn item(&self, path: &str) -> bool {
        path.split(['/', '?', '&', '='])
            .any(|s| self.sites.contains_key(s))
    }

    /// What a refusal of `path` stands for: the path, or for a page about one item the
    /// kind of page and the item's site.
    fn refusal_key(&self, path: &str) -> String {
        let mut site = String::new();
        let template: Vec<&str> = path
            .split('/')
            .map(|s| match self.sites.get(s) {
                Some(at) => {
                    site = at.clone();
                    ":id"
                }
                None => s,
            })
            .collect();
        format!("{}@{site}", template.join("/"))
    }
}

enum Got {
    Refused,
    Redirect(String),
    Body { content_type: String, text: String },
}

struct Observer {
    label: String,
    /// Which allocations this role reads everything before (see `FULL_READ_EVERY`).
    index: usize,
    /// Investigators and pharmacists: nothing they read may confirm the design.
    site_role: bool,
    http: Http,
    api_headers: String,
    web_headers: String,
    home: String,
    know: Knowledge,
    tracker: Tracker,
    api_audit_after: i64,
    web_audit_after: i64,
    fetched: HashSet<String>,
    refused: HashSet<String>,
    /// Position → the arm the adversary was certain of.
    certain: BTreeMap<usize, usize>,
    design_leaks: BTreeSet<String>,
    requests: usize,
}

const AUDIT_PAGE_LIMIT: i64 = 1000;

impl Observer {
    fn new(app: &TestApp, index: usize, label: &str, token: &str, site_role: bool) -> Observer {
        // Sign in the way a browser does, then keep the session cookie.
        let jar = Arc::new(Jar::default());
        let browser = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap();
        // A person's first sign-in: activation with the token, choosing a password.
        let page = browser
            .get(app.url("/signin/activate"))
            .header("Accept", "text/html")
            .send()
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).expect("a CSRF field") + marker.len();
        let csrf = html[start..].split('"').next().unwrap().to_string();
        let r = browser
            .post(app.url("/signin/activate"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("token", token),
                ("password", common::app::TEST_PASSWORD),
                ("password_repeat", common::app::TEST_PASSWORD),
            ])
            .send()
            .unwrap();
        assert_eq!(r.status(), 303, "{label} signs in: {}", r.text().unwrap());
        let home = location(&r);
        let base = reqwest::Url::parse(&app.base).unwrap();
        let cookies = jar.cookies(&base).unwrap().to_str().unwrap().to_string();
        assert!(cookies.contains("tg_session="), "{cookies}");
        let address = app.base.trim_start_matches("http://").to_string();
        Observer {
            label: label.to_string(),
            index,
            site_role,
            http: Http::new(address),
            api_headers: format!("Authorization: Bearer {token}\r\n"),
            web_headers: format!("Cookie: {cookies}\r\nAccept: text/html\r\n"),
            home,
            know: Knowledge::new(),
            tracker: Tracker::default(),
            api_audit_after: 0,
            web_audit_after: 0,
            fetched: HashSet::new(),
            refused: HashSet::new(),
            certain: BTreeMap::new(),
            design_leaks: BTreeSet::new(),
            requests: 0,
        }
    }

    fn answer(&mut self, path: &str, html: bool) -> Got {
        self.requests += 1;
        let a = if html {
            self.http.get(path, &self.web_headers)
        } else {
            self.http.get(path, &self.api_headers)
        };
        match a.status {
            200 => Got::Body {
                content_type: a.content_type,
                text: a.body,
            },
            303 if html => {
                assert!(
                    !a.location.starts_with("/signin"),
                    "{}: signed out at {path}",
                    self.label
                );
                Got::Redirect(a.location)
            }
            403 | 404 => Got::Refused,
            status => panic!("{}: GET {path} answered {status}: {}", self.label, a.body),
        }
    }

    fn api(&mut self, path: &str) -> Got {
        self.answer(path, false)
    }

    fn page(&mut self, path: &str) -> Got {
        self.answer(path, true)
    }

    /// Learns from one answer, and checks a site role cannot confirm the design with it.
    fn absorb(&mut self, r: &Reading, content_type: &str, text: &str, digest: &str) {
        if self.site_role {
            for (needle, what) in [
                ("protocol_digest", "protocol_digest"),
                ("block_sizes", "block_sizes"),
                (digest, "the protocol digest's value"),
            ] {
                if text.contains(needle) {
                    self.design_leaks.insert(format!("{}: {what}", r.source));
                }
            }
        }
        if content_type.contains("json") {
            // Knowledge comes from arms and block information only (keys or values naming
            // them); a document mentioning neither teaches nothing.
            let lower = text.to_ascii_lowercase();
            if !["arm", "block", "offset"].iter().any(|w| lower.contains(w)) {
                return;
            }
            let v: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{}: {} is not JSON: {e}", self.label, r.source));
            absorb_json(&mut self.know, r, &v);
        } else if content_type.starts_with("text/csv") {
            absorb_csv(&mut self.know, r, text);
        } else if content_type.starts_with("text/html") {
            absorb_html(&mut self.know, r, text);
        } else if text.to_lowercase().contains("block") {
            self.know
                .unrecognized
                .insert(format!("{}: the text mentions \"block\"", r.source));
        }
    }

    /// One GET of a resource that may grow: refused ones are not asked again.
    fn read_api(&mut self, path: &str, r: &Reading, digest: &str) -> Option<String> {
        if self.refused.contains(path) {
            return None;
        }
        match self.api(path) {
            Got::Body { content_type, text } => {
                let reading = Reading { source: path, ..*r };
                self.absorb(&reading, &content_type, &text, digest);
                Some(text)
            }
            _ => {
                self.refused.insert(path.to_string());
                None
            }
        }
    }

    /// Everything this role may read through the API. Before every allocation: the balance,
    /// the new screening and subject, the audit trail's new entries. With `full`, also the
    /// trial list and detail, the audit head, checkpoint and verification, the exports, the
    /// lists and every item in them not read before.
    #[allow(clippy::too_many_arguments)]
    fn read_everything_api(
        &mut self,
        r: &Reading,
        ids: &Ids,
        pending: &str,
        new_subjects: &[String],
        full: bool,
        digest: &str,
    ) {
        let t = format!("/api/v1/trials/{TRIAL}");
        let mut paths = vec![format!("{t}/balance")];
        if full {
            paths.extend([
                "/api/v1/trials".to_string(),
                t.clone(),
                format!("{t}/audit/head"),
                format!("{t}/audit/checkpoint"),
                format!("{t}/log/checkpoint"),
                format!("{t}/audit/verify"),
                format!("{t}/export?format=csv"),
                format!("{t}/export?format=json"),
                format!("{t}/export?format=fhir"),
            ]);
        }
        for path in &paths {
            self.read_api(path, r, digest);
        }
        // The new screening and subject, and with `full` the lists and every item in them
        // not read before.
        let mut items = vec![format!("{t}/screenings/{pending}")];
        items.extend(new_subjects.iter().map(|s| format!("{t}/subjects/{s}")));
        // A receipt carries the subject's whole audit record.
        items.extend(
            new_subjects
                .iter()
                .map(|s| format!("{t}/subjects/{s}/receipt")),
        );
        if full {
            if let Some(text) = self.read_api(&format!("{t}/subjects"), r, digest) {
                let list: Value = serde_json::from_str(&text).unwrap();
                for s in list.as_array().unwrap() {
                    items.push(format!(
                        "{t}/subjects/{}",
                        s["subject_id"].as_str().unwrap()
                    ));
                }
            }
            for query in ["", "?outcome=eligible&randomized=false"] {
                let list = format!("{t}/screenings{query}");
                if let Some(text) = self.read_api(&list, r, digest) {
                    let list: Value = serde_json::from_str(&text).unwrap();
                    for s in list.as_array().unwrap() {
                        items.push(format!("{t}/screenings/{}", s["id"].as_str().unwrap()));
                    }
                }
            }
        }
        for path in items {
            let key = ids.refusal_key(&path);
            if self.refused.contains(&key) || !self.fetched.insert(path.clone()) {
                continue;
            }
            match self.api(&path) {
                Got::Body { content_type, text } => {
                    let reading = Reading {
                        source: &path,
                        ..*r
                    };
                    self.absorb(&reading, &content_type, &text, digest);
                }
                _ => {
                    self.refused.insert(key);
                }
            }
        }
        // The audit trail, from where this role stopped.
        let audit = format!("{t}/audit");
        while !self.refused.contains(&audit) {
            let path = format!(
                "{audit}?after={}&limit={AUDIT_PAGE_LIMIT}",
                self.api_audit_after
            );
            match self.api(&path) {
                Got::Body { content_type, text } => {
                    let reading = Reading {
                        source: &audit,
                        ..*r
                    };
                    self.absorb(&reading, &content_type, &text, digest);
                    let entries: Value = serde_json::from_str(&text).unwrap();
                    let entries = entries.as_array().unwrap();
                    if let Some(last) = entries.last() {
                        self.api_audit_after = last["seq"].as_i64().unwrap();
                    }
                    if (entries.len() as i64) < AUDIT_PAGE_LIMIT {
                        break;
                    }
                }
                _ => {
                    self.refused.insert(audit.clone());
                }
            }
        }
    }

    /// Every page this role can open. Before every allocation: the role's home page, the
    /// pages of the new screening and subject, the audit log from where it stopped. With
    /// `full`, also every page of the route table and every link found on any page: pages
    /// about one screening, subject or user and filtered views once, the others (which
    /// grow) at most once per allocation.
    #[allow(clippy::too_many_arguments)]
    fn read_everything_web(
        &mut self,
        r: &Reading,
        ids: &Ids,
        pending: &str,
        new_subjects: &[String],
        full: bool,
        digest: &str,
    ) {
        let t = format!("/trials/{TRIAL}");
        let mut queue: VecDeque<String> = VecDeque::from(vec![
            self.home.clone(),
            format!("{t}/screenings/{pending}"),
            format!("{t}/randomize/{pending}"),
        ]);
        queue.extend(new_subjects.iter().map(|s| format!("{t}/subjects/{s}")));
        queue.extend(
            new_subjects
                .iter()
                .map(|s| format!("{t}/subjects/{s}/receipt")),
        );
        if full {
            queue.extend([
                "/trials".into(),
                format!("{t}/screening"),
                format!("{t}/screenings"),
                format!("{t}/queue"),
                format!("{t}/subjects"),
                format!("{t}/dashboard"),
                format!("{t}/audit/verify"),
                format!("{t}/export/csv"),
                format!("{t}/export/json"),
                format!("{t}/export/fhir"),
                "/admin".into(),
                format!("/admin/trials/{TRIAL}/close"),
            ]);
        }
        let audit = format!("{t}/audit");
        let mut this_round = HashSet::new();
        while let Some(path) = queue.pop_front() {
            let bare = path.split('?').next().unwrap_or("");
            let key = ids.refusal_key(&path);
            if bare == audit || !this_round.insert(path.clone()) || self.refused.contains(&key) {
                continue;
            }
            // Pages about one screening, subject or user, and filtered views (a query) of
            // pages read in full: once.
            let item = ids.item(&path) || path.contains('?');
            if item && !self.fetched.insert(path.clone()) {
                continue;
            }
            assert!(
                this_round.len() < 500,
                "{}: the crawl does not end",
                self.label
            );
            match self.page(&path) {
                Got::Refused => {
                    self.refused.insert(key);
                }
                Got::Redirect(to) => queue.push_back(to),
                Got::Body { content_type, text } => {
                    let reading = Reading {
                        source: &format!("page {path}"),
                        ..*r
                    };
                    self.absorb(&reading, &content_type, &text, digest);
                    if full && content_type.starts_with("text/html") {
                        queue.extend(links(&text));
                    }
                }
            }
        }
        // The audit log browser, page after page from where this role stopped.
        while !self.refused.contains(&audit) {
            let path = format!("{audit}?after={}", self.web_audit_after);
            match self.page(&path) {
                Got::Body { content_type, text } => {
                    let reading = Reading {
                        source: &format!("page {audit}"),
                        ..*r
                    };
                    self.absorb(&reading, &content_type, &text, digest);
                    let last = tables(&text)
                        .iter()
                        .filter(|t| t.headers.first().is_some_and(|h| h == "Seq"))
                        .flat_map(|t| t.rows.iter())
                        .filter_map(|row| row.first().and_then(|s| s.parse::<i64>().ok()))
                        .max();
                    match last {
                        Some(last) if last > self.web_audit_after => {
                            self.web_audit_after = last;
                            if !text.contains(&format!("audit?after={last}\"")) {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                Got::Redirect(to) => panic!("{}: audit log redirects to {to}", self.label),
                Got::Refused => {
                    self.refused.insert(audit.clone());
                }
            }
        }
    }
}

/// A minimal HTTP/1.1 client on one kept-alive connection. reqwest's machinery, built
/// without optimizations like everything in a debug build, costs about as much as the
/// server's answer itself, and this test makes thousands of requests per backend.
struct Http {
    address: String,
    connection: Option<BufReader<TcpStream>>,
}

struct Answer {
    status: u16,
    content_type: String,
    location: String,
    body: String,
}

impl Http {
    fn new(address: String) -> Http {
        Http {
            address,
            connection: None,
        }
    }

    /// GET `path` with `headers` (each line ending in CRLF). A kept-alive connection the
    /// server has closed is opened again once.
    fn get(&mut self, path: &str, headers: &str) -> Answer {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.try_get(path, headers) {
                Ok(answer) => return answer,
                Err(e) => {
                    self.connection = None;
                    assert!(attempts < 2, "GET {path}: {e}");
                }
            }
        }
    }

    fn try_get(&mut self, path: &str, headers: &str) -> std::io::Result<Answer> {
        use std::io::{BufRead, Error, ErrorKind, Read, Write};
        if self.connection.is_none() {
            let stream = TcpStream::connect(&self.address)?;
            stream.set_nodelay(true)?;
            self.connection = Some(BufReader::new(stream));
        }
        let conn = self.connection.as_mut().unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{headers}\r\n",
            self.address
        );
        conn.get_mut().write_all(request.as_bytes())?;
        let bad = |what: &str| Error::new(ErrorKind::InvalidData, what.to_string());
        let mut line = String::new();
        if conn.read_line(&mut line)? == 0 {
            return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed"));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&line))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        let (mut content_type, mut location) = (String::new(), String::new());
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                return Err(Error::new(ErrorKind::UnexpectedEof, "headers cut short"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').ok_or_else(|| bad(header))?;
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.contains("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "content-type" => content_type = value.to_string(),
                "location" => location = value.to_string(),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                conn.read_line(&mut line)?;
                let size = line.trim().split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size, 16).map_err(|_| bad(&line))?;
                if size == 0 {
                    line.clear();
                    conn.read_line(&mut line)?;
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                conn.read_exact(&mut body[start..])?;
                line.clear();
                conn.read_line(&mut line)?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            conn.read_exact(&mut body)?;
        } else if status != 204 && status != 304 {
            conn.read_to_end(&mut body)?;
            close = true;
        }
        if close {
            self.connection = None;
        }
        Ok(Answer {
            status,
            content_type,
            location,
            body: String::from_utf8(body).map_err(|_| bad("not UTF-8"))?,
        })
    }
}

fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------

fn concealment_against_every_role(db: TestDb) {
    let started = Instant::now();
    let backend = format!("{:?}", db.backend).to_lowercase();
    let text = DEFAULT_PROTOCOL_TOML.replacen("cap = 90", &format!("cap = {CAP}"), 1);
    assert_ne!(text, DEFAULT_PROTOCOL_TOML);
    let protocol = Protocol::from_toml(&text, "adversary test protocol").unwrap();
    let design = Design::of(&protocol);
    // A fixed seed: the same schedule every run, so the figures printed are reproducible (the
    // assertion — nothing beyond the baseline — holds for any seed).
    let data_dir = tempfile::tempdir().unwrap();
    trialgate::randomization::Seed::from_hex(&"5a".repeat(32))
        .unwrap()
        .write_new_file(
            &data_dir
                .path()
                .join("seeds")
                .join(format!("{}.seed", protocol.id)),
        )
        .unwrap();
    let app = TestApp::spawn_in(db, data_dir, vec![protocol.clone()]);

    let inv_all = app.user("ivan", "investigator", &[]);
    let pharm_all = app.user("petra", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let inv_site = app.user("ines", "investigator", &["SITE01"]);
    let pharm_site = app.user("paul", "pharmacist", &["SITE01"]);
    let mut ids = Ids::default();
    for name in ["ivan", "petra", "mona", "ines", "paul"] {
        ids.add(name, "");
    }
    let detail: Value = app
        .get(&app.admin, &format!("/api/v1/trials/{TRIAL}"))
        .json()
        .unwrap();
    assert_eq!(detail["cap"], CAP, "{detail}");
    assert!(detail["stratification"].as_array().unwrap().is_empty());
    let digest = protocol.digest();
    if let Some(served) = detail["protocol_digest"].as_str() {
        assert_eq!(served, digest, "the trial runs under this protocol");
    }

    let mut observers = vec![
        Observer::new(&app, 0, "admin", &app.admin, false),
        Observer::new(&app, 1, "investigator", &inv_all, true),
        Observer::new(&app, 2, "pharmacist", &pharm_all, true),
        Observer::new(&app, 3, "monitor", &mon, false),
        Observer::new(&app, 4, "investigator@SITE01", &inv_site, true),
        Observer::new(&app, 5, "pharmacist@SITE01", &pharm_site, true),
    ];
    let mut baseline = Knowledge::new();
    let mut baseline_tracker = Tracker::default();
    let mut baseline_certain: BTreeMap<usize, usize> = BTreeMap::new();
    let mut truth: Vec<usize> = Vec::new();
    let mut new_subjects: Vec<String> = Vec::new();

    for i in 0..ALLOCATIONS {
        let site = if i % 2 == 0 { "SITE01" } else { "SITE02" };
        let (screener, pharmacist) = if site == "SITE01" {
            (&inv_site, &pharm_site)
        } else {
            (&inv_all, &pharm_all)
        };
        let r = app.post(
            screener,
            &format!("/api/v1/trials/{TRIAL}/screenings"),
            &eligible(&format!("{site}-{i:04}"), site),
        );
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
        let screening: Value = r.json().unwrap();
        assert_eq!(screening["outcome"], "eligible", "{screening}");
        let pending = screening["id"].as_str().unwrap().to_string();
        ids.add(&pending, site);

        // What anybody can read without a token, once for all roles.
        let everything = |index: usize| {
            i < FULL_READS_UNTIL
                || i + 1 == ALLOCATIONS
                || (i + index).is_multiple_of(FULL_READ_EVERY)
        };
        let public: Vec<(String, String, String)> = ["/healthz", "/metrics"]
            .iter()
            .filter(|_| everything(0))
            .map(|path| {
                let r = app.client.get(app.url(path)).send().unwrap();
                assert_eq!(r.status(), 200, "GET {path}");
                let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
                (path.to_string(), content_type, r.text().unwrap())
            })
            .collect();

        // Every role reads everything, then bets when it is certain.
        let mut bets = Vec::new();
        for o in &mut observers {
            let reading = Reading {
                design: &design,
                allocated: i,
                source: "",
            };
            for (path, content_type, text) in &public {
                let r = Reading {
                    source: path,
                    ..reading
                };
                o.absorb(&r, content_type, text, &digest);
            }
            let full = everything(o.index);
            o.read_everything_api(&reading, &ids, &pending, &new_subjects, full, &digest);
            o.read_everything_web(&reading, &ids, &pending, &new_subjects, full, &digest);
            let possible = o.tracker.possible_next(&mut o.know, &design, i, &o.label);
            bets.push((possible.len() == 1).then(|| *possible.first().unwrap()));
        }
        let possible = baseline_tracker.possible_next(&mut baseline, &design, i, "baseline");
        let baseline_bet = (possible.len() == 1).then(|| *possible.first().unwrap());

        let r = app.post(
            pharmacist,
            &format!("/api/v1/trials/{TRIAL}/randomizations"),
            &json!({ "screening_id": pending }),
        );
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
        let allocation: Value = r.json().unwrap();
        assert_eq!(allocation["sequence"], i + 1);
        let arm = design.arm(allocation["arm"].as_str().unwrap()).unwrap();
        let subject = allocation["subject_id"].as_str().unwrap().to_string();
        ids.add(&subject, site);
        new_subjects = vec![subject];
        truth.push(arm);

        for (o, bet) in observers.iter_mut().zip(bets) {
            if let Some(b) = bet {
                assert_eq!(
                    b,
                    arm,
                    "{} was certain of {} at sequence {} and got {}: the model is wrong",
                    o.label,
                    design.codes[b],
                    i + 1,
                    design.codes[arm]
                );
                o.certain.insert(i, b);
            }
            // What a role read never contradicts what happened.
            for (&p, &a) in &o.know.arms {
                assert_eq!(a, truth[p], "{} misread the arm at position {p}", o.label);
            }
        }
        if let Some(b) = baseline_bet {
            assert_eq!(b, arm, "the baseline was certain and wrong at {}", i + 1);
            baseline_certain.insert(i, b);
        }
        baseline.arm_at(i, arm);
    }

    // The monitor sees every allocation: otherwise this test reads too little to mean much.
    let monitor = observers.iter().find(|o| o.label == "monitor").unwrap();
    assert_eq!(
        monitor.know.arms.len(),
        ALLOCATIONS - 1,
        "the monitor should have seen every earlier arm"
    );

    let elapsed = started.elapsed();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for o in &observers {
        let beyond: Vec<usize> = o
            .certain
            .keys()
            .filter(|p| !baseline_certain.contains_key(p))
            .copied()
            .collect();
        let line = format!(
            "adversary [{backend}] {}: allocations {ALLOCATIONS}, certain {}, beyond baseline {}, \
             baseline certain {} (arms seen {}, block facts {}, requests {})",
            o.label,
            o.certain.len(),
            beyond.len(),
            baseline_certain.len(),
            o.know.arms.len(),
            o.know.block_facts(),
            o.requests,
        );
        eprintln!("{line}");
        if !o.know.block_sources.is_empty() {
            eprintln!(
                "adversary [{backend}] {}: block information read in {}",
                o.label,
                o.know
                    .block_sources
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for note in o.know.unrecognized.iter().take(10) {
            eprintln!("adversary [{backend}] {}: not understood: {note}", o.label);
        }
        if !beyond.is_empty() {
            failures.push(format!(
                "{}: certain of {} allocations the baseline is not certain of (sequences \
                 {:?}…), with block information read in {:?}",
                o.label,
                beyond.len(),
                beyond.iter().take(8).map(|p| p + 1).collect::<Vec<_>>(),
                o.know.block_sources
            ));
        }
        for leak in &o.design_leaks {
            failures.push(format!("{} can confirm the design: {leak}", o.label));
        }
        report.push(line);
    }
    eprintln!(
        "adversary [{backend}]: {ALLOCATIONS} allocations read by {} roles in {:.1} s",
        observers.len(),
        elapsed.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "allocation concealment broken:\n{}\n\nfigures:\n{}",
        failures.join("\n"),
        report.join("\n")
    );
}
both_backends!(concealment_against_every_role);

/// The tracker against brute force on short schedules: every schedule of whole blocks is
/// enumerated, those agreeing with what an observer knows are kept, and the arms they give
/// the next position must be exactly the tracker's. Knowledge is random: some arms, some
/// block indices, sizes and offsets, some balance listings.
#[test]
fn tracker_agrees_with_brute_force() {
    let protocol = Protocol::default_trial().unwrap();
    let design = Design::of(&protocol);
    // Every arrangement of one block of each size.
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    for &size in &design.sizes {
        let quota_a = usize::from(design.quota(0, size));
        for mask in 0u32..(1 << size) {
            if mask.count_ones() as usize == quota_a {
                blocks.push((0..size).map(|i| usize::from(mask >> i & 1 == 0)).collect());
            }
        }
    }
    // Schedules as (arm, block index, block size, offset) per position.
    type Slot = (usize, i64, u32, u32);
    fn schedules(blocks: &[Vec<usize>], len: usize, prefix: Vec<Slot>, out: &mut Vec<Vec<Slot>>) {
        if prefix.len() >= len {
            out.push(prefix);
            return;
        }
        let index = prefix.last().map_or(0, |s| s.1 + 1);
        for b in blocks {
            let mut next = prefix.clone();
            for (offset, &arm) in b.iter().enumerate() {
                next.push((arm, index, b.len() as u32, offset as u32));
            }
            schedules(blocks, len, next, out);
        }
    }
    let mut all = Vec::new();
    schedules(&blocks, 11, Vec::new(), &mut all);

    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut certain = 0;
    for case in 0..400 {
        let truth = &all[random(all.len() as u64) as usize];
        let n = 1 + random(10) as usize;
        let mut know = Knowledge::new();
        know.dirty = 0;
        for (p, &(arm, index, size, offset)) in truth.iter().enumerate().take(n) {
            if random(4) > 0 {
                know.arm_at(p, arm);
            }
            if case % 3 == 1 && random(3) == 0 {
                know.block_index(p, index);
            }
            if case % 3 == 1 && random(3) == 0 {
                know.block_size(p, size);
            }
            if case % 3 == 2 && random(4) == 0 {
                know.offset(p, offset);
            }
        }
        // A balance listing read after `at` allocations.
        if case % 5 == 4 {
            let at = 1 + random(n as u64) as usize;
            let mut fills: BTreeMap<i64, BlockFill> = BTreeMap::new();
            for &(arm, index, size, _) in &truth[..at] {
                let f = fills.entry(index).or_insert(BlockFill {
                    index,
                    size,
                    filled: 0,
                    counts: Some([0, 0]),
                });
                f.filled += 1;
                f.counts.as_mut().unwrap()[arm] += 1;
            }
            know.snapshot(at, fills.into_values().collect());
        }
        let mut expected = BTreeSet::new();
        for s in &all {
            let agrees = (0..n).all(|p| {
                let (arm, index, size, offset) = s[p];
                know.arms.get(&p).is_none_or(|&a| a == arm)
                    && know.block_index_at.get(&p).is_none_or(|&b| b == index)
                    && know.block_size_at.get(&p).is_none_or(|&z| z == size)
                    && know.offset_at.get(&p).is_none_or(|&o| o == offset)
            }) && know.snapshots.iter().all(|(&at, listings)| {
                listings.iter().all(|fills| {
                    fills.iter().all(|f| {
                        let inside: Vec<&Slot> =
                            s[..at].iter().filter(|x| x.1 == f.index).collect();
                        let counts = [0, 1].map(|a| inside.iter().filter(|x| x.0 == a).count());
                        inside.len() as u32 == f.filled
                            && s.iter().filter(|x| x.1 == f.index).count() as u32 == f.size
                            && f.counts.is_none_or(|c| c == counts.map(|x| x as u32))
                    })
                })
            });
            if agrees {
                expected.insert(s[n].0);
            }
        }
        let got = Tracker::default().possible_next(&mut know, &design, n, "brute force");
        assert_eq!(got, expected, "case {case}: n {n}, truth {truth:?}");
        certain += usize::from(got.len() == 1);
    }
    assert!(
        certain > 20,
        "the cases should include certain ones ({certain})"
    );
}
