//! The mapping playground: `map` (raw objects to entities, offline) and `validate`.

use super::args::{MapArgs, ValidateArgs};
use super::commands::{fail, write_json_line, EXIT_CONFIG, EXIT_FAILED};
use crate::kinds::Kind;
use crate::mapping::{source, Mapper, MappingSource};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::ExitCode;

/// Loads a mapping given on the command line (or in MAPPING_CONFIG), reading S3 or SSM with the
/// default AWS credentials when the value names one; prints the mapping's warnings.
pub(super) async fn load_cli_mapping(
    value: Option<&str>,
) -> Result<(Mapper, MappingSource), ExitCode> {
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

/// `validate`: loads and compiles a mapping, and says what it holds.
pub(super) async fn validate(args: ValidateArgs) -> ExitCode {
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

/// Checks that `text` is a sequence of JSON values (as [`read_raw_objects`] reads it) without
/// keeping them.
fn check_json_lines(text: &str) -> Result<(), String> {
    for item in serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>() {
        item.map_err(|e| format!("not JSON lines: {e}"))?;
    }
    Ok(())
}

type Objects<'a> = Box<dyn Iterator<Item = Result<Value, String>> + 'a>;

/// The raw objects of `text`, one at a time. JSON lines are mapped one object at a time (parsed,
/// mapped, written, dropped), so memory stays near the size of the input text instead of holding
/// every parsed object at once (100,000 EC2 objects: 1.1 GiB peak RSS before, see
/// BENCHMARKS.md). They are checked first without being kept, so malformed input still writes
/// nothing.
fn objects(text: &str) -> Result<Objects<'_>, String> {
    if text.trim_start().starts_with('[') {
        return Ok(Box::new(read_raw_objects(text)?.into_iter().map(Ok)));
    }
    check_json_lines(text)?;
    Ok(Box::new(
        serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .map(|item| item.map_err(|e| format!("not JSON lines: {e}"))),
    ))
}

/// `map`: maps raw objects (a file or stdin) to entities as JSON lines on stdout.
pub(super) async fn map(args: MapArgs) -> ExitCode {
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
    let objects = match objects(&text) {
        Ok(objects) => objects,
        Err(e) => return fail(EXIT_CONFIG, e),
    };
    map_objects(&mapper, objects)
}

/// Maps and writes every object; errors go to stderr and make the exit code 1.
fn map_objects(mapper: &Mapper, objects: Objects<'_>) -> ExitCode {
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
        let type_name = raw.get("Type").and_then(Value::as_str).unwrap_or_default();
        let Ok(kind) = Kind::resolve(type_name) else {
            unknown.insert(type_name.to_owned());
            continue;
        };
        let mapped = mapper.map(kind, &raw);
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
            crate::kinds::native_names()
        );
    }
    if errors > 0 {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
