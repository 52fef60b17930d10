//! The trading calendar: which IST dates the exchange trades on.
//!
//! Weekends are closed; exchange holidays come from a list per year (the 2026 NSE list ships in
//! `data/`, naming its source; an operator replaces it with files of their own). A date in a
//! year without a list is an error, never a silent trading day: a run that trades on a holiday
//! or skips a trading day both cost money. Extra sessions (Muhurat trading on a Sunday) open a
//! date that would otherwise be closed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

/// The 2026 NSE holiday list shipped with the crate.
pub const NSE_2026: &str = include_str!("../data/nse-holidays-2026.toml");

/// Why the calendar could not be built or could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// No holiday list covers the year: refusing to guess whether the exchange trades.
    #[error(
        "no exchange holiday list for {year}: add one (holiday_files in the worker settings) before the worker can decide whether {date} is a trading day"
    )]
    NoHolidayList {
        /// The year without a list.
        year: i32,
        /// The date asked about.
        date: NaiveDate,
    },
    /// A holiday file could not be read.
    #[error("cannot read the holiday list {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A holiday list is not valid TOML of the expected shape.
    #[error("holiday list {origin} is malformed: {message}")]
    Malformed {
        /// The file, or `built-in`.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A listed holiday is not in the year its list is for.
    #[error("holiday list {origin} for {year} names {date}, which is in another year")]
    WrongYear {
        /// The file, or `built-in`.
        origin: String,
        /// The list's year.
        year: i32,
        /// The stray date.
        date: NaiveDate,
    },
    /// Two lists claim the same year.
    #[error("two holiday lists for {year}")]
    DuplicateYear {
        /// The year.
        year: i32,
    },
}

/// One year's holiday list as written in its file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    year: i32,
    /// Where the list comes from (required: an unsourced list cannot be checked).
    source: String,
    #[serde(default)]
    holidays: Vec<Holiday>,
}

/// A date the exchange is closed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The IST date.
    pub date: NaiveDate,
    /// What it is for.
    pub name: String,
}

/// A year's holidays and where the list came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HolidayYear {
    source: String,
    dates: BTreeMap<NaiveDate, String>,
}

/// Trading days in Asia/Kolkata: weekdays that are not listed holidays, plus extra sessions.
///
/// ```
/// use broker_worker::TradingCalendar;
/// use chrono::NaiveDate;
///
/// let calendar = TradingCalendar::nse_2026();
/// let day = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
/// assert!(calendar.is_trading_day(day("2026-12-01")).unwrap()); // a Tuesday
/// assert!(!calendar.is_trading_day(day("2026-12-25")).unwrap()); // Christmas
/// assert!(!calendar.is_trading_day(day("2026-11-28")).unwrap()); // a Saturday
/// assert!(calendar.is_trading_day(day("2027-01-04")).is_err()); // no 2027 list yet
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradingCalendar {
    years: BTreeMap<i32, HolidayYear>,
    extra_sessions: BTreeSet<NaiveDate>,
}

impl TradingCalendar {
    /// The calendar of the shipped 2026 NSE list.
    pub fn nse_2026() -> Self {
        Self::from_lists([("built-in", NSE_2026)])
            .unwrap_or_else(|error| unreachable!("the shipped holiday list is valid: {error}"))
    }

    /// A calendar from holiday lists given as TOML text, each named by its origin for errors.
    ///
    /// # Errors
    /// [`CalendarError::Malformed`], [`CalendarError::WrongYear`],
    /// [`CalendarError::DuplicateYear`].
    pub fn from_lists<'a>(
        lists: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, CalendarError> {
        let mut years = BTreeMap::new();
        for (origin, text) in lists {
            let file: HolidayFile =
                toml::from_str(text).map_err(|error| CalendarError::Malformed {
                    origin: origin.to_owned(),
                    message: error.message().to_owned(),
                })?;
            if file.source.trim().is_empty() {
                return Err(CalendarError::Malformed {
                    origin: origin.to_owned(),
                    message: "`source` must name where the list comes from".into(),
                });
            }
            let mut dates = BTreeMap::new();
            for holiday in file.holidays {
                if holiday.date.year() != file.year {
                    return Err(CalendarError::WrongYear {
                        origin: origin.to_owned(),
                        year: file.year,
                        date: holiday.date,
                    });
                }
                dates.insert(holiday.date, holiday.name);
            }
            let year = HolidayYear {
                source: file.source,
                dates,
            };
            if years.insert(file.year, year).is_some() {
                return Err(CalendarError::DuplicateYear { year: file.year });
            }
        }
        Ok(Self {
            years,
            extra_sessions: BTreeSet::new(),
        })
    }

