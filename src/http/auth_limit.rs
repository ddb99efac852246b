//! Failed-authentication rate limiting per client address. `governor` counts failures; an
//! address that exceeds its quota is refused (429) for a cooling-off period before its token
//! is even looked at, so guessing tokens is bounded, and valid tokens from other addresses
//! are unaffected.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct AuthLimiter {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    block_for: Duration,
}

/// What a failure led to.
#[derive(Debug, PartialEq, Eq)]
pub enum FailureVerdict {
    /// Within quota: answer 401.
    Counted,
    /// Quota exceeded just now: the address is blocked from now on.
    Blocked,
}

impl AuthLimiter {
    /// `per_minute` failures are allowed per address (in a burst of that size); past that the
    /// address is blocked for `block_for`.
    pub fn new(per_minute: NonZeroU32, block_for: Duration) -> Self {
        AuthLimiter {
            failures: RateLimiter::keyed(Quota::per_minute(per_minute)),
            blocked: Mutex::new(HashMap::new()),
            block_for,
        }
    }

    /// Is this address still cooling off?
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        self.blocked_for(ip).is_some()
    }

    /// How long this address still cools off, if it does.
    pub fn blocked_for(&self, ip: IpAddr) -> Option<Duration> {
        let Ok(mut blocked) = self.blocked.lock() else {
            return None;
        };
        let now = Instant::now();
        match blocked.get(&ip) {
            Some(until) if *until > now => Some(*until - now),
            Some(_) => {
                blocked.remove(&ip);
                None
            }
            None => None,
        }
    }

    /// The refusal of a blocked address: 429 with the whole seconds left (at least 1).
    pub fn refusal(&self, ip: IpAddr) -> crate::http::error::ApiError {
        let left = self.blocked_for(ip).unwrap_or(self.block_for);
        let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        crate::http::error::ApiError::TooManyRequests {
            retry_after: seconds.max(1),
        }
    }

    pub fn record_failure(&self, ip: IpAddr) -> FailureVerdict {
        if self.failures.check_key(&ip).is_ok() {
            return FailureVerdict::Counted;
        }
        if let Ok(mut blocked) = self.blocked.lock() {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
            blocked.insert(ip, now + self.block_for);
        }
        self.failures.retain_recent();
        FailureVerdict::Blocked
    }
}

impl Default for AuthLimiter {
    /// 20 failures a minute per address, then 60 seconds of refusals.
    fn default() -> Self {
        AuthLimiter::new(NonZeroU32::MIN.saturating_add(19), Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_quota_and_only_that_address() {
        let limiter = AuthLimiter::new(NonZeroU32::MIN.saturating_add(2), Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(!limiter.is_blocked(a));
            assert_eq!(limiter.record_failure(a), FailureVerdict::Counted);
        }
        assert_eq!(limiter.record_failure(a), FailureVerdict::Blocked);
        assert!(limiter.is_blocked(a));
        assert!(!limiter.is_blocked(b));
        let left = limiter.blocked_for(a).unwrap();
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(58));
        match limiter.refusal(a) {
            crate::http::error::ApiError::TooManyRequests { retry_after } => {
                assert_eq!(retry_after, 60)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn blocks_expire() {
        let limiter = AuthLimiter::new(NonZeroU32::MIN, Duration::from_millis(20));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        limiter.record_failure(a);
        assert_eq!(limiter.record_failure(a), FailureVerdict::Blocked);
        std::thread::sleep(Duration::from_millis(40));
        assert!(!limiter.is_blocked(a));
    }
}
