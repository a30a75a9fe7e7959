package org.milab.diagnosis;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
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

    public static Map<String, Object> toJson(InductionDiagnosis.Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", r.model());
        m.put("method", "Olsson et al. 2022 on BOS + r + r (r distinct tokens, uniform over every non-special token); "
                + "plain-Java reference forward (org.milab.model.ReferenceGpt2); protocol v2 never reads this");
        m.put("settings", r.settings());
        m.put("thresholds", r.thresholds());
        m.put("tokens_drawn_from", r.vocabularyDrawn());
        m.put("first_copy_loss", interval(r.firstCopyLoss()));
        m.put("second_copy_loss", interval(r.secondCopyLoss()));
        m.put("induction_gap", interval(r.gap()));
        Map<String, Object> classes = new LinkedHashMap<>();
        for (HeadClass c : HeadClass.values()) classes.put(c.label(), r.headsOf(c));
        m.put("classes", classes);
        List<Object> heads = new ArrayList<>();
        for (InductionDiagnosis.HeadRow h : r.heads()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("head_id", h.headId());
            x.put("prefix_matching", round(h.prefixScore()));
            x.put("duplicate_token", round(h.duplicateScore()));
            x.put("previous_token", round(h.previousTokenScore()));
            x.put("ablation_second_copy_delta", interval(h.secondCopyDelta()));
            x.put("ablation_second_copy_norm", interval(h.secondCopyNorm()));
            x.put("ablation_first_copy_delta", interval(h.firstCopyDelta()));
            x.put("diagnosis", h.diagnosis().label());
            heads.add(x);
        }
        m.put("heads", heads);
        return m;
    }

    static Table table(InductionDiagnosis.Result r) {
        TableBuilder b = Table.builder(TABLE).keys("layer", "head").int64("layer", "head").string("head_id")
                .float64("prefix_matching", "duplicate_token", "previous_token",
                        "ablation_second_copy_delta", "ablation_second_copy_delta_ci_low", "ablation_second_copy_delta_ci_high",
                        "ablation_second_copy_norm", "ablation_second_copy_norm_ci_low", "ablation_second_copy_norm_ci_high",
                        "ablation_first_copy_delta")
                .string("diagnosis")
                .describe("prefix_matching", "mean attention from a second-copy token to the token after its earlier occurrence")
                .describe("duplicate_token", "mean attention from a second-copy token to its earlier occurrence")
                .describe("previous_token", "mean attention from each position q >= 2 to q - 1 on BOS + r + r")
                .describe("ablation_second_copy_delta", "second-copy loss (nats) with the head's z mean-ablated minus clean; > 0: the head helps")
                .describe("ablation_second_copy_delta_ci_low", "95% percentile-bootstrap CI low of ablation_second_copy_delta (over sequences)")
                .describe("ablation_second_copy_delta_ci_high", "95% percentile-bootstrap CI high of ablation_second_copy_delta")
                .describe("ablation_second_copy_norm", "ablation_second_copy_delta / induction gap (first-copy minus second-copy loss)")
                .describe("ablation_second_copy_norm_ci_low", "95% bootstrap CI low of the normalized effect (effect and gap resampled jointly)")
                .describe("ablation_second_copy_norm_ci_high", "95% bootstrap CI high of the normalized effect")
                .describe("ablation_first_copy_delta", "first-copy loss (nats) ablated minus clean: the head's effect where no induction is possible")
                .describe("diagnosis", "induction | previous_token | negative | not_involved | unclear, by the declared thresholds")
                .metadata("milab.diagnosis.model", r.model());
        for (InductionDiagnosis.HeadRow h : r.heads())
            b.row().set("layer", (long) h.layer()).set("head", (long) h.head()).set("head_id", h.headId())
                    .set("prefix_matching", h.prefixScore()).set("duplicate_token", h.duplicateScore())
                    .set("previous_token", h.previousTokenScore())
                    .set("ablation_second_copy_delta", h.secondCopyDelta().estimate())
                    .set("ablation_second_copy_delta_ci_low", h.secondCopyDelta().low())
                    .set("ablation_second_copy_delta_ci_high", h.secondCopyDelta().high())
                    .set("ablation_second_copy_norm", h.secondCopyNorm().estimate())
                    .set("ablation_second_copy_norm_ci_low", h.secondCopyNorm().low())
                    .set("ablation_second_copy_norm_ci_high", h.secondCopyNorm().high())
                    .set("ablation_first_copy_delta", h.firstCopyDelta().estimate())
                    .set("diagnosis", h.diagnosis().label()).add();
        return b.build();
    }

    private static Map<String, Object> interval(Interval i) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("estimate", round(i.estimate()));
        m.put("ci_low", round(i.low()));
        m.put("ci_high", round(i.high()));
        return m;
    }

    private static double round(double x) {
        return Double.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
    }
}
