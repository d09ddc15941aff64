//! `vouchsafe mfa`: second factors of the signed-in person — list, authenticator-app (TOTP)
//! enrolment and removal, renaming, new recovery codes. Passkeys are enrolled in the dashboard;
//! here they are listed and removed like any factor.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::Subcommand;
use vouchsafe_client::flows;
use vouchsafe_client::types::{SecondFactorInfo, SecondFactorProof, Secret};

use super::{Profile, clean, explain_err, json, print_json, read_line, read_password, signed_in};

/// The commands of this group (flattened into `vouchsafe`'s own).
#[derive(Subcommand)]
pub enum Command {
    /// Second factors: authenticator apps, recovery codes (passkeys: in the dashboard).
    Mfa {
        #[command(subcommand)]
        op: MfaOp,
    },
}

/// A fresh second-factor check, given on the command line or typed when asked.
#[derive(clap::Args)]
pub struct Check {
    /// The authenticator app's current code.
    #[arg(long, conflicts_with = "recovery_code")]
    totp: Option<String>,
    /// One of the recovery codes (each works once).
    #[arg(long)]
    recovery_code: Option<String>,
}

#[derive(Subcommand)]
pub enum MfaOp {
    /// List second factors and the recovery codes left.
    List,
    /// Authenticator apps (TOTP: 6 digits every 30 seconds).
    Totp {
        #[command(subcommand)]
        op: TotpOp,
    },
    /// Rename a factor.
    Rename {
        /// Factor id (from `vouchsafe mfa list`).
        id: String,
        /// The new name.
        name: String,
    },
    /// Remove a factor (any kind), after a fresh check of a factor.
    Remove {
        /// Factor id (from `vouchsafe mfa list`).
        id: String,
        #[command(flatten)]
        check: Check,
    },
    /// Make a new set of recovery codes (the old ones stop working), after a fresh check.
    RecoveryCodes {
        #[command(flatten)]
        check: Check,
    },
}

#[derive(Subcommand)]
pub enum TotpOp {
    /// Enrol an authenticator app: shows the secret and its otpauth:// URI, then asks for the
    /// app's code to confirm (the first factor also gives recovery codes, shown once).
    Enrol {
        /// A name for it ("Phone").
        #[arg(long)]
        name: Option<String>,
        /// The app's code, to confirm without a prompt (only with `--secret-out`).
        #[arg(long, requires = "secret_out")]
        code: Option<String>,
        /// Write the otpauth:// URI to this file (mode 0600) instead of the terminal.
        #[arg(long)]
        secret_out: Option<PathBuf>,
        /// Read the password from this file.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Confirm an enrolment started with `enrol` (its id and the app's current code).
    Confirm {
        /// Factor id.
        id: String,
        /// The app's current code.
        #[arg(long)]
        code: String,
    },
    /// Remove an authenticator app (the only one, or the id given), after a fresh check.
    Remove {
        /// Factor id, when there are several.
        id: Option<String>,
        #[command(flatten)]
        check: Check,
    },
}

/// The proof given on the command line, if any.
pub fn given_proof(totp: Option<String>, recovery_code: Option<String>) -> Option<SecondFactorProof> {
    match (totp, recovery_code) {
        (None, None) => None,
        (t, r) => {
            Some(SecondFactorProof { totp: t.map(Secret::from), recovery_code: r.map(Secret::from), webauthn: None })
        }
    }
}

/// Asks for a second factor at the terminal (6 digits: the app; anything else: a recovery code).
pub fn ask_proof(methods: &[String]) -> Result<SecondFactorProof, String> {
    if !std::io::stdin().is_terminal() {
        return Err("a second factor is needed: give --totp CODE or --recovery-code CODE".into());
    }
    let prompt = if methods.iter().any(|m| m == "recovery_code") {
        "Authenticator code (or a recovery code): "
    } else {
        "Authenticator code: "
    };
    let typed = rpassword::prompt_password(prompt).map_err(|e| format!("cannot read the code: {e}"))?;
    let typed = typed.trim().to_owned();
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        SecondFactorProof { totp: Some(digits.into()), ..Default::default() }
    } else {
        SecondFactorProof { recovery_code: Some(typed.into()), ..Default::default() }
    })
}

