//! Block sizes, the planner, the blocked loop nest and the thread split.

use super::micro::{Kernel, Panels, Tile};
use super::pack::{
    aligned_region, pack_a, transpose_for, with_pack_bufs, MatMut, MatRef, PackBufs, TransposeFn,
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
    least_padding_among(tiles, (m, n, k), &[false, true])
}

/// [`least_padding`] over the given orientations only (`false`: C, `true`: C^T), in order.
fn least_padding_among(
    tiles: &[(usize, usize)],
    (m, n, k): (usize, usize, usize),
    orientations: &[bool],
) -> (bool, usize) {
    let mut best: Option<(f64, (bool, usize))> = None;
    for &swapped in orientations {
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

/// The kernel and orientation for an `m × k × n` product of the views `a` (m×k) and `b`
/// (k×n) on `menu`: the tile and orientation that pad least ([`least_padding`]), except for a
/// tall product whose A does not fit in L2 (60000×784×100, the 1000-row evaluation chunks):
/// C^T would pack Aᵀ as B panels, a transposing copy that streams A from memory and stalls
/// on it (20 % of a 60000×784×100 product's samples), while C reads A in place in the
/// microkernel, where the loads overlap the FMAs. There C is taken, at its least-padding
/// tile, although it pads more (100 columns run as 128): measured 1.13-1.2× faster on
/// 60000×784×100 with AVX-512 and AVX2, more on 1000- and 4096-row products with Bᵀ
/// (docs/measurements.md). The bits are the same.
fn plan(menu: &'static [Kernel], (m, k, n): (usize, usize, usize), a: MatRef, b: MatRef) -> Plan {
    let tiles: Vec<(usize, usize)> = menu.iter().map(|k| (k.mr, k.nr)).collect();
    let (swapped, i) = least_padding(&tiles, m, n, k);
    if swapped && !pack_always() {
        let (_, j) = least_padding_among(&tiles, (m, n, k), &[false]);
        let kernel = &menu[j];
        let blk = blocking(kernel.mr, kernel.nr);
        let l2 = crate::kernels::cache::detected().map_or(1 << 20, |c| c.l2);
        let in_place = Direct::choose(kernel, a, b, (m, n, k.min(blk.kc)), blk).a;
        if in_place && 4 * m * k > l2 {
            return Plan {
                kernel,
                swapped: false,
            };
        }
    }
    Plan {
        kernel: &menu[i],
        swapped,
    }
}

/// Which operands the microkernel reads in place rather than from packed micro-panels.
///
/// Packing copies every element of an operand block once so that the microkernel reads
/// unit-stride, cache-resident panels; it pays when each packed element is then used many
/// times. A packed A panel is used once per B panel of the NC block (`ceil(nc / NR)` times),
/// a packed B panel once per A panel of the MC block (`ceil(mc / MR)`). For the small
/// products of a training step (128×784×100: 4 B panels, 11 A panels) the copies cost ~20 %
/// of the product, so those operands are read where they lie: A through any strides (each
/// element is a scalar broadcast), B when its columns are unit stride (each panel row is
/// vector loads). Only full panels are read in place; a ragged last panel is still packed
/// with its zero padding, so no read leaves the matrix. The bits do not change: each C
/// element is the same FMA chain over p whichever memory the operands come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Direct {
    a: bool,
    b: bool,
}

/// Most uses of a packed element for which reading the operand in place is still chosen:
/// beyond this the one-time copy is amortized and packed panels' locality wins.
const DIRECT_MAX_REUSE: usize = 8;
/// Most floats one panel read in place may span (128 KiB, 32 pages of 4 KiB): a panel read
/// with a long k stride touches a page per step or two, and past this the first-level TLB
/// misses cost more than the copy saves.
const DIRECT_MAX_SPAN: usize = 32 << 10;

impl Direct {
    /// Both operands packed.
    const NONE: Direct = Direct { a: false, b: false };

    /// The choice for one worker's `m × k × n` block of `kernel`'s tiles, KC = `kc` (see
    /// [`Direct`]).
    fn choose(
        kernel: &Kernel,
        a: MatRef,
        b: MatRef,
        (m, n, kc): (usize, usize, usize),
        blk: Blocking,
    ) -> Self {
        let (mr, nr) = (kernel.mr, kernel.nr);
        let a_uses = n.min(blk.nc).div_ceil(nr);
        let b_uses = m.min(blk.mc).div_ceil(mr);
        // The memory one panel spans: kc steps of the k stride, or (rows of A) mr rows.
        let a_span = if a.rs == 1 { a.cs * kc } else { a.rs * mr };
        Direct {
            a: a_uses <= DIRECT_MAX_REUSE && a_span <= DIRECT_MAX_SPAN && !rows_alias(a, mr),
            b: b.cs == 1 && b_uses <= DIRECT_MAX_REUSE && b.rs * kc <= DIRECT_MAX_SPAN,
        }
    }
}

/// Whether the `mr` rows of a row-major A panel read in place would crowd into few L1 sets:
/// rows `rs` floats apart share a set when `4·rs` bytes is a multiple of a large power of two
/// (k = 256, 1024, ...), and their streams then evict each other. Counts the distinct 64-byte
/// line offsets modulo 4 KiB (the set index of common L1d caches) of the rows' starts.
fn rows_alias(a: MatRef, mr: usize) -> bool {
    if a.rs == 1 {
        return false; // column-major: each k step reads MR consecutive floats
    }
    // One bit per 64-byte line of a 4 KiB page (no allocation: this runs once per product).
    let sets: u64 = (0..mr).fold(0, |bits, r| bits | 1 << ((r * a.rs * 4 % 4096) / 64));
    (sets.count_ones() as usize) < mr.div_ceil(2)
}

/// The A panel of rows `ir..ir + mr` of an `mc × kc` block `a_blk`: packed panel `ir / mr`
/// of `a_pack`, or (read in place, full panels) the block itself, whose ragged last panel
/// was packed alone at `a_pack`. Returns (pointer, row stride, k stride).
///
/// # Safety
/// `ir < mc`; the packing described was done.
unsafe fn a_panel(
    direct: bool,
    a_blk: MatRef,
    a_pack: *const f32,
    (ir, mr, mc, kc): (usize, usize, usize, usize),
) -> (*const f32, usize, usize) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        if !direct {
            (a_pack.add(ir * kc), 1, mr)
        } else if ir + mr <= mc {
            (a_blk.at(ir, 0).ptr, a_blk.rs, a_blk.cs)
        } else {
            (a_pack, 1, mr)
        }
    }
}

