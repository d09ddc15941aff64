//! Recovery kits from the client's side: setup (code + server share, optional guardians),
//! recovery with any t shares (restores the *same* keys — nothing is resealed), and guardian
//! releases after comparing the recovering device's code.

use vouchsafe_crypto::b64;
use vouchsafe_crypto::identity::{Keyring, PublicIdentity, WrappedKeyring};
use vouchsafe_crypto::kdf::{KdfParams, derive_password_keys, new_salt};
use vouchsafe_crypto::recovery::{
    RecoveryShare, create_kit, open_guardian_share, open_released_share, recover_keyring, release_share,
    seal_guardian_share,
};
use vouchsafe_crypto::seal::{EphemeralKey, Sealed, ephemeral_code};
use zeroize::Zeroizing;

use crate::types::*;
use crate::{Client, ClientError};

/// A kit just made: the code share to show **once** (for the member to write down) and the
/// server's view of the kit.
#[derive(Debug)]
pub struct NewKit {
    /// The recovery code (share 1), grouped for people.
    pub code: Zeroizing<String>,
    /// Kit status as stored.
    pub status: KitStatus,
}

/// Makes and uploads a kit for the signed-in member. Default: code + server share, 2-of-2 (a solo
/// user can recover); with guardians, 2-of-(2 + guardians); `code_only` makes a 1-of-1 kit.
pub fn setup(
    client: &Client,
    keyring: &Keyring,
    guardians: &[PublicIdentity],
    code_only: bool,
) -> Result<NewKit, ClientError> {
    let mut rng = vouchsafe_crypto::os_rng();
    let (t, n) = if code_only { (1, 1) } else { (2, 2 + u8::try_from(guardians.len()).unwrap_or(u8::MAX)) };
    if !code_only && guardians.len() > 14 {
        return Err(ClientError::Protocol("at most 14 guardians".into()));
    }
    let kit = create_kit(keyring, t, n, &mut rng)?;
    let mut uploads = Vec::new();
    for (g, share) in guardians.iter().zip(kit.shares.iter().skip(2)) {
        let sealed = seal_guardian_share(share, keyring, g, &mut rng)?;
        uploads.push(GuardianShareUpload {
            index: share.index(),
            guardian_id: Id::parse(g.user_id.as_str())?,
            guardian_generation: g.generation,
            sealed: b64::encode(&sealed.to_bytes()),
        });
    }
    let status = client.put_kit(&PutKitRequest {
        kit_id: b64::encode(&kit.kit_id),
        threshold: kit.threshold,
        share_count: n,
        generation: keyring.generation(),
        wrapped_keyring: b64::encode(kit.wrapped_keyring.as_bytes()),
        server_share: (!code_only).then(|| b64::encode(&kit.shares[1].expose_bytes()).into()),
        guardians: uploads,
    })?;
    Ok(NewKit { code: kit.shares[0].to_code(), status })
}

/// A recovery in progress on the member's device.
pub struct Recovery {
    begin: RecoveryBeginResponse,
    key: EphemeralKey,
    kit_id: [u8; 4],
    factor: FactorAtRecovery,
}

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recovery").field("user_id", &self.begin.user_id).finish_non_exhaustive()
    }
}

impl Recovery {
    /// Redeems the emailed token with a fresh ephemeral key; the server share (if any) comes back
    /// sealed to that key.
    pub fn start(client: &Client, token: &str) -> Result<Self, ClientError> {
        let key = EphemeralKey::random(&mut vouchsafe_crypto::os_rng());
        let begin = client.recovery_begin(&RecoveryBeginRequest {
            token: token.into(),
            ephemeral_public_key: b64::encode(&key.public()),
        })?;
        let kit_id = b64::decode_array::<4>(&begin.kit_id)?;
        Ok(Self { begin, key, kit_id, factor: FactorAtRecovery::NotEnrolled })
    }

    /// Whether the person has a second factor ([`Self::set_second_factor`] before finishing).
    pub fn has_second_factor(&self) -> bool {
        self.begin.second_factor
    }

    /// The second factor's fresh check (or the word that it is lost) for [`Self::finish`].
    pub fn set_second_factor(&mut self, factor: FactorAtRecovery) {
        self.factor = factor;
    }

    /// The code guardians compare with this screen before releasing their shares.
    pub fn device_code(&self) -> String {
        ephemeral_code(&self.key.public()).to_string()
    }

