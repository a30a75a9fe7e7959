package org.milab.protocol.reference;

import org.milab.protocol.reference.MetricCalibrationStage.FamilyMean;
import org.junit.jupiter.api.Test;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.prompts.CalibrationBank;
import org.milab.prompts.CalibrationPrompt;
import org.milab.tokenizer.TestTokenizers;
import org.milab.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.milab.protocol.reference.MetricCalibrationStage.BLOCKED_TOKENIZATION;
import static org.milab.protocol.reference.MetricCalibrationStage.CALIBRATED;
import static org.milab.protocol.reference.MetricCalibrationStage.METRIC_NEEDS_REVISION;
import static org.milab.protocol.reference.MetricCalibrationStage.PROMPT_BANK_NEEDS_REVISION;
import static org.milab.protocol.reference.MetricCalibrationStage.status;

/** Every branch of the S19 status rule, on hand-made family rows, and the aggregation on hand-made example rows. */
class MetricCalibrationRulesTest {
    private static final List<Double> GOOD = List.of(1.0, 2.0);

    private static FamilyMean pos(String f, double mean, double frac) {
        return new FamilyMean(f, true, mean, frac);
    }

    private static FamilyMean ctl(String f, double mean, double frac) {
        return new FamilyMean(f, false, mean, frac);
    }

    /** Positive mean 2.0 (1.5 and 2.5), weakest 1.5, all fractions 1.0; control max 0.5 at fraction 0.1: calibrated. */
    private static List<FamilyMean> passing() {
        return List.of(pos("p1", 1.5, 1.0), pos("p2", 2.5, 1.0), ctl("c1", 0.5, 0.1), ctl("c2", -1.0, 0.0));
    }

    @Test
    void passingBankIsCalibrated() {
        assertThat(status(0, passing(), GOOD, GOOD)).isEqualTo(CALIBRATED);
    }

    @Test
    void anyTokenizationErrorBlocksFirstEvenWithNoFamilies() {
        assertThat(status(1, passing(), GOOD, GOOD)).isEqualTo(BLOCKED_TOKENIZATION);
        assertThat(status(3, List.of(), List.of(), List.of())).isEqualTo(BLOCKED_TOKENIZATION);
    }

    @Test
    void noFamilyRowsNeedsMetricRevision() {
        assertThat(status(0, List.of(), List.of(), List.of())).isEqualTo(METRIC_NEEDS_REVISION);
    }

    @Test
    void missingPositiveOrControlFamiliesNeedsBankRevision() {
        assertThat(status(0, List.of(ctl("c", 0.0, 0.0)), GOOD, GOOD)).isEqualTo(PROMPT_BANK_NEEDS_REVISION);
        assertThat(status(0, List.of(pos("p", 5.0, 1.0)), GOOD, GOOD)).isEqualTo(PROMPT_BANK_NEEDS_REVISION);
    }

    @Test
    void nonPositiveDomainOrBucketMeanNeedsBankRevisionBeforeTheMetricChecks() {
        assertThat(status(0, passing(), List.of(1.0, 0.0), GOOD)).isEqualTo(PROMPT_BANK_NEEDS_REVISION);
        assertThat(status(0, passing(), GOOD, List.of(-0.1))).isEqualTo(PROMPT_BANK_NEEDS_REVISION);
        // a mean within the decision tolerance of zero is float noise, not a positive mean (issue 10)
        assertThat(status(0, passing(), List.of(Double.MIN_VALUE), GOOD)).isEqualTo(PROMPT_BANK_NEEDS_REVISION);
        assertThat(status(0, passing(), List.of(2e-5), GOOD)).isEqualTo(CALIBRATED);
        // the bank check comes first: a failing metric with a bad domain still reports the bank
        List<FamilyMean> failingMetric = List.of(pos("p", 1.0, 1.0), ctl("c", 0.9, 0.9));
        assertThat(status(0, failingMetric, List.of(0.0), GOOD)).isEqualTo(PROMPT_BANK_NEEDS_REVISION);
    }

