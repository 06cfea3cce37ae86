//! The data-cache sizes of this CPU, read once (like the ISA choice in [`super::isa`]), and
//! the GEMM block sizes they imply.
//!
//! Sizes come from Linux sysfs (`/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}`,
//! which the kernel fills from CPUID leaf 4 on Intel and 0x8000001D on AMD). Where that is
//! unavailable (another OS, a sandbox), [`Blocking::FALLBACK`] holds the block sizes the
//! kernels were first tuned with on AMD Zen 4.
//!
//! # Why each block size follows from one cache level (the BLIS model)
//!
//! The packed product runs, per KC-deep slice of the reduction, an MC×KC block of A packed
//! into MR-row micro-panels against a KC×NC block of B packed into NR-column micro-panels
//! (see [`super::matmul`]). Our inner loops keep one A micro-panel fixed while every B
//! micro-panel of the block streams past it, so (Low, Igual, Smith, Quintana-Ortí, "Analytical
//! modeling is enough for high-performance BLIS", TOMS 2016, with the roles of A and B
//! swapped to match our loop order):
//!
//! * **KC from L1d.** One microkernel call streams an A micro-panel (MR × KC floats) and a
//!   B micro-panel (KC × NR); the A panel is then reused by the next B panel. Both must fit in
//!   L1d together, or the streamed B panel evicts the A panel before its reuse:
//!   `KC = L1d / (4·(MR + NR))`. (Larger is better otherwise: a C tile is reloaded once per
//!   KC chunk.) The reduction is then cut into `ceil(k / KC)` equal chunks, so KC also fixes
//!   each element's rounding: it is a function of this machine and the tile only.
//! * **NC from L2.** The packed B block (KC × NC floats) is reused by every A micro-panel of
//!   the MC block, so it lives in L2, again with half of it, leaving room for the A
//!   micro-panels being streamed in: `NC = L2 / 2 / (4·KC)`, a multiple of NR.
//! * **MC from L3.** The packed A block (MC × KC) is streamed through L1 one micro-panel at a
//!   time and re-read once per NC block, so it should stay in this core's share of L3:
//!   `MC = L3 / cores / 2 / (4·KC)`, a multiple of MR, capped at [`MC_MAX`] (a larger block
//!   only delays the first B packing).
//!
//! Each size is clamped to a sane range so that an odd sysfs report cannot produce a
//! degenerate blocking. The result depends on the shape only through MR and NR, never on
//! the thread count, so every result bit is the same for any number of threads.

use std::sync::OnceLock;

/// Data / unified cache capacities in bytes (per core for L1d and L2, whole L3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSizes {
    /// Level-1 data cache of one core.
    pub l1d: usize,
    /// Level-2 cache of one core.
    pub l2: usize,
    /// Level-3 cache (shared by the cores).
    pub l3: usize,
}

impl CacheSizes {
    /// AMD Zen 4: 32 KiB L1d and 1 MiB L2 per core, 32 MiB L3.
    pub const ZEN4: CacheSizes = CacheSizes {
        l1d: 32 << 10,
        l2: 1 << 20,
        l3: 32 << 20,
    };
}

/// Block sizes of the packed GEMM (all in elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Reduction chunk: the depth of one packed micro-panel.
    pub kc: usize,
    /// Rows of C per packed A block.
    pub mc: usize,
    /// Columns of C per packed B block.
    pub nc: usize,
}

impl Blocking {
    /// The constants first tuned by hand on Zen 4 (AVX-512 12×32), used when the caches
    /// cannot be read.
    pub const FALLBACK: Blocking = Blocking {
        kc: 384,
        mc: 3072,
        nc: 480,
    };
}

/// Upper bound of MC (see the module docs).
pub const MC_MAX: usize = 4096;

/// Rounds `x` down to a multiple of `unit` (at least one `unit`).
fn round_down(x: usize, unit: usize) -> usize {
    (x / unit).max(1) * unit
}

/// The block sizes the model in the module docs gives for `caches`, an MR×NR microkernel and
/// `cores` cores sharing L3.
pub fn blocking_for(caches: &CacheSizes, mr: usize, nr: usize, cores: usize) -> Blocking {
    const F32: usize = std::mem::size_of::<f32>();
    // KC a multiple of 16 (whole cache lines of a packed row), in [128, 1024].
    let kc = round_down(caches.l1d / (F32 * (mr + nr)), 16).clamp(128, 1024);
    // NC in [4·NR, 4096], a multiple of NR.
    let nc = round_down((caches.l2 / 2 / (F32 * kc)).clamp(4 * nr, 4096), nr);
    let l3_share = caches.l3 / cores.max(1);
    let mc = round_down((l3_share / 2 / (F32 * kc)).clamp(4 * mr, MC_MAX), mr);
    Blocking { kc, mc, nc }
}

/// Parses a sysfs cache size such as `48K`, `2048K`, `32M` or `65536` into bytes.
pub fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let (digits, mult) = match t.chars().last()? {
        'K' | 'k' => (&t[..t.len() - 1], 1 << 10),
        'M' | 'm' => (&t[..t.len() - 1], 1 << 20),
        'G' | 'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(mult)
}

