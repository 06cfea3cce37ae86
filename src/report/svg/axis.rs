//! Axes: the data-to-pixel mapping and "nice" ticks (1, 2, 5 × 10^k steps) with their labels.

/// One axis: data interval mapped onto a pixel interval, plus its ticks.
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<(f64, String)>,
    /// log10 axis: `lo`, `hi` and tick positions are in log10 units.
    pub(super) log: bool,
}

impl Axis {
    /// Linear axis covering `[min, max]` (finite, `min <= max`), widened to whole ticks.
    pub(super) fn linear(min: f64, max: f64) -> Axis {
        let (mut lo, mut hi) = (min, max);
        if lo == hi {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            lo -= pad;
            hi += pad;
        }
        let mut ticks = nice_ticks(lo, hi, 6);
        if ticks.len() >= 2 {
            // Widen to the tick just outside each end so the data never touch the frame and
            // the axis ends on a labelled value.
            let step = ticks[1] - ticks[0];
            if ticks[0] > lo {
                ticks.insert(0, ticks[0] - step);
            }
            if ticks[ticks.len() - 1] < hi {
                ticks.push(ticks[ticks.len() - 1] + step);
            }
            lo = ticks[0];
            hi = ticks[ticks.len() - 1];
        }
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            // Widening overflowed (data near f64::MAX): plain ends, no ticks inside.
            let (lo, hi) = if min < max {
                (min, max)
            } else {
                (min - 1.0, max + 1.0)
            };
            return Axis {
                lo,
                hi,
                ticks: Vec::new(),
                log: false,
            };
        }
        let labels = tick_labels(&ticks);
        Axis {
            lo,
            hi,
            ticks: ticks.into_iter().zip(labels).collect(),
            log: false,
        }
    }

    /// log10 axis covering `[min, max]` (both > 0), widened to whole decades.
    pub(super) fn log10(min: f64, max: f64) -> Axis {
        let mut lo = min.log10().floor();
        let mut hi = max.log10().ceil();
        if lo == hi {
            lo -= 1.0;
            hi += 1.0;
        }
        let decades = hi - lo;
        let mut ticks = Vec::new();
        // At most ~8 labelled decades; with a range of one or two decades, also label 2 and 5.
        let stride = (decades / 8.0).ceil().max(1.0);
        // Labelled decades are multiples of the stride, so 10^0 = 1 is always one of them when
        // it is in range.
        let mut k = (lo / stride).ceil() * stride;
        while k <= hi + 1e-9 {
            ticks.push((k, decade_label(k)));
            if decades <= 2.0 && k < hi {
                for m in [2.0f64, 5.0] {
                    let v = m * 10f64.powf(k);
                    ticks.push((v.log10(), fmt_tick(v, 10f64.powf(k))));
                }
            }
            k += stride;
        }
        Axis {
            lo,
            hi,
            ticks,
            log: true,
        }
    }

    /// Position of data value `v` along `[p0, p1]` (p1 may be < p0 for the y axis).
    pub(super) fn map(&self, v: f64, p0: f64, p1: f64) -> f64 {
        self.map_unit(if self.log { v.log10() } else { v }, p0, p1)
    }

    /// Same, for a tick already in axis units. Halved operands keep `u - lo` and `hi - lo`
    /// finite even for data near f64::MAX.
    pub(super) fn map_unit(&self, u: f64, p0: f64, p1: f64) -> f64 {
        p0 + (u / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0) * (p1 - p0)
    }
}

/// Ticks at multiples of a 1, 2 or 5 x 10^k step inside `[lo, hi]`, about `target` of them
/// (Heckbert, "Nice numbers for graph labels", Graphics Gems 1990). Falls back to the two ends
/// when the range is not finite or too narrow for f64 to step through.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return Vec::new();
    }
    // Halves avoid overflow of hi - lo for values near f64::MAX.
    let span = 2.0 * (hi / 2.0 - lo / 2.0);
    let step = nice_step(span / target.max(1) as f64);
    if !(step.is_finite() && step > 0.0) {
        return vec![lo, hi];
    }
    let (first, last) = ((lo / step).ceil(), (hi / step).floor());
    let count = last - first + 1.0;
    if !(1.0..=100.0).contains(&count) || first + 1.0 == first {
        return vec![lo, hi];
    }
    (0..count as usize)
        .map(|i| {
            let v = (first + i as f64) * step;
            // Multiples like 3 * 0.1 = 0.30000000000000004: snap tiny residue near zero.
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// The nearest of 1, 2, 5, 10 times a power of ten to `rough`.
pub(super) fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return f64::NAN;
    }
    let mag = 10f64.powf(rough.log10().floor());
    let frac = rough / mag;
    let nice = if frac < 1.5 {
        1.0
    } else if frac < 3.0 {
        2.0
    } else if frac < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Labels for evenly spaced ticks: as many decimals as the step needs.
pub(super) fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let step = if ticks.len() > 1 {
        (ticks[1] - ticks[0]).abs()
    } else {
        ticks.first().map(|t| t.abs()).unwrap_or(1.0)
    };
    ticks.iter().map(|&t| fmt_tick(t, step)).collect()
}

/// `v` with the decimals a tick step of `step` needs; scientific outside [1e-4, 1e6).
pub(super) fn fmt_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        // Scientific with up to three significant digits, trailing zeros dropped: 1.5e7.
        let sci = format!("{v:.2e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exp}");
    }
    let mut decimals = 0usize;
    let mut s = step;
    while decimals < 10 && s.is_finite() && s > 0.0 && (s - s.round()).abs() > s * 1e-6 {
        s *= 10.0;
        decimals += 1;
    }
    let text = format!("{v:.decimals$}");
    if text
        .strip_prefix('-')
        .is_some_and(|r| r.chars().all(|c| c == '0' || c == '.'))
    {
        text[1..].to_string()
    } else {
        text
    }
}

/// 10^k as a plain number for k in -4..=5, else `1e{k}`.
pub(super) fn decade_label(k: f64) -> String {
    let k = k.round() as i32;
    if (-4..=5).contains(&k) {
        fmt_tick(10f64.powi(k), 10f64.powi(k))
    } else {
        format!("1e{k}")
    }
}

/// Four significant digits, for equations.
pub(super) fn fmt_sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

pub(super) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
