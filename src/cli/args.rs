//! The command-line arguments.

use crate::permissions::Part;
use crate::sync::{Scope, ScopeError};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "port-aws-sync",
    version,
    about = "Sync AWS accounts, regions and resources into the Port software catalog"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Discover accounts and regions, fetch, map and upsert to Port (or write JSON lines with --dry-run).
    Sync(SyncArgs),
    /// Print the units (account, region, kind) a sync would run, as JSON lines, without fetching.
    Plan(ScopeArgs),
    /// Map raw objects (JSON array or JSON lines, from a file or stdin) to entities (JSON lines).
    Map(MapArgs),
    /// Check a mapping file without touching AWS or Port.
    Validate(ValidateArgs),
    /// Print the read-only IAM policy a member account's role needs for the mapping.
    Permissions(PermissionsArgs),
    /// Print the latest runs and their failed units, from the sync state (STATE_TABLE or the SQLite file).
    Status(StatusArgs),
    /// Live events: the EventBridge event pattern of the forwarding rules.
    #[command(subcommand)]
    LiveEvents(LiveEventsCommand),
}

#[derive(Subcommand, Debug)]
pub enum LiveEventsCommand {
    /// Print the EventBridge event pattern matching the events of the kinds that follow live
    /// events (the mapping's, or every kind's with --all-kinds).
    Pattern(LivePatternArgs),
}

#[derive(Args, Debug)]
pub struct LivePatternArgs {
    /// Mapping whose kinds to cover: a file, s3://bucket/key, ssm:NAME or inline text; default:
    /// MAPPING_CONFIG, else every kind.
    #[arg(long, conflicts_with = "all_kinds")]
    pub config: Option<String>,
    /// Every kind of the registry that follows live events, whatever the mapping.
    #[arg(long)]
    pub all_kinds: bool,
    /// `pattern`: the event pattern (JSON); `compact`: the same on one line; `names`: a table
    /// of the kinds, their source, API calls and service events.
    #[arg(long, value_enum, default_value_t = LivePatternFormat::Pattern)]
    pub format: LivePatternFormat,
}

/// How `live-events pattern` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LivePatternFormat {
    /// The event pattern, indented JSON.
    Pattern,
    /// The event pattern on one line.
    Compact,
    /// One row per kind: kind, source, API calls, service events.
    Names,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// How many runs to show, newest first.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

#[derive(Args, Debug, Default)]
pub struct ScopeArgs {
    /// Only these account ids (comma list).
    #[arg(long, value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// Only these regions (comma list); account-scoped kinds still run.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Only these kinds (comma list), e.g. AWS::EC2::Instance.
    #[arg(long)]
    pub kinds: Option<String>,
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Do not call Port: write the entities as JSON lines (stdout or --output).
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: write the raw objects instead of the entities (input for `map`).
    #[arg(long, requires = "dry_run")]
    pub raw: bool,
    /// With --dry-run: write to this file instead of stdout.
    #[arg(long, requires = "dry_run")]
    pub output: Option<PathBuf>,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// First compare the sync state with Port (one listing per blueprint) and repair both ways:
    /// entities missing in Port are written again, unrecorded ones adopted (rewritten, or
    /// deleted by the normal rules).
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,
}

#[derive(Args, Debug)]
pub struct MapArgs {
    /// Mapping (port-app-config YAML/JSON): a file, s3://bucket/key, ssm:NAME or inline text;
    /// default: MAPPING_CONFIG, else the built-in mapping.
    #[arg(long)]
    pub config: Option<String>,
    /// Raw objects file (JSON array or JSON lines); default stdin.
    pub input: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Mapping to check: a file or inline text (no AWS or Port call), or s3://bucket/key, ssm:NAME.
    #[arg(long)]
    pub config: String,
}

#[derive(Args, Debug)]
pub struct PermissionsArgs {
    /// Mapping whose kinds and includeActions to cover: a file, s3://bucket/key, ssm:NAME or
    /// inline text; default: MAPPING_CONFIG, else every kind with every optional call.
    #[arg(long, conflicts_with = "all_kinds")]
    pub config: Option<String>,
    /// Every kind of the registry with every optional call, whatever the mapping.
    #[arg(long)]
    pub all_kinds: bool,
    /// `policy`: an IAM policy document (JSON); `actions`: one action per line.
    #[arg(long, value_enum, default_value_t = PermissionsFormat::Policy)]
    pub format: PermissionsFormat,
    /// Which statement: `read` (a member account's role), `fetch` (the kinds' calls without
    /// region discovery), `discovery` (region discovery), `organizations` (the management
    /// account's Organizations calls).
    #[arg(long, value_enum, default_value_t = Part::Read)]
    pub part: Part,
}

/// How `permissions` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PermissionsFormat {
    /// An IAM policy document.
    Policy,
    /// One action per line.
    Actions,
}

impl ScopeArgs {
    /// The narrowed scope; errors name the flag.
    pub fn to_scope(&self) -> Result<Scope, String> {
        let kinds: Vec<String> = self
            .kinds
            .as_deref()
            .map(|k| k.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        Scope::from_lists(&self.accounts, &self.regions, &kinds).map_err(|e| {
            let flag = match e {
                ScopeError::Account(_) => "--accounts",
                ScopeError::Region(_) => "--regions",
                ScopeError::Kind(_) => "--kinds",
            };
            format!("{flag}: {e}")
        })
    }
}
