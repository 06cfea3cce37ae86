//! The study's pre-registered rules as code (`docs/study.md`): the thresholds, the regime
//! selection of stage 1, the best-cell selections of stages 2 and 3, and the verdict of
//! stage 5. They were written before any study result existed; the study prints what these
//! functions return, never a judgement made after looking.

/// He's target accuracy (pp) of the regime selection: the abstract's "93.02 %, comparable to
/// He".
pub const TARGET_HE: f64 = 93.0;
/// The target He − BP gap (pp): "2.8 points above plain backprop".
pub const TARGET_GAP: f64 = 2.8;
/// The regime matches when |(He − BP) − 2.8| ≤ this (pp), on stage 4's test set.
pub const REGIME_TOLERANCE: f64 = 0.7;
/// *Reproduced* needs a mean paired gi − bp of at least this (pp)…
pub const MIN_GAIN: f64 = 2.0;
/// … and the lower end of its bootstrap CI above this (pp).
pub const MIN_CI_LOWER: f64 = 1.0;
/// TOST equivalence margin of gi vs he (pp).
pub const TOST_MARGIN: f64 = 0.5;
/// Family-wise error rate of every Holm family and of TOST.
pub const ALPHA: f64 = 0.05;
/// Bootstrap resamples of every CI.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;
/// Confidence level of every CI.
pub const CI_LEVEL: f64 = 0.95;
/// The evaluator term's size at step 0, as a multiple of the loss term (stages 2–4).
pub const RHO_GRID: [f32; 3] = [0.1, 0.3, 1.0];
/// Two means closer than this count as tied (then the tie rules apply).
pub const TIE: f64 = 1e-9;

/// One configuration of stage 1: mean S_val accuracies (pp) of bp and he over its seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegimeCandidate {
    /// Hidden layers.
    pub depth: usize,
    /// Epochs.
    pub epochs: usize,
    /// Mean accuracy of bp (pp).
    pub bp: f64,
    /// Mean accuracy of he (pp).
    pub he: f64,
}

impl RegimeCandidate {
    /// `sqrt((He − 93.0)² + ((He − BP) − 2.8)²)`: the distance to the abstract's numbers.
    pub fn distance(&self) -> f64 {
        ((self.he - TARGET_HE).powi(2) + ((self.he - self.bp) - TARGET_GAP).powi(2)).sqrt()
    }
}

/// Stage 1's rule: the index of the candidate with the smallest [`RegimeCandidate::distance`];
/// ties go to fewer epochs, then fewer hidden layers. `None` if no candidate has a finite
/// distance.
pub fn select_regime(candidates: &[RegimeCandidate]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        let d = c.distance();
        if !d.is_finite() {
            continue;
        }
        best = match best {
            None => Some(i),
            Some(b) => {
                let (bd, bc) = (candidates[b].distance(), &candidates[b]);
                let better = d < bd - TIE
                    || ((d - bd).abs() <= TIE && (c.epochs, c.depth) < (bc.epochs, bc.depth));
                Some(if better { i } else { b })
            }
        };
    }
    best
}

/// A cell competing in a selection: its mean paired gain over bp (pp), its ρ (`None` for a
/// cell without one) and its position in the pre-registered order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GainCandidate {
    /// Mean paired gain over bp on S_val (pp).
    pub mean_gain: f64,
    /// ρ of the cell, if any.
    pub rho: Option<f32>,
    /// Position in the pre-registered list of cells (variants table / controls list).
    pub order: usize,
}

/// Stages 2 and 3's rule: the index of the candidate with the highest mean gain; ties go to
/// the smaller ρ, then the earlier position. `None` if no candidate has a finite gain.
pub fn select_best(candidates: &[GainCandidate]) -> Option<usize> {
    let key = |c: &GainCandidate| (c.rho.unwrap_or(0.0), c.order);
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        if !c.mean_gain.is_finite() {
            continue;
        }
        best = match best {
            None => Some(i),
            Some(b) => {
                let bc = &candidates[b];
                let better = c.mean_gain > bc.mean_gain + TIE
                    || ((c.mean_gain - bc.mean_gain).abs() <= TIE
                        && key(c).partial_cmp(&key(bc)) == Some(std::cmp::Ordering::Less));
                Some(if better { i } else { b })
            }
        };
    }
    best
}

