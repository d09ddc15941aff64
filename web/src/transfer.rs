//! Import and export, in the worker: Bitwarden (unencrypted JSON and CSV), 1Password (CSV) and a
//! plain CSV with a header row come in; a team goes out as a password-protected file (the format
//! of PROTOCOL.md §4.2, which this module also reads back) or, after a warning, as plain CSV.
//! Files are parsed here, so their plaintext never leaves the worker except as the preview rows
//! the page shows.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vouchsafe_crypto::b64;
use vouchsafe_crypto::kdf::{KdfParams, Salt};
use zeroize::Zeroizing;

use crate::Failure;

/// Largest file read (the page refuses larger ones before reading).
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// One field of a record read from a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Field {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Masked in the dashboard.
    #[serde(default)]
    pub secret: bool,
}

impl Drop for Field {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

/// One record read from a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Fields in the file's order.
    pub fields: Vec<Field>,
    /// The template it maps to (`login`, `note`, `customer`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The field that is its title, if the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// What a file held.
#[derive(Debug)]
pub struct Parsed {
    /// For people: "Bitwarden (JSON)", …
    pub format: &'static str,
    /// Records with at least one value.
    pub records: Vec<Record>,
    /// Records skipped because every value was empty.
    pub skipped: usize,
}

fn bad(code: &str, message: impl Into<String>) -> Failure {
    Failure::new(code, message)
}

/// Rows of an RFC 4180 CSV file (quoted fields, doubled quotes, line breaks inside quotes, CRLF
/// or LF, a leading byte-order mark).
pub fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, Failure> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                _ => {
                    if c == '\n' {
                        line += 1;
                    }
                    cell.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut cell)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                line += 1;
                row.push(std::mem::take(&mut cell));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err(bad("import.bad_csv", format!("The file ends inside a quoted value (opened before line {line}).")));
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    Ok(rows)
}

/// One CSV value, quoted when it has to be.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn looks_secret(name: &str) -> bool {
    let n = name.to_lowercase();
    [
        "password",
        "passwort",
        "secret",
        "pin",
        "token",
        "otp",
        "totp",
        "cvv",
        "security code",
        "api key",
        "apikey",
        "private key",
    ]
    .iter()
    .any(|w| n.contains(w))
}

fn push(fields: &mut Vec<Field>, name: &str, value: &str, secret: bool) {
    if value.trim().is_empty() {
        return;
    }
    // Two source columns can map to one name ("url", "url"): number the later ones.
    let mut n = name.to_owned();
    let mut k = 2;
    while fields.iter().any(|f| f.name == n) {
        n = format!("{name} {k}");
        k += 1;
    }
    fields.push(Field { name: n, value: value.to_owned(), secret });
}

fn finish(format: &'static str, records: Vec<Record>) -> Parsed {
    let before = records.len();
    let records: Vec<Record> = records.into_iter().filter(|r| !r.fields.is_empty()).collect();
    Parsed { format, skipped: before - records.len(), records }
}

fn header_index(header: &[String]) -> impl Fn(&str) -> Option<usize> + '_ {
    move |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name))
}

fn bitwarden_csv(header: &[String], rows: &[Vec<String>]) -> Parsed {
    let at = header_index(header);
    let col = |row: &Vec<String>, name: &str| at(name).and_then(|i| row.get(i)).cloned().unwrap_or_default();
    let records = rows
        .iter()
        .map(|r| {
            let note = col(r, "type").eq_ignore_ascii_case("note");
            let mut f = Vec::new();
            push(&mut f, "title", &col(r, "name"), false);
            push(&mut f, "username", &col(r, "login_username"), false);
            push(&mut f, "password", &col(r, "login_password"), true);
            push(&mut f, "url", &col(r, "login_uri"), false);
            push(&mut f, "totp", &col(r, "login_totp"), true);
            push(&mut f, if note { "note" } else { "notes" }, &col(r, "notes"), false);
            // Custom fields: one "name: value" per line.
            for line in col(r, "fields").lines() {
                if let Some((k, v)) = line.split_once(": ") {
                    push(&mut f, k.trim(), v, looks_secret(k));
                }
            }
            push(&mut f, "folder", &col(r, "folder"), false);
            Record {
                fields: f,
                template: Some(if note { "note" } else { "login" }.into()),
                title: Some("title".into()),
            }
        })
        .collect();
    finish("Bitwarden (CSV)", records)
}