fn proof(check: Check) -> Result<SecondFactorProof, String> {
    match given_proof(check.totp, check.recovery_code) {
        Some(p) => Ok(p),
        None => ask_proof(&["totp".into(), "recovery_code".into()]),
    }
}

fn print_factors(list: &[SecondFactorInfo], left: u32) {
    if list.is_empty() {
        println!("no second factor: a password alone signs in (enrol one: vouchsafe mfa totp enrol)");
        return;
    }
    for f in list {
        let kind = match f.kind.as_str() {
            "totp" => "authenticator app",
            "webauthn" => "passkey",
            other => other,
        };
        println!("{}  {kind}  {}", clean(&f.id), clean(&f.name));
    }
    println!("{left} recovery codes left");
}

fn print_codes(codes: &[Secret]) {
    println!("Recovery codes (each works once; keep them where you keep your recovery kit):");
    for c in codes {
        println!("  {}", c.expose());
    }
}

/// Runs a command of this group.
pub fn run(cmd: Command) -> Result<(), String> {
    let Command::Mfa { op } = cmd;
    let mut profile = Profile::load();
    let client = signed_in(&mut profile)?;
    match op {
        MfaOp::List => {
            let l = client.second_factors().map_err(explain_err)?;
            if json() {
                return print_json(&l);
            }
            print_factors(&l.factors, l.recovery_codes_left);
        }
        MfaOp::Totp { op: TotpOp::Enrol { name, code, secret_out, password_file } } => {
            let email = profile.email.clone().ok_or("not signed in: run `vouchsafe login`")?;
            let pw = read_password("Password: ", password_file.as_ref(), "VOUCHSAFE_PASSWORD")?;
            let e = flows::enrol_totp(&client, &email, &pw, name.as_deref()).map_err(explain_err)?;
            match &secret_out {
                Some(path) => {
                    super::write_private(path, &format!("{}\n", e.otpauth_uri.expose()))?;
                    println!("otpauth:// URI written to {} (add it to the app, then delete the file)", path.display());
                }
                None => {
                    println!(
                        "Add this to your authenticator app (as a setup key, time-based):\n  {}",
                        e.secret.expose()
                    );
                    println!("or as a URI:\n  {}", e.otpauth_uri.expose());
                }
            }
            let code = match code {
                Some(c) => c,
                None if std::io::stdin().is_terminal() => {
                    eprint!("The code the app shows now: ");
                    read_line()?.trim().to_owned()
                }
                None => {
                    println!("confirm it with: vouchsafe mfa totp confirm {} --code CODE", e.id);
                    return Ok(());
                }
            };
            confirm(&client, &e.id, &code)?;
        }
        MfaOp::Totp { op: TotpOp::Confirm { id, code } } => confirm(&client, &id, &code)?,
        MfaOp::Totp { op: TotpOp::Remove { id, check } } => {
            let id = match id {
                Some(id) => id,
                None => {
                    let apps: Vec<_> = client
                        .second_factors()
                        .map_err(explain_err)?
                        .factors
                        .into_iter()
                        .filter(|f| f.kind == "totp")
                        .collect();
                    match apps.as_slice() {
                        [one] => one.id.clone(),
                        [] => return Err("no authenticator app is enrolled".into()),
                        _ => return Err("several authenticator apps: give the id (vouchsafe mfa list)".into()),
                    }
                }
            };
            client.remove_factor(&id, &proof(check)?).map_err(explain_err)?;
            println!("removed; an e-mail tells you so");
        }
        MfaOp::Rename { id, name } => {
            client.rename_factor(&id, &name).map_err(explain_err)?;
            println!("renamed");
        }
        MfaOp::Remove { id, check } => {
            client.remove_factor(&id, &proof(check)?).map_err(explain_err)?;
            println!("removed; an e-mail tells you so");
        }
        MfaOp::RecoveryCodes { check } => {
            let r = client.new_recovery_codes(&proof(check)?).map_err(explain_err)?;
            print_codes(&r.recovery_codes);
        }
    }
    Ok(())
}

fn confirm(client: &vouchsafe_client::Client, id: &str, code: &str) -> Result<(), String> {
    let c = client.confirm_factor(id, code).map_err(explain_err)?;
    println!("authenticator app \u{201c}{}\u{201d} enrolled: sign-ins now ask for its code", clean(&c.factor.name));
    if !c.recovery_codes.is_empty() {
        print_codes(&c.recovery_codes);
    }
    Ok(())
}