/// The B panel of columns `jr..jr + nr` of a `kc × nc` block, as [`a_panel`]: (pointer, k
/// stride).
///
/// # Safety
/// `jr < nc`; the packing described was done; read in place only with `b_blk.cs == 1`.
unsafe fn b_panel(
    direct: bool,
    b_blk: MatRef,
    b_pack: *const f32,
    (jr, nr, nc, kc): (usize, usize, usize, usize),
) -> (*const f32, usize) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        if !direct {
            (b_pack.add(jr * kc), nr)
        } else if jr + nr <= nc {
            (b_blk.at(0, jr).ptr, b_blk.rs)
        } else {
            (b_pack, nr)
        }
    }
}

/// Packs what the loops read from `a_pack` for one `rows × kc` A block: all of it, or, read in
/// place, only its ragged last panel (at the start of `a_pack`).
///
/// # Safety
/// As [`pack_a`] for the block.
unsafe fn pack_a_block(
    tr: TransposeFn,
    direct: bool,
    (mr, rows, kc): (usize, usize, usize),
    a_blk: MatRef,
    a_pack: *mut f32,
) {
    // SAFETY: the caller upholds this function's `# Safety` contract; the last panel starts
    // at row `full < rows`, inside the block.
    unsafe {
        if !direct {
            pack_a(tr, mr, a_blk, rows, kc, a_pack);
        } else if rows % mr != 0 {
            let full = rows / mr * mr;
            pack_a(tr, mr, a_blk.at(full, 0), rows - full, kc, a_pack);
        }
    }
}

