//! Run tracking: the fan-out records a run and how many units it planned, each unit records its
//! outcome, and the unit that completes the count closes the run, exactly once.

use super::model::Timestamp;

/// One sync run of an installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub run_id: String,
    pub installation: String,
    pub started_at: Timestamp,
    /// Units the fan-out planned (and queued).
    pub planned_units: u64,
    /// Units that recorded an outcome (each unit counted once, however often it was delivered).
    pub done: u64,
    /// Units whose latest outcome is a failure.
    pub failed: u64,
    /// Set once, by the unit whose outcome made `done` reach `planned_units`.
    pub closed_at: Option<Timestamp>,
}

impl RunRecord {
    /// A run that has just started: nothing done yet.
    pub fn new(
        installation: impl Into<String>,
        run_id: impl Into<String>,
        started_at: Timestamp,
        planned_units: u64,
    ) -> RunRecord {
        RunRecord {
            run_id: run_id.into(),
            installation: installation.into(),
            started_at,
            planned_units,
            done: 0,
            failed: 0,
            closed_at: None,
        }
    }

    /// Whether every planned unit reported.
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }
}

/// Entity counts of one unit, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitCounts {
    /// Entities the unit's objects mapped to.
    pub produced: u64,
    /// Entities written to Port (new, changed or expired).
    pub upserted: u64,
    /// Entities skipped because their fingerprint was fresh.
    pub unchanged: u64,
    /// Stale entities deleted.
    pub deleted: u64,
    /// Stale entities kept (threshold guard, failed delete).
    pub kept: u64,
}

/// What one unit of a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitOutcome {
    /// The unit's label, `{account}/{region}/{kind}` ([`super::model::ScopeKey::label`]).
    pub unit: String,
    pub ok: bool,
    /// Why the unit failed, or what it kept; one sentence.
    pub reason: Option<String>,
    pub counts: UnitCounts,
    pub finished_at: Timestamp,
}

/// A run's counters right after one unit recorded its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunProgress {
    pub done: u64,
    pub planned: u64,
    pub failed: u64,
    /// True for exactly one caller per run: the one whose outcome closed it. That caller
    /// writes the run's summary (and, later, judges scopes that are gone).
    pub just_closed: bool,
}
