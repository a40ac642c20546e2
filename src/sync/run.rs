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
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Runs every unit and returns their reports (in completion order). `on_done` sees each report as
/// it completes (progress display).
///
/// Without `createMissingRelatedEntities`, Port refuses an entity whose relation target does not
/// exist yet, so the account units (accounts are what the other kinds relate to) run first, as a
/// wave of their own.
pub async fn run_units(
    engine: Arc<Engine>,
    units: Vec<Unit>,
    sink: Arc<Sink>,
    policy: RegionPolicy,
    on_done: &(dyn Fn(&UnitReport) + Sync),
) -> Vec<UnitReport> {
    let policy = Arc::new(policy);
    if engine.mapper.config().create_missing_related_entities {
        return run_wave(engine, units, sink, policy, on_done).await;
    }
    let (accounts, rest): (Vec<Unit>, Vec<Unit>) =
        units.into_iter().partition(|u| u.kind == Kind::AccountInfo);
    let mut reports = run_wave(
        engine.clone(),
        accounts,
        sink.clone(),
        policy.clone(),
        on_done,
    )
    .await;
    reports.extend(run_wave(engine, rest, sink, policy, on_done).await);
    reports
}

async fn run_wave(
    engine: Arc<Engine>,
    units: Vec<Unit>,
    sink: Arc<Sink>,
    policy: Arc<RegionPolicy>,
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
    let per_kind: HashMap<Kind, Arc<AccountGate>> = Kind::ALL
        .into_iter()
        .filter_map(|k| {
            engine
                .mapper
                .max_concurrent_accounts(k)
                .map(|n| (k, Arc::new(AccountGate::new(n))))
        })
        .collect();
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
                    Some(g) => Some(g.enter(&unit.account.id).await),
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

/// `selector.maxConcurrentAccounts`: at most `limit` accounts at a time have units of one kind
/// running; units of an account already in are not held back.
pub struct AccountGate {
    slots: Arc<Semaphore>,
    /// Account -> (units of it running, its slot).
    holders: Mutex<HashMap<String, (usize, OwnedSemaphorePermit)>>,
}

/// A running unit's hold on its account's slot; the slot is freed with the account's last unit.
pub struct AccountTicket {
    gate: Arc<AccountGate>,
    account: String,
}

impl AccountGate {
    pub fn new(limit: usize) -> AccountGate {
        AccountGate {
            slots: Arc::new(Semaphore::new(limit.max(1))),
            holders: Mutex::new(HashMap::new()),
        }
    }

    fn holders(&self) -> std::sync::MutexGuard<'_, HashMap<String, (usize, OwnedSemaphorePermit)>> {
        self.holders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the account may run a unit of the kind.
    pub async fn enter(self: &Arc<Self>, account: &str) -> AccountTicket {
        let ticket = AccountTicket {
            gate: self.clone(),
            account: account.to_owned(),
        };
        if let Some(entry) = self.holders().get_mut(account) {
            entry.0 += 1;
            return ticket;
        }
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let mut holders = self.holders();
        match holders.get_mut(account) {
            // Another unit of the account got a slot meanwhile: share it, give this one back.
            Some(entry) => entry.0 += 1,
            None => {
                holders.insert(account.to_owned(), (1, permit));
            }
        }
        ticket
    }

    /// Accounts holding a slot now.
    pub fn accounts_in(&self) -> usize {
        self.holders().len()
    }
}

impl Drop for AccountTicket {
    fn drop(&mut self) {
        let mut holders = self.gate.holders();
        if let Some(entry) = holders.get_mut(&self.account) {
            entry.0 -= 1;
            if entry.0 == 0 {
                holders.remove(&self.account);
            }
        }
    }
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
    isolate(
        &for_report,
        async move { run_unit(&engine, &unit, &sink, &policy).await },
        deadline,
    )
    .await
}

/// Runs a unit's work on its own task: a panic, or the deadline passing (the task is aborted),
/// becomes that unit's failure.
pub async fn isolate<F>(unit: &Unit, work: F, deadline: Option<Instant>) -> UnitReport
where
    F: std::future::Future<Output = UnitReport> + Send + 'static,
{
    let mut handle = tokio::spawn(work);
    let joined = match deadline {
        None => (&mut handle).await,
        Some(deadline) => match tokio::time::timeout_at(deadline, &mut handle).await {
            Ok(joined) => joined,
            Err(_) => {
                handle.abort();
                tracing::warn!(unit = %unit.label(), "unit stopped at the invocation deadline");
                return UnitReport::failed(
                    unit,
                    "not finished before the invocation deadline: stopped, to be retried",
                );
            }
        },
    };
    match joined {
        Ok(report) => report,
        Err(e) if e.is_panic() => {
            tracing::error!(unit = %unit.label(), "unit panicked");
            UnitReport::failed(unit, "the unit panicked (a bug: please report it)")
        }
        Err(_) => UnitReport::failed(unit, "the unit was cancelled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

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
        assert!(!report.ok);
        assert!(report.reason.unwrap().contains("panicked"));
        // The runtime and other units go on.
        let ok = isolate(&u, async { UnitReport::failed(&unit(), "x") }, None).await;
        assert_eq!(ok.reason.as_deref(), Some("x"));
    }

    #[tokio::test]
    async fn a_unit_past_the_deadline_is_stopped_and_reported() {
        let u = unit();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let deadline = Instant::now() + Duration::from_millis(200);
        let report = isolate(
            &u,
            async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                flag.store(true, Ordering::SeqCst);
                UnitReport::failed(&unit(), "never")
            },
            Some(deadline),
        )
        .await;
        assert!(report.reason.unwrap().contains("deadline"));
        // Aborted: it does not go on to finish (and so cannot delete anything) later.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn account_gate_admits_at_most_limit_accounts_but_every_unit_of_an_admitted_one() {
        let gate = Arc::new(AccountGate::new(2));
        let a1 = gate.enter("a").await;
        let a2 = gate.enter("a").await;
        let b = gate.enter("b").await;
        assert_eq!(gate.accounts_in(), 2);
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter("c").await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a third account must wait");
        let a3 = gate.enter("a").await;
        drop((a1, a2));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "account a still runs a unit");
        drop(a3);
        let c = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("c enters once a is done")
            .unwrap();
        assert_eq!(gate.accounts_in(), 2);
        drop((b, c));
        assert_eq!(gate.accounts_in(), 0);
    }
}
