package org.milab.protocol.v2;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.milab.tables.ArrowTables;
import org.milab.tables.Column;
import org.milab.tables.Table;
import org.milab.util.Hashing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ForkJoinPool;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The verdict step's computation (everything but the circuit-evidence engine rows) on a finished run's tables:
 * times each part and checks that one thread and every core give the same bits. Not part of the suite: it needs a
 * run folder, {@code -Dmilab.v2.run=results/<run>} (a full-count one: {@code make bench-v2-planted}).
 * {@code -Dmilab.v2.digest=<sha256>} also asserts the digest of every decided number (one taken before a change,
 * to show the change moved no bit); {@code -Dmilab.v2.dump=<file>} writes what the digest is of.
 */
class VerdictSpeedTest {
    @Test
    void verdictsOnARunsTablesAreTheSameOnOneThreadAndEveryCore() throws Exception {
        String run = System.getProperty("milab.v2.run");
        Assumptions.assumeTrue(run != null, "needs -Dmilab.v2.run=<a finished v2 run folder> (a benchmark, not a suite test)");
        Path dir = Path.of(run).resolve(ProtocolStage.DIR);
        long t0 = System.nanoTime();
        V2Protocol proto = V2Protocol.fromJson(Files.readString(dir.resolve("protocol.json")));
        VerdictInputs in = new VerdictInputs(read(dir, AttentionProbeStage.TABLE), read(dir, CopyingStage.TABLE),
                read(dir, CausalStage.BASELINES), read(dir, CausalStage.ABLATIONS), read(dir, CausalStage.PATCHES),
                read(dir, GroupAblationStage.TABLE), VerdictInputs.keysOnly(read(dir, CompositionStage.TABLE)),
                Files.exists(dir.resolve(Sequential.TABLE + ".arrow")) ? Sequential.stopped(read(dir, Sequential.TABLE)) : Map.of());
        report("read tables", t0);

        // warm-up and the every-core result; then the parts one by one; then one thread
        t0 = System.nanoTime();
        String all = dump(proto, in, VerdictStage.decideAll(proto, in), dir);
        report("decideAll + tables + summarize, first (every core, cold)", t0);
        t0 = System.nanoTime();
        String again = dump(proto, in, VerdictStage.decideAll(proto, in), dir);
        report("decideAll + tables + summarize, again (every core, warm)", t0);
        V2Protocol.Thresholds t = proto.thresholds();
        t0 = System.nanoTime();
        Map<org.milab.graph.Head, Roles.HeadRole> roles = Roles.assign(in.attention(), in.copying(), t, r -> true);
        report("Roles.assign pooled", t0);
        t0 = System.nanoTime();
        Verdicts.decide(in, t, roles, NaturalText.feedsVerdicts(), "pooled");
        report("Verdicts.decide pooled", t0);
        ForkJoinPool one = new ForkJoinPool(1);
        t0 = System.nanoTime();
        String single;
        try {
            single = one.submit(() -> dump(proto, in, VerdictStage.decideAll(proto, in), dir)).get();
        } finally {
            one.shutdown();
        }
        report("decideAll + tables + summarize (one thread)", t0);

        assertThat(again).isEqualTo(all);
        assertThat(single).isEqualTo(all);
        String sha = Hashing.sha256(all);
        System.out.println("verdict digest " + sha + " (" + all.length() + " chars)");
        String dumpTo = System.getProperty("milab.v2.dump");
        if (dumpTo != null) Files.writeString(Path.of(dumpTo), all);
        String expected = System.getProperty("milab.v2.digest");
        if (expected != null) assertThat(sha).isEqualTo(expected);
    }

    private static Table read(Path dir, String name) {
        return ArrowTables.read(dir.resolve(name + ".arrow"));
    }

    private static void report(String what, long t0) {
        System.out.printf(Locale.ROOT, "verdict timing: %-60s %8.3f s%n", what, (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Every decided number as text (records print doubles exactly), the written verdict and stability tables, and
     * the circuit-level summary of the run's own circuit_evidence rows.
     */
    private static String dump(V2Protocol proto, VerdictInputs in, VerdictStage.Decided d, Path dir) {
        StringBuilder sb = new StringBuilder();
        result(sb, "pooled", d.pooled());
        d.bySeed().forEach((s, r) -> result(sb, "seed " + s, r));
        d.byFamily().forEach((f, r) -> result(sb, "family " + f, r));
        d.finals().forEach((h, f) -> sb.append("final ").append(h).append(' ').append(f).append('\n'));
        table(sb, VerdictStage.verdictTable(d.pooled(), d.finals(), d.bySeed(), d.byFamily(), Optional.empty(), "sha").build());
        Path evidence = dir.resolve(CircuitEvidence.TABLE + ".arrow");
        if (Files.exists(evidence)) {
            java.util.List<org.milab.graph.Head> members = new java.util.ArrayList<>();
            d.finals().forEach((h, f) -> {
                if (f.verdict().equals(Verdicts.CONFIRMED)) members.add(h);
            });
            sb.append("circuit ").append(CircuitEvidence.summarize(ArrowTables.read(evidence), members, proto.thresholds())).append('\n');
        }
        return sb.toString();
    }

    private static void result(StringBuilder sb, String name, Verdicts.Result r) {
        sb.append(name).append(": gap ").append(r.gap()).append(' ').append(r.gapOk()).append(' ').append(r.nPrompts()).append('\n');
        r.heads().forEach(v -> sb.append(v).append('\n'));
        r.compositions().forEach(c -> sb.append(c).append('\n'));
        r.groups().forEach(g -> sb.append(g).append('\n'));
        sb.append(Arrays.toString(r.rawP())).append('\n').append(Arrays.toString(r.adjustedP())).append('\n');
    }

    private static void table(StringBuilder sb, Table t) {
        for (Column c : t.columns()) sb.append(c.name()).append(' ').append(c.values()).append('\n');
    }
}
