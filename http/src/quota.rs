//! Daily quotas of online submissions, per portal account and per client address: one citizen
//! token once took all 9,999 of a unit's daily dossier codes. A count is taken before the write
//! and given back when the write did not record a new dossier (refused, failed, or a keyed retry
//! answered from the log), so only recorded submissions count.
//!
//! The counts are the server's memory of the current local day: they start again at zero each
//! day and at a restart (the desk's reserve of codes, kept by the command service, holds
//! whatever happens here). The map of addresses is bounded: once [`MAX_QUOTA_ADDRESSES`] are
//! counted in a day, a new address is refused until the next day (failing closed, like the rate
//! limiter), so rotating addresses cannot grow memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::NaiveDate;

use crate::config::MAX_QUOTA_ADDRESSES;

/// Why a submission is over a quota.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("this account has made its {limit} online submissions for today")]
    Account { limit: u32 },
    #[error("this address has made its {limit} online submissions for today")]
    Address { limit: u32 },
    #[error("too many addresses submitted online today")]
    Full,
    #[error("the submission quota is unavailable")]
    Poisoned,
}

/// Counts per key for the current day, each at most `limit`.
#[derive(Debug)]
struct Daily<K> {
    limit: u32,
    max_keys: usize,
    counts: Mutex<(Option<NaiveDate>, HashMap<K, u32>)>,
}

/// Why a [`Daily`] refused.
enum Refusal {
    Limit,
    Full,
    Poisoned,
}

impl<K: Hash + Eq + Clone> Daily<K> {
    fn new(limit: u32, max_keys: usize) -> Daily<K> {
        Daily {
            limit,
            max_keys,
            counts: Mutex::new((None, HashMap::new())),
        }
    }

    fn take(&self, key: &K, today: NaiveDate) -> Result<(), Refusal> {
        let Ok(mut guard) = self.counts.lock() else {
            tracing::error!("quota lock poisoned: refusing the submission");
            return Err(Refusal::Poisoned);
        };
        let (day, counts) = &mut *guard;
        if *day != Some(today) {
            *day = Some(today);
            counts.clear();
        }
        if !counts.contains_key(key) && counts.len() >= self.max_keys {
            return Err(Refusal::Full);
        }
        let used = counts.entry(key.clone()).or_insert(0);
        if *used >= self.limit {
            return Err(Refusal::Limit);
        }
        *used += 1;
        Ok(())
    }

    fn give_back(&self, key: &K, today: NaiveDate) {
        let Ok(mut guard) = self.counts.lock() else {
            return;
        };
        let (day, counts) = &mut *guard;
        if *day == Some(today) {
            if let Some(used) = counts.get_mut(key) {
                *used = used.saturating_sub(1);
            }
        }
    }
}

/// The daily quotas of online submissions.
#[derive(Debug)]
pub struct OnlineQuota {
    accounts: Daily<String>,
    addresses: Daily<IpAddr>,
}

impl OnlineQuota {
    pub fn new(per_account: u32, per_address: u32) -> OnlineQuota {
        OnlineQuota {
            // Accounts are staff records an admin registered: their number is bounded by the
            // directory, not by clients.
            accounts: Daily::new(per_account, usize::MAX),
            addresses: Daily::new(per_address, MAX_QUOTA_ADDRESSES),
        }
    }

    /// Counts one submission of `account` from `address` (an IPv6 address by its /64) on
    /// `today`, or says which quota is used up (nothing counted then).
    pub fn take(&self, account: &str, address: IpAddr, today: NaiveDate) -> Result<(), QuotaError> {
        let account = account.to_owned();
        let address = crate::proxy::rate_key(address);
        self.accounts.take(&account, today).map_err(|r| {
            refusal(
                r,
                QuotaError::Account {
                    limit: self.accounts.limit,
                },
            )
        })?;
        if let Err(r) = self.addresses.take(&address, today) {
            self.accounts.give_back(&account, today);
            return Err(refusal(
                r,
                QuotaError::Address {
                    limit: self.addresses.limit,
                },
            ));
        }
        Ok(())
    }

    /// Gives back what [`OnlineQuota::take`] counted, for a submission that recorded nothing.
    pub fn give_back(&self, account: &str, address: IpAddr, today: NaiveDate) {
        self.accounts.give_back(&account.to_owned(), today);
        self.addresses
            .give_back(&crate::proxy::rate_key(address), today);
    }
}

fn refusal(r: Refusal, limit: QuotaError) -> QuotaError {
    match r {
        Refusal::Limit => limit,
        Refusal::Full => QuotaError::Full,
        Refusal::Poisoned => QuotaError::Poisoned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_count_per_account_and_address_and_start_again_each_day() {
        let q = OnlineQuota::new(3, 4);
        let d1 = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let d2 = d1.succ_opt().unwrap();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.8".parse().unwrap();
        for _ in 0..3 {
            q.take("cong-dvc", a, d1).unwrap();
        }
        assert_eq!(
            q.take("cong-dvc", b, d1),
            Err(QuotaError::Account { limit: 3 })
        );
        // The address has one left: another account takes it, then it is used up.
        q.take("other", a, d1).unwrap();
        assert_eq!(
            q.take("third", a, d1),
            Err(QuotaError::Address { limit: 4 })
        );
        // A refused address check gave the account's count back.
        q.take("third", b, d1).unwrap();
        // A submission that recorded nothing gives its count back.
        q.give_back("cong-dvc", a, d1);
        q.take("cong-dvc", b, d1).unwrap();
        // The next day starts at zero.
        q.take("cong-dvc", a, d2).unwrap();
    }
}
