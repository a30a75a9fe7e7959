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

        // warm-up and the every-core result; then one thread, part by part (thread CPU time: robust on a busy machine)
        t0 = System.nanoTime();
        String all = dump(proto, in, VerdictStage.decideAll(proto, in), dir);
        report("decideAll + tables + summarize, first (every core, cold)", t0);
        t0 = System.nanoTime();
        String again = dump(proto, in, VerdictStage.decideAll(proto, in), dir);
        report("decideAll + tables + summarize, again (every core, warm)", t0);
        ForkJoinPool one = new ForkJoinPool(1);
        String single;
        try {
            single = one.submit(() -> {
                parts(proto, in);
                long c0 = cpu();
                VerdictStage.Decided d = VerdictStage.decideAll(proto, in);
                c0 = part("decideAll (one thread)", c0);
                String x = dump(proto, in, d, dir);
                part("verdict table + circuit summary + this test's text dump", c0);
                return x;
            }).get();
        } finally {
            one.shutdown();
        }

        assertThat(again).isEqualTo(all);
        assertThat(single).isEqualTo(all);
        String sha = Hashing.sha256(all);
        System.out.println("verdict digest " + sha + " (" + all.length() + " chars)");
        String dumpTo = System.getProperty("milab.v2.dump");
        if (dumpTo != null) Files.writeString(Path.of(dumpTo), all);
        String expected = System.getProperty("milab.v2.digest");
        if (expected != null) assertThat(sha).isEqualTo(expected);
    }

    private static long cpu() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    /** decideAll's parts one by one on this thread, each with its thread CPU time. */
    private static void parts(V2Protocol proto, VerdictInputs in) {
        V2Protocol.Thresholds t = proto.thresholds();
        long c = cpu();
        Map<org.milab.graph.Head, Roles.CopyEvidence> copying = Roles.copyEvidence(in.copying(), t);
        c = part("Roles.copyEvidence", c);
        Map<org.milab.graph.Head, Roles.HeadRole> roles = Roles.assign(in.attention(), copying, t, r -> true);
        c = part("Roles.assign pooled", c);
        for (int seed : proto.seeds()) {
            long s = seed;
            Roles.assign(in.attention(), copying, t, r -> r.getLong("seed") == s);
            c = part("Roles.assign seed " + seed, c);
        }
        Verdicts.decide(in, t, roles, NaturalText.feedsVerdicts(), "pooled");
        c = part("Verdicts.decide pooled", c);
        for (int seed : proto.seeds()) {
            long s = seed;
            Verdicts.decide(in, t, roles, r -> r.getLong("seed") == s && NaturalText.feedsVerdicts().test(r), "seed " + seed);
            c = part("Verdicts.decide seed " + seed, c);
        }
        for (FamilySpec f : proto.families()) {
            Verdicts.decide(in, t, roles, r -> f.name().equals(r.getString("family")), "family " + f.name());
            c = part("Verdicts.decide family " + f.name(), c);
        }
    }

    private static long part(String what, long c0) {
        long c = cpu();
        System.out.printf(Locale.ROOT, "verdict cpu: %-60s %8.3f s%n", what, (c - c0) / 1e9);
        return cpu();
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
