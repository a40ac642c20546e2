//! Credentials for signing, cached per credentials provider. The default chain and the
//! AssumeRole provider fetch anew on every call when used outside SDK clients (the SDK caches in
//! its own identity cache), so the client keeps them until shortly before they expire and lets
//! one task at a time refresh them.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_smithy_types::error::display::DisplayErrorContext;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// Credentials are renewed this long before they expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Credentials that came with less than [`REFRESH_MARGIN`] left are still used this long, so a
/// provider that hands out short-lived credentials is not asked on every call.
const MIN_REUSE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct CredentialCache {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<(Credentials, SystemTime)>>,
}

impl CredentialCache {
    pub fn new(provider: SharedCredentialsProvider) -> CredentialCache {
        CredentialCache {
            provider,
            cached: Mutex::new(None),
        }
    }

    /// Cached credentials, or new ones from the provider. The lock is held while fetching, so
    /// concurrent callers wait for one refresh instead of each starting their own.
    pub async fn get(&self) -> Result<Credentials, String> {
        let mut cached = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some((creds, fetched)) = cached.as_ref() {
            if usable(creds, *fetched, now) {
                return Ok(creds.clone());
            }
        }
        let creds = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        *cached = Some((creds.clone(), now));
        Ok(creds)
    }
}

fn usable(creds: &Credentials, fetched: SystemTime, now: SystemTime) -> bool {
    match creds.expiry() {
        None => true,
        Some(expiry) if expiry <= now => false,
        Some(expiry) => expiry > now + REFRESH_MARGIN || now < fetched + MIN_REUSE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::future;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Hands out credentials that expire `lifetime` from now, counting calls.
    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime: Duration,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = SystemTime::now() + self.lifetime;
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "secret",
                None,
                Some(expiry),
                "test",
            )))
        }
    }

    fn cache(lifetime: Duration) -> (CredentialCache, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let provider = Counting {
            calls: calls.clone(),
            lifetime,
        };
        (
            CredentialCache::new(SharedCredentialsProvider::new(provider)),
            calls,
        )
    }

    #[tokio::test]
    async fn reuses_credentials_until_the_refresh_margin() {
        let (cache, calls) = cache(Duration::from_secs(3600));
        let (a, b) = tokio::join!(cache.get(), cache.get());
        assert_eq!(a.unwrap().access_key_id(), b.unwrap().access_key_id());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn renews_inside_the_margin_but_not_right_after_fetching() {
        let now = SystemTime::now();
        let soon = Credentials::new("a", "s", None, Some(now + Duration::from_secs(120)), "t");
        assert!(usable(&soon, now, now), "just fetched");
        assert!(
            !usable(&soon, now - Duration::from_secs(60), now),
            "fetched a while ago"
        );
        let later = Credentials::new("a", "s", None, Some(now + Duration::from_secs(900)), "t");
        assert!(usable(&later, now - Duration::from_secs(600), now));
        let expired = Credentials::new("a", "s", None, Some(now - Duration::from_secs(1)), "t");
        assert!(!usable(&expired, now, now));
    }

    #[tokio::test]
    async fn asks_again_once_credentials_are_stale() {
        let (cache, calls) = cache(Duration::ZERO);
        cache.get().await.unwrap();
        cache.get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
