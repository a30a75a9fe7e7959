#!/usr/bin/env python3
"""The TransformerLens-style PyTorch peer of `make bench` (docs/benchmarks.md).

GPT-2 in plain torch, written the way TransformerLens runs it (explicit attention with hook_z as a
[batch, pos, head, d_head] tensor that a hook may overwrite), over the SAME safetensors checkpoint the
engine's graphs were exported from (its sha256 is checked against the export's). It runs the rows the
engine's timed held-out pass ran (written by `milab bench` as a workload file):

  1. a clean forward over every distinct prompt, in batches of one site's prompts (TransformerLens'
     run_with_cache: hook_z of every layer kept), whose final-position logits answer the unpatched rows;
  2. one forward per patch site over that site's prompt batch, a hook writing each row's value into
     hook_z at (its position, the site's head); final-position logits only.

Correctness before speed: the first site's logits (and every baseline of its prompts) are compared with
the engine's before anything is timed, and the run stops with exit 2 if they differ by more than the
tolerance; after the timed pass every row is compared. The answer goes to --out as JSON.
"""
import argparse
import hashlib
import json
import math
import os
import re
import struct
import sys
import time

import torch

TOLERANCE = 1e-4  # |peer - engine| per metric logit (fp32, other summation orders); RecomputePathsTest's tolerance


def fail(msg):
    print("peer: " + msg, file=sys.stderr)
    sys.exit(2)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def read_safetensors(path):
    """F32 tensors by canonical name (no 'transformer.' prefix); one copy of the file in memory."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        buf = bytearray(f.read())
    out = {}
    for name, info in header.items():
        canonical = name[len("transformer."):] if name.startswith("transformer.") else name
        if name == "__metadata__" or re.fullmatch(r"h\.\d+\.attn\.(bias|masked_bias)", canonical):
            continue  # causal-mask buffers some checkpoints carry: not parameters
        if info["dtype"] != "F32":
            fail(f"{path}: tensor {name} is {info['dtype']}; the peer reads F32 checkpoints (the bench's is)")
        b, e = info["data_offsets"]
        t = torch.frombuffer(buf, dtype=torch.float32, offset=b, count=(e - b) // 4).reshape(info["shape"])
        out[canonical] = t
    return out


class Gpt2:
    """GPT-2 as TransformerLens computes it; Conv1D weights are [in, out] as Hugging Face stores them."""

    def __init__(self, w, n_layer, n_head, eps, tied):
        self.w, self.L, self.H, self.eps = w, n_layer, n_head, eps
        self.d = w["wte.weight"].shape[1]
        self.dh = self.d // n_head
        u = (w["wte.weight"] if tied else w["lm_head.weight"]).t()  # [d, vocab]
        # TransformerLens' center_unembed (its from_pretrained default, and the exported graphs'): logits shift
        # by a per-row constant, which no softmax or logit difference sees
        self.unembed_t = (u - u.mean(dim=1, keepdim=True)).contiguous()

    def ln(self, x, p):
        return torch.nn.functional.layer_norm(x, (self.d,), self.w[p + ".weight"], self.w[p + ".bias"], self.eps)

    def forward(self, tokens, final, hook_z=None):
        """tokens [B, T] (right padded), final [B] each row's last real position; hook_z(layer, z) may patch z."""
        w, B, T = self.w, tokens.shape[0], tokens.shape[1]
        x = w["wte.weight"][tokens] + w["wpe.weight"][:T]
        causal = torch.full((T, T), float("-inf")).triu(1)
        zs = []
        for l in range(self.L):
            h = self.ln(x, f"h.{l}.ln_1")
            qkv = h @ w[f"h.{l}.attn.c_attn.weight"] + w[f"h.{l}.attn.c_attn.bias"]
            q, k, v = (t.reshape(B, T, self.H, self.dh) for t in qkv.split(self.d, dim=-1))
            scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.dh) + causal
            pattern = scores.softmax(dim=-1)
            z = torch.einsum("bhqk,bkhd->bqhd", pattern, v)  # blocks.{l}.attn.hook_z
            if hook_z is not None:
                z = hook_z(l, z)
            zs.append(z)
            x = x + z.reshape(B, T, self.d) @ w[f"h.{l}.attn.c_proj.weight"] + w[f"h.{l}.attn.c_proj.bias"]
            h = self.ln(x, f"h.{l}.ln_2")
            m = torch.nn.functional.gelu(h @ w[f"h.{l}.mlp.c_fc.weight"] + w[f"h.{l}.mlp.c_fc.bias"], approximate="tanh")
            x = x + m @ w[f"h.{l}.mlp.c_proj.weight"] + w[f"h.{l}.mlp.c_proj.bias"]
        xf = x[torch.arange(B), final]  # final-position logits only
        return self.ln(xf, "ln_f") @ self.unembed_t, zs