    /// Shares needed.
    pub fn threshold(&self) -> u8 {
        self.begin.threshold
    }

    /// Guardians who can help: (share index, user id).
    pub fn guardians(&self) -> &[(u8, String)] {
        &self.begin.guardians
    }

    /// Opens every share released to this device so far (server, guardians).
    pub fn released(&self, client: &Client) -> Result<Vec<RecoveryShare>, ClientError> {
        let list = client.recovery_shares(&RecoverySessionRequest {
            session_id: Id::parse(self.begin.session_id.as_str())?,
            session_secret: self.begin.session_secret.clone(),
        })?;
        let mut out = Vec::new();
        for r in list {
            let sealed = Sealed::from_bytes(&b64::decode(&r.sealed, 2048)?)?;
            out.push(open_released_share(&sealed, &self.begin.user_id, self.kit_id, r.index, &self.key)?);
        }
        Ok(out)
    }

    /// Combines the shares, unwraps the **same** keyring, and sets a new password for it.
    /// Returns the recovered keys; make a new kit afterwards.
    ///
    /// The server could forge the kit and every share it relays (its own, and guardians',
    /// which reach this device through it). So the recovered keys must be anchored in
    /// something the server cannot make:
    /// - with the recovery `code`, the code's share is always one of the shares combined (and
    ///   fixes the threshold): without the code the server cannot steer R, so a forged kit or
    ///   share fails to unwrap;
    /// - without it, `expected_code` — the verification code a guardian reads from *their*
    ///   verified team log for this member — must match the recovered keys.
    ///
    /// Anything else is refused before anything is uploaded.
    pub fn finish(
        &self,
        client: &Client,
        code: Option<&str>,
        expected_code: Option<&str>,
        new_password: &str,
        params: KdfParams,
    ) -> Result<Keyring, ClientError> {
        let released = self.released(client)?;
        let wrapped = WrappedKeyring::from_bytes(&b64::decode(&self.begin.wrapped_keyring, 200)?)?;
        let (anchor, others): (Option<RecoveryShare>, Vec<RecoveryShare>) = match code {
            Some(c) => {
                let s = RecoveryShare::from_code(c)?;
                if s.kit_id() != self.kit_id {
                    return Err(ClientError::Protocol("this recovery code belongs to another (older) kit".into()));
                }
                let others = released.into_iter().filter(|x| x.index() != s.index()).collect();
                (Some(s), others)
            }
            None if expected_code.is_none() => {
                return Err(refused(
                    "without your recovery code, ask a guardian to read you the verification code their team log \
                     shows for you, and give it: only then can this device tell your keys from a forgery",
                ));
            }
            None => (None, released),
        };
        let threshold = anchor.as_ref().map_or(self.begin.threshold, RecoveryShare::threshold);
        let need = usize::from(threshold).saturating_sub(usize::from(anchor.is_some()));
        let keyring = first_opening(anchor.as_ref(), &others, need, |shares| {
            recover_keyring(shares, &wrapped, &self.begin.user_id, self.begin.generation).ok()
        })
        .ok_or_else(|| {
            refused(if anchor.is_some() {
                "your recovery code and the released shares do not open this kit: the kit or a share is forged, \
                 or not enough shares were released"
            } else {
                "the released shares do not open this kit (not enough shares, or forged ones)"
            })
        })?;
        if keyring.user_id() != self.begin.user_id || keyring.generation() != self.begin.generation {
            return Err(refused("the recovered keys belong to someone else"));
        }
        if let Some(expected) = expected_code
            && !keyring.public().verification_code().matches(expected)
        {
            return Err(refused(
                "the recovered keys are not the ones your team log shows for you: a forged kit; nothing was changed",
            ));
        }
        let mut rng = vouchsafe_crypto::os_rng();
        let salt = new_salt(&mut rng);
        let keys = derive_password_keys(new_password.as_bytes(), &salt, &params)?;
        client.recovery_complete(&RecoveryCompleteRequest {
            session_id: Id::parse(self.begin.session_id.as_str())?,
            session_secret: self.begin.session_secret.clone(),
            new_auth_key: b64::encode(keys.auth_key.expose_secret()).into(),
            new_kdf_salt: b64::encode(salt.expose_secret()),
            new_kdf_params: params,
            new_wrapped_keyring: b64::encode(keyring.wrap(&keys.kek, &mut rng).as_bytes()),
            second_factor: self.factor.fields().0,
            lost_second_factor: self.factor.fields().1,
        })?;
        Ok(keyring)
    }
}

