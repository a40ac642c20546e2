//! The end-of-run summary: accounts, units ok/failed with reasons, entities per blueprint, Port
//! failures, duration.

use crate::discovery::{Discovery, FailedAccount, SkippedAccount};
use crate::port::client::PortStats;
use crate::port::EntityFailure;
use crate::sync::unit::UnitReport;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

const MAX_LISTED: usize = 50;

/// A failed unit and why.
#[derive(Debug, Clone, Serialize)]
pub struct UnitFailure {
    pub unit: String,
    pub reason: String,
}

/// What a whole run did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub sync_id: String,
    pub dry_run: bool,
    pub duration_ms: u64,
    pub accounts_found: usize,
    pub accounts_synced: usize,
    pub accounts_skipped: Vec<SkippedAccount>,
    pub accounts_failed: Vec<FailedAccount>,
    pub units_total: usize,
    pub units_ok: usize,
    pub units_failed: usize,
    pub failures: Vec<UnitFailure>,
    /// Entities written per blueprint.
    pub entities: BTreeMap<String, usize>,
    /// Entities deleted as stale per blueprint.
    pub deleted: BTreeMap<String, usize>,
    /// Stale entities kept by a guard, with the reasons.
    pub kept: Vec<UnitFailure>,
    pub port_failure_count: usize,
    pub port_failures: Vec<EntityFailure>,
    pub map_error_count: usize,
    pub aws_api_calls: usize,
    /// What the Port client did (absent for dry runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortCalls>,
}

/// Counters of the Port client over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortCalls {
    /// API requests sent, retries included, token requests excluded.
    pub requests: u64,
    pub token_requests: u64,
    pub retries: u64,
    /// Request body bytes sent (retries included).
    pub bytes_sent: u64,
}

impl From<&PortStats> for PortCalls {
    fn from(s: &PortStats) -> PortCalls {
        PortCalls {
            requests: s.requests.load(Ordering::Relaxed),
            token_requests: s.token_requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
        }
    }
}

impl Summary {
    /// Builds the summary of a run.
    pub fn new(
        sync_id: &str,
        dry_run: bool,
        discovery: &Discovery,
        reports: &[UnitReport],
        duration_ms: u64,
    ) -> Summary {
        let mut s = Summary {
            sync_id: sync_id.to_owned(),
            dry_run,
            duration_ms,
            accounts_found: discovery.targets.len()
                + discovery.skipped.len()
                + discovery.failed.len(),
            accounts_synced: discovery.targets.len(),
            accounts_skipped: discovery.skipped.clone(),
            accounts_failed: discovery.failed.clone(),
            units_total: reports.len(),
            units_ok: 0,
            units_failed: 0,
            failures: Vec::new(),
            entities: BTreeMap::new(),
            deleted: BTreeMap::new(),
            kept: Vec::new(),
            port_failure_count: 0,
            port_failures: Vec::new(),
            map_error_count: 0,
            aws_api_calls: 0,
            port: None,
        };
        let mut sorted: Vec<&UnitReport> = reports.iter().collect();
        sorted.sort_by_key(|r| r.label());
        for r in sorted {
            if r.ok {
                s.units_ok += 1;
            } else {
                s.units_failed += 1;
                s.failures.push(UnitFailure {
                    unit: r.label(),
                    reason: r.reason.clone().unwrap_or_default(),
                });
            }
            for (bp, n) in &r.entities {
                *s.entities.entry(bp.clone()).or_default() += n;
            }
            if let Some(d) = &r.deletion {
                for (bp, n) in &d.deleted {
                    *s.deleted.entry(bp.clone()).or_default() += n;
                }
                if let Some(reason) = &d.kept_reason {
                    s.kept.push(UnitFailure {
                        unit: r.label(),
                        reason: reason.clone(),
                    });
                }
            }
            s.port_failure_count += r.port_failure_count;
            for f in &r.port_failures {
                if s.port_failures.len() < MAX_LISTED {
                    s.port_failures.push(f.clone());
                }
            }
            s.map_error_count += r.map_error_count;
            s.aws_api_calls += r.api_calls;
        }
        s
    }

    /// Whether everything succeeded: every account reached and every unit clean.
    pub fn success(&self) -> bool {
        self.units_failed == 0 && self.accounts_failed.is_empty()
    }

    /// A short human-readable rendering.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let status = if self.success() {
            "succeeded"
        } else {
            "FAILED"
        };
        out.push_str(&format!(
            "Sync {} {status}{} in {:.1}s\n",
            self.sync_id,
            if self.dry_run { " (dry run)" } else { "" },
            self.duration_ms as f64 / 1000.0
        ));
        out.push_str(&format!(
            "  accounts: {} found, {} synced, {} skipped, {} failed\n",
            self.accounts_found,
            self.accounts_synced,
            self.accounts_skipped.len(),
            self.accounts_failed.len()
        ));
        for a in &self.accounts_skipped {
            out.push_str(&format!(
                "    skipped {}{}: {}\n",
                a.id,
                a.name
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                a.reason
            ));
        }
        for a in &self.accounts_failed {
            out.push_str(&format!("    failed  {}: {}\n", a.id, a.reason));
        }
        out.push_str(&format!(
            "  units: {} total, {} ok, {} failed; AWS API calls: {}\n",
            self.units_total, self.units_ok, self.units_failed, self.aws_api_calls
        ));
        for f in self.failures.iter().take(MAX_LISTED) {
            out.push_str(&format!("    failed  {}: {}\n", f.unit, f.reason));
        }
        out.push_str("  entities per blueprint:");
        if self.entities.is_empty() {
            out.push_str(" none");
        }
        out.push('\n');
        for (bp, n) in &self.entities {
            let deleted = self.deleted.get(bp).copied().unwrap_or(0);
            out.push_str(&format!(
                "    {bp}: {n}{}\n",
                if deleted > 0 {
                    format!(" (deleted {deleted} stale)")
                } else {
                    String::new()
                }
            ));
        }
        for k in self.kept.iter().take(MAX_LISTED) {
            out.push_str(&format!("    kept stale in {}: {}\n", k.unit, k.reason));
        }
        if self.port_failure_count > 0 {
            out.push_str(&format!(
                "  Port refused {} entit(ies):\n",
                self.port_failure_count
            ));
            for f in &self.port_failures {
                out.push_str(&format!(
                    "    {}/{}: {} {}\n",
                    f.blueprint, f.identifier, f.error, f.message
                ));
            }
        }
        if self.map_error_count > 0 {
            out.push_str(&format!(
                "  {} object(s) could not be mapped (see the log)\n",
                self.map_error_count
            ));
        }
        out
    }
}
