//! Numbers and times as ss's C printf writes them (`%u`, `%g`, `%.3g`,
//! `%.0f`, `%#x`, `%03u`, ss's `print_ms_timer` and `sprint_bw`), without
//! going through `fmt` on the hot path. Each fast path is tested for
//! exactness against the general one below.

use std::io::Write as _;

/// Two-digit pairs "00".."99", for writing numbers two digits at a time.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends a decimal number without going through `fmt`. Small numbers
/// (most tcp_info fields) are pushed byte by byte; profiles of `-tanoie`
/// showed a library memcpy call per number costing more than the digits.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    if v < 100 {
        let i = v as usize * 2;
        out.extend_from_slice(PAIRS.get(i..i + 2).unwrap_or(b"??"));
        return;
    }
    push_u64_long(out, v);
}

fn push_u64_long(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    while v >= 100 {
        let p = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        if let (Some(dst), Some(src)) = (tmp.get_mut(i..i + 2), PAIRS.get(p..p + 2)) {
            dst.copy_from_slice(src);
        }
    }
    if v >= 10 {
        let p = v as usize * 2;
        i -= 2;
        if let (Some(dst), Some(src)) = (tmp.get_mut(i..i + 2), PAIRS.get(p..p + 2)) {
            dst.copy_from_slice(src);
        }
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    out.extend_from_slice(tmp.get(i..).unwrap_or_default());
}

/// ss's `print_ms_timer`, with HEAD's fix for times under 10 s: `""` (0),
/// `003ms`, `1sec`, `1.001sec`, `10sec` (whole seconds above 9 s),
/// `1min5sec` (no ms once there are minutes), `10min` (no seconds above
/// 9 minutes).
pub fn format_ms(out: &mut Vec<u8>, ms: u32) {
    let mut secs = ms / 1000;
    let minutes = secs / 60;
    secs %= 60;
    let mut msecs = ms % 1000;
    if minutes > 0 {
        msecs = 0;
        push_u64(out, u64::from(minutes));
        out.extend_from_slice(b"min");
        if minutes > 9 {
            secs = 0;
        }
    }
    if secs > 0 {
        if secs > 9 {
            msecs = 0;
        }
        push_u64(out, u64::from(secs));
        if msecs > 0 {
            out.push(b'.');
            push_3digits(out, msecs);
        }
        out.extend_from_slice(b"sec");
    } else if msecs > 0 {
        push_3digits(out, msecs);
        out.extend_from_slice(b"ms");
    }
}

/// 10^0 ..= 10^12 as f64 (exact).
const POW10_F: [f64; 13] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
];

/// 10^0 ..= 10^12 as integers.
const POW10_U: [u64; 13] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
];

/// 10^-4 ..= 10^8: the decades of %g's fixed notation.
const POW10_NEG4: [f64; 13] = [
    1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
];

/// C's `%g`: 6 significant digits, trailing zeros dropped, exponent form
/// below 1e-4 or from 1e6.
pub fn fmt_g(out: &mut Vec<u8>, v: f64) {
    fmt_g_prec(out, v, 6);
}

