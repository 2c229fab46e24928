//! Key encodings of the read-model indexes: order-preserving, so every query is a prefix or
//! range scan. Variable-length parts (fields, staff ids) end with a 0x00 separator, which no
//! slug contains; unit and dossier codes have a fixed length.

use chrono::{Datelike, NaiveDate};

use crate::domain::types::Timestamp;

/// Seconds east of UTC of Asia/Ho_Chi_Minh (UTC+7, no daylight saving since 1975).
pub const LOCAL_OFFSET_MS: i64 = 7 * 3_600_000;

const DAY_MS: i64 = 86_400_000;

/// A timestamp as 8 big-endian bytes that sort like the signed value.
pub fn ts_be(t: Timestamp) -> [u8; 8] {
    ((t.0 as u64) ^ (1u64 << 63)).to_be_bytes()
}

/// Inverse of [`ts_be`].
pub fn ts_from_be(b: &[u8]) -> Option<Timestamp> {
    let arr: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some(Timestamp((u64::from_be_bytes(arr) ^ (1u64 << 63)) as i64))
}

/// The local (Asia/Ho_Chi_Minh) calendar date of an instant.
pub fn local_date(t: Timestamp) -> NaiveDate {
    let days = (t.0 + LOCAL_OFFSET_MS).div_euclid(DAY_MS);
    NaiveDate::from_num_days_from_ce_opt(
        // 719_163 = days from 0001-01-01 (CE day 1) to 1970-01-01.
        i32::try_from(days + 719_163).unwrap_or(i32::MAX),
    )
    .unwrap_or(NaiveDate::MIN)
}

/// The instant local midnight starts `date`.
pub fn local_midnight(date: NaiveDate) -> Timestamp {
    let days = i64::from(date.num_days_from_ce()) - 719_163;
    Timestamp(days * DAY_MS - LOCAL_OFFSET_MS)
}

/// A local month as `yyyy * 12 + (month - 1)`: consecutive months are consecutive numbers.
pub fn month_index(date: NaiveDate) -> u32 {
    (date.year().max(0) as u32) * 12 + date.month0()
}

/// A 7-day bucket of local dates (consecutive weeks are consecutive numbers): the finished
/// dossiers' "open during" index is bucketed by it.
pub fn week_index(date: NaiveDate) -> u32 {
    (date.num_days_from_ce().max(0) as u32) / 7
}

/// Appends a variable-length part and its 0x00 terminator.
pub fn push_part(key: &mut Vec<u8>, part: &str) {
    key.extend_from_slice(part.as_bytes());
    key.push(0);
}

/// Key builder shorthand.
pub fn key(tag: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(64);
    k.push(tag);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_bytes() {
        let ts = [i64::MIN, -5, 0, 7, 1_700_000_000_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(ts_be(Timestamp(w[0])) < ts_be(Timestamp(w[1])));
        }
        for t in ts {
            assert_eq!(ts_from_be(&ts_be(Timestamp(t))), Some(Timestamp(t)));
        }
    }

    #[test]
    fn local_dates_are_utc_plus_7() {
        // 2023-01-26 16:59:59.999 UTC is 23:59:59.999 local on the 26th; one ms later is the 27th.
        let t = Timestamp(1_674_752_399_999);
        assert_eq!(local_date(t), NaiveDate::from_ymd_opt(2023, 1, 26).unwrap());
        assert_eq!(
            local_date(Timestamp(t.0 + 1)),
            NaiveDate::from_ymd_opt(2023, 1, 27).unwrap()
        );
        let d = NaiveDate::from_ymd_opt(2023, 1, 27).unwrap();
        assert_eq!(local_midnight(d), Timestamp(t.0 + 1));
        assert_eq!(local_date(local_midnight(d)), d);
    }
}
