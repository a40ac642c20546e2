//! A memory bound shared by the units of one process: large pages in flight.
//!
//! A unit's memory is mostly its current page of a large listing (one `DescribeInstances` answer
//! of up to 1,000 instances: the response text, its parse, the raw objects, the entities and the
//! request bodies sent to Port). Bounding units alone (`MAX_CONCURRENT_UNITS`) multiplies that by
//! the unit count, although most units are small. A [`PageBudget`] instead bounds the large pages
//! held at once across all units (`MAX_PAGES_IN_FLIGHT`): a kind's fetch takes a [`PagePermit`]
//! before it asks for a large page and keeps it until the page has been handed downstream, so
//! the other units keep running their small calls while at most that many large pages are in
//! memory. The fetches that take one: EC2 instances (`kinds::ec2_instance`) and the EC2
//! `Describe*` kinds of 1,000-object pages (`FetchContext::send_described`).
//!
//! The budget reaches a unit's fetch through a task-local scope ([`PageBudget::scope`]), so
//! kinds do not carry it in their signatures; outside a scope (tests, one-off calls) a permit is
//! free.

use std::future::Future;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default of `MAX_PAGES_IN_FLIGHT`. With pages kept as text and parsed part by part, two pages
/// cost little (BENCHMARKS.md F4: 47–51 MiB on 10 units of 1,000 instances, 34 MiB one unit at a
/// time), and a second place keeps the other units' pages moving while one region's endpoint is
/// slow to answer (a unit takes its place before it asks for a page).
pub const DEFAULT_PAGES_IN_FLIGHT: usize = 2;

tokio::task_local! {
    static BUDGET: PageBudget;
}

/// At most `pages` large pages in flight across the units that run in its scope.
#[derive(Debug, Clone)]
pub struct PageBudget {
    semaphore: Arc<Semaphore>,
    pages: usize,
}

impl PageBudget {
    /// A budget of `pages` (at least 1).
    pub fn new(pages: usize) -> PageBudget {
        let pages = pages.max(1);
        PageBudget {
            semaphore: Arc::new(Semaphore::new(pages)),
            pages,
        }
    }

    /// The number of large pages allowed at once.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Pages that may start now.
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// Runs `work` (one unit's fetch) so that its [`page_permit`]s come from this budget.
    pub async fn scope<F: Future>(&self, work: F) -> F::Output {
        BUDGET.scope(self.clone(), work).await
    }
}

/// One large page in flight; the page's place is given back when it is dropped.
#[derive(Debug)]
pub struct PagePermit(Option<OwnedSemaphorePermit>);

impl PagePermit {
    /// Whether this permit counts against a budget (false outside [`PageBudget::scope`]).
    pub fn is_bounded(&self) -> bool {
        self.0.is_some()
    }
}

/// Waits for a place for one large page in the current unit's budget; immediate outside a
/// budget's scope. Take it before asking for the page, keep it until the page has been sent
/// downstream.
pub async fn page_permit() -> PagePermit {
    let semaphore = BUDGET.try_with(|b| b.semaphore.clone()).ok();
    match semaphore {
        // The semaphore is never closed, so acquiring fails only if it were.
        Some(semaphore) => PagePermit(semaphore.acquire_owned().await.ok()),
        None => PagePermit(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn outside_a_scope_permits_are_free() {
        let a = page_permit().await;
        let b = page_permit().await;
        assert!(!a.is_bounded() && !b.is_bounded());
    }

    #[tokio::test]
    async fn pages_are_released_when_their_permit_drops() {
        let budget = PageBudget::new(1);
        budget
            .scope(async {
                let first = page_permit().await;
                assert!(first.is_bounded());
                assert_eq!(budget.available(), 0);
                drop(first);
                assert_eq!(budget.available(), 1);
            })
            .await;
        assert_eq!(
            PageBudget::new(0).pages(),
            1,
            "a budget allows one page at least"
        );
    }

    /// Eight units on a multi-threaded runtime, each holding three pages one after the other:
    /// never more than the budget's pages at once, and every unit finishes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn units_sharing_a_budget_never_hold_more_pages_than_it_allows() {
        let budget = PageBudget::new(2);
        let held = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let units: Vec<_> = (0..8)
            .map(|_| {
                let (budget, held, most) = (budget.clone(), held.clone(), most.clone());
                tokio::spawn(async move {
                    budget
                        .scope(async {
                            for _ in 0..3 {
                                let _page = page_permit().await;
                                let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(5)).await;
                                held.fetch_sub(1, Ordering::SeqCst);
                            }
                        })
                        .await
                })
            })
            .collect();
        for unit in units {
            unit.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(budget.available(), 2);
    }
}
