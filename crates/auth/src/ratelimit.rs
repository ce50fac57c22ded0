//! Rate limits on the token endpoint: per source address (before anything else), per source
//! address for failed authentications (much stricter, to stop secret guessing), and per client
//! id. GCRA buckets from `governor`; state is per process (see the README for the effective
//! limit with several nodes).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use brandstream_domain::ClientId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::{Deserialize, Serialize};

/// Configured limits; a rate of 0 disables that limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Token requests per second per client id.
    pub per_client_per_second: u32,
    /// Burst allowance per client id.
    pub per_client_burst: u32,
    /// Token requests per second per source address.
    pub per_address_per_second: u32,
    /// Burst allowance per source address.
    pub per_address_burst: u32,
    /// Failed client authentications per minute per source address.
    pub failures_per_minute: u32,
    /// Burst allowance of failed authentications per source address.
    pub failures_burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_client_per_second: 100,
            per_client_burst: 200,
            per_address_per_second: 500,
            per_address_burst: 1000,
            failures_per_minute: 30,
            failures_burst: 30,
        }
    }
}

/// The keyed limiters.
pub struct RateLimits {
    per_client: Option<DefaultKeyedRateLimiter<ClientId>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    failures: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Addresses that exhausted their failure budget, until when. Usually empty, so the hot
    /// path pays one uncontended read lock.
    blocked: RwLock<HashMap<IpAddr, Instant>>,
}

/// Bound on remembered blocked addresses (memory limit under a distributed attack).
const MAX_BLOCKED: usize = 100_000;

fn nonzero(value: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(value)
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    rate: u32,
    burst: u32,
    per_minute: bool,
) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = nonzero(rate)?;
    let quota = if per_minute {
        Quota::per_minute(rate)
    } else {
        Quota::per_second(rate)
    };
    let quota = quota.allow_burst(nonzero(burst).unwrap_or(rate));
    Some(DefaultKeyedRateLimiter::keyed(quota))
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &Option<DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), Duration> {
    match limiter {
        Some(limiter) => limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
        None => Ok(()),
    }
}

impl RateLimits {
    /// Builds the limiters.
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            per_client: limiter(
                settings.per_client_per_second,
                settings.per_client_burst,
                false,
            ),
            per_address: limiter(
                settings.per_address_per_second,
                settings.per_address_burst,
                false,
            ),
            failures: limiter(settings.failures_per_minute, settings.failures_burst, true),
            blocked: RwLock::new(HashMap::new()),
        }
    }

    /// Counts a request from `address`; `Err(wait)` when over the limit.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Duration> {
        check(&self.per_address, &address)
    }

    /// Whether `address` is still blocked after exceeding its failed-authentication budget.
    /// Checked before authenticating, so a blocked address cannot keep guessing.
    pub fn check_blocked(&self, address: IpAddr) -> Result<(), Duration> {
        let blocked = match self.blocked.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if blocked.is_empty() {
            return Ok(());
        }
        match blocked.get(&address) {
            Some(until) if *until > Instant::now() => Err(*until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// Records a failed authentication from `address`; `Err(wait)` once over the budget, and
    /// the address is then blocked for `wait`.
    pub fn record_failure(&self, address: IpAddr) -> Result<(), Duration> {
        let outcome = check(&self.failures, &address);
        if let Err(wait) = outcome {
            let mut blocked = match self.blocked.write() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            if blocked.len() >= MAX_BLOCKED {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            if blocked.len() < MAX_BLOCKED {
                blocked.insert(address, Instant::now() + wait);
            }
        }
        outcome
    }

    /// Counts a token request of `client_id`.
    pub fn check_client(&self, client_id: &ClientId) -> Result<(), Duration> {
        check(&self.per_client, client_id)
    }

    /// Drops idle buckets so memory stays bounded by the recently active keys.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in [&self.per_address, &self.failures].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        if let Ok(mut blocked) = self.blocked.write() {
            blocked.retain(|_, until| *until > now);
        }
    }
}

/// Whole seconds to put in `Retry-After` (at least 1).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_millis()
        .div_ceil(1000)
        .max(1)
        .try_into()
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_the_address() {
        let limits = RateLimits::new(&RateLimitSettings {
            failures_per_minute: 2,
            failures_burst: 2,
            ..RateLimitSettings::default()
        });
        let address: IpAddr = [127, 0, 0, 1].into();
        assert!(limits.check_blocked(address).is_ok());
        assert!(limits.record_failure(address).is_ok());
        assert!(limits.record_failure(address).is_ok());
        let wait = limits.record_failure(address).unwrap_err();
        assert!(wait > Duration::from_secs(1));
        assert!(limits.check_blocked(address).is_err());
        assert!(limits.check_blocked([127, 0, 0, 2].into()).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
    }
}
