//! `vouchsafe serve`, `migrate`, `backup`, `restore` and `admin`: running the server and operating it.

use std::path::PathBuf;

use clap::Subcommand;

use crate::config::{Config, LogFormat};

use super::when;

/// The commands of this group (flattened into `vouchsafe`'s own).
#[derive(Subcommand)]
pub enum Command {
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
}

#[derive(Subcommand)]
pub enum AdminOp {
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

/// Runs a command of this group; `config` is the server's configuration file, if given.
pub fn run(cmd: Command, config: Option<&std::path::Path>) -> Result<(), String> {
    match cmd {
        Command::Serve | Command::Migrate => {
            let config = Config::load(config).map_err(|e| e.to_string())?;
            init_logging(config.log_format);
            let migrate_only = matches!(cmd, Command::Migrate);
            let rt = actix_web::rt::System::new();
            rt.block_on(async move {
                if migrate_only {
                    let db = crate::app::connect(&config).await?;
                    crate::app::migrate(&db).await?;
                    println!("migrations applied");
                    Ok(())
                } else {
                    crate::app::serve(config).await
                }
            })
            .map_err(|e| e.to_string())
        }
        Command::Admin { op } => {
            let mut config = Config::load(config).map_err(|e| e.to_string())?;
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
            let config = Config::load(config).map_err(|e| e.to_string())?;
            let bytes = crate::store::backup::backup(&config, &out)?;
            println!("database snapshot written to {} ({bytes} bytes, mode 0600)", out.display());
            println!("Keep a copy of these key files from {} beside it:", config.data_dir.display());
            for (f, what) in crate::store::backup::KEY_FILES {
                println!("  {f}: {what}");
            }
            Ok(())
        }
        Command::Restore { from } => {
            let config = Config::load(config).map_err(|e| e.to_string())?;
            let db = crate::store::backup::restore(&config, &from)?;
            println!(
                "restored {} as {}; copy the key files into {} before `vouchsafe serve`",
                from.display(),
                db.display(),
                config.data_dir.display()
            );
            Ok(())
        }
    }
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

async fn admin(config: Config, op: AdminOp) -> Result<(), String> {
    let state = crate::app::build_state(config, std::sync::Arc::new(crate::state::SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    let done = admin_op(&state, op).await;
    state.limiter.finish(&state.db, state.config.rate_limits.window_secs, state.clock.now()).await;
    crate::store::pool::close(&state.db).await;
    done
}

async fn admin_op(state: &crate::state::AppState, op: AdminOp) -> Result<(), String> {
    use crate::admin;
    let now = state.clock.now();
    let actor = admin::actor();
    let err = |e: crate::error::ApiError| e.to_string();
    match op {
        AdminOp::Users if super::json() => super::print_json(&admin::users(&state.db, now).await.map_err(err)?)?,
        AdminOp::Accounts if super::json() => super::print_json(&admin::accounts(&state.db).await.map_err(err)?)?,
        AdminOp::Events { limit } if super::json() => {
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
            super::print_json(&events)?;
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
