package org.milab.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.engine.RecomputePath;
import org.milab.lab.LabModel;
import org.milab.protocol.reference.HeadPatching;
import org.milab.util.Provenance;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;


/**
 * One {@code make bench}: the workloads of a {@link BenchPlan} in a fixed order, each printed as a table
 * when it ends, and bench.json assembled from their result records. The engine, the PyTorch peer and the
 * MatMul ceilings run one right after the other, so their ratios are taken under the same load; the load
 * average before and after is recorded, so a run on a busy machine shows as one.
 */
public final class BenchRun {
    private final BenchPlan plan;
    private final BenchSettings s;
    private final ObjectNode report = BenchJson.MAPPER.createObjectNode();
    private final Path workDir;

    public BenchRun(BenchPlan plan, Path workDir) {
        this.plan = plan;
        this.s = plan.settings();
        this.workDir = workDir;
    }

    /** Runs every workload of the plan; returns bench.json's content. */
    public ObjectNode run(Instant started) {
        report.put("schema", "milab.bench/2");
        report.put("started_utc", started.toString());
        report.put("flop_counting", "2 per multiply-add of MatMul work (projections, MLP, QK^T, PV, unembedding); "
                + "useful = what a FLOP-minimal computation needs: each distinct prompt's capture once, and per patched "
                + "row blocks >= its first patched layer at positions >= its first patched position (causal keys); "
                + "executed = what the ORT calls ran, padding and full score matrices included");
        ObjectNode machine = report.putObject("machine");
        machine.put("description", Provenance.machine());
        machine.put("cores", Runtime.getRuntime().availableProcessors());
        machine.put("loadavg_start", Machine.loadAverage());
        machine.put("code_commit", Provenance.gitCommit(s.root()));
        print("| measurement | value |\n|---|---|");
        List<MatMulCeiling.Result> java = new ArrayList<>(ceilings("start", List.of(64, 768)));
        double startCeiling = java.stream().mapToDouble(MatMulCeiling.Result::gflops).max().orElseThrow();
        try (LabModel m = s.open(s.batchRows())) {
            report.set("provenance", BenchJson.MAPPER.valueToTree(m.provenance()));
            report.put("ort_intra_op_threads", m.sessions().execution().intraOpThreads());
            report.put("ort_session_options", m.sessions().tuning().describe());
        }
        CaptureForward.Result capture = CaptureForward.run(s, plan.batch(), plan.tokens(), plan.repeats());
        capture.rows(startCeiling).forEach(BenchRun::print);
        report.set("capture_forward", BenchJson.tree(capture));
        if (plan.profile()) {
            OperatorProfile.Result p = OperatorProfile.run(s, plan.batch(), plan.tokens());
            p.workloads().forEach(b -> { print(""); b.rows(startCeiling).forEach(BenchRun::print); });
            report.set("profile", BenchJson.tree(p));
        }
        Summary summary = new Summary();
        summary.captureGflops = capture.gflops();
        if (!plan.skipPatching()) heldout(java, summary, startCeiling);
        if (!plan.skipAttribution()) {
            AttributionSpeed.Result a = AttributionSpeed.run(s, plan.attributionPairs(), plan.attributionExactPairs());
            print("");
            a.rows().forEach(BenchRun::print);
            report.set("attribution", BenchJson.tree(a));
        }
        if (plan.tuning()) {
            SessionTuning.Result t = SessionTuning.run(s, plan.tuningRounds());
            print("");
            t.rows().forEach(BenchRun::print);
            report.set("ort_tuning", BenchJson.tree(t));
        }
        if (!plan.skipScaling()) {
            Scaling.Result sc = Scaling.run(s);
            print("");
            sc.rows(startCeiling).forEach(BenchRun::print);
            report.set("scaling", BenchJson.tree(sc));
        }
        java.addAll(ceilings("end", List.of(64, 768)));
        report.set("ceiling_java_probe", BenchJson.tree(java));
        machine.put("loadavg_end", Machine.loadAverage());
        summary.javaCeiling = java;
        report.set("summary", summary.json(machine));
        return report;
    }

