//! A small per-address token bucket for the unauthenticated endpoints (public lookup, failed
//! authentication): `burst` requests at once, refilled at `per_second`. The map is bounded: when
//! full, buckets that are full again (idle clients) are dropped first, then the oldest; an
//! attacker rotating addresses can only evict others' full buckets, not grow memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by client address.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_second: f64, max_clients: usize) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: per_second.max(0.001),
            max_clients: max_clients.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`: `Ok(())`, or `Err(seconds until the next token)`.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let Ok(mut map) = self.buckets.lock() else {
            return Ok(());
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

    fn evict(&self, map: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let (burst, rate) = (self.burst, self.per_second);
        map.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
        });
        while map.len() >= self.max_clients {
            let Some(oldest) = map.iter().min_by_key(|(_, b)| b.last).map(|(k, _)| *k) else {
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
        let rl = RateLimiter::new(3, 1.0, 2);
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
}