fn onepassword_csv(header: &[String], rows: &[Vec<String>]) -> Parsed {
    let at = header_index(header);
    let col = |row: &Vec<String>, names: &[&str]| {
        names.iter().find_map(|n| at(n).and_then(|i| row.get(i)).cloned()).unwrap_or_default()
    };
    let records = rows
        .iter()
        .map(|r| {
            let mut f = Vec::new();
            push(&mut f, "title", &col(r, &["title", "name"]), false);
            push(&mut f, "username", &col(r, &["username"]), false);
            push(&mut f, "password", &col(r, &["password"]), true);
            push(&mut f, "url", &col(r, &["url", "website", "urls"]), false);
            push(&mut f, "totp", &col(r, &["otpauth", "one-time password"]), true);
            push(&mut f, "tags", &col(r, &["tags"]), false);
            push(&mut f, "notes", &col(r, &["notes", "notesplain"]), false);
            Record { fields: f, template: Some("login".into()), title: Some("title".into()) }
        })
        .collect();
    finish("1Password (CSV)", records)
}

fn plain_csv(header: &[String], rows: &[Vec<String>]) -> Parsed {
    let records = rows
        .iter()
        .map(|r| {
            let mut f = Vec::new();
            for (i, name) in header.iter().enumerate() {
                let name = if name.trim().is_empty() { format!("column {}", i + 1) } else { name.trim().to_owned() };
                push(&mut f, &name, r.get(i).map_or("", String::as_str), looks_secret(&name));
            }
            Record { fields: f, template: None, title: None }
        })
        .collect();
    finish("CSV with a header row", records)
}

