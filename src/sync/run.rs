//! Running the units of a run (the CLI) or of an SQS batch (the worker) through one runner: a
//! global and a per-account concurrency bound, `selector.maxConcurrentAccounts` per kind
//! ([`AccountGate`]), account units first when Port may not create missing relation targets, each
//! unit on its own task (a panic fails only that unit) and, optionally, a deadline after which
//! running units are stopped and reported failed.

use crate::deletion::IncompleteReason;
use crate::kinds::Kind;
use crate::sync::account_gate::AccountGate;
use crate::sync::engine::Engine;
use crate::sync::plan::Unit;
use crate::sync::sink::Sink;
use crate::sync::unit::{run_unit, UnitReport};
use futures_util::stream::{self, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Units to run, each with the caller's tag (the SQS message id in the worker, `()` in the CLI),
/// and how.
pub struct Batch<T> {
    pub units: Vec<(T, Unit)>,
    /// Units still running then are stopped (their task aborted: no deletion can follow) and
    /// reported failed, so that a queue redelivers them.
    pub deadline: Option<Instant>,
    /// The time one unit may take from its start (`UNIT_TIMEOUT_SECONDS`): a unit stuck on a
    /// silent endpoint fails alone, and the run goes on.
    pub unit_timeout: Option<Duration>,
}

impl Batch<()> {
    /// Untagged units without a batch deadline (a CLI run), each within `unit_timeout`.
    pub fn untagged(units: Vec<Unit>, unit_timeout: Duration) -> Batch<()> {
        Batch {
            units: units.into_iter().map(|u| ((), u)).collect(),
            deadline: None,
            unit_timeout: Some(unit_timeout),
        }
    }
}

/// When a unit must be done by, and what the report says if it is not.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    /// The unit's own timeout rather than the invocation's end.
    pub unit_timeout: bool,
}

impl Deadline {
    /// The earlier of the batch deadline and the unit's own timeout counted from now.
    fn for_unit(batch: Option<Instant>, unit_timeout: Option<Duration>) -> Option<Deadline> {
        let own = unit_timeout.map(|t| Deadline {
            at: Instant::now() + t,
            unit_timeout: true,
        });
        let batch = batch.map(|at| Deadline {
            at,
            unit_timeout: false,
        });
        match (own, batch) {
            (Some(o), Some(b)) => Some(if o.at < b.at { o } else { b }),
            (o, b) => o.or(b),
        }
    }

    fn reason(&self) -> &'static str {
        if self.unit_timeout {
            "not finished within UNIT_TIMEOUT_SECONDS (an AWS or Port endpoint may not be answering): stopped"
        } else {
            "not finished before the invocation deadline: stopped, to be retried"
        }
    }
}

/// What every unit of a batch shares.
struct Shared {
    engine: Arc<Engine>,
    sink: Arc<Sink>,
    deadline: Option<Instant>,
    unit_timeout: Option<Duration>,
}

/// Runs every unit and returns their reports with their tags (in completion order). `on_done`
/// sees each report as it completes (progress display, per-unit log lines).
///
/// Without `createMissingRelatedEntities`, Port refuses an entity whose relation target does not
/// exist yet, so the account units (accounts are what the other kinds relate to) run first, as a
/// wave of their own.
pub async fn run_units<T: Send + 'static>(
    engine: Arc<Engine>,
    sink: Arc<Sink>,
    batch: Batch<T>,
    on_done: &(dyn Fn(&T, &UnitReport) + Sync),
) -> Vec<(T, UnitReport)> {
    let accounts_first = !engine.mapper.config().create_missing_related_entities;
    let shared = Shared {
        engine,
        sink,
        deadline: batch.deadline,
        unit_timeout: batch.unit_timeout,
    };
    if !accounts_first {
        return run_wave(&shared, batch.units, on_done).await;
    }
    let (accounts, rest): (Vec<_>, Vec<_>) = batch
        .units
        .into_iter()
        .partition(|(_, u)| u.kind == Kind::AccountInfo);
    let mut reports = run_wave(&shared, accounts, on_done).await;
    reports.extend(run_wave(&shared, rest, on_done).await);
    reports
}