/// C's `%.Pg` for `prec` significant digits (at least 1).
pub fn fmt_g_prec(out: &mut Vec<u8>, v: f64, prec: usize) {
    let p = prec.max(1);
    if v == 0.0 {
        out.push(b'0');
        return;
    }
    if !v.is_finite() {
        let t = if v.is_nan() {
            "nan"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        out.extend_from_slice(t.as_bytes());
        return;
    }
    // Fast path: most values are kernel microseconds divided by 1000. Below
    // 1000 they have at most 3 + 3 digits, which %g with 6 digits prints
    // exactly, so integer arithmetic gives the same text as the general path.
    if p >= 6 && v > 0.0 && v < 1000.0 {
        let n = (v * 1000.0).round();
        if n / 1000.0 == v {
            let n = n as u64;
            push_u64(out, n / 1000);
            let frac = n % 1000;
            if frac != 0 {
                let digits = [
                    b'0' + (frac / 100) as u8,
                    b'0' + (frac / 10 % 10) as u8,
                    b'0' + (frac % 10) as u8,
                ];
                let keep = if frac.is_multiple_of(100) {
                    1
                } else if frac.is_multiple_of(10) {
                    2
                } else {
                    3
                };
                out.push(b'.');
                out.extend_from_slice(&digits[..keep]);
            }
            return;
        }
    }
    // Fixed notation (what %g uses from 1e-4 up to 10^p) in integers: the
    // exponent from a table, the value scaled to p significant digits and
    // rounded, unless it is too close to a rounding tie to decide in
    // floating point or rounds up into the next power of ten. Profiles of
    // `-tanoie` showed float formatting (bbr gains, bandwidths) at 8 %.
    if p <= 9 && (1e-4..POW10_F[p]).contains(&v) {
        let mut e: usize = 0; // index into POW10_NEG4: 10^(e-4) <= v
        while e + 1 < p + 4 && v >= POW10_NEG4[e + 1] {
            e += 1;
        }
        // Digits after the point: p - 1 - (e - 4).
        let decimals = p + 3 - e;
        let scaled = v * POW10_F[decimals];
        let fract = scaled - scaled.floor();
        let n = scaled.round() as u64;
        if (fract - 0.5).abs() > 1e-6 && n < POW10_U[p] {
            let unit = POW10_U[decimals];
            push_u64(out, n / unit);
            let mut frac = n % unit;
            if frac != 0 {
                let mut width = decimals;
                while frac.is_multiple_of(10) {
                    frac /= 10;
                    width -= 1;
                }
                out.push(b'.');
                let digits = out.len();
                push_u64(out, frac);
                // Leading zeros of the fraction.
                let pad = width - (out.len() - digits);
                out.splice(digits..digits, std::iter::repeat_n(b'0', pad));
            }
            return;
        }
    }
    // The exponent after rounding to `p` digits decides the style.
    let sci = format!("{:.*e}", p - 1, v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        out.extend_from_slice(strip_zeros(mant).as_bytes());
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let fixed = format!("{v:.decimals$}");
        out.extend_from_slice(strip_zeros(&fixed).as_bytes());
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// C's `%.0f`: the value rounded to an integer, ties to even (the exact
/// binary value decides, and `bw - floor(bw)` is exact for doubles).
/// Integer arithmetic instead of float formatting, which profiles showed
/// among the costliest parts of `-tanoie`.
pub fn fmt_f0(out: &mut Vec<u8>, v: f64) {
    // Below 2^63 the rounded value fits a u64; the rest is rare.
    if !(0.0..9.2e18).contains(&v) {
        let _ = write!(out, "{v:.0}");
        return;
    }
    let floor = v.floor();
    let diff = v - floor;
    let n = floor as u64;
    let n = if diff > 0.5 || (diff == 0.5 && n % 2 == 1) {
        n + 1
    } else {
        n
    };
    push_u64(out, n);
}

/// ss's `sprint_bw` (bits per second): `%.0f` with `-n`, else `%.3g` with
/// a decimal k/M/G/T unit, or `%g` up to 1000.
pub fn sprint_bw(out: &mut Vec<u8>, bw: f64, numeric: bool) {
    if numeric {
        fmt_f0(out, bw);
        return;
    }
    let (div, unit) = if bw > 1e12 {
        (1e12, Some(b'T'))
    } else if bw > 1e9 {
        (1e9, Some(b'G'))
    } else if bw > 1e6 {
        (1e6, Some(b'M'))
    } else if bw > 1e3 {
        (1e3, Some(b'k'))
    } else {
        (1.0, None)
    };
    match unit {
        Some(u) => {
            fmt_g_prec(out, bw / div, 3);
            out.push(u);
        }
        None => fmt_g(out, bw),
    }
}

/// `%03u` of a value below 1000.
pub fn push_3digits(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&[
        b'0' + (v / 100 % 10) as u8,
        b'0' + (v / 10 % 10) as u8,
        b'0' + (v % 10) as u8,
    ]);
}

/// Lower-case hex without a prefix (`%llx`).
pub fn push_hex(out: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        if let Some(d) = tmp.get_mut(i) {
            *d = b"0123456789abcdef"[(v & 15) as usize];
        }
        v >>= 4;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(tmp.get(i..).unwrap_or_default());
}

/// C's `%#x`: `0` for zero, else `0x…`.
pub fn hash_x(out: &mut Vec<u8>, v: u32) {
    if v == 0 {
        out.push(b'0');
    } else {
        let _ = write!(out, "0x{v:x}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn fast_g_matches_the_general_path() {
        for n in (0u64..200_000)
            .step_by(7)
            .chain([1, 999, 1000, 1001, 999_999])
        {
            let v = n as f64 / 1000.0;
            let mut fast = Vec::new();
            super::fmt_g(&mut fast, v);
            assert_eq!(String::from_utf8_lossy(&fast), slow_g(v, 6), "{v}");
        }
    }

    /// The general `%g` path, without the fast paths, for comparison.
    fn slow_g(v: f64, p: usize) -> String {
        let sci = format!("{:.*e}", p - 1, v);
        let (mant, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        if exp < -4 || exp >= p as i32 {
            format!(
                "{}e{}{:02}",
                super::strip_zeros(mant),
                if exp < 0 { '-' } else { '+' },
                exp.unsigned_abs()
            )
        } else {
            let decimals = (p as i32 - 1 - exp).max(0) as usize;
            super::strip_zeros(&format!("{v:.decimals$}")).to_string()
        }
    }

    #[test]
    fn hex_and_three_digits() {
        for v in [0u64, 1, 15, 16, 0x1a2b, u64::MAX, 1 << 63] {
            let mut o = Vec::new();
            super::push_hex(&mut o, v);
            assert_eq!(String::from_utf8(o).unwrap(), format!("{v:x}"));
        }
        for v in [0u32, 7, 42, 999] {
            let mut o = Vec::new();
            super::push_3digits(&mut o, v);
            assert_eq!(String::from_utf8(o).unwrap(), format!("{v:03}"));
        }
    }

    #[test]
    fn fast_g3_and_f0_match_the_general_path() {
        // A spread of magnitudes, exact ties (x.5, x.25, x.125) and values
        // a hair either side of them.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut values = Vec::new();
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mant = (x % 1_000_000) as f64 / 1000.0;
            values.push(mant * 10f64.powi((i % 9) as i32 - 2));
            values.push((i % 2000) as f64 / 8.0);
            values.push(f64::from_bits(((i % 2000) as f64 / 8.0).to_bits() + 1));
            values.push(f64::from_bits(
                ((i % 2000) as f64 / 8.0).to_bits().saturating_sub(1),
            ));
        }
        for v in values {
            let mut fast = Vec::new();
            super::fmt_g_prec(&mut fast, v, 3);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                slow_g(v, 3),
                "%.3g of {v:e}"
            );
            let mut f0 = Vec::new();
            super::fmt_f0(&mut f0, v * 1e6);
            assert_eq!(
                String::from_utf8(f0).unwrap(),
                format!("{:.0}", v * 1e6),
                "{v:e}"
            );
        }
        for v in [0.5, 1.5, 2.5, 3.5, 1e15 + 0.5, 4.5e15 + 0.5] {
            let mut f0 = Vec::new();
            super::fmt_f0(&mut f0, v);
            assert_eq!(String::from_utf8(f0).unwrap(), format!("{v:.0}"), "{v}");
        }
    }

    #[test]
    fn ms_edges() {
        let cases = [
            (0, ""),
            (3, "003ms"),
            (476, "476ms"),
            (1000, "1sec"),
            (1001, "1.001sec"),
            (9373, "9.373sec"),
            (10500, "10sec"),
            (60000, "1min"),
            (65300, "1min5sec"),
            (599_999, "9min59sec"),
            (600_000, "10min"),
            (659_000, "10min"),
            (7_180_950, "119min"),
        ];
        for (ms, want) in cases {
            assert_eq!(s(|v| format_ms(v, ms)), want, "{ms}");
        }
    }

    #[test]
    fn g_format() {
        let cases = [
            (0.0, "0"),
            (204.0, "204"),
            (0.023, "0.023"),
            (0.011, "0.011"),
            (1.5, "1.5"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (100.0, "100"),
            (2.885, "2.885"),
        ];
        for (v, want) in cases {
            assert_eq!(s(|o| fmt_g(o, v)), want, "{v}");
        }
        assert_eq!(s(|o| fmt_g_prec(o, 113.97565, 3)), "114");
        assert_eq!(s(|o| fmt_g_prec(o, 1.0, 3)), "1");
        assert_eq!(s(|o| fmt_g_prec(o, 999.5, 3)), "1e+03");
    }

    #[test]
    fn bandwidths() {
        assert_eq!(s(|o| sprint_bw(o, 0.0, false)), "0");
        assert_eq!(s(|o| sprint_bw(o, 1000.0, false)), "1000");
        assert_eq!(s(|o| sprint_bw(o, 1500.0, false)), "1.5k");
        assert_eq!(s(|o| sprint_bw(o, 2.5e6, false)), "2.5M");
        assert_eq!(s(|o| sprint_bw(o, 113_975_652_173.9, false)), "114G");
        assert_eq!(s(|o| sprint_bw(o, 3.2e12, false)), "3.2T");
        assert_eq!(s(|o| sprint_bw(o, 113_975_652_173.9, true)), "113975652174");
    }
}
