//! The `vouchsafe` binary: `serve`, `migrate`, and the client subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vouchsafe::config::{Config, LogFormat};
use vouchsafe::{app, cli};
use vouchsafe_crypto::kdf::KdfParams;

#[derive(Parser)]
#[command(name = "vouchsafe", version, about = "End-to-end-encrypted team vault with social recovery")]
struct Args {
    /// Server configuration file (TOML) for `serve` and `migrate`.
    #[arg(long, global = true, env = "VOUCHSAFE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Run database migrations and exit.
    Migrate,
    /// Create a user (the password never leaves this machine).
    Register(Credentials),
    /// Sign in; stores the server URL and tokens (never keys) in the profile.
    Login(Credentials),
    /// End this session.
    Logout,
    /// Show the signed-in user and their verification code.
    Whoami,
    /// List sessions, or end one.
    Sessions {
        /// End this session id.
        #[arg(long)]
        revoke: Option<String>,
    },
    /// Password operations.
    Password {
        #[command(subcommand)]
        op: PasswordOp,
    },
    /// Team accounts.
    Account {
        #[command(subcommand)]
        op: AccountOp,
    },
    /// Invite an email to an account.
    Invite {
        /// Account id.
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
        account: String,
        /// Revoke this invitation id.
        #[arg(long)]
        revoke: Option<String>,
    },
    /// Accept an invitation with the token from the email link (the part after `#token=`).
    Accept {
        /// The token, or the whole link.
        token: String,
    },
    /// List members with role, status and verification code.
    Members {
        /// Account id.
        account: String,
    },
    /// Confirm an accepted invitee after comparing verification codes with them.
    Confirm {
        /// Account id.
        account: String,
        /// The invitee's user id.
        user: String,
        /// The code the person read to you (otherwise you are asked).
        #[arg(long)]
        code: Option<String>,
    },
    /// Change a member's role.
    Role {
        /// Account id.
        account: String,
        /// User id.
        user: String,
        /// owner, admin or member.
        role: String,
    },
    /// Remove a member (then run `rotate`).
    Remove {
        /// Account id.
        account: String,
        /// User id.
        user: String,
    },
    /// Rotate the account key and re-encrypt every item (resumes if interrupted).
    Rotate {
        /// Account id.
        account: String,
        /// Make a new key version even if no removal requires it.
        #[arg(long)]
        force: bool,
    },
    /// Encrypted items.
    Item {
        #[command(subcommand)]
        op: ItemOp,
    },
    /// The signed team log.
    Log {
        #[command(subcommand)]
        op: LogOp,
    },
}

#[derive(Subcommand)]
enum AccountOp {
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
        account: String,
    },
}

#[derive(Subcommand)]
enum ItemOp {
    /// Create an item: `name=value …` or one JSON object.
    Put {
        /// Account id.
        account: String,
        /// Fields.
        fields: Vec<String>,
    },
    /// Show an item.
    Get {
        /// Account id.
        account: String,
        /// Item id.
        item: String,
    },
    /// List items.
    List {
        /// Account id.
        account: String,
    },
    /// Replace an item's fields (keeps fields you do not name).
    Edit {
        /// Account id.
        account: String,
        /// Item id.
        item: String,
        /// Fields.
        fields: Vec<String>,
    },
    /// Delete an item.
    Rm {
        /// Account id.
        account: String,
        /// Item id.
        item: String,
    },
}

#[derive(Subcommand)]
enum LogOp {
    /// Verify the whole team log and print its state.
    Verify {
        /// Account id.
        account: String,
    },
}

