"""Trains one small GPT-2-architecture model of the zoo (docs/zoo.md) and writes it in the Hugging Face layout.

Output folder (committed under zoo/<name>/): model.safetensors (F32, GPT-2 parameter names, Conv1D weights
stored [in, out], tied unembedding), config.json, vocab.txt (token i on line i; the exporter builds the
word-level tokenizer.json from it), train_config.json, train_log.jsonl, SHA256SUMS.

Only this trainer knows what it rewards; it never looks at which head does what. The Java diagnosis
(org.milab.diagnosis) and protocol v2 find heads from the weights alone.

Usage: python tools/zoo/train.py --name zoo-2l4h-s1 --layers 2 --heads 4 --width 64 --steps 3000 --seed 1 --out zoo
"""
import argparse
import hashlib
import json
import math
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --- vocabulary: every word protocol v2's pools declare, some function words, two specials -------------------
SYMBOLS = "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z".split()
COLOURS = "red blue green yellow black white gray".split()
ANIMALS = "cat dog bird fish horse cow mouse lion tiger bear wolf".split()
PLACES = "north south east west center left right up down".split()
SEASONS = "spring summer autumn winter dawn night".split()
METALS = "iron copper silver gold".split()
SHAPES = "circle square triangle star line point".split()
DAYS = "Monday Tuesday Wednesday".split()
CITIES = "Paris London Rome".split()
FRUIT = "apple banana cherry".split()
GREEK = "alpha beta gamma delta omega lambda".split()
NUMBERS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
           "sixteen seventeen eighteen nineteen twenty").split()
FUNCTION = "the a of and to in is was on at with from by it he she they we this that saw went has . ,".split()
UNK, BOS = "<unk>", "<|endoftext|>"


def vocabulary():
    words = []
    for group in (SYMBOLS, COLOURS, ANIMALS, PLACES, SEASONS, METALS, SHAPES, DAYS, CITIES, FRUIT, GREEK, NUMBERS,
                  FUNCTION):
        for w in group:
            if w not in words:
                words.append(w)
    return words + [UNK, BOS]


VOCAB = vocabulary()
ID = {w: i for i, w in enumerate(VOCAB)}
BOS_ID = ID[BOS]
# ids a random span may hold: every token but the two specials (so every id the probes use is trained)
SPAN_IDS = np.array([ID[w] for w in VOCAB if w not in (UNK, BOS)])


# --- data: natural-like sentences, counting and alphabet runs, and repeated random spans ------------------------
class Data:
    """Seeded generator of training sequences (BOS + tokens, fixed length)."""

    def __init__(self, seed, length, repeat_fraction, max_span, max_repeats):
        self.rng = np.random.default_rng(seed)
        self.length = length
        self.repeat_fraction = repeat_fraction
        self.max_span = max_span
        self.max_repeats = max_repeats

    def pick(self, words):
        return words[self.rng.integers(len(words))]

    def sentence(self):
        r = self.rng.random()
        if r < 0.15:  # an ordered run: counting or the alphabet (bigram structure a previous-token head can use)
            seq = NUMBERS if self.rng.random() < 0.5 else SYMBOLS
            start = self.rng.integers(len(seq) - 3)
            return seq[start:start + 3 + self.rng.integers(min(6, len(seq) - start - 2))] + ["."]
        noun = lambda: [self.pick(["the", "a"])] + ([self.pick(COLOURS)] if self.rng.random() < 0.5 else []) + [
            self.pick(ANIMALS + SHAPES + FRUIT + METALS)]
        s = noun() + [self.pick(["saw", "went", "has", "was"])]
        if s[-1] == "went":
            s += ["to", self.pick(CITIES + PLACES)]
        elif s[-1] == "was":
            s += [self.pick(["in", "at", "on"]), self.pick(CITIES + PLACES + SEASONS + DAYS)]
        else:
            s += noun()
        if self.rng.random() < 0.3:
            s += [self.pick(["on", "in", "by", "with", "from"]), self.pick(DAYS + SEASONS + NUMBERS + GREEK)]
        if self.rng.random() < 0.2:
            s = [self.pick(["he", "she", "they", "we", "it", "this", "that"])] + s[1:]
        return s + ["."]

    def sequence(self):
        ids = [BOS_ID]
        while len(ids) < self.length:
            if self.rng.random() < self.repeat_fraction:
                n = int(self.rng.integers(3, self.max_span + 1))
                span = list(self.rng.choice(SPAN_IDS, size=n))
                ids += span
                for _ in range(1 + int(self.rng.integers(self.max_repeats))):  # 1..max_repeats more copies
                    gap = [ID[w] for w in self.sentence()] if self.rng.random() < 0.3 else []
                    ids += gap + span
            else:
                ids += [ID[w] for w in self.sentence()]
        return ids[:self.length]

    def batch(self, size):
        return torch.tensor([self.sequence() for _ in range(size)], dtype=torch.long)