/// Reads cpu0's caches from sysfs; `None` if any of L1d, L2, L3 is missing. (A CPU without L3
/// reports none; it gets the fallback, which only affects MC.)
pub fn read_sysfs(root: &std::path::Path) -> Option<CacheSizes> {
    let (mut l1d, mut l2, mut l3) = (None, None, None);
    for i in 0..8 {
        let dir = root.join(format!("index{i}"));
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let size = parse_size(&size);
        match (level.trim(), kind.trim()) {
            ("1", "Data") => l1d = size,
            ("2", "Unified" | "Data") => l2 = size,
            ("3", "Unified" | "Data") => l3 = size,
            _ => {}
        }
    }
    Some(CacheSizes {
        l1d: l1d?,
        l2: l2?,
        l3: l3?,
    })
}

/// This CPU's cache sizes, read once from sysfs (`None` where they cannot be read).
pub fn detected() -> Option<CacheSizes> {
    static CACHES: OnceLock<Option<CacheSizes>> = OnceLock::new();
    *CACHES.get_or_init(|| read_sysfs(std::path::Path::new("/sys/devices/system/cpu/cpu0/cache")))
}

/// The blocking for an MR×NR kernel on this CPU: [`blocking_for`] of the detected caches and
/// [`super::isa::num_cores`] cores, else [`Blocking::FALLBACK`] (with NC and MC rounded to
/// the tile).
pub fn blocking(mr: usize, nr: usize) -> Blocking {
    match detected() {
        Some(c) => blocking_for(&c, mr, nr, super::isa::num_cores()),
        None => {
            let f = Blocking::FALLBACK;
            Blocking {
                kc: f.kc,
                mc: round_down(f.mc, mr),
                nc: round_down(f.nc, nr),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_size_reads_sysfs_units() {
        assert_eq!(parse_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_size("2048K"), Some(2 << 20));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn blocking_follows_the_cache_model() {
        // Zen 4 with the AVX-512 12×32 kernel: KC = 32 KiB / (4 · 44) = 186 -> 176 (the
        // hand-tuned 384 split 784 into 3 chunks; 176 splits it into 5).
        let zen4 = blocking_for(&CacheSizes::ZEN4, 12, 32, 2);
        assert_eq!(zen4.kc, 176);
        // NC = 512 KiB / (4 · 176) = 744 -> 736 (23 × 32); MC = 8 MiB / (4 · 176) capped.
        assert_eq!(zen4.nc, 736);
        assert_eq!(zen4.mc, 4092);
        // Zen 3 with AVX2 6×16: KC = 32 KiB / 88 = 372 -> 368.
        assert_eq!(blocking_for(&CacheSizes::ZEN4, 6, 16, 2).kc, 368);
        // Sapphire Rapids (48 KiB L1d, 2 MiB L2), AVX-512 12×32: KC = 279 -> 272, so the
        // MLP's k = 784 still runs as 3 chunks and the ENN's k = 406 as 2, as with the old
        // constant 384 (same bits on this machine); NC = 1 MiB / (4 · 272) = 963 -> 960.
        let spr = CacheSizes {
            l1d: 48 << 10,
            l2: 2 << 20,
            l3: 480 << 20,
        };
        let b = blocking_for(&spr, 12, 32, 2);
        assert_eq!((b.kc, b.nc), (272, 960));
        for mr in [12, 10, 8, 6, 4] {
            let kc = blocking_for(&spr, mr, 32, 2).kc;
            assert_eq!(
                (784usize.div_ceil(kc), 406usize.div_ceil(kc)),
                (3, 2),
                "MR {mr}"
            );
        }
        // A smaller tile gives a deeper panel.
        assert_eq!(blocking_for(&spr, 6, 16, 2).kc, 544);
        // Tiny or absurd caches stay inside the clamps and keep the tile multiples.
        let tiny = CacheSizes {
            l1d: 1024,
            l2: 4096,
            l3: 0,
        };
        let t = blocking_for(&tiny, 6, 16, 0);
        assert_eq!(t.kc, 128);
        assert_eq!(t.nc % 16, 0);
        assert!(t.nc >= 64);
        assert_eq!(t.mc % 6, 0);
        assert!(t.mc >= 24);
    }

    #[test]
    fn read_sysfs_parses_a_cache_directory_and_rejects_incomplete_ones() {
        let root = std::env::temp_dir().join(format!("gi-cache-{}", std::process::id()));
        let entries = [
            ("1", "Data", "48K"),
            ("1", "Instruction", "64K"),
            ("2", "Unified", "2048K"),
            ("3", "Unified", "491520K"),
        ];
        for (i, (level, kind, size)) in entries.iter().enumerate() {
            let dir = root.join(format!("index{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("level"), level).unwrap();
            std::fs::write(dir.join("type"), kind).unwrap();
            std::fs::write(dir.join("size"), size).unwrap();
        }
        let got = read_sysfs(&root).unwrap();
        assert_eq!(
            got,
            CacheSizes {
                l1d: 48 << 10,
                l2: 2 << 20,
                l3: 480 << 20
            }
        );
        std::fs::remove_dir_all(root.join("index3")).unwrap();
        assert_eq!(read_sysfs(&root), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