fn bitwarden_json(v: &Value) -> Result<Parsed, Failure> {
    if v["encrypted"].as_bool() == Some(true) {
        return Err(bad(
            "import.encrypted_bitwarden",
            "This is an encrypted Bitwarden export. In Bitwarden, export as \u{201c}.json\u{201d} or \u{201c}.csv\u{201d} (not encrypted), import that, then delete the file.",
        ));
    }
    let folders: std::collections::BTreeMap<&str, &str> = v["folders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| Some((f["id"].as_str()?, f["name"].as_str()?)))
        .collect();
    let s = |x: &Value| match x {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let mut records = Vec::new();
    for it in v["items"].as_array().into_iter().flatten() {
        let mut f = Vec::new();
        let kind = it["type"].as_u64().unwrap_or(1);
        push(&mut f, "title", &s(&it["name"]), false);
        let template = match kind {
            1 => {
                let l = &it["login"];
                push(&mut f, "username", &s(&l["username"]), false);
                push(&mut f, "password", &s(&l["password"]), true);
                for u in l["uris"].as_array().into_iter().flatten() {
                    push(&mut f, "url", &s(&u["uri"]), false);
                }
                push(&mut f, "totp", &s(&l["totp"]), true);
                "login"
            }
            3 => {
                let c = &it["card"];
                for (k, name, secret) in [
                    ("cardholderName", "cardholder", false),
                    ("brand", "brand", false),
                    ("number", "card number", true),
                    ("expMonth", "expiry month", false),
                    ("expYear", "expiry year", false),
                    ("code", "security code", true),
                ] {
                    push(&mut f, name, &s(&c[k]), secret);
                }
                "customer"
            }
            4 => {
                if let Some(o) = it["identity"].as_object() {
                    for (k, val) in o {
                        push(&mut f, k, &s(val), looks_secret(k) || k == "ssn" || k == "passportNumber");
                    }
                }
                "customer"
            }
            _ => "note",
        };
        push(&mut f, if template == "note" { "note" } else { "notes" }, &s(&it["notes"]), false);
        for c in it["fields"].as_array().into_iter().flatten() {
            // Bitwarden field types: 0 text, 1 hidden, 2 boolean, 3 linked.
            push(&mut f, &s(&c["name"]), &s(&c["value"]), c["type"].as_u64() == Some(1));
        }
        if let Some(folder) = it["folderId"].as_str().and_then(|id| folders.get(id)) {
            push(&mut f, "folder", folder, false);
        }
        records.push(Record { fields: f, template: Some(template.into()), title: Some("title".into()) });
    }
    Ok(finish("Bitwarden (JSON)", records))
}

/// A password-protected Vouchsafe export (PROTOCOL.md §4.2).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportFile {
    /// Always 1.
    pub vouchsafe_export: u8,
    /// Argon2id parameters of the file key.
    pub kdf: KdfParams,
    /// base64url.
    pub salt: String,
    /// base64url of the sealed JSON (`{"team", "exported_at", "items": [Record]}`).
    pub data: String,
}

#[derive(Serialize, Deserialize)]
struct ExportBody {
    team: String,
    exported_at: u64,
    items: Vec<Record>,
}

/// Reads a file: its format is recognised from its content, not its name.
pub fn parse(text: &str, password: Option<&str>) -> Result<Parsed, Failure> {
    if text.len() > MAX_IMPORT_BYTES {
        return Err(bad("import.too_large", "This file is too large: at most 64 MiB."));
    }
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        let v: Value = serde_json::from_str(trimmed)
            .map_err(|e| bad("import.bad_json", format!("This file is not valid JSON (line {}).", e.line())))?;
        if v.get("vouchsafe_export").is_some() {
            return open_export(&v, password);
        }
        if v.get("items").is_some_and(Value::is_array) || v.get("encrypted").is_some() {
            return bitwarden_json(&v);
        }
        return Err(bad(
            "import.unknown_format",
            "This JSON file is neither a Bitwarden export nor a Vouchsafe export.",
        ));
    }
    let rows = csv_rows(text)?;
    let Some((header, body)) = rows.split_first() else {
        return Err(bad("import.empty", "This file has no records."));
    };
    let has = |n: &str| header.iter().any(|h| h.trim().eq_ignore_ascii_case(n));
    let parsed = if has("login_password") && has("name") {
        bitwarden_csv(header, body)
    } else if has("title") && has("password") && (has("url") || has("website") || has("username")) {
        onepassword_csv(header, body)
    } else {
        plain_csv(header, body)
    };
    if parsed.records.is_empty() {
        return Err(bad("import.empty", "This file has no records with a value."));
    }
    Ok(parsed)
}

fn open_export(v: &Value, password: Option<&str>) -> Result<Parsed, Failure> {
    let f: ExportFile = serde_json::from_value(v.clone())
        .map_err(|_| bad("import.bad_export", "This Vouchsafe export is damaged (its header is not as written)."))?;
    if f.vouchsafe_export != 1 {
        return Err(bad("import.bad_export", "This Vouchsafe export is of a newer version: update Vouchsafe."));
    }
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(bad(
            "import.password_needed",
            "This file is password-protected: type the password it was exported with.",
        ));
    };
    let salt = b64::decode(&f.salt, 64)
        .ok()
        .and_then(|s| Salt::try_from_slice(&s).ok())
        .ok_or_else(|| bad("import.bad_export", "This Vouchsafe export is damaged (salt)."))?;
    let blob = b64::decode(&f.data, MAX_IMPORT_BYTES)
        .map_err(|_| bad("import.bad_export", "This Vouchsafe export is damaged (data)."))?;
    f.kdf
        .validate()
        .map_err(|_| bad("import.bad_export", "This Vouchsafe export names key parameters that are not accepted."))?;
    let plain = vouchsafe_crypto::export::open(password.as_bytes(), &f.kdf, &salt, &blob)
        .map_err(|_| bad("import.wrong_password", "The password is wrong, or the file was changed."))?;
    let body: ExportBody = serde_json::from_slice(&plain)
        .map_err(|_| bad("import.bad_export", "This Vouchsafe export is damaged (contents)."))?;
    Ok(finish("Vouchsafe export (password-protected)", body.items))
}

