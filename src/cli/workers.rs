//! `vouchsafe worker init|list|grant|revoke`: backend workers.

use std::path::PathBuf;

use clap::Subcommand;

/// The commands of this group (flattened into `vouchsafe`'s own).
#[derive(Subcommand)]
pub enum Command {
    /// Backend workers.
    Worker {
        #[command(subcommand)]
        op: WorkerOp,
    },
}

#[derive(Subcommand)]
pub enum WorkerOp {
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

/// Runs a command of this group.
pub fn run(cmd: Command) -> Result<(), String> {
    use super::explain_err as e;
    let mut p = super::Profile::load();
    match &cmd {
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
            let c = super::signed_in(&mut p)?;
            let listed = c.workers(account).map_err(e)?;
            return super::print_judged(
                &p,
                &c,
                account,
                |state| vouchsafe_client::vault::judge_workers(state, &listed),
                false,
            );
        }
        _ => {}
    }
    let mut v = super::vault(&mut p, super::password)?;
    let result = match cmd {
        Command::Worker { op: WorkerOp::Grant { account, worker, public_keys, name, write, code } } => (|| {
            let keys = vouchsafe_crypto::b64::decode(&public_keys, 100).map_err(|err| err.to_string())?;
            let identity = vouchsafe_crypto::identity::PublicIdentity::keys_from_bytes(&worker, &keys)
                .map_err(|err| err.to_string())?;
            let code = match code {
                Some(c) => c,
                None => {
                    println!("Type the code that `vouchsafe worker init` printed on the worker's machine:");
                    super::read_line()?
                }
            };
            let access = if write {
                vouchsafe_crypto::log::WorkerAccess::ReadWrite
            } else {
                vouchsafe_crypto::log::WorkerAccess::Read
            };
            if v.policy(&account).map_err(e)?.admin_approvals > 1 {
                let r = v.propose_worker_grant(&account, &name, &identity, access, &code, None).map_err(e)?;
                super::print_proposed(&account, &r);
                return Ok(());
            }
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
    super::save_checkpoints(&mut p, &v)?;
    result
}