    @Test
    void gapAtOrBelowQuarterNeedsMetricRevision() {
        // positive mean 2.0; control 1.75 gives a gap of exactly 0.25 (<= fails), 1.7499 passes
        List<FamilyMean> atBoundary = List.of(pos("p1", 1.9, 1.0), pos("p2", 2.1, 1.0), ctl("c", 1.75, 0.0));
        assertThat(status(0, atBoundary, GOOD, GOOD)).isEqualTo(METRIC_NEEDS_REVISION);
        List<FamilyMean> justAbove = List.of(pos("p1", 1.9, 1.0), pos("p2", 2.1, 1.0), ctl("c", 1.7499, 0.0));
        assertThat(status(0, justAbove, GOOD, GOOD)).isEqualTo(CALIBRATED);
    }

    @Test
    void controlReachingTheWeakestPositiveFamilyNeedsMetricRevision() {
        // gap 2.0 is large, but the control equals the weakest positive family (equality fails)
        List<FamilyMean> equal = List.of(pos("weak", 1.0, 1.0), pos("strong", 5.0, 1.0), ctl("c", 1.0, 0.0));
        assertThat(status(0, equal, GOOD, GOOD)).isEqualTo(METRIC_NEEDS_REVISION);
        List<FamilyMean> below = List.of(pos("weak", 1.0, 1.0), pos("strong", 5.0, 1.0), ctl("c", 0.999, 0.0));
        assertThat(status(0, below, GOOD, GOOD)).isEqualTo(CALIBRATED);
    }

    @Test
    void positiveFractionBelowEightyPercentNeedsMetricRevision() {
        List<FamilyMean> low = List.of(pos("p1", 2.0, 0.7), pos("p2", 2.0, 0.89), ctl("c", 0.0, 0.0)); // mean 0.795
        assertThat(status(0, low, GOOD, GOOD)).isEqualTo(METRIC_NEEDS_REVISION);
        List<FamilyMean> exactly = List.of(pos("p1", 2.0, 0.8), pos("p2", 2.0, 0.8), ctl("c", 0.0, 0.0)); // 0.80 passes
        assertThat(status(0, exactly, GOOD, GOOD)).isEqualTo(CALIBRATED);
    }

    @Test
    void controlFractionAboveTwentyPercentNeedsMetricRevision() {
        List<FamilyMean> high = List.of(pos("p", 2.0, 1.0), ctl("c1", 0.0, 0.2000001), ctl("c2", 0.0, 0.0));
        assertThat(status(0, high, GOOD, GOOD)).isEqualTo(METRIC_NEEDS_REVISION);
        List<FamilyMean> exactly = List.of(pos("p", 2.0, 1.0), ctl("c1", 0.0, 0.2), ctl("c2", 0.0, 0.0)); // 0.20 passes
        assertThat(status(0, exactly, GOOD, GOOD)).isEqualTo(CALIBRATED);
    }

    @Test
    void nanFamilyMeansAreSkippedAsPandasDoes() {
        List<FamilyMean> withNaN = new ArrayList<>(passing());
        withNaN.add(ctl("empty", Double.NaN, 0.0));
        withNaN.add(pos("emptyPos", Double.NaN, 1.0));
        assertThat(status(0, withNaN, GOOD, GOOD)).isEqualTo(CALIBRATED);
    }

