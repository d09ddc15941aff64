//! The `vouchsafe` binary: `serve`, `migrate`, and the client subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vouchsafe::config::{Config, LogFormat};
use vouchsafe::{app, cli};
use vouchsafe_client::vault;
use vouchsafe_crypto::kdf::KdfParams;

#[derive(Parser)]
#[command(name = "vouchsafe", version, about = "End-to-end-encrypted team vault with social recovery")]
struct Args {
    /// Server configuration file (TOML) for `serve` and `migrate`.
    #[arg(long, global = true, env = "VOUCHSAFE_CONFIG")]
    config: Option<PathBuf>,
    /// Print listings as JSON (one document on stdout; strings escaped, for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum AdminOp {
    /// Every user: accounts, live sessions, last activity, disabled or not.
    Users,
    /// Every account: members, items, last activity.
    Accounts,
    /// Disable a user (by id or e-mail): their sessions end at once, sign-in and e-mailed links
    /// are refused until `enable-user`. Keys, memberships and data are untouched.
    DisableUser {
        /// User id or e-mail.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Re-enable a disabled user.
    EnableUser {
        /// User id or e-mail.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Delete a user who belongs to no account (their team admins remove them first).
    DeleteUser {
        /// User id or e-mail.
        #[arg(allow_hyphen_values = true)]
        user: String,
    },
    /// Delete an account that holds no items.
    DeleteAccount {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Send a pending invitation again, with a new link (the old one stops working).
    ResendInvitation {
        /// Invitation id (`vouchsafe invitations ACCOUNT` shows it to the team's admins).
        #[arg(allow_hyphen_values = true)]
        invitation: String,
    },
    /// The operator trail, newest first.
    Events {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Run database migrations and exit.
    Migrate,
    /// Write a consistent snapshot of the SQLite database to a new file (mode 0600) while the
    /// server runs; for PostgreSQL, print the pg_dump recipe. Back up the key files beside it.
    Backup {
        /// The file to create (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Operators' tasks on the server's database, with no key power: list users and accounts,
    /// disable or re-enable a user, delete a user or an empty account, resend an invitation.
    /// Every action is recorded (`admin events`, and the account's audit trail).
    Admin {
        #[command(subcommand)]
        op: AdminOp,
    },
    /// Restore a snapshot from `backup` as the configured database, in a fresh data folder.
    Restore {
        /// The snapshot.
        #[arg(long)]
        from: PathBuf,
    },
    /// Create a user (the password never leaves this machine).
    Register(Credentials),
    /// Sign in; stores the server URL and tokens (never keys) in the profile.
    Login(Credentials),
    /// End this session.
    Logout,
    /// Unlock the keys once and print a session key for the shell (`eval "$(vouchsafe unlock)"`):
    /// later commands read `VOUCHSAFE_SESSION` instead of asking for the password (no Argon2id
    /// each time). The keyring is kept sealed under that key beside the profile (mode 0600) until
    /// it expires or `vouchsafe lock`.
    Unlock {
        /// Minutes the session lasts (1 to 1440).
        #[arg(long, default_value_t = 60)]
        minutes: u64,
        /// Read the password from this file.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// End the unlocked session (`vouchsafe unlock`): the sealed keyring is deleted.
    Lock,
    /// Show the signed-in user and their verification code (computed from the keys this device
    /// unlocked at sign-in, never taken from the server).
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
    /// The account's recovery policy.
    Policy {
        #[command(subcommand)]
        op: PolicyOp,
    },
    /// Backend workers.
    Worker {
        #[command(subcommand)]
        op: WorkerOp,
    },
    /// The audit trail of an account (admins).
    Audit {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
}

#[derive(Subcommand)]
enum WorkerOp {
    /// Make a worker key pair (on the worker's machine); writes the key file with mode 0600.
    Init {
        /// Key file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Grant a worker (admins): compare the code `worker init` printed.
    Grant {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Worker id.
        #[arg(allow_hyphen_values = true)]
        worker: String,
        /// The worker's public keys (as printed by `worker init`).
        #[arg(long)]
        public_keys: String,
        /// A name for people.
        #[arg(long, default_value = "worker")]
        name: String,
        /// Also allow writing items.
        #[arg(long)]
        write: bool,
        /// The code `worker init` printed (otherwise you are asked).
        #[arg(long)]
        code: Option<String>,
    },
    /// Revoke a worker (then run `rotate`).
    Revoke {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Worker id.
        #[arg(allow_hyphen_values = true)]
        worker: String,
    },
    /// List an account's workers.
    List {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
}

#[derive(Subcommand)]
enum ResetOp {
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
enum VouchOp {
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
enum RecoveryOp {
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
enum GuardianOp {
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

#[derive(Subcommand)]
enum PolicyOp {
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
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
}

#[derive(Subcommand)]
enum ItemOp {
    /// Create an item: `name=value …` or one JSON object.
    Put {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Fields.
        fields: Vec<String>,
    },
    /// Show an item.
    Get {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Item id.
        #[arg(allow_hyphen_values = true)]
        item: String,
    },
    /// List items.
    List {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Replace an item's fields (keeps fields you do not name).
    Edit {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Item id.
        #[arg(allow_hyphen_values = true)]
        item: String,
        /// Fields.
        fields: Vec<String>,
    },
    /// Delete an item.
    Rm {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Item id.
        #[arg(allow_hyphen_values = true)]
        item: String,
    },
    /// Rewrite every item still in the legacy field format (which binds neither the revision
    /// nor the set of fields) in the current, bound format.
    Upgrade {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
}

#[derive(Subcommand)]
enum LogOp {
    /// Verify the whole team log and print its state.
    Verify {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
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

/// The token from a link (`…#token=XYZ`) or the bare token.
fn token_of(s: &str) -> &str {
    s.rsplit("token=").next().unwrap_or(s).trim()
}

fn password() -> Result<zeroize::Zeroizing<String>, String> {
    cli::read_password("Password (to unlock your keys): ", None, "VOUCHSAFE_PASSWORD")
}

fn run(args: Args) -> Result<(), String> {
    cli::set_json(args.json);
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
        Command::Admin { op } => {
            let mut config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
            // The server's own schema and keys, never new ones: mail this sends must be readable
            // by the server that delivers it.
            config.migrate_on_start = false;
            let outbox_key = config.outbox_key_file.clone().unwrap_or_else(|| config.data_dir.join("outbox.key"));
            if !outbox_key.exists() {
                return Err(format!(
                    "{} not found: run `vouchsafe admin` with the server's configuration and data folder",
                    outbox_key.display()
                ));
            }
            actix_web::rt::System::new().block_on(admin(config, op))
        }
        Command::Backup { out } => {
            let config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
            let bytes = vouchsafe::store::backup::backup(&config, &out)?;
            println!("database snapshot written to {} ({bytes} bytes, mode 0600)", out.display());
            println!("Keep a copy of these key files from {} beside it:", config.data_dir.display());
            for (f, what) in vouchsafe::store::backup::KEY_FILES {
                println!("  {f}: {what}");
            }
            Ok(())
        }
        Command::Restore { from } => {
            let config = Config::load(args.config.as_deref()).map_err(|e| e.to_string())?;
            let db = vouchsafe::store::backup::restore(&config, &from)?;
            println!(
                "restored {} as {}; copy the key files into {} before `vouchsafe serve`",
                from.display(),
                db.display(),
                config.data_dir.display()
            );
            Ok(())
        }
        Command::Register(Credentials { server, email, password_file }) => {
            let pw = cli::read_new_password("New password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            cli::register(&server, &email, &pw, kdf_params())
        }
        Command::Login(Credentials { server, email, password_file }) => {
            let pw = cli::read_password("Password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            cli::login(&server, &email, &pw)
        }
        Command::Logout => cli::logout(),
        Command::Unlock { minutes, password_file } => {
            let pw = cli::read_password("Password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            cli::unlock(&pw, minutes)
        }
        Command::Lock => cli::lock(),
        Command::Whoami => cli::whoami(),
        Command::Sessions { revoke } => cli::sessions(revoke.as_deref()),
        Command::Password {
            op: PasswordOp::Change { end_other_sessions, current_password_file, new_password_file },
        } => {
            let cur = cli::read_password("Current password: ", current_password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            let new = cli::read_new_password("New password: ", new_password_file.as_ref(), "VOUCHSAFE_NEW_PASSWORD")?;
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
            use cli::clean;
            let accounts = cli::signed_in(&mut p)?.accounts().map_err(e)?;
            if cli::json() {
                return cli::print_json(&accounts);
            }
            for a in accounts {
                println!("{}  {}  ({}, {})", clean(&a.id), clean(&a.name), clean(&a.role), clean(&a.status));
            }
            return Ok(());
        }
        Command::Account { op: AccountOp::Show { account } } => {
            let a = cli::signed_in(&mut p)?.account(account).map_err(e)?;
            use cli::clean;
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
            cli::role(role)?;
            let i = cli::signed_in(&mut p)?.invite(account, email, role).map_err(e)?;
            use cli::clean;
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
            let c = cli::signed_in(&mut p)?;
            if let Some(id) = revoke {
                c.revoke_invitation(account, id).map_err(e)?;
                println!("invitation {id} revoked");
            } else {
                use cli::clean;
                let invitations = c.invitations(account).map_err(e)?;
                if cli::json() {
                    return cli::print_json(&invitations);
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
            let c = cli::signed_in(&mut p)?;
            let r = c.accept_invitation(t).map_err(e)?;
            // The code comes from the keys this device unlocked at sign-in, not from the server.
            println!(
                "accepted: account {}. Read this code to the admin who confirms you:\n  {}",
                cli::clean(&r.account_id),
                mine.verification_code()
            );
            if let Ok(me) = c.me() {
                cli::warn_if_server_disagrees(&me, &mine);
            }
            return Ok(());
        }
        Command::Members { account } => {
            let c = cli::signed_in(&mut p)?;
            let listed = c.members(account).map_err(e)?;
            return cli::print_judged(&p, &c, account, |state| vault::judge_members(state, &listed), true);
        }
        _ => {}
    }
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
            let pw = cli::read_new_password("New password: ", None, "VOUCHSAFE_NEW_PASSWORD")?;
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
                k.public().verification_code()
            );
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
                    Some(cli::read_line()?)
                }
                (_, x) => x.clone(),
            };
            let pw = cli::read_new_password("New password: ", None, "VOUCHSAFE_NEW_PASSWORD")?;
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
            let k = cli::signed_in(&mut p)?.kit().map_err(e)?;
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
        Command::Worker { op: WorkerOp::Init { out } } => {
            let k = vouchsafe_client::worker::WorkerKey::generate().map_err(e)?;
            k.save(out).map_err(e)?;
            println!(
                "worker key written to {} (mode 0600)\nworker id:   {}\npublic keys: {}\ncode:        {}\nGive the id, public keys and code to an admin of the account.",
                out.display(),
                k.worker_id(),
                vouchsafe_crypto::b64::encode(&k.public().keys_to_bytes()),
                k.public().verification_code()
            );
            return Ok(());
        }
        Command::Worker { op: WorkerOp::List { account } } => {
            let c = cli::signed_in(&mut p)?;
            let listed = c.workers(account).map_err(e)?;
            return cli::print_judged(&p, &c, account, |state| vault::judge_workers(state, &listed), false);
        }
        Command::Audit { account } => {
            use cli::clean;
            let events = cli::signed_in(&mut p)?.audit(account).map_err(e)?;
            if cli::json() {
                return cli::print_json(&events);
            }
            for a in events {
                println!(
                    "{}  {} {}  {}  {} items",
                    a.created_at,
                    clean(&a.actor_kind),
                    clean(&a.actor_id),
                    clean(&a.action),
                    a.item_count
                );
            }
            return Ok(());
        }
        Command::Guardian { op: GuardianOp::List } => {
            use cli::clean;
            let requests = cli::signed_in(&mut p)?.guardian_requests().map_err(e)?;
            if cli::json() {
                return cli::print_json(&requests);
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
    let mut v = cli::vault(&mut p, password)?;
    let result = match cmd {
        Command::Account { op: AccountOp::Create { name } } => {
            v.create_account(&name).map(|a| println!("created account {} ({})", a.id, a.name)).map_err(e)
        }
        Command::Confirm { account, user, role, code } => (|| {
            use cli::clean;
            let (info, _) = v.pending_identity(&account, &user).map_err(e)?;
            // The role signed into the log is the admin's choice; the server's list only suggests.
            let role = match role {
                Some(r) => cli::role(&r)?,
                None => {
                    println!(
                        "Confirm {} ({}). The server says they were invited as {}; type the role you grant \
                         (owner, admin or member):",
                        clean(&info.email),
                        clean(&info.user_id),
                        clean(&info.role)
                    );
                    cli::role(cli::read_line()?.trim())?
                }
            };
            let code = match code {
                Some(c) => c,
                None => {
                    println!("Ask them to read their verification code to you (call or in person), and type it:");
                    cli::read_line()?
                }
            };
            v.confirm(&account, &user, role, &code).map_err(e)?;
            println!(
                "confirmed {} as {}: the account key is sealed to their verified keys",
                clean(&info.email),
                role.as_str()
            );
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
            let mut all = Vec::new();
            loop {
                let (items, next) = v.list_items(&account, cursor.as_deref(), 100).map_err(e)?;
                if cli::json() {
                    all.extend(items.iter().map(cli::item_json));
                } else {
                    items.iter().for_each(cli::print_item);
                }
                match next {
                    Some(n) => cursor = Some(n),
                    None if cli::json() => return cli::print_json(&all),
                    None => return Ok(()),
                }
            }
        })(),
        Command::Item { op: ItemOp::Edit { account, item, fields } } => (|| {
            let current = v.get_item(&account, &item).map_err(e)?;
            if current.legacy {
                return Err(format!(
                    "item {} is in the legacy format, whose set of fields cannot be verified: check it with \
                     `vouchsafe item get`, then run `vouchsafe item upgrade {}` before editing",
                    cli::clean(&item),
                    cli::clean(&account)
                ));
            }
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
        Command::Item { op: ItemOp::Upgrade { account } } => {
            v.upgrade_items(&account, 100).map(|n| println!("{n} items rewritten in the bound format")).map_err(e)
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
                        "  {}  {}  gen {}  {}",
                        cli::clean(id),
                        m.role.as_str(),
                        m.identity.generation,
                        m.identity.verification_code()
                    );
                }
                cli::warn_reset_not_made_here(&v, &state, &account);
            })
            .map_err(e),
        Command::Vouch { op: VouchOp::List { account } } => {
            v.verified_log(&account).map_err(e).and_then(|(_, state)| {
                let pending = vouchsafe_client::vault::Vault::pending_resets_in(&state);
                if cli::json() {
                    let rows: Vec<serde_json::Value> = pending
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "user_id": r.user_id,
                                "generation": r.new_identity.generation,
                                "replaces_generation": r.replaces_generation,
                                "code": r.code.to_string(),
                                "vouches": r.vouchers.len(),
                                "needed": r.needed,
                                "vetoed": r.vetoed,
                                "unconfirmed": r.unconfirmed,
                            })
                        })
                        .collect();
                    cli::print_json(&rows)?;
                    cli::warn_reset_not_made_here(&v, &state, &account);
                    return Ok(());
                }
                for r in pending {
                    println!(
                        "{}  new keys (generation {} replacing {})  code {}  vouches {}/{}{}{}",
                        cli::clean(&r.user_id),
                        r.new_identity.generation,
                        r.replaces_generation,
                        r.code,
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
                cli::warn_reset_not_made_here(&v, &state, &account);
                Ok(())
            })
        }
        Command::Vouch { op: VouchOp::Approve { account, user, code } } => (|| {
            let code = match code {
                Some(c) => c,
                None => {
                    println!(
                        "Call or meet the member. Ask them to read the verification code on their screen, and type it:"
                    );
                    cli::read_line()?
                }
            };
            let restored = v.vouch(&account, &user, &code).map_err(e)?;
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
                cli::clean(&req.owner_email),
                owner.verification_code()
            );
            let code = match code {
                Some(c) => c,
                None => {
                    println!(
                        "Call {}. Ask for the device code on their recovery screen, and type it:",
                        cli::clean(&req.owner_email)
                    );
                    cli::read_line()?
                }
            };
            vouchsafe_client::recovery::release_as_guardian(&v.client, &v.keyring, &req, &owner, &code).map_err(e)?;
            println!("share released to {}'s device", cli::clean(&req.owner_email));
            Ok(())
        })(),
        Command::Policy { op: PolicyOp::Show { account } } => v
            .policy(&account)
            .map(|p| {
                println!(
                    "vouch quorum {}; waiting period {} s; vouchers: {}; admin signatures for policy and workers: {}",
                    p.vouch_quorum,
                    p.waiting_period_secs,
                    if p.vouchers == vouchsafe_crypto::log::VoucherRule::AdminsOnly { "admins" } else { "any member" },
                    p.admin_approvals
                )
            })
            .map_err(e),
        Command::Policy { op: PolicyOp::Set { account, quorum, waiting_secs, admins_only } } => (|| {
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
            v.set_policy(&account, p).map_err(e)?;
            println!("policy changed");
            Ok(())
        })(),
        Command::Worker { op: WorkerOp::Grant { account, worker, public_keys, name, write, code } } => (|| {
            let keys = vouchsafe_crypto::b64::decode(&public_keys, 100).map_err(|err| err.to_string())?;
            let identity = vouchsafe_crypto::identity::PublicIdentity::keys_from_bytes(&worker, &keys)
                .map_err(|err| err.to_string())?;
            let code = match code {
                Some(c) => c,
                None => {
                    println!("Type the code that `vouchsafe worker init` printed on the worker's machine:");
                    cli::read_line()?
                }
            };
            let access = if write {
                vouchsafe_crypto::log::WorkerAccess::ReadWrite
            } else {
                vouchsafe_crypto::log::WorkerAccess::Read
            };
            v.grant_worker(&account, &name, &identity, access, &code, &[]).map_err(e)?;
            println!("worker {worker} granted ({})", if write { "read-write" } else { "read" });
            Ok(())
        })(),
        Command::Worker { op: WorkerOp::Revoke { account, worker } } => v
            .revoke_worker(&account, &worker)
            .map(|_| println!("revoked; now run `vouchsafe rotate {account}`"))
            .map_err(e),
        _ => Err("unknown command".into()),
    };
    cli::save_checkpoints(&mut p, &v)?;
    result
}

/// `YYYY-MM-DD HH:MM` UTC from Unix seconds (no time-zone database needed).
fn when(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

async fn admin(config: Config, op: AdminOp) -> Result<(), String> {
    let state = app::build_state(config, std::sync::Arc::new(vouchsafe::state::SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    let done = admin_op(&state, op).await;
    state.limiter.finish(&state.db, state.config.rate_limits.window_secs, state.clock.now()).await;
    vouchsafe::store::pool::close(&state.db).await;
    done
}

async fn admin_op(state: &vouchsafe::state::AppState, op: AdminOp) -> Result<(), String> {
    use vouchsafe::admin;
    let now = state.clock.now();
    let actor = admin::actor();
    let err = |e: vouchsafe::error::ApiError| e.to_string();
    match op {
        AdminOp::Users if cli::json() => cli::print_json(&admin::users(&state.db, now).await.map_err(err)?)?,
        AdminOp::Accounts if cli::json() => cli::print_json(&admin::accounts(&state.db).await.map_err(err)?)?,
        AdminOp::Events { limit } if cli::json() => {
            let events: Vec<serde_json::Value> = admin::events(&state.db, limit.clamp(1, 10_000))
                .await
                .map_err(err)?
                .into_iter()
                .map(|e| {
                    serde_json::json!({
                        "created_at": e.created_at,
                        "actor": e.actor,
                        "action": e.action,
                        "target": e.target,
                        "detail": e.detail,
                    })
                })
                .collect();
            cli::print_json(&events)?;
        }
        AdminOp::Users => {
            println!(
                "{:<24} {:<32} {:>8} {:>8}  {:<16}  status",
                "id", "email", "accounts", "sessions", "last active (UTC)"
            );
            for u in admin::users(&state.db, now).await.map_err(err)? {
                let status = u.disabled_at.map_or_else(|| "active".to_owned(), |t| format!("disabled {}", when(t)));
                println!(
                    "{:<24} {:<32} {:>8} {:>8}  {:<16}  {status}",
                    u.id,
                    u.email,
                    u.accounts,
                    u.sessions,
                    when(u.last_active)
                );
            }
        }
        AdminOp::Accounts => {
            println!("{:<24} {:<28} {:>7} {:>7}  last active (UTC)", "id", "name", "members", "items");
            for a in admin::accounts(&state.db).await.map_err(err)? {
                println!("{:<24} {:<28} {:>7} {:>7}  {}", a.id, a.name, a.members, a.items, when(a.last_active));
            }
        }
        AdminOp::DisableUser { user } => {
            let u = admin::disable_user(state, &user, &actor, now).await.map_err(err)?;
            println!("disabled {} ({}); their sessions have ended", u.email, u.id);
        }
        AdminOp::EnableUser { user } => {
            let u = admin::enable_user(state, &user, &actor, now).await.map_err(err)?;
            println!("re-enabled {} ({})", u.email, u.id);
        }
        AdminOp::DeleteUser { user } => {
            let u = admin::delete_user(state, &user, &actor, now).await.map_err(err)?;
            println!("deleted {} ({})", u.email, u.id);
        }
        AdminOp::DeleteAccount { account } => {
            let a = admin::delete_account(state, &account, &actor, now).await.map_err(err)?;
            println!("deleted account {} ({})", a.name, a.id);
        }
        AdminOp::ResendInvitation { invitation } => {
            let (inv, account) = admin::resend_invitation(state, &invitation, &actor, now).await.map_err(err)?;
            println!(
                "invitation to {} for {account} sent again (queued; the running server delivers it), valid until {} UTC",
                inv.email,
                when(inv.expires_at)
            );
        }
        AdminOp::Events { limit } => {
            for e in admin::events(&state.db, limit.clamp(1, 10_000)).await.map_err(err)? {
                println!("{}  {:<20} {:<18} {} {}", when(e.created_at), e.actor, e.action, e.target, e.detail);
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn ids_may_begin_with_a_hyphen() {
        // Random base64url ids begin with `-` one time in 64.
        let a = Args::try_parse_from(["vouchsafe", "item", "get", "-Wq3x9", "-Ab_c"]).unwrap();
        assert!(matches!(a.command, Command::Item { op: ItemOp::Get { ref account, ref item } }
            if account == "-Wq3x9" && item == "-Ab_c"));
        let a = Args::try_parse_from(["vouchsafe", "admin", "enable-user", "-Wq3x9"]).unwrap();
        assert!(matches!(a.command, Command::Admin { op: AdminOp::EnableUser { ref user } } if user == "-Wq3x9"));
        // Options still parse as options.
        assert!(Args::try_parse_from(["vouchsafe", "invite", "-acct", "a@example.com", "--role", "admin"]).is_ok());
    }
}
