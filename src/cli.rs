//! The `port-aws-sync` command line: one-time sync, dry run, plan, mapping playground, validate.

use crate::config::Config;
use crate::discovery::{discover, Discovery};
use crate::kinds::Kind;
use crate::mapping::{jq, source, Mapper, MappingSource};
use crate::port::{self, blueprints};
use crate::sync::{
    new_sync_id, plan_units, reconcile_scopes, run_units, Cleanup, Engine, Scope, ScopeError, Sink,
    Summary, UnitReport,
};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Exit code of a run where something failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of bad configuration or arguments.
pub const EXIT_CONFIG: u8 = 2;

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

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// Loads the mapping from a file path or inline YAML/JSON; `None` = the built-in default. S3 and
/// SSM sources need AWS: use [`source::load`] (or [`source::resolve`] for a sync's precedence).
pub fn load_mapper(source: Option<&str>) -> Result<Mapper, String> {
    let Some(value) = source else {
        return Ok(Mapper::builtin());
    };
    let text = match MappingSource::classify(value)? {
        MappingSource::File(path) => std::fs::read_to_string(&path)
            .map_err(|e| format!("MAPPING_CONFIG: cannot read `{}`: {e}", path.display()))?,
        MappingSource::Inline(text) => text,
        other => return Err(format!("{other} needs AWS: use mapping::source::load")),
    };
    Mapper::from_yaml(&text).map_err(|e| format!("mapping configuration: {e}"))
}

/// Loads a mapping given on the command line (or in MAPPING_CONFIG), reading S3 or SSM with the
/// default AWS credentials when the value names one; prints the mapping's warnings.
async fn load_cli_mapping(value: Option<&str>) -> Result<(Mapper, MappingSource), ExitCode> {
    let Some(value) = value else {
        return Ok((Mapper::builtin(), MappingSource::BuiltIn));
    };
    let needs_aws = MappingSource::classify(value)
        .map_err(|e| fail(EXIT_CONFIG, format!("--config: {e}")))?
        .needs_aws();
    let sdk = if needs_aws {
        Some(crate::aws::load_base_config().await)
    } else {
        None
    };
    let (mapper, source) = source::load(value, sdk.as_ref())
        .await
        .map_err(|e| fail(EXIT_CONFIG, e))?;
    for w in mapper.warnings() {
        eprintln!("warning: {w}");
    }
    Ok((mapper, source))
}

impl ScopeArgs {
    fn to_scope(&self) -> Result<Scope, String> {
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

/// Runs the CLI and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Sync(args) => sync(args).await,
        Command::Plan(args) => plan(args).await,
        Command::Map(args) => map(args).await,
        Command::Validate(args) => validate(args).await,
    }
}

