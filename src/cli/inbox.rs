//! `vouchsafe inbox create|show|list|open|file|rm`, `vouchsafe provider add`: an account's
//! inbox, for its members; and `vouchsafe deposit`, for a provider (no vault: just its token
//! and the inbox key's code, pinned).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Subcommand;
use zeroize::Zeroizing;

use super::{clean, explain_err as e};

/// The commands of this group (flattened into `vouchsafe`'s own).
#[derive(Subcommand)]
pub enum Command {
    /// The account's inbox: content third parties deposit, sealed to its inbox key.
    Inbox {
        #[command(subcommand)]
        op: InboxOp,
    },
    /// Providers: who may deposit into an account's inbox.
    Provider {
        #[command(subcommand)]
        op: ProviderOp,
    },
    /// Deposit a record into an account's inbox, as a provider: sealed here to the inbox key
    /// whose code you were given (any other key is refused before anything is sent). The
    /// token comes from `--token-file` or `$VOUCHSAFE_PROVIDER_TOKEN`.
    Deposit {
        /// Server base URL.
        #[arg(long)]
        server: String,
        /// Account id.
        #[arg(long, allow_hyphen_values = true)]
        account: String,
        /// The inbox key's code the account's admin gave you.
        #[arg(long)]
        code: String,
        /// Your id for this deposit (1–64 of A-Z a-z 0-9 - _): a retry with the same id and
        /// content is answered, not stored twice.
        #[arg(long, allow_hyphen_values = true)]
        id: String,
        /// A file holding the provider token.
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Fields: `name=value …` or one JSON object.
        fields: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum InboxOp {
    /// Make the account's (next) inbox key (admins); prints the code to give providers.
    Create {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// The inbox key the verified log endorses, and its code.
    Show {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Deposits waiting.
    List {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
    },
    /// Open a deposited record.
    Open {
        #[command(flatten)]
        at: DepositRef,
    },
    /// File a deposited record as an item (re-encrypted), and take it out of the inbox.
    File {
        #[command(flatten)]
        at: DepositRef,
    },
    /// Take a deposit out of the inbox unfiled.
    Rm {
        #[command(flatten)]
        at: DepositRef,
    },
}

/// One deposit of an account's inbox.
#[derive(clap::Args)]
pub struct DepositRef {
    /// Account id.
    #[arg(allow_hyphen_values = true)]
    account: String,
    /// Provider id.
    #[arg(allow_hyphen_values = true)]
    provider: String,
    /// Deposit id.
    #[arg(allow_hyphen_values = true)]
    deposit: String,
}

#[derive(Subcommand)]
pub enum ProviderOp {
    /// Set up a provider (admins): a token that may only deposit (shown once), and the inbox
    /// key's code to give it beside the token.
    Add {
        /// Account id.
        #[arg(allow_hyphen_values = true)]
        account: String,
        /// Its name (shown beside its deposits and in the audit trail).
        name: String,
        /// Days until the token stops working (default: until revoked).
        #[arg(long)]
        days: Option<u32>,
        /// Also let it send records in plaintext, for the server to seal on arrival (for a
        /// provider that cannot seal; its deposits are marked as seen by the server in transit).
        #[arg(long)]
        plaintext: bool,
    },
}

fn print_record(record: &vouchsafe_crypto::inbox::Record) {
    for (k, v) in record {
        println!("  {} = {}", clean(k), clean(&String::from_utf8_lossy(v)));
    }
}

fn provider_token(file: Option<&PathBuf>) -> Result<Zeroizing<String>, String> {
    let t = match file {
        Some(f) => {
            Zeroizing::new(std::fs::read_to_string(f).map_err(|err| format!("cannot read {}: {err}", f.display()))?)
        }
        None => Zeroizing::new(
            std::env::var("VOUCHSAFE_PROVIDER_TOKEN")
                .map_err(|_| "give the provider token with --token-file or $VOUCHSAFE_PROVIDER_TOKEN".to_owned())?,
        ),
    };
    Ok(Zeroizing::new(t.trim().to_owned()))
}

/// Runs a command of this group.
pub fn run(cmd: Command) -> Result<(), String> {
    if let Command::Deposit { server, account, code, id, token_file, fields } = &cmd {
        let token = provider_token(token_file.as_ref())?;
        let mut c = vouchsafe_client::Client::new(server);
        c.set_access_token(Some(token.to_string()));
        let record: vouchsafe_crypto::inbox::Record =
            super::parse_fields(fields)?.into_iter().map(|(k, v)| (k, Zeroizing::new(v))).collect();
        let r = vouchsafe_client::inbox::deposit_record(&c, account, code, id, &record).map_err(e)?;
        println!("deposited {} (provider {})", clean(&r.id), clean(&r.provider_id));
        return Ok(());
    }
    let mut p = super::Profile::load();
    let mut v = super::vault(&mut p, super::password)?;
    let result = (|| match cmd {
        Command::Inbox { op: InboxOp::Create { account } } => {
            let key = v.create_inbox_key(&account).map_err(e)?;
            println!("inbox key {} created; give providers this code with their token:", key.version);
            println!("{}", key.code(&account).as_str());
            Ok(())
        }
        Command::Inbox { op: InboxOp::Show { account } } => match v.inbox_key(&account).map_err(e)? {
            Some(key) => {
                println!("inbox key {}: {}", key.version, key.code(&account).as_str());
                Ok(())
            }
            None => Err(format!("account {} has no inbox key: `vouchsafe inbox create`", clean(&account))),
        },
        Command::Inbox { op: InboxOp::List { account } } => {
            let mut cursor = None;
            let mut all = Vec::new();
            loop {
                let page = v.deposits(&account, cursor.as_deref(), 500).map_err(e)?;
                all.extend(page.deposits);
                match page.next_cursor {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
            if super::json() {
                return super::print_json(&all);
            }
            for d in &all {
                let transit = if d.sealed_by_server { "  [the server saw it in transit]" } else { "" };
                println!(
                    "{} {}  {}  from {} ({}), {} bytes, {}{transit}",
                    clean(&d.provider_id),
                    clean(&d.id),
                    clean(&d.kind),
                    clean(&d.provider_name),
                    clean(&d.provider_id),
                    d.size,
                    super::when(d.created_at)
                );
            }
            Ok(())
        }
        Command::Inbox { op: InboxOp::Open { at: DepositRef { account, provider, deposit } } } => {
            let (d, record) = v.open_deposit(&account, &provider, &deposit).map_err(e)?;
            if super::json() {
                let fields: BTreeMap<&str, String> =
                    record.iter().map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v).into_owned())).collect();
                return super::print_json(&serde_json::json!({ "deposit": d, "fields": fields }));
            }
            println!("{} from {} ({})", clean(&d.id), clean(&d.provider_name), super::when(d.created_at));
            print_record(&record);
            Ok(())
        }
        Command::Inbox { op: InboxOp::File { at: DepositRef { account, provider, deposit } } } => {
            let item = v.file_deposit(&account, &provider, &deposit).map_err(e)?;
            println!("{}", item.id);
            Ok(())
        }
        Command::Inbox { op: InboxOp::Rm { at: DepositRef { account, provider, deposit } } } => {
            v.client.file_deposit(&account, &provider, &deposit).map_err(e)?;
            println!("deposit {} taken out of the inbox", clean(&deposit));
            Ok(())
        }
        Command::Provider { op: ProviderOp::Add { account, name, days, plaintext } } => {
            use vouchsafe_client::types::{CreateApiTokenRequest, Scope};
            let key = v.inbox_key(&account).map_err(e)?.ok_or_else(|| {
                format!("account {} has no inbox key yet: `vouchsafe inbox create` first", clean(&account))
            })?;
            let mut scopes = vec![Scope::InboxDeposit];
            if plaintext {
                scopes.push(Scope::InboxPlaintext);
            }
            let req = CreateApiTokenRequest { name, scopes, expires_in_days: days };
            let t = v.client.create_token(&account, &req).map_err(e)?;
            if super::json() {
                return super::print_json(&serde_json::json!({
                    "token": t.token.expose(),
                    "provider_id": t.info.id,
                    "account_id": account,
                    "inbox_code": key.code(&account).as_str(),
                }));
            }
            eprintln!("provider {} added; give it these three, its token shown this once:", clean(&t.info.id));
            eprintln!("account: {}", clean(&account));
            eprintln!("inbox key code (inbox key {}): {}", key.version, key.code(&account).as_str());
            println!("{}", t.token.expose());
            Ok(())
        }
        Command::Deposit { .. } => Err("unreachable".into()),
    })();
    super::save_checkpoints(&mut p, &v)?;
    result
}
