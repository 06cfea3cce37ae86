//! Strided views of the operands and packing into micro-panels.
//!
//! Packing copies a KC-deep slice of A into MR-row micro-panels and of B into NR-column
//! micro-panels, so that the microkernel reads both with unit stride whatever the operands'
//! layout (plain or transposed), and pads the ragged last panel with zeros.

use std::sync::Mutex;

/// Read-only strided matrix view: element (r, c) is `ptr[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(super) struct MatRef {
    pub(super) ptr: *const f32,
    pub(super) rs: usize,
    pub(super) cs: usize,
}

/// Writable strided matrix view: element (r, c) is `ptr[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(super) struct MatMut {
    pub(super) ptr: *mut f32,
    pub(super) rs: usize,
    pub(super) cs: usize,
}

// SAFETY: the views are only sent to the scoped worker threads of one `packed` call, each of
// which reads A and B (shared, immutable for the call) and writes a disjoint block of C.
unsafe impl Send for MatRef {}
unsafe impl Send for MatMut {}
unsafe impl Sync for MatRef {}
unsafe impl Sync for MatMut {}

impl MatRef {
    /// The view shifted to start at (r, c).
    ///
    /// # Safety
    /// (r, c) must lie inside the viewed matrix.
    pub(super) unsafe fn at(self, r: usize, c: usize) -> MatRef {
        // SAFETY: the caller upholds this function's `# Safety` contract.
        unsafe {
            MatRef {
                ptr: self.ptr.add(r * self.rs + c * self.cs),
                ..self
            }
        }
    }
    /// The transposed view over the same memory.
    pub(super) fn t(self) -> MatRef {
        MatRef {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl MatMut {
    /// The view shifted to start at (r, c); the same offset as [`MatRef::at`].
    ///
    /// # Safety
    /// (r, c) must lie inside the viewed matrix.
    pub(super) unsafe fn at(self, r: usize, c: usize) -> MatMut {
        let view = MatRef {
            ptr: self.ptr,
            rs: self.rs,
            cs: self.cs,
        };
        // SAFETY: the caller upholds this function's `# Safety` contract.
        let ptr = unsafe { view.at(r, c) }.ptr.cast_mut();
        MatMut { ptr, ..self }
    }

    /// The transposed view (C^T over the same memory).
    pub(super) fn t(self) -> MatMut {
        MatMut {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// Packing buffers of one worker: grown on demand, returned to [`POOL`] after each call so
/// that repeated products (a training loop) allocate nothing.
#[derive(Default)]
pub(super) struct PackBufs {
    pub(super) a: Vec<f32>,
    pub(super) b: Vec<f32>,
}

static POOL: Mutex<Vec<PackBufs>> = Mutex::new(Vec::new());

pub(super) fn with_pack_bufs<R>(f: impl FnOnce(&mut PackBufs) -> R) -> R {
    let mut bufs = POOL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    let r = f(&mut bufs);
    POOL.lock().unwrap_or_else(|e| e.into_inner()).push(bufs);
    r
}

/// A 64-byte aligned region of at least `len` floats inside `v` (grown if needed).
pub(super) fn aligned_region(v: &mut Vec<f32>, len: usize) -> *mut f32 {
    const PAD: usize = 16; // 16 floats = 64 bytes of slack for the alignment shift
    if v.len() < len + PAD {
        v.resize(len + PAD, 0.0);
    }
    let p = v.as_mut_ptr();
    let shift = (64 - (p as usize) % 64) % 64 / std::mem::size_of::<f32>();
    // SAFETY: shift < PAD and the vector holds len + PAD floats.
    unsafe { p.add(shift) }
}

/// A transposing copy of a strip: `dst[p*ds + r] = src[r*ss + p]` for `r < w`, `p < kc`.
///
/// Packing a row-major A into MR-row panels, or a transposed operand into NR-column panels,
/// is such a transpose; done element by element it costs more than a small product itself.
pub(super) type TransposeFn = unsafe fn(*const f32, usize, usize, usize, *mut f32, usize);

/// The fastest [`TransposeFn`] for `isa` (which must be supported).
pub(super) fn transpose_for(isa: super::Isa) -> TransposeFn {
    match isa {
        #[cfg(target_arch = "x86_64")]
        super::Isa::Avx512 | super::Isa::Avx2Fma => transpose_strip_avx,
        _ => transpose_strip_scalar,
    }
}

/// Element-by-element [`TransposeFn`], four source rows at a time (four read streams).
///
/// # Safety
/// `src[r*ss + p]` readable and `dst[p*ds + r]` writable for `r < w`, `p < kc`.
unsafe fn transpose_strip_scalar(
    src: *const f32,
    ss: usize,
    w: usize,
    kc: usize,
    dst: *mut f32,
    ds: usize,
) {
    // SAFETY: every index below has r < w and p < kc (the caller's contract).
    unsafe {
        let mut r = 0;
        while r + 4 <= w {
            let s0 = src.add(r * ss);
            let (s1, s2, s3) = (s0.add(ss), s0.add(2 * ss), s0.add(3 * ss));
            for p in 0..kc {
                let dp = dst.add(p * ds + r);
                *dp = *s0.add(p);
                *dp.add(1) = *s1.add(p);
                *dp.add(2) = *s2.add(p);
                *dp.add(3) = *s3.add(p);
            }
            r += 4;
        }
        for r in r..w {
            let s = src.add(r * ss);
            for p in 0..kc {
                *dst.add(p * ds + r) = *s.add(p);
            }
        }
    }
}

/// AVX [`TransposeFn`]: 8×8 blocks transposed in registers (unpack, shuffle,
/// 128-bit permute), the ragged right and bottom edges element by element.
///
/// # Safety
/// As [`transpose_strip_scalar`]; the CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_strip_avx(
    src: *const f32,
    ss: usize,
    w: usize,
    kc: usize,
    dst: *mut f32,
    ds: usize,
) {
    use std::arch::x86_64::*;
    // SAFETY: blocks cover r0..r0+8 <= w and p0..p0+8 <= kc; the rest is delegated with
    // sub-strips inside the same bounds (the caller's contract).
    unsafe {
        let (w8, k8) = (w / 8 * 8, kc / 8 * 8);
        for r0 in (0..w8).step_by(8) {
            let s = src.add(r0 * ss);
            for p0 in (0..k8).step_by(8) {
                let row = |i: usize| _mm256_loadu_ps(s.add(i * ss + p0));
                let (x0, x1, x2, x3) = (row(0), row(1), row(2), row(3));
                let (x4, x5, x6, x7) = (row(4), row(5), row(6), row(7));
                // Interleave pairs of rows, then pairs of pairs: each 128-bit lane ends up
                // holding 4 consecutive rows of one column.
                let t0 = _mm256_unpacklo_ps(x0, x1);
                let t1 = _mm256_unpackhi_ps(x0, x1);
                let t2 = _mm256_unpacklo_ps(x2, x3);
                let t3 = _mm256_unpackhi_ps(x2, x3);
                let t4 = _mm256_unpacklo_ps(x4, x5);
                let t5 = _mm256_unpackhi_ps(x4, x5);
                let t6 = _mm256_unpacklo_ps(x6, x7);
                let t7 = _mm256_unpackhi_ps(x6, x7);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let d = dst.add(p0 * ds + r0);
                _mm256_storeu_ps(d, _mm256_permute2f128_ps::<0x20>(u0, u4));
                _mm256_storeu_ps(d.add(ds), _mm256_permute2f128_ps::<0x20>(u1, u5));
                _mm256_storeu_ps(d.add(2 * ds), _mm256_permute2f128_ps::<0x20>(u2, u6));
                _mm256_storeu_ps(d.add(3 * ds), _mm256_permute2f128_ps::<0x20>(u3, u7));
                _mm256_storeu_ps(d.add(4 * ds), _mm256_permute2f128_ps::<0x31>(u0, u4));
                _mm256_storeu_ps(d.add(5 * ds), _mm256_permute2f128_ps::<0x31>(u1, u5));
                _mm256_storeu_ps(d.add(6 * ds), _mm256_permute2f128_ps::<0x31>(u2, u6));
                _mm256_storeu_ps(d.add(7 * ds), _mm256_permute2f128_ps::<0x31>(u3, u7));
            }
            // p in k8..kc for these 8 rows.
            transpose_strip_scalar(s.add(k8), ss, 8, kc - k8, dst.add(k8 * ds + r0), ds);
        }
        // Rows w8..w, all p.
        transpose_strip_scalar(src.add(w8 * ss), ss, w - w8, kc, dst.add(w8), ds);
    }
}

/// `dst[..len] = src[..len]` and `dst[len..width] = 0`, as inline 8-float moves: a memcpy
/// call per packed row of 10 to 32 floats would cost more than the copy itself.
///
/// # Safety
/// `src[..len]` readable, `dst[..width]` writable, `len <= width`.
#[inline(always)]
unsafe fn copy_padded(src: *const f32, dst: *mut f32, len: usize, width: usize) {
    // SAFETY: every access has index < len (reads) or < width (writes).
    unsafe {
        let mut i = 0;
        while i + 8 <= len {
            let x = (src.add(i) as *const [f32; 8]).read_unaligned();
            (dst.add(i) as *mut [f32; 8]).write_unaligned(x);
            i += 8;
        }
        while i < len {
            *dst.add(i) = *src.add(i);
            i += 1;
        }
        while i < width {
            *dst.add(i) = 0.0;
            i += 1;
        }
    }
}

/// `dst[p*width + i] = src[p*ss + i]` for `i < len` and 0 for `len <= i < width`, `p < kc`:
/// one micro-panel whose columns are contiguous in the source.
///
/// A full panel of one of the menus' widths (`len == width`) is copied as one fixed-size
/// array per column, which compiles to a couple of vector moves; the generic
/// [`copy_padded`] loop costs its branches on every column, which made this copy of A the
/// largest single cost after the microkernel on a 128×784×100 product.
///
/// # Safety
/// `src[p*ss .. p*ss + len]` readable and `dst[.. kc*width]` writable for `p < kc`.
unsafe fn copy_columns(
    src: *const f32,
    ss: usize,
    len: usize,
    width: usize,
    kc: usize,
    dst: *mut f32,
) {
    /// The full-panel copy for a width known at compile time.
    ///
    /// # Safety
    /// As [`copy_columns`] with `len == width == W`.
    #[inline(always)]
    unsafe fn fixed<const W: usize>(src: *const f32, ss: usize, kc: usize, dst: *mut f32) {
        for p in 0..kc {
            // SAFETY: W floats readable at src + p*ss and writable at dst + p*W.
            unsafe {
                let x = (src.add(p * ss) as *const [f32; W]).read_unaligned();
                (dst.add(p * W) as *mut [f32; W]).write_unaligned(x);
            }
        }
    }
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        match (len == width, width) {
            (true, 32) => fixed::<32>(src, ss, kc, dst),
            (true, 16) => fixed::<16>(src, ss, kc, dst),
            (true, 12) => fixed::<12>(src, ss, kc, dst),
            (true, 10) => fixed::<10>(src, ss, kc, dst),
            (true, 8) => fixed::<8>(src, ss, kc, dst),
            (true, 6) => fixed::<6>(src, ss, kc, dst),
            (true, 5) => fixed::<5>(src, ss, kc, dst),
            (true, 4) => fixed::<4>(src, ss, kc, dst),
            _ => {
                for p in 0..kc {
                    copy_padded(src.add(p * ss), dst.add(p * width), len, width);
                }
            }
        }
    }
}

/// Packs the `rows × kc` block of `a` into MR-row micro-panels: panel q holds
/// `dst[q*MR*kc + p*MR + r] = a(q*MR + r, p)`, rows past `rows` zero.
///
/// # Safety
/// `a` views at least `rows × kc` elements, with `rs == 1` or `cs == 1`; `dst` holds
/// `ceil(rows/MR)*MR*kc` floats.
pub(super) unsafe fn pack_a(
    tr: TransposeFn,
    mr: usize,
    a: MatRef,
    rows: usize,
    kc: usize,
    dst: *mut f32,
) {
    // SAFETY: the caller upholds this function's `# Safety` contract; panel q spans
    // dst[q*mr*kc .. (q+1)*mr*kc] and reads rows i0..i0+h < rows.
    unsafe {
        for (q, i0) in (0..rows).step_by(mr).enumerate() {
            let d = dst.add(q * mr * kc);
            let h = mr.min(rows - i0);
            if a.rs == 1 {
                // Column p of the panel is contiguous in the source.
                copy_columns(a.ptr.add(i0), a.cs, h, mr, kc, d);
            } else {
                // Rows contiguous (cs == 1): a transpose into the panel.
                debug_assert_eq!(a.cs, 1);
                tr(a.ptr.add(i0 * a.rs), a.rs, h, kc, d, mr);
                if h < mr {
                    for p in 0..kc {
                        std::ptr::write_bytes(d.add(p * mr + h), 0, mr - h);
                    }
                }
            }
        }
    }
}
