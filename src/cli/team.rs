//! `vouchsafe account`, `invite`, `invitations`, `accept`, `members`, `confirm`, `verify-team`, `introduce`, `role`, `remove`,
//! `rotate`, `log`, `policy`, `proposal`, `audit`, `deprovision` and `token`: accounts, their people, keys,
//! log and provisioning tokens.

use clap::Subcommand;

use super::token_of;

/// The commands of this group (flattened into `vouchsafe`'s own).
#[derive(Subcommand)]
pub enum Command {
    /// Team accounts.
    Account {
        #[command(subcommand)]
        op: AccountOp,
    },
    /// Invite an email to an account.
    Invite {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Email.
        email: String,
        /// owner, admin or member.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// List (or revoke) an account's invitations.
    Invitations {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Revoke this invitation id.
        #[arg(long)]
        revoke: Option<String>,
    },
    /// Accept an invitation with the token from the email link (the part after `#token=`).
    Accept {
        /// The token, or the whole link.
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
    /// List members as the verified team log describes them (rows the log does not endorse
    /// are marked); needs no password.
    Members {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Confirm an accepted invitee after comparing verification codes with them.
    Confirm {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// The invitee's user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
        /// The role you grant (owner, admin or member); otherwise you are asked. It is what the
        /// signed log records, whatever the server's list says.
        #[arg(long)]
        role: Option<String>,
        /// The code the person read to you (otherwise you are asked).
        #[arg(long)]
        code: Option<String>,
    },
    /// After an admin confirmed you: compare the codes they read out (their verification code
    /// and the team history code) with what this device computes from the team log it was
    /// served. Until you have, the team is shown as unverified here.
    VerifyTeam {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// The admin's verification code, as they read it (otherwise you are asked).
        #[arg(long)]
        admin_code: Option<String>,
        /// The team history code, as they read it (otherwise you are asked).
        #[arg(long)]
        history_code: Option<String>,
    },
    /// Show again the codes to read to a member you added (their `verify-team` compares them).
    Introduce {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// The member's user id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Change a member's role.
    Role {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// User id.
        #[arg(allow_hyphen_values = true)]
        user: String,
        /// owner, admin or member.
        role: String,
    },
    /// Remove a member (then run `rotate`).
    Remove {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// User id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Rotate the account key and re-encrypt every item (resumes if interrupted).
    Rotate {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Make a new key version even if no removal requires it.
        #[arg(long)]
        force: bool,
    },
    /// The signed team log.
    Log {
        #[command(subcommand)]
        op: LogOp,
    },
    /// The account's recovery policy.
    Policy {
        #[command(subcommand)]
        op: PolicyOp,
    },
    /// The audit trail of an account (admins).
    Audit {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Deprovision a member at once, as a provisioning client would (admins): no more reads,
    /// no sealed key; the next `rotate` removes them from the log and rotates the key.
    Deprovision {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// User id.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Changes that need several admins' signatures (policy changes and worker grants under a
    /// policy with more than one admin approval): list, co-sign, withdraw.
    Proposal {
        #[command(subcommand)]
        op: ProposalOp,
    },
    /// API tokens for provisioning clients (admins): SCIM connectors, HR systems, scripts.
    Token {
        #[command(subcommand)]
        op: TokenOp,
    },
}

#[derive(Subcommand)]
pub enum TokenOp {
    /// Create a token; its secret is printed once.
    Create {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// What it is for ("Okta", "HR sync").
        #[arg(long)]
        name: String,
        /// A scope (repeat for more): invitations:write, members:read, members:deprovision, scim.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Days until it stops working (default: until revoked).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List the account's tokens (never their secrets).
    List {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Token id.
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
}

#[derive(Subcommand)]
pub enum AccountOp {
    /// Create an account (you become its owner).
    Create {
        /// Name.
        name: String,
    },
    /// List your accounts.
    List,
    /// Show one account.
    Show {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
}

#[derive(Subcommand)]
pub enum LogOp {
    /// Verify the whole team log and print its state.
    Verify {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
}

#[derive(Subcommand)]
pub enum ProposalOp {
    /// Open proposals, decoded and checked against this device's verified log.
    List {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Co-sign one (after reading what it does); the signature that completes it applies it.
    Cosign {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Proposal id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Withdraw an open proposal.
    Withdraw {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Proposal id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Subcommand)]
pub enum PolicyOp {
    /// Show the policy (from the verified log).
    Show {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Change it.
    Set {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Distinct vouches needed.
        #[arg(long)]
        quorum: Option<u8>,
        /// Waiting period in seconds.
        #[arg(long)]
        waiting_secs: Option<u64>,
        /// Only admins may vouch.
        #[arg(long)]
        admins_only: Option<bool>,
        /// Distinct admins who must sign a policy change or a worker grant (1 to 8).
        #[arg(long)]
        admin_approvals: Option<u8>,
        /// Every member must have a second factor to read the team's items (a signed entry of
        /// its own; members without one are refused until they enrol).
        #[arg(long)]
        require_second_factor: Option<bool>,
    },
}

/// Runs a command of this group.
pub fn run(cmd: Command) -> Result<(), String> {
    use super::explain_err as e;
    let mut p = super::Profile::load();
    match &cmd {
        Command::Account { op: AccountOp::List } => {
            use super::clean;
            let accounts = super::signed_in(&mut p)?.accounts().map_err(e)?;
            if super::json() {
                return super::print_json(&accounts);
            }
            for a in accounts {
                println!("{}  {}  ({}, {})", clean(&a.id), clean(&a.name), clean(&a.role), clean(&a.status));
            }
            return Ok(());
        }
        Command::Account { op: AccountOp::Show { account } } => {
            let a = super::signed_in(&mut p)?.account(account).map_err(e)?;
            use super::clean;
            println!(
                "{}  {} (name as the server stores it)\nyour role: {} ({})\nkey version {}{}\nlog entries {} \
                 (as the server reports them; `vouchsafe log verify` checks them)",
                clean(&a.id),
                clean(&a.name),
                clean(&a.role),
                clean(&a.status),
                a.key_version,
                if a.rotation_required || a.items_to_rotate > 0 {
                    format!(" — rotation needed ({} items under older keys)", a.items_to_rotate)
                } else {
                    String::new()
                },
                a.log_len
            );
            return Ok(());
        }
        Command::Invite { account, email, role } => {
            super::role(role)?;
            let i = super::signed_in(&mut p)?.invite(account, email, role).map_err(e)?;
            use super::clean;
            println!(
                "invited {} as {} (invitation {}, expires at {})",
                clean(&i.email),
                clean(&i.role),
                clean(&i.id),
                i.expires_at
            );
            return Ok(());
        }
        Command::Invitations { account, revoke } => {
            let c = super::signed_in(&mut p)?;
            if let Some(id) = revoke {
                c.revoke_invitation(account, id).map_err(e)?;
                println!("invitation {id} revoked");
            } else {
                use super::clean;
                let invitations = c.invitations(account).map_err(e)?;
                if super::json() {
                    return super::print_json(&invitations);
                }
                for i in invitations {
                    println!(
                        "{}  {}  {}  {}{}",
                        clean(&i.id),
                        clean(&i.email),
                        clean(&i.role),
                        clean(&i.status),
                        i.accepted_by.map(|u| format!(" by {}", clean(&u))).unwrap_or_default()
                    );
                }
            }
            return Ok(());
        }
        Command::Accept { token } => {
            let t = token_of(token);
            let mine = p.identity()?;
            let c = super::signed_in(&mut p)?;
            let r = c.accept_invitation(t).map_err(e)?;
            // The code comes from the keys this device unlocked at sign-in, not from the server.
            println!(
                "accepted: account {}. Read this code to the admin who confirms you:\n  {}\nThen they read you \
                 theirs and the team history code: type them into `vouchsafe verify-team ACCOUNT`.",
                super::clean(&r.account_id),
                mine.verification_code()
            );
            if let Ok(me) = c.me() {
                super::warn_if_server_disagrees(&me, &mine);
            }
            return Ok(());
        }
        Command::Members { account } => {
            let c = super::signed_in(&mut p)?;
            let listed = c.members(account).map_err(e)?;
            return super::print_judged(
                &p,
                &c,
                account,
                |state| vouchsafe_client::vault::judge_members(state, &listed),
                true,
            );
        }
        Command::Audit { account } => {
            use super::clean;
            let events = super::signed_in(&mut p)?.audit(account).map_err(e)?;
            if super::json() {
                return super::print_json(&events);
            }
            for a in events {
                println!(
                    "{}  {} {}{}  {}  {} items",
                    a.created_at,
                    clean(&a.actor_kind),
                    clean(&a.actor_id),
                    a.actor_name.map(|n| format!(" ({})", clean(&n))).unwrap_or_default(),
                    clean(&a.action),
                    a.item_count
                );
            }
            return Ok(());
        }
        Command::Deprovision { account, user } => {
            super::signed_in(&mut p)?.deprovision(account, user).map_err(e)?;
            println!("{user} deprovisioned; run `vouchsafe rotate {account}` to remove them from the log and rotate");
            return Ok(());
        }
        Command::Token { op } => return token(&mut p, op),
        _ => {}
    }
    let mut v = super::vault(&mut p, super::password)?;
    let result = match cmd {
        Command::Account { op: AccountOp::Create { name } } => {
            v.create_account(&name).map(|a| println!("created account {} ({})", a.id, a.name)).map_err(e)
        }
        Command::Confirm { account, user, role, code } => (|| {
            use super::clean;
            let (info, _) = v.pending_identity(&account, &user).map_err(e)?;
            // The role signed into the log is the admin's choice; the server's list only suggests.
            let role = match role {
                Some(r) => super::role(&r)?,
                None => {
                    println!(
                        "Confirm {} ({}). The server says they were invited as {}; type the role you grant \
                         (owner, admin or member):",
                        clean(&info.email),
                        clean(&info.user_id),
                        clean(&info.role)
                    );
                    super::role(super::read_line()?.trim())?
                }
            };
            let code = match code {
                Some(c) => c,
                None => {
                    println!("Ask them to read their verification code to you (call or in person), and type it:");
                    super::read_line()?
                }
            };
            let intro = v.confirm(&account, &user, role, &code).map_err(e)?;
            println!(
                "confirmed {} as {}: the account key is sealed to their verified keys.\nNow read them your code and \
                 the team history code; they type both into `vouchsafe verify-team {}`:\n  your code:          {}\n  \
                 team history code:  {}",
                clean(&info.email),
                role.as_str(),
                clean(&account),
                intro.admin_code,
                intro.history_code
            );
            Ok(())
        })(),
        Command::Introduce { account, user } => v
            .introduction(&account, &user)
            .map(|i| {
                println!(
                    "{} added {} at entry {}; read out:\n  admin's code:       {}\n  team history code:  {}",
                    super::clean(&i.admin_id),
                    super::clean(&user),
                    i.seq,
                    i.admin_code,
                    i.history_code
                )
            })
            .map_err(e),
        Command::VerifyTeam { account, admin_code, history_code } => (|| {
            let me = v.user_id().to_owned();
            let intro = v.introduction(&account, &me).map_err(e)?;
            println!(
                "This device's team log says {} added you (entry {}). Ask them to read out their verification code \
                 and the team history code that `vouchsafe confirm` showed them.",
                super::clean(&intro.admin_id),
                intro.seq
            );
            let ask = |given: Option<String>, what: &str| match given {
                Some(c) => Ok(c),
                None => {
                    println!("Type {what}:");
                    super::read_line()
                }
            };
            let admin_code = ask(admin_code, "their verification code")?;
            let history_code = ask(history_code, "the team history code")?;
            v.verify_team(&account, &admin_code, &history_code).map_err(e)?;
            println!("team verified: this device sees the same team history as the admin who added you");
            Ok(())
        })(),
        Command::Role { account, user, role } => {
            v.set_role(&account, &user, super::role(&role)?).map(|_| println!("role changed")).map_err(e)
        }
        Command::Remove { account, user } => {
            v.remove(&account, &user).map(|_| println!("removed; now run `vouchsafe rotate {account}`")).map_err(e)
        }
        Command::Rotate { account, force } => v
            .rotate(&account, force, 100, super::progress_bar)
            .map(|r| {
                for user_id in &r.removed {
                    println!("removed {user_id} from the team log (deprovisioned by a provisioning client)");
                }
                println!(
                    "key version {}{}; {} items re-encrypted",
                    r.key_version,
                    if r.new_version { " (new)" } else { "" },
                    r.items_reencrypted
                )
            })
            .map_err(e),
        Command::Log { op: LogOp::Verify { account } } => v
            .verified_log(&account)
            .map(|(entries, state)| {
                println!(
                    "{} entries verified (chain, signatures, authority); key version {}",
                    entries.len(),
                    state.key_version()
                );
                for (id, m) in state.members() {
                    println!(
                        "  {}  {}  gen {}  {}",
                        super::clean(id),
                        m.role.as_str(),
                        m.identity.generation,
                        m.identity.verification_code()
                    );
                }
                super::warn_reset_not_made_here(&v, &state, &account);
            })
            .map_err(e),
        Command::Policy { op: PolicyOp::Show { account } } => (|| {
            let p = v.policy(&account).map_err(e)?;
            let second = v.second_factor_required(&account).map_err(e)?;
            println!(
                "vouch quorum {}; waiting period {} s; vouchers: {}; admin signatures for policy and workers: {}; \
                 second factor: {}",
                p.vouch_quorum,
                p.waiting_period_secs,
                if p.vouchers == vouchsafe_crypto::log::VoucherRule::AdminsOnly { "admins" } else { "any member" },
                p.admin_approvals,
                if second { "required of every member" } else { "optional" }
            );
            Ok(())
        })(),
        Command::Policy {
            op: PolicyOp::Set { account, quorum, waiting_secs, admins_only, admin_approvals, require_second_factor },
        } => (|| {
            if let Some(required) = require_second_factor {
                match v.set_second_factor_required(&account, required).map_err(e)? {
                    Some(r) => super::print_proposed(&account, &r),
                    None if required => println!("a second factor is now required of every member"),
                    None => println!("a second factor is now optional"),
                }
                if quorum.is_none() && waiting_secs.is_none() && admins_only.is_none() && admin_approvals.is_none() {
                    return Ok(());
                }
            }
            let mut p = v.policy(&account).map_err(e)?;
            if let Some(q) = quorum {
                p.vouch_quorum = q;
            }
            if let Some(w) = waiting_secs {
                p.waiting_period_secs = w;
            }
            if let Some(a) = admins_only {
                p.vouchers = if a {
                    vouchsafe_crypto::log::VoucherRule::AdminsOnly
                } else {
                    vouchsafe_crypto::log::VoucherRule::AnyMember
                };
            }
            if let Some(n) = admin_approvals {
                p.admin_approvals = n;
            }
            let needed = v.policy(&account).map_err(e)?.admin_approvals;
            if needed > 1 {
                let r = v.propose_policy(&account, p, None).map_err(e)?;
                super::print_proposed(&account, &r);
            } else {
                v.set_policy(&account, p).map_err(e)?;
                println!("policy changed");
            }
            Ok(())
        })(),
        Command::Proposal { op: ProposalOp::List { account } } => v
            .proposals(&account)
            .map(|views| {
                use super::clean;
                if views.is_empty() {
                    println!("no open proposals");
                }
                for p in views {
                    println!(
                        "{}  {}  by {}  signed by {} of {}  {}  expires at {}{}",
                        clean(&p.id),
                        clean(&p.summary),
                        clean(&p.author),
                        p.signers.len(),
                        p.needed,
                        clean(&p.status),
                        p.expires_at,
                        p.refused.map(|r| format!("\n    REFUSED by this device: {}", clean(&r))).unwrap_or_default()
                    );
                }
            })
            .map_err(e),
        Command::Proposal { op: ProposalOp::Cosign { account, id } } => v
            .cosign(&account, &id)
            .map(|r| {
                if r.status == "applied" {
                    println!("co-signed: complete and applied to the team log");
                } else {
                    println!("co-signed ({} of {} admin signatures)", r.signatures, r.needed);
                }
            })
            .map_err(e),
        Command::Proposal { op: ProposalOp::Withdraw { account, id } } => {
            v.withdraw_proposal(&account, &id).map(|_| println!("withdrawn")).map_err(e)
        }
        _ => Err("unknown command".into()),
    };
    super::save_checkpoints(&mut p, &v)?;
    result
}

fn token(p: &mut super::Profile, op: &TokenOp) -> Result<(), String> {
    use super::{clean, explain_err as e};
    use vouchsafe_client::types::{CreateApiTokenRequest, Scope};
    let c = super::signed_in(p)?;
    match op {
        TokenOp::Create { account, name, scopes, expires_days } => {
            let scopes = scopes
                .iter()
                .map(|s| {
                    Scope::parse(s).ok_or_else(|| {
                        format!("unknown scope {s:?}: invitations:write, members:read, members:deprovision, scim, inbox:deposit or inbox:plaintext")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let req = CreateApiTokenRequest { name: name.clone(), scopes, expires_in_days: *expires_days };
            let t = c.create_token(account, &req).map_err(e)?;
            if super::json() {
                return super::print_json(&t);
            }
            eprintln!("token {} created; its secret is shown this once:", clean(&t.info.id));
            println!("{}", t.token.expose());
        }
        TokenOp::List { account } => {
            let tokens = c.tokens(account).map_err(e)?;
            if super::json() {
                return super::print_json(&tokens);
            }
            for t in tokens {
                let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked at {at}"),
                    (None, Some(at)) => format!("expires at {at}"),
                    (None, None) => "no expiry".to_owned(),
                };
                let used = t.last_used_at.map_or_else(|| "never used".to_owned(), |at| format!("last used at {at}"));
                println!("{}  {}  [{}]  {state}, {used}", clean(&t.id), clean(&t.name), scopes.join(" "));
            }
        }
        TokenOp::Revoke { account, token } => {
            c.revoke_token(account, token).map_err(e)?;
            println!("token {token} revoked");
        }
    }
    Ok(())
}
