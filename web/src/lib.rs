//! The dashboard's engine. The page (`assets/app.js`) never touches a key: it posts requests to
//! a dedicated Web Worker (`assets/worker.js`), which calls [`call`] here. This crate runs the
//! same `vouchsafe-client` flows the CLI runs — Argon2, HPKE, the verified team log, field
//! encryption — with HTTP done by synchronous `XMLHttpRequest` inside the worker, so the page
//! never freezes. Keys live only in this worker's memory; signing out terminates the worker.
//!
//! Requests and answers are JSON: `{"op": "...", ...}` in, a JSON value out, or an error
//! `{"code", "message", "status"}` (thrown as a string).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use vouchsafe_client::recovery::Recovery;
use vouchsafe_client::types::{FactorAtRecovery, SecondFactorProof};
use vouchsafe_client::vault::{LogView, Vault};
use vouchsafe_client::{Client, ClientError, flows, recovery};
use vouchsafe_crypto::kdf::KdfParams;
use vouchsafe_crypto::log::{MemberStatus, Policy, Role, VoucherRule};
use wasm_bindgen::prelude::*;

pub mod items;
pub mod transfer;
use zeroize::Zeroizing;

/// Shortest password the dashboard accepts (the server never sees it, so only the client can ask).
pub const MIN_PASSWORD: usize = vouchsafe_client::flows::MIN_PASSWORD;

/// A secret string from the page: zeroized on drop, redacted in `Debug`.
pub struct Secret(Zeroizing<String>);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self(Zeroizing::new(s)))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    fn as_str(&self) -> &str {
        &self.0
    }
}

/// A second factor the page collected at a reset or a kit recovery: a code, or "lost".
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FactorAnswer {
    #[serde(default)]
    totp: Option<Secret>,
    #[serde(default)]
    recovery_code: Option<Secret>,
    #[serde(default)]
    lost: bool,
}

impl FactorAnswer {
    fn at_recovery(&self) -> FactorAtRecovery {
        if self.lost {
            FactorAtRecovery::Lost
        } else if self.totp.is_some() || self.recovery_code.is_some() {
            FactorAtRecovery::Proof(proof(&self.totp, &self.recovery_code))
        } else {
            FactorAtRecovery::NotEnrolled
        }
    }
}

/// The wire form of a second factor the page collected.
fn proof(totp: &Option<Secret>, recovery_code: &Option<Secret>) -> SecondFactorProof {
    let wire = |s: &Option<Secret>| s.as_ref().map(|s| vouchsafe_client::types::Secret::from(s.as_str()));
    SecondFactorProof { totp: wire(totp), recovery_code: wire(recovery_code), webauthn: None }
}

/// A proof from a code the page collected, or from a passkey's answer to the ceremony this
/// worker started (its token stays here; the page only sees the options).
fn proof_with(
    st: &mut State,
    totp: &Option<Secret>,
    recovery_code: &Option<Secret>,
    passkey: &Option<serde_json::Value>,
) -> Result<SecondFactorProof, Failure> {
    match passkey {
        None => Ok(proof(totp, recovery_code)),
        Some(answer) => {
            let c = st.ceremony.take().ok_or_else(no_ceremony)?;
            Ok(flows::passkey_proof(&c, answer))
        }
    }
}

fn no_ceremony() -> Failure {
    Failure::new("client.passkey_expired", "The passkey request is over; try again.")
}

/// The PRF output the page read from its passkey (base64url, 32 bytes).
fn prf_of(prf: &Secret) -> Result<flows::PrfOutput, Failure> {
    let bytes = Zeroizing::new(
        vouchsafe_crypto::b64::decode(prf.as_str(), 64)
            .map_err(|_| Failure::new("client.bad_request", "bad PRF output"))?,
    );
    flows::PrfOutput::from_slice(&bytes)
        .map_err(|_| Failure::new("client.bad_request", "the PRF output is not 32 bytes"))
}

/// Options for `navigator.credentials`, with the PRF input every Vouchsafe client asks for.
fn passkey_request(options: &serde_json::Value) -> serde_json::Value {
    json!({"options": options, "prf_input": vouchsafe_crypto::b64::encode(&flows::prf_input())})
}

/// The QR code of `text` as one SVG path (`d`) of unit squares, and its side with a 4-module
/// quiet zone; the page draws it (no image, no inline script: the CSP stays strict).
fn qr_path(text: &str) -> Result<(i32, String), Failure> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium)
        .map_err(|_| Failure::new("client.qr", "too long for a QR code"))?;
    let n = qr.size();
    let mut d = String::with_capacity(usize::try_from(n * n * 4).unwrap_or(0));
    for y in 0..n {
        for x in 0..n {
            if qr.get_module(x, y) {
                d.push_str(&format!("M{} {}h1v1h-1z", x + 4, y + 4));
            }
        }
    }
    Ok((n + 8, d))
}

/// A colleague chosen as a recovery-kit guardian (their keys come from that account's verified log).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardianChoice {
    account_id: String,
    user_id: String,
}

/// What this browser learned about a user's teams beyond log heads (not secret).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TeamMarks {
    verified: Vec<String>,
    rejected: Vec<String>,
    forks: BTreeMap<String, vouchsafe_client::vault::ForkRecord>,
}

/// What a passkey ceremony is for.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum PasskeyPurpose {
    Login,
    Check,
    Unlock,
}