/// The three verdicts, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// The CI of gi − bp does not lie above 0.
    NotReproduced,
    /// gi − bp is above 0 but small, explained by a control, not equivalent to he, or the
    /// regime does not match.
    Partial,
    /// Every condition of the pre-registration holds.
    Reproduced,
}

impl Verdict {
    /// "reproduced", "partial", "not reproduced".
    pub fn name(self) -> &'static str {
        match self {
            Verdict::NotReproduced => "not reproduced",
            Verdict::Partial => "partial",
            Verdict::Reproduced => "reproduced",
        }
    }
}

/// Stage 4's numbers for one ENN seed (pp; p-values Holm-adjusted within the secondary
/// family).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VerdictInputs {
    /// Mean paired he − bp on the test set.
    pub he_minus_bp: f64,
    /// Mean paired gi − bp.
    pub gain: f64,
    /// Lower end of the bootstrap 95 % CI of gi − bp.
    pub gain_ci_lo: f64,
    /// Holm-adjusted TOST p of gi vs he (±[`TOST_MARGIN`]).
    pub tost_p_holm: f64,
    /// Mean paired gi − best control.
    pub control_diff: f64,
    /// Holm-adjusted paired-t p of gi − best control.
    pub control_p_holm: f64,
}

/// A verdict and the conditions of *reproduced* that failed (empty when reproduced).
#[derive(Clone, Debug, PartialEq)]
pub struct VerdictOutcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Each failed condition, in words.
    pub failed: Vec<&'static str>,
}

