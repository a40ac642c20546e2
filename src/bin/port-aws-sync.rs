//! `port-aws-sync`: the sync engine in one process (one-time sync, dry run, plan, mapping playground).

use clap::Parser;
use port_aws_sync::cli::{self, Cli};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    port_aws_sync::telemetry::init_cli();
    cli::run(cli).await
}
