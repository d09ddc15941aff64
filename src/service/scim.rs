//! SCIM 2.0 provisioning (RFC 7643, RFC 7644) of an account's people by an identity provider
//! (Okta, Entra ID, Google, JumpCloud) holding an API token with the `scim` scope.
//!
//! A SCIM `User` is an e-mail the account invites: creating one sends the invitation (role
//! `member`), and the resource says where the person stands — `invited`, `accepted` (awaiting
//! an admin's confirmation with the verification code), `active`, `deprovisioned` — in the
//! extension [`EXT`]. Provisioning never gives a key: confirmation stays a person comparing
//! codes. `active: false` or `DELETE` deprovisions at once ([`accounts::deprovision`]).
//! `Groups` are not offered (roles are granted in the signed team log, by people).

use serde_json::{Map, Value, json};

use crate::auth::new_id;
use crate::error::ApiError;
use crate::service::accounts as account_svc;
use crate::service::auth::normalize_email;
use crate::service::tokens::{Actor, Grant};
use crate::state::AppState;
use crate::store::scim::Filter;
use crate::store::{accounts, scim, users};
use entity::scim_user;
use entity::values::{InvitationStatus, MembershipStatus};

/// The core `User` schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Vouchsafe's extension: where the person stands in the account.
pub const EXT: &str = "urn:ietf:params:scim:schemas:extension:vouchsafe:2.0:User";
/// A list answer.
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A PATCH request.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most resources a list returns.
pub const MAX_RESULTS: u64 = 200;
/// Largest `attributes` JSON kept per user.
const MAX_ATTRIBUTES: usize = 8 * 1024;

/// The optional core attributes kept as sent (lower-case name → the schema's spelling).
const KEPT: &[&str] = &[
    "displayName",
    "name",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "emails",
    "phoneNumbers",
];

fn scim_bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad(code, message)
}

fn not_found() -> ApiError {
    ApiError::not_found("scim.not_found", "no such User in this account")
}

/// The schema's spelling of a writable attribute named `name` in any case, if it is one.
fn attribute(name: &str) -> Option<&'static str> {
    ["userName", "externalId", "active"].into_iter().chain(KEPT.iter().copied()).find(|a| a.eq_ignore_ascii_case(name))
}

/// `true`/`false`, or the strings identity providers send for them (Entra: `"False"`).
fn boolean(v: &Value) -> Result<bool, ApiError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(scim_bad("scim.invalid_value", "active must be true or false")),
    }
}

/// What a request body says about a user, checked.
struct Parsed {
    user_name: String,
    external_id: Option<String>,
    active: bool,
    attributes: Map<String, Value>,
}

/// Reads a User body (POST, PUT, or the result of a PATCH): attributes in any case; read-only
/// and unknown attributes (`id`, `meta`, `groups`, other schemas' extensions) are ignored.
fn parse(body: &Value) -> Result<Parsed, ApiError> {
    let obj = body.as_object().ok_or_else(|| scim_bad("scim.invalid_syntax", "a User is a JSON object"))?;
    let mut user_name = None;
    let mut external_id = None;
    let mut active = true;
    let mut attributes = Map::new();
    for (k, v) in obj {
        match attribute(k) {
            Some("userName") => {
                user_name = Some(v.as_str().ok_or_else(|| scim_bad("scim.invalid_value", "userName is a string"))?)
            }
            Some("externalId") => {
                external_id = match v {
                    Value::Null => None,
                    Value::String(s) if s.len() <= 254 => Some(s.clone()),
                    _ => return Err(scim_bad("scim.invalid_value", "externalId is a string of at most 254 bytes")),
                }
            }
            Some("active") => active = boolean(v)?,
            Some(kept) if !v.is_null() => {
                attributes.insert(kept.to_owned(), v.clone());
            }
            _ => {}
        }
    }
    let primary_email = || {
        attributes.get("emails").and_then(Value::as_array).and_then(|list| {
            list.iter()
                .find(|e| e.get("primary").is_some_and(|p| boolean(p).unwrap_or(false)))
                .or_else(|| list.first())
                .and_then(|e| e.get("value"))
                .and_then(Value::as_str)
        })
    };
    let name = user_name
        .or_else(primary_email)
        .ok_or_else(|| scim_bad("scim.invalid_value", "userName (the person's e-mail) is required"))?;
    let user_name = normalize_email(name)
        .map_err(|_| scim_bad("scim.invalid_value", "userName must be the person's e-mail address"))?;
    if serde_json::to_string(&attributes).map_or(usize::MAX, |s| s.len()) > MAX_ATTRIBUTES {
        return Err(scim_bad("scim.invalid_value", "the User's attributes are larger than 8 KiB"));
    }
    Ok(Parsed { user_name, external_id, active, attributes })
}