/// One request from the page.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Sets the server's origin.
    Init { base: String },
    /// Creates a login (keys made here), then signs in.
    Register { email: String, password: Secret },
    /// Signs in and unlocks the keyring. `trust` is what the page kept in browser storage:
    /// per user id, the last verified log head per account (not secret), so a server cannot
    /// roll a team's history back across reloads and sign-ins.
    Login {
        email: String,
        password: Secret,
        #[serde(default)]
        trust: BTreeMap<String, BTreeMap<String, (u64, String)>>,
        /// Per user id: teams verified with the admin who added them, teams whose codes did not
        /// match, and forks seen (also kept by the page, so they survive reloads).
        #[serde(default)]
        teams: BTreeMap<String, TeamMarks>,
        /// The session this tab held before a reload (its id, kept in the tab's session
        /// storage; not a credential): ended once the new one is open, so reloads do not pile
        /// up sessions.
        #[serde(default)]
        replaces: Option<String>,
    },
    /// Answers the second-factor challenge of the pending sign-in (the app's code or a recovery code).
    LoginSecondFactor {
        #[serde(default)]
        totp: Option<Secret>,
        #[serde(default)]
        recovery_code: Option<Secret>,
        /// A passkey's answer (its JSON form) to the ceremony of [`Op::PasskeyOptions`].
        #[serde(default)]
        passkey: Option<serde_json::Value>,
    },
    /// Starts a passkey ceremony: for the pending sign-in's second step (`login`), a fresh
    /// check while signed in (`check`), or a sign-in with the passkey alone (`unlock`).
    PasskeyOptions { purpose: PasskeyPurpose },
    /// Signs in with a passkey alone: its answer to the `unlock` ceremony and the PRF output
    /// it gave this page, which opens the passkey's copy of the keys here.
    PasskeyLogin {
        credential: serde_json::Value,
        #[serde(default)]
        prf: Option<Secret>,
        #[serde(default)]
        trust: BTreeMap<String, BTreeMap<String, (u64, String)>>,
        #[serde(default)]
        teams: BTreeMap<String, TeamMarks>,
        #[serde(default)]
        replaces: Option<String>,
    },
    /// Starts a passkey enrolment (the password again): the options for `navigator.credentials.create`.
    EnrolPasskey {
        password: Secret,
        #[serde(default)]
        name: Option<String>,
    },
    /// Confirms a passkey enrolment with the new credential; with its PRF output, the keys are
    /// wrapped for it here (purpose 3) so it can unlock them alone.
    ConfirmPasskey {
        id: String,
        credential: serde_json::Value,
        #[serde(default)]
        prf: Option<Secret>,
    },
    /// Ends the session.
    Logout,
    /// The signed-in person's second factors and recovery codes left.
    SecondFactors,
    /// Starts an authenticator-app enrolment (the password again): the secret, its URI and QR code.
    EnrolTotp {
        password: Secret,
        #[serde(default)]
        name: Option<String>,
    },
    /// Confirms an enrolment with the app's code; the first factor answers recovery codes once.
    ConfirmTotp { id: String, code: Secret },
    /// Renames a factor.
    RenameFactor { id: String, name: String },
    /// Removes a factor after a fresh check.
    RemoveFactor {
        id: String,
        #[serde(default)]
        totp: Option<Secret>,
        #[serde(default)]
        recovery_code: Option<Secret>,
        #[serde(default)]
        passkey: Option<serde_json::Value>,
    },
    /// A new set of recovery codes after a fresh check.
    NewRecoveryCodes {
        #[serde(default)]
        totp: Option<Secret>,
        #[serde(default)]
        recovery_code: Option<Secret>,
        #[serde(default)]
        passkey: Option<serde_json::Value>,
    },
    /// Who is signed in, with their verification code and kit status.
    Me,
    /// Sessions of this login.
    Sessions,
    /// Ends one session.
    RevokeSession { id: String },
    /// Re-wraps the keyring under a new password.
    ChangePassword { current: Secret, new: Secret, end_other_sessions: bool },
    /// Accounts of the member.
    Accounts,
    /// Creates an account.
    CreateAccount { name: String },
    /// One account: info, members with codes, invitations, pending resets and policy (verified log).
    Account { account_id: String },
    /// Invites an email.
    Invite { account_id: String, email: String, role: String },
    /// Revokes an open invitation.
    RevokeInvitation { account_id: String, invitation_id: String },
    /// Accepts an invitation with the emailed token.
    AcceptInvite { token: Secret },
    /// Confirms an invitee as `role` (the admin's choice) after comparing codes.
    Confirm { account_id: String, user_id: String, role: String, code: String },
    /// The joiner's half of the ceremony: the codes the admin who added us read out.
    VerifyTeam { account_id: String, admin_code: String, history_code: String },
    /// Removes a member, then rotates the key (with progress).
    Remove { account_id: String, user_id: String },
    /// Finishes or forces a rotation (with progress).
    Rotate { account_id: String, force: bool },
    /// Reads and decrypts every item of the team into this worker's memory (with progress).
    LoadItems { account_id: String },
    /// One window of the loaded items matching `query`, sorted.
    FindItems {
        account_id: String,
        #[serde(default)]
        query: String,
        #[serde(default)]
        sort: items::Sort,
        #[serde(default)]
        offset: usize,
        limit: usize,
    },
    /// One loaded item, every field.
    GetItem { account_id: String, item_id: String },
    /// Creates (no id) or updates an item; fields in the order entered.
    SaveItem {
        account_id: String,
        item_id: Option<String>,
        revision: Option<u64>,
        fields: Vec<items::FieldIn>,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        template: Option<String>,
    },
    /// Reads an import file (its text); keeps the records in this worker and answers a preview.
    ImportParse {
        text: Secret,
        #[serde(default)]
        password: Option<Secret>,
    },
    /// Creates the records of the last parsed file as items of the team (with progress).
    ImportCommit { account_id: String },
    /// Forgets the last parsed file.
    ImportCancel,
    /// The team's loaded items as a file: `encrypted` (needs `password`) or plain `csv`.
    ExportItems {
        account_id: String,
        team: String,
        format: String,
        #[serde(default)]
        password: Option<Secret>,
    },
    /// A random password.
    Generate { length: usize, digits: bool, symbols: bool },
    /// Deletes an item.
    DeleteItem { account_id: String, item_id: String },
    /// The team's inbox: the inbox key the verified log endorses (its code, for providers), and
    /// the first deposits waiting.
    Inbox { account_id: String },
    /// Makes the team's next inbox key (admins).
    CreateInbox { account_id: String },
    /// Opens a deposited record (fields as text).
    OpenDeposit { account_id: String, provider_id: String, deposit_id: String },
    /// Files a deposited record as an item, and takes it out of the inbox.
    FileDeposit { account_id: String, provider_id: String, deposit_id: String },
    /// Takes a deposit out of the inbox unfiled.
    DiscardDeposit { account_id: String, provider_id: String, deposit_id: String },
    /// Vouches for a member's new key after comparing codes (reseals when the policy allows):
    /// `code` and `history_code` are what the member read out from their screen.
    Vouch {
        account_id: String,
        user_id: String,
        code: String,
        #[serde(default)]
        history_code: Option<String>,
    },
    /// Vetoes a pending reset.
    Veto { account_id: String, user_id: String },
    /// Reseals once the quorum and waiting period allow.
    Reseal { account_id: String, user_id: String },
    /// Changes the recovery policy, or proposes the change when the policy needs several
    /// admins' signatures.
    SetPolicy {
        account_id: String,
        vouch_quorum: u8,
        waiting_period_secs: u64,
        admins_only: bool,
        #[serde(default)]
        admin_approvals: Option<u8>,
    },
    /// Requires (or stops requiring) a second factor of every member: a signed entry, or a
    /// proposal when the policy asks for several admins.
    SetSecondFactorPolicy { account_id: String, required: bool },
    /// Co-signs a proposal (after the page showed what it does).
    Cosign { account_id: String, proposal_id: String },
    /// Withdraws a proposal.
    WithdrawProposal { account_id: String, proposal_id: String },
    /// Makes a new recovery kit; answers the code once.
    CreateKit { guardians: Vec<GuardianChoice>, code_only: bool },
    /// Asks for a password-reset email.
    ResetRequest { email: String },
    /// Completes a reset with the emailed token: new password, new keys.
    ResetComplete {
        token: Secret,
        password: Secret,
        #[serde(default)]
        factor: FactorAnswer,
    },
    /// "This was not me": cancels a reset.
    ResetCancel { token: Secret },
    /// Asks for a kit-recovery email.
    RecoveryRequest { email: String },
    /// Redeems the recovery link on this device.
    RecoveryStart { token: Secret },
    /// Shares released to this device so far.
    RecoveryStatus,
    /// Combines the code and released shares, sets a new password. Without the code,
    /// `expected_code` is the member's verification code as a guardian read it from their log.
    RecoveryFinish {
        code: Option<Secret>,
        #[serde(default)]
        expected_code: Option<String>,
        password: Secret,
        #[serde(default)]
        factor: FactorAnswer,
    },
    /// Recoveries where this member is a guardian.
    GuardianRequests,
    /// Releases a guardian share after comparing the device code.
    GuardianRelease { session_id: String, code: String },
}

