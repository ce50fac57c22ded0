//! Rate limits on the token endpoint. A request with a correct secret is limited only by its
//! own client's budget (per client id): behind NAT or in one cluster many services share an
//! address, and one misconfigured job must not lock the others out. Only failed
//! authentications are throttled by address — per second (a flood cap) and per minute (the
//! guessing budget) — and per client id (the same per-minute budget). Secrets carry 256 bits,
//! so the failure budgets exist against load, not guessing. GCRA buckets from `governor`;
//! state is per process (see the README for the effective limit with several nodes).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

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
    /// Failed token requests per second per source address (a flood cap).
    pub per_address_per_second: u32,
    /// Burst allowance of that cap.
    pub per_address_burst: u32,
    /// Failed client authentications per minute per source address, and per client id.
    pub failures_per_minute: u32,
    /// Burst allowance of failed authentications (per address, and per client id).
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
    client_failures: Option<DefaultKeyedRateLimiter<ClientId>>,
}

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
            client_failures: limiter(settings.failures_per_minute, settings.failures_burst, true),
        }
    }

    /// Records a failed request from `address` (for the client id it named, if well-formed);
    /// `Err(wait)` once one of the failure budgets — the address's flood cap and per-minute
    /// budget, then the client id's per-minute budget — is spent. A failure refused by one
    /// budget is not charged to the next.
    pub fn record_failure(
        &self,
        address: IpAddr,
        client_id: Option<&ClientId>,
    ) -> Result<(), Duration> {
        check(&self.per_address, &address)?;
        check(&self.failures, &address)?;
        match client_id {
            Some(id) => check(&self.client_failures, id),
            None => Ok(()),
        }
    }

    /// Counts a token request of `client_id`.
    pub fn check_client(&self, client_id: &ClientId) -> Result<(), Duration> {
        check(&self.per_client, client_id)
    }

    /// Drops idle buckets so memory stays bounded by the recently active keys.
    pub fn forget_idle(&self) {
        for limiter in [&self.per_client, &self.client_failures]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in [&self.per_address, &self.failures].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
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
    fn failures_are_budgeted_per_address_and_per_client_id() {
        let limits = RateLimits::new(&RateLimitSettings {
            failures_per_minute: 2,
            failures_burst: 2,
            ..RateLimitSettings::default()
        });
        let address: IpAddr = [127, 0, 0, 1].into();
        let a = ClientId::generate();
        let b = ClientId::generate();
        assert!(limits.record_failure(address, Some(&a)).is_ok());
        assert!(limits.record_failure(address, Some(&a)).is_ok());
        let wait = limits.record_failure(address, Some(&a)).unwrap_err();
        assert!(wait > Duration::from_secs(1));
        // The address's budget is spent for every client id it names ...
        assert!(limits.record_failure(address, Some(&b)).is_err());
        // ... and the client id's budget from every address.
        assert!(limits
            .record_failure([127, 0, 0, 2].into(), Some(&a))
            .is_err());
        assert!(limits
            .record_failure([127, 0, 0, 3].into(), Some(&b))
            .is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
    }
}
