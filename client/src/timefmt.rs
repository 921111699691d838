//! Batch's two time formats: ISO 8601 with seven fractional digits in bodies
//! (`2022-09-06T23:44:11.5153711Z`) and RFC 1123 in headers (`Tue, 06 Sep 2022 23:44:11 GMT`).

use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::{OffsetDateTime, UtcOffset};

/// Formats a body timestamp the way the service does: UTC, seven fractional digits, `Z`.
pub fn format_body(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let ticks = t.nanosecond() / 100;
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second(), ticks)
}

/// Parses a body timestamp (RFC 3339, any number of fractional digits).
pub fn parse_body(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Formats an HTTP date (RFC 1123, always `GMT`).
pub fn format_http(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday().number_days_from_monday() as usize],
        t.day(),
        MONTHS[u8::from(t.month()) as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an HTTP date (RFC 1123 / RFC 2822 with `GMT`).
pub fn parse_http(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    let fixed = s.strip_suffix("GMT").map(|p| format!("{p}+0000"));
    OffsetDateTime::parse(fixed.as_deref().unwrap_or(s), &Rfc2822).ok()
}

/// serde adapter for required body timestamps.
pub mod body {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_body(*t))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_body(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid datetime {s:?}")))
    }
}

/// serde adapter for optional body timestamps.
pub mod body_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_body(*t)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => super::parse_body(&s).map(Some).ok_or_else(|| serde::de::Error::custom(format!("invalid datetime {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn body_time_has_seven_fraction_digits_and_z() {
        let t = datetime!(2022-09-06 23:44:11.5153711 UTC);
        assert_eq!(format_body(t), "2022-09-06T23:44:11.5153711Z");
        assert_eq!(parse_body("2022-09-06T23:44:11.5153711Z"), Some(t));
    }

    #[test]
    fn http_date_round_trips() {
        let t = datetime!(2022-09-06 23:44:11 UTC);
        assert_eq!(format_http(t), "Tue, 06 Sep 2022 23:44:11 GMT");
        assert_eq!(parse_http("Tue, 06 Sep 2022 23:44:11 GMT"), Some(t));
    }
}
