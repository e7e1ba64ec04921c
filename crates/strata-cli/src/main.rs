//! The `strata` binary: parses the command line and wires the library
//! crates together. It owns no scanning logic of its own.
//!
//! Exit codes: 0 nothing found, 1 findings (not in the baseline), 2 the scan
//! was incomplete or failed — an unreadable input makes it 2 even when
//! findings exist, so a pipeline gate fails closed.

mod args;
mod cmd_history;
mod cmd_image;
mod cmd_registry;
mod cmd_rules;
mod cmd_scan;
mod deadline;
mod output;
mod registry;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // Error chains name inputs (paths, references): escaped.
            let message = format!("{err:#}");
            eprintln!("strata: error: {}", strata_report::printable(&message));
            2
        }
    };
    std::process::exit(code);
}

fn run(cli: args::Cli) -> anyhow::Result<i32> {
    match cli.command {
        args::Command::Scan(scan) => cmd_scan::run(scan),
        args::Command::Image(image) => cmd_image::run(image),
        args::Command::History(history) => cmd_history::run(history),
        args::Command::Registry(registry) => cmd_registry::run(registry),
        args::Command::Rules(rules) => cmd_rules::run(rules),
    }
}
