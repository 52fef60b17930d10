//! India Standard Time: the time zone both brokers and the exchanges keep.
//!
//! IST is UTC+05:30 all year (no daylight saving), so a fixed offset is exact. Session expiries
//! (Angel One 05:00, Zerodha 06:00), trading slots (15:10) and trading dates are all IST
//! wall-clock times; these helpers turn them into instants.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// The IST offset, UTC+05:30.
pub fn offset() -> FixedOffset {
    const IST_SECONDS_EAST: i32 = 5 * 3600 + 30 * 60;
    FixedOffset::east_opt(IST_SECONDS_EAST)
        .unwrap_or_else(|| unreachable!("05:30 is a valid offset"))
}

/// The IST calendar date at `instant`.
pub fn date_of(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&offset()).date_naive()
}

/// The instant at which the IST wall clock reads `time` on `date`.
pub fn at(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    // A fixed offset has exactly one instant for every wall-clock time.
    offset()
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| unreachable!("a fixed offset maps every local time once"))
}

/// The first instant strictly after `after` at which the IST wall clock reads `time`.
///
/// Both brokers expire sessions at a fixed IST hour: `next(login_time, 06:00)` is when a Kite
/// token dies.
pub fn next(after: DateTime<Utc>, time: NaiveTime) -> DateTime<Utc> {
    let same_day = at(date_of(after), time);
    if same_day > after {
        same_day
    } else {
        at(date_of(after) + Days::new(1), time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn hm(hour: u32, minute: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hour, minute, 0).unwrap()
    }

    #[test]
    fn a_morning_login_expires_at_six_ist_the_next_day() {
        // 09:15 IST on 2 Dec 2026 is 03:45 UTC.
        assert_eq!(
            next(utc("2026-12-02T03:45:00Z"), hm(6, 0)),
            utc("2026-12-03T00:30:00Z")
        );
    }

    #[test]
    fn a_login_before_the_cut_off_expires_the_same_ist_day() {
        // 04:00 IST is before 05:00 IST the same day.
        assert_eq!(
            next(utc("2026-12-01T22:30:00Z"), hm(5, 0)),
            utc("2026-12-01T23:30:00Z")
        );
    }

    #[test]
    fn exactly_at_the_cut_off_means_the_next_day() {
        assert_eq!(
            next(utc("2026-12-01T23:30:00Z"), hm(5, 0)),
            utc("2026-12-02T23:30:00Z")
        );
    }

    #[test]
    fn the_ist_date_turns_at_eighteen_thirty_utc() {
        assert_eq!(
            date_of(utc("2026-12-01T18:29:59Z")),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        assert_eq!(
            date_of(utc("2026-12-01T18:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
        );
        assert_eq!(
            at(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(), hm(15, 10)),
            utc("2026-12-02T09:40:00Z")
        );
    }
}
