//! Logging: plain text on a terminal or in CI, JSON with `LOG_FORMAT=json`; level from `RUST_LOG`
//! or `LOG_LEVEL` (default `info`). Log lines go to stderr and do not tear a progress bar.

use indicatif::ProgressBar;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

static PROGRESS: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();

/// Registers the progress bar log lines must be printed around (or none).
pub fn set_progress_bar(bar: Option<ProgressBar>) {
    *PROGRESS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = bar;
}

/// Writes to stderr, suspending the progress bar while it does.
pub struct StderrAroundProgress;

impl Write for StderrAroundProgress {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = PROGRESS
            .get()
            .and_then(|m| m.lock().ok().and_then(|g| g.clone()));
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

struct MakeStderr;

impl<'a> MakeWriter<'a> for MakeStderr {
    type Writer = StderrAroundProgress;
    fn make_writer(&'a self) -> Self::Writer {
        StderrAroundProgress
    }
}

/// Whether `LOG_FORMAT=json` asks for JSON logs.
pub fn json_logs() -> bool {
    std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
}

fn filter() -> EnvFilter {
    let level = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("LOG_LEVEL"))
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()))
        .unwrap_or_else(|_| "info".into());
    // The AWS SDK is chatty at info; keep it to warnings unless asked for by name. The
    // AssumeRole provider's warning carries the whole error's `Debug` (raw response): the sync
    // reports that failure itself, in words (`crate::aws_error`).
    let spec = if level.contains('=') {
        level
    } else {
        format!("{level},aws_config=warn,aws_config::sts::assume_role=error,aws_smithy_runtime=warn,aws_sdk_sts=warn")
    };
    EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Starts logging for the CLI.
pub fn init_cli() {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(MakeStderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json_logs() {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

/// Starts logging for the Lambda functions: JSON lines (one per event, CloudWatch Logs Insights
/// can query every field) unless `AWS_LAMBDA_LOG_FORMAT` or `LOG_FORMAT` asks for text; level from
/// `RUST_LOG`, `LOG_LEVEL` or the function's `AWS_LAMBDA_LOG_LEVEL`.
pub fn init_lambda() {
    let text = ["AWS_LAMBDA_LOG_FORMAT", "LOG_FORMAT"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|f| f.eq_ignore_ascii_case("text")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false);
    if text {
        builder.without_time().compact().init();
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
}