/// Where the person stands in the account, and whether they hold the account's key.
async fn standing(state: &AppState, row: &scim_user::Model, now: i64) -> Result<(&'static str, bool), ApiError> {
    if let Some(u) = users::by_email(&state.db, &row.user_name).await?
        && let Some(m) = accounts::membership(&state.db, &row.account_id, &u.id).await?
    {
        return Ok(match m.status {
            MembershipStatus::Active => ("active", true),
            MembershipStatus::Accepted => ("accepted", false),
            MembershipStatus::AwaitingVouch => ("awaiting_vouch", false),
            MembershipStatus::Deprovisioned => ("deprovisioned", false),
        });
    }
    if let Some(id) = &row.invitation_id
        && let Some(i) = accounts::invitation(&state.db, id).await?
        && i.status == InvitationStatus::Pending
    {
        return Ok((if i.expires_at > now { "invited" } else { "invitation_expired" }, false));
    }
    Ok((if row.active { "not_invited" } else { "inactive" }, false))
}

fn note(status: &str) -> &'static str {
    match status {
        "invited" => "invited by e-mail; has no access until they accept and an admin confirms them with a code",
        "accepted" => "accepted the invitation; has no access until an admin confirms them with a verification code",
        "active" => "a confirmed member",
        "awaiting_vouch" => "reset their password; colleagues must vouch for their new key",
        "deprovisioned" => "deprovisioned: reads nothing; an admin's client removes them from the team log",
        "invitation_expired" => "the invitation expired; set active to false and back to true to send a new one",
        _ => "not a member of the account",
    }
}

/// RFC 3339 (UTC) of unix seconds.
pub fn rfc3339(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = crate::state::civil(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// A resource's ETag (`meta.version`).
pub fn etag(row: &scim_user::Model) -> String {
    format!("W/\"{}\"", row.version)
}

/// Where the account's SCIM service is.
pub fn base(state: &AppState, account_id: &str) -> String {
    format!("{}/scim/v2/{account_id}", state.config.public_url.trim_end_matches('/'))
}

/// The resource as SCIM shows it.
async fn resource(state: &AppState, row: &scim_user::Model, now: i64) -> Result<Value, ApiError> {
    let (status, key_access) = standing(state, row, now).await?;
    let mut v = Map::new();
    v.insert("schemas".into(), json!([USER, EXT]));
    v.insert("id".into(), json!(row.id));
    if let Some(e) = &row.external_id {
        v.insert("externalId".into(), json!(e));
    }
    v.insert("userName".into(), json!(row.user_name));
    v.insert("active".into(), json!(row.active));
    if let Ok(Value::Object(attrs)) = serde_json::from_str::<Value>(&row.attributes) {
        v.extend(attrs);
    }
    if !v.contains_key("emails") {
        v.insert("emails".into(), json!([{ "value": row.user_name, "primary": true }]));
    }
    v.insert(EXT.into(), json!({ "status": status, "keyAccess": key_access, "note": note(status) }));
    v.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": rfc3339(row.created_at),
            "lastModified": rfc3339(row.updated_at),
            "location": format!("{}/Users/{}", base(state, &row.account_id), row.id),
            "version": etag(row),
        }),
    );
    Ok(Value::Object(v))
}

