//! The dashboard's view of a team's items: every item decrypted once, held in this worker's
//! memory (never in browser storage), searched and sorted here. The page asks for one window of
//! rows at a time (its list is virtualised), so a 10,000-item team never crosses to the page at
//! once.
//!
//! How an item is shown — the order of its fields, which are secret, which one is its title, the
//! template it came from — travels *inside* the item, as one more encrypted field named
//! [`DISPLAY_FIELD`] (JSON, see PROTOCOL.md §4.1), so the server learns nothing of it either.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vouchsafe_client::vault::Item;
use zeroize::Zeroizing;

use crate::Failure;

/// The reserved field holding how an item is shown (encrypted like the others).
pub const DISPLAY_FIELD: &str = "vouchsafe:display";
/// Field names beginning with this are reserved for the dashboard.
pub const RESERVED_PREFIX: &str = "vouchsafe:";
/// Largest value of one field, in bytes of UTF-8 (what the server accepts: 64 KiB).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Largest item in total (names and values), in bytes: what fits in the server's default request
/// limit (256 KiB) once encrypted and base64url-encoded.
pub const MAX_ITEM_BYTES: usize = 180_000;
/// Most fields per item (the server's limit, less the display field).
pub const MAX_FIELDS: usize = 63;

/// How an item is shown (the [`DISPLAY_FIELD`]'s JSON).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Display {
    /// Field names in the order they were entered.
    pub order: Vec<String>,
    /// Names of the fields to mask.
    pub secret: Vec<String>,
    /// The field whose value is the item's title (default: the first field with a value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The template the item was made from (`customer`, `login`, `note`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// One field as the page edits it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldIn {
    /// Name.
    pub name: String,
    /// Value (zeroized on drop).
    pub value: crate::Secret,
    /// Masked in the dashboard.
    #[serde(default)]
    pub secret: bool,
}

/// A decrypted item as this worker keeps it.
pub struct Entry {
    id: String,
    revision: u64,
    key_version: u32,
    legacy: bool,
    created_at: i64,
    updated_at: i64,
    /// In display order.
    fields: Vec<(String, Zeroizing<String>, bool)>,
    template: Option<String>,
    title_field: Option<String>,
    title: Zeroizing<String>,
    /// Lower-cased names and non-secret values, for search.
    hay: Zeroizing<String>,
}

impl FieldIn {
    /// From a field read from a file.
    pub fn from_file(f: &crate::transfer::Field) -> Self {
        Self { name: f.name.clone(), value: crate::Secret(Zeroizing::new(f.value.clone())), secret: f.secret }
    }
}

impl Entry {
    /// From a decrypted item.
    pub fn from_item(item: &Item) -> Self {
        let display =
            item.fields.get(DISPLAY_FIELD).and_then(|v| serde_json::from_slice::<Display>(v).ok()).unwrap_or_default();
        let mut values: BTreeMap<&str, Zeroizing<String>> = item
            .fields
            .iter()
            .filter(|(k, _)| k.as_str() != DISPLAY_FIELD)
            .map(|(k, v)| (k.as_str(), Zeroizing::new(String::from_utf8_lossy(v).into_owned())))
            .collect();
        let secret: BTreeSet<&str> = display.secret.iter().map(String::as_str).collect();
        let mut fields = Vec::with_capacity(values.len());
        // Entered order first (names the server could not have added: each is bound to the
        // item), then any other field in name order.
        for name in &display.order {
            if let Some(v) = values.remove(name.as_str()) {
                fields.push((name.clone(), v, secret.contains(name.as_str())));
            }
        }
        for (name, v) in values {
            fields.push((name.to_owned(), v, secret.contains(name)));
        }
        Self::build(item, fields, display.template, display.title)
    }

