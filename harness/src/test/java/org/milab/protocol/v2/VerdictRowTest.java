package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.Head;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.ArrowTables;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.milab.protocol.v2.VerdictRulesTest.T;

/**
 * v2/verdicts written from {@link VerdictRow} records is the table the hand-built rows wrote before (issue 19): the
 * previous builder is kept below, verbatim, as the oracle, and both tables are written to Arrow and compared byte
 * for byte on the hand-made heads of {@link VerdictRulesTest} (with seeds, families and a ground truth) and
 * {@link VerdictDefectsTest} (no control, a head that raises the answer, missing effects).
 */
class VerdictRowTest {
    @Test
    void theRecordTableIsByteForByteTheHandBuiltOne(@TempDir Path dir) throws Exception {
        VerdictInputs in = VerdictRulesTest.inputs(5);
        Verdicts.Result pooled = VerdictRulesTest.decide(in);
        Map<Head, Roles.HeadRole> roles = Roles.assign(in.attention(), in.copying(), T, x -> true);
        Verdicts.Result none = Verdicts.decide(VerdictRulesTest.withoutHead(in, VerdictRulesTest.IND), T, roles, x -> true, "none");
        Map<Integer, Verdicts.Result> seeds = new TreeMap<>(Map.of(1, pooled, 2, none, 3, pooled));
        Map<String, Verdicts.Result> families = new LinkedHashMap<>();
        families.put("words", none);
        families.put("symbols", pooled);
        Map<Head, String> truthRoles = new TreeMap<>();
        Map<Head, Boolean> inCircuit = new TreeMap<>();
        for (Verdicts.HeadVerdict v : pooled.heads()) {
            truthRoles.put(v.head(), v.head().layer() == 1 ? "induction" : "other");
            inCircuit.put(v.head(), v.head().layer() == 1);
        }
        Optional<PlantedTruth> truth = Optional.of(new PlantedTruth(truthRoles, inCircuit));
        same(dir, "rules", pooled, seeds, families, truth);
        same(dir, "rules_no_truth", pooled, Map.of(1, pooled), Map.of(), Optional.empty());
        Verdicts.Result defects = VerdictDefectsTest.decide(VerdictDefectsTest.inputs(), T);
        same(dir, "defects", defects, Map.of(1, defects), Map.of("all", defects), Optional.empty());
    }

    private static void same(Path dir, String name, Verdicts.Result pooled, Map<Integer, Verdicts.Result> seeds,
                             Map<String, Verdicts.Result> families, Optional<PlantedTruth> truth) throws Exception {
        Map<Head, VerdictStage.Final> finals = VerdictStage.stabilize(pooled, seeds, T);
        Table before = legacyTable(pooled, finals, seeds, families, truth, "sha").build();
        Table after = VerdictStage.verdictTable(pooled, finals, seeds, families, truth, "sha").build();
        assertThat(after.columnNames()).as(name).isEqualTo(before.columnNames()).hasSizeGreaterThan(90);
        for (String c : before.columnNames()) {
            assertThat(after.column(c).type()).as(name + " " + c).isEqualTo(before.column(c).type());
            assertThat(after.column(c).values()).as(name + " " + c).isEqualTo(before.column(c).values());
            assertThat(after.description(c)).as(name + " " + c).isEqualTo(before.description(c)).isNotBlank();
        }
        // the inputs exercise what the rows set conditionally: undefined CIs, absent tests, compositions, truth
        assertThat(before.column("p_raw_leave_one_out").values()).as(name).contains((Object) null);
        assertThat(before.column("composition_receiver").values().stream().anyMatch(v -> v != null)).as(name).isTrue();
        Path a = dir.resolve(name + "_before.arrow"), b = dir.resolve(name + "_after.arrow");
        ArrowTables.write(a, before);
        ArrowTables.write(b, after);
        assertThat(Files.readAllBytes(b)).as(name + ": the Arrow files").isEqualTo(Files.readAllBytes(a));
    }

    @Test
    void theTestColumnsAreVerdictsTestsInOrder() {
        assertThat(RecordSchema.componentNames(VerdictRow.Tests.class)).isEqualTo(Verdicts.TESTS);
    }

    // ------------------------------------------------------------ the hand-built rows this change replaced

