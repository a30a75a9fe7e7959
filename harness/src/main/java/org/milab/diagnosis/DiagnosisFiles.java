package org.milab.diagnosis;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.tables.Describe;
import org.milab.tables.RecordSchema;
import org.milab.util.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes a diagnosis as {@code diagnosis.json} (summary + per head) and the per-head table {@code diagnosis.arrow}. */
public final class DiagnosisFiles {
    public static final String JSON_FILE = "diagnosis.json", TABLE = "diagnosis";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private DiagnosisFiles() {}

    public static void write(Path dir, InductionDiagnosis.Result r) {
        try {
            AtomicFiles.writeString(dir.resolve(JSON_FILE), JSON.writeValueAsString(toJson(r)) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ArrowTables.writeInto(dir, table(r));
    }

    /** An estimate with its 95% bootstrap interval, rounded to 4 decimals as diagnosis.json shows it. */
    record Estimate(double estimate, double ciLow, double ciHigh) {
        static Estimate of(Interval i) {
            return new Estimate(round(i.estimate()), round(i.low()), round(i.high()));
        }
    }

    /** One head of diagnosis.json. */
    record HeadEntry(String headId, double prefixMatching, double duplicateToken, double previousToken,
                     Estimate ablationSecondCopyDelta, Estimate ablationSecondCopyNorm, Estimate ablationFirstCopyDelta,
                     String diagnosis) {}

    /**
     * diagnosis.json. {@code settings} and {@code thresholds} keep the keys Jackson gives their records
     * ({@code spanLength}, ...), which the committed zoo diagnoses carry.
     */
    record Summary(String model, String method, Map<String, Object> settings, Map<String, Object> thresholds,
                   int tokensDrawnFrom, Estimate firstCopyLoss, Estimate secondCopyLoss, Estimate inductionGap,
                   Map<String, List<String>> classes, List<HeadEntry> heads) {}

    /** One row of the per-head table {@code diagnosis}. */
    record Row(int layer, int head, String headId,
               @Describe("mean attention from a second-copy token to the token after its earlier occurrence") double prefixMatching,
               @Describe("mean attention from a second-copy token to its earlier occurrence") double duplicateToken,
               @Describe("mean attention from each position q >= 2 to q - 1 on BOS + r + r") double previousToken,
               @Describe("second-copy loss (nats) with the head's z mean-ablated minus clean; > 0: the head helps")
               double ablationSecondCopyDelta,
               @Describe("95% percentile-bootstrap CI low of ablation_second_copy_delta (over sequences)")
               double ablationSecondCopyDeltaCiLow,
               @Describe("95% percentile-bootstrap CI high of ablation_second_copy_delta") double ablationSecondCopyDeltaCiHigh,
               @Describe("ablation_second_copy_delta / induction gap (first-copy minus second-copy loss)")
               double ablationSecondCopyNorm,
               @Describe("95% bootstrap CI low of the normalized effect (effect and gap resampled jointly)")
               double ablationSecondCopyNormCiLow,
               @Describe("95% bootstrap CI high of the normalized effect") double ablationSecondCopyNormCiHigh,
               @Describe("first-copy loss (nats) ablated minus clean: the head's effect where no induction is possible")
               double ablationFirstCopyDelta,
               @Describe("induction | previous_token | negative | not_involved | unclear, by the declared thresholds")
               String diagnosis) {
        static Row of(InductionDiagnosis.HeadRow h) {
            return new Row(h.layer(), h.head(), h.headId(), h.prefixScore(), h.duplicateScore(), h.previousTokenScore(),
                    h.secondCopyDelta().estimate(), h.secondCopyDelta().low(), h.secondCopyDelta().high(),
                    h.secondCopyNorm().estimate(), h.secondCopyNorm().low(), h.secondCopyNorm().high(),
                    h.firstCopyDelta().estimate(), h.diagnosis().label());
        }
    }

    public static Map<String, Object> toJson(InductionDiagnosis.Result r) {
        Map<String, List<String>> classes = new LinkedHashMap<>();
        for (HeadClass c : HeadClass.values()) classes.put(c.label(), r.headsOf(c));
        List<HeadEntry> heads = r.heads().stream().map(h -> new HeadEntry(h.headId(), round(h.prefixScore()),
                round(h.duplicateScore()), round(h.previousTokenScore()), Estimate.of(h.secondCopyDelta()),
                Estimate.of(h.secondCopyNorm()), Estimate.of(h.firstCopyDelta()), h.diagnosis().label())).toList();
        return RecordSchema.treeMap(new Summary(r.model(), "Olsson et al. 2022 on BOS + r + r (r distinct tokens, uniform "
                + "over every non-special token); plain-Java reference forward (org.milab.model.ReferenceGpt2); protocol v2 "
                + "never reads this", jacksonObject(r.settings()), jacksonObject(r.thresholds()), r.vocabularyDrawn(),
                Estimate.of(r.firstCopyLoss()), Estimate.of(r.secondCopyLoss()), Estimate.of(r.gap()), classes, heads));
    }

    private static Map<String, Object> jacksonObject(Record value) {
        return JSON.convertValue(value, new TypeReference<LinkedHashMap<String, Object>>() {});
    }

    static Table table(InductionDiagnosis.Result r) {
        return RecordSchema.of(Row.class).builder(TABLE, r.heads().stream().map(Row::of).toList(), "layer", "head")
                .metadata("milab.diagnosis.model", r.model()).build();
    }

    private static double round(double x) {
        return Double.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
    }
}
