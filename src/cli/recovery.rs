//! `vouchsafe reset`, `vouch`, `recovery` and `guardian`: getting back in after a lost password.

use clap::Subcommand;

use super::{kdf_params, token_of};

/// The commands of this group (flattened into `vouchsafe`'s own).
#[derive(Subcommand)]
pub enum Command {
    /// Password reset by email (restores the login; colleagues vouch to restore data access).
    Reset {
        #[command(subcommand)]
        op: ResetOp,
    },
    /// Vouch for colleagues who reset their password.
    Vouch {
        #[command(subcommand)]
        op: VouchOp,
    },
    /// Your recovery kit.
    Recovery {
        #[command(subcommand)]
        op: RecoveryOp,
    },
    /// Help a colleague recover with the guardian share they gave you.
    Guardian {
        #[command(subcommand)]
        op: GuardianOp,
    },
}

#[derive(Subcommand)]
pub enum ResetOp {
    /// Email a reset link.
    Request {
        /// Server URL.
        #[arg(long, env = "VOUCHSAFE_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Email.
        #[arg(long)]
        email: String,
    },
    /// Complete it with the token from the link (asks for a new password).
    Complete {
        /// Server URL.
        #[arg(long, env = "VOUCHSAFE_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The token, or the whole link.
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
    /// "This was not me": cancel with the token of the cancel link.
    Cancel {
        /// Server URL.
        #[arg(long, env = "VOUCHSAFE_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The token, or the whole link.
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
}

#[derive(Subcommand)]
pub enum VouchOp {
    /// Members awaiting vouches, with the code to compare.
    List {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Vouch after comparing codes (asks for the code, or --code).
    Approve {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// User id.
        #[arg(allow_hyphen_values = true)]
        user: String,
        /// The code the member read to you.
        #[arg(long)]
        code: Option<String>,
        /// The team history code the member's device showed at the reset (asked for when the
        /// log has one and this is not given; Enter skips the comparison).
        #[arg(long)]
        history_code: Option<String>,
    },
    /// Veto a pending reset.
    Veto {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// User id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
}

#[derive(Subcommand)]
pub enum RecoveryOp {
    /// Make a new kit: prints the recovery code once.
    Setup {
        /// Guardian user ids (colleagues who each get a share).
        #[arg(long = "guardian")]
        guardians: Vec<String>,
        /// Account whose verified log vouches for the guardians' keys (required with guardians).
        #[arg(long)]
        account: Option<String>,
        /// A 1-of-1 kit: the code alone recovers (the server holds no share).
        #[arg(long)]
        code_only: bool,
    },
    /// Show your kit (no secrets).
    Status,
    /// Email a recovery link (the first step when you have lost your password).
    Request {
        /// Server URL.
        #[arg(long, env = "VOUCHSAFE_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Email.
        #[arg(long)]
        email: String,
    },
    /// Recover with the emailed token and your recovery code (and/or guardians).
    Recover {
        /// Server URL.
        #[arg(long, env = "VOUCHSAFE_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The token from the recovery email, or the whole link.
        #[arg(allow_hyphen_values = true)]
        token: String,
        /// Your recovery code (omit if guardians release instead).
        #[arg(long)]
        code: Option<String>,
        /// Without the recovery code: your verification code as a guardian reads it from their
        /// team log (otherwise you are asked). The recovered keys must match it.
        #[arg(long)]
        expect_code: Option<String>,
        /// Wait for guardians to release their shares.
        #[arg(long)]
        wait_guardians: bool,
    },
}

#[derive(Subcommand)]
pub enum GuardianOp {
    /// Recoveries you can help with.
    List,
    /// Release your share after the member read you the code on their device.
    Release {
        /// Recovery session id.
        #[arg(allow_hyphen_values = true)]
        session: String,
        /// The device code the member read to you.
        #[arg(long)]
        code: Option<String>,
    },
}

/// Runs a command of this group.
pub fn run(cmd: Command) -> Result<(), String> {
    use super::explain_err as e;
    let mut p = super::Profile::load();
    match &cmd {
        Command::Reset { op: ResetOp::Request { server, email } } => {
            vouchsafe_client::Client::new(server).reset_request(email).map_err(e)?;
            println!("if {email} has a login, a reset link is on its way (it works once, for a few minutes)");
            return Ok(());
        }
        Command::Reset { op: ResetOp::Cancel { server, token } } => {
            vouchsafe_client::Client::new(server).reset_cancel(token_of(token)).map_err(e)?;
            println!("cancelled: this reset cannot restore access");
            return Ok(());
        }
        Command::Reset { op: ResetOp::Complete { server, token } } => {
            let pw = super::read_new_password("New password: ", None, "VOUCHSAFE_NEW_PASSWORD")?;
            let now = vouchsafe_client::unix_now();
            let k = vouchsafe_client::flows::reset_with_token(
                &vouchsafe_client::Client::new(server),
                token_of(token),
                &pw,
                kdf_params(),
                now,
            )
            .map_err(e)?;
            println!(
                "password reset; every session ended. Your new verification code is\n  {}\nRead it to a colleague (call or in person) so they can vouch for you; or use your recovery kit.",
                k.keyring.public().verification_code()
            );
            for (account, code) in &k.history_codes {
                println!(
                    "  team {}: history code {code} (read it out too; theirs must be the same)",
                    super::clean(account)
                );
            }
            return Ok(());
        }
        Command::Recovery { op: RecoveryOp::Recover { server, token, code, expect_code, wait_guardians } } => {
            let c = vouchsafe_client::Client::new(server);
            let r = vouchsafe_client::recovery::Recovery::start(&c, token_of(token)).map_err(e)?;
            if *wait_guardians || code.is_none() {
                println!(
                    "Ask a guardian to run `vouchsafe guardian release` and read them this device code:\n  {}",
                    r.device_code()
                );
                for _ in 0..600 {
                    let got = r.released(&c).map_err(e)?.len() + usize::from(code.is_some());
                    if got >= usize::from(r.threshold()) {
                        break;
                    }
                    // A blocking CLI waiting for people: polling every 2 s is the point.
                    #[allow(clippy::disallowed_methods)]
                    std::thread::sleep(std::time::Duration::from_secs(2));
                }
            }
            let expect = match (code, expect_code) {
                (None, None) => {
                    println!(
                        "Without your recovery code, this device cannot tell your keys from a forgery by itself.\n\
                         Ask a guardian to read you YOUR verification code (from `vouchsafe members ACCOUNT`), and type it:"
                    );
                    Some(super::read_line()?)
                }
                (_, x) => x.clone(),
            };
            let pw = super::read_new_password("New password: ", None, "VOUCHSAFE_NEW_PASSWORD")?;
            let k = r.finish(&c, code.as_deref(), expect.as_deref(), &pw, kdf_params()).map_err(e)?;
            println!(
                "recovered the same keys (verification code {}). Sign in, then make a new kit: `vouchsafe recovery setup`",
                k.public().verification_code()
            );
            return Ok(());
        }
        Command::Recovery { op: RecoveryOp::Request { server, email } } => {
            vouchsafe_client::Client::new(server).recovery_request(email).map_err(e)?;
            println!("if {email} has a recovery kit, a recovery link is on its way (it works once, for a few minutes)");
            return Ok(());
        }
        Command::Recovery { op: RecoveryOp::Status } => {
            let k = super::signed_in(&mut p)?.kit().map_err(e)?;
            if k.exists {
                println!(
                    "kit: {} of {} shares; server share: {}; guardians: {}",
                    k.threshold,
                    k.share_count,
                    k.server_share,
                    k.guardians.join(", ")
                );
            } else {
                println!("no recovery kit: run `vouchsafe recovery setup`");
            }
            return Ok(());
        }
        Command::Guardian { op: GuardianOp::List } => {
            use super::clean;
            let requests = super::signed_in(&mut p)?.guardian_requests().map_err(e)?;
            if super::json() {
                return super::print_json(&requests);
            }
            for r in requests {
                println!(
                    "{}  {} ({})  share {}",
                    clean(&r.session_id),
                    clean(&r.owner_email),
                    clean(&r.owner_id),
                    r.index
                );
            }
            return Ok(());
        }
        _ => {}
    }
    let mut v = super::vault(&mut p, super::password)?;
    let result = match cmd {
        Command::Vouch { op: VouchOp::List { account } } => {
            v.verified_log(&account).map_err(e).and_then(|(_, state)| {
                let pending = vouchsafe_client::vault::Vault::pending_resets_in(&state);
                if super::json() {
                    let rows: Vec<serde_json::Value> = pending
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "user_id": r.user_id,
                                "generation": r.new_identity.generation,
                                "replaces_generation": r.replaces_generation,
                                "code": r.code.to_string(),
                                "history_code": r.history_code.as_ref().map(|c| c.to_string()),
                                "vouches": r.vouchers.len(),
                                "needed": r.needed,
                                "vetoed": r.vetoed,
                                "unconfirmed": r.unconfirmed,
                            })
                        })
                        .collect();
                    super::print_json(&rows)?;
                    super::warn_reset_not_made_here(&v, &state, &account);
                    return Ok(());
                }
                for r in pending {
                    println!(
                        "{}  new keys (generation {} replacing {})  code {}  team history code {}  vouches {}/{}{}{}",
                        super::clean(&r.user_id),
                        r.new_identity.generation,
                        r.replaces_generation,
                        r.code,
                        r.history_code.as_ref().map_or_else(|| "-".to_owned(), |c| c.to_string()),
                        r.vouchers.len(),
                        r.needed,
                        if r.vetoed { "  VETOED" } else { "" },
                        if r.unconfirmed {
                            "\n    announced by the server on behalf of this member: nobody has compared codes yet. \
                             Call them (a number you know, not one from an e-mail) and ask them to read their code."
                        } else {
                            ""
                        }
                    );
                }
                super::warn_reset_not_made_here(&v, &state, &account);
                Ok(())
            })
        }
        Command::Vouch { op: VouchOp::Approve { account, user, code, history_code } } => (|| {
            let code = match code {
                Some(c) => c,
                None => {
                    println!(
                        "Call or meet the member. Ask them to read the verification code on their screen, and type it:"
                    );
                    super::read_line()?
                }
            };
            let history = match history_code {
                Some(h) => Some(h),
                None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                    println!("And the team history code their screen showed (Enter to skip the comparison):");
                    Some(super::read_line()?).filter(|h| !h.trim().is_empty())
                }
                None => None,
            };
            let restored = v.vouch(&account, &user, &code, history.as_deref()).map_err(e)?;
            println!(
                "{}",
                if restored {
                    "vouched; access restored"
                } else {
                    "vouched; waiting for more vouches or the waiting period"
                }
            );
            Ok(())
        })(),
        Command::Vouch { op: VouchOp::Veto { account, user } } => {
            v.veto(&account, &user).map(|_| println!("vetoed")).map_err(e)
        }
        Command::Recovery { op: RecoveryOp::Setup { guardians, account, code_only } } => (|| {
            let mut ids = Vec::new();
            if !guardians.is_empty() {
                let acct = account
                    .as_deref()
                    .ok_or("--account is needed to check the guardians' keys against a verified team log")?;
                let (_, state) = v.verified_log(acct).map_err(e)?;
                for g in &guardians {
                    let m = state.member(g).ok_or_else(|| format!("{g} is not a member of that account"))?;
                    ids.push(m.identity.clone());
                }
            }
            let kit = vouchsafe_client::recovery::setup(&v.client, &v.keyring, &ids, code_only).map_err(e)?;
            println!(
                "Your recovery code (shown once; write it down and keep it offline):\n\n  {}\n",
                kit.code.as_str()
            );
            println!("{} of {} shares recover your keys.", kit.status.threshold, kit.status.share_count);
            Ok(())
        })(),
        Command::Guardian { op: GuardianOp::Release { session, code } } => (|| {
            let req = v
                .client
                .guardian_requests()
                .map_err(e)?
                .into_iter()
                .find(|r| r.session_id == session)
                .ok_or("no such recovery for you")?;
            // The owner's keys come from a team log this guardian verified, not from the server.
            let owner = vouchsafe_client::recovery::owner_from_logs(&mut v, &req).map_err(e)?;
            println!(
                "{}'s verification code in your team log: {}\nIf they have no recovery code, read it to them: their device checks it.",
                super::clean(&req.owner_email),
                owner.verification_code()
            );
            let code = match code {
                Some(c) => c,
                None => {
                    println!(
                        "Call {}. Ask for the device code on their recovery screen, and type it:",
                        super::clean(&req.owner_email)
                    );
                    super::read_line()?
                }
            };
            vouchsafe_client::recovery::release_as_guardian(&v.client, &v.keyring, &req, &owner, &code).map_err(e)?;
            println!("share released to {}'s device", super::clean(&req.owner_email));
            Ok(())
        })(),
        _ => Err("unknown command".into()),
    };
    super::save_checkpoints(&mut p, &v)?;
    result
}
