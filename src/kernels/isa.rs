//! Instruction-set selection and thread count, decided once per process.
//!
//! The SIMD variant is chosen at run time with `is_x86_feature_detected!` (never with
//! `-C target-cpu=native`, which makes binaries crash with "illegal instruction" on older
//! CPUs). `GI_ISA=portable|avx2|avx512|neon` forces a variant for tests and benches; asking
//! for one the CPU lacks falls back to the best supported one (with a message on stderr).
//! `GI_NUM_THREADS=N` overrides `std::thread::available_parallelism`.

use std::sync::OnceLock;

/// A SIMD instruction set a kernel can be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust that the compiler auto-vectorizes for the baseline target; runs everywhere.
    Portable,
    /// x86_64 AVX2 + FMA (256-bit vectors).
    Avx2Fma,
    /// x86_64 AVX-512F (512-bit vectors), on a CPU that also has AVX2 and FMA.
    Avx512,
    /// aarch64 NEON (128-bit vectors).
    Neon,
}

impl Isa {
    /// Short lower-case name used in bench ids and by `GI_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2Fma => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Parses a `GI_ISA` value.
    pub fn from_name(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "portable" => Some(Isa::Portable),
            "avx2" | "avx2fma" | "avx2_fma" => Some(Isa::Avx2Fma),
            "avx512" | "avx512f" => Some(Isa::Avx512),
            "neon" => Some(Isa::Neon),
            _ => None,
        }
    }

    /// Whether this CPU can run kernels compiled for `self`.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            // Every AVX-512F CPU also has AVX2 and FMA; requiring them lets the AVX-512 paths
            // call AVX2 code (transposes, conv's dot-product tiles) under one check.
            Isa::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// Every ISA this CPU supports, best last. Tests run each of them directly.
pub fn supported() -> Vec<Isa> {
    [Isa::Portable, Isa::Neon, Isa::Avx2Fma, Isa::Avx512]
        .into_iter()
        .filter(|isa| isa.is_supported())
        .collect()
}

/// The best ISA this CPU supports.
pub fn best() -> Isa {
    *supported().last().expect("portable is always supported")
}

/// Decides the ISA from an optional `GI_ISA` value: the requested one if supported, else the best.
pub fn choose(requested: Option<&str>) -> Isa {
    match requested.map(|r| (r, Isa::from_name(r))) {
        None => best(),
        Some((_, Some(isa))) if isa.is_supported() => isa,
        Some((raw, parsed)) => {
            let fallback = best();
            let why = if parsed.is_some() {
                "not supported by this CPU"
            } else {
                "unknown"
            };
            eprintln!("GI_ISA={raw}: {why}; using {}", fallback.name());
            fallback
        }
    }
}

/// The ISA used by the dispatching kernels: decided once (honouring `GI_ISA`), then cached.
pub fn selected() -> Isa {
    static SELECTED: OnceLock<Isa> = OnceLock::new();
    *SELECTED.get_or_init(|| choose(std::env::var("GI_ISA").ok().as_deref()))
}

/// Worker threads for large kernels: `GI_NUM_THREADS` if set and positive, else the number of
/// CPUs `std::thread::available_parallelism` reports. Cached after the first call.
pub fn num_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("GI_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&t| t > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// Cores of this machine (`std::thread::available_parallelism`, ignoring `GI_NUM_THREADS`):
/// how many share the L3 cache in the blocking model of [`super::cache`].
pub fn num_cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Independent FMA chains in [`fma_peak_probe`].
pub const FMA_PROBE_CHAINS: usize = 12;

/// Runs `FMA_PROBE_CHAINS` independent FMA chains of `isa`'s full vector width in registers for
/// `iters` iterations and returns `(checksum, flops)`; the bench divides flops by time to
/// state the core's FMA peak. Twelve chains cover the FMA latency (4 cycles) times the number
/// of pipes (2 × 256-bit on Zen 4) with room to spare. `None` when `isa` is unsupported or has
/// no probe (portable, NEON).
pub fn fma_peak_probe(isa: Isa, iters: usize) -> Option<(f32, usize)> {
    if !isa.is_supported() {
        return None;
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            // SAFETY: AVX-512F support was checked just above.
            let sum = unsafe { fma_probe_avx512(iters) };
            Some((sum, iters * FMA_PROBE_CHAINS * 16 * 2))
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => {
            // SAFETY: AVX2 and FMA support was checked just above.
            let sum = unsafe { fma_probe_avx2(iters) };
            Some((sum, iters * FMA_PROBE_CHAINS * 8 * 2))
        }
        _ => None,
    }
}

/// `acc = acc * x + y` on 12 independent zmm registers; x < 1 keeps the values bounded.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_probe_avx512(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // Opaque operands, distinct per chain: constant ones would let the compiler fold the loop.
    let x = _mm512_set1_ps(std::hint::black_box(0.999_9));
    let y = _mm512_set1_ps(std::hint::black_box(1e-4));
    let mut acc = [_mm512_setzero_ps(); FMA_PROBE_CHAINS];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = _mm512_set1_ps(std::hint::black_box(i as f32));
    }
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, x, y);
        }
    }
    let mut total = 0.0;
    for a in acc {
        total += _mm512_reduce_add_ps(a);
    }
    total
}

/// `acc = acc * x + y` on 12 independent ymm registers.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_probe_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // Opaque operands, distinct per chain: constant ones would let the compiler fold the loop.
    let x = _mm256_set1_ps(std::hint::black_box(0.999_9));
    let y = _mm256_set1_ps(std::hint::black_box(1e-4));
    let mut acc = [_mm256_setzero_ps(); FMA_PROBE_CHAINS];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = _mm256_set1_ps(std::hint::black_box(i as f32));
    }
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, x, y);
        }
    }
    let mut lanes = [0.0f32; 8];
    let mut total = 0.0;
    for a in acc {
        // SAFETY: `lanes` holds 8 floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), a) };
        total += lanes.iter().sum::<f32>();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_honours_supported_request_and_falls_back_otherwise() {
        assert_eq!(choose(Some("portable")), Isa::Portable);
        assert_eq!(choose(None), best());
        assert_eq!(choose(Some("no-such-isa")), best());
        for isa in supported() {
            assert_eq!(choose(Some(isa.name())), isa);
        }
    }
}