struct SignedIn {
    vault: Vault,
    /// Per account, its items decrypted (memory only; gone with the worker).
    items: BTreeMap<String, items::Index>,
    /// The last import file read, until it is imported or cancelled.
    import: Option<transfer::Parsed>,
    email: String,
    /// This tab's server session (not a credential: the page keeps it to replace on reload).
    session_id: String,
    refresh: vouchsafe_client::types::Secret,
    /// When to rotate the access token before it expires (Unix seconds).
    refresh_at: u64,
}

/// Refresh this long before the access token expires, so a multi-request operation never
/// straddles the expiry.
const REFRESH_MARGIN: u64 = 30;

/// Records an import writes between checks of the access token's age.
const IMPORT_CHUNK: usize = 500;

fn refresh_at(expires_in: i64) -> u64 {
    vouchsafe_client::unix_now() + u64::try_from(expires_in).unwrap_or(0).saturating_sub(REFRESH_MARGIN)
}

#[derive(Default)]
struct State {
    base: String,
    signed: Option<SignedIn>,
    recovery: Option<Recovery>,
    /// A sign-in whose password was right, waiting for its second factor.
    pending: Option<PendingSignIn>,
    /// The passkey ceremony the page is answering (single use).
    ceremony: Option<vouchsafe_client::types::WebauthnCeremony>,
}

/// What a sign-in keeps while the page asks for the second factor.
struct PendingSignIn {
    client: Client,
    login: flows::PendingLogin,
    email: String,
    trust: BTreeMap<String, BTreeMap<String, (u64, String)>>,
    teams: BTreeMap<String, TeamMarks>,
    replaces: Option<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// An error for the page.
#[derive(Debug)]
pub struct Failure {
    /// Stable code (the API's, or a client-side one).
    pub code: String,
    /// For people.
    pub message: String,
    /// HTTP status when the server answered.
    pub status: u16,
}

impl Failure {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), status: 0 }
    }
    /// As JSON.
    pub fn to_json(&self) -> String {
        json!({"code": self.code, "message": self.message, "status": self.status}).to_string()
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Api { status, code, message, .. } => Self { code, message, status },
            ClientError::Transport(m) => Self::new("client.network", format!("cannot reach the server: {m}")),
            ClientError::Protocol(m) if m.starts_with("refused") => Self::new("client.refused", m),
            ClientError::Protocol(m) => Self::new("client.protocol", m),
            ClientError::Crypto(c) => Self::new("client.crypto", c.to_string()),
            ClientError::NotSignedIn => Self::new("client.signed_out", "please sign in"),
            e @ ClientError::SecondFactorRequired { .. } => Self::new("client.second_factor_required", e.to_string()),
        }
    }
}

impl From<vouchsafe_crypto::Error> for Failure {
    fn from(e: vouchsafe_crypto::Error) -> Self {
        ClientError::from(e).into()
    }
}

type Res = Result<Value, Failure>;

fn check_password(p: &Secret) -> Result<(), Failure> {
    if p.as_str().chars().count() < MIN_PASSWORD {
        return Err(Failure::new("password.too_short", format!("use at least {MIN_PASSWORD} characters")));
    }
    Ok(())
}

fn role(s: &str) -> Result<Role, Failure> {
    Role::parse(s).ok_or_else(|| Failure::new("request.invalid_role", "role: owner, admin or member"))
}

fn not_loaded() -> Failure {
    Failure::new("client.items_not_loaded", "Open the team again to load its items.")
}

/// The item as just written (its plaintext is what the page sent).
fn written_item(w: &vouchsafe_client::types::ItemWire) -> vouchsafe_client::vault::Item {
    vouchsafe_client::vault::Item {
        id: w.id.clone(),
        revision: w.revision,
        key_version: w.key_version,
        fields: BTreeMap::new(),
        legacy: false,
        created_at: w.created_at,
        updated_at: w.updated_at,
    }
}

/// Handles one request; `progress(done, total)` reports long operations (rotation).
pub fn dispatch(request: &str, progress: &mut dyn FnMut(u64, u64)) -> Result<String, Failure> {
    let op: Op = serde_json::from_str(request).map_err(|e| Failure::new("client.bad_request", e.to_string()))?;
    STATE.with(|s| {
        let mut st = s.borrow_mut();
        let signing_in =
            matches!(op, Op::Login { .. } | Op::LoginSecondFactor { .. } | Op::Register { .. } | Op::Logout)
                || matches!(
                    op,
                    Op::PasskeyLogin { .. }
                        | Op::PasskeyOptions { purpose: PasskeyPurpose::Unlock | PasskeyPurpose::Login }
                );
        let outcome = (|| {
            if st.signed.as_ref().is_some_and(|x| vouchsafe_client::unix_now() >= x.refresh_at) && !signing_in {
                refresh(&mut st)?;
            }
            match run(&mut st, &op, progress) {
                Err(f) if f.code == "auth.invalid_token" && st.signed.is_some() && !signing_in => {
                    // The access token expired: rotate the refresh token once and retry.
                    refresh(&mut st)?;
                    run(&mut st, &op, progress)
                }
                other => other,
            }
        })();
        match outcome {
            // The session ended elsewhere (signed out from another tab or device, a password
            // reset, an expiry): the keys go now, and the page asks for the password again.
            Err(f) if !signing_in && SESSION_OVER.contains(&f.code.as_str()) => {
                st.signed = None;
                Err(Failure::new(
                    "client.signed_out",
                    "This session has ended (signed out from another tab or device, or expired). Sign in again.",
                ))
            }
            other => other.map(|v| v.to_string()),
        }
    })
}

