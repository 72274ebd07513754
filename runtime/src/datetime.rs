//! `format: date-time` as a type: an RFC 3339 timestamp kept exactly as written (so a decoded
//! event re-encodes byte for byte), checked on construction by the same rules the schema
//! validator applies.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An RFC 3339 `date-time` (`2024-10-19T12:34:56.789Z`), validated, stored as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(String);

/// The text is not an RFC 3339 `date-time`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 date-time such as 2024-10-19T12:34:56.789Z")]
pub struct InvalidDateTime(pub String);

impl DateTime {
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidDateTime> {
        let text = text.into();
        if is_valid_date_time(&text) {
            Ok(Self(text))
        } else {
            Err(InvalidDateTime(text))
        }
    }

    /// The current time in UTC with exactly three fractional digits
    /// (`2024-10-19T12:34:56.789Z`), the shape most documents show.
    pub fn now_utc() -> Self {
        Self::now_utc_with_fraction(3)
    }

    /// The current time in UTC with exactly `digits` fractional digits (0 to 9; more are
    /// written as 9), so every message of a system has one shape whatever the clock reads:
    /// `2025-08-04T14:33:09Z` for 0, `2025-08-04T14:33:09.120Z` for 3.
    pub fn now_utc_with_fraction(digits: u8) -> Self {
        Self::from_utc_with_fraction(time::OffsetDateTime::now_utc(), digits)
    }

    /// `at` in UTC with exactly `digits` fractional digits (truncated, never rounded up).
    pub fn from_utc_with_fraction(at: time::OffsetDateTime, digits: u8) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        let digits = u32::from(digits.min(9));
        let year = at.year();
        if !(0..=9999).contains(&year) {
            // Outside four digits RFC 3339 has no form; kept as `format!` writes it.
            return Self(formatted(at, digits));
        }
        // Each published event is stamped: written digit by digit, as `format!` cost about
        // 7,000 instructions a stamp.
        let mut text = String::with_capacity(30);
        push_digits(&mut text, year as u32, 4);
        text.push('-');
        push_digits(&mut text, u32::from(u8::from(at.month())), 2);
        text.push('-');
        push_digits(&mut text, u32::from(at.day()), 2);
        text.push('T');
        push_digits(&mut text, u32::from(at.hour()), 2);
        text.push(':');
        push_digits(&mut text, u32::from(at.minute()), 2);
        text.push(':');
        push_digits(&mut text, u32::from(at.second()), 2);
        if digits > 0 {
            text.push('.');
            push_digits(
                &mut text,
                at.nanosecond() / 10u32.pow(9 - digits),
                digits as usize,
            );
        }
        text.push('Z');
        Self(text)
    }

    /// Unix time now, in milliseconds.
    pub fn unix_millis_now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default()
    }

    /// Unix time now, in whole seconds.
    pub fn unix_seconds_now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The instant, for arithmetic and comparison across offsets. `None` only for a leap
    /// second (`:60`), which the format allows and `time` cannot hold.
    pub fn to_offset_date_time(&self) -> Option<time::OffsetDateTime> {
        time::OffsetDateTime::parse(&self.0, &time::format_description::well_known::Rfc3339).ok()
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for DateTime {
    type Err = InvalidDateTime;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        if is_valid_date_time(&text) {
            Ok(Self(text.into_owned()))
        } else {
            Err(serde::de::Error::custom(InvalidDateTime(text.into_owned())))
        }
    }
}

fn two(b: &[u8]) -> Option<u32> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some(u32::from(a - b'0') * 10 + u32::from(c - b'0')),
        _ => None,
    }
}