async fn run_wave<T: Send + 'static>(
    shared: &Shared,
    units: Vec<(T, Unit)>,
    on_done: &(dyn Fn(&T, &UnitReport) + Sync),
) -> Vec<(T, UnitReport)> {
    let engine = &shared.engine;
    let concurrency = engine.config.concurrency;
    let per_account: HashMap<String, Arc<Semaphore>> = units
        .iter()
        .map(|(_, u)| {
            (
                u.account.id.clone(),
                Arc::new(Semaphore::new(concurrency.per_account)),
            )
        })
        .collect();
    let per_kind: HashMap<Kind, Arc<AccountGate>> = engine
        .mapper
        .kinds()
        .into_iter()
        .filter_map(|k| {
            engine
                .mapper
                .max_concurrent_accounts(k)
                .map(|n| (k, Arc::new(AccountGate::new(n))))
        })
        .collect();
    stream::iter(units)
        .map(|(tag, unit)| {
            let account_gate = per_account[&unit.account.id].clone();
            let kind_gate = per_kind.get(&unit.kind).cloned();
            async move {
                let _account = account_gate.acquire_owned().await.expect("never closed");
                let _kind = match kind_gate {
                    Some(g) => Some(g.enter(&unit.account.id).await),
                    None => None,
                };
                (tag, run_isolated(shared, unit).await)
            }
        })
        .buffer_unordered(concurrency.units)
        .inspect(|(tag, report)| on_done(tag, report))
        .collect()
        .await
}

/// Runs one unit on its own task (see [`isolate`]).
async fn run_isolated(shared: &Shared, unit: Unit) -> UnitReport {
    let for_report = unit.clone();
    let engine = shared.engine.clone();
    let sink = shared.sink.clone();
    isolate(
        &for_report,
        async move { run_unit(&engine, &unit, &sink).await },
        Deadline::for_unit(shared.deadline, shared.unit_timeout),
    )
    .await
}

/// Runs a unit's work on its own task: a panic, or the deadline passing (the task is aborted),
/// becomes that unit's failure.
pub async fn isolate<F>(unit: &Unit, work: F, deadline: Option<Deadline>) -> UnitReport
where
    F: std::future::Future<Output = UnitReport> + Send + 'static,
{
    let mut handle = tokio::spawn(work);
    let joined = match deadline {
        None => (&mut handle).await,
        Some(deadline) => match tokio::time::timeout_at(deadline.at, &mut handle).await {
            Ok(joined) => joined,
            Err(_) => {
                handle.abort();
                tracing::warn!(unit = %unit.label(), reason = deadline.reason(), "unit stopped");
                return UnitReport::failed(
                    unit,
                    IncompleteReason::Stopped(deadline.reason().into()),
                );
            }
        },
    };
    match joined {
        Ok(report) => report,
        Err(e) if e.is_panic() => {
            tracing::error!(unit = %unit.label(), "unit panicked");
            UnitReport::failed(
                unit,
                IncompleteReason::Stopped("the unit panicked (a bug: please report it)".into()),
            )
        }
        Err(_) => UnitReport::failed(
            unit,
            IncompleteReason::Stopped("the unit was cancelled".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn stopped(reason: &str) -> IncompleteReason {
        IncompleteReason::Stopped(reason.into())
    }

    fn unit() -> Unit {
        Unit {
            sync_id: "s".into(),
            account: crate::discovery::Account::bare("111111111111", "aws", None),
            region: "us-east-1".into(),
            kind: Kind::Ec2Instance,
        }
    }

    #[tokio::test]
    async fn a_panicking_unit_fails_alone() {
        let u = unit();
        let report = isolate(&u, async { panic!("bug in a unit") }, None).await;
        assert!(!report.ok());
        assert!(report.reason().unwrap().contains("panicked"));
        // The runtime and other units go on.
        let ok = isolate(
            &u,
            async { UnitReport::failed(&unit(), stopped("x")) },
            None,
        )
        .await;
        assert_eq!(ok.reason().as_deref(), Some("x"));
    }

    #[tokio::test]
    async fn a_unit_past_the_deadline_is_stopped_and_reported() {
        let u = unit();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let deadline = Deadline::for_unit(
            Some(Instant::now() + Duration::from_millis(200)),
            Some(Duration::from_secs(60)),
        );
        let report = isolate(
            &u,
            async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                flag.store(true, Ordering::SeqCst);
                UnitReport::failed(&unit(), stopped("never"))
            },
            deadline,
        )
        .await;
        assert!(report.reason().unwrap().contains("invocation deadline"));
        // Aborted: it does not go on to finish (and so cannot delete anything) later.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_unit_past_its_own_timeout_fails_with_the_setting_named() {
        let deadline = Deadline::for_unit(None, Some(Duration::from_millis(100)));
        let report = isolate(
            &unit(),
            async {
                std::future::pending::<()>().await;
                UnitReport::failed(&unit(), stopped("never"))
            },
            deadline,
        )
        .await;
        assert!(report.reason().unwrap().contains("UNIT_TIMEOUT_SECONDS"));
    }
}
