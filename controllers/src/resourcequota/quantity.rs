//! Resource quantities (`500m`, `1Gi`, `2e3`) as exact numbers: parsed, added, compared and
//! written back in apimachinery's canonical form (`1500m` + `500m` is `2`, `64Mi` + `64Mi` is
//! `128Mi`), as ResourceQuota usage is reported. Values are whole nano-units (upstream rounds
//! anything finer up to `1n`). This file uses only `std`: the API server's quota admission
//! compiles the same source, so both count alike without either crate depending on the other.

use std::cmp::Ordering;
use std::fmt;

/// How a quantity is written: the suffix family of the first operand, as apimachinery keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `m`, `k`, `M`, … (and plain numbers).
    DecimalSi,
    /// `Ki`, `Mi`, `Gi`, …
    BinarySi,
    /// `e3`, `E-6`, …
    DecimalExponent,
}

/// One quantity.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

const NANO: i128 = 1_000_000_000;

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Default for Quantity {
    fn default() -> Self {
        Quantity::zero()
    }
}

fn pow(base: i128, exp: u32) -> Option<i128> {
    base.checked_pow(exp)
}

impl Quantity {
    /// Zero, written in the decimal form (what upstream's usage counts start from).
    pub fn zero() -> Quantity {
        Quantity {
            nanos: 0,
            format: Format::DecimalSi,
        }
    }

    /// A whole count (`pods`, `services`, …).
    pub fn count(n: i64) -> Quantity {
        Quantity {
            nanos: i128::from(n) * NANO,
            format: Format::DecimalSi,
        }
    }

    /// Parses `s`; `None` when it is not a quantity (or too large to hold).
    pub fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let bytes = s.as_bytes();
        let (negative, start) = match bytes.first() {
            Some(b'-') => (true, 1),
            Some(b'+') => (false, 1),
            _ => (false, 0),
        };
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        let number = s.get(start..end)?;
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
            return None;
        }
        let digits = format!("{whole}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return None;
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let frac_digits = i32::try_from(frac.len()).ok()?;
        let (format, binary, exp10) = match s.get(end..)? {
            "" => (Format::DecimalSi, 0, 0),
            "n" => (Format::DecimalSi, 0, -9),
            "u" => (Format::DecimalSi, 0, -6),
            "m" => (Format::DecimalSi, 0, -3),
            "k" => (Format::DecimalSi, 0, 3),
            "M" => (Format::DecimalSi, 0, 6),
            "G" => (Format::DecimalSi, 0, 9),
            "T" => (Format::DecimalSi, 0, 12),
            "P" => (Format::DecimalSi, 0, 15),
            "E" => (Format::DecimalSi, 0, 18),
            "Ki" => (Format::BinarySi, 1, 0),
            "Mi" => (Format::BinarySi, 2, 0),
            "Gi" => (Format::BinarySi, 3, 0),
            "Ti" => (Format::BinarySi, 4, 0),
            "Pi" => (Format::BinarySi, 5, 0),
            "Ei" => (Format::BinarySi, 6, 0),
            suffix if suffix.starts_with(['e', 'E']) => {
                let exp = &suffix[1..];
                let unsigned = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                if unsigned.is_empty() || !unsigned.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                (Format::DecimalExponent, 0, exp.parse::<i32>().ok()?)
            }
            _ => return None,
        };
        let scaled = mantissa.checked_mul(pow(1024, binary)?)?;
        // value = scaled × 10^(exp10 − frac_digits), in nano-units: × 10^9.
        let shift = exp10.checked_sub(frac_digits)?.checked_add(9)?;
        let nanos = if shift >= 0 {
            scaled.checked_mul(pow(10, u32::try_from(shift).ok()?)?)?
        } else {
            let div = pow(10, u32::try_from(-shift).ok()?).unwrap_or(i128::MAX);
            // Finer than a nano-unit rounds up (away from zero), as apimachinery rounds.
            let q = scaled / div;
            if scaled % div != 0 {
                q + 1
            } else {
                q
            }
        };
        Some(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
}

/// `self + other`, written as `self` is written (as `other` is, when `self` is zero:
/// apimachinery's Add).
impl std::ops::Add for Quantity {
    type Output = Quantity;

    fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }
}

/// `self − other`, written as `self` is written.
impl std::ops::Sub for Quantity {
    type Output = Quantity;

    fn sub(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: self.format,
        }
    }
}

/// `n` without its trailing factors of `factor`, and how many there were.
fn remove_factors(mut n: i128, factor: i128) -> (i128, i32) {
    let mut times = 0;
    while n != 0 && n % factor == 0 {
        n /= factor;
        times += 1;
    }
    (n, times)
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySi {
            // Small or fractional binary values are written in decimal (no rounding).
            if self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0 {
                format = Format::DecimalSi;
            }
        }
        if format == Format::BinarySi {
            let (mut amount, mut times) = remove_factors(self.nanos / NANO, 1024);
            // Past `Ei` there is no suffix: the rest stays in the number.
            while times > 6 {
                amount *= 1024;
                times -= 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][times as usize];
            return write!(f, "{amount}{suffix}");
        }
        let (mut amount, times) = remove_factors(self.nanos, 10);
        let mut exp = times - 9;
        // The exponent goes down to a multiple of three.
        let rem = exp.rem_euclid(3);
        amount *= [1, 10, 100][rem as usize];
        exp -= rem;
        let suffix = match (format, exp) {
            (Format::DecimalExponent, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".into(),
            (_, -6) => "u".into(),
            (_, -3) => "m".into(),
            (_, 0) => String::new(),
            (_, 3) => "k".into(),
            (_, 6) => "M".into(),
            (_, 9) => "G".into(),
            (_, 12) => "T".into(),
            (_, 15) => "P".into(),
            (_, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        write!(f, "{amount}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|| Quantity::count(-999))
    }

    #[test]
    fn parses_and_writes_canonically() {
        for (given, canonical) in [
            ("1", "1"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("0.5", "500m"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("512", "512"),
            ("1.5Gi", "1536Mi"),
            ("2e3", "2e3"),
            ("1e-10", "1e-9"),
            ("1n", "1n"),
            ("0", "0"),
            ("-1", "-1"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
        ] {
            assert_eq!(q(given).to_string(), canonical, "{given}");
        }
        for bad in ["", "abc", "1Gb", "1.2.3", "Mi", "1e"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn sums_keep_the_first_operands_format() {
        assert_eq!((q("64Mi") + q("64Mi")).to_string(), "128Mi");
        assert_eq!((q("100m") + q("900m")).to_string(), "1");
        assert_eq!((Quantity::zero() + q("1Gi")).to_string(), "1Gi");
        assert_eq!((q("1") + q("1Ki")).to_string(), "1025");
        assert!(q("1") > q("999m"));
        assert_eq!((q("1Gi") - q("1Gi")).to_string(), "0");
    }
}
