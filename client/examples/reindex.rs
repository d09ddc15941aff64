//! An example backend worker: reads every record of its account and prints a summary (how many
//! records, which fields, total plaintext size). Nothing is written anywhere.
//!
//! ```sh
//! vouchsafe worker init --out worker.key          # on the worker's machine; prints id, keys, code
//! vouchsafe worker grant ACCOUNT … --code …       # an admin, after comparing the code
//! VOUCHSAFE_SERVER=https://vault.example.com cargo run -p vouchsafe-client --example reindex -- worker.key
//! ```
//! The key may also come from `$VOUCHSAFE_WORKER_KEY` (the file's contents, e.g. a mounted secret).

use std::collections::BTreeMap;

use vouchsafe_client::worker::{Worker, WorkerKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("VOUCHSAFE_SERVER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let path = std::env::args().nth(1).map(std::path::PathBuf::from);
    let key = WorkerKey::load(path.as_deref())?;
    let mut worker = Worker::connect(&server, key)?;
    let account = worker.account_id().to_owned();
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
