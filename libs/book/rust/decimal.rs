//! Exact decimal strings <-> integer ticks, by hand: no binary float ever touches a price.
//!
//! Accepted syntax (what exchanges send, and what Python's `Decimal` accepts of it):
//! optional surrounding ASCII whitespace, an optional sign, digits with an optional `.` (at least one
//! digit), an optional exponent `e`/`E` with optional sign. `inf`, `infinity` and `nan` in any
//! case are recognised so they can be refused as "not finite" rather than as garbage.

/// Why a decimal string cannot become ticks. Each maps to one Python `ValueError` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumError {
    Syntax,
    NotFinite,
    TooPrecise,
    OutOfRange,
}

/// A parsed value: `ticks` is the magnitude scaled by 10^decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticks {
    pub negative: bool,
    pub ticks: u128,
}

/// Exponents beyond this are clamped: any non-zero mantissa then overflows or is too precise.
const EXPONENT_CLAMP: i64 = 1_000_000;

fn pow10(exp: u32) -> Option<u128> {
    10u128.checked_pow(exp)
}

pub fn parse_ticks(text: &str, decimals: u32) -> Result<Ticks, NumError> {
    let bytes = text
        .trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'))
        .as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&c) = bytes.first() {
        if c == b'+' || c == b'-' {
            negative = c == b'-';
            i = 1;
        }
    }
    let rest = &bytes[i..];
    if rest.first().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(if is_special(rest) {
            NumError::NotFinite
        } else {
            NumError::Syntax
        });
    }

    let mut mantissa: u128 = 0;
    // Zeros seen after the last non-zero digit: multiplied in lazily, so "1.00000000" with
    // many zeros never overflows and trailing zeros beyond the book's decimals are accepted.
    let mut pending_zeros: i64 = 0;
    let mut fraction_digits: i64 = 0;
    let mut digits = 0usize;
    let mut seen_point = false;
    let mut overflow = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'0'..=b'9' => {
                digits += 1;
                if seen_point {
                    fraction_digits += 1;
                }
                if c == b'0' {
                    if mantissa != 0 {
                        pending_zeros += 1;
                    }
                } else if overflow {
                    // The digits no longer fit; keep tracking where the last non-zero one is,
                    // which is all "too precise" versus "out of range" needs.
                    pending_zeros = 0;
                } else {
                    let scaled = u32::try_from(pending_zeros + 1)
                        .ok()
                        .and_then(pow10)
                        .and_then(|p| mantissa.checked_mul(p))
                        .and_then(|m| m.checked_add(u128::from(c - b'0')));
                    match scaled {
                        Some(m) => mantissa = m,
                        None => overflow = true,
                    }
                    pending_zeros = 0;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return Err(NumError::Syntax);
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() {
        if bytes[i] != b'e' && bytes[i] != b'E' {
            return Err(NumError::Syntax);
        }
        i += 1;
        let mut exp_negative = false;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            exp_negative = bytes[i] == b'-';
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            exponent = (exponent * 10 + i64::from(bytes[i] - b'0')).min(EXPONENT_CLAMP);
            i += 1;
        }
        if i == start || i != bytes.len() {
            return Err(NumError::Syntax);
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if mantissa == 0 {
        return Ok(Ticks { negative, ticks: 0 });
    }
    // The mantissa ends in a non-zero digit, so a negative shift always leaves a fraction.
    let shift = pending_zeros + exponent - fraction_digits + i64::from(decimals);
    if shift < 0 {
        return Err(NumError::TooPrecise);
    }
    if overflow {
        return Err(NumError::OutOfRange);
    }
    let ticks = u32::try_from(shift)
        .ok()
        .and_then(pow10)
        .and_then(|p| mantissa.checked_mul(p))
        .ok_or(NumError::OutOfRange)?;
    Ok(Ticks { negative, ticks })
}

fn is_special(rest: &[u8]) -> bool {
    let lower = rest.to_ascii_lowercase();
    let nan_payload = |prefix: &[u8]| {
        lower.starts_with(prefix) && lower[prefix.len()..].iter().all(u8::is_ascii_digit)
    };
    lower == b"inf" || lower == b"infinity" || nan_payload(b"nan") || nan_payload(b"snan")
}

/// Fixed-point text with exactly `decimals` fractional digits, as the book has always printed.
pub fn format_ticks(ticks: u128, decimals: u32, out: &mut String) {
    use std::fmt::Write;
    if decimals == 0 {
        let _ = write!(out, "{ticks}");
        return;
    }
    let scale = 10u128.pow(decimals);
    let _ = write!(
        out,
        "{}.{:0width$}",
        ticks / scale,
        ticks % scale,
        width = decimals as usize
    );
}

pub fn format(ticks: u128, decimals: u32) -> String {
    let mut out = String::with_capacity(24);
    format_ticks(ticks, decimals, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, decimals: u32) -> (bool, u128) {
        let t = parse_ticks(text, decimals).unwrap();
        (t.negative, t.ticks)
    }

    #[test]
    fn plain_and_scaled() {
        assert_eq!(ok("0.35130000", 8), (false, 35_130_000));
        assert_eq!(ok("100", 2), (false, 10_000));
        assert_eq!(ok(".5", 1), (false, 5));
        assert_eq!(ok("5.", 0), (false, 5));
        assert_eq!(ok(" -1.50 ", 2), (true, 150));
        assert_eq!(ok("+1e2", 0), (false, 100));
        assert_eq!(ok("1.5E-1", 2), (false, 15));
        assert_eq!(
            ok("10.500000000000000000000000000000000000000000", 2),
            (false, 1050)
        );
        assert_eq!(
            ok("0000000000000000000000000000000000000000001", 0),
            (false, 1)
        );
        assert_eq!(ok("0e-1000", 2), (false, 0));
        assert_eq!(ok("-0", 2), (true, 0));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_ticks("10.123", 2), Err(NumError::TooPrecise));
        assert_eq!(parse_ticks("1e-3", 2), Err(NumError::TooPrecise));
        assert_eq!(parse_ticks("NaN", 2), Err(NumError::NotFinite));
        assert_eq!(parse_ticks("-Infinity", 2), Err(NumError::NotFinite));
        assert_eq!(parse_ticks("sNaN12", 2), Err(NumError::NotFinite));
        assert_eq!(parse_ticks("nanx", 2), Err(NumError::Syntax));
        assert_eq!(parse_ticks("", 2), Err(NumError::Syntax));
        assert_eq!(parse_ticks(".", 2), Err(NumError::Syntax));
        assert_eq!(parse_ticks("1.2.3", 2), Err(NumError::Syntax));
        assert_eq!(parse_ticks("1e", 2), Err(NumError::Syntax));
        assert_eq!(parse_ticks("1_000", 2), Err(NumError::Syntax));
        assert_eq!(parse_ticks("1e39", 0), Err(NumError::OutOfRange));
        assert_eq!(
            parse_ticks("1e999999999999999999999", 0),
            Err(NumError::OutOfRange)
        );
        assert_eq!(
            parse_ticks("1e-999999999999999999999", 18),
            Err(NumError::TooPrecise)
        );
        assert_eq!(
            parse_ticks("999999999999999999999999999999999999999999", 0),
            Err(NumError::OutOfRange)
        );
        // More significant digits than fit, but the last ones are below the book's precision.
        assert_eq!(
            parse_ticks("1.0000000000000000000000000000000000000001", 18),
            Err(NumError::TooPrecise)
        );
        assert_eq!(
            parse_ticks("12345678901234567890123456789012345678901234e-10", 0),
            Err(NumError::TooPrecise)
        );
        assert_eq!(
            parse_ticks("12345678901234567890123456789012345678901230e-1", 0),
            Err(NumError::OutOfRange)
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(format(10_050, 2), "100.50");
        assert_eq!(format(5, 3), "0.005");
        assert_eq!(format(7, 0), "7");
        assert_eq!(format(u128::MAX, 18).len(), 40);
    }
}
