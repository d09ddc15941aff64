//! `vouchsafe register`, `login`, `logout`, `unlock`, `lock`, `whoami`, `sessions` and `password`:
//! signing in and out, the shell's session key, the password.

use std::path::PathBuf;

use clap::Subcommand;

use super::kdf_params;

/// The commands of this group (flattened into `vouchsafe`'s own).
#[derive(Subcommand)]
pub enum Command {
    /// Create a user (the password never leaves this machine).
    Register(Credentials),
    /// Sign in; stores the server URL and tokens (never keys) in the profile. With a second
    /// factor enrolled, give `--totp` (or `--recovery-code`), or type it when asked.
    Login {
        #[command(flatten)]
        who: Credentials,
        /// The authenticator app's current code.
        #[arg(long, conflicts_with = "recovery_code")]
        totp: Option<String>,
        /// One of the second-factor recovery codes (each works once).
        #[arg(long)]
        recovery_code: Option<String>,
    },
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
}

/// Who signs in, where.
#[derive(clap::Args)]
pub struct Credentials {
    /// Server URL.
    #[arg(long, env = "VOUCHSAFE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Email.
    #[arg(long)]
    pub email: String,
    /// Read the password from this file instead of a prompt (or set VOUCHSAFE_PASSWORD).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum PasswordOp {
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

/// Runs a command of this group.
pub fn run(cmd: Command) -> Result<(), String> {
    match cmd {
        Command::Register(Credentials { server, email, password_file }) => {
            let pw = super::read_new_password("New password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            super::register(&server, &email, &pw, kdf_params())
        }
        Command::Login { who: Credentials { server, email, password_file }, totp, recovery_code } => {
            let pw = super::read_password("Password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            super::login(&server, &email, &pw, super::mfa::given_proof(totp, recovery_code))
        }
        Command::Logout => super::logout(),
        Command::Unlock { minutes, password_file } => {
            let pw = super::read_password("Password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            super::unlock(&pw, minutes)
        }
        Command::Lock => super::lock(),
        Command::Whoami => super::whoami(),
        Command::Sessions { revoke } => super::sessions(revoke.as_deref()),
        Command::Password {
            op: PasswordOp::Change { end_other_sessions, current_password_file, new_password_file },
        } => {
            let cur = super::read_password("Current password: ", current_password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            let new = super::read_new_password("New password: ", new_password_file.as_ref(), "VOUCHSAFE_NEW_PASSWORD")?;
            super::password_change(&cur, &new, end_other_sessions, kdf_params())
        }
    }
}