/// RFC 3339 section 5.6 `date-time`, with the leap-second rule of JSON Schema's test suite:
/// second 60 only where the time is 23:59 in UTC.
pub fn is_valid_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return false;
    }
    let (Some(y1), Some(y2), Some(month), Some(day)) =
        (two(&b[0..2]), two(&b[2..4]), two(&b[5..7]), two(&b[8..10]))
    else {
        return false;
    };
    let year = y1 * 100 + y2;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let max_day = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > max_day {
        return false;
    }
    let t = &b[11..];
    if t[2] != b':' || t[5] != b':' {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) = (two(&t[0..2]), two(&t[3..5]), two(&t[6..8]))
    else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 8;
    if t.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while t.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    let (utc_hour, utc_minute) = match t.get(i) {
        Some(b'Z' | b'z') if i + 1 == t.len() => (hour, minute),
        Some(sign @ (b'+' | b'-')) if i + 6 == t.len() && t[i + 3] == b':' => {
            let (Some(oh), Some(om)) = (two(&t[i + 1..i + 3]), two(&t[i + 4..i + 6])) else {
                return false;
            };
            if oh > 23 || om > 59 {
                return false;
            }
            let local = (hour * 60 + minute) as i64;
            let offset = (oh * 60 + om) as i64;
            let utc = if *sign == b'+' {
                local - offset
            } else {
                local + offset
            }
            .rem_euclid(24 * 60);
            ((utc / 60) as u32, (utc % 60) as u32)
        }
        _ => return false,
    };
    second != 60 || (utc_hour == 23 && utc_minute == 59)
}

/// [`DateTime::from_utc_with_fraction`]'s text by `format!`: its form for years outside four
/// digits, and what its digit-by-digit form is tested against.
fn formatted(at: time::OffsetDateTime, digits: u32) -> String {
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    if digits > 0 {
        let fraction = at.nanosecond() / 10u32.pow(9 - digits);
        text.push_str(&format!(".{fraction:0width$}", width = digits as usize));
    }
    text.push('Z');
    text
}

/// `value`'s last `width` decimal digits (at most 9), zero-padded.
fn push_digits(text: &mut String, value: u32, width: usize) {
    let mut digits = [b'0'; 9];
    let mut rest = value;
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    text.extend(digits[..width].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc3339_and_keeps_the_text() {
        for ok in [
            "2024-10-19T12:34:56.789Z",
            "2025-08-04T14:33:09Z",
            "2024-02-29T00:00:00+01:00",
            "1998-12-31T23:59:60Z",
            "1998-12-31t15:59:60.123-08:00",
        ] {
            assert_eq!(DateTime::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_what_the_schema_refuses() {
        for bad in [
            "2024-10-19 12:34:56Z",
            "2023-02-29T00:00:00Z",
            "2024-10-19T12:34:56",
            "2024-10-19T12:34Z",
            "2024-10-19T24:00:00Z",
            "2024-10-19T12:34:60Z",
            "2024-10-19T12:34:56.Z",
            "2024-10-19T12:34:56+0100",
            "1712345678901",
        ] {
            assert!(DateTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fixed_fraction_writes_one_shape_whatever_the_clock_reads() {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(1_754_318_049_120_000_000)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        let shapes = [
            (0, "2025-08-04T14:34:09Z"),
            (3, "2025-08-04T14:34:09.120Z"),
            (6, "2025-08-04T14:34:09.120000Z"),
            (12, "2025-08-04T14:34:09.120000000Z"),
        ];
        for (digits, text) in shapes {
            let written = DateTime::from_utc_with_fraction(at, digits);
            assert_eq!(written.as_str(), text);
            assert!(is_valid_date_time(written.as_str()));
        }
        assert_eq!(
            DateTime::now_utc().as_str().len(),
            "2025-08-04T14:34:09.120Z".len()
        );
    }

    #[test]
    fn digit_by_digit_writes_what_format_writes() {
        fastrand::seed(7);
        let edges = [0i128, 253_402_300_799_999_999_999, 951_782_400_000_000_001];
        let random = (0..20_000).map(|_| fastrand::i128(0..253_402_300_800_000_000_000));
        for nanos in edges.into_iter().chain(random) {
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
            for digits in 0..=9u8 {
                let written = DateTime::from_utc_with_fraction(at, digits);
                assert_eq!(
                    written.as_str(),
                    formatted(at, u32::from(digits)),
                    "{nanos} {digits}"
                );
            }
        }
        let before_year_0 = time::OffsetDateTime::from_unix_timestamp(-62_167_219_201).unwrap();
        assert_eq!(
            DateTime::from_utc_with_fraction(before_year_0, 0).as_str(),
            formatted(before_year_0, 0)
        );
    }
}