/// A password-protected export of `records`.
pub fn export_encrypted(team: &str, records: Vec<Record>, password: &str) -> Result<String, Failure> {
    if password.chars().count() < crate::MIN_PASSWORD {
        return Err(bad(
            "password.too_short",
            format!("Use at least {} characters for the file's password.", crate::MIN_PASSWORD),
        ));
    }
    let body = ExportBody { team: team.to_owned(), exported_at: vouchsafe_client::unix_now(), items: records };
    let plain = Zeroizing::new(serde_json::to_vec(&body).map_err(|e| bad("client.internal", e.to_string()))?);
    let params = KdfParams::default();
    let (salt, blob) =
        vouchsafe_crypto::export::seal(password.as_bytes(), &params, &plain, &mut vouchsafe_crypto::os_rng())?;
    let file = ExportFile {
        vouchsafe_export: 1,
        kdf: params,
        salt: b64::encode(salt.expose_secret()),
        data: b64::encode(&blob),
    };
    serde_json::to_string_pretty(&file).map_err(|e| bad("client.internal", e.to_string()))
}

/// A plain CSV of `records`: one column per field name, in the order first seen.
pub fn export_csv(records: &[Record]) -> Zeroizing<String> {
    let mut names: Vec<&str> = Vec::new();
    for r in records {
        for f in &r.fields {
            if !names.contains(&f.name.as_str()) {
                names.push(&f.name);
            }
        }
    }
    let mut out = Zeroizing::new(names.iter().map(|n| csv_cell(n)).collect::<Vec<_>>().join(","));
    out.push_str("\r\n");
    for r in records {
        let line: Vec<String> = names
            .iter()
            .map(|n| r.fields.iter().find(|f| f.name == *n).map_or_else(String::new, |f| csv_cell(&f.value)))
            .collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The first records as the preview shows them (secret values masked).
pub fn preview(p: &Parsed) -> Value {
    let sample: Vec<Value> = p
        .records
        .iter()
        .take(5)
        .map(|r| {
            json!(r.fields.iter().map(|f| json!({"name": f.name, "value": if f.secret { "••••••••".to_owned() } else { f.value.chars().take(80).collect::<String>() }, "secret": f.secret})).collect::<Vec<_>>())
        })
        .collect();
    json!({"format": p.format, "count": p.records.len(), "skipped": p.skipped, "sample": sample})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &Record) -> Vec<(&str, &str, bool)> {
        r.fields.iter().map(|f| (f.name.as_str(), f.value.as_str(), f.secret)).collect()
    }

    #[test]
    fn csv_handles_quotes_line_breaks_crlf_and_a_bom() {
        let rows = csv_rows("\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\nnext\"\r\n\r\nlast,\n").unwrap();
        assert_eq!(rows, [vec!["a", "b"], vec!["x, y", "say \"hi\"\nnext"], vec!["last", ""]]);
        assert_eq!(csv_rows("a,\"open").unwrap_err().code, "import.bad_csv");
    }

    #[test]
    fn a_plain_csv_keeps_its_column_order_and_masks_password_like_columns() {
        let p = parse("Name,Email,PIN\nAda,ada@example.com,1234\n,,\n", None).unwrap();
        assert_eq!(p.format, "CSV with a header row");
        assert_eq!((p.records.len(), p.skipped), (1, 1));
        assert_eq!(
            names(&p.records[0]),
            [("Name", "Ada", false), ("Email", "ada@example.com", false), ("PIN", "1234", true)]
        );
    }

    #[test]
    fn the_encrypted_export_round_trips_and_refuses_a_wrong_password() {
        let recs = parse("name,notes\nAda Lovelace,\"line 1\nline 2\"\n", None).unwrap().records;
        let file = export_encrypted("Team A", recs, "export password 1").unwrap();
        // (Values with a space: base64url ciphertext can never contain them by chance.)
        assert!(!file.contains("Ada Lovelace") && !file.contains("line 1"), "{file}");
        assert_eq!(parse(&file, None).unwrap_err().code, "import.password_needed");
        assert_eq!(parse(&file, Some("export password 2")).unwrap_err().code, "import.wrong_password");
        let back = parse(&file, Some("export password 1")).unwrap();
        assert_eq!(names(&back.records[0]), [("name", "Ada Lovelace", false), ("notes", "line 1\nline 2", false)]);
        let csv = export_csv(&back.records);
        assert_eq!(csv.as_str(), "name,notes\r\nAda Lovelace,\"line 1\nline 2\"\r\n");
        assert_eq!(names(&parse(&csv, None).unwrap().records[0]), names(&back.records[0]));
    }

    fn find<'a>(r: &'a Record, name: &str) -> Option<&'a Field> {
        r.fields.iter().find(|f| f.name == name)
    }

    #[test]
    fn bitwarden_json_maps_logins_notes_cards_custom_fields_and_folders() {
        let p = parse(include_str!("../tests/fixtures/bitwarden.json"), None).unwrap();
        assert_eq!((p.format, p.records.len()), ("Bitwarden (JSON)", 3));
        let login = &p.records[0];
        assert_eq!(login.template.as_deref(), Some("login"));
        assert_eq!(find(login, "title").unwrap().value, "Acme billing portal");
        assert!(find(login, "password").unwrap().secret && find(login, "password").unwrap().value == "Bw-Secret-7781");
        assert_eq!(find(login, "url").unwrap().value, "https://billing.acme.example");
        assert!(find(login, "recovery phrase").unwrap().secret, "a hidden custom field stays secret");
        assert!(!find(login, "account no").unwrap().secret);
        assert_eq!(find(login, "folder").unwrap().value, "Customers");
        assert_eq!(find(&p.records[1], "note").unwrap().value, "Front: 4471\nBack: 9902");
        assert!(find(&p.records[2], "card number").unwrap().secret);
        let enc = parse(r#"{"encrypted": true, "encKeyValidation_DO_NOT_EDIT": "x", "data": "y"}"#, None);
        assert_eq!(enc.unwrap_err().code, "import.encrypted_bitwarden");
    }

    #[test]
    fn bitwarden_and_1password_csv_are_recognised_by_their_header() {
        let b = parse(include_str!("../tests/fixtures/bitwarden.csv"), None).unwrap();
        assert_eq!((b.format, b.records.len()), ("Bitwarden (CSV)", 2));
        assert_eq!(find(&b.records[0], "api key").unwrap().value, "gx-api-5521");
        assert!(find(&b.records[0], "api key").unwrap().secret);
        assert_eq!(find(&b.records[0], "region").unwrap().value, "eu-west");
        assert_eq!(b.records[1].template.as_deref(), Some("note"));
        let o = parse(include_str!("../tests/fixtures/1password.csv"), None).unwrap();
        assert_eq!((o.format, o.records.len()), ("1Password (CSV)", 2));
        assert_eq!(find(&o.records[0], "notes").unwrap().value, "Use the \"split\" profile");
        assert!(find(&o.records[0], "totp").unwrap().secret && find(&o.records[1], "totp").is_none());
        let plain = parse(include_str!("../tests/fixtures/plain.csv"), None).unwrap();
        assert_eq!((plain.format, plain.records.len()), ("CSV with a header row", 2));
        assert!(find(&plain.records[0], "Contract PIN").unwrap().secret);
    }
}
