//! Per-scope leases: two workers never interleave their read-write of one scope's state.
//!
//! A lease is a stored `(scope, owner, expires_at)`. Acquiring succeeds when there is none or
//! the existing one has expired (a crashed holder is taken over after its TTL); otherwise it
//! fails with [`LeaseHeld`]. Release and renewal only act while the caller still owns it.

use super::model::{ScopeKey, Timestamp};
use std::fmt;

/// A held lease. Release it with `StateStore::release_lease` once the scope's state is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub scope: ScopeKey,
    /// Who holds it: unique per attempt (e.g. the Lambda request id and the SQS message id).
    pub owner: String,
    pub expires_at: Timestamp,
}

/// Another owner holds the scope's lease.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LeaseHeld {
    pub scope: ScopeKey,
    /// The holder, when it could be read (the lease may have been released meanwhile).
    pub owner: Option<String>,
    pub expires_at: Option<Timestamp>,
}

impl fmt::Display for LeaseHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scope {} is being synced by another worker", self.scope)?;
        if let Some(owner) = &self.owner {
            write!(f, " ({owner}")?;
            if let Some(t) = self.expires_at {
                write!(f, ", lease until {t}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_held_reads_as_one_sentence() {
        let held = LeaseHeld {
            scope: ScopeKey::new("prod", "123456789012", "eu-west-1", "AWS::EC2::Instance"),
            owner: Some("req-1/msg-2".into()),
            expires_at: Some(Timestamp::from_millis(0)),
        };
        assert_eq!(
            held.to_string(),
            "scope 123456789012/eu-west-1/AWS::EC2::Instance of installation prod is being synced by \
             another worker (req-1/msg-2, lease until 1970-01-01T00:00:00.000Z)"
        );
    }
}
