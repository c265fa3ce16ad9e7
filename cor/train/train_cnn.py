#!/usr/bin/python3
"""train_cnn.py - train the centring CNN of cor/cnn.h (Yang et al. 2017,
J. Synchrotron Rad. 24:469) and write its weights in cnn.h's format.

usage: /usr/bin/python3 cor/train/train_cnn.py TRAIN.bin VAL.bin OUT.bin [--epochs N] [--seed S] [--threads T]

TRAIN.bin and VAL.bin come from cor/train/make_patches (records of float32 d
in binned pixels, float32 level (0 coarse, 1 finer), float32 patch[32][32]).
The target of a patch is exp(-d^2 / (2 * 0.6^2)): 1 for a slice
reconstructed at the true axis, 0.25 at 1 px off, 0 beyond 2 px. Loss:
binary cross-entropy on those soft targets; Adam with a one-cycle schedule;
each batch is augmented with one of the 8 flips/rotations of the square (the
target depends on |d| only). The network is exactly cnn.h's (format version
1). Needs Debian's python3-torch and python3-numpy (apt-get install
python3-torch python3-numpy), never CI.
"""
import argparse
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

P, C1, C2, C3, H = 32, 8, 16, 32, 32
SIGMA = 0.6
REC = np.dtype([("d", "<f4"), ("level", "<f4"), ("x", "<f4", (P, P))])


def load(path):
    data = np.fromfile(path, dtype=REC)
    x = torch.from_numpy(np.ascontiguousarray(data["x"])).unsqueeze(1)
    d = data["d"].astype(np.float64)
    y = torch.from_numpy(np.exp(-d ** 2 / (2 * SIGMA ** 2)).astype(np.float32))
    return x, y, d, data["level"]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, C1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(C1, C2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(C2, C3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.dense1 = nn.Linear(C3 * (P // 8) ** 2, H)
        self.dense2 = nn.Linear(H, 1)

    def forward(self, x):
        z = self.features(x).flatten(1)  # channel, row, column: as cnn.c reads it
        return self.dense2(torch.relu(self.dense1(z))).squeeze(1)  # logit


def augment(x):
    x = torch.rot90(x, int(torch.randint(0, 4, (1,))), (2, 3))
    return torch.flip(x, (3,)) if torch.rand(1).item() < 0.5 else x


def write_weights(net, path):
    tensors = [net.features[0].weight, net.features[0].bias, net.features[3].weight, net.features[3].bias,
               net.features[6].weight, net.features[6].bias, net.dense1.weight, net.dense1.bias,
               net.dense2.weight, net.dense2.bias]
    with open(path, "wb") as f:
        f.write(b"TLCNN\x00\x00\x01" + struct.pack("<5I", P, C1, C2, C3, H))
        for t in tensors:
            f.write(t.detach().cpu().numpy().astype("<f4").tobytes())
    return sum(t.numel() for t in tensors)


def report(net, xv, yv, dv, lv):
    net.eval()
    with torch.no_grad():
        pv = torch.cat([torch.sigmoid(net(xv[i:i + 4096])) for i in range(0, len(yv), 4096)])
    loss = nn.functional.binary_cross_entropy(pv, yv).item()
    p = pv.numpy()
    parts = []
    for level, name in ((0, "coarse"), (1, "fine")):
        m = lv == level
        a = np.abs(dv)
        bands = [p[m & (a < 0.3)].mean(), p[m & (a > 0.8) & (a < 1.5)].mean(), p[m & (a > 3)].mean()]
        parts.append(f"{name} {bands[0]:.3f}/{bands[1]:.3f}/{bands[2]:.3f}")
    return loss, "mean score |d|<0.3 / 0.8..1.5 / >3: " + ", ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("val")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    xt, yt, _, _ = load(a.train)
    xv, yv, dv, lv = load(a.val)
    print(f"train {len(yt)} patches, validation {len(yv)}", flush=True)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    steps = (len(yt) + a.batch - 1) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, epochs=a.epochs, steps_per_epoch=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    t0 = time.time()
    for epoch in range(a.epochs):
        net.train()
        perm = torch.randperm(len(yt))
        total = 0.0
        for i in range(0, len(yt), a.batch):
            idx = perm[i:i + a.batch]
            opt.zero_grad()
            loss = loss_fn(net(augment(xt[idx])), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        vloss, bands = report(net, xv, yv, dv, lv)
        print(f"epoch {epoch + 1}: train loss {total / len(yt):.4f}, validation loss {vloss:.4f}, {bands} "
              f"({time.time() - t0:.0f} s)", flush=True)
    n = write_weights(net, a.out)
    print(f"wrote {a.out}: {n} weights")


if __name__ == "__main__":
    sys.exit(main())