/// The server's codes for a session that is over.
const SESSION_OVER: [&str; 3] = ["auth.session_ended", "auth.invalid_refresh_token", "auth.refresh_token_reused"];

fn refresh(st: &mut State) -> Result<(), Failure> {
    let signed = st.signed.as_mut().ok_or_else(|| Failure::new("client.signed_out", "please sign in"))?;
    match signed.vault.client.refresh(signed.refresh.expose()) {
        Ok(t) => {
            signed.vault.client.set_access_token(Some(t.access_token.expose().to_owned()));
            signed.refresh = t.refresh_token;
            signed.refresh_at = refresh_at(t.expires_in);
            Ok(())
        }
        Err(e) => {
            st.signed = None;
            Err(Failure::from(e))
        }
    }
}

fn signed(st: &mut State) -> Result<&mut SignedIn, Failure> {
    st.signed.as_mut().ok_or_else(|| Failure::new("client.signed_out", "please sign in"))
}

fn login(
    st: &mut State,
    email: &str,
    password: &Secret,
    trust: &BTreeMap<String, BTreeMap<String, (u64, String)>>,
    teams: &BTreeMap<String, TeamMarks>,
    replaces: Option<&String>,
) -> Res {
    st.pending = None;
    let mut client = Client::new(&st.base);
    match flows::begin_login(&mut client, email, password.as_str())? {
        flows::LoginStep::Done(session) => open(st, client, *session, email, trust, teams, replaces),
        flows::LoginStep::SecondFactor(login) => {
            let methods = login.methods().to_vec();
            st.pending = Some(PendingSignIn {
                client,
                login,
                email: email.to_owned(),
                trust: trust.clone(),
                teams: teams.clone(),
                replaces: replaces.cloned(),
            });
            Ok(json!({"second_factor": {"methods": methods}}))
        }
    }
}

/// The second step of a sign-in: a wrong code leaves it pending (the server allows a few tries).
fn login_second_factor(
    st: &mut State,
    totp: &Option<Secret>,
    recovery_code: &Option<Secret>,
    passkey: &Option<serde_json::Value>,
) -> Res {
    let proof = proof_with(st, totp, recovery_code, passkey)?;
    let mut p = st.pending.take().ok_or_else(|| Failure::new("client.signed_out", "enter your password again"))?;
    match p.login.finish(&mut p.client, &proof) {
        Ok(session) => {
            let PendingSignIn { client, email, trust, teams, replaces, .. } = p;
            open(st, client, session, &email, &trust, &teams, replaces.as_ref())
        }
        Err(e) => {
            if e.code() == Some("auth.second_factor_wrong") {
                st.pending = Some(p);
            }
            Err(e.into())
        }
    }
}

/// Opens the vault of a new session (the tab's previous session ended).
fn open(
    st: &mut State,
    client: Client,
    session: flows::Session,
    email: &str,
    trust: &BTreeMap<String, BTreeMap<String, (u64, String)>>,
    teams: &BTreeMap<String, TeamMarks>,
    replaces: Option<&String>,
) -> Res {
    let session_id = session.tokens.session_id.clone();
    if let Some(old) = replaces.filter(|old| **old != session_id) {
        // Best effort: it may have ended already (expired, revoked elsewhere, another user's).
        let _ = client.revoke_session(old);
    }
    let refresh = session.tokens.refresh_token.clone();
    let at = refresh_at(session.tokens.expires_in);
    let mut vault = Vault::new(client, session);
    for (account, (seq, hash)) in trust.get(vault.user_id()).into_iter().flatten() {
        if let Ok(hash) = vouchsafe_crypto::b64::decode_array::<32>(hash) {
            vault.set_checkpoint(account, vouchsafe_crypto::log::LogHead { seq: *seq, hash });
        }
    }
    if let Some(marks) = teams.get(vault.user_id()) {
        marks.verified.iter().for_each(|a| vault.set_verified_team(a));
        marks.rejected.iter().for_each(|a| vault.set_rejected_team(a));
        for (a, f) in &marks.forks {
            vault.set_fork(vouchsafe_client::vault::Fork::from_record(a, f));
        }
    }
    st.signed = Some(SignedIn {
        vault,
        items: BTreeMap::new(),
        import: None,
        email: email.to_owned(),
        session_id,
        refresh,
        refresh_at: at,
    });
    me(st)
}

fn me(st: &mut State) -> Res {
    let s = signed(st)?;
    let me = s.vault.client.me()?;
    let kit = s.vault.client.kit()?;
    Ok(json!({
        "user_id": me.user_id, "email": me.email, "generation": me.generation,
        "code": s.vault.keyring.public().verification_code().to_string(), "kit": kit,
        "session_id": s.session_id,
    }))
}

