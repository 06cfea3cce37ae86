#!/usr/bin/env python3
"""PyTorch baseline for `cargo bench --bench kernels -- conv2d_fwd_bwd`.

Times conv2d forward + input gradient + weight gradient (bias included in the forward, as in
benches/kernels/conv.rs) on one thread for the same four shapes, and prints the median and the
best (min) ms per iteration over the timing blocks, and GFLOP/s at the median, with
flops = 3 * 2 * macs (the same count criterion uses). On a shared machine the min is the
steadier figure.

Run:  python3 benches/compare/conv_torch.py [--iters 200] [--clock cpu]
(`--clock cpu` times with process CPU time, comparable with the Rust bench's
`GI_CONV_CPU_TABLE=1` table on a busy machine; the default is wall time.)
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

# (n, c_in, h, w, c_out): the ENN's two convs, then the MNIST CNN's two; all 3x3, pad 1.
SHAPES = [
    (1, 1, 15, 117, 16),
    (1, 16, 7, 58, 32),
    (32, 1, 28, 28, 16),
    (32, 16, 14, 14, 32),
]
KH = KW = 3
PAD = 1


def one_iteration(x, w, b, dy):
    y = F.conv2d(x, w, b, stride=1, padding=PAD)
    # Both backward products, like the Rust bench; neither side computes the bias gradient.
    dx, dw = torch.autograd.grad(y, (x, w), dy)
    return dx, dw


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=200, help="timed iterations per shape")
    parser.add_argument("--repeats", type=int, default=7, help="timing blocks; median is shown")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, clock={args.clock}")
    print(f"{'shape':<32} {'median ms':>10} {'min ms':>10} {'GFLOP/s':>9}")
    for n, c_in, h, w, c_out in SHAPES:
        x = torch.rand(n, c_in, h, w) * 2 - 1
        x.requires_grad_(True)
        wt = (torch.rand(c_out, c_in, KH, KW) * 2 - 1).requires_grad_(True)
        b = (torch.rand(c_out) * 2 - 1).requires_grad_(True)
        oh, ow = h + 2 * PAD - KH + 1, w + 2 * PAD - KW + 1
        dy = torch.rand(n, c_out, oh, ow) * 2 - 1
        macs = n * c_out * oh * ow * c_in * KH * KW
        flops = 3 * 2 * macs
        for _ in range(max(10, args.iters // 10)):  # warm-up
            one_iteration(x, wt, b, dy)
        per_iter = []
        for _ in range(args.repeats):
            t0 = clock()
            for _ in range(args.iters):
                one_iteration(x, wt, b, dy)
            per_iter.append((clock() - t0) / args.iters)
        sec = statistics.median(per_iter)
        name = f"{n}x{c_in}x{h}x{w}_k{c_out}x{KH}x{KW}"
        best = min(per_iter)
        print(f"{name:<32} {sec * 1e3:>10.4f} {best * 1e3:>10.4f} {flops / sec / 1e9:>9.2f}")


if __name__ == "__main__":
    main()
