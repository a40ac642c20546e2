//! Running the units of a run with a global and a per-account concurrency bound; a panic in one
//! unit is reported as that unit's failure.

use crate::config::RegionPolicy;
use crate::kinds::Kind;
use crate::sync::engine::Engine;
use crate::sync::plan::Unit;
use crate::sync::sink::Sink;
use crate::sync::unit::{run_unit, UnitReport};
use futures_util::stream::{self, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Runs every unit and returns their reports (in completion order). `on_done` sees each report as
/// it completes (progress display).
pub async fn run_units(
    engine: Arc<Engine>,
    units: Vec<Unit>,
    sink: Arc<Sink>,
    policy: RegionPolicy,
    on_done: &(dyn Fn(&UnitReport) + Sync),
) -> Vec<UnitReport> {
    let concurrency = engine.config.concurrency;
    let per_account: HashMap<String, Arc<Semaphore>> = units
        .iter()
        .map(|u| {
            (
                u.account.id.clone(),
                Arc::new(Semaphore::new(concurrency.per_account)),
            )
        })
        .collect();
    let per_kind: HashMap<Kind, Arc<Semaphore>> = Kind::ALL
        .into_iter()
        .filter_map(|k| {
            engine
                .mapper
                .max_concurrent_accounts(k)
                .map(|n| (k, Arc::new(Semaphore::new(n))))
        })
        .collect();
    let policy = Arc::new(policy);
    stream::iter(units)
        .map(|unit| {
            let engine = engine.clone();
            let sink = sink.clone();
            let policy = policy.clone();
            let account_gate = per_account[&unit.account.id].clone();
            let kind_gate = per_kind.get(&unit.kind).cloned();
            async move {
                let _account = account_gate.acquire_owned().await.expect("never closed");
                let _kind = match kind_gate {
                    Some(g) => Some(g.acquire_owned().await.expect("never closed")),
                    None => None,
                };
                run_isolated(engine, unit, sink, policy).await
            }
        })
        .buffer_unordered(concurrency.units)
        .inspect(|r| on_done(r))
        .collect()
        .await
}

/// Runs one unit on its own task so that a panic fails only that unit.
pub async fn run_isolated(
    engine: Arc<Engine>,
    unit: Unit,
    sink: Arc<Sink>,
    policy: Arc<RegionPolicy>,
) -> UnitReport {
    run_isolated_until(engine, unit, sink, policy, None).await
}

/// Like [`run_isolated`], and a unit still running at `deadline` is stopped (its task aborted:
/// no deletion can follow) and reported as failed, so that a queue redelivers it.
pub async fn run_isolated_until(
    engine: Arc<Engine>,
    unit: Unit,
    sink: Arc<Sink>,
    policy: Arc<RegionPolicy>,
    deadline: Option<Instant>,
) -> UnitReport {
    let for_report = unit.clone();
    let mut handle = tokio::spawn(async move { run_unit(&engine, &unit, &sink, &policy).await });
    let joined = match deadline {
        None => (&mut handle).await,
        Some(deadline) => match tokio::time::timeout_at(deadline, &mut handle).await {
            Ok(joined) => joined,
            Err(_) => {
                handle.abort();
                tracing::warn!(unit = %for_report.label(), "unit stopped at the invocation deadline");
                return UnitReport::failed(
                    &for_report,
                    "not finished before the invocation deadline: stopped, to be retried",
                );
            }
        },
    };
    match joined {
        Ok(report) => report,
        Err(e) if e.is_panic() => {
            tracing::error!(unit = %for_report.label(), "unit panicked");
            UnitReport::failed(&for_report, "the unit panicked (a bug: please report it)")
        }
        Err(_) => UnitReport::failed(&for_report, "the unit was cancelled"),
    }
}
