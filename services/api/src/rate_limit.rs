//! Per-caller request budgets: a token bucket per API key or JWT subject (governor's GCRA),
//! not per IP address — partners share gateways and NATs, and one partner's burst must not
//! spend another's budget. The admin token, the operator's own, has no budget.
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use palier_domain::access::AccessRole;

use crate::auth::Principal;

/// Past this many tracked callers, idle ones are forgotten (a full bucket needs no state).
const RETAIN_ABOVE: usize = 10_000;

/// The budgets.
pub struct RateLimits {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("enabled", &self.limiter.is_some())
            .finish()
    }
}

impl RateLimits {
    /// `per_second` requests a second sustained, bursts of `burst`; 0 per second: no limit.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        RateLimits {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` when `principal` may make one more request now, else how long to wait.
    pub fn check(&self, principal: &Principal) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if principal.role == AccessRole::Admin && principal.key.is_none() {
            return Ok(());
        }
        if limiter.len() > RETAIN_ABOVE {
            limiter.retain_recent();
        }
        limiter
            .check_key(&principal.subject)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palier_domain::access::{ApiKeyId, KeyScopes};

    fn key(id: &str) -> Principal {
        Principal {
            subject: format!("key:{id}"),
            role: AccessRole::Auditor,
            scopes: KeyScopes::default(),
            key: ApiKeyId::parse(id).ok(),
            expires_at: None,
        }
    }

    #[test]
    fn each_key_has_its_own_bucket_and_the_admin_none() {
        let limits = RateLimits::new(1, 3);
        let (a, b) = (key("a"), key("b"));
        for _ in 0..3 {
            assert!(limits.check(&a).is_ok());
        }
        let wait = limits.check(&a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Another key is untouched by a's burst.
        assert!(limits.check(&b).is_ok());
        for _ in 0..100 {
            assert!(limits.check(&Principal::admin()).is_ok());
        }
        assert!(RateLimits::new(0, 0).check(&a).is_ok());
    }
}