/// Brings the account in line with a resource: an active one is invited (unless the person is
/// a member or has a pending invitation already); an inactive one is deprovisioned (or their
/// invitation revoked). Returns the invitation it sent, if any.
async fn reconcile(
    state: &AppState,
    grant: &Grant,
    row: &scim_user::Model,
    now: i64,
) -> Result<Option<String>, ApiError> {
    let actor = Actor::Token(grant);
    let member = match users::by_email(&state.db, &row.user_name).await? {
        Some(u) => accounts::membership(&state.db, &grant.account_id, &u.id).await?.map(|m| (u.id, m.status)),
        None => None,
    };
    if row.active {
        let pending = accounts::invitations(&state.db, &grant.account_id)
            .await?
            .into_iter()
            .any(|i| i.email == row.user_name && i.status == InvitationStatus::Pending && i.expires_at > now);
        if member.is_some() || pending {
            return Ok(None);
        }
        let req = vouchsafe_client::types::InviteRequest { email: row.user_name.clone(), role: "member".into() };
        let inv = account_svc::invite(state, &grant.account_id, actor, req, now).await?;
        return Ok(Some(inv.id));
    }
    match member {
        Some((user_id, status)) if status != MembershipStatus::Deprovisioned => {
            account_svc::deprovision(state, &grant.account_id, actor, &user_id, now).await?;
        }
        _ => {
            accounts::revoke_invitations_to(&state.db, &grant.account_id, &row.user_name).await?;
        }
    }
    Ok(None)
}

/// `POST /Users`: a new resource (409 `uniqueness` if the account has one with that
/// `userName`), and the invitation it causes.
pub async fn create(state: &AppState, grant: &Grant, body: &Value, now: i64) -> Result<(Value, String), ApiError> {
    let p = parse(body)?;
    let mut row = scim_user::Model {
        id: new_id()?,
        account_id: grant.account_id.clone(),
        user_name: p.user_name,
        external_id: p.external_id,
        active: p.active,
        attributes: Value::Object(p.attributes).to_string(),
        invitation_id: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    if !scim::insert(&state.db, row.clone()).await? {
        return Err(ApiError::conflict("scim.uniqueness", "the account already has a User with this userName"));
    }
    if let Some(inv) = reconcile(state, grant, &row, now).await? {
        row.invitation_id = Some(inv);
        scim::update(&state.db, &row, row.version).await?;
        row.version += 1;
    }
    Ok((resource(state, &row, now).await?, etag(&row)))
}

/// `GET /Users/{id}`.
pub async fn get(state: &AppState, grant: &Grant, id: &str, now: i64) -> Result<(Value, String), ApiError> {
    let row = scim::by_id(&state.db, &grant.account_id, id).await?.ok_or_else(not_found)?;
    Ok((resource(state, &row, now).await?, etag(&row)))
}

/// Reads `filter`: `attribute eq "value"` for `id`, `userName` or `externalId` (names and the
/// operator in any case); anything else is a 400 `invalidFilter`.
pub fn parse_filter(filter: &str) -> Result<Filter, ApiError> {
    let invalid = || scim_bad("scim.invalid_filter", "filters supported: id, userName or externalId eq \"value\"");
    let f = filter.trim();
    let (attr, rest) = f.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let (op, value) = rest.trim_start().split_once(char::is_whitespace).ok_or_else(invalid)?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(invalid());
    }
    let value: String = serde_json::from_str(value.trim()).map_err(|_| invalid())?;
    if value.contains('\0') {
        return Err(invalid());
    }
    let attr = attr.strip_prefix(USER).and_then(|a| a.strip_prefix(':')).unwrap_or(attr);
    match attr.to_ascii_lowercase().as_str() {
        "id" => Ok(Filter::Id(value)),
        "username" => Ok(Filter::UserName(normalize_email(&value).unwrap_or(value))),
        "externalid" => Ok(Filter::ExternalId(value)),
        _ => Err(invalid()),
    }
}

/// `GET /Users`: a page (`startIndex` from 1, `count` up to [`MAX_RESULTS`]).
pub async fn list(
    state: &AppState,
    grant: &Grant,
    filter: Option<&str>,
    start_index: Option<i64>,
    count: Option<i64>,
    now: i64,
) -> Result<Value, ApiError> {
    let filter = filter.filter(|f| !f.trim().is_empty()).map(parse_filter).transpose()?;
    let start = start_index.unwrap_or(1).max(1);
    let count = u64::try_from(count.unwrap_or(100).max(0)).unwrap_or(0).min(MAX_RESULTS);
    let offset = u64::try_from(start - 1).unwrap_or(0);
    let (total, rows) = scim::list(&state.db, &grant.account_id, filter.as_ref(), offset, count).await?;
    let mut resources = Vec::with_capacity(rows.len());
    for r in &rows {
        resources.push(resource(state, r, now).await?);
    }
    Ok(json!({
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    }))
}

