use grad_instructor::kernels::isa::{self, Isa};
use grad_instructor::kernels::matmul::{sgemm_with, Gemm};
fn cpu_ns() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse::<f64>().unwrap()
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = args.get(1).map_or(5, |s| s.parse().unwrap());
    for isa in [Isa::Avx512, Isa::Avx2Fma] {
        let iters = 20_000_000usize;
        let (c0, w0) = (cpu_ns(), std::time::Instant::now());
        let (_s, f) = isa::fma_peak_probe(isa, std::hint::black_box(iters)).unwrap();
        let (c1, w1) = (cpu_ns(), w0.elapsed().as_secs_f64());
        println!("peak {} cpu {:.1} GFLOP/s wall {:.1}", isa.name(), f as f64 / (c1 - c0), f as f64 / w1 / 1e9);
    }
    let shapes = [(1024,1024,1024,false,false),(256,256,256,false,false),(128,784,100,false,false),(128,784,100,false,true),(100,128,784,true,false),(128,100,784,false,false),(128,100,10,false,false),(128,100,10,false,true),(10,128,100,true,false),(128,10,100,false,false),(60000,784,100,false,false)];
    for &(m,k,n,ta,tb) in &shapes {
        let g = Gemm{trans_a:ta,trans_b:tb,..Gemm::new(m,k,n)};
        let a: Vec<f32> = (0..m*k).map(|i| (i%7) as f32 *0.1).collect();
        let b: Vec<f32> = (0..k*n).map(|i| (i%5) as f32 *0.1).collect();
        let mut c = vec![0f32; m*n];
        let it = ((2e9 / (m*n*k) as f64) as usize).clamp(1, 100000);
        sgemm_with(Isa::Avx512, 1, &g, &a, &b, &mut c);
        let mut best_cpu = 0f64; let mut best_wall = 0f64;
        for _ in 0..reps {
            let (c0, w0) = (cpu_ns(), std::time::Instant::now());
            for _ in 0..it { sgemm_with(Isa::Avx512, 1, &g, &a, &b, &mut c); }
            let (c1, w1) = (cpu_ns(), w0.elapsed().as_secs_f64());
            let fl = 2.0*(m*n*k*it) as f64;
            best_cpu = best_cpu.max(fl/(c1-c0)); best_wall = best_wall.max(fl/w1/1e9);
        }
        println!("{m}x{k}x{n} ta{} tb{}: cpu {:.1} GFLOP/s wall(best) {:.1}", ta as u8, tb as u8, best_cpu, best_wall);
    }
}
