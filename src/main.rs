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
    }
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
