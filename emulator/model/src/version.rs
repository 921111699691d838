//! ETags and last-modified times. Batch ETags are unquoted hex .NET ticks (`0x8DA9061B2F7BB2F`);
//! every mutation makes a new one, so the versioner keeps them strictly increasing.

use time::OffsetDateTime;

/// An entity's concurrency version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Version {
    pub etag: String,
    pub last_modified: OffsetDateTime,
}

/// Issues strictly increasing versions.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Versioner {
    last_ticks: i64,
}

/// .NET ticks (100 ns) between 0001-01-01 and the Unix epoch.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

impl Versioner {
    /// A new version at `now` (or one tick after the previous one if the clock stood still).
    pub fn next(&mut self, now: OffsetDateTime) -> Version {
        let ticks = i64::try_from(now.unix_timestamp_nanos() / 100).unwrap_or(i64::MAX - UNIX_EPOCH_TICKS) + UNIX_EPOCH_TICKS;
        let ticks = ticks.max(self.last_ticks + 1);
        self.last_ticks = ticks;
        let since_epoch = i128::from(ticks - UNIX_EPOCH_TICKS) * 100;
        let last_modified = OffsetDateTime::from_unix_timestamp_nanos(since_epoch).unwrap_or(now);
        Version { etag: format!("0x{ticks:X}"), last_modified }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn etag_is_hex_ticks_like_the_service() {
        let mut v = Versioner::default();
        // The recording's pool: ETag 0x8DA9061B2F7BB2F at 2022-09-06T23:44:11.5153711Z.
        let a = v.next(datetime!(2022-09-06 23:44:11.5153711 UTC));
        assert_eq!(a.etag, "0x8DA9061B2F7BB2F");
        let b = v.next(datetime!(2022-09-06 23:44:11.5153711 UTC));
        assert_ne!(a.etag, b.etag);
        assert!(b.last_modified > a.last_modified);
    }
}