async fn validate(args: ValidateArgs) -> ExitCode {
    let (m, source) = match load_cli_mapping(Some(&args.config)).await {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let kinds: Vec<&str> = m.kinds().into_iter().map(Kind::name).collect();
    println!(
        "{source}: valid ({} resources; kinds: {}; {} warning(s))",
        m.config().resources.len(),
        if kinds.is_empty() {
            "none".to_owned()
        } else {
            kinds.join(", ")
        },
        m.warnings().len()
    );
    ExitCode::SUCCESS
}

struct Prepared {
    engine: Arc<Engine>,
    scope: Scope,
    /// The Port client: built for real syncs, and to read the mapping from Port.
    port: Option<port::PortClient>,
    /// The installation's integration in Port, as found when the mapping was resolved.
    integration: source::PortIntegration,
}

/// Loads the configuration, the Port client when one is needed (`writes`: a real sync), and the
/// mapping in effect (MAPPING_CONFIG, else the integration's config in Port, else built-in).
async fn prepare(scope: &ScopeArgs, writes: bool) -> Result<Prepared, ExitCode> {
    let config = Config::from_env().map_err(|e| fail(EXIT_CONFIG, e))?;
    let scope = scope.to_scope().map_err(|e| fail(EXIT_CONFIG, e))?;
    let base = crate::aws::load_base_config().await;
    let reads_port_mapping = config.mapping_config.is_none()
        && config.port_credentials != crate::config::PortCredentialsSource::Missing;
    let port = if writes || reads_port_mapping {
        match port::client_from_config(&config, &base).await {
            Ok(c) => Some(c),
            Err(e @ port::CredentialsError::Missing) => return Err(fail(EXIT_CONFIG, e)),
            Err(e) => return Err(fail(EXIT_FAILED, e)),
        }
    } else {
        None
    };
    let mapping = source::resolve(
        config.mapping_config.as_deref(),
        &config.integration_identifier,
        &base,
        port.as_ref(),
    )
    .await
    .map_err(|e| {
        fail(
            if e.is_config_error() {
                EXIT_CONFIG
            } else {
                EXIT_FAILED
            },
            e,
        )
    })?;
    for w in mapping.mapper.warnings() {
        tracing::warn!(warning = %w, "mapping configuration");
    }
    tracing::info!(
        mapping = %mapping.source,
        integration = %config.integration_identifier,
        "configuration loaded"
    );
    Ok(Prepared {
        engine: Arc::new(Engine::with_base(config, mapping.mapper, base)),
        scope,
        port,
        integration: mapping.integration,
    })
}

async fn discover_for(p: &Prepared) -> Result<Discovery, ExitCode> {
    let policy = p.scope.region_policy(&p.engine.config);
    discover(
        &p.engine.config,
        &p.engine.sessions,
        p.scope.accounts.as_ref(),
        &policy,
    )
    .await
    .map_err(|e| fail(EXIT_FAILED, e))
}

async fn plan(args: ScopeArgs) -> ExitCode {
    let p = match prepare(&args, false).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let discovery = match discover_for(&p).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let kinds = p.scope.kinds(&p.engine.config, &p.engine.mapper);
    let units = plan_units(&new_sync_id(), &discovery, &kinds, &p.engine.mapper);
    let mut out = std::io::stdout().lock();
    for unit in &units {
        if write_json_line(&mut out, unit).is_err() {
            return ExitCode::from(EXIT_FAILED);
        }
    }
    eprintln!(
        "{} unit(s) for {} account(s); {} skipped, {} unreachable",
        units.len(),
        discovery.targets.len(),
        discovery.skipped.len(),
        discovery.failed.len()
    );
    for a in &discovery.failed {
        eprintln!("  unreachable {}: {}", a.id, a.reason);
    }
    if discovery.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

async fn sync(args: SyncArgs) -> ExitCode {
    let started = Instant::now();
    let p = match prepare(&args.scope, !args.dry_run).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let config = &p.engine.config;
    // A handle on the Port client, for its request counters in the summary.
    let mut port_client = None;
    let sink = if args.dry_run {
        let out: Box<dyn Write + Send> = match &args.output {
            Some(path) => match std::fs::File::create(path) {
                Ok(f) => Box::new(std::io::BufWriter::new(f)),
                Err(e) => return fail(EXIT_CONFIG, format!("--output {}: {e}", path.display())),
            },
            None => Box::new(std::io::stdout()),
        };
        let sink = Sink::json_lines(out, args.raw);
        // With Port credentials, a dry run also previews stale-entity deletion (read-only).
        match port::client_from_config(config, p.engine.sessions.base()).await {
            Ok(client) if !args.raw => {
                sink.with_deletion_preview(Cleanup::for_engine(&p.engine, client))
            }
            Ok(_) => {
                tracing::info!("--raw: no deletion preview (it needs the mapped entities)");
                sink
            }
            Err(port::CredentialsError::Missing) => sink,
            Err(e) => {
                tracing::warn!(error = %e, "no deletion preview: Port credentials unusable");
                sink
            }
        }
    } else {
        let Some(client) = p.port.clone() else {
            return fail(EXIT_CONFIG, port::CredentialsError::Missing);
        };
        source::register(
            &client,
            &config.integration_identifier,
            p.engine.mapper.config(),
            &p.integration,
        )
        .await;
        if config.initialize_port_resources {
            match blueprints::ensure_blueprints(&client, &blueprints::default_blueprints()).await {
                Ok(r) => {
                    tracing::info!(created = ?r.created, extended = ?r.extended, "default blueprints ready")
                }
                Err(e) => return fail(EXIT_FAILED, e),
            }
        }
        port_client = Some(client.clone());
        Sink::port(
            client,
            &config.integration_identifier,
            p.engine.mapper.config(),
        )
    };
    let discovery = match discover_for(&p).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let sync_id = new_sync_id();
    let kinds = p.scope.kinds(config, &p.engine.mapper);
    let units = plan_units(&sync_id, &discovery, &kinds, &p.engine.mapper);
    tracing::info!(sync_id = %sync_id, accounts = discovery.targets.len(), units = units.len(), "sync planned");
    let scopes = match sink.cleanup() {
        Some(cleanup) => Some(
            reconcile_scopes(
                &p.engine,
                &discovery,
                &units,
                &p.scope,
                &cleanup,
                SystemTime::now(),
            )
            .await,
        ),
        None => None,
    };

    let bar = (std::io::stderr().is_terminal() && !crate::telemetry::json_logs()).then(|| {
        let bar = ProgressBar::new(units.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} units {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    crate::telemetry::set_progress_bar(bar.clone());
    let on_done = |r: &UnitReport| {
        if let Some(bar) = &bar {
            bar.inc(1);
            bar.set_message(r.label());
        }
        let (deleted, kept) = r
            .deletion
            .as_ref()
            .map_or((0, 0), |d| (d.deleted_total(), d.kept));
        if r.ok {
            tracing::info!(unit = %r.label(), fetched = r.fetched, written = r.upserted, deleted, kept, ms = r.duration_ms, "unit done");
        } else {
            tracing::warn!(unit = %r.label(), reason = r.reason.as_deref().unwrap_or(""), "unit failed");
        }
    };
    // --regions narrows the regional units (discovery); account-scoped kinds (S3 buckets) keep the
    // configured policy, so a narrowed run never treats buckets of other regions as stale.
    let policy = config.region_policy.clone();
    let reports = run_units(p.engine.clone(), units, Arc::new(sink), policy, &on_done).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    crate::telemetry::set_progress_bar(None);

    let mut summary = Summary::new(
        &sync_id,
        args.dry_run,
        &discovery,
        &reports,
        started.elapsed().as_millis() as u64,
    );
    summary.scopes = scopes;
    summary.port = port_client.as_ref().map(|c| c.stats().into());
    if crate::telemetry::json_logs() {
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "sync finished");
    }
    eprint!("{}", summary.render());
    if args.dry_run {
        let target = args
            .output
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stdout".into());
        eprintln!(
            "  {} written to {target} as JSON lines",
            if args.raw { "raw objects" } else { "entities" }
        );
    }
    if let Some(path) = &args.summary_json {
        let written = std::fs::File::create(path)
            .map_err(|e| e.to_string())
            .and_then(|f| serde_json::to_writer_pretty(f, &summary).map_err(|e| e.to_string()));
        if let Err(e) = written {
            return fail(
                EXIT_FAILED,
                format!("--summary-json {}: {e}", path.display()),
            );
        }
    }
    if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

/// Stale-entity cleanup settings of this installation and mapping.
fn write_json_line(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Reads raw objects: a JSON array, one JSON value, or JSON lines.
pub fn read_raw_objects(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return serde_json::from_str(text).map_err(|e| format!("not a JSON array: {e}"));
    }
    let mut out = Vec::new();
    for item in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        out.push(item.map_err(|e| format!("not JSON lines: {e}"))?);
    }
    Ok(out)
}

async fn map(args: MapArgs) -> ExitCode {
    let value = args.config.or_else(|| {
        std::env::var("MAPPING_CONFIG")
            .ok()
            .filter(|s| !s.trim().is_empty())
    });
    let mapper = match load_cli_mapping(value.as_deref()).await {
        Ok((m, _)) => m,
        Err(code) => return code,
    };
    let mut text = String::new();
    let read = match &args.input {
        Some(path) => std::fs::read_to_string(path).map(|t| text = t),
        None => std::io::stdin().read_to_string(&mut text).map(|_| ()),
    };
    if let Err(e) = read {
        return fail(EXIT_CONFIG, format!("cannot read the raw objects: {e}"));
    }
    // JSON lines are mapped one object at a time (parsed, mapped, written, dropped), so memory stays
    // near the size of the input text instead of holding every parsed object at once (100,000 EC2
    // objects: 1.1 GiB peak RSS before, see BENCHMARKS.md). They are checked first without being
    // kept, so malformed input still writes nothing.
    type Objects<'a> = Box<dyn Iterator<Item = Result<Value, String>> + 'a>;
    let objects: Objects = if text.trim_start().starts_with('[') {
        match read_raw_objects(&text) {
            Ok(o) => Box::new(o.into_iter().map(Ok)),
            Err(e) => return fail(EXIT_CONFIG, e),
        }
    } else {
        if let Err(e) = check_json_lines(&text) {
            return fail(EXIT_CONFIG, e);
        }
        Box::new(
            serde_json::Deserializer::from_str(&text)
                .into_iter::<Value>()
                .map(|item| item.map_err(|e| format!("not JSON lines: {e}"))),
        )
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut errors = 0usize;
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for raw in objects {
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                let _ = out.flush();
                return fail(EXIT_CONFIG, e);
            }
        };
        let raw = &raw;
        let type_name = raw.get("Type").and_then(Value::as_str).unwrap_or_default();
        let Some(kind) = Kind::parse(type_name) else {
            unknown.insert(type_name.to_owned());
            continue;
        };
        let mapped = mapper.map(kind, raw);
        for e in &mapped.entities {
            if write_json_line(&mut out, e).is_err() {
                return ExitCode::from(EXIT_FAILED);
            }
        }
        for e in mapped.errors {
            errors += 1;
            eprintln!("error: {e}");
        }
    }
    let _ = out.flush();
    for t in unknown {
        errors += 1;
        eprintln!(
            "error: objects of unknown Type `{t}` were skipped (expected one of {})",
            Kind::ALL.map(Kind::name).join(", ")
        );
    }
    if errors > 0 {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Checks that `text` is a sequence of JSON values (as [`read_raw_objects`] reads it) without
/// keeping them.
fn check_json_lines(text: &str) -> Result<(), String> {
    for item in serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>() {
        item.map_err(|e| format!("not JSON lines: {e}"))?;
    }
    Ok(())
}

/// Evaluates one JQ expression against one object (used by tests and the playground).
pub fn eval_expression(expr: &str, input: &Value) -> Result<Value, String> {
    let e = jq::Expr::compile(expr).map_err(|e| e.message)?;
    e.first(&jq::to_val(input)).map(|v| jq::to_json(&v))
}