/// Refuses a write whose `If-Match` names another version than `row`'s (`*` matches any).
fn check_match(row: &scim_user::Model, if_match: Option<&str>) -> Result<(), ApiError> {
    match if_match.map(str::trim) {
        None | Some("*") => Ok(()),
        Some(tags) if tags.split(',').any(|t| t.trim() == etag(row)) => Ok(()),
        Some(_) => Err(ApiError::PreconditionFailed(format!("the User is at version {}; read it again", etag(row)))),
    }
}

/// Stores `p` over `row` (unless the resource moved on meanwhile: 409) and reconciles.
async fn replace_with(
    state: &AppState,
    grant: &Grant,
    row: scim_user::Model,
    p: Parsed,
    now: i64,
) -> Result<(Value, String), ApiError> {
    if p.user_name != row.user_name {
        // A member's e-mail is their sign-in: it changes in Vouchsafe, not by provisioning.
        if let Some(u) = users::by_email(&state.db, &row.user_name).await?
            && accounts::membership(&state.db, &grant.account_id, &u.id).await?.is_some()
        {
            return Err(scim_bad(
                "scim.mutability",
                "userName is a member's sign-in e-mail; it cannot be changed by provisioning",
            ));
        }
        if scim::list(&state.db, &grant.account_id, Some(&Filter::UserName(p.user_name.clone())), 0, 1).await?.0 > 0 {
            return Err(ApiError::conflict("scim.uniqueness", "the account already has a User with this userName"));
        }
        accounts::revoke_invitations_to(&state.db, &grant.account_id, &row.user_name).await?;
    }
    let version = row.version;
    let mut next = scim_user::Model {
        user_name: p.user_name,
        external_id: p.external_id,
        active: p.active,
        attributes: Value::Object(p.attributes).to_string(),
        updated_at: now,
        ..row
    };
    if let Some(inv) = reconcile(state, grant, &next, now).await? {
        next.invitation_id = Some(inv);
    }
    if !scim::update(&state.db, &next, version).await? {
        return Err(ApiError::conflict("scim.conflict", "the User changed meanwhile; read it again"));
    }
    next.version = version + 1;
    Ok((resource(state, &next, now).await?, etag(&next)))
}

/// The writable attributes of a resource, as a PATCH edits them.
fn writable(row: &scim_user::Model) -> Map<String, Value> {
    let mut v = match serde_json::from_str::<Value>(&row.attributes) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    v.insert("userName".into(), json!(row.user_name));
    v.insert("active".into(), json!(row.active));
    if let Some(e) = &row.external_id {
        v.insert("externalId".into(), json!(e));
    }
    v
}

/// Sets `value` at `attr[.sub]` of `target` (a missing parent is made).
fn set_path(target: &mut Map<String, Value>, attr: &'static str, sub: Option<&str>, value: Value) {
    match sub {
        None => {
            target.insert(attr.to_owned(), value);
        }
        Some(s) => {
            let parent = target.entry(attr.to_owned()).or_insert_with(|| json!({}));
            if !parent.is_object() {
                *parent = json!({});
            }
            if let Some(p) = parent.as_object_mut() {
                p.insert(s.to_owned(), value);
            }
        }
    }
}