/// Who signs in, where.
#[derive(clap::Args)]
struct Credentials {
    /// Server URL.
    #[arg(long, env = "VOUCHSAFE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Email.
    #[arg(long)]
    email: String,
    /// Read the password from this file instead of a prompt (or set VOUCHSAFE_PASSWORD).
    #[arg(long)]
    password_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum PasswordOp {
    /// Change the password (the keyring is re-wrapped locally).
    Change {
        /// End every other session.
        #[arg(long)]
        end_other_sessions: bool,
        /// Read the current password from this file.
        #[arg(long)]
        current_password_file: Option<PathBuf>,
        /// Read the new password from this file.
        #[arg(long)]
        new_password_file: Option<PathBuf>,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VOUCHSAFE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b.init(),
    }
}

/// KDF parameters for new passwords: defaults, or `VOUCHSAFE_KDF_M_KIB`/`_T`/`_P` (never below the floor).
fn kdf_params() -> KdfParams {
    let mut p = KdfParams::default();
    let get = |n: &str| std::env::var(n).ok().and_then(|v| v.parse::<u32>().ok());
    if let Some(m) = get("VOUCHSAFE_KDF_M_KIB") {
        p.m_kib = m;
    }
    if let Some(t) = get("VOUCHSAFE_KDF_T") {
        p.t = t;
    }
    if let Some(pp) = get("VOUCHSAFE_KDF_P") {
        p.p = pp;
    }
    p
}

fn password() -> Result<zeroize::Zeroizing<String>, String> {
    cli::read_password("Password (to unlock your keys): ", None, "VOUCHSAFE_PASSWORD")
}

fn run(args: Args) -> Result<(), String> {
    match args.command {
        Command::Serve | Command::Migrate => {
            let config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
            init_logging(config.log_format);
            let migrate_only = matches!(args.command, Command::Migrate);
            let rt = actix_web::rt::System::new();
            rt.block_on(async move {
                if migrate_only {
                    let db = app::connect(&config).await?;
                    app::migrate(&db).await?;
                    println!("migrations applied");
                    Ok(())
                } else {
                    app::serve(config).await
                }
            })
            .map_err(|e| e.to_string())
        }
        Command::Register(Credentials { server, email, password_file }) => {
            let pw = cli::read_password("New password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            if pw.chars().count() < 10 {
                return Err("choose a password of at least 10 characters".into());
            }
            cli::register(&server, &email, &pw, kdf_params())
        }
        Command::Login(Credentials { server, email, password_file }) => {
            let pw = cli::read_password("Password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            cli::login(&server, &email, &pw)
        }
        Command::Logout => cli::logout(),
        Command::Whoami => cli::whoami(),
        Command::Sessions { revoke } => cli::sessions(revoke.as_deref()),
        Command::Password {
            op: PasswordOp::Change { end_other_sessions, current_password_file, new_password_file },
        } => {
            let cur = cli::read_password("Current password: ", current_password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            let new = cli::read_password("New password: ", new_password_file.as_ref(), "VOUCHSAFE_NEW_PASSWORD")?;
            cli::password_change(&cur, &new, end_other_sessions, kdf_params())
        }
        other => vault_command(other),
    }
}

fn vault_command(cmd: Command) -> Result<(), String> {
    use cli::explain_err as e;
    let mut p = cli::Profile::load();
    // Commands that need no keys.
    match &cmd {
        Command::Account { op: AccountOp::List } => {
            for a in cli::signed_in(&mut p)?.accounts().map_err(e)? {
                println!("{}  {}  ({}, {})", a.id, a.name, a.role, a.status);
            }
            return Ok(());
        }
        Command::Account { op: AccountOp::Show { account } } => {
            let a = cli::signed_in(&mut p)?.account(account).map_err(e)?;
            println!(
                "{}  {}\nyour role: {} ({})\nkey version {}{}\nlog entries {}",
                a.id,
                a.name,
                a.role,
                a.status,
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
            cli::role(role)?;
            let i = cli::signed_in(&mut p)?.invite(account, email, role).map_err(e)?;
            println!("invited {} as {} (invitation {}, expires at {})", i.email, i.role, i.id, i.expires_at);
            return Ok(());
        }
        Command::Invitations { account, revoke } => {
            let c = cli::signed_in(&mut p)?;
            if let Some(id) = revoke {
                c.revoke_invitation(account, id).map_err(e)?;
                println!("invitation {id} revoked");
            } else {
                for i in c.invitations(account).map_err(e)? {
                    println!(
                        "{}  {}  {}  {}{}",
                        i.id,
                        i.email,
                        i.role,
                        i.status,
                        i.accepted_by.map(|u| format!(" by {u}")).unwrap_or_default()
                    );
                }
            }
            return Ok(());
        }
        Command::Accept { token } => {
            let t = token.rsplit("token=").next().unwrap_or(token);
            let r = cli::signed_in(&mut p)?.accept_invitation(t).map_err(e)?;
            let c = cli::signed_in(&mut p)?;
            let me = c.me().map_err(e)?;
            println!(
                "accepted: account {}. Read this code to the admin who confirms you:\n  {}",
                r.account_id, me.verification_code
            );
            return Ok(());
        }
        Command::Members { account } => {
            for m in cli::signed_in(&mut p)?.members(account).map_err(e)? {
                let code = vouchsafe_crypto::b64::decode(&m.public_keys, 100)
                    .ok()
                    .and_then(|b| vouchsafe_crypto::identity::PublicIdentity::keys_from_bytes(&m.user_id, &b).ok())
                    .map(|i| i.verification_code().to_string())
                    .unwrap_or_default();
                println!("{}  {}  {}  {}  {}", m.user_id, m.email, m.role, m.status, code);
            }
            return Ok(());
        }
        _ => {}
    }
    let pw = password()?;
    let mut v = cli::unlocked(&mut p, &pw)?;
    let result = match cmd {
        Command::Account { op: AccountOp::Create { name } } => {
            v.create_account(&name).map(|a| println!("created account {} ({})", a.id, a.name)).map_err(e)
        }
        Command::Confirm { account, user, code } => (|| {
            let (info, _) = v.pending_identity(&account, &user).map_err(e)?;
            let code = match code {
                Some(c) => c,
                None => {
                    println!("Confirm {} ({}) as {}.", info.email, info.user_id, info.role);
                    println!("Ask them to read their verification code to you (call or in person), and type it:");
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).map_err(|err| err.to_string())?;
                    line
                }
            };
            v.confirm(&account, &user, &code).map_err(e)?;
            println!("confirmed {}: the account key is sealed to their verified keys", info.email);
            Ok(())
        })(),
        Command::Role { account, user, role } => {
            v.set_role(&account, &user, cli::role(&role)?).map(|_| println!("role changed")).map_err(e)
        }
        Command::Remove { account, user } => {
            v.remove(&account, &user).map(|_| println!("removed; now run `vouchsafe rotate {account}`")).map_err(e)
        }
        Command::Rotate { account, force } => v
            .rotate(&account, force, 100, cli::progress_bar)
            .map(|r| {
                println!(
                    "key version {}{}; {} items re-encrypted",
                    r.key_version,
                    if r.new_version { " (new)" } else { "" },
                    r.items_reencrypted
                )
            })
            .map_err(e),
        Command::Item { op: ItemOp::Put { account, fields } } => {
            let f = cli::parse_fields(&fields)?;
            v.create_item(&account, &f).map(|w| println!("{}", w.id)).map_err(e)
        }
        Command::Item { op: ItemOp::Get { account, item } } => {
            v.get_item(&account, &item).map(|i| cli::print_item(&i)).map_err(e)
        }
        Command::Item { op: ItemOp::List { account } } => (|| {
            let mut cursor = None;
            loop {
                let (items, next) = v.list_items(&account, cursor.as_deref(), 100).map_err(e)?;
                items.iter().for_each(cli::print_item);
                match next {
                    Some(n) => cursor = Some(n),
                    None => return Ok(()),
                }
            }
        })(),
        Command::Item { op: ItemOp::Edit { account, item, fields } } => (|| {
            let current = v.get_item(&account, &item).map_err(e)?;
            let mut all: std::collections::BTreeMap<String, Vec<u8>> =
                current.fields.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect();
            all.extend(cli::parse_fields(&fields)?);
            v.update_item(&account, &item, current.revision, &all)
                .map(|w| println!("{} revision {}", w.id, w.revision))
                .map_err(e)
        })(),
        Command::Item { op: ItemOp::Rm { account, item } } => {
            v.delete_item(&account, &item).map(|_| println!("deleted")).map_err(e)
        }
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
                        "  {id}  {}  gen {}  {}",
                        m.role.as_str(),
                        m.identity.generation,
                        m.identity.verification_code()
                    );
                }
            })
            .map_err(e),
        _ => Err("unknown command".into()),
    };
    cli::save_checkpoints(&mut p, &v)?;
    result
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vouchsafe: {e}");
            ExitCode::FAILURE
        }
    }
}
