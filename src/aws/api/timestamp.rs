//! Timestamps: what AWS sends (epoch seconds as numbers or strings, RFC 3339 with or without
//! offset, HTTP dates) read into one form, and the forms requests need.
//!
//! Outputs are written as the project's raw objects carry them: ISO-8601 in UTC with
//! milliseconds (`2024-03-15T08:30:00.000Z`), sub-millisecond digits truncated.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::Value;

/// `2024-03-15T08:30:00.123Z`.
pub fn iso8601_millis(t: &DateTime) -> String {
    let secs = t.secs();
    let millis = t.subsec_nanos() / 1_000_000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let day_secs = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        day_secs / 3600,
        (day_secs % 3600) / 60,
        day_secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Reads a timestamp as AWS sends it: a JSON number of epoch seconds, or a string in RFC 3339
/// (any offset), HTTP-date or epoch-seconds form. `None` when it is none of these.
pub fn parse(value: &Value) -> Option<DateTime> {
    match value {
        Value::Number(n) => from_epoch(n.as_f64()?),
        Value::String(s) => parse_str(s),
        _ => None,
    }
}

/// [`parse`] for text. RFC 3339 text without an offset is read as UTC, as boto3 leaves it
/// without a zone and the raw objects speak UTC.
pub fn parse_str(s: &str) -> Option<DateTime> {
    let s = s.trim();
    if let Ok(t) = DateTime::from_str(s, Format::DateTimeWithOffset) {
        return Some(t);
    }
    if let Ok(t) = DateTime::from_str(&format!("{s}Z"), Format::DateTime) {
        return Some(t);
    }
    if let Ok(t) = DateTime::from_str(s, Format::HttpDate) {
        return Some(t);
    }
    from_epoch(s.parse::<f64>().ok()?)
}

/// Epoch seconds with a fraction, rounded to microseconds first as Python's datetime does, so
/// that `1710491400.123` reads as .123 and not .122999.
fn from_epoch(secs: f64) -> Option<DateTime> {
    let micros = (secs * 1e6).round();
    if !micros.is_finite() || micros.abs() > 1e17 {
        return None;
    }
    let micros = micros as i64;
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).ok()?;
    Some(DateTime::from_secs_and_nanos(
        micros.div_euclid(1_000_000),
        nanos,
    ))
}

/// A wire timestamp as a raw-object value: ISO-8601 millis, or the value unchanged when it does
/// not read as a timestamp (data is kept rather than dropped).
pub fn to_output(value: Value) -> Value {
    match parse(&value) {
        Some(t) => Value::String(iso8601_millis(&t)),
        None => value,
    }
}

/// The request forms of a timestamp, by botocore `timestampFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Iso8601,
    UnixTimestamp,
    Rfc822,
}

impl InputFormat {
    /// The format named by a `timestampFormat` trait, else the protocol's default.
    pub fn from_trait(name: Option<&str>, default: InputFormat) -> InputFormat {
        match name {
            Some("iso8601") => InputFormat::Iso8601,
            Some("unixTimestamp") => InputFormat::UnixTimestamp,
            Some("rfc822") => InputFormat::Rfc822,
            _ => default,
        }
    }
}

/// A caller's timestamp (ISO-8601 text or epoch seconds) in the form a request needs.
pub fn to_input(value: &Value, format: InputFormat) -> Option<Value> {
    let t = parse(value)?;
    Some(match format {
        InputFormat::Iso8601 => Value::String(iso8601_millis(&t)),
        InputFormat::Rfc822 => Value::String(t.fmt(Format::HttpDate).ok()?),
        InputFormat::UnixTimestamp if t.subsec_nanos() == 0 => Value::from(t.secs()),
        InputFormat::UnixTimestamp => Value::from(t.as_secs_f64()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_with_millis_in_utc() {
        let t = DateTime::from_secs_and_nanos(1_710_491_400, 123_456_789);
        assert_eq!(iso8601_millis(&t), "2024-03-15T08:30:00.123Z");
        assert_eq!(
            iso8601_millis(&DateTime::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            iso8601_millis(&DateTime::from_secs(-1)),
            "1969-12-31T23:59:59.000Z"
        );
    }

    #[test]
    fn reads_every_wire_form() {
        let want = "2024-03-15T08:30:00.123Z";
        for wire in [
            json!(1_710_491_400.123),
            json!("1710491400.123"),
            json!("2024-03-15T08:30:00.123Z"),
            json!("2024-03-15T08:30:00.123456Z"),
            json!("2024-03-15T09:30:00.123+01:00"),
            json!("2024-03-15T08:30:00.123456"),
        ] {
            assert_eq!(to_output(wire.clone()), json!(want), "{wire}");
        }
        assert_eq!(
            to_output(json!("Fri, 15 Mar 2024 08:30:00 GMT")),
            json!("2024-03-15T08:30:00.000Z")
        );
        assert_eq!(
            to_output(json!(1_710_491_400)),
            json!("2024-03-15T08:30:00.000Z")
        );
    }

    #[test]
    fn keeps_what_is_not_a_timestamp() {
        assert_eq!(to_output(json!("yesterday")), json!("yesterday"));
        assert_eq!(to_output(json!(true)), json!(true));
    }

    #[test]
    fn writes_request_forms() {
        let t = json!("2024-03-15T08:30:00Z");
        assert_eq!(
            to_input(&t, InputFormat::UnixTimestamp),
            Some(json!(1_710_491_400))
        );
        assert_eq!(
            to_input(&t, InputFormat::Iso8601),
            Some(json!("2024-03-15T08:30:00.000Z"))
        );
        assert_eq!(
            to_input(&t, InputFormat::Rfc822),
            Some(json!("Fri, 15 Mar 2024 08:30:00 GMT"))
        );
        assert_eq!(to_input(&json!("soon"), InputFormat::Iso8601), None);
    }
}
