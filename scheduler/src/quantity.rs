//! Resource quantities (`500m`, `1.5Gi`, `2e3`) read exactly, as apimachinery's `resource.Quantity`
//! does for the scheduler: CPU in millicores (`MilliValue`, rounded up) and everything else in
//! whole units (`Value`, rounded up). A malformed quantity reads as absent: the API server has
//! validated what it stored, so one never reaches here from a real pod.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// A quantity in thousandths of its unit, rounded up.
fn thousandths(s: &str) -> Option<i128> {
    let s = s.trim();
    let (number, suffix) = split_suffix(s);
    let (mut mantissa, mut exp10) = decimal(number)?;
    let mut binary: u32 = 0;
    match suffix {
        "" => {}
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => binary = 10,
        "Mi" => binary = 20,
        "Gi" => binary = 30,
        "Ti" => binary = 40,
        "Pi" => binary = 50,
        "Ei" => binary = 60,
        e if e.starts_with(['e', 'E']) => exp10 += e[1..].parse::<i32>().ok()?,
        _ => return None,
    }
    mantissa = mantissa.checked_mul(1i128.checked_shl(binary)?)?;
    // To thousandths: shift the decimal exponent by three and round up what falls off.
    exp10 += 3;
    if exp10 >= 0 {
        mantissa.checked_mul(10i128.checked_pow(exp10.unsigned_abs())?)
    } else {
        let div = 10i128
            .checked_pow(exp10.unsigned_abs())
            .unwrap_or(i128::MAX);
        let q = mantissa / div;
        Some(if mantissa % div > 0 { q + 1 } else { q })
    }
}

/// Splits `1.5Gi` into `1.5` and `Gi` (an exponent `e3` counts as the suffix).
fn split_suffix(s: &str) -> (&str, &str) {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '+' || c == '-') && i == 0)))
        .map_or(s.len(), |(i, _)| i);
    s.split_at(end)
}

/// `-1.25` as mantissa -125 and exponent -2.
fn decimal(s: &str) -> Option<(i128, i32)> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || digits == "." {
        return None;
    }
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut mantissa: i128 = 0;
    for c in whole.chars().chain(frac.chars()) {
        let d = c.to_digit(10)?;
        mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(d))?;
    }
    let exp = -i32::try_from(frac.len()).ok()?;
    Some((if negative { -mantissa } else { mantissa }, exp))
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// `MilliValue()`: CPU in millicores.
pub fn milli(q: &Quantity) -> i64 {
    thousandths(&q.0).map_or(0, clamp)
}

/// `Value()`: whole units, rounded up (memory and storage in bytes, counts).
pub fn value(q: &Quantity) -> i64 {
    thousandths(&q.0).map_or(0, |t| {
        let whole = t / 1000;
        clamp(if t % 1000 > 0 { whole + 1 } else { whole })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.into())
    }

    #[test]
    fn quantities_read_as_apimachinery_reads_them() {
        assert_eq!(milli(&q("500m")), 500);
        assert_eq!(milli(&q("1.5")), 1500);
        assert_eq!(milli(&q("2")), 2000);
        assert_eq!(milli(&q("0.0001")), 1, "rounded up to a millicore");
        assert_eq!(value(&q("1Gi")), 1 << 30);
        assert_eq!(value(&q("1.5Gi")), 3 << 29);
        assert_eq!(value(&q("128974848")), 128_974_848);
        assert_eq!(value(&q("129e6")), 129_000_000);
        assert_eq!(value(&q("123Mi")), 123 << 20);
        assert_eq!(value(&q("1k")), 1000);
        assert_eq!(value(&q("100m")), 1, "a fraction of a byte rounds up");
        assert_eq!(value(&q("bogus")), 0);
        assert_eq!(value(&q("1Zi")), 0);
    }
}
