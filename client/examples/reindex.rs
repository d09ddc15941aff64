//! An example backend worker: reads every record of its account and prints a summary (how many
//! records, which fields, total plaintext size). Nothing is written anywhere — unless it is run
//! with `--import-inbox` (a worker granted read-write), when it first files every record waiting
//! in the account's inbox as an item.
//!
//! ```sh
//! vouchsafe worker init --out worker.key          # on the worker's machine; prints id, keys, code
//! vouchsafe worker grant ACCOUNT … --code …       # an admin, after comparing the code
//! VOUCHSAFE_SERVER=https://vault.example.com cargo run -p vouchsafe-client --example reindex -- worker.key
//! VOUCHSAFE_SERVER=… cargo run -p vouchsafe-client --example reindex -- worker.key --import-inbox
//! ```
//! The key may also come from `$VOUCHSAFE_WORKER_KEY` (the file's contents, e.g. a mounted secret).

use std::collections::BTreeMap;

use vouchsafe_client::worker::{Worker, WorkerKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("VOUCHSAFE_SERVER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let import = args.iter().any(|a| a == "--import-inbox");
    let path = args.iter().find(|a| !a.starts_with("--")).map(std::path::PathBuf::from);
    let key = WorkerKey::load(path.as_deref())?;
    let mut worker = Worker::connect(&server, key)?;
    let account = worker.account_id().to_owned();
    if import {
        let report = worker.import_inbox(&mut |_| {})?;
        println!("inbox: {} deposits filed as items, {} left", report.items.len(), report.left.len());
        for (provider, id, why) in &report.left {
            println!("  left {provider}/{id}: {why}");
        }
    }
    let (mut records, mut bytes) = (0u64, 0usize);
    let mut fields: BTreeMap<String, u64> = BTreeMap::new();
    for item in worker.records(200) {
        let item = item?;
        records += 1;
        for (name, value) in &item.fields {
            *fields.entry(name.clone()).or_default() += 1;
            bytes += value.len();
        }
    }
    println!("account {account}: {records} records, {bytes} bytes of field data");
    for (name, n) in fields {
        println!("  {name}: {n}");
    }
    Ok(())
}
