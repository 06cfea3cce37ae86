#!/usr/bin/env python3
"""PyTorch cross-check of the baseline arms and of per-epoch training time.

By default exactly the configuration of `cargo run --release --example mnist_enn` (issue 4):
MLP 784-100-10 with ReLU (`--hidden 100,100` for 784-100-100-10, and so on), pixels scaled to [0,1] (no mean/std normalization), softmax
cross-entropy, plain SGD (no momentum), lr 0.01, batch 64, 3 epochs, reshuffled each epoch,
train on all 60000 images. Arms:
  bp: default nn.Linear init;
  l1: default init + lambda * sum |W| over both weight matrices (lambda 1e-4);
  he: torch.nn.init.kaiming_normal_ (fan_in, relu) on weights, zero bias.

Usage:
  python3 benches/compare/mnist_mlp_torch.py accuracy --seeds 3
  # the study's stage-4 protocol in its selected regime (docs/study.md, README):
  python3 benches/compare/mnist_mlp_torch.py accuracy --hidden 100,100 --epochs 5 \
      --seeds 20 --seed-start 100 --arms bp,he
  python3 benches/compare/mnist_mlp_torch.py timing --batches 32,64,512 --threads 1
Reads data/mnist/*.gz directly (numpy + gzip), no torchvision, nothing downloaded.
"""
import argparse, gzip, json, os, struct, sys, time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(split):
    d = os.path.join(ROOT, "data", "mnist")
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(d, f"{prefix}-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255.0
    y = read_idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def make_model(arm, hidden, seed):
    """784-hidden[0]-...-hidden[-1]-10 with ReLU; `hidden` a list of widths."""
    torch.manual_seed(seed)
    layers, fan_in = [], 784
    for w in hidden:
        layers += [torch.nn.Linear(fan_in, w), torch.nn.ReLU()]
        fan_in = w
    model = torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, 10))
    if arm == "he":
        for m in model:
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                torch.nn.init.zeros_(m.bias)
    return model


def widths(text):
    w = [int(p) for p in text.split(",")]
    if not w or min(w) < 1:
        raise SystemExit(f"--hidden takes positive widths, e.g. 100,100; got {text!r}")
    return w


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train(model, x, y, epochs, lr, batch, l1, seed):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed + 1)
    n = x.shape[0]
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            if l1:
                loss = loss + l1 * sum(w.abs().sum() for w in weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def cmd_accuracy(a):
    torch.set_num_threads(a.threads)
    xtr, ytr = load("train")
    xte, yte = load("test")
    rows = []
    hidden = widths(a.hidden)
    for arm in a.arms.split(","):
        for seed in range(a.seed_start, a.seed_start + a.seeds):
            model = make_model(arm, hidden, seed)
            t0 = time.perf_counter()
            train(model, xtr, ytr, a.epochs, a.lr, a.batch, a.l1 if arm == "l1" else 0.0, seed)
            wall = time.perf_counter() - t0
            te, tr = accuracy(model, xte, yte), accuracy(model, xtr, ytr)
            rows.append(dict(arm=arm, seed=seed, test=te, train=tr, gap=tr - te, wall=wall))
            print(f"{arm} seed {seed}: test {100*te:.2f}% train {100*tr:.2f}% ({wall:.1f}s)", file=sys.stderr)
    net = "-".join(str(w) for w in [784, *hidden, 10])
    print(f"torch {torch.__version__}, {net} ReLU, threads {a.threads}, epochs {a.epochs}, lr {a.lr}, "
          f"batch {a.batch}, seeds {a.seed_start}..{a.seed_start + a.seeds - 1}, 60000 train / 10000 test")
    print("| arm | test acc (%) | train acc (%) | gap (pp) | seeds |")
    print("|---|---|---|---|---|")
    for arm in a.arms.split(","):
        r = [x for x in rows if x["arm"] == arm]
        f = lambda k: (100 * np.mean([x[k] for x in r]), 100 * np.std([x[k] for x in r], ddof=1) if len(r) > 1 else 0.0)
        (tm, ts), (rm, rs), (gm, gs) = f("test"), f("train"), f("gap")
        print(f"| {arm} | {tm:.2f} ± {ts:.2f} | {rm:.2f} ± {rs:.2f} | {gm:.2f} ± {gs:.2f} | {len(r)} |")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


def cmd_timing(a):
    torch.set_num_threads(a.threads)
    xtr, ytr = load("train")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}: one epoch of 784-100-10 on 60000 images")
    print("| batch | epoch (s) | per step (us) |")
    print("|---|---|---|")
    for batch in [int(b) for b in a.batches.split(",")]:
        times = []
        for rep in range(a.repeats):
            model = make_model("bp", [100], rep)
            t0 = time.perf_counter()
            train(model, xtr, ytr, 1, 0.01, batch, 0.0, rep)
            times.append(time.perf_counter() - t0)
        med = float(np.median(times))
        steps = (60000 + batch - 1) // batch
        print(f"| {batch} | {med:.3f} | {1e6 * med / steps:.0f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    acc = sub.add_parser("accuracy")
    acc.add_argument("--seeds", type=int, default=3)
    acc.add_argument("--arms", default="bp,l1,he")
    acc.add_argument("--epochs", type=int, default=3)
    acc.add_argument("--lr", type=float, default=0.01)
    acc.add_argument("--batch", type=int, default=64)
    acc.add_argument("--hidden", default="100", help="hidden widths, comma-separated (e.g. 100,100)")
    acc.add_argument("--seed-start", type=int, default=0, help="first seed (torch's RNG: not the crate's seeds)")
    acc.add_argument("--l1", type=float, default=1e-4)
    acc.add_argument("--threads", type=int, default=1)
    acc.add_argument("--json")
    tim = sub.add_parser("timing")
    tim.add_argument("--batches", default="32,64,512")
    tim.add_argument("--threads", type=int, default=1)
    tim.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    cmd_accuracy(a) if a.cmd == "accuracy" else cmd_timing(a)


if __name__ == "__main__":
    main()
