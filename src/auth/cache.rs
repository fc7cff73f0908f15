//! The cache of validated tokens: keyed by the SHA-256 of the token (the token itself is never
//! stored), each answer kept for `min(token_cache_time, time to the token's expiry)`, a
//! rejection for a short while, a bounded number of entries. Concurrent first requests with the
//! same token wait for one validation.

use super::keystone::{TokenInfo, Unavailable};
use moka::Expiry;
use moka::future::Cache;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What Keystone said about one token.
#[derive(Debug, Clone)]
pub enum Verdict {
    Valid(Arc<TokenInfo>),
    /// Unknown, expired or revoked.
    Rejected,
}

#[derive(Clone)]
struct Entry {
    verdict: Verdict,
    ttl: Duration,
}

/// Each entry lives as long as it says.
struct OwnTtl;

impl Expiry<[u8; 32], Entry> for OwnTtl {
    fn expire_after_create(&self, _: &[u8; 32], entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// How long answers are kept.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// The longest a valid token is believed without asking Keystone again.
    pub token_ttl: Duration,
    /// How long a rejection is remembered.
    pub rejection_ttl: Duration,
    pub max_entries: u64,
}

pub struct TokenCache {
    entries: Cache<[u8; 32], Entry>,
    policy: CachePolicy,
}

/// Whether the answer came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Miss,
}

fn key_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenCache {
    pub fn new(policy: CachePolicy) -> TokenCache {
        TokenCache {
            entries: Cache::builder()
                .max_capacity(policy.max_entries)
                .expire_after(OwnTtl)
                .build(),
            policy,
        }
    }

    /// The cached verdict for `token`, or the one `validate` finds (inserted unless Keystone
    /// was unavailable, which is never cached).
    pub async fn get_or_validate<F>(
        &self,
        token: &str,
        validate: F,
    ) -> Result<(Verdict, Lookup), Arc<Unavailable>>
    where
        F: Future<Output = Result<Verdict, Unavailable>>,
    {
        let policy = self.policy;
        let entry = self
            .entries
            .entry(key_of(token))
            .or_try_insert_with(async move {
                let verdict = validate.await?;
                let ttl = match &verdict {
                    Verdict::Valid(info) => policy.token_ttl.min(info.remaining()),
                    Verdict::Rejected => policy.rejection_ttl,
                };
                Ok::<_, Unavailable>(Entry { verdict, ttl })
            })
            .await?;
        let lookup = if entry.is_fresh() {
            Lookup::Miss
        } else {
            Lookup::Hit
        };
        Ok((entry.into_value().verdict, lookup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn policy(ttl_ms: u64) -> CachePolicy {
        CachePolicy {
            token_ttl: Duration::from_millis(ttl_ms),
            rejection_ttl: Duration::from_millis(ttl_ms),
            max_entries: 100,
        }
    }

    #[tokio::test]
    async fn concurrent_first_requests_validate_once() {
        let cache = Arc::new(TokenCache::new(policy(60_000)));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_validate("tok", async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(Verdict::Rejected)
                    })
                    .await
                    .map(|(_, l)| l)
            }));
        }
        let mut misses = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() == Lookup::Miss {
                misses += 1;
            }
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(misses, 1);
    }

    #[tokio::test]
    async fn unavailable_is_not_cached_and_entries_expire() {
        let cache = TokenCache::new(policy(100));
        let down = cache
            .get_or_validate("t", async { Err(Unavailable("down".into())) })
            .await;
        assert!(down.is_err());
        let (_, l) = cache
            .get_or_validate("t", async { Ok(Verdict::Rejected) })
            .await
            .unwrap();
        assert_eq!(l, Lookup::Miss);
        let (_, l) = cache
            .get_or_validate("t", async { Ok(Verdict::Rejected) })
            .await
            .unwrap();
        assert_eq!(l, Lookup::Hit);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (_, l) = cache
            .get_or_validate("t", async { Ok(Verdict::Rejected) })
            .await
            .unwrap();
        assert_eq!(l, Lookup::Miss);
    }
}
