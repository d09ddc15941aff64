//! `vouchsafe item put|get|list|edit|rm|upgrade`: the items of an account.

use clap::Subcommand;

/// The commands of this group (flattened into `vouchsafe`'s own).
#[derive(Subcommand)]
pub enum Command {
    /// Encrypted items.
    Item {
        #[command(subcommand)]
        op: ItemOp,
    },
}

#[derive(Subcommand)]
pub enum ItemOp {
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

/// Runs a command of this group.
pub fn run(cmd: Command) -> Result<(), String> {
    use super::explain_err as e;
    let mut p = super::Profile::load();
    let mut v = super::vault(&mut p, super::password)?;
    let result = match cmd {
        Command::Item { op: ItemOp::Put { account, fields } } => {
            let f = super::parse_fields(&fields)?;
            v.create_item(&account, &f).map(|w| println!("{}", w.id)).map_err(e)
        }
        Command::Item { op: ItemOp::Get { account, item } } => {
            v.get_item(&account, &item).map(|i| super::print_item(&i)).map_err(e)
        }
        Command::Item { op: ItemOp::List { account } } => (|| {
            let mut cursor = None;
            let mut all = Vec::new();
            loop {
                let (items, next) = v.list_items(&account, cursor.as_deref(), 100).map_err(e)?;
                if super::json() {
                    all.extend(items.iter().map(super::item_json));
                } else {
                    items.iter().for_each(super::print_item);
                }
                match next {
                    Some(n) => cursor = Some(n),
                    None if super::json() => return super::print_json(&all),
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
                    super::clean(&item),
                    super::clean(&account)
                ));
            }
            let mut all: std::collections::BTreeMap<String, Vec<u8>> =
                current.fields.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect();
            all.extend(super::parse_fields(&fields)?);
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
    };
    super::save_checkpoints(&mut p, &v)?;
    result
}