    /** The engine's held-out passes, the peer right after, then the ceilings at the engine's own shapes. */
    private void heldout(List<MatMulCeiling.Result> java, Summary summary, double startCeiling) {
        List<HeadPatching.Job> all = HeldoutThroughput.jobs(plan.candidates());
        List<HeadPatching.Job> sample = HeldoutThroughput.jobs(plan.patchSample());
        List<HeldoutThroughput.Result> runs = new ArrayList<>();
        HeldoutThroughput.Recorded recorded = null;
        for (int round = 0; round < plan.rounds(); round++) {
            if (plan.minimal()) {
                HeldoutThroughput.Recorded r = HeldoutThroughput.timeRecorded(s, "b", "batched + FLOP-minimal recompute over "
                        + "shared prompt caches (the engine)", all, s.batchRows(), RecomputePath.MINIMAL, round == 0 && plan.peerPython() != null);
                if (round == 0 && plan.peerPython() != null) recorded = r;
                runs.add(r.result());
            }
            if (plan.resume())
                runs.add(HeldoutThroughput.time(s, "b_resume", "batched + whole-block recompute from the start layer over "
                        + "shared prompt caches (previous engine; the reference protocol's path)", all, s.batchRows(), RecomputePath.RESUME));
            if (plan.legacy())
                runs.add(HeldoutThroughput.time(s, "b_legacy", "batched + suffix-only recompute over per-row K/V (previous engine)",
                        all, s.batchRows(), RecomputePath.SUFFIX));
        }
        double engineRate = runs.stream().filter(t -> t.id().equals("b")).mapToDouble(HeldoutThroughput.Result::interventionsPerS)
                .average().orElse(Double.NaN);
        if (recorded != null) {
            summary.engine = recorded.result();
            summary.engineRate = engineRate;
            summary.engineUsefulGflops = runs.stream().filter(t -> t.id().equals("b"))
                    .mapToDouble(HeldoutThroughput.Result::usefulGflops).average().orElseThrow();
            peer(recorded, all, summary, engineRate);
            int m = recorded.result().meanTokensPerCall();
            java.addAll(ceilings("after the engine, at its mean padded tokens per call", List.of(m)));
            summary.engineM = m;
            summary.library = LibraryCeilings.run(plan.peerPython(), s.root(), workDir.resolve("ceiling"), List.of(64, 768, m), s.resolvedThreads());
            summary.library.shapes().forEach(x -> print(x.row()));
            report.set("ceiling_libraries", BenchJson.tree(summary.library));
        }
        if (!plan.skipWhole()) {
            runs.add(HeldoutThroughput.time(s, "b0", "batched, whole prompts, " + s.batchRows() + " rows per call", all,
                    s.batchRows(), RecomputePath.WHOLE));
            runs.add(HeldoutThroughput.time(s, "a", "one forward per intervention, batch 1 (" + plan.patchSample() + " candidates)",
                    sample, 1, RecomputePath.WHOLE));
        }
        HeldoutThroughput.Result a = runs.stream().filter(t -> t.id().equals("a")).findFirst().orElse(null);
        print("");
        print(HeldoutThroughput.Result.header(plan.candidates(), a != null));
        runs.forEach(t -> print(t.row(startCeiling, a)));
        report.set("heldout", BenchJson.tree(runs));
        double legacy = runs.stream().filter(t -> t.id().equals("b_legacy")).mapToDouble(HeldoutThroughput.Result::interventionsPerS)
                .average().orElse(Double.NaN);
        if (!Double.isNaN(engineRate) && !Double.isNaN(legacy)) {
            print(String.format(Locale.ROOT, "| speed-up (b)/(b_legacy), same run | %.2fx |", engineRate / legacy));
            report.putObject("ratios").put("b/b_legacy", engineRate / legacy);
        }
    }