    /// A calendar from holiday files (these replace the shipped list).
    ///
    /// # Errors
    /// [`CalendarError::Read`], and those of [`TradingCalendar::from_lists`].
    pub fn from_files(paths: &[impl AsRef<Path>]) -> Result<Self, CalendarError> {
        let texts = paths
            .iter()
            .map(|path| {
                let path = path.as_ref();
                std::fs::read_to_string(path)
                    .map(|text| (path.display().to_string(), text))
                    .map_err(|source| CalendarError::Read {
                        path: path.to_owned(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_lists(
            texts
                .iter()
                .map(|(origin, text)| (origin.as_str(), text.as_str())),
        )
    }

    /// The same calendar with these dates open for extra sessions (e.g. Muhurat trading).
    #[must_use]
    pub fn with_extra_sessions(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.extra_sessions.extend(dates);
        self
    }

    /// Whether the exchange trades on this IST date.
    ///
    /// # Errors
    /// [`CalendarError::NoHolidayList`] when no list covers the date's year (extra sessions
    /// are open whatever the list).
    pub fn is_trading_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        if self.extra_sessions.contains(&date) {
            return Ok(true);
        }
        let year = self.year(date)?;
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        Ok(!weekend && !year.dates.contains_key(&date))
    }

    /// The holiday on this date, if it is one.
    ///
    /// # Errors
    /// [`CalendarError::NoHolidayList`] when no list covers the date's year.
    pub fn holiday(&self, date: NaiveDate) -> Result<Option<&str>, CalendarError> {
        Ok(self.year(date)?.dates.get(&date).map(String::as_str))
    }

    /// Where the list for `year` comes from, when there is one.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|list| list.source.as_str())
    }

    /// Checks that a list covers the year of `date`: what start-up and pre-flight call, so a
    /// missing list is reported before the slot, not at it.
    ///
    /// # Errors
    /// [`CalendarError::NoHolidayList`].
    pub fn check_covers(&self, date: NaiveDate) -> Result<(), CalendarError> {
        self.year(date).map(|_| ())
    }

    fn year(&self, date: NaiveDate) -> Result<&HolidayYear, CalendarError> {
        self.years
            .get(&date.year())
            .ok_or(CalendarError::NoHolidayList {
                year: date.year(),
                date,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_shipped_list_has_fifteen_2026_holidays_none_on_a_weekend() {
        let calendar = TradingCalendar::nse_2026();
        let list = &calendar.years[&2026];
        assert_eq!(list.dates.len(), 15);
        assert!(list.source.contains("nseindia.com"));
        for date in list.dates.keys() {
            assert!(
                !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
                "{date}"
            );
        }
        assert_eq!(
            calendar.holiday(day("2026-01-26")).unwrap(),
            Some("Republic Day")
        );
    }

    #[test]
    fn weekdays_trade_weekends_and_holidays_do_not() {
        let calendar = TradingCalendar::nse_2026();
        assert!(calendar.is_trading_day(day("2026-12-01")).unwrap());
        assert!(!calendar.is_trading_day(day("2026-12-05")).unwrap());
        assert!(!calendar.is_trading_day(day("2026-12-06")).unwrap());
        assert!(!calendar.is_trading_day(day("2026-10-02")).unwrap());
    }

    #[test]
    fn a_year_without_a_list_is_an_error_not_a_trading_day() {
        let calendar = TradingCalendar::nse_2026();
        let error = calendar.is_trading_day(day("2027-01-05")).unwrap_err();
        assert!(matches!(
            error,
            CalendarError::NoHolidayList { year: 2027, .. }
        ));
        assert!(
            error
                .to_string()
                .contains("no exchange holiday list for 2027")
        );
        assert!(calendar.check_covers(day("2025-12-31")).is_err());
    }

    #[test]
    fn an_extra_session_opens_a_sunday() {
        let muhurat = day("2026-11-08");
        let calendar = TradingCalendar::nse_2026();
        assert!(!calendar.is_trading_day(muhurat).unwrap());
        let calendar = calendar.with_extra_sessions([muhurat]);
        assert!(calendar.is_trading_day(muhurat).unwrap());
    }

    #[test]
    fn operator_lists_replace_the_shipped_one_and_bad_lists_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("2027.toml");
        std::fs::write(
            &path,
            "year = 2027\nsource = \"ops\"\n[[holidays]]\ndate = \"2027-01-26\"\nname = \"Republic Day\"\n",
        )
        .unwrap();
        let calendar = TradingCalendar::from_files(&[&path]).unwrap();
        assert!(!calendar.is_trading_day(day("2027-01-26")).unwrap());
        assert!(calendar.is_trading_day(day("2027-01-27")).unwrap());
        assert!(calendar.is_trading_day(day("2026-12-01")).is_err());

        let stray =
            "year = 2027\nsource = \"ops\"\n[[holidays]]\ndate = \"2026-01-26\"\nname = \"x\"\n";
        assert!(matches!(
            TradingCalendar::from_lists([("stray", stray)]),
            Err(CalendarError::WrongYear { .. })
        ));
        let unsourced = "year = 2027\nsource = \" \"\n";
        assert!(matches!(
            TradingCalendar::from_lists([("unsourced", unsourced)]),
            Err(CalendarError::Malformed { .. })
        ));
        assert!(matches!(
            TradingCalendar::from_lists([("a", NSE_2026), ("b", NSE_2026)]),
            Err(CalendarError::DuplicateYear { year: 2026 })
        ));
        assert!(matches!(
            TradingCalendar::from_files(&[dir.path().join("missing.toml")]),
            Err(CalendarError::Read { .. })
        ));
    }
}
