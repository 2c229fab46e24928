//! A small token bucket per key for the unauthenticated endpoints (public lookup, failed
//! authentication, failed console sign-ins per address and per account), an IPv6 client counted
//! by its /64: `burst` requests at once, refilled at `per_second`. The map is bounded: when
//! full, buckets that are full again (idle clients) are dropped first, then the oldest; an
//! attacker rotating addresses can only evict others' full buckets, not grow memory. It fails
//! closed: if its lock is poisoned (a thread panicked holding it) every request is refused, so a
//! fault can never switch the limit off.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// The wait announced to every client once the limiter's lock is poisoned.
pub const POISONED_RETRY_AFTER_S: u64 = 60;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by client address (or by another key: a console account's name).
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    burst: f64,
    per_second: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl RateLimiter<IpAddr> {
    /// Takes one token for `ip` (an IPv6 address counts for its /64: `proxy::rate_key`):
    /// `Ok(())`, or `Err(seconds until the next token)`.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(crate::proxy::rate_key(ip), Instant::now())
    }

    /// Whether `ip`'s bucket is empty now, without taking a token: `Some(seconds until the
    /// next token)` if so.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        self.blocked_at(&crate::proxy::rate_key(ip), Instant::now())
    }
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(burst: u32, per_second: f64, max_clients: usize) -> RateLimiter<K> {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: per_second.max(0.001),
            max_clients: max_clients.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`: `Ok(())`, or `Err(seconds until the next token)`.
    pub fn check_key(&self, key: K) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    /// Whether `key`'s bucket is empty now, without taking a token.
    pub fn blocked_key(&self, key: &K) -> Option<u64> {
        self.blocked_at(key, Instant::now())
    }

    fn blocked_at(&self, key: &K, now: Instant) -> Option<u64> {
        let Ok(map) = self.buckets.lock() else {
            tracing::error!("rate limiter lock poisoned: refusing the request");
            return Some(POISONED_RETRY_AFTER_S);
        };
        let b = map.get(key)?;
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        let tokens = (b.tokens + elapsed * self.per_second).min(self.burst);
        (tokens < 1.0).then(|| ((1.0 - tokens) / self.per_second).ceil().max(1.0) as u64)
    }

    fn check_at(&self, ip: K, now: Instant) -> Result<(), u64> {
        let Ok(mut map) = self.buckets.lock() else {
            tracing::error!("rate limiter lock poisoned: refusing the request");
            return Err(POISONED_RETRY_AFTER_S);
        };
        if !map.contains_key(&ip) && map.len() >= self.max_clients {
            self.evict(&mut map, now);
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_second).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }

    fn evict(&self, map: &mut HashMap<K, Bucket>, now: Instant) {
        let (burst, rate) = (self.burst, self.per_second);
        map.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
        });
        while map.len() >= self.max_clients {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_empties_then_refills_and_map_stays_bounded() {
        let rl: RateLimiter = RateLimiter::new(3, 1.0, 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check_at(ip, t0).is_ok());
        }
        assert_eq!(rl.check_at(ip, t0), Err(1));
        assert!(rl.check_at(ip, t0 + Duration::from_millis(1100)).is_ok());
        for i in 0..10u8 {
            let other = IpAddr::from([10, 0, 1, i]);
            assert!(rl.check_at(other, t0).is_ok());
        }
        assert!(rl.buckets.lock().unwrap().len() <= 2);
    }

    #[test]
    fn blocked_peeks_without_taking_a_token() {
        let rl: RateLimiter<String> = RateLimiter::new(2, 1.0, 10);
        let t0 = Instant::now();
        let k = "tn-01".to_owned();
        assert_eq!(rl.blocked_at(&k, t0), None);
        assert!(rl.check_at(k.clone(), t0).is_ok());
        assert_eq!(rl.blocked_at(&k, t0), None);
        assert!(rl.check_at(k.clone(), t0).is_ok());
        assert_eq!(rl.blocked_at(&k, t0), Some(1));
        assert_eq!(rl.blocked_at(&k, t0), Some(1), "peeking takes nothing");
        assert_eq!(rl.blocked_at(&k, t0 + Duration::from_millis(1100)), None);
    }

    #[test]
    fn a_poisoned_lock_refuses_every_request() {
        let rl: std::sync::Arc<RateLimiter> =
            std::sync::Arc::new(RateLimiter::new(1000, 1000.0, 10));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(rl.check(ip).is_ok());
        let holder = rl.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = holder.buckets.lock().unwrap();
            panic!("a panic while holding the limiter's lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(rl.buckets.is_poisoned());
        // A fresh bucket would allow 1000 requests; a poisoned limiter allows none.
        for i in 0..3u8 {
            let other = IpAddr::from([10, 0, 2, i]);
            assert_eq!(rl.check(other), Err(POISONED_RETRY_AFTER_S));
        }
        assert_eq!(rl.check(ip), Err(POISONED_RETRY_AFTER_S));
    }
}
