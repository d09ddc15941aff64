//! The `vouchsafe` binary: `serve`, `migrate`, `admin`, and the client subcommands (one module
//! per command group in `vouchsafe::cli`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vouchsafe::cli;

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

/// Every command, by group.
#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Server(cli::server::Command),
    #[command(flatten)]
    Session(cli::session::Command),
    #[command(flatten)]
    Team(cli::team::Command),
    #[command(flatten)]
    Items(cli::items::Command),
    #[command(flatten)]
    Inbox(cli::inbox::Command),
    #[command(flatten)]
    Recovery(cli::recovery::Command),
    #[command(flatten)]
    Workers(cli::workers::Command),
    #[command(flatten)]
    Mfa(cli::mfa::Command),
}

fn run(args: Args) -> Result<(), String> {
    cli::set_json(args.json);
    match args.command {
        Command::Server(c) => cli::server::run(c, args.config.as_deref()),
        Command::Session(c) => cli::session::run(c),
        Command::Team(c) => cli::team::run(c),
        Command::Items(c) => cli::items::run(c),
        Command::Inbox(c) => cli::inbox::run(c),
        Command::Recovery(c) => cli::recovery::run(c),
        Command::Workers(c) => cli::workers::run(c),
        Command::Mfa(c) => cli::mfa::run(c),
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

#[cfg(test)]
mod tests {
    use clap::Parser;
    use vouchsafe::cli::{items, server};

    use super::*;

    #[test]
    fn ids_may_begin_with_a_hyphen() {
        // Random base64url ids begin with `-` one time in 64.
        let a = Args::try_parse_from(["vouchsafe", "item", "get", "-Wq3x9", "-Ab_c"]).unwrap();
        assert!(
            matches!(a.command, Command::Items(items::Command::Item { op: items::ItemOp::Get { ref account, ref item } })
            if account == "-Wq3x9" && item == "-Ab_c")
        );
        let a = Args::try_parse_from(["vouchsafe", "admin", "enable-user", "-Wq3x9"]).unwrap();
        assert!(
            matches!(a.command, Command::Server(server::Command::Admin { op: server::AdminOp::EnableUser { ref user } })
            if user == "-Wq3x9")
        );
        // Options still parse as options.
        assert!(Args::try_parse_from(["vouchsafe", "invite", "-acct", "a@example.com", "--role", "admin"]).is_ok());
    }
}