    fn build(
        item: &Item,
        fields: Vec<(String, Zeroizing<String>, bool)>,
        template: Option<String>,
        title_field: Option<String>,
    ) -> Self {
        let title = title_of(&fields, title_field.as_deref());
        let mut hay = Zeroizing::new(String::new());
        for (name, value, secret) in &fields {
            hay.push_str(&name.to_lowercase());
            hay.push('\u{1}');
            if !secret {
                hay.push_str(&value.to_lowercase());
            }
            hay.push('\u{1}');
        }
        Self {
            id: item.id.clone(),
            revision: item.revision,
            key_version: item.key_version,
            legacy: item.legacy,
            created_at: item.created_at,
            updated_at: item.updated_at,
            fields,
            template,
            title_field,
            title,
            hay,
        }
    }

    fn matches(&self, terms: &[String]) -> bool {
        terms.iter().all(|t| self.hay.contains(t.as_str()))
    }

    /// A row of the list: title and a one-line summary (no secret value).
    fn row(&self) -> Value {
        let summary: Vec<String> = self
            .fields
            .iter()
            .filter(|(n, v, s)| !s && !v.is_empty() && Some(n.as_str()) != self.title_field_used())
            .take(2)
            .map(|(n, v, _)| format!("{n}: {}", clip(v, 60)))
            .collect();
        json!({"id": self.id, "title": clip(&self.title, 120), "summary": summary.join(" · "),
               "key_version": self.key_version, "legacy": self.legacy, "template": self.template})
    }

    fn title_field_used(&self) -> Option<&str> {
        match &self.title_field {
            Some(t) if self.fields.iter().any(|(n, v, _)| n == t && !v.is_empty()) => Some(t),
            _ => self.fields.iter().find(|(_, v, s)| !s && !v.is_empty()).map(|(n, _, _)| n.as_str()),
        }
    }

    /// As an export record.
    pub fn record(&self) -> crate::transfer::Record {
        crate::transfer::Record {
            fields: self
                .fields
                .iter()
                .map(|(n, v, s)| crate::transfer::Field { name: n.clone(), value: v.as_str().to_owned(), secret: *s })
                .collect(),
            template: self.template.clone(),
            title: self.title_field.clone(),
        }
    }

    /// Everything, for the item's page.
    pub fn full(&self) -> Value {
        let fields: Vec<Value> =
            self.fields.iter().map(|(n, v, s)| json!({"name": n, "value": v.as_str(), "secret": s})).collect();
        json!({"id": self.id, "revision": self.revision, "key_version": self.key_version, "legacy": self.legacy,
               "created_at": self.created_at, "updated_at": self.updated_at, "title": self.title.as_str(),
               "title_field": self.title_field, "template": self.template, "fields": fields})
    }
}