    private void peer(HeldoutThroughput.Recorded recorded, List<HeadPatching.Job> jobs, Summary summary, double engineRate) {
        long records = jobs.stream().map(j -> j.record().exampleId()).distinct().count();
        Path wl = workDir.resolve("peer").resolve("workload.json");
        try (LabModel m = s.open(s.batchRows())) {
            TorchPeer.writeWorkload(wl, m.config(), recorded.requests(), jobs.size(), (int) records, plan.peerCheckpoint(),
                    String.valueOf(m.provenance().get("checkpoint_sha256")), s.resolvedThreads());
        }
        TorchPeer.Result p = TorchPeer.run(plan.peerPython(), s.root(), wl, workDir.resolve("peer").resolve("peer.json"));
        summary.peer = p;
        print(p.row(engineRate));
        report.set("peer", BenchJson.tree(p));
    }

    private List<MatMulCeiling.Result> ceilings(String when, List<Integer> rows) {
        List<MatMulCeiling.Result> out = new ArrayList<>();
        try (LabModel m = s.open(s.batchRows())) {
            for (int r : rows) out.add(MatMulCeiling.measure(m.sessions(), when, r));
        }
        out.forEach(r -> print(r.row()));
        return out;
    }

    private static void print(String line) {
        System.out.println(line);
    }

    /** The numbers issue 23's "done when" asks for, side by side from this run. */
    private static final class Summary {
        HeldoutThroughput.Result engine;
        double engineRate = Double.NaN, engineUsefulGflops = Double.NaN, captureGflops = Double.NaN;
        int engineM;
        TorchPeer.Result peer;
        LibraryCeilings.Result library;
        List<MatMulCeiling.Result> javaCeiling = List.of();

        ObjectNode json(ObjectNode machine) {
            ObjectNode n = BenchJson.MAPPER.createObjectNode();
            n.put("loadavg_start", machine.path("loadavg_start").asText());
            n.put("loadavg_end", machine.path("loadavg_end").asText());
            n.put("cores", machine.path("cores").asInt());
            if (engine == null) return n.put("note", "no engine held-out pass with the peer (needs --peer-python and the minimal path)");
            n.put("engine_interventions_per_s", engineRate);
            n.put("engine_useful_gflops", engineUsefulGflops);
            n.put("engine_mean_tokens_per_call", engineM);
            n.put("peer_interventions_per_s", peer.interventionsPerS());
            n.put("engine_over_peer", engineRate / peer.interventionsPerS());
            // the ceiling: the best rate ONNX Runtime's MatMul reached in this run at the shapes the engine
            // and the capture multiply (M = the engine's mean padded tokens per call, and 768), Java or Python
            double ceiling = Math.max(library.ortGflops(engineM), library.ortGflops(768));
            for (MatMulCeiling.Result r : javaCeiling)
                if (r.rows() == engineM || r.rows() == 768) ceiling = Math.max(ceiling, r.gflops());
            n.put("ort_matmul_ceiling_gflops", ceiling);
            n.put("ort_matmul_ceiling_meaning", "max of ONNX Runtime MatMul [M,768]x[768,3072] rates measured in this run "
                    + "(Java probe with pinned buffers, and the Python API with IOBinding) at M = " + engineM + " and 768");
            n.put("torch_matmul_gflops", Math.max(library.torchGflops(engineM), library.torchGflops(768)));
            n.put("engine_useful_fraction_of_ceiling", engineUsefulGflops / ceiling);
            n.put("capture_fraction_of_ceiling", captureGflops / ceiling);
            ArrayNode done = n.putArray("issue_23_done_when");
            done.addObject().put("criterion", "engine >= 10x the TransformerLens-style peer").put("met", engineRate / peer.interventionsPerS() >= 10);
            done.addObject().put("criterion", "useful GFLOP/s >= 0.7 of the MatMul ceiling").put("met", engineUsefulGflops / ceiling >= 0.7);
            System.out.println();
            System.out.printf(Locale.ROOT, "| same run, side by side | value |%n|---|---|%n| engine / TransformerLens-style peer | %.2fx |%n"
                            + "| engine useful GFLOP/s / ONNX Runtime MatMul ceiling (%.1f GFLOP/s) | %.2f |%n| load average start; end | %s; %s |%n",
                    engineRate / peer.interventionsPerS(), ceiling, engineUsefulGflops / ceiling, machine.path("loadavg_start").asText(),
                    machine.path("loadavg_end").asText());
            return n;
        }
    }

}
