//! Block sizes, the planner, the blocked loop nest and the thread split.

use super::micro::{Kernel, Tile};
use super::pack::{
    aligned_region, pack_a, pack_b, transpose_for, with_pack_bufs, MatMut, MatRef, PackBufs,
    TransposeFn,
};
use super::simd::kernel_menu;
use super::{threads, Gemm};
use crate::kernels::cache::{blocking, Blocking};
use crate::kernels::isa::Isa;

// Block sizes come from `cache::blocking` (the cache model is documented there). Register
// tiles, per ISA (the menus in simd.rs): FMA latency is 4 cycles on current x86 cores with
// two FMA pipes, so at least 8 independent accumulator vectors keep the pipes full.
// AVX-512 uses 12×32 (24 zmm accumulators + 2 B vectors + 1 broadcast of the 32 registers);
// per k step it loads 2 vectors and broadcasts 12 scalars for 24 FMAs. AVX2 uses 6×16 (12 ymm
// accumulators of 16). Smaller MR variants exist so that a small m (or n, when transposed)
// pads less.

/// Expected cost of handing a chunk to a parked pool worker, in multiply-add equivalents: the
/// wake-up and join themselves are ~10 µs, but on a shared machine (the case these crates
/// run on: parallel experiment arms, other processes) the woken worker often waits for its
/// core, and the caller then waits for the worker's chunk. Measured on a shared 2-core Zen 2
/// (`bash benches/compare/run_peers.sh`, load average ~5; docs/measurements.md): two threads
/// were 0.62-0.8x as fast as one on 128×784×100, 64×784×100 and 128×100×784 — an excess of
/// ~0.3 ms ≈ 10 M multiply-adds at one core's rate — and level at 256³; 8 M keeps those on
/// one thread and still splits 60000×784×100 and 1024³ (1.5x faster on two threads there).
/// See [`thread_count`].
pub const WAKE_COST_MACS: usize = 1 << 23;
/// Cost of packing one element, in multiply-add equivalents (a copy, or a transpose through
/// registers, is a few FMA slots per element).
const PACK_COST_MACS: usize = 4;

/// Threads worth using for an `rows × k × cols` product split along `split` (rows when
/// `split_rows`, else cols) into `units` micro-tiles, out of a budget of `budget`: the largest
/// T whose predicted time is at most 85 % of one thread's. Predicted time per thread, in
/// multiply-adds: `macs / T` plus packing (every worker packs the whole unsplit operand,
/// `k × other`, and its share of the split one, `k × split / T`) plus a wake-up per helper.
/// A function of the shape only (never of timing), so it is deterministic; bits do not depend
/// on it anyway (threads split C, never K).
pub fn thread_count(
    budget: usize,
    (rows, k, cols): (usize, usize, usize),
    split_rows: bool,
    units: usize,
) -> usize {
    let (split, other) = if split_rows {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let macs = (rows * k * cols) as f64;
    let time = |t: usize| {
        let t_f = t as f64;
        let pack = (PACK_COST_MACS * k) as f64 * (other as f64 + split as f64 / t_f);
        let wake = if t > 1 { WAKE_COST_MACS as f64 } else { 0.0 };
        macs / t_f + pack + wake
    };
    let one = time(1);
    (2..=budget.min(units))
        .rev()
        .find(|&t| time(t) <= 0.85 * one)
        .unwrap_or(1)
}

/// Which microkernel runs and whether the product is computed as `C^T = op(B)^T op(A)^T`.
struct Plan {
    kernel: &'static Kernel,
    swapped: bool,
}

/// The tile shapes (MR, NR) whose menu decides the reduction split of each ISA: the kernel
/// menus as they were when the split was fixed (48f8ae7). See [`k_chunk`].
fn split_tiles(isa: Isa) -> &'static [(usize, usize)] {
    match isa {
        Isa::Avx512 => &[(12, 32), (10, 32), (8, 32), (6, 32), (4, 32)],
        Isa::Avx2Fma => &[(6, 16), (5, 16), (4, 16), (3, 16)],
        Isa::Neon => &[(8, 8), (6, 8), (4, 8)],
        Isa::Portable => &[(4, 8), (2, 8)],
    }
}