fn title_of(fields: &[(String, Zeroizing<String>, bool)], chosen: Option<&str>) -> Zeroizing<String> {
    let pick = chosen
        .and_then(|c| fields.iter().find(|(n, v, _)| n == c && !v.is_empty()))
        .or_else(|| fields.iter().find(|(_, v, s)| !s && !v.is_empty()));
    Zeroizing::new(pick.map_or_else(|| "(untitled)".to_owned(), |(_, v, _)| first_line(v).to_owned()))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn clip(s: &str, max: usize) -> String {
    let line = first_line(s);
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        let mut out: String = line.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// How the list is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Last written first (a new item is on top).
    #[default]
    Updated,
    /// Newest first.
    Created,
    /// Title A–Z.
    Title,
    /// Title Z–A.
    TitleDesc,
}

/// A team's items in this worker, and the last search's result (so scrolling reads a window of
/// it without searching again).
#[derive(Default)]
pub struct Index {
    entries: Vec<Entry>,
    last: Option<(String, Sort, Vec<usize>)>,
}

impl Index {
    /// From every decrypted item.
    pub fn new(items: &[Item]) -> Self {
        Self { entries: items.iter().map(Entry::from_item).collect(), last: None }
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every item, as export records (oldest first).
    pub fn records(&self) -> Vec<crate::transfer::Record> {
        let mut order: Vec<&Entry> = self.entries.iter().collect();
        order.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        order.into_iter().map(Entry::record).collect()
    }

    /// One item.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Adds or replaces an item.
    pub fn put(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.id == entry.id) {
            Some(e) => *e = entry,
            None => self.entries.push(entry),
        }
        self.last = None;
    }

    /// Forgets an item.
    pub fn remove(&mut self, id: &str) {
        self.entries.retain(|e| e.id != id);
        self.last = None;
    }

    /// Items matching every word of `query` (in names and non-secret values, any case), sorted;
    /// answers `limit` rows from `offset` and the number of matches.
    pub fn find(&mut self, query: &str, sort: Sort, offset: usize, limit: usize) -> Value {
        let query = query.trim().to_lowercase();
        let fresh = !matches!(&self.last, Some((q, s, _)) if *q == query && *s == sort);
        if fresh {
            let terms: Vec<String> = query.split_whitespace().map(str::to_owned).collect();
            let mut hits: Vec<usize> = (0..self.entries.len()).filter(|&i| self.entries[i].matches(&terms)).collect();
            let e = &self.entries;
            match sort {
                Sort::Updated => {
                    hits.sort_by(|&a, &b| e[b].updated_at.cmp(&e[a].updated_at).then(e[a].id.cmp(&e[b].id)))
                }
                Sort::Created => {
                    hits.sort_by(|&a, &b| e[b].created_at.cmp(&e[a].created_at).then(e[a].id.cmp(&e[b].id)))
                }
                Sort::Title | Sort::TitleDesc => {
                    let keys: Vec<Zeroizing<String>> =
                        e.iter().map(|x| Zeroizing::new(x.title.to_lowercase())).collect();
                    hits.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(e[a].id.cmp(&e[b].id)));
                    if sort == Sort::TitleDesc {
                        hits.reverse();
                    }
                }
            }
            self.last = Some((query, sort, hits));
        }
        let hits = self.last.as_ref().map_or(&[][..], |(_, _, h)| h.as_slice());
        let rows: Vec<Value> = hits.iter().skip(offset).take(limit.min(200)).map(|&i| self.entries[i].row()).collect();
        json!({"total": hits.len(), "count": self.entries.len(), "offset": offset, "rows": rows})
    }
}

/// The fields to encrypt for what the page's editor sent, with the display field; refuses, in
/// plain words, what the server would refuse or what would lose data.
pub fn prepare(
    fields: &[FieldIn],
    title: Option<&str>,
    template: Option<&str>,
) -> Result<(BTreeMap<String, Vec<u8>>, Display), Failure> {
    let mut seen = BTreeSet::new();
    let mut out = BTreeMap::new();
    let mut display = Display { template: template.map(str::to_owned), ..Display::default() };
    let mut total = 0usize;
    if fields.len() > MAX_FIELDS {
        return Err(Failure::new("item.too_many_fields", format!("An item has at most {MAX_FIELDS} fields.")));
    }
    for f in fields {
        let name = f.name.trim();
        if name.is_empty() {
            return Err(Failure::new("item.unnamed_field", "Every field needs a name."));
        }
        if name.starts_with(RESERVED_PREFIX) {
            return Err(Failure::new(
                "item.reserved_name",
                format!(
                    "Field names starting with \u{201c}{RESERVED_PREFIX}\u{201d} are reserved; choose another name."
                ),
            ));
        }
        if vouchsafe_crypto::field::validate_field_name(name).is_err() {
            return Err(Failure::new(
                "item.invalid_field_name",
                format!(
                    "The field name \u{201c}{}\u{201d} is too long or has a control character: at most 128 bytes.",
                    clip(name, 40)
                ),
            ));
        }
        if !seen.insert(name.to_owned()) {
            return Err(Failure::new(
                "item.duplicate_field",
                format!("Two fields are named \u{201c}{name}\u{201d}: give each field its own name."),
            ));
        }
        let value = f.value.as_str();
        if value.len() > MAX_VALUE_BYTES {
            return Err(Failure::new(
                "item.value_too_long",
                format!(
                    "The value of \u{201c}{name}\u{201d} is too long: at most {} bytes (about {} characters of plain text; it has {}).",
                    group(MAX_VALUE_BYTES),
                    group(MAX_VALUE_BYTES),
                    group(value.len())
                ),
            ));
        }
        // A template's field left blank is not stored (nor shown).
        if value.is_empty() {
            continue;
        }
        total += name.len() + value.len();
        display.order.push(name.to_owned());
        if f.secret {
            display.secret.push(name.to_owned());
        }
        out.insert(name.to_owned(), value.as_bytes().to_vec());
    }
    if out.is_empty() || out.values().all(|v| v.iter().all(u8::is_ascii_whitespace)) {
        return Err(Failure::new("item.empty", "This item is empty: fill in at least one value."));
    }
    if total > MAX_ITEM_BYTES {
        return Err(Failure::new(
            "item.too_large",
            format!(
                "This item is too large: at most {} bytes of text in all its fields together (it has {}). Split it into several items.",
                group(MAX_ITEM_BYTES),
                group(total)
            ),
        ));
    }
    display.title = title.map(str::trim).filter(|t| !t.is_empty() && seen.contains(*t)).map(str::to_owned);
    let json = serde_json::to_vec(&display).map_err(|e| Failure::new("client.internal", e.to_string()))?;
    out.insert(DISPLAY_FIELD.to_owned(), json);
    Ok((out, display))
}

