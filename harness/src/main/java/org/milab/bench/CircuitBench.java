package org.milab.bench;

import ai.onnxruntime.OrtSession;
import org.milab.circuit.BuiltinTasks;
import org.milab.circuit.EdgeRunner;
import org.milab.circuit.TokenPair;
import org.milab.graph.GraphVariant;
import org.milab.lab.EngineFactory;
import org.milab.lab.LabModel;
import org.milab.runtime.Device;
import org.milab.runtime.ModelSessions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code make bench-circuit} (a benchmark, not a test): edge attribution for one task on a model (GPT-2 small's
 * shape by default), timed by phase the way the circuit step runs it: open the model, create the edge-masked and the
 * edge-gradient sessions, cache every node's clean and corrupt outputs (forward passes), then EAP (one forward and
 * backward pass per example) and, with {@code --ig-steps}, EAP-IG. Beside each phase's wall seconds it reports the
 * process's CPU seconds (user + sys, every thread) and the load average, since the machine may be shared: the last line
 * is the one to quote. The backward share is the EAP call's time minus a forward-only pass over the same rows.
 */
@Command(name = "bench-circuit", mixinStandardHelpOptions = true, description = "Edge attribution timing by phase.")
public final class CircuitBench implements Runnable {
    @Option(names = "--root", defaultValue = ".") Path root;
    @Option(names = "--model", defaultValue = "gpt2-random") String model;
    @Option(names = "--examples", defaultValue = "32") int examples;
    @Option(names = "--length", defaultValue = "6", description = "repeated-sequence length of the induction task") int length;
    @Option(names = "--batch-rows", defaultValue = "4", description = "rows per edge-graph call (the circuit command's default)") int batchRows;
    @Option(names = "--threads", defaultValue = "0", description = "ORT intra-op threads (0 = one per processor)") int threads;
    @Option(names = "--ig-steps", defaultValue = "0", description = "also time EAP-IG with this many steps (0 = EAP only)") int igSteps;
    @Option(names = "--opt-level", defaultValue = "ALL_OPT", description = "ORT graph optimization level: ${COMPLETION-CANDIDATES}")
    OrtSession.SessionOptions.OptLevel optLevel;

    public static void main(String[] args) {
        System.exit(org.milab.util.CommandFailures.execute(new CircuitBench(), args)); // bad input: one line, exit 2
    }

    /** Wall and CPU seconds of one phase. */
    record Phase(String name, double wall, double cpu) {}

    private final List<Phase> phases = new ArrayList<>();
    private long wall0, cpu0;

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private void start() {
        wall0 = System.nanoTime();
        cpu0 = cpuNanos();
    }

    private Phase stop(String name) {
        Phase p = new Phase(name, (System.nanoTime() - wall0) / 1e9, (cpuNanos() - cpu0) / 1e9);
        phases.add(p);
        System.out.printf(Locale.ROOT, "  %-28s %7.2f s wall %7.2f s CPU%n", name, p.wall(), p.cpu());
        return p;
    }

    @Override
    public void run() {
        String loadBefore = Machine.loadAverage();
        ModelSessions.Tuning tuning = new ModelSessions.Tuning(optLevel, true, true, true);
        start();
        try (LabModel m = LabModel.open(root.toAbsolutePath().normalize(), model, Device.CPU, threads, batchRows, batchRows * 64,
                EngineFactory.LOCAL, tuning)) {
            stop("open model (verify files)");
            List<TokenPair> pairs = BuiltinTasks.get("induction", m, examples, length, 0).tokenize(m);
            start();
            m.sessions().session(GraphVariant.EDGE_MASK);
            Phase maskSession = stop("session edge_mask");
            start();
            m.sessions().session(GraphVariant.EDGE_GRAD);
            Phase gradSession = stop("session edge_grad");
            start();
            try (EdgeRunner runner = new EdgeRunner(m, pairs, batchRows)) {
                Phase cache = stop("cache clean+corrupt (fwd)");
                List<EdgeRunner.Row> ones = new ArrayList<>();
                for (int i = 0; i < pairs.size(); i++) ones.add(new EdgeRunner.Row(i, runner.uniformMask(1f)));
                start();
                runner.scores(ones);
                Phase eap = stop("EAP (fwd+bwd)");
                start();
                runner.scores(ones);
                Phase warm = stop("EAP again (warm session)");
                start();
                runner.logits(ones);
                Phase fwd = stop("forward only, same rows");
                Phase ig = null;
                if (igSteps > 0) {
                    List<EdgeRunner.Row> rows = new ArrayList<>();
                    for (int i = 0; i < pairs.size(); i++)
                        for (int j = 1; j <= igSteps; j++) {
                            float[] mask = runner.uniformMask(1f);
                            for (var e : runner.edges().edges()) if (e.upstream() == 0) mask[e.index()] = (j - 0.5f) / igSteps;
                            rows.add(new EdgeRunner.Row(i, mask));
                        }
                    start();
                    runner.scores(rows);
                    ig = stop("EAP-IG (fwd+bwd), " + igSteps + " steps");
                }
                // end to end: what attribution costs a run (open, sessions, caches, EAP); not the forward-only probe
                double totalWall = 0, totalCpu = 0;
                for (Phase p : phases)
                    if (p != fwd && p != warm && p != ig) {
                        totalWall += p.wall();
                        totalCpu += p.cpu();
                    }
                System.out.printf(Locale.ROOT, "%nbench-circuit %s (%d examples x %d edges, %dx%d), batch rows %d, ORT threads %s, "
                                + "opt %s: EAP end to end %.1f s wall, %.1f s CPU (user+sys), load %s -> %s | sessions %.1f s wall, "
                                + "%.1f s CPU | caches (forward, %d rows) %.1f s wall, %.1f s CPU | EAP call (forward+backward, %d rows) "
                                + "%.1f s wall, %.1f s CPU, of which first-call extra %.1f s CPU | warm: forward %.1f s, backward ~%.1f s "
                                + "wall%s%n",
                        model, pairs.size(), runner.edges().size(), m.config().nLayer(), m.config().nHead(), batchRows,
                        m.sessions().execution().intraOpThreads(), optLevel, totalWall, totalCpu, load(loadBefore), load(Machine.loadAverage()),
                        maskSession.wall() + gradSession.wall(), maskSession.cpu() + gradSession.cpu(), 2 * pairs.size(),
                        cache.wall(), cache.cpu(), pairs.size(), eap.wall(), eap.cpu(), Math.max(0, eap.cpu() - warm.cpu()),
                        fwd.wall(), Math.max(0, warm.wall() - fwd.wall()),
                        ig == null ? "" : String.format(Locale.ROOT, " | EAP-IG (%d steps) %.1f s wall, %.1f s CPU", igSteps, ig.wall(), ig.cpu()));
            }
        }
    }

    private static String load(String loadavg) {
        return loadavg.split("\\s+")[0];
    }
}