/// Picks, from `tiles`, the orientation and MR that waste the least work. The cost is the
/// padded tile area (zero padding is computed like real work), times `1 + 1/MR` (a small MR
/// loads B more often per FMA), times `1 + store/kc` for the C update each KC chunk ends with:
/// about 2 vector operations per vector of C normally, but ~16 (one per element) when
/// swapped, because C^T tiles were written element by element. Returns (swapped, tile index).
fn least_padding(tiles: &[(usize, usize)], m: usize, n: usize, k: usize) -> (bool, usize) {
    let mut best: Option<(f64, (bool, usize))> = None;
    for swapped in [false, true] {
        let (rows, cols) = if swapped { (n, m) } else { (m, n) };
        let store = if swapped { 16.0 } else { 2.0 };
        for (i, &(mr, nr)) in tiles.iter().enumerate() {
            let kc = k.min(blocking(mr, nr).kc) as f64;
            let padded = (rows.div_ceil(mr) * mr) as f64 * (cols.div_ceil(nr) * nr) as f64;
            let cost = padded * (1.0 + 1.0 / mr as f64) * (1.0 + store / kc);
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((cost, (swapped, i)));
            }
        }
    }
    best.expect("every tile menu is non-empty").1
}

/// The depth of every KC chunk of the packed `m × k × n` product on `isa`: the reduction is
/// cut into `ceil(k / KC)` equal chunks (784 -> 5 × 157 at KC = 176), KC from
/// [`blocking`] for the tile that [`least_padding`] picks from [`split_tiles`].
///
/// This, and nothing else, fixes the rounding of the packed path: each C element is one FMA
/// chain over p in increasing order within a chunk, starting from zero, then `C = alpha *
/// acc + C` (the first chunk: `+ beta * C`, or nothing when beta = 0), chunks in order. The
/// microkernel, the orientation and the thread split may change freely; this split is kept
/// as it was when the results were recorded, so results stay bit-identical on a given
/// machine and ISA, and every tile shape (`sgemm_with_tile`) gives the same bits.
pub(super) fn k_chunk(isa: Isa, m: usize, n: usize, k: usize) -> usize {
    let tiles = split_tiles(isa);
    let (mr, nr) = tiles[least_padding(tiles, m, n, k).1];
    let chunks = k.div_ceil(blocking(mr, nr).kc);
    k.div_ceil(chunks.max(1))
}

/// The kernel and orientation for an `m × k × n` product on `menu`.
fn plan(menu: &'static [Kernel], m: usize, n: usize, k: usize) -> Plan {
    let tiles: Vec<(usize, usize)> = menu.iter().map(|k| (k.mr, k.nr)).collect();
    let (swapped, i) = least_padding(&tiles, m, n, k);
    Plan {
        kernel: &menu[i],
        swapped,
    }
}

/// One worker's share: `C (m×n) = alpha * A (m×k) * B (k×n) + beta * C` through the blocked
/// loops described in the module docs.
///
/// # Safety
/// The views cover m×k, k×n and m×n elements; C's block is written by this worker only.
#[allow(clippy::too_many_arguments)]
unsafe fn blocked(
    kernel: &Kernel,
    tr: TransposeFn,
    (m, k, n): (usize, usize, usize),
    a: MatRef,
    b: MatRef,
    c: MatMut,
    alpha: f32,
    beta: f32,
    kc_max: usize,
    blk: Blocking,
    bufs: &mut PackBufs,
) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        let (mr, nr) = (kernel.mr, kernel.nr);
        // K in equal chunks of `kc_max` ([`k_chunk`]: it fixes the rounding).
        let mc_max = (blk.mc / mr).max(1) * mr;
        let nc_max = (blk.nc / nr).max(1) * nr;
        let a_pack = aligned_region(&mut bufs.a, m.min(mc_max).div_ceil(mr) * mr * kc_max);
        let b_pack = aligned_region(&mut bufs.b, n.min(nc_max).div_ceil(nr) * nr * kc_max);
        for ic in (0..m).step_by(mc_max) {
            let mc = mc_max.min(m - ic);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                // Chunks after the first add to what the earlier chunks wrote.
                let beta_here = if pc == 0 { beta } else { 1.0 };
                pack_a(tr, mr, a.at(ic, pc), mc, kc, a_pack);
                for jc in (0..n).step_by(nc_max) {
                    let nc = nc_max.min(n - jc);
                    pack_b(tr, nr, b.at(pc, jc), kc, nc, b_pack);
                    for ir in (0..mc).step_by(mr) {
                        // SAFETY: panel ir/mr of the packed A block (mr*kc floats).
                        let ap = a_pack.add(ir * kc);
                        for jr in (0..nc).step_by(nr) {
                            let tile = Tile {
                                c: c.at(ic + ir, jc + jr),
                                rows: mr.min(mc - ir),
                                cols: nr.min(nc - jr),
                                alpha,
                                beta: beta_here,
                            };
                            // SAFETY: panel jr/nr of the packed B block; the tile's clipped
                            // corner lies inside this worker's C block.
                            (kernel.f)(kc, ap, b_pack.add(jr * kc), &tile);
                        }
                    }
                }
            }
        }
    }
}

