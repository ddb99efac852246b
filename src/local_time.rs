//! Times as a site's people read them: in the site's time zone, with the UTC offset, so a
//! card printed at 16:08 in Beijing says 16:08 and not 08:08 UTC.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// An IANA time zone by its name (`Asia/Shanghai`), or `None`.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// The time zones a viewer reads times in: one per site of theirs. Empty: UTC everywhere
/// (users without sites).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteZones {
    /// In the user's order of sites; the first is used for rows that name no site.
    zones: Vec<(String, Tz)>,
}

impl SiteZones {
    /// From (site code, IANA name) pairs; an unknown name is left out (that site reads UTC).
    pub fn new<'a>(sites: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        SiteZones {
            zones: sites
                .into_iter()
                .filter_map(|(code, name)| parse_zone(name).map(|tz| (code.to_string(), tz)))
                .collect(),
        }
    }

    /// The zone for a row of `site` (else the first site's zone; `None`: UTC).
    pub fn zone(&self, site: Option<&str>) -> Option<Tz> {
        site.and_then(|s| self.zones.iter().find(|(code, _)| code == s))
            .or(self.zones.first())
            .map(|(_, tz)| *tz)
    }

    /// An RFC 3339 time as people read it: `2026-12-01 16:08:17 CST (UTC+08:00)` in the
    /// row's site zone, `2026-12-01 08:08:17 UTC` without one. Unreadable text is returned as is.
    pub fn when(&self, site: Option<&str>, rfc3339: &str) -> String {
        let Ok(t) = DateTime::parse_from_rfc3339(rfc3339) else {
            return rfc3339.to_string();
        };
        let utc = t.with_timezone(&Utc);
        match self.zone(site) {
            None => utc.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            Some(tz) => format_in(tz, utc),
        }
    }

    /// Today's date where the row's site is (UTC without a zone).
    pub fn today(&self, site: Option<&str>, now: DateTime<Utc>) -> NaiveDate {
        match self.zone(site) {
            None => now.date_naive(),
            Some(tz) => now.with_timezone(&tz).date_naive(),
        }
    }
}

/// `2026-12-01 16:08:17 CST (UTC+08:00)`; the abbreviation is left out where the zone has
/// none of its own (chrono-tz then gives the offset, e.g. `+08`).
pub fn format_in(tz: Tz, utc: DateTime<Utc>) -> String {
    let local = tz.from_utc_datetime(&utc.naive_utc());
    let abbreviation = local.format("%Z").to_string();
    let offset = local.format("%:z").to_string();
    let named = abbreviation
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic());
    if named {
        format!(
            "{} {abbreviation} (UTC{offset})",
            local.format("%Y-%m-%d %H:%M:%S")
        )
    } else {
        format!("{} (UTC{offset})", local.format("%Y-%m-%d %H:%M:%S"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "2026-12-01T08:08:17Z";

    #[test]
    fn site_users_read_their_sites_time_with_the_offset() {
        let zones = SiteZones::new([("SITE01", "Asia/Shanghai"), ("SITE02", "Europe/Berlin")]);
        assert_eq!(
            zones.when(Some("SITE01"), AT),
            "2026-12-01 16:08:17 CST (UTC+08:00)"
        );
        assert_eq!(
            zones.when(Some("SITE02"), AT),
            "2026-12-01 09:08:17 CET (UTC+01:00)"
        );
        // No site on the row, or one of no zone of theirs: the first site's zone.
        assert_eq!(zones.when(None, AT), "2026-12-01 16:08:17 CST (UTC+08:00)");
        assert_eq!(
            zones.when(Some("SITE09"), AT),
            "2026-12-01 16:08:17 CST (UTC+08:00)"
        );
        assert_eq!(
            SiteZones::default().when(Some("SITE01"), AT),
            "2026-12-01 08:08:17 UTC"
        );
        assert_eq!(SiteZones::default().when(None, "junk"), "junk");
        // A zone without an abbreviation of its own shows the offset only.
        let kolkata = SiteZones::new([("S", "Asia/Dubai")]);
        assert_eq!(kolkata.when(None, AT), "2026-12-01 12:08:17 (UTC+04:00)");
    }

    #[test]
    fn today_is_the_sites_date() {
        let zones = SiteZones::new([("SITE01", "Asia/Shanghai")]);
        // 23:30 UTC on 30 November is 07:30 on 1 December in Beijing.
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
        assert_eq!(
            zones.today(None, now),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        assert_eq!(
            SiteZones::default().today(None, now),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        assert!(parse_zone("Asia/Shanghai").is_some());
        assert!(parse_zone("Mars/Olympus").is_none());
        assert!(parse_zone("").is_none());
    }
}