/// The entry for an item just written (what was encrypted, with the server's answer).
pub fn written(item: &Item, fields: &[FieldIn], display: &Display) -> Entry {
    let secret: BTreeSet<&str> = display.secret.iter().map(String::as_str).collect();
    let fields = fields
        .iter()
        .filter(|f| !f.value.as_str().is_empty())
        .map(|f| {
            let name = f.name.trim().to_owned();
            let s = secret.contains(name.as_str());
            (name, Zeroizing::new(f.value.as_str().to_owned()), s)
        })
        .collect();
    Entry::build(item, fields, display.template.clone(), display.title.clone())
}

/// `65536` → `65,536`.
pub fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A random password from the OS generator: `length` characters of letters, and digits and
/// symbols when asked, with at least one of each class asked for.
pub fn generate(length: usize, digits: bool, symbols: bool) -> Result<Zeroizing<String>, Failure> {
    const LETTERS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!#$%&*+-=?@^_~";
    if !(8..=128).contains(&length) {
        return Err(Failure::new("generator.length", "Choose a length from 8 to 128 characters."));
    }
    let mut classes: Vec<&[u8]> = vec![LETTERS];
    if digits {
        classes.push(DIGITS);
    }
    if symbols {
        classes.push(SYMBOLS);
    }
    let all: Vec<u8> = classes.concat();
    let mut rng = vouchsafe_crypto::os_rng();
    loop {
        let out: Zeroizing<Vec<u8>> = Zeroizing::new((0..length).map(|_| pick(&mut rng, &all)).collect());
        if classes.iter().all(|c| out.iter().any(|b| c.contains(b))) {
            return Ok(Zeroizing::new(String::from_utf8_lossy(&out).into_owned()));
        }
    }
}

