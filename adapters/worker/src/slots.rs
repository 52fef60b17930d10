//! Slots: the IST times at which runs start, and when pre-flight runs before each.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use broker_core::ist;
use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// An IST wall-clock time at which a run starts, written `HH:MM` (`15:10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slot(NaiveTime);

impl Slot {
    /// The default slot, 15:10 IST.
    pub const DEFAULT: Slot = Slot(match NaiveTime::from_hms_opt(15, 10, 0) {
        Some(time) => time,
        None => unreachable!(),
    });

    /// The slot at `hour:minute` IST.
    ///
    /// # Errors
    /// [`BadSlot`] when the time does not exist.
    pub fn at(hour: u32, minute: u32) -> Result<Self, BadSlot> {
        NaiveTime::from_hms_opt(hour, minute, 0)
            .map(Self)
            .ok_or_else(|| BadSlot(format!("{hour:02}:{minute:02}")))
    }

    /// The IST time.
    pub fn time(self) -> NaiveTime {
        self.0
    }

    /// The instant this slot starts on an IST date.
    pub fn on(self, date: NaiveDate) -> DateTime<Utc> {
        ist::at(date, self.0)
    }

    /// The stable name used in the journal and in tags (`15:10`).
    pub fn name(self) -> String {
        self.to_string()
    }
}

impl Default for Slot {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

/// The text is not a slot time `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad slot {0:?}: expected an IST time HH:MM such as 15:10")]
pub struct BadSlot(pub String);

impl FromStr for Slot {
    type Err = BadSlot;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map(Self)
            .map_err(|_| BadSlot(text.to_owned()))
    }
}

impl TryFrom<String> for Slot {
    type Error = BadSlot;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Slot> for String {
    fn from(slot: Slot) -> Self {
        slot.to_string()
    }
}

/// When runs start and how far ahead pre-flight prepares them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlotSettings {
    /// The slots, IST (default `["15:10"]`).
    pub slots: Vec<Slot>,
    /// How long before a slot the first pre-flight pass runs (default 600 s).
    pub preflight_lead_seconds: u64,
    /// How long before a slot the second pass retries failures and re-warms (default 60 s).
    pub second_pass_lead_seconds: u64,
    /// A slot that started less than this long ago when the scheduler starts (a restart after
    /// a crash) is run at once (default 900 s).
    pub late_start_window_seconds: u64,
}

impl Default for SlotSettings {
    fn default() -> Self {
        Self {
            slots: vec![Slot::DEFAULT],
            preflight_lead_seconds: 600,
            second_pass_lead_seconds: 60,
            late_start_window_seconds: 900,
        }
    }
}

impl SlotSettings {
    /// The lead of the first pre-flight pass.
    pub fn preflight_lead(&self) -> Duration {
        Duration::from_secs(self.preflight_lead_seconds)
    }

    /// The lead of the second pre-flight pass.
    pub fn second_pass_lead(&self) -> Duration {
        Duration::from_secs(self.second_pass_lead_seconds)
    }

    /// The first slot of `date` starting strictly after `after`, if any.
    pub fn next_on(&self, date: NaiveDate, after: DateTime<Utc>) -> Option<Slot> {
        let mut slots = self.slots.clone();
        slots.sort();
        slots.into_iter().find(|slot| slot.on(date) > after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_parse_and_print_as_hh_mm_and_refuse_nonsense() {
        let slot: Slot = "15:10".parse().unwrap();
        assert_eq!(slot, Slot::DEFAULT);
        assert_eq!(slot.name(), "15:10");
        assert_eq!(Slot::at(9, 5).unwrap().to_string(), "09:05");
        for bad in ["25:00", "3pm", "", "15:10:30"] {
            assert!(bad.parse::<Slot>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_slot_is_an_ist_time() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            Slot::DEFAULT.on(date),
            "2026-12-01T09:40:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn settings_default_to_one_slot_ten_minutes_of_preflight_and_parse_from_toml() {
        let settings = SlotSettings::default();
        assert_eq!(settings.slots, vec![Slot::DEFAULT]);
        assert_eq!(settings.preflight_lead(), Duration::from_secs(600));
        assert_eq!(settings.second_pass_lead(), Duration::from_secs(60));
        let parsed: SlotSettings = toml::from_str("slots = [\"09:20\", \"15:10\"]").unwrap();
        assert_eq!(parsed.slots.len(), 2);
        assert_eq!(parsed.preflight_lead_seconds, 600);
        assert!(toml::from_str::<SlotSettings>("slot = [\"09:20\"]").is_err());

        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let noon = ist::at(date, NaiveTime::from_hms_opt(12, 0, 0).unwrap());
        assert_eq!(parsed.next_on(date, noon), Some(Slot::DEFAULT));
        assert_eq!(parsed.next_on(date, Slot::DEFAULT.on(date)), None);
    }
}