fn refused(msg: &str) -> ClientError {
    ClientError::Protocol(format!("refused: {msg}"))
}

/// Tries `anchor` (always first, when given) with each choice of `need` shares of `others`, in
/// order, until `open` succeeds: one forged share among several cannot block a recovery that
/// enough genuine shares allow. Kits have at most 16 shares, so the search stays small.
fn first_opening<T>(
    anchor: Option<&RecoveryShare>,
    others: &[RecoveryShare],
    need: usize,
    mut open: impl FnMut(&[RecoveryShare]) -> Option<T>,
) -> Option<T> {
    fn pick<T>(
        chosen: &mut Vec<RecoveryShare>,
        rest: &[RecoveryShare],
        need: usize,
        open: &mut dyn FnMut(&[RecoveryShare]) -> Option<T>,
    ) -> Option<T> {
        if need == 0 {
            return open(chosen);
        }
        for (i, s) in rest.iter().enumerate() {
            chosen.push(s.clone());
            let found = pick(chosen, &rest[i + 1..], need - 1, open);
            chosen.pop();
            if found.is_some() {
                return found;
            }
        }
        None
    }
    let mut chosen: Vec<RecoveryShare> = anchor.into_iter().cloned().collect();
    pick(&mut chosen, others, need, &mut open)
}

/// The kit owner's identity as `state` (a team log the guardian verified) endorses it: a
/// guardian checks the owner's share against these keys, never against the keys the server
/// reports, and reads the owner's verification code from it to the member.
pub fn owner_in_log(
    state: &vouchsafe_crypto::log::TeamState,
    owner_id: &str,
    reported_keys: &str,
) -> Result<PublicIdentity, ClientError> {
    let reported = PublicIdentity::keys_from_bytes(owner_id, &b64::decode(reported_keys, 100)?)?;
    match state.identity(owner_id, reported.generation) {
        Some(id) if *id == reported => Ok(id.clone()),
        _ => Err(refused("the kit owner's keys are not the ones your verified team log shows; do not release")),
    }
}

/// The identity of a recovering kit owner from a team log this guardian verified: any shared
/// active account whose log shows the owner with the keys the share was made with.
pub fn owner_from_logs(v: &mut crate::vault::Vault, req: &GuardianRequest) -> Result<PublicIdentity, ClientError> {
    for a in v.client.accounts()? {
        if a.status != "active" {
            continue;
        }
        let Ok((_, state)) = v.verified_log(&a.id) else { continue };
        if let Ok(id) = owner_in_log(&state, &req.owner_id, &req.owner_public_keys) {
            return Ok(id);
        }
    }
    Err(refused(
        "none of your verified team logs shows this person with the keys their kit was made with; do not release",
    ))
}

/// A guardian releases their share to a recovering device, after the member read out the code on
/// that device's screen (`device_code_from_member`). Refuses on a mismatch.
/// `owner` is the owner's identity from a team log the guardian verified ([`owner_in_log`]).
pub fn release_as_guardian(
    client: &Client,
    me: &Keyring,
    req: &GuardianRequest,
    owner: &PublicIdentity,
    device_code_from_member: &str,
) -> Result<(), ClientError> {
    let eph = b64::decode_array::<32>(&req.ephemeral_public_key)?;
    if !ephemeral_code(&eph).matches(device_code_from_member) {
        return Err(ClientError::Protocol("refused: the device code does not match; do not release".into()));
    }
    if owner.user_id != req.owner_id {
        return Err(refused("that is not the owner of this recovery"));
    }
    let kit_id = b64::decode_array::<4>(&req.kit_id)?;
    let sealed = Sealed::from_bytes(&b64::decode(&req.sealed, 2048)?)?;
    let share = open_guardian_share(&sealed, owner, kit_id, req.index, me)?;
    let released = release_share(&share, &req.owner_id, &eph, &mut vouchsafe_crypto::os_rng())?;
    client.release_share(&ReleaseShareRequest {
        session_id: Id::parse(req.session_id.as_str())?,
        index: req.index,
        sealed: b64::encode(&released.to_bytes()),
    })
}