def batch(prompts, idx):
    T = max(len(prompts[i]) for i in idx)
    tokens = torch.zeros((len(idx), T), dtype=torch.long)
    for r, i in enumerate(idx):
        tokens[r, : len(prompts[i])] = torch.tensor(prompts[i])
    return tokens, torch.tensor([len(prompts[i]) - 1 for i in idx])


def capture(model, prompts, size):
    """Clean final logits per prompt, and its hook_z per layer (run_with_cache keeps them)."""
    logits, cache, forwards = {}, {}, 0
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    for s in range(0, len(order), size):
        idx = order[s : s + size]
        tokens, final = batch(prompts, idx)
        out, zs = model.forward(tokens, final)
        forwards += 1
        for r, i in enumerate(idx):
            logits[i] = out[r]
            cache[i] = [z[r] for z in zs]
    return logits, cache, forwards


def run_site(model, prompts, group):
    """One forward over the site's prompt batch; the hook writes each row's value at its position and the head."""
    rows = group["rows"]
    idx = [r[0] for r in rows]
    tokens, final = batch(prompts, idx)
    pos = torch.tensor([r[1] for r in rows])
    values = torch.tensor([r[3] for r in rows], dtype=torch.float32)
    layer, head, ar = group["layer"], group["head"], torch.arange(len(rows))

    def hook_z(l, z):
        if l == layer:
            z = z.clone()
            z[ar, pos, head] = values
        return z

    out, _ = model.forward(tokens, final, hook_z)
    return [out[r, torch.tensor(row[2])] for r, row in enumerate(rows)]


def max_diff(got, rows, logit_at):
    return max((float((g - torch.tensor(logit_at(r))).abs().max()) for g, r in zip(got, rows)), default=0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", required=True, help="the workload file milab bench wrote")
    ap.add_argument("--out", required=True, help="where the JSON answer goes")
    a = ap.parse_args()
    with open(a.workload) as f:
        wl = json.load(f)
    threads = wl["threads"] or os.cpu_count()
    torch.set_num_threads(threads)
    if sha256(wl["checkpoint"]) != wl["checkpoint_sha256"]:
        fail(f"{wl['checkpoint']} is not the checkpoint the engine's graphs were exported from (sha256 differs); "
             "re-run make bench so the export and the checkpoint agree")
    model = Gpt2(read_safetensors(wl["checkpoint"]), wl["n_layer"], wl["n_head"], wl["layer_norm_epsilon"],
                 wl["tied_embeddings"])
    prompts, groups, size = wl["prompts"], wl["groups"], wl["site_batch"]
    with torch.inference_mode():
        # correctness before speed: the first site and the baselines of its prompts, untimed
        first = groups[0]
        got = run_site(model, prompts, first)
        d_first = max_diff(got, first["rows"], lambda r: r[4])
        some = {r[0] for r in first["rows"]}
        clean, _, _ = capture(model, [prompts[i] for i in sorted(some)], size)
        remap = {i: j for j, i in enumerate(sorted(some))}
        base = [b for b in wl["baselines"] if b[0] in some]
        d_base = max_diff([clean[remap[b[0]]][torch.tensor(b[1])] for b in base], base, lambda b: b[2])
        if max(d_first, d_base) > TOLERANCE:
            fail(f"the peer's logits differ from the engine's by {max(d_first, d_base):.3g} (> {TOLERANCE}) on the first "
                 "site: the peer's GPT-2 and the exported graphs disagree, so its speed would mean nothing")
        print(f"peer: first site and {len(base)} baselines agree with the engine (max |diff| {max(d_first, d_base):.2e})",
              file=sys.stderr)
        t0 = time.perf_counter()
        clean, cache, forwards = capture(model, prompts, size)
        t1 = time.perf_counter()
        results = [run_site(model, prompts, g) for g in groups]
        t2 = time.perf_counter()
    forwards += len(groups)
    diff = max(max_diff(r, g["rows"], lambda x: x[4]) for r, g in zip(results, groups))
    bdiff = max_diff([clean[b[0]][torch.tensor(b[1])] for b in wl["baselines"]], wl["baselines"], lambda b: b[2])
    diff = max(diff, bdiff)
    patched = sum(len(g["rows"]) for g in groups)
    if diff > TOLERANCE:
        fail(f"the peer's logits differ from the engine's by {diff:.3g} (> {TOLERANCE}) in the timed pass")
    out = {"interventions": wl["interventions"], "patched_rows": patched, "baseline_rows": len(wl["baselines"]),
           "forwards": forwards, "site_batch": size, "seconds": t2 - t0, "capture_seconds": t1 - t0,
           "patch_seconds": t2 - t1, "checked_rows": patched + len(wl["baselines"]), "max_abs_logit_diff": diff,
           "tolerance": TOLERANCE, "torch_version": torch.__version__, "torch_threads": threads,
           "checkpoint_sha256": wl["checkpoint_sha256"]}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