/// Stage 5's rule for one ENN seed. A NaN makes its condition fail.
pub fn verdict(v: &VerdictInputs) -> VerdictOutcome {
    // Each condition is written as what must hold; a NaN makes the comparison false.
    let conditions: [(bool, &'static str); 5] = [
        (
            (v.he_minus_bp - TARGET_GAP).abs() <= REGIME_TOLERANCE,
            "regime: |(he − bp) − 2.8| > 0.7",
        ),
        (v.gain >= MIN_GAIN, "gain: mean gi − bp < +2.0"),
        (
            v.gain_ci_lo > MIN_CI_LOWER,
            "CI: lower end of gi − bp ≤ +1.0",
        ),
        (
            v.tost_p_holm < ALPHA,
            "equivalence: gi not equivalent to he (TOST ±0.5, Holm)",
        ),
        (
            v.control_diff > 0.0 && v.control_p_holm < ALPHA,
            "control: gi not better than the best control (Holm)",
        ),
    ];
    let failed: Vec<&'static str> = conditions
        .iter()
        .filter(|(holds, _)| !holds)
        .map(|&(_, what)| what)
        .collect();
    let verdict = if failed.is_empty() {
        Verdict::Reproduced
    } else if v.gain_ci_lo > 0.0 {
        Verdict::Partial
    } else {
        Verdict::NotReproduced
    };
    VerdictOutcome { verdict, failed }
}

/// The study's verdict from the per-ENN-seed verdicts: the weakest (both must agree).
pub fn combine(verdicts: &[Verdict]) -> Verdict {
    verdicts
        .iter()
        .copied()
        .min()
        .unwrap_or(Verdict::NotReproduced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(depth: usize, epochs: usize, bp: f64, he: f64) -> RegimeCandidate {
        RegimeCandidate {
            depth,
            epochs,
            bp,
            he,
        }
    }

    #[test]
    fn regime_rule_picks_the_closest_point_and_breaks_ties_by_cost() {
        let c = [
            cand(1, 3, 90.2, 91.1), // d = sqrt(1.9² + 1.9²) = 2.69
            cand(2, 3, 89.9, 92.5), // d = sqrt(0.5² + 0.2²) = 0.54
            cand(3, 3, 87.8, 93.6), // d = sqrt(0.6² + 3.0²) = 3.06
        ];
        assert!((c[1].distance() - (0.25f64 + 0.04).sqrt()).abs() < 1e-9);
        assert_eq!(select_regime(&c), Some(1));
        // A tie (same distance) goes to fewer epochs, then fewer layers.
        let tie = [
            cand(2, 4, 90.2, 93.0),
            cand(3, 2, 90.2, 93.0),
            cand(1, 2, 90.2, 93.0),
        ];
        assert_eq!(select_regime(&tie), Some(2));
        assert_eq!(select_regime(&[cand(1, 1, f64::NAN, 90.0)]), None);
        assert_eq!(select_regime(&[]), None);
    }

    #[test]
    fn best_cell_rule_takes_the_highest_gain_then_smaller_rho_then_order() {
        let g = |mean_gain, rho, order| GainCandidate {
            mean_gain,
            rho,
            order,
        };
        let c = [
            g(0.1, Some(0.1), 0),
            g(0.4, Some(1.0), 0),
            g(0.3, Some(0.3), 1),
        ];
        assert_eq!(select_best(&c), Some(1));
        let tie = [
            g(0.4, Some(1.0), 0),
            g(0.4, Some(0.3), 1),
            g(0.4, Some(0.3), 0),
        ];
        assert_eq!(select_best(&tie), Some(2));
        let controls = [g(0.2, None, 0), g(0.2, None, 1), g(f64::NAN, None, 2)];
        assert_eq!(select_best(&controls), Some(0));
        assert_eq!(select_best(&[g(f64::NAN, None, 0)]), None);
    }

    fn inputs() -> VerdictInputs {
        VerdictInputs {
            he_minus_bp: 2.6,
            gain: 2.5,
            gain_ci_lo: 1.8,
            tost_p_holm: 0.01,
            control_diff: 0.9,
            control_p_holm: 0.001,
        }
    }

    #[test]
    fn verdict_follows_the_preregistered_conditions() {
        assert_eq!(verdict(&inputs()).verdict, Verdict::Reproduced);
        assert!(verdict(&inputs()).failed.is_empty());
        // Each condition of "reproduced", broken alone, gives "partial" while the CI is > 0.
        let broken: [fn(&mut VerdictInputs); 6] = [
            |v| v.he_minus_bp = 3.6,
            |v| v.gain = 1.9,
            |v| v.gain_ci_lo = 0.9,
            |v| v.tost_p_holm = 0.2,
            |v| v.control_diff = -0.1,
            |v| v.control_p_holm = 0.06,
        ];
        for (k, f) in broken.iter().enumerate() {
            let mut v = inputs();
            f(&mut v);
            let o = verdict(&v);
            assert_eq!(o.verdict, Verdict::Partial, "condition {k}");
            assert_eq!(o.failed.len(), 1, "condition {k}: {:?}", o.failed);
        }
        // The regime band is closed: 2.8 ± 0.7 inclusive.
        let mut v = inputs();
        v.he_minus_bp = 2.1;
        assert_eq!(verdict(&v).verdict, Verdict::Reproduced);
        // CI touching 0 or below: not reproduced, whatever else holds.
        let mut v = inputs();
        v.gain_ci_lo = 0.0;
        assert_eq!(verdict(&v).verdict, Verdict::NotReproduced);
        v.gain_ci_lo = f64::NAN;
        assert_eq!(verdict(&v).verdict, Verdict::NotReproduced);
        // A small but real gain explained by a control: partial.
        let v = VerdictInputs {
            he_minus_bp: 2.5,
            gain: 0.4,
            gain_ci_lo: 0.2,
            tost_p_holm: 0.9,
            control_diff: 0.0,
            control_p_holm: 1.0,
        };
        let o = verdict(&v);
        assert_eq!(o.verdict, Verdict::Partial);
        assert_eq!(o.failed.len(), 4);
    }

    #[test]
    fn both_enn_seeds_must_agree() {
        use Verdict::*;
        assert_eq!(combine(&[Reproduced, Reproduced]), Reproduced);
        assert_eq!(combine(&[Reproduced, Partial]), Partial);
        assert_eq!(combine(&[Partial, NotReproduced]), NotReproduced);
        assert_eq!(combine(&[]), NotReproduced);
    }
}