/// Views of op(A) (m×k), op(B) (k×n) and C (m×n) over the row-major slices.
fn views(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) -> (MatRef, MatRef, MatMut) {
    let (m, k, n) = (g.m, g.k, g.n);
    let (ars, acs) = if g.trans_a { (1, m) } else { (k, 1) };
    let (brs, bcs) = if g.trans_b { (1, k) } else { (n, 1) };
    let av = MatRef {
        ptr: a.as_ptr(),
        rs: ars,
        cs: acs,
    };
    let bv = MatRef {
        ptr: b.as_ptr(),
        rs: brs,
        cs: bcs,
    };
    let cv = MatMut {
        ptr: c.as_mut_ptr(),
        rs: n,
        cs: 1,
    };
    (av, bv, cv)
}

/// The packed path: plan, split C over threads (never K), run [`blocked`] per worker.
pub(super) fn packed(isa: Isa, threads: usize, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    packed_on_menu(isa, kernel_menu(isa), threads, g, a, b, c)
}

/// [`packed`] choosing the microkernel from `menu` (all of `isa`).
pub(super) fn packed_on_menu(
    isa: Isa,
    menu: &'static [Kernel],
    threads: usize,
    g: &Gemm,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    let (m, k, n) = (g.m, g.k, g.n);
    let (av, bv, cv) = views(g, a, b, c);
    let plan = plan(menu, m, n, k);
    let kc_max = k_chunk(isa, m, n, k);
    // C^T (n×m) = op(B)^T (n×k) * op(A)^T (k×m): the same memory with swapped strides.
    let (rows, cols, av, bv, cv) = if plan.swapped {
        (n, m, bv.t(), av.t(), cv.t())
    } else {
        (m, n, av, bv, cv)
    };
    let kernel = plan.kernel;
    let tr = transpose_for(isa);
    let blk = blocking(kernel.mr, kernel.nr);
    // Split the larger dimension into runs of whole micro-tiles.
    let split_rows = rows.div_ceil(kernel.mr) >= cols.div_ceil(kernel.nr);
    let (len, unit) = if split_rows {
        (rows, kernel.mr)
    } else {
        (cols, kernel.nr)
    };
    let units = len.div_ceil(unit);
    let threads = thread_count(threads, (rows, k, cols), split_rows, units);
    let run = |t: usize| {
        let lo = (units * t / threads) * unit;
        let hi = ((units * (t + 1) / threads) * unit).min(len);
        // SAFETY: (lo, 0) / (0, lo) lies inside the views; worker t writes only rows (or
        // columns) lo..hi of C, disjoint from every other worker's.
        unsafe {
            let (dims, a_t, b_t, c_t) = if split_rows {
                ((hi - lo, k, cols), av.at(lo, 0), bv, cv.at(lo, 0))
            } else {
                ((rows, k, hi - lo), av, bv.at(0, lo), cv.at(0, lo))
            };
            with_pack_bufs(|bufs| {
                blocked(
                    kernel, tr, dims, a_t, b_t, c_t, g.alpha, g.beta, kc_max, blk, bufs,
                )
            });
        }
    };
    threads::run(threads, threads - 1, &run);
}