fn account(st: &mut State, account_id: &str) -> Res {
    let s = signed(st)?;
    let info = s.vault.client.account(account_id)?;
    if info.status != "active" {
        // Awaiting confirmation or vouches: nothing else of the account is readable yet — but the
        // log is, and it may show a reset for this member that this browser did not make (the
        // server can announce one in their name): then the page offers the veto.
        let reset_not_mine = s
            .vault
            .verified_log(account_id)
            .ok()
            .is_some_and(|(_, state)| s.vault.resets_not_made_here(&state).is_some());
        return Ok(json!({"account": info, "members": [], "invitations": [], "pending": [], "policy": null,
                         "proposals": [], "log_len": 0, "reset_not_mine": reset_not_mine}));
    }
    let listed = s.vault.client.members(account_id)?;
    let (entries, state) = s.vault.verified_log(account_id)?;
    let me_id = s.vault.user_id().to_owned();
    let unverified = s.vault.unverified_teams().contains(account_id);
    let added_by = vouchsafe_client::vault::introduction_in(account_id, &me_id, &entries, &state)
        .ok()
        .filter(|_| unverified)
        .map(|i| i.admin_id);
    let stale: Vec<Value> = s
        .vault
        .witness_report(account_id)
        .map(|r| r.stale.iter().map(|w| json!({"user_id": w.user_id, "days": w.days})).collect())
        .unwrap_or_default();
    let pending = Vault::pending_resets_in(&state);
    let invitations =
        if matches!(info.role.as_str(), "owner" | "admin") { s.vault.client.invitations(account_id)? } else { vec![] };
    // Role, status and code come from the verified log; an invitee awaiting confirmation shows
    // the code of the keys the server reports (to compare with the person); a row the log does
    // not endorse is marked, and gets no action.
    let members: Vec<Value> = vouchsafe_client::vault::judge_members(&state, &listed)
        .into_iter()
        .zip(&listed)
        .map(|(j, m)| {
            let me = m.user_id == s.vault.user_id();
            match j.view {
                LogView::InLog { role, status, code } => json!({"user_id": m.user_id, "email": m.email, "role": role,
                    "status": status, "code": code, "in_log": true, "me": me, "invited_as": null,
                    "second_factor": m.second_factor}),
                LogView::AwaitingConfirmation { code } => json!({"user_id": m.user_id, "email": m.email,
                    "role": null, "invited_as": m.role, "status": "accepted", "code": code, "in_log": false, "me": me}),
                LogView::NotInLog => json!({"user_id": m.user_id, "email": m.email, "role": null, "invited_as": null,
                    "status": "not_in_log", "code": null, "in_log": false, "me": me}),
            }
        })
        .collect();
    let pending: Vec<Value> = pending
        .iter()
        .map(|p| {
            // The codes to compare stay here: the voucher types what the member reads out, and
            // this engine compares (a page that showed them would invite copying instead).
            json!({"user_id": p.user_id, "vouchers": p.vouchers, "needed": p.needed,
                   "announced_at": p.announced_at, "resealable_at": p.resealable_at, "vetoed": p.vetoed,
                   "unconfirmed": p.unconfirmed, "generation": p.new_identity.generation,
                   "has_history_code": p.history_code.is_some(),
                   "replaces_generation": p.replaces_generation})
        })
        .collect();
    // Proposals are decoded and judged against this browser's verified log, never shown raw.
    let proposals: Vec<Value> = s
        .vault
        .client
        .proposals(account_id)?
        .into_iter()
        .map(|p| {
            let v = vouchsafe_client::vault::judge_proposal(account_id, &state, p);
            json!({"id": v.id, "author": v.author, "summary": v.summary, "signers": v.signers, "needed": v.needed,
                   "status": v.status, "expires_at": v.expires_at, "refused": v.refused})
        })
        .collect();
    let reset_not_mine = s.vault.resets_not_made_here(&state).is_some();
    let first_view = s.vault.first_views().contains(account_id);
    let p = state.policy();
    Ok(json!({
        "account": info, "members": members, "invitations": invitations, "pending": pending,
        "policy": {"vouch_quorum": p.vouch_quorum, "waiting_period_secs": p.waiting_period_secs,
                   "admins_only": p.vouchers == VoucherRule::AdminsOnly, "admin_approvals": p.admin_approvals,
                   "second_factor_required": state.second_factor_required()},
        "log_len": state.head().seq + 1,
        "reset_not_mine": reset_not_mine, "first_view": first_view,
        "unverified": unverified, "added_by": added_by, "stale": stale, "proposals": proposals,
        "history_code": s.vault.history_code(account_id).map(|c| c.to_string()),
        "log": {"key_version": state.key_version(),
                "role": state.member(s.vault.user_id()).map(|m| m.role.as_str())},
    }))
}

/// What the page keeps in browser storage for the signed-in user: verified heads (not secret).
fn trust(st: &State) -> Option<Value> {
    let s = st.signed.as_ref()?;
    let heads: BTreeMap<&str, (u64, String)> = s
        .vault
        .checkpoints()
        .iter()
        .map(|(a, h)| (a.as_str(), (h.seq, vouchsafe_crypto::b64::encode(&h.hash))))
        .collect();
    let teams = TeamMarks {
        verified: s.vault.verified_teams().iter().cloned().collect(),
        rejected: s.vault.rejected_teams().iter().cloned().collect(),
        forks: s.vault.forks().iter().map(|(a, f)| (a.clone(), f.record())).collect(),
    };
    Some(json!({"user_id": s.vault.user_id(), "checkpoints": heads, "teams": teams}))
}

