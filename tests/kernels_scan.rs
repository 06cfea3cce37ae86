//! The scan kernels (sum of squares in fixed lanes, −0 search) on every ISA this CPU has,
//! called directly, against their references: bit-identical over lengths around the lane
//! count and the vector widths, with NaN, ±∞, overflowing squares and zeros of both signs.

use grad_instructor::kernels::isa;
use grad_instructor::kernels::scan::{
    contains_negative_zero_reference, contains_negative_zero_with, sum_squares_lanes_reference,
    sum_squares_lanes_with, LANES,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const LENGTHS: [usize; 16] = [
    0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97, 1000, 78_400,
];

fn values(len: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..len)
        .map(|_| match rng.gen_range(0..40) {
            0 => 0.0,
            1 => f32::MIN_POSITIVE / 4.0, // a subnormal, whose square underflows to 0
            2 => 3e19,                    // its square overflows f32
            _ => rng.gen_range(-2.0f32..2.0),
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn sum_squares_lanes_is_bit_identical_to_the_reference_on_every_isa() {
    let mut rng = StdRng::seed_from_u64(0x5CA);
    for isa in isa::supported() {
        for len in LENGTHS {
            for special in [
                None,
                Some(f32::NAN),
                Some(f32::INFINITY),
                Some(-f32::INFINITY),
            ] {
                let mut v = values(len, &mut rng);
                if let (Some(s), true) = (special, len > 0) {
                    let at = rng.gen_range(0..len);
                    v[at] = s;
                }
                let want = sum_squares_lanes_reference(&v);
                let got = sum_squares_lanes_with(isa, &v);
                assert_eq!(bits(&got), bits(&want), "{isa:?} len {len} {special:?}");
            }
        }
    }
    // By hand: 33 values i (0..33) put i² in lane i % 32, so lane 0 holds 0 + 32² = 1024.
    let v: Vec<f32> = (0..33).map(|i| i as f32).collect();
    let sq = sum_squares_lanes_with(isa::best(), &v);
    assert_eq!(sq[0], 1024.0);
    assert_eq!(sq[5], 25.0);
    assert_eq!(sq.len(), LANES);
}

#[test]
fn contains_negative_zero_finds_every_position_on_every_isa() {
    let mut rng = StdRng::seed_from_u64(0x0E0);
    for isa in isa::supported() {
        for len in LENGTHS {
            let clean: Vec<f32> = values(len, &mut rng)
                .into_iter()
                .map(|x| if x == 0.0 { 0.0 } else { x })
                .collect();
            assert!(!contains_negative_zero_reference(&clean));
            assert!(
                !contains_negative_zero_with(isa, &clean),
                "{isa:?} len {len}"
            );
            // A −0 at the start, the end, a lane boundary and a random place; +0, NaN and
            // tiny negatives never count.
            let mut positions = vec![0, len.saturating_sub(1), LANES.min(len.saturating_sub(1))];
            if len > 0 {
                positions.push(rng.gen_range(0..len));
            }
            for at in positions.into_iter().filter(|_| len > 0) {
                let mut v = clean.clone();
                v[at] = -0.0;
                assert!(contains_negative_zero_reference(&v));
                assert!(
                    contains_negative_zero_with(isa, &v),
                    "{isa:?} len {len} at {at}"
                );
                v[at] = -f32::MIN_POSITIVE / 8.0;
                assert!(
                    !contains_negative_zero_with(isa, &v),
                    "{isa:?} len {len} at {at}"
                );
                v[at] = -f32::NAN;
                assert!(
                    !contains_negative_zero_with(isa, &v),
                    "{isa:?} len {len} at {at}"
                );
            }
        }
    }
}
