package org.milab.planted;

import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphExporter;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.graph.ReferenceCheck;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.model.ReferenceGpt2.Trace;
import org.milab.runtime.Device;
import org.milab.runtime.Feeds;
import org.milab.runtime.ModelSessions;
import org.milab.runtime.TokenBatch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The planted model as `make export MODEL=planted-induction` produces it: its ONNX graphs agree with the
 * reference forward pass, and every behavioural check of the planted circuit passes on the graphs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PlantedGraphsTest {
    Planted planted;
    GraphExporter.Exported exported;
    ModelSessions sessions;

    @BeforeAll
    void export(@TempDir Path root) {
        planted = PlantedInductionModel.build(PlantedSpec.defaults());
        exported = ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        sessions = ModelSessions.open(exported.graphDir(), Device.CPU, 2);
    }

    @AfterAll
    void close() {
        sessions.close();
    }

    @Test
    void captureMatchesTheReferenceForwardPass() throws OrtException {
        List<int[]> prompts = List.of(planted.idsWithBos(List.of("A", "B", "C", "D", "A", "B", "C")),
                planted.idsWithBos(List.of("red", "blue", "green", "X", "Y", "Z")),
                planted.idsWithBos(List.of("one", "two", "three", "four", "one", "two", "three", "four", "one", "two", "three")));
        // residual entries reach ~65 here, so float32 rounding needs a relative term on top of 1e-4
        ReferenceCheck.assertCaptureMatches(sessions, new ReferenceGpt2(planted.checkpoint()), prompts, 1e-4, 1e-5);
    }

    @Test
    void manifestsCarryTheGroundTruth() {
        JsonNode gt = exported.manifests().get(GraphVariant.PATCH_Z).get("ground_truth");
        assertThat(gt).isNotNull();
        List<String> roles = new ArrayList<>();
        gt.get("heads").forEach(h -> roles.add(h.get("layer").asInt() + ":" + h.get("head").asInt() + ":" + h.get("role").asText()));
        assertThat(roles).contains("1:2:INDUCTION", "0:1:PREVIOUS_TOKEN", "1:0:DUPLICATE_TOKEN_NULL_OV");
        assertThat(exported.manifests().get(GraphVariant.CAPTURE).get("model").get("unembedding").asText()).startsWith("untied");
    }

    @Test
    void everyPlantedBehaviourHoldsOnTheExportedGraphs() {
        PlantedChecks.Report report = PlantedChecks.run(planted, this::runGraphs);
        System.out.println(report.render());
        assertThat(report.checks()).isNotEmpty();
        assertThat(report.checks().stream().filter(c -> !c.passed()).map(PlantedChecks.Check::name).toList()).isEmpty();
    }

    /** A PlantedChecks runner on the ONNX graphs: capture when unpatched, patch_z + unembed when patched. */
    private Trace runGraphs(int[] ids, Patches patches) {
        if (!patches.attnOut().isEmpty()) throw new UnsupportedOperationException("attn_out patches are not used here");
        ModelConfig c = planted.checkpoint().config();
        int L = c.nLayer(), H = c.nHead(), dh = c.dHead(), T = ids.length;
        Set<String> fetch = new LinkedHashSet<>();
        for (int l = 0; l < L; l++) {
            fetch.add(HookNames.hookZ(l));
            fetch.add(HookNames.hookPattern(l));
        }
        try (Feeds f = new Feeds(sessions.env()).batch(TokenBatch.of(List.of(ids)))) {
            Map<String, Feeds.Output> out;
            double[] logits;
            if (patches.z().isEmpty()) {
                fetch.add(HookNames.LOGITS_FINAL);
                out = f.run(sessions.session(GraphVariant.CAPTURE), fetch);
                logits = toDouble(out.get(HookNames.LOGITS_FINAL).data());
            } else {
                f.longs(HookNames.METRIC_TOKEN_IDS, new long[]{0}, 1, 1);
                for (int l = 0; l < L; l++) {
                    float[] mask = new float[T * H], value = new float[T * H * dh];
                    for (ReferenceGpt2.ZPatch p : patches.z()) {
                        if (p.layer() != l) continue;
                        mask[p.position() * H + p.head()] = 1f;
                        System.arraycopy(p.value(), 0, value, (p.position() * H + p.head()) * dh, dh);
                    }
                    f.floats(HookNames.patchMask(HookNames.hookZ(l)), mask, 1, T, H);
                    f.floats(HookNames.patchValue(HookNames.hookZ(l)), value, 1, T, H, dh);
                }
                fetch.add(HookNames.RESID_FINAL);
                out = f.run(sessions.session(GraphVariant.PATCH_Z), fetch);
                try (Feeds u = new Feeds(sessions.env()).floats(HookNames.UNEMBED_RESID, out.get(HookNames.RESID_FINAL).data(), 1, c.dModel())) {
                    logits = toDouble(u.run(sessions.session(GraphVariant.UNEMBED), Set.of(HookNames.UNEMBED_LOGITS))
                            .get(HookNames.UNEMBED_LOGITS).data());
                }
            }
            double[][][][] z = new double[L][T][H][dh], pattern = new double[L][H][T][T];
            for (int l = 0; l < L; l++)
                for (int p = 0; p < T; p++)
                    for (int h = 0; h < H; h++) {
                        for (int i = 0; i < dh; i++) z[l][p][h][i] = out.get(HookNames.hookZ(l)).at(0, p, h, i);
                        for (int k = 0; k < T; k++) pattern[l][h][p][k] = out.get(HookNames.hookPattern(l)).at(0, h, p, k);
                    }
            return PlantedChecks.partialTrace(z, pattern, logits);
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