/// One PATCH operation on the writable attributes (RFC 7644 §3.5.2): `op` in any case; a path
/// of `attr`, `attr.sub`, a URN-prefixed one, or `attr[sub eq "v"].field`; or no path and an
/// object of attributes (Okta).
fn apply(target: &mut Map<String, Value>, op: &Value) -> Result<(), ApiError> {
    let kind = op
        .get("op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| scim_bad("scim.invalid_syntax", "each operation needs an op"))?;
    if !["add", "replace", "remove"].contains(&kind.as_str()) {
        return Err(scim_bad("scim.invalid_syntax", "op must be add, replace or remove"));
    }
    let value = op.get("value").cloned().unwrap_or(Value::Null);
    let Some(path) = op.get("path").and_then(Value::as_str) else {
        if kind == "remove" {
            return Err(scim_bad("scim.no_target", "remove needs a path"));
        }
        let obj =
            value.as_object().ok_or_else(|| scim_bad("scim.invalid_value", "without a path, value is an object"))?;
        for (k, v) in obj {
            let k = k.strip_prefix(USER).and_then(|a| a.strip_prefix(':')).unwrap_or(k);
            let (head, sub) = match k.split_once('.') {
                Some((h, s)) => (h, Some(s)),
                None => (k, None),
            };
            // Other schemas' extensions (the enterprise User) are not kept.
            if let Some(attr) = attribute(head) {
                set_path(target, attr, sub, v.clone());
            }
        }
        return Ok(());
    };
    let invalid_path = || scim_bad("scim.invalid_path", format!("unsupported path {path:?}"));
    if path.starts_with("urn:") && !path.starts_with(USER) {
        return Ok(());
    }
    let path = path.strip_prefix(USER).and_then(|a| a.strip_prefix(':')).unwrap_or(path);
    if let Some((head, rest)) = path.split_once('[') {
        // attr[sub eq "v"].field — e.g. Entra's emails[type eq "work"].value.
        let attr = attribute(head).ok_or_else(invalid_path)?;
        let (cond, field) = rest.split_once(']').ok_or_else(invalid_path)?;
        let field = field.strip_prefix('.');
        let mut words = cond.splitn(3, char::is_whitespace);
        let (Some(sub), Some(eq), Some(lit)) = (words.next(), words.next(), words.next()) else {
            return Err(invalid_path());
        };
        if !eq.eq_ignore_ascii_case("eq") {
            return Err(invalid_path());
        }
        let lit: Value = serde_json::from_str(lit.trim()).map_err(|_| invalid_path())?;
        let list = target.entry(attr.to_owned()).or_insert_with(|| json!([]));
        if !list.is_array() {
            *list = json!([]);
        }
        let Some(items) = list.as_array_mut() else { return Err(invalid_path()) };
        let pos = items.iter().position(|e| e.get(sub) == Some(&lit));
        match (kind.as_str(), pos, field) {
            ("remove", Some(i), None) => {
                items.remove(i);
            }
            ("remove", Some(i), Some(f)) => {
                if let Some(o) = items[i].as_object_mut() {
                    o.remove(f);
                }
            }
            ("remove", None, _) => {}
            (_, Some(i), Some(f)) => {
                if let Some(o) = items[i].as_object_mut() {
                    o.insert(f.to_owned(), value);
                }
            }
            (_, None, Some(f)) => items.push(json!({ sub: lit, f: value })),
            (_, _, None) => return Err(scim_bad("scim.invalid_value", "give the element's attribute in the path")),
        }
        return Ok(());
    }
    let (head, sub) = match path.split_once('.') {
        Some((h, s)) => (h, Some(s)),
        None => (path, None),
    };
    let attr = attribute(head).ok_or_else(invalid_path)?;
    match (kind.as_str(), sub) {
        ("remove", None) => {
            target.remove(attr);
        }
        ("remove", Some(s)) => {
            if let Some(o) = target.get_mut(attr).and_then(Value::as_object_mut) {
                o.remove(s);
            }
        }
        ("add", None) if value.is_array() => {
            let list = target.entry(attr.to_owned()).or_insert_with(|| json!([]));
            match (list.as_array_mut(), value) {
                (Some(l), Value::Array(more)) => l.extend(more),
                (_, v) => *list = v,
            }
        }
        (_, sub) => set_path(target, attr, sub, value),
    }
    Ok(())
}

/// How a write states the User: whole (`PUT`) or as operations on the current one (`PATCH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// `PUT /Users/{id}`: the writable attributes, replaced.
    Replace,
    /// `PATCH /Users/{id}`: a PatchOp's operations, applied.
    Patch,
}

impl Write {
    /// The audit trail's name for it.
    pub fn action(self) -> &'static str {
        match self {
            Write::Replace => "scim.users.replace",
            Write::Patch => "scim.users.patch",
        }
    }
}