    @Test
    void everyBankRowValidatesWithTheRealGpt2TokenizerAndGivesTheReferenceIds() {
        // the spec's golden ids (section 1.2), from the reference's validated bank
        Map<String, Integer> golden = Map.ofEntries(Map.entry(" D", 360), Map.entry(" A", 317), Map.entry(" B", 347),
                Map.entry(" I", 314), Map.entry(" E", 412), Map.entry(" F", 376), Map.entry(" T", 309), Map.entry(" N", 399),
                Map.entry(" P", 350), Map.entry(" yellow", 7872), Map.entry(" red", 2266), Map.entry(" blue", 4171),
                Map.entry(" center", 3641), Map.entry(" north", 5093), Map.entry(" south", 5366), Map.entry(" cow", 9875),
                Map.entry(" cat", 3797), Map.entry(" dog", 3290), Map.entry(" four", 1440), Map.entry(" one", 530),
                Map.entry(" two", 734), Map.entry(" ten", 3478), Map.entry(" three", 1115), Map.entry(" six", 2237),
                Map.entry(" eighteen", 29095));
        int checked = 0;
        try (Tokenizer tok = Tokenizer.load(TestTokenizers.gpt2TokenizerJson())) {
            for (CalibrationPrompt p : CalibrationBank.build()) {
                MetricCalibrationStage.Validation v = MetricCalibrationStage.validate(tok, p);
                assertThat(v.status()).as(p.exampleId()).isEqualTo("ok");
                assertThat(v.error()).isEmpty();
                Integer t = golden.get(p.trueExpectedNextToken()), c = golden.get(p.wrongOrControlToken());
                if (t != null) { assertThat(v.trueId()).isEqualTo(t); checked++; }
                if (c != null) { assertThat(v.controlId()).isEqualTo(c); checked++; }
            }
        }
        assertThat(checked).isGreaterThan(100);
    }

    @Test
    void eachValidationFailureIsRecordedWithItsText() {
        CalibrationPrompt base = CalibrationBank.build().get(0);
        try (Tokenizer tok = Tokenizer.load(TestTokenizers.gpt2TokenizerJson())) {
            MetricCalibrationStage.Validation multi = MetricCalibrationStage.validate(tok, with(base, " Xylophonequux", " A", "A B"));
            assertThat(multi.status()).isEqualTo("tokenization_error");
            assertThat(multi.error()).contains("' Xylophonequux'").contains("not a single token");
            assertThat(multi.trueId()).isNull();
            MetricCalibrationStage.Validation same = MetricCalibrationStage.validate(tok, with(base, " A", " A", "A B"));
            assertThat(same.error()).isEqualTo("expected and control tokens resolve to the same token id");
            assertThat(same.trueId()).isEqualTo(317);
            assertThat(same.controlId()).isEqualTo(317);
            MetricCalibrationStage.Validation empty = MetricCalibrationStage.validate(tok, with(base, " D", " A", ""));
            assertThat(empty.error()).isEqualTo("prompt tokenized to an empty sequence");
            assertThat(empty.controlId()).isEqualTo(317);
        }
    }

    private static CalibrationPrompt with(CalibrationPrompt p, String trueToken, String control, String prompt) {
        return new CalibrationPrompt(p.exampleId(), p.task(), p.family(), prompt, trueToken, control, trueToken,
                p.tokenDomain(), p.sequenceLengthBucket(), p.shouldShowInductionBehavior(), p.expectedBehavior(),
                p.controlRationale());
    }

    /** Example rows: family, positive, domain, bucket, diff, prob gap, target rank (metric ok) or a tokenization error. */
    private static Table examples(Object[]... rows) {
        TableBuilder b = Table.builder("metric_calibration_by_example").keys("example_id")
                .string("example_id", "family", "token_domain", "sequence_length_bucket").bool("should_show_induction_behavior")
                .string("validation_status", "metric_status").float64("true_vs_control_logit_diff", "probability_gap")
                .int64("target_rank");
        int i = 0;
        for (Object[] r : rows) {
            boolean ok = r[4] != null;
            b.addRow("e" + i++, r[0], r[2], r[3], r[1], ok ? "ok" : "tokenization_error", ok ? "ok" : "not_scored", r[4],
                    r[5], r[6]);
        }
        return b.build();
    }

