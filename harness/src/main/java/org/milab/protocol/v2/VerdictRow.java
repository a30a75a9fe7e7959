package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.Flattened;
import org.milab.tables.Inline;
import org.milab.tables.OuterName;
import org.milab.tables.RecordSchema;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * A row of {@code v2/verdicts}: one head's pooled decision, its final verdict and the evidence behind it. The ~90
 * columns are this record tree flattened ({@link RecordSchema}): each of the {@link Scores} is an estimate and its
 * CI ({@link Ci}: {@code x}, {@code x_ci_low}, {@code x_ci_high}), each of the {@link Tests} six numbers named after
 * the test ({@link TestP}: {@code p_raw_<test>} ... {@code n_<test>}), so a renamed component renames its columns.
 * Descriptions come from the glossary's {@code [verdicts]} section.
 */
record VerdictRow(int layer, int head, String headId, String role, String attentionRole, String circuitKind, String verdict,
                  String reason, List<String> inconclusiveReason, double pAdjustedMin, @Inline Scores<Ci> scores,
                  double copyChance, boolean copying, Double antiCopyFraction, boolean antiCopying, int expectedSign,
                  @Inline Tests tests, String compositionReceiver, Double pCompositionAdjusted, int seedsConfirmed, int nSeeds,
                  List<String> seedVerdicts, List<String> familyVerdicts, String truthRole, Boolean truthInCircuit) {

    static VerdictRow of(Verdicts.Result pooled, Verdicts.HeadVerdict v, VerdictStage.Final fin,
                         Map<Integer, Verdicts.Result> bySeed, Map<String, Verdicts.Result> byFamily, Optional<PlantedTruth> truth) {
        Head h = v.head();
        Roles.HeadRole r = v.role();
        Optional<Verdicts.Composition> comp = VerdictStage.bestComposition(pooled, h);
        return new VerdictRow(h.layer(), h.head(), h.label(), r.role(), r.attentionRole(),
                fin.verdict().equals(Verdicts.CONFIRMED) ? v.kind() : "", fin.verdict(), fin.reason(), fin.reasonCodes(),
                v.pAdjusted(), Scores.of(pooled, v).map(Ci::of), r.copyChance(), r.copying(),
                r.antiCopy().defined() ? r.antiCopy().estimate() : null, r.antiCopying(), v.expectedSign(), Tests.of(v),
                comp.map(c -> c.receiver().label()).orElse(null), comp.map(Verdicts.Composition::pAdjusted).orElse(null),
                fin.seedsConfirmed(), bySeed.size(),
                bySeed.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue().head(h).verdict()).toList(),
                byFamily.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue().head(h).verdict()).toList(),
                truth.map(tr -> tr.roles().get(h)).orElse(null), truth.map(tr -> tr.inCircuit().get(h)).orElse(null));
    }

    /**
     * The deciding scores of a head, each an interval ({@code T = Interval}) or its columns ({@code T = Ci}); null
     * where the head has none (a test that did not run, no control, no composition as sender). The same names key
     * circuit.json's evidence and the summary.
     */
    record Scores<T>(T inductionExcess, T duplicateExcess, T previousExcess, T bosAttention, T copyFraction, T gap,
                     T meanAblationDrop, T meanAblationNorm, T resampleAblationDrop, T resampleAblationNorm,
                     T denoisingRecovery, T denoisingNorm, T leaveOneOutNorm, T controlEffectNorm, T controlMarginNorm,
                     T compositionNorm) {
        static Scores<Interval> of(Verdicts.Result pooled, Verdicts.HeadVerdict v) {
            Roles.HeadRole r = v.role();
            Map<String, Verdicts.Effect> e = v.effects();
            return new Scores<>(r.induction(), r.duplicate(), r.previous(), r.bos(), r.copy(), pooled.gap(),
                    raw(e, Verdicts.MEAN), norm(e, Verdicts.MEAN), raw(e, Verdicts.RESAMPLE), norm(e, Verdicts.RESAMPLE),
                    raw(e, Verdicts.DENOISE), norm(e, Verdicts.DENOISE), norm(e, Verdicts.LOO),
                    v.control() == null ? null : v.control().normalized(), v.controlMargin(),
                    VerdictStage.bestComposition(pooled, v.head()).map(c -> c.effect().normalized()).orElse(null));
        }

        private static Interval raw(Map<String, Verdicts.Effect> e, String test) {
            return e.containsKey(test) ? e.get(test).raw() : null;
        }

        private static Interval norm(Map<String, Verdicts.Effect> e, String test) {
            return e.containsKey(test) ? e.get(test).normalized() : null;
        }

        /** Each score through {@code f} (null stays null). */
        <U> Scores<U> map(Function<T, U> f) {
            Function<T, U> g = t -> t == null ? null : f.apply(t);
            return new Scores<>(g.apply(inductionExcess), g.apply(duplicateExcess), g.apply(previousExcess), g.apply(bosAttention),
                    g.apply(copyFraction), g.apply(gap), g.apply(meanAblationDrop), g.apply(meanAblationNorm),
                    g.apply(resampleAblationDrop), g.apply(resampleAblationNorm), g.apply(denoisingRecovery), g.apply(denoisingNorm),
                    g.apply(leaveOneOutNorm), g.apply(controlEffectNorm), g.apply(controlMarginNorm), g.apply(compositionNorm));
        }

        /** Score name (the column name of its estimate) to value, in column order; null where the head has none. */
        @SuppressWarnings("unchecked")
        Map<String, T> byName() {
            return (Map<String, T>) (Map<String, ?>) RecordSchema.components(this);
        }
    }

    /** A score's columns: the estimate (null when undefined) and its 95% bootstrap CI (null when the CI is undefined). */
    @Flattened(Flattened.Order.OUTER_INNER)
    record Ci(@OuterName Double estimate, Double ciLow, Double ciHigh) {
        static Ci of(Interval iv) {
            if (!iv.defined()) return null;
            boolean ci = !Double.isNaN(iv.low());
            return new Ci(iv.estimate(), ci ? iv.low() : null, ci ? iv.high() : null);
        }
    }

    /** The per-test columns, one component per {@link Verdicts#TESTS} in that order (a test asserts they agree). */
    record Tests(TestP meanAblation, TestP resampleAblation, TestP denoising, TestP leaveOneOut) {
        static Tests of(Verdicts.HeadVerdict v) {
            List<String> names = RecordSchema.componentNames(Tests.class);
            for (String t : v.effects().keySet())
                if (!names.contains(t)) throw new IllegalStateException("Test '" + t + "' has no columns in v2/verdicts (VerdictRow.Tests)");
            return new Tests(TestP.of(v, Verdicts.MEAN), TestP.of(v, Verdicts.RESAMPLE), TestP.of(v, Verdicts.DENOISE),
                    TestP.of(v, Verdicts.LOO));
        }
    }

    /** One test's columns, named {@code <column>_<test>}; all null when the head has no such effect. */
    @Flattened(Flattened.Order.INNER_OUTER)
    record TestP(Double pRaw, Double pAdjusted, Double pRawNegative, Double pAdjustedNegative, Double expectedSignFraction,
                 Integer n) {
        static TestP of(Verdicts.HeadVerdict v, String test) {
            Verdicts.Effect e = v.effects().get(test);
            if (e == null) return null;
            return new TestP(e.p(), v.adjusted().get(test), e.pNegative(), v.adjustedNegative().get(test),
                    e.signFraction(v.expectedSign()), e.n());
        }
    }
}