/// One microkernel call: the entry point with the packed strides built in when both panels
/// are packed, else the one taking `o`'s strides.
///
/// # Safety
/// As the microkernel's (`micro::microkernel_body`).
#[inline(always)]
unsafe fn run_kernel(kernel: &Kernel, direct: Direct, kc: usize, o: Panels, tile: &Tile) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        if direct.a || direct.b {
            (kernel.strided)(kc, o, tile);
        } else {
            (kernel.f)(kc, o.a, o.b, tile);
        }
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
    (blk, allow_direct): (Blocking, bool),
    bufs: &mut PackBufs,
) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        let (mr, nr) = (kernel.mr, kernel.nr);
        let direct = if allow_direct {
            Direct::choose(kernel, a, b, (m, n, kc_max), blk)
        } else {
            Direct::NONE
        };
        // K in equal chunks of `kc_max` ([`k_chunk`]: it fixes the rounding).
        let mc_max = (blk.mc / mr).max(1) * mr;
        let nc_max = (blk.nc / nr).max(1) * nr;
        let a_len = if direct.a {
            mr
        } else {
            m.min(mc_max).div_ceil(mr) * mr
        };
        let b_len = if direct.b {
            nr
        } else {
            n.min(nc_max).div_ceil(nr) * nr
        };
        let a_pack = aligned_region(&mut bufs.a, a_len * kc_max);
        let b_pack = aligned_region(&mut bufs.b, b_len * kc_max);
        for ic in (0..m).step_by(mc_max) {
            let mc = mc_max.min(m - ic);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                // Chunks after the first add to what the earlier chunks wrote.
                let beta_here = if pc == 0 { beta } else { 1.0 };
                let a_blk = a.at(ic, pc);
                pack_a_block(tr, direct.a, (mr, mc, kc), a_blk, a_pack);
                for jc in (0..n).step_by(nc_max) {
                    let nc = nc_max.min(n - jc);
                    let b_blk = b.at(pc, jc);
                    // B's block packed as A's of bᵀ: panel q holds b(p, q*NR + j) at q*NR*kc + p*NR + j.
                    pack_a_block(tr, direct.b, (nr, nc, kc), b_blk.t(), b_pack);
                    for ir in (0..mc).step_by(mr) {
                        let (ap, a_rs, a_cs) = a_panel(direct.a, a_blk, a_pack, (ir, mr, mc, kc));
                        for jr in (0..nc).step_by(nr) {
                            let (bp, b_rs) = b_panel(direct.b, b_blk, b_pack, (jr, nr, nc, kc));
                            let tile = Tile {
                                c: c.at(ic + ir, jc + jr),
                                rows: mr.min(mc - ir),
                                cols: nr.min(nc - jr),
                                alpha,
                                beta: beta_here,
                            };
                            let o = Panels {
                                a: ap,
                                a_rs,
                                a_cs,
                                b: bp,
                                b_rs,
                            };
                            // SAFETY: the panels hold kc steps (packed, or full panels inside
                            // the operands); the tile's clipped corner lies inside this
                            // worker's C block.
                            run_kernel(kernel, direct, kc, o, &tile);
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
    packed_on_menu_with(isa, menu, threads, g, (a, b, c), !pack_always())
}

/// `GI_SGEMM_PACK_ALWAYS=1` (read once): never read an operand in place, and plan without
/// [`plan`]'s tall-product rule (which exists for reading A in place): the planner and loops
/// as they were before both, for measuring what they gain (`benches/compare/sgemm_ab.sh`).
/// The bits are the same.
fn pack_always() -> bool {
    static PACK_ALWAYS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PACK_ALWAYS.get_or_init(|| std::env::var_os("GI_SGEMM_PACK_ALWAYS").is_some_and(|v| v == "1"))
}

/// [`packed_on_menu`]; `allow_direct = false` packs both operands always (see [`Direct`];
/// the tests compare the two bit for bit).
fn packed_on_menu_with(
    isa: Isa,
    menu: &'static [Kernel],
    threads: usize,
    g: &Gemm,
    (a, b, c): (&[f32], &[f32], &mut [f32]),
    allow_direct: bool,
) {
    let (m, k, n) = (g.m, g.k, g.n);
    let (av, bv, cv) = views(g, a, b, c);
    let plan = plan(menu, (m, k, n), av, bv);
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
                    kernel,
                    tr,
                    dims,
                    a_t,
                    b_t,
                    c_t,
                    g.alpha,
                    g.beta,
                    kc_max,
                    (blk, allow_direct),
                    bufs,
                )
            });
        }
    };
    threads::run(threads, threads - 1, &run);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::isa;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// Dimensions that hit the edge cases of reading operands in place: 1, primes, around
    /// the tile sizes (MR 4-12, NR 8-32) and the small batches the rule is for.
    const DIMS: &[usize] = &[
        1, 3, 7, 11, 12, 13, 16, 31, 32, 33, 64, 97, 100, 128, 131, 300,
    ];

    /// Reading operands in place (the [`Direct`] choice) gives the bits of packing both, for
    /// random shapes, transposes, alpha and beta, 1 and 2 threads, on every supported ISA;
    /// and the rule does read in place in a good share of the cases (so this test compares
    /// two different paths, not one path twice).
    #[test]
    fn reading_operands_in_place_gives_the_bits_of_packing_them() {
        let mut rng = StdRng::seed_from_u64(0x5eed_d1ec);
        for isa in isa::supported() {
            let (mut in_place, mut cases) = (0, 0);
            for _ in 0..150 {
                let pick = |rng: &mut StdRng| DIMS[rng.gen_range(0..DIMS.len())];
                let (m, k, n) = (pick(&mut rng), pick(&mut rng) * 3, pick(&mut rng));
                let g = Gemm {
                    trans_a: rng.gen_bool(0.5),
                    trans_b: rng.gen_bool(0.5),
                    alpha: [1.0, -0.75][rng.gen_range(0..2)],
                    beta: [0.0, 1.0, 0.5][rng.gen_range(0..3)],
                    ..Gemm::new(m, k, n)
                };
                let mut fill = |len: usize| -> Vec<f32> {
                    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
                };
                let (a, b, c0) = (fill(m * k), fill(k * n), fill(m * n));
                let threads = rng.gen_range(1..=2);
                let menu = kernel_menu(isa);
                let (mut direct, mut packed) = (c0.clone(), c0.clone());
                packed_on_menu_with(isa, menu, threads, &g, (&a, &b, &mut direct), true);
                packed_on_menu_with(isa, menu, threads, &g, (&a, &b, &mut packed), false);
                let same = direct
                    .iter()
                    .zip(&packed)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{isa:?} {m}x{k}x{n} {g:?} threads {threads}");
                cases += 1;
                in_place += usize::from(reads_in_place(isa, &g, (&a, &b)));
            }
            assert!(
                in_place * 4 >= cases,
                "{isa:?}: only {in_place} of {cases} in place"
            );
        }
    }

    /// A tall product whose A exceeds L2 is computed as C with A read in place, not as C^T
    /// (see [`plan`]); a small one keeps the least-padding C^T.
    #[test]
    fn tall_products_read_a_in_place_instead_of_transposing_it() {
        if pack_always() {
            return; // GI_SGEMM_PACK_ALWAYS=1 turns the rule off on purpose
        }
        let l2 = crate::kernels::cache::detected().map_or(1 << 20, |c| c.l2);
        for isa in isa::supported() {
            // Portable tiles are 8 wide: an A panel meets 13 B panels of 100 columns, too many
            // to read A in place, so the rule does not apply there.
            let in_place_ok = kernel_menu(isa)[0].nr * DIRECT_MAX_REUSE >= 100;
            for (m, expect_c) in [(4 * l2 / 784 + 12, in_place_ok), (64, false)] {
                let g = Gemm {
                    trans_b: true,
                    ..Gemm::new(m, 784, 100)
                };
                let (a, b) = (vec![0.0; m * 784], vec![0.0; 784 * 100]);
                let mut c = vec![0.0; m * 100];
                let (av, bv, _) = views(&g, &a, &b, &mut c);
                let p = plan(kernel_menu(isa), (m, 784, 100), av, bv);
                assert_eq!(!p.swapped, expect_c, "{isa:?} m = {m}");
            }
        }
    }

    /// Rows 4 KiB apart (k = 1024) or 1 KiB apart (k = 256) crowd into 1 and 4 of the 64
    /// line offsets of a page, so they are not read in place; 784-float rows spread over 12.
    #[test]
    fn rows_alias_flags_power_of_two_row_strides_only() {
        let rows = |rs: usize| MatRef {
            ptr: std::ptr::null(),
            rs,
            cs: 1,
        };
        assert!(rows_alias(rows(1024), 12));
        assert!(rows_alias(rows(256), 12));
        assert!(!rows_alias(rows(784), 12));
        assert!(!rows_alias(rows(100), 10));
        let column_major = MatRef {
            cs: 1024,
            ..rows(1)
        };
        assert!(!rows_alias(column_major, 12));
    }

    /// Whether the one-thread plan of `g` on `isa` reads an operand in place.
    fn reads_in_place(isa: Isa, g: &Gemm, (a, b): (&[f32], &[f32])) -> bool {
        let mut c = vec![0.0; g.m * g.n];
        let (av, bv, _) = views(g, a, b, &mut c);
        let kc = k_chunk(isa, g.m, g.n, g.k);
        let p = plan(kernel_menu(isa), (g.m, g.k, g.n), av, bv);
        let (rows, cols, av, bv) = if p.swapped {
            (g.n, g.m, bv.t(), av.t())
        } else {
            (g.m, g.n, av, bv)
        };
        let d = Direct::choose(
            p.kernel,
            av,
            bv,
            (rows, cols, kc),
            blocking(p.kernel.mr, p.kernel.nr),
        );
        d.a || d.b
    }
}