fn run(st: &mut State, op: &Op, progress: &mut dyn FnMut(u64, u64)) -> Res {
    let params = KdfParams::default();
    match op {
        Op::Init { base } => {
            st.base = base.trim_end_matches('/').to_owned();
            Ok(json!({"ok": true}))
        }
        Op::Register { email, password } => {
            check_password(password)?;
            flows::register(&Client::new(&st.base), email, password.as_str(), params)?;
            login(st, email, password, &BTreeMap::new(), &BTreeMap::new(), None)
        }
        Op::Login { email, password, trust, teams, replaces } => {
            login(st, email, password, trust, teams, replaces.as_ref())
        }
        Op::LoginSecondFactor { totp, recovery_code, passkey } => login_second_factor(st, totp, recovery_code, passkey),
        Op::PasskeyOptions { purpose } => {
            let c = match purpose {
                PasskeyPurpose::Login => {
                    let p = st
                        .pending
                        .as_ref()
                        .ok_or_else(|| Failure::new("client.signed_out", "enter your password again"))?;
                    p.login.passkey_options(&p.client)?
                }
                PasskeyPurpose::Check => signed(st)?.vault.client.webauthn_check()?,
                PasskeyPurpose::Unlock => Client::new(&st.base).passkey_options()?,
            };
            let out = passkey_request(&c.options);
            st.ceremony = Some(c);
            Ok(out)
        }
        Op::PasskeyLogin { credential, prf, trust, teams, replaces } => {
            let c = st.ceremony.take().ok_or_else(no_ceremony)?;
            let prf = prf.as_ref().ok_or_else(|| {
                Failure::new(
                    "client.passkey_no_prf",
                    "This browser or passkey did not give the key that unlocks your vault (the PRF extension). Sign in with your password.",
                )
            })?;
            st.pending = None;
            let mut client = Client::new(&st.base);
            let session = flows::passkey_login(&mut client, &c, credential, &prf_of(prf)?)?;
            let email = client.me()?.email;
            open(st, client, session, &email, trust, teams, replaces.as_ref())
        }
        Op::EnrolPasskey { password, name } => {
            let s = signed(st)?;
            let e = flows::enrol_webauthn(&s.vault.client, &s.email, password.as_str(), name.as_deref())?;
            let mut out = passkey_request(&e.options);
            out["id"] = json!(e.id);
            Ok(out)
        }
        Op::ConfirmPasskey { id, credential, prf } => {
            let s = signed(st)?;
            let wrap = match prf {
                Some(prf) => {
                    let cred_id = flows::credential_id_of(credential)?;
                    Some(flows::passkey_wrap(&s.vault.keyring, &prf_of(prf)?, &cred_id)?)
                }
                None => None,
            };
            let c = s.vault.client.confirm_webauthn(id, credential, wrap.as_deref())?;
            let codes: Vec<&str> = c.recovery_codes.iter().map(|c| c.expose()).collect();
            Ok(json!({"factor": c.factor, "recovery_codes": codes}))
        }
        Op::SecondFactors => Ok(json!(signed(st)?.vault.client.second_factors()?)),
        Op::EnrolTotp { password, name } => {
            let s = signed(st)?;
            let e = flows::enrol_totp(&s.vault.client, &s.email, password.as_str(), name.as_deref())?;
            let (size, d) = qr_path(e.otpauth_uri.expose())?;
            Ok(
                json!({"id": e.id, "secret": e.secret.expose(), "uri": e.otpauth_uri.expose(), "qr": {"size": size, "d": d}}),
            )
        }
        Op::ConfirmTotp { id, code } => {
            let c = signed(st)?.vault.client.confirm_factor(id, code.as_str())?;
            let codes: Vec<&str> = c.recovery_codes.iter().map(|c| c.expose()).collect();
            Ok(json!({"factor": c.factor, "recovery_codes": codes}))
        }
        Op::RenameFactor { id, name } => {
            signed(st)?.vault.client.rename_factor(id, name)?;
            Ok(json!({"ok": true}))
        }
        Op::RemoveFactor { id, totp, recovery_code, passkey } => {
            let proof = proof_with(st, totp, recovery_code, passkey)?;
            signed(st)?.vault.client.remove_factor(id, &proof)?;
            Ok(json!({"ok": true}))
        }
        Op::NewRecoveryCodes { totp, recovery_code, passkey } => {
            let proof = proof_with(st, totp, recovery_code, passkey)?;
            let r = signed(st)?.vault.client.new_recovery_codes(&proof)?;
            let codes: Vec<&str> = r.recovery_codes.iter().map(|c| c.expose()).collect();
            Ok(json!({"recovery_codes": codes}))
        }
        Op::Logout => {
            st.pending = None;
            if let Some(s) = st.signed.take() {
                // Best effort: the session ends server-side; the keys die with this worker anyway.
                let _ = s.vault.client.logout();
            }
            st.recovery = None;
            Ok(json!({"ok": true}))
        }
        Op::Me => me(st),
        Op::Sessions => {
            let list = signed(st)?.vault.client.sessions()?;
            let named: Vec<_> = list
                .into_iter()
                .map(|s| {
                    json!({"device": s.device(), "id": s.id, "created_at": s.created_at,
                    "last_used_at": s.last_used_at, "current": s.current})
                })
                .collect();
            Ok(json!(named))
        }
        Op::RevokeSession { id } => {
            signed(st)?.vault.client.revoke_session(id)?;
            Ok(json!({"ok": true}))
        }
        Op::ChangePassword { current, new, end_other_sessions } => {
            check_password(new)?;
            let s = signed(st)?;
            let email = s.email.clone();
            flows::change_password(
                &s.vault.client,
                &email,
                &s.vault.keyring,
                current.as_str(),
                new.as_str(),
                params,
                *end_other_sessions,
            )?;
            Ok(json!({"ok": true}))
        }
        Op::Accounts => Ok(json!(signed(st)?.vault.client.accounts()?)),
        Op::CreateAccount { name } => Ok(json!(signed(st)?.vault.create_account(name)?)),
        Op::Account { account_id } => account(st, account_id),
        Op::Invite { account_id, email, role: r } => {
            Ok(json!(signed(st)?.vault.invite(account_id, email, role(r)?)?))
        }
        Op::RevokeInvitation { account_id, invitation_id } => {
            signed(st)?.vault.client.revoke_invitation(account_id, invitation_id)?;
            Ok(json!({"ok": true}))
        }
        Op::AcceptInvite { token } => {
            let s = signed(st)?;
            let r = s.vault.client.accept_invitation(token.as_str())?;
            Ok(json!({"account_id": r.account_id, "code": s.vault.keyring.public().verification_code().to_string()}))
        }
        Op::Confirm { account_id, user_id, role: r, code } => {
            let intro = signed(st)?.vault.confirm(account_id, user_id, role(r)?, code)?;
            Ok(json!({"admin_code": intro.admin_code.to_string(), "history_code": intro.history_code.to_string()}))
        }
        Op::VerifyTeam { account_id, admin_code, history_code } => {
            signed(st)?.vault.verify_team(account_id, admin_code, history_code)?;
            Ok(json!({"ok": true}))
        }
        Op::Remove { account_id, user_id } => {
            let v = &mut signed(st)?.vault;
            v.remove(account_id, user_id)?;
            rotate(v, account_id, false, progress)
        }
        Op::Rotate { account_id, force } => rotate(&mut signed(st)?.vault, account_id, *force, progress),
        Op::LoadItems { account_id } => {
            let s = signed(st)?;
            let mut all = Vec::new();
            let mut cursor = None;
            loop {
                let (page, next) = s.vault.list_items(account_id, cursor.as_deref(), 500)?;
                all.extend(page);
                progress(all.len() as u64, 0);
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            let index = items::Index::new(&all);
            let n = index.len();
            s.items.insert(account_id.clone(), index);
            Ok(json!({"count": n}))
        }
        Op::FindItems { account_id, query, sort, offset, limit } => {
            let s = signed(st)?;
            let index = s.items.get_mut(account_id).ok_or_else(not_loaded)?;
            Ok(index.find(query, *sort, *offset, *limit))
        }
        Op::GetItem { account_id, item_id } => {
            let s = signed(st)?;
            let index = s.items.get(account_id).ok_or_else(not_loaded)?;
            Ok(index
                .get(item_id)
                .ok_or_else(|| Failure::new("item.not_found", "This item is no longer there."))?
                .full())
        }
        Op::SaveItem { account_id, item_id, revision, fields, title, template } => {
            let (plain, display) = items::prepare(fields, title.as_deref(), template.as_deref())?;
            let s = signed(st)?;
            let w = match (item_id, revision) {
                (Some(id), Some(rev)) => s.vault.update_item(account_id, id, *rev, &plain)?,
                (None, _) => s.vault.create_item(account_id, &plain)?,
                (Some(_), None) => return Err(Failure::new("client.bad_request", "revision is required to update")),
            };
            let item = written_item(&w);
            s.items.entry(account_id.clone()).or_default().put(items::written(&item, fields, &display));
            Ok(json!({"id": w.id, "revision": w.revision}))
        }
        Op::ImportParse { text, password } => {
            let parsed = transfer::parse(text.as_str(), password.as_ref().map(Secret::as_str))?;
            let preview = transfer::preview(&parsed);
            signed(st)?.import = Some(parsed);
            Ok(preview)
        }
        Op::ImportCancel => {
            signed(st)?.import = None;
            Ok(json!({"ok": true}))
        }
        Op::ImportCommit { account_id } => {
            let parsed = signed(st)?
                .import
                .take()
                .ok_or_else(|| Failure::new("import.none", "Choose the file to import again."))?;
            let n = parsed.records.len();
            let (mut prepared, mut plains) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for (i, r) in parsed.records.iter().enumerate() {
                let fields: Vec<items::FieldIn> = r.fields.iter().map(items::FieldIn::from_file).collect();
                let (plain, display) = items::prepare(&fields, r.title.as_deref(), r.template.as_deref())
                    .map_err(|f| Failure::new(&f.code, format!("Record {} of the file: {}", i + 1, f.message)))?;
                prepared.push((fields, display));
                plains.push(plain);
            }
            // In chunks, the access token refreshed between them when due: a large import
            // outlives a token (and a refusal midway keeps what the earlier chunks wrote).
            let (mut written, mut failure) = (Vec::with_capacity(n), None);
            let total = u64::try_from(n).unwrap_or(u64::MAX);
            for start in (0..n).step_by(IMPORT_CHUNK) {
                if st.signed.as_ref().is_some_and(|x| vouchsafe_client::unix_now() >= x.refresh_at) {
                    refresh(st)?;
                }
                let end = (start + IMPORT_CHUNK).min(n);
                let done = u64::try_from(start).unwrap_or(0);
                let mut chunk_progress = |d: u64, _: u64| progress(done + d, total);
                match signed(st)?.vault.create_items(account_id, &plains[start..end], &mut chunk_progress) {
                    Ok(w) => written.extend(w),
                    Err((k, e)) => {
                        failure = Some((start + k, Failure::from(e)));
                        break;
                    }
                }
            }
            let s = signed(st)?;
            let index = s.items.entry(account_id.clone()).or_default();
            for (w, (fields, display)) in written.iter().zip(&prepared) {
                index.put(items::written(&written_item(w), fields, display));
            }
            match failure {
                // Each item is its own write: what was created before the refusal stays. Say so.
                Some((n, f)) => Err(Failure {
                    message: format!("{} ({n} of {} records were imported before this.)", f.message, prepared.len()),
                    ..f
                }),
                None => Ok(json!({"imported": written.len(), "skipped": parsed.skipped})),
            }
        }
        Op::ExportItems { account_id, team, format, password } => {
            let s = signed(st)?;
            let records = s.items.get(account_id).ok_or_else(not_loaded)?.records();
            let n = records.len();
            let content = match format.as_str() {
                "encrypted" => {
                    let p = password
                        .as_ref()
                        .ok_or_else(|| Failure::new("export.password_needed", "Choose a password for the file."))?;
                    transfer::export_encrypted(team, records, p.as_str())?
                }
                "csv" => transfer::export_csv(&records).to_string(),
                _ => return Err(Failure::new("client.bad_request", "format: encrypted or csv")),
            };
            Ok(json!({"content": content, "count": n}))
        }
        Op::Generate { length, digits, symbols } => {
            let p = items::generate(*length, *digits, *symbols)?;
            Ok(json!({"password": p.as_str()}))
        }
        Op::DeleteItem { account_id, item_id } => {
            let s = signed(st)?;
            s.vault.delete_item(account_id, item_id)?;
            if let Some(index) = s.items.get_mut(account_id) {
                index.remove(item_id);
            }
            Ok(json!({"ok": true}))
        }
        Op::Inbox { account_id } => {
            let s = signed(st)?;
            let key = s.vault.inbox_key(account_id)?;
            let page = s.vault.deposits(account_id, None, 100)?;
            let count = s.vault.client.inbox(account_id)?.deposit_count;
            Ok(json!({
                "key": key.map(|k| json!({"version": k.version, "code": k.code(account_id).as_str()})),
                "count": count, "deposits": page.deposits, "more": page.next_cursor.is_some(),
            }))
        }
        Op::CreateInbox { account_id } => {
            let k = signed(st)?.vault.create_inbox_key(account_id)?;
            Ok(json!({"version": k.version, "code": k.code(account_id).as_str()}))
        }
        Op::OpenDeposit { account_id, provider_id, deposit_id } => {
            let (d, record) = signed(st)?.vault.open_deposit(account_id, provider_id, deposit_id)?;
            let fields: BTreeMap<&str, String> =
                record.iter().map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v).into_owned())).collect();
            Ok(json!({"deposit": d, "fields": fields}))
        }
        Op::FileDeposit { account_id, provider_id, deposit_id } => {
            let s = signed(st)?;
            let w = s.vault.file_deposit(account_id, provider_id, deposit_id)?;
            // The items tab loads the account again, with the new item.
            s.items.remove(account_id);
            Ok(json!({"item_id": w.id}))
        }
        Op::DiscardDeposit { account_id, provider_id, deposit_id } => {
            signed(st)?.vault.client.file_deposit(account_id, provider_id, deposit_id)?;
            Ok(json!({"ok": true}))
        }
        Op::Vouch { account_id, user_id, code, history_code } => {
            // The page asks for the history code whenever the log has one; the client library
            // compares it with the verified log (left blank: refused).
            let typed = history_code.as_deref().unwrap_or("");
            Ok(json!({"restored": signed(st)?.vault.vouch(account_id, user_id, code, Some(typed))?}))
        }
        Op::Veto { account_id, user_id } => {
            signed(st)?.vault.veto(account_id, user_id)?;
            Ok(json!({"ok": true}))
        }
        Op::Reseal { account_id, user_id } => {
            signed(st)?.vault.reseal(account_id, user_id)?;
            Ok(json!({"ok": true}))
        }
        Op::SetPolicy { account_id, vouch_quorum, waiting_period_secs, admins_only, admin_approvals } => {
            let v = &mut signed(st)?.vault;
            let current = v.policy(account_id)?;
            let policy = Policy {
                vouch_quorum: *vouch_quorum,
                waiting_period_secs: *waiting_period_secs,
                vouchers: if *admins_only { VoucherRule::AdminsOnly } else { VoucherRule::AnyMember },
                admin_approvals: admin_approvals.unwrap_or(current.admin_approvals),
            };
            if current.admin_approvals > 1 {
                let p = v.propose_policy(account_id, policy, None)?;
                return Ok(json!({"proposed": {"id": p.id, "signatures": p.signatures, "needed": p.needed}}));
            }
            v.set_policy(account_id, policy)?;
            Ok(json!({"ok": true}))
        }
        Op::SetSecondFactorPolicy { account_id, required } => {
            match signed(st)?.vault.set_second_factor_required(account_id, *required)? {
                Some(p) => Ok(json!({"proposed": {"id": p.id, "signatures": p.signatures, "needed": p.needed}})),
                None => Ok(json!({"ok": true})),
            }
        }
        Op::Cosign { account_id, proposal_id } => {
            let r = signed(st)?.vault.cosign(account_id, proposal_id)?;
            Ok(json!({"status": r.status, "signatures": r.signatures, "needed": r.needed}))
        }
        Op::WithdrawProposal { account_id, proposal_id } => {
            signed(st)?.vault.withdraw_proposal(account_id, proposal_id)?;
            Ok(json!({"ok": true}))
        }
        Op::CreateKit { guardians, code_only } => {
            let v = &mut signed(st)?.vault;
            let mut ids = Vec::new();
            // Each account's log is fetched and verified once, however many guardians it gives.
            let mut states = std::collections::HashMap::new();
            for g in guardians {
                if g.user_id == v.user_id() {
                    return Err(Failure::new("kit.self_guardian", "you cannot be your own guardian"));
                }
                let state = match states.entry(g.account_id.clone()) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(v.verified_log(&g.account_id)?.1),
                };
                match state.member(&g.user_id) {
                    Some(m) if m.status == MemberStatus::Active => ids.push(m.identity.clone()),
                    _ => return Err(Failure::new("kit.guardian", "a guardian must be an active member")),
                }
            }
            let kit = recovery::setup(&v.client, &v.keyring, &ids, *code_only)?;
            Ok(json!({"code": kit.code.as_str(), "status": kit.status}))
        }
        Op::ResetRequest { email } => {
            Client::new(&st.base).reset_request(email)?;
            Ok(json!({"ok": true}))
        }
        Op::ResetComplete { token, password, factor } => {
            check_password(password)?;
            let client = Client::new(&st.base);
            let now = vouchsafe_client::unix_now();
            let f = factor.at_recovery();
            let k = flows::reset_with_token_and_factor(&client, token.as_str(), password.as_str(), params, now, &f)?;
            let history: BTreeMap<&str, String> =
                k.history_codes.iter().map(|(a, c)| (a.as_str(), c.to_string())).collect();
            Ok(json!({"code": k.keyring.public().verification_code().to_string(), "history_codes": history}))
        }
        Op::ResetCancel { token } => {
            Client::new(&st.base).reset_cancel(token.as_str())?;
            Ok(json!({"ok": true}))
        }
        Op::RecoveryRequest { email } => {
            Client::new(&st.base).recovery_request(email)?;
            Ok(json!({"ok": true}))
        }
        Op::RecoveryStart { token } => {
            let r = Recovery::start(&Client::new(&st.base), token.as_str())?;
            st.recovery = Some(r);
            recovery_status(st)
        }
        Op::RecoveryStatus => recovery_status(st),
        Op::RecoveryFinish { code, expected_code, password, factor } => {
            check_password(password)?;
            let r =
                st.recovery.as_mut().ok_or_else(|| Failure::new("recovery.none", "open the recovery link again"))?;
            r.set_second_factor(factor.at_recovery());
            let client = Client::new(&st.base);
            let k = r.finish(
                &client,
                code.as_ref().map(Secret::as_str),
                expected_code.as_deref(),
                password.as_str(),
                params,
            )?;
            st.recovery = None;
            Ok(json!({"user_id": k.user_id(), "code": k.public().verification_code().to_string()}))
        }
        Op::GuardianRequests => {
            // Each request with the owner's code from a team log this member verified (or
            // none: then the page says the server's keys do not match any verified log).
            let v = &mut signed(st)?.vault;
            let requests = v.client.guardian_requests()?;
            let mut out = Vec::with_capacity(requests.len());
            for r in requests {
                let owner_code = recovery::owner_from_logs(v, &r).ok().map(|o| o.verification_code().to_string());
                let mut j = json!(r);
                j["owner_code"] = json!(owner_code);
                out.push(j);
            }
            Ok(json!(out))
        }
        Op::GuardianRelease { session_id, code } => {
            let v = &mut signed(st)?.vault;
            let req = v
                .client
                .guardian_requests()?
                .into_iter()
                .find(|r| &r.session_id == session_id)
                .ok_or_else(|| Failure::new("recovery.none", "that recovery is no longer waiting"))?;
            let owner = recovery::owner_from_logs(v, &req)?;
            recovery::release_as_guardian(&v.client, &v.keyring, &req, &owner, code)?;
            Ok(json!({"ok": true}))
        }
    }
}