    @Test
    void familiesAndSummaryAggregateScoredRowsOnly() {
        Table ex = examples(
                new Object[] {"calib_clean_repeat_word", true, "word", "short", 3.0, 0.5, 1L},
                new Object[] {"calib_clean_repeat_word", true, "word", "long", -1.0, -0.1, 4L},
                new Object[] {"calib_clean_repeat_word", true, "word", "long", null, null, null},
                new Object[] {"calib_clean_repeat_format_variant", true, "number", "short", 6.0, 0.9, 1L},
                new Object[] {"calib_no_repeat_control", false, "word", "short", 0.5, 0.0, 2L},
                new Object[] {"calib_no_repeat_control", false, "number", "long", -0.5, 0.0, 7L});
        Table fam = MetricCalibrationStage.byFamily(ex).build();
        // families in sorted order, the unscored row dropped
        assertThat(fam.strings("family")).containsExactly("calib_clean_repeat_format_variant", "calib_clean_repeat_word",
                "calib_no_repeat_control");
        Table.Row word = fam.row(1);
        assertThat(word.getLong("n_examples")).isEqualTo(2);
        assertThat(word.getStrings("token_domains")).containsExactly("word");
        assertThat(word.getStrings("sequence_length_buckets")).containsExactly("long", "short");
        assertThat(word.getDouble("mean_true_vs_control_logit_diff")).isEqualTo(1.0);
        assertThat(word.getDouble("median_true_vs_control_logit_diff")).isEqualTo(1.0);
        assertThat(word.getDouble("fraction_diff_positive")).isEqualTo(0.5);
        assertThat(word.getDouble("mean_probability_gap")).isCloseTo(0.2, within(1e-12));
        assertThat(word.getDouble("median_target_rank")).isEqualTo(2.5);
        assertThat(fam.row(2).getStrings("token_domains")).containsExactly("number", "word");

        Map<String, Object> s = MetricCalibrationStage.summary(ex, fam);
        assertThat(s.get("validation_counts")).isEqualTo(Map.of("ok", 5L, "tokenization_error", 1L));
        assertThat(s.get("status")).isEqualTo(BLOCKED_TOKENIZATION);
        assertThat(s.get("search_allowed")).isEqualTo(false);
        // positive mean of family means (6 and 1), not of rows
        assertThat((Double) s.get("positive_mean_true_vs_control_logit_diff")).isEqualTo(3.5);
        assertThat((Double) s.get("max_control_mean_true_vs_control_logit_diff")).isEqualTo(0.0);
        assertThat((Double) s.get("positive_minus_max_control_gap")).isEqualTo(3.5);
        assertThat((Double) s.get("weakest_positive_family_mean")).isEqualTo(1.0);
        assertThat(s.get("weakest_positive_family")).isEqualTo("calib_clean_repeat_word");
        assertThat((Double) s.get("positive_mean_fraction_diff_positive")).isEqualTo(0.75);
        assertThat((Double) s.get("max_control_fraction_diff_positive")).isEqualTo(0.5);
        // per-domain and per-bucket positive means are pooled over rows, keys sorted
        assertThat(s.get("positive_domain_means")).isEqualTo(Map.of("number", 6.0, "word", 1.0));
        assertThat(new ArrayList<Object>(((Map<?, ?>) s.get("positive_length_means")).keySet())).containsExactly("long", "short");
        assertThat(s.get("positive_length_means")).isEqualTo(Map.of("long", -1.0, "short", 4.5));
        assertThat(s.get("hardest_control_family")).isEqualTo(Map.of("family", "calib_no_repeat_control",
                "mean_true_vs_control_logit_diff", 0.0, "fraction_diff_positive", 0.5));
    }

    @Test
    void withoutTokenizationErrorsTheRowPooledBucketMeanDecides() {
        Table ex = examples(
                new Object[] {"calib_clean_repeat_word", true, "word", "short", 3.0, 0.5, 1L},
                new Object[] {"calib_clean_repeat_word", true, "word", "long", -1.0, -0.1, 4L},
                new Object[] {"calib_no_repeat_control", false, "word", "short", -0.5, 0.0, 2L});
        Map<String, Object> s = MetricCalibrationStage.summary(ex, MetricCalibrationStage.byFamily(ex).build());
        assertThat(s.get("status")).isEqualTo(PROMPT_BANK_NEEDS_REVISION); // bucket "long" mean -1.0
        assertThat(s.get("thresholds")).isEqualTo(Map.of("min_positive_minus_max_control_gap", 0.25,
                "min_positive_fraction_diff_positive", 0.80, "max_control_fraction_diff_positive", 0.20));
    }
}
