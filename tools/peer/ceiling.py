#!/usr/bin/env python3
"""The MatMul ceiling through ONNX Runtime's Python API and through PyTorch (docs/benchmarks.md).

For each probe graph milab bench wrote (x [m, 768] times a constant [768, 3072] weight that is an
initializer, the graph the Java probe runs), measured the way each library reaches its peak: ORT with the
weight pre-packed at session creation, input and output bound once (IOBinding, no per-call allocation),
PyTorch with torch.matmul(x, w, out=y) into a reused buffer; warm-up calls, then the median of 10 timed
rounds of calls (the same rounds as the Java probe). The answer goes to --out as JSON.
"""
import argparse
import json
import os
import statistics
import time

ROUNDS, WARM_UP = 11, 3


def rounds(call, flops_per_call):
    calls = max(3, round(40e9 / flops_per_call))
    for _ in range(WARM_UP):
        call()
    rates = []
    for r in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(calls):
            call()
        secs = time.perf_counter() - t0
        if r > 0:  # the first round warms up too
            rates.append(calls * flops_per_call / secs / 1e9)
    return {"calls_per_round": calls, "round_gflops": rates, "gflops": statistics.median(rates)}


def ort_rate(path, m, k, n, threads):
    import numpy as np
    import onnxruntime as ort
    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # never ORT's own default: on 2-core AMD EPYC machines it counted one core and ran one thread
    o.intra_op_num_threads = threads or os.cpu_count()
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    x = ort.OrtValue.ortvalue_from_numpy(((np.arange(m * k) % 17 - 8) / 8).astype(np.float32).reshape(m, k))
    y = ort.OrtValue.ortvalue_from_shape_and_type([m, n], np.float32)
    b = s.io_binding()
    b.bind_ortvalue_input(s.get_inputs()[0].name, x)
    b.bind_ortvalue_output(s.get_outputs()[0].name, y)
    out = rounds(lambda: s.run_with_iobinding(b), 2.0 * m * k * n)
    out["version"] = ort.__version__
    out["threads"] = o.intra_op_num_threads
    return out


def torch_rate(m, k, n, threads):
    import torch
    torch.set_num_threads(threads or os.cpu_count())
    g = torch.Generator().manual_seed(0)
    x, w, y = torch.rand(m, k, generator=g) - 0.5, torch.rand(k, n, generator=g) - 0.5, torch.empty(m, n)
    with torch.inference_mode():
        out = rounds(lambda: torch.matmul(x, w, out=y), 2.0 * m * k * n)
    out["version"] = torch.__version__
    out["threads"] = torch.get_num_threads()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--probe", action="append", required=True, help="M:PATH of a probe graph (repeatable)")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads of both libraries (0: one per processor, os.cpu_count())")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    k, n = 768, 3072
    res = []
    for p in a.probe:
        m, path = p.split(":", 1)
        m = int(m)
        res.append({"rows": m, "k": k, "n": n, "ort_python": ort_rate(path, m, k, n, a.threads),
                    "torch": torch_rate(m, k, n, a.threads)})
    with open(a.out, "w") as f:
        json.dump({"shapes": res}, f, indent=2)


if __name__ == "__main__":
    main()