/// Rotates (new key version if the log requires it, or `force`), re-encrypting items in pages.
fn rotate(v: &mut Vault, account_id: &str, force: bool, progress: &mut dyn FnMut(u64, u64)) -> Res {
    let r = v.rotate(account_id, force, 200, progress)?;
    Ok(json!({"key_version": r.key_version, "items_reencrypted": r.items_reencrypted, "removed": r.removed}))
}

fn recovery_status(st: &mut State) -> Res {
    let r = st.recovery.as_ref().ok_or_else(|| Failure::new("recovery.none", "open the recovery link again"))?;
    let released = r.released(&Client::new(&st.base))?.len();
    Ok(json!({"device_code": r.device_code(), "threshold": r.threshold(), "guardians": r.guardians(),
              "released": released}))
}

/// What the page should keep in browser storage after a call: `{"user_id", "checkpoints",
/// "teams"}` (verified log heads, verified and rejected teams, forks: not secret), or `null`
/// when signed out.
#[wasm_bindgen]
pub fn trust_state() -> String {
    STATE.with(|s| trust(&s.borrow()).unwrap_or(Value::Null).to_string())
}

/// The worker's entry point: one JSON request in, one JSON answer out (errors thrown as JSON).
#[wasm_bindgen]
pub fn call(request: &str, progress: &js_sys::Function) -> Result<String, JsValue> {
    let mut report = |done: u64, total: u64| {
        // Progress is advisory: a failing callback does not stop the work.
        let _ = progress.call2(&JsValue::NULL, &JsValue::from_f64(done as f64), &JsValue::from_f64(total as f64));
    };
    dispatch(request, &mut report).map_err(|f| JsValue::from_str(&f.to_json()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_typed_and_secrets_redacted() {
        let op: Op = serde_json::from_str(r#"{"op":"login","email":"a@b.c","password":"hunter2hunter2"}"#).unwrap();
        let dbg = format!("{op:?}");
        assert!(dbg.contains("Secret(..)") && !dbg.contains("hunter2"), "{dbg}");
        assert!(serde_json::from_str::<Op>(r#"{"op":"login","email":"a@b.c","password":"x","extra":1}"#).is_err());
        assert!(serde_json::from_str::<Op>(r#"{"op":"drop_tables"}"#).is_err());
    }

    #[test]
    fn errors_are_json_with_a_code() {
        let mut none = |_: u64, _: u64| {};
        let e = dispatch("{\"op\":\"me\"}", &mut none).unwrap_err();
        assert_eq!(e.code, "client.signed_out");
        let v: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["code"], "client.signed_out");
        let e = dispatch("not json", &mut none).unwrap_err();
        assert_eq!(e.code, "client.bad_request");
        let short = r#"{"op":"register","email":"a@b.c","password":"short"}"#;
        assert_eq!(dispatch(short, &mut none).unwrap_err().code, "password.too_short");
    }
}
