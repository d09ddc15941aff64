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
            guardian_id: g.user_id.clone(),
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
        server_share: (!code_only).then(|| b64::encode(&kit.shares[1].expose_bytes())),
        guardians: uploads,
    })?;
    Ok(NewKit { code: kit.shares[0].to_code(), status })
}

/// A recovery in progress on the member's device.
pub struct Recovery {
    begin: RecoveryBeginResponse,
    key: EphemeralKey,
    kit_id: [u8; 4],
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
        Ok(Self { begin, key, kit_id })
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
            session_id: self.begin.session_id.clone(),
            session_secret: self.begin.session_secret.clone(),
        })?;
        let mut out = Vec::new();
        for r in list {
            let sealed = Sealed::from_bytes(&b64::decode(&r.sealed, 2048)?)?;
            out.push(open_released_share(&sealed, &self.begin.user_id, self.kit_id, r.index, &self.key)?);
        }
        Ok(out)
    }

    /// Combines the code (if given) with the released shares, unwraps the **same** keyring, and
    /// sets a new password for it. Returns the recovered keys; make a new kit afterwards.
    pub fn finish(
        self,
        client: &Client,
        code: Option<&str>,
        new_password: &str,
        params: KdfParams,
    ) -> Result<Keyring, ClientError> {
        let mut shares = self.released(client)?;
        if let Some(c) = code {
            let s = RecoveryShare::from_code(c)?;
            if s.kit_id() != self.kit_id {
                return Err(ClientError::Protocol("this recovery code belongs to another (older) kit".into()));
            }
            shares.retain(|x| x.index() != s.index());
            shares.push(s);
        }
        let wrapped = WrappedKeyring::from_bytes(&b64::decode(&self.begin.wrapped_keyring, 200)?)?;
        let keyring = recover_keyring(&shares, &wrapped, &self.begin.user_id, self.begin.generation)?;
        let mut rng = vouchsafe_crypto::os_rng();
        let salt = new_salt(&mut rng);
        let keys = derive_password_keys(new_password.as_bytes(), &salt, &params)?;
        client.recovery_complete(&RecoveryCompleteRequest {
            session_id: self.begin.session_id.clone(),
            session_secret: self.begin.session_secret.clone(),
            new_auth_key: b64::encode(keys.auth_key.expose_secret()),
            new_kdf_salt: b64::encode(salt.expose_secret()),
            new_kdf_params: params,
            new_wrapped_keyring: b64::encode(keyring.wrap(&keys.kek, &mut rng).as_bytes()),
        })?;
        Ok(keyring)
    }
}

/// A guardian releases their share to a recovering device, after the member read out the code on
/// that device's screen (`device_code_from_member`). Refuses on a mismatch.
pub fn release_as_guardian(
    client: &Client,
    me: &Keyring,
    req: &GuardianRequest,
    device_code_from_member: &str,
) -> Result<(), ClientError> {
    let eph = b64::decode_array::<32>(&req.ephemeral_public_key)?;
    if !ephemeral_code(&eph).matches(device_code_from_member) {
        return Err(ClientError::Protocol("refused: the device code does not match; do not release".into()));
    }
    let owner = PublicIdentity::keys_from_bytes(&req.owner_id, &b64::decode(&req.owner_public_keys, 100)?)?;
    let kit_id = b64::decode_array::<4>(&req.kit_id)?;
    let sealed = Sealed::from_bytes(&b64::decode(&req.sealed, 2048)?)?;
    let share = open_guardian_share(&sealed, &owner, kit_id, req.index, me)?;
    let released = release_share(&share, &req.owner_id, &eph, &mut vouchsafe_crypto::os_rng())?;
    client.release_share(&ReleaseShareRequest {
        session_id: req.session_id.clone(),
        index: req.index,
        sealed: b64::encode(&released.to_bytes()),
    })
}
