//! ISO 8601 durations as Batch sends them (`PT15M`, `P7D`, `PT01H00M00S`) and the .NET
//! `TimeSpan.MaxValue` that stands for "unlimited" (`P10675199DT2H48M5.4775807S`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A Batch duration, in 100 ns ticks (the service's resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchDuration {
    ticks: i64,
}

const TICKS_PER_SECOND: i64 = 10_000_000;

impl BatchDuration {
    /// .NET `TimeSpan.MaxValue`, which the service echoes for "no limit".
    pub const UNLIMITED: BatchDuration = BatchDuration { ticks: i64::MAX };

    pub const fn from_secs(secs: i64) -> Self {
        Self { ticks: secs.saturating_mul(TICKS_PER_SECOND) }
    }
    pub fn from_ticks(ticks: i64) -> Self {
        Self { ticks }
    }
    pub fn ticks(self) -> i64 {
        self.ticks
    }
    pub fn is_unlimited(self) -> bool {
        self.ticks == i64::MAX
    }
    /// The duration as a std duration (unlimited saturates at ~29,000 years).
    pub fn to_std(self) -> std::time::Duration {
        let t = self.ticks.max(0) as u64;
        std::time::Duration::new(t / TICKS_PER_SECOND as u64, ((t % TICKS_PER_SECOND as u64) * 100) as u32)
    }

    /// Parses `P[nD][T[nH][nM][n[.f]S]]` (also weeks `nW`); leading zeros and fractional
    /// seconds accepted. Years and months are refused: Batch durations never use them.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
        if rest.is_empty() {
            return None;
        }
        let mut ticks: i128 = 0;
        let mut in_time = false;
        let mut num = String::new();
        let mut any = false;
        for c in rest.chars() {
            match c {
                '0'..='9' | '.' => num.push(c),
                'T' | 't' => {
                    if in_time || !num.is_empty() {
                        return None;
                    }
                    in_time = true;
                }
                _ => {
                    if num.is_empty() {
                        return None;
                    }
                    let unit: i128 = match (in_time, c.to_ascii_uppercase()) {
                        (false, 'W') => 7 * 86_400,
                        (false, 'D') => 86_400,
                        (true, 'H') => 3_600,
                        (true, 'M') => 60,
                        (true, 'S') => 1,
                        _ => return None,
                    };
                    let (int, frac) = match num.split_once('.') {
                        Some((i, f)) if unit == 1 => (i, f),
                        Some(_) => return None,
                        None => (num.as_str(), ""),
                    };
                    let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
                    let mut frac_ticks: i128 = 0;
                    for (i, d) in frac.chars().take(7).enumerate() {
                        frac_ticks += i128::from(d.to_digit(10)?) * 10i128.pow(6 - i as u32);
                    }
                    ticks += int * unit * i128::from(TICKS_PER_SECOND) + frac_ticks;
                    num.clear();
                    any = true;
                }
            }
        }
        if !num.is_empty() || !any {
            return None;
        }
        Some(Self { ticks: i64::try_from(ticks).unwrap_or(i64::MAX) })
    }
}

impl fmt::Display for BatchDuration {
    /// Normalised the way the service echoes (`PT1H`, `P7D`, `PT15M`, `P1DT2H3M4.5S`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.ticks.max(0);
        let frac = t % TICKS_PER_SECOND;
        let total_secs = t / TICKS_PER_SECOND;
        let days = total_secs / 86_400;
        let h = (total_secs % 86_400) / 3_600;
        let m = (total_secs % 3_600) / 60;
        let s = total_secs % 60;
        write!(f, "P")?;
        if days > 0 {
            write!(f, "{days}D")?;
        }
        if h > 0 || m > 0 || s > 0 || frac > 0 || days == 0 {
            write!(f, "T")?;
            if h > 0 {
                write!(f, "{h}H")?;
            }
            if m > 0 {
                write!(f, "{m}M")?;
            }
            if frac > 0 {
                let digits = format!("{frac:07}");
                write!(f, "{s}.{}S", digits.trim_end_matches('0'))?;
            } else if s > 0 || (h == 0 && m == 0) {
                write!(f, "{s}S")?;
            }
        }
        Ok(())
    }
}

impl Serialize for BatchDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BatchDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid ISO 8601 duration {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_round_trips_as_timespan_max() {
        let d = BatchDuration::parse("P10675199DT2H48M5.4775807S").unwrap();
        assert!(d.is_unlimited());
        assert_eq!(d.to_string(), "P10675199DT2H48M5.4775807S");
    }

    #[test]
    fn leading_zeros_are_normalised() {
        assert_eq!(BatchDuration::parse("PT01H00M00S").unwrap().to_string(), "PT1H");
        assert_eq!(BatchDuration::parse("P7D").unwrap().to_string(), "P7D");
        assert_eq!(BatchDuration::parse("PT15M").unwrap().to_string(), "PT15M");
        assert_eq!(BatchDuration::parse("PT0S").unwrap().to_string(), "PT0S");
    }

    #[test]
    fn garbage_is_refused() {
        for s in ["", "P", "PT", "15M", "P1M", "PT1.5M", "PTXS"] {
            assert!(BatchDuration::parse(s).is_none(), "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn display_then_parse_is_identity(ticks in 0i64..i64::MAX) {
            let d = BatchDuration::from_ticks(ticks);
            proptest::prop_assert_eq!(BatchDuration::parse(&d.to_string()), Some(d));
        }
    }
}