/// A PatchOp's operations (at most 100), checked before anything is read.
fn operations(body: &Value) -> Result<&Vec<Value>, ApiError> {
    let obj = body.as_object().ok_or_else(|| scim_bad("scim.invalid_syntax", "a PatchOp is a JSON object"))?;
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| scim_bad("scim.invalid_syntax", "a PatchOp has Operations"))?;
    if ops.len() > 100 {
        return Err(scim_bad("scim.invalid_syntax", "at most 100 operations"));
    }
    Ok(ops)
}

/// `PUT` or `PATCH /Users/{id}`: the new User (a PATCH's operations applied to the current
/// one), stored as [`replace_with`] stores it, if `If-Match` names the current version.
pub async fn write(
    state: &AppState,
    grant: &Grant,
    id: &str,
    kind: Write,
    body: &Value,
    if_match: Option<&str>,
    now: i64,
) -> Result<(Value, String), ApiError> {
    let (whole, ops) = match kind {
        Write::Replace => (Some(parse(body)?), None),
        Write::Patch => (None, Some(operations(body)?)),
    };
    let row = scim::by_id(&state.db, &grant.account_id, id).await?.ok_or_else(not_found)?;
    check_match(&row, if_match)?;
    let p = match (whole, ops) {
        (Some(p), _) => p,
        (None, ops) => {
            let mut target = writable(&row);
            for op in ops.into_iter().flatten() {
                apply(&mut target, op)?;
            }
            parse(&Value::Object(target))?
        }
    };
    replace_with(state, grant, row, p, now).await
}

/// `DELETE /Users/{id}`: deprovisions the person (or revokes their invitation) and forgets the
/// resource.
pub async fn delete(
    state: &AppState,
    grant: &Grant,
    id: &str,
    if_match: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    let row = scim::by_id(&state.db, &grant.account_id, id).await?.ok_or_else(not_found)?;
    check_match(&row, if_match)?;
    let gone = scim_user::Model { active: false, ..row };
    reconcile(state, grant, &gone, now).await?;
    scim::delete(&state.db, &grant.account_id, id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_patches_read_what_identity_providers_send() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(parse_filter("userName eq \"Ann@Example.com\"")?, Filter::UserName("ann@example.com".into()));
        assert_eq!(parse_filter("externalid EQ \"00u1\"")?, Filter::ExternalId("00u1".into()));
        for bad in ["userName co \"a\"", "title eq \"x\"", "userName eq", "userName eq a", ""] {
            assert_eq!(parse_filter(bad).err().map(|e| e.code()), Some("scim.invalid_filter"), "{bad}");
        }
        let mut t = Map::new();
        t.insert("userName".into(), json!("ann@example.com"));
        t.insert("active".into(), json!(true));
        // Entra: capitalised op, string boolean; a filtered e-mail path.
        apply(&mut t, &json!({"op": "Replace", "path": "active", "value": "False"}))?;
        apply(&mut t, &json!({"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ann@example.com"}))?;
        apply(&mut t, &json!({"op": "replace", "path": "name.givenName", "value": "Ann"}))?;
        // Okta: no path, an object.
        apply(&mut t, &json!({"op": "replace", "value": {"displayName": "Ann A.", "name.familyName": "A."}}))?;
        let p = parse(&Value::Object(t.clone()))?;
        assert!(!p.active);
        assert_eq!(p.attributes["emails"], json!([{"type": "work", "value": "ann@example.com"}]));
        assert_eq!(p.attributes["name"], json!({"givenName": "Ann", "familyName": "A."}));
        assert_eq!(p.attributes["displayName"], json!("Ann A."));
        let e = apply(&mut t, &json!({"op": "replace", "path": "password", "value": "x"})).err();
        assert_eq!(e.map(|e| e.code()), Some("scim.invalid_path"));
        let e = apply(&mut t, &json!({"op": "move", "path": "active", "value": true})).err();
        assert_eq!(e.map(|e| e.code()), Some("scim.invalid_syntax"));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_633_600), "2025-12-02T00:00:00Z");
        Ok(())
    }
}