# --- GPT-2 (Hugging Face parameter layout) ------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self, d, heads, positions):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)
        self.register_buffer("mask", torch.tril(torch.ones(positions, positions, dtype=torch.bool)), persistent=False)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        shape = lambda m: m.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = shape(q), shape(k), shape(v)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        s = s.masked_fill(~self.mask[:t, :t], float("-inf"))
        z = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.c_proj(z)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt2(nn.Module):
    def __init__(self, vocab, positions, d, layers, heads):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        self.h = nn.ModuleList(Block(d, heads, positions) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        for name, p in self.named_parameters():  # GPT-2's initialisation
            if name.endswith("weight") and p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def sinusoidal_positions(self):
        """Starts the (still learned) position embedding from sinusoids at GPT-2's init scale: relative
        offsets are then linear in it, so a previous-token head is easy to find early."""
        n, d = self.wpe.weight.shape
        pos = torch.arange(n, dtype=torch.float32)[:, None]
        freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
        with torch.no_grad():
            self.wpe.weight[:, 0::2] = torch.sin(pos * freq) * 0.1
            self.wpe.weight[:, 1::2] = torch.cos(pos * freq) * 0.1

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T  # tied unembedding

    def hf_tensors(self):
        """Parameters under GPT-2's Hugging Face names; Linear weights transposed to Conv1D's [in, out]."""
        return {k: (p.T if p.dim() == 2 and k not in ("wte.weight", "wpe.weight") else p)
                .detach().contiguous().to(torch.float32).numpy() for k, p in _names(self).items()}


def write_safetensors(path, tensors, metadata):
    """The safetensors format by hand (8-byte little-endian header size, JSON header, raw little-endian data)."""
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# --- the induction check: loss on the second copy of repeated random tokens vs the first ----------------------
@torch.no_grad()
def copy_losses(model, n, count, seed):
    rng = np.random.default_rng(seed)
    r = torch.tensor(np.stack([rng.choice(SPAN_IDS, size=n) for _ in range(count)]))
    ids = torch.cat([torch.full((count, 1), BOS_ID), r, r], dim=1)
    logp = model(ids).log_softmax(-1)
    nll = -logp[:, :-1].gather(2, ids[:, 1:, None])[..., 0]  # nll[:, p] predicts position p + 1
    first = nll[:, 1:n].mean().item()  # targets r[1..n-1] of the first copy
    second = nll[:, n + 1:2 * n].mean().item()  # targets r[1..n-1] of the second copy
    return first, second


REFERENCE_FILE = "pytorch_logits.json"


@torch.no_grad()
def write_reference_logits(model, out):
    """PyTorch's logits on a fixed prompt (BOS + 12 tokens + the same 12), centred over the vocabulary like the
    lab's: the Java side checks its reading of the weights against them (ZooDiagnosisTest)."""
    ids = [BOS_ID] + [int(i) for i in SPAN_IDS[:12]] * 2
    logits = model(torch.tensor([ids]))[0].double()
    logits = logits - logits.mean(-1, keepdim=True)
    with open(os.path.join(out, REFERENCE_FILE), "w") as f:
        json.dump({"token_ids": ids, "centred_logits": [[round(x, 6) for x in row] for row in logits.tolist()],
                   "torch": torch.__version__}, f)
        f.write("\n")


def load(folder):
    """A trained zoo model back from its folder (config.json + model.safetensors), for --reference-only."""
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    model = Gpt2(c["vocab_size"], c["n_positions"], c["n_embd"], c["n_layer"], c["n_head"])
    with open(os.path.join(folder, "model.safetensors"), "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    tensors = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                                                 dtype="<f4").reshape(v["shape"]).copy())
               for k, v in header.items() if k != "__metadata__"}
    params = _names(model)
    if set(params) != set(tensors):
        sys.exit(f"{folder}: tensor names differ from GPT-2's: {sorted(set(params) ^ set(tensors))}")
    with torch.no_grad():
        for key, p in params.items():  # Conv1D [in, out] back to Linear [out, in]; embeddings and vectors as stored
            t = tensors[key]
            p.copy_(t.T if p.dim() == 2 and key not in ("wte.weight", "wpe.weight") else t)
    return model


def _names(model):
    """HF name -> our parameter."""
    out = {"wte.weight": model.wte.weight, "wpe.weight": model.wpe.weight, "ln_f.weight": model.ln_f.weight,
           "ln_f.bias": model.ln_f.bias}
    for l, b in enumerate(model.h):
        for ours, theirs in (("ln_1", "ln_1"), ("ln_2", "ln_2"), ("c_attn", "attn.c_attn"), ("c_proj", "attn.c_proj"),
                             ("c_fc", "mlp.c_fc"), ("mlp_proj", "mlp.c_proj")):
            out[f"h.{l}.{theirs}.weight"] = getattr(b, ours).weight
            out[f"h.{l}.{theirs}.bias"] = getattr(b, ours).bias
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--reference-only":
        write_reference_logits(load(sys.argv[2]), sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--repeat-fraction", type=float, default=0.5)
    ap.add_argument("--max-span", type=int, default=16, help="random spans are 3..max-span tokens")
    ap.add_argument("--max-repeats", type=int, default=1, help="a span is followed by 1..max-repeats copies")
    ap.add_argument("--sinusoidal-init", action="store_true", help="start wpe from sinusoids (see Gpt2)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="zoo")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    model = Gpt2(len(VOCAB), a.length, a.width, a.layers, a.heads)
    if a.sinusoidal_init:
        model.sinusoidal_positions()
    data = Data(a.seed, a.length, a.repeat_fraction, a.max_span, a.max_repeats)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), weight_decay=a.weight_decay)
    warmup = max(1, a.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / a.steps)))))
    log = []
    t0 = time.time()
    for step in range(1, a.steps + 1):
        ids = data.batch(a.batch)
        loss = F.cross_entropy(model(ids)[:, :-1].reshape(-1, len(VOCAB)), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0 or step == a.steps or step == 1:
            first, second = copy_losses(model, 16, 64, 12345)
            row = {"step": step, "train_loss": round(loss.item(), 4), "first_copy_loss": round(first, 4),
                   "second_copy_loss": round(second, 4), "seconds": round(time.time() - t0, 1)}
            log.append(row)
            print(json.dumps(row), flush=True)
    seconds = time.time() - t0
    first, second = copy_losses(model, 16, 256, 999)
    formed = second < first - 1.0
    # a model without induction is kept for inspection, never where the zoo (and make export) would read it
    out = os.path.join(a.out, a.name if formed else a.name + ".no-induction")
    os.makedirs(out, exist_ok=True)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": a.layers, "n_head": a.heads,
              "n_embd": a.width, "vocab_size": len(VOCAB), "n_positions": a.length, "n_ctx": a.length,
              "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "tie_word_embeddings": True,
              "n_inner": None, "bos_token_id": BOS_ID, "eos_token_id": BOS_ID}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    write_safetensors(os.path.join(out, "model.safetensors"), model.hf_tensors(),
                      {"format": "pt", "trainer": "tools/zoo/train.py", "name": a.name, "seed": str(a.seed)})
    write_reference_logits(model, out)
    train = dict(vars(a))
    train.update({"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
                  "train_seconds": round(seconds, 1), "final_train_loss": log[-1]["train_loss"],
                  "heldout_first_copy_loss": round(first, 4), "heldout_second_copy_loss": round(second, 4),
                  "heldout": "256 sequences BOS + r + r, r 16 tokens uniform over the non-special vocabulary, seed 999",
                  "parameters": sum(p.numel() for p in model.parameters())})
    with open(os.path.join(out, "train_config.json"), "w") as f:
        json.dump(train, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "train_log.jsonl"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in log))
    sums = []
    for name in ("model.safetensors", "config.json", "vocab.txt"):
        with open(os.path.join(out, name), "rb") as f:
            sums.append(hashlib.sha256(f.read()).hexdigest() + "  " + name)
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        f.write("\n".join(sums) + "\n")
    print(json.dumps({"name": a.name, "seconds": round(seconds, 1), "first_copy_loss": first,
                      "second_copy_loss": second}))
    if not formed:
        print(f"no induction: held-out second-copy loss {second:.3f} is not 1 nat below the first-copy {first:.3f}; "
              f"the model is in {out}. Fix: train longer or change the recipe (docs/zoo.md).", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