/// One byte of `set`, uniformly: draws beyond the largest multiple of its size are rejected.
fn pick(rng: &mut impl vouchsafe_crypto::CryptoRng, set: &[u8]) -> u8 {
    let n = set.len() as u32;
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let r = rng.next_u32();
        if r < zone {
            return set.get((r % n) as usize).copied().unwrap_or(b'a');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, updated_at: i64, fields: &[(&str, &str)]) -> Item {
        Item {
            id: id.into(),
            revision: 1,
            key_version: 1,
            fields: fields.iter().map(|(k, v)| ((*k).to_owned(), Zeroizing::new(v.as_bytes().to_vec()))).collect(),
            legacy: false,
            created_at: updated_at,
            updated_at,
        }
    }

    fn field(name: &str, value: &str, secret: bool) -> FieldIn {
        serde_json::from_value(json!({"name": name, "value": value, "secret": secret})).unwrap()
    }

    #[test]
    fn the_entered_order_secret_marks_and_title_survive_a_round_trip() {
        let input =
            [field("zeta", "Zed Corp", false), field("alpha", "a@zed.example", false), field("pin", "1234", true)];
        let (fields, display) = prepare(&input, Some("alpha"), Some("customer")).unwrap();
        assert!(fields.contains_key(DISPLAY_FIELD));
        let stored =
            Item { fields: fields.into_iter().map(|(k, v)| (k, Zeroizing::new(v))).collect(), ..item("i1", 5, &[]) };
        let e = Entry::from_item(&stored);
        let names: Vec<&str> = e.fields.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "pin"]);
        assert_eq!(e.title.as_str(), "a@zed.example");
        assert_eq!(e.template.as_deref(), Some("customer"));
        assert!(e.fields[2].2 && !e.fields[0].2);
        assert_eq!(display.order, ["zeta", "alpha", "pin"]);
    }

    #[test]
    fn the_editor_refuses_what_would_lose_data_in_plain_words() {
        let dup = prepare(&[field("name", "a", false), field(" name ", "b", false)], None, None).unwrap_err();
        assert_eq!(dup.code, "item.duplicate_field");
        assert!(dup.message.contains("\u{201c}name\u{201d}"), "{}", dup.message);
        assert_eq!(
            prepare(&[field("a", " ", false), field("b", "", false)], None, None).unwrap_err().code,
            "item.empty"
        );
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let e = prepare(&[field("notes", &long, false)], None, None).unwrap_err();
        assert_eq!(e.code, "item.value_too_long");
        assert!(e.message.contains("at most 65,536 bytes") && !e.message.contains("base64"), "{}", e.message);
        assert_eq!(prepare(&[field("vouchsafe:x", "a", false)], None, None).unwrap_err().code, "item.reserved_name");
        let big: Vec<FieldIn> = (0..4).map(|i| field(&format!("f{i}"), &"y".repeat(60_000), false)).collect();
        assert_eq!(prepare(&big, None, None).unwrap_err().code, "item.too_large");
        assert!(prepare(&[field("ok", &"z".repeat(MAX_VALUE_BYTES), false)], None, None).is_ok());
    }

    #[test]
    fn search_finds_every_word_in_names_and_values_but_never_in_secrets() {
        let mut idx = Index::new(&[
            item("a", 3, &[("name", "Ada Lovelace"), ("email", "ada@example.com")]),
            item("b", 2, &[("name", "Bob Stone"), ("city", "Adastral Park")]),
            item("c", 1, &[("name", "Cy"), ("password", "ada-secret"), (DISPLAY_FIELD, r#"{"secret":["password"]}"#)]),
        ]);
        let ids = |v: &Value| {
            v["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&idx.find("ADA", Sort::Updated, 0, 50)), ["a", "b"]);
        assert_eq!(ids(&idx.find("ada example", Sort::Updated, 0, 50)), ["a"]);
        assert_eq!(ids(&idx.find("password", Sort::Updated, 0, 50)), ["c"], "a field name is searchable");
        assert_eq!(idx.find("secret", Sort::Updated, 0, 50)["total"], 0, "a secret value is not");
        assert_eq!(ids(&idx.find("", Sort::Title, 0, 50)), ["a", "b", "c"]);
        assert_eq!(ids(&idx.find("", Sort::TitleDesc, 1, 1)), ["b"]);
        idx.put(Entry::from_item(&item("d", 9, &[("name", "Dee")])));
        assert_eq!(ids(&idx.find("", Sort::Updated, 0, 1)), ["d"], "a new item is first by last change");
        idx.remove("d");
        assert_eq!(idx.find("", Sort::Updated, 0, 50)["total"], 3);
        let row = &idx.find("cy", Sort::Updated, 0, 1)["rows"][0];
        assert!(!row.to_string().contains("ada-secret"), "{row}");
    }

    #[test]
    fn generated_passwords_have_the_length_and_classes_asked_for() {
        for _ in 0..50 {
            let p = generate(16, true, true).unwrap();
            assert_eq!(p.chars().count(), 16);
            assert!(p.chars().any(|c| c.is_ascii_digit()) && p.chars().any(|c| !c.is_ascii_alphanumeric()));
        }
        assert!(generate(20, false, false).unwrap().chars().all(|c| c.is_ascii_alphabetic()));
        assert!(generate(4, true, true).is_err());
        assert_ne!(generate(32, true, false).unwrap(), generate(32, true, false).unwrap());
    }
}