        static TableBuilder legacyTable(Verdicts.Result pooled, Map<Head, VerdictStage.Final> finals, Map<Integer, Verdicts.Result> bySeed,
                                         Map<String, Verdicts.Result> byFamily, Optional<PlantedTruth> truth, String sha) {
            TableBuilder b = Table.builder(VerdictStage.VERDICTS).keys("layer", "head").int64("layer", "head")
                    .string("head_id", "role", "attention_role", "circuit_kind", "verdict", "reason")
                    .stringList("inconclusive_reason").float64("p_adjusted_min");
            for (String s : SCORES) b.float64(s, s + "_ci_low", s + "_ci_high");
            b.float64("copy_chance").bool("copying").float64("anti_copy_fraction").bool("anti_copying").int64("expected_sign");
            for (String test : Verdicts.TESTS) b.float64("p_raw_" + test, "p_adjusted_" + test, "p_raw_negative_" + test,
                    "p_adjusted_negative_" + test, "expected_sign_fraction_" + test).int64("n_" + test);
            b.string("composition_receiver").float64("p_composition_adjusted").int64("seeds_confirmed", "n_seeds")
                    .stringList("seed_verdicts", "family_verdicts").string("truth_role").bool("truth_in_circuit").metadata(ProtocolStage.SHA_METADATA, sha);
            for (Verdicts.HeadVerdict v : pooled.heads()) {
                Head h = v.head();
                VerdictStage.Final fin = finals.get(h);
                TableBuilder.RowBuilder r = b.row().set("layer", h.layer()).set("head", h.head()).set("head_id", h.label())
                        .set("role", v.role().role()).set("attention_role", v.role().attentionRole())
                        .set("circuit_kind", fin.verdict().equals(Verdicts.CONFIRMED) ? v.kind() : "")
                        .set("verdict", fin.verdict()).set("reason", fin.reason()).set("inconclusive_reason", fin.reasonCodes())
                        .set("p_adjusted_min", v.pAdjusted()).set("copy_chance", v.role().copyChance()).set("copying", v.role().copying())
                        .set("anti_copying", v.role().antiCopying()).set("expected_sign", v.expectedSign());
                if (v.role().antiCopy().defined()) r.set("anti_copy_fraction", v.role().antiCopy().estimate());
                Map<String, Interval> scores = scores(pooled, v);
                scores.forEach((name, iv) -> {
                    if (iv == null || !iv.defined()) return;
                    r.set(name, iv.estimate());
                    if (!Double.isNaN(iv.low())) r.set(name + "_ci_low", iv.low()).set(name + "_ci_high", iv.high());
                });
                v.effects().forEach((test, e) -> r.set("p_raw_" + test, e.p()).set("p_adjusted_" + test, v.adjusted().get(test))
                        .set("p_raw_negative_" + test, e.pNegative()).set("p_adjusted_negative_" + test, v.adjustedNegative().get(test))
                        .set("expected_sign_fraction_" + test, e.signFraction(v.expectedSign())).set("n_" + test, e.n()));
                bestComposition(pooled, h).ifPresent(c -> r.set("composition_receiver", c.receiver().label())
                        .set("p_composition_adjusted", c.pAdjusted()));
                r.set("seeds_confirmed", fin.seedsConfirmed()).set("n_seeds", bySeed.size())
                        .set("seed_verdicts", bySeed.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue().head(h).verdict()).toList())
                        .set("family_verdicts", byFamily.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue().head(h).verdict()).toList());
                truth.ifPresent(tr -> r.set("truth_role", tr.roles().get(h)).set("truth_in_circuit", tr.inCircuit().get(h)));
                r.add();
            }
            return b;
        }

        /** The deciding scores, each written with its CI. */
        static final List<String> SCORES = List.of("induction_excess", "duplicate_excess", "previous_excess", "bos_attention",
                "copy_fraction", "gap", "mean_ablation_drop", "mean_ablation_norm", "resample_ablation_drop",
                "resample_ablation_norm", "denoising_recovery", "denoising_norm", "leave_one_out_norm", "control_effect_norm",
                "control_margin_norm", "composition_norm");

        private static Map<String, Interval> scores(Verdicts.Result pooled, Verdicts.HeadVerdict v) {
            Map<String, Interval> m = new LinkedHashMap<>();
            Roles.HeadRole r = v.role();
            m.put("induction_excess", r.induction());
            m.put("duplicate_excess", r.duplicate());
            m.put("previous_excess", r.previous());
            m.put("bos_attention", r.bos());
            m.put("copy_fraction", r.copy());
            m.put("gap", pooled.gap());
            Map<String, Verdicts.Effect> e = v.effects();
            if (e.containsKey(Verdicts.MEAN)) {
                m.put("mean_ablation_drop", e.get(Verdicts.MEAN).raw());
                m.put("mean_ablation_norm", e.get(Verdicts.MEAN).normalized());
            }
            if (e.containsKey(Verdicts.RESAMPLE)) {
                m.put("resample_ablation_drop", e.get(Verdicts.RESAMPLE).raw());
                m.put("resample_ablation_norm", e.get(Verdicts.RESAMPLE).normalized());
            }
            if (e.containsKey(Verdicts.DENOISE)) {
                m.put("denoising_recovery", e.get(Verdicts.DENOISE).raw());
                m.put("denoising_norm", e.get(Verdicts.DENOISE).normalized());
            }
            if (e.containsKey(Verdicts.LOO)) m.put("leave_one_out_norm", e.get(Verdicts.LOO).normalized());
            if (v.control() != null) m.put("control_effect_norm", v.control().normalized());
            if (v.controlMargin() != null) m.put("control_margin_norm", v.controlMargin());
            bestComposition(pooled, v.head()).ifPresent(c -> m.put("composition_norm", c.effect().normalized()));
            return m;
        }

        private static Optional<Verdicts.Composition> bestComposition(Verdicts.Result pooled, Head sender) {
            return pooled.compositions().stream().filter(c -> c.sender().equals(sender))
                    .min((a, b) -> a.pAdjusted() != b.pAdjusted() ? Double.compare(a.pAdjusted(), b.pAdjusted())
                            : Double.compare(b.effect().normalized().estimate(), a.effect().normalized().estimate()));
        }
}
