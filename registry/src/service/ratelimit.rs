//! Limits on writes (publish, deprecate, yank), per token and per client address, so one
//! misbehaving client cannot flood the registry. A fixed one-minute window per key, in memory:
//! each replica limits what it sees.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RateLimiter {
    per_token: u32,
    per_address: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Refused: try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

impl RateLimiter {
    /// `0` disables a limit.
    pub fn new(per_token: u32, per_address: u32) -> Self {
        Self {
            per_token,
            per_address,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn take(
        windows: &mut HashMap<String, (Instant, u32)>,
        key: String,
        limit: u32,
        now: Instant,
    ) -> Result<(), RetryAfter> {
        if limit == 0 {
            return Ok(());
        }
        let window = windows.entry(key).or_insert((now, 0));
        if now.duration_since(window.0) >= WINDOW {
            *window = (now, 0);
        }
        if window.1 >= limit {
            let left = WINDOW.saturating_sub(now.duration_since(window.0));
            return Err(RetryAfter(left.as_secs().max(1)));
        }
        window.1 += 1;
        Ok(())
    }

    /// Counts one write by `token` from `address`, or says how long to wait.
    pub fn check(&self, token: &str, address: &str, now: Instant) -> Result<(), RetryAfter> {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        Self::take(&mut windows, format!("token:{token}"), self.per_token, now)?;
        Self::take(
            &mut windows,
            format!("address:{address}"),
            self.per_address,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_beyond_the_limit_wait_for_the_next_window() {
        let limiter = RateLimiter::new(2, 3);
        let start = Instant::now();
        assert_eq!(limiter.check("a", "10.0.0.1", start), Ok(()));
        assert_eq!(limiter.check("a", "10.0.0.1", start), Ok(()));
        assert!(matches!(
            limiter.check("a", "10.0.0.1", start),
            Err(RetryAfter(60))
        ));
        // Another token from the same address still has the address's last write.
        assert_eq!(limiter.check("b", "10.0.0.1", start), Ok(()));
        assert!(limiter.check("c", "10.0.0.1", start).is_err());
        let later = start + Duration::from_secs(61);
        assert_eq!(limiter.check("a", "10.0.0.1", later), Ok(()));
    }

    #[test]
    fn zero_disables_a_limit() {
        let limiter = RateLimiter::new(0, 0);
        for _ in 0..1000 {
            assert_eq!(limiter.check("a", "x", Instant::now()), Ok(()));
        }
    }
}
