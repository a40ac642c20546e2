//! `selector.maxConcurrentAccounts`: a gate that admits at most so many accounts at a time to run
//! units of one kind, and every unit of an account already admitted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
