package org.milab.graph;

import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.model.ReferenceGpt2.Trace;
import org.milab.model.ReferenceGpt2.ZPatch;
import org.milab.model.TestCheckpoints;
import org.milab.runtime.Feeds;
import org.milab.runtime.Feeds.Output;
import org.milab.runtime.TokenBatch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.milab.graph.HookNames.*;

/**
 * Every graph variant against the independent plain-Java forward pass, on a tiny random GPT-2 written in
 * the Hugging Face layout, with a right-padded batch of prompts of unequal length.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GraphVariantsTest {
    private static final double TOL = 1e-4;
    private static final List<int[]> PROMPTS = List.of(
            new int[]{49, 3, 17, 8, 3, 17, 8, 11, 2},
            new int[]{49, 5, 6, 7},
            new int[]{49, 22, 1, 22, 1, 30});

    ExportedModel tied, untied;
    ReferenceGpt2 refTied, refUntied;

    @BeforeAll
    void export(@TempDir Path dir) {
        tied = ExportedModel.export(TestCheckpoints.random(TestCheckpoints.tiny(), 1, 0.5f), "tiny", dir.resolve("tied"));
        untied = ExportedModel.export(TestCheckpoints.random(TestCheckpoints.tinyUntied(), 2, 0.5f), "tiny-untied",
                dir.resolve("untied"));
        refTied = new ReferenceGpt2(tied.checkpoint());
        refUntied = new ReferenceGpt2(untied.checkpoint());
    }

    @AfterAll
    void close() {
        tied.close();
        untied.close();
    }

    @Test
    void captureMatchesReferenceForLogitsAndEveryHook() throws OrtException {
        ReferenceCheck.assertCaptureMatches(tied.sessions(), refTied, PROMPTS, TOL);
        ReferenceCheck.assertCaptureMatches(untied.sessions(), refUntied, PROMPTS, TOL);
    }

    @Test
    void unembedIsTheLogitLens() throws OrtException {
        Trace t = refUntied.run(PROMPTS.get(0));
        int d = untied.checkpoint().config().dModel();
        float[] resid = new float[2 * d];
        for (int i = 0; i < d; i++) {
            resid[i] = (float) t.residPost()[0][3][i];
            resid[d + i] = (float) t.residPost()[1][5][i];
        }
        Output out;
        try (Feeds f = new Feeds(untied.sessions().env()).floats(UNEMBED_RESID, resid, 2, d)) {
            out = f.run(untied.sessions().session(GraphVariant.UNEMBED), Set.of(UNEMBED_LOGITS)).get(UNEMBED_LOGITS);
        }
        assertRow(out, 0, refUntied.unembed(t.residPost()[0][3]), "lens row 0");
        assertRow(out, 1, refUntied.unembed(t.residPost()[1][5]), "lens row 1");
    }

    @Test
    void patchingEveryZWithItsOwnCleanValueChangesNothing() throws OrtException {
        ModelConfig c = tied.checkpoint().config();
        TokenBatch batch = TokenBatch.of(PROMPTS);
        Set<String> zs = new java.util.HashSet<>();
        for (int l = 0; l < c.nLayer(); l++) zs.add(hookZ(l));
        zs.add(LOGITS_FINAL);
        java.util.Map<String, Output> clean;
        try (Feeds f = new Feeds(tied.sessions().env()).batch(batch)) {
            clean = f.run(tied.sessions().session(GraphVariant.CAPTURE), zs);
        }
        long[] tokens = metricTokens(PROMPTS.size(), 0, 7, 13, 49);
        Output patched;
        try (Feeds f = new Feeds(tied.sessions().env()).batch(batch)) {
            f.longs(METRIC_TOKEN_IDS, tokens, PROMPTS.size(), 4);
            for (int l = 0; l < c.nLayer(); l++) {
                Output z = clean.get(hookZ(l));
                float[] ones = new float[(int) (z.shape()[0] * z.shape()[1] * z.shape()[2])];
                java.util.Arrays.fill(ones, 1f);
                f.floats(patchMask(hookZ(l)), ones, z.shape()[0], z.shape()[1], z.shape()[2]);
                f.floats(patchValue(hookZ(l)), z.data(), z.shape());
            }
            patched = f.run(tied.sessions().session(GraphVariant.PATCH_Z), Set.of(METRIC_LOGITS)).get(METRIC_LOGITS);
        }
        for (int r = 0; r < PROMPTS.size(); r++)
            for (int k = 0; k < 4; k++)
                assertThat((double) patched.at(r, k)).as("row %d token %d", r, k)
                        .isCloseTo(clean.get(LOGITS_FINAL).at(r, tokens[r * 4 + k]), within(1e-5));
    }

    @Test
    void eachRowCarriesItsOwnHeadPatchAndMatchesTheReference() throws OrtException {
        ModelConfig c = tied.checkpoint().config();
        int H = c.nHead(), dh = c.dHead();
        double[][][] bv = refTied.valueBiasEffective();
        // row 0: donor z from another prompt at (L1,H2,final); row 1: TL-frame zero ablation of L0H1 at position 2;
        // row 2: raw-frame zero ablation of L1H3 at its final position; one patch per row in one call.
        Trace donor = refTied.run(PROMPTS.get(2));
        List<ZPatch> patches = List.of(
                new ZPatch(1, PROMPTS.get(0).length - 1, 2, toFloat(donor.z()[1][5][2])),
                new ZPatch(0, 2, 1, toFloat(bv[0][1])),
                new ZPatch(1, PROMPTS.get(2).length - 1, 3, new float[dh]));
        TokenBatch batch = TokenBatch.of(PROMPTS);
        long[] tokens = metricTokens(PROMPTS.size(), 3, 17, 8, 40);
        java.util.Map<String, Output> out;
        try (Feeds f = new Feeds(tied.sessions().env()).batch(batch)) {
            f.longs(METRIC_TOKEN_IDS, tokens, PROMPTS.size(), 4);
            for (int l = 0; l < c.nLayer(); l++) {
                float[] mask = new float[batch.rows() * batch.width() * H];
                float[] value = new float[batch.rows() * batch.width() * H * dh];
                for (int r = 0; r < patches.size(); r++) {
                    ZPatch p = patches.get(r);
                    if (p.layer() != l) continue;
                    int site = (r * batch.width() + p.position()) * H + p.head();
                    mask[site] = 1f;
                    System.arraycopy(p.value(), 0, value, site * dh, dh);
                }
                f.floats(patchMask(hookZ(l)), mask, batch.rows(), batch.width(), H);
                f.floats(patchValue(hookZ(l)), value, batch.rows(), batch.width(), H, dh);
            }
            out = f.run(tied.sessions().session(GraphVariant.PATCH_Z),
                    Set.of(METRIC_LOGITS, hookResidPost(c.nLayer() - 1), RESID_FINAL));
        }
        for (int r = 0; r < PROMPTS.size(); r++) {
            Trace patched = refTied.run(PROMPTS.get(r), Patches.ofZ(patches.get(r)));
            Trace clean = refTied.run(PROMPTS.get(r));
            for (int k = 0; k < 4; k++)
                assertThat((double) out.get(METRIC_LOGITS).at(r, k)).as("row %d metric %d", r, k)
                        .isCloseTo(patched.finalLogits()[(int) tokens[r * 4 + k]], within(TOL));
            assertRow(out.get(RESID_FINAL), r, patched.residPost()[c.nLayer() - 1][patched.length() - 1], "resid_final");
            // the patch really changed something, so the agreement above is not vacuous
            assertThat(maxAbsDiff(patched.finalLogits(), clean.finalLogits())).as("row %d patch has an effect", r)
                    .isGreaterThan(1e-3);
            // a final-position patch leaves every earlier position untouched
            if (patches.get(r).position() == PROMPTS.get(r).length - 1)
                for (int p = 0; p < PROMPTS.get(r).length - 1; p++)
                    assertVec(out.get(hookResidPost(c.nLayer() - 1)), new long[]{r, p},
                            clean.residPost()[c.nLayer() - 1][p], "earlier position " + p);
        }
    }

    @Test
    void eachRowCarriesItsOwnKeyPatchAndMatchesTheReference() throws OrtException {
        ModelConfig c = untied.checkpoint().config();
        int H = c.nHead(), dh = c.dHead();
        // donor keys: another prompt's captured hook_k (any vector would do; these are realistic)
        Output donor;
        try (Feeds f = new Feeds(untied.sessions().env()).batch(TokenBatch.of(List.of(PROMPTS.get(2))))) {
            donor = f.run(untied.sessions().session(GraphVariant.CAPTURE), Set.of(hookK(1), hookK(0))).get(hookK(1));
        }
        float[] k1 = new float[dh];
        for (int i = 0; i < dh; i++) k1[i] = donor.at(0, 1, 2, i);
        float[] k0 = new float[dh];
        java.util.Arrays.fill(k0, 0.7f);
        // row 0: head 2's key at position 3 of layer 1; row 1: head 1's key at position 1 of layer 0; row 2: none
        List<List<ReferenceGpt2.KPatch>> patches = List.of(List.of(new ReferenceGpt2.KPatch(1, 3, 2, k1)),
                List.of(new ReferenceGpt2.KPatch(0, 1, 1, k0)), List.of());
        TokenBatch batch = TokenBatch.of(PROMPTS);
        long[] tokens = metricTokens(PROMPTS.size(), 3, 17, 8);
        Output out;
        try (Feeds f = new Feeds(untied.sessions().env()).batch(batch)) {
            f.longs(METRIC_TOKEN_IDS, tokens, PROMPTS.size(), 3);
            for (int l = 0; l < c.nLayer(); l++) {
                float[] mask = new float[batch.rows() * batch.width() * H];
                float[] value = new float[batch.rows() * batch.width() * H * dh];
                for (int r = 0; r < patches.size(); r++)
                    for (ReferenceGpt2.KPatch p : patches.get(r)) {
                        if (p.layer() != l) continue;
                        int site = (r * batch.width() + p.position()) * H + p.head();
                        mask[site] = 1f;
                        System.arraycopy(p.value(), 0, value, site * dh, dh);
                    }
                f.floats(patchMask(hookK(l)), mask, batch.rows(), batch.width(), H);
                f.floats(patchValue(hookK(l)), value, batch.rows(), batch.width(), H, dh);
            }
            out = f.run(untied.sessions().session(GraphVariant.PATCH_K), Set.of(METRIC_LOGITS)).get(METRIC_LOGITS);
        }
        for (int r = 0; r < PROMPTS.size(); r++) {
            Trace expected = refUntied.run(PROMPTS.get(r), new Patches(List.of(), List.of(), patches.get(r)));
            Trace clean = refUntied.run(PROMPTS.get(r));
            for (int k = 0; k < 3; k++)
                assertThat((double) out.at(r, k)).as("row %d metric %d", r, k)
                        .isCloseTo(expected.finalLogits()[(int) tokens[r * 3 + k]], within(TOL));
            if (!patches.get(r).isEmpty()) // the key patch really moved the logits, so the agreement is not vacuous
                assertThat(maxAbsDiff(expected.finalLogits(), clean.finalLogits())).as("row %d", r).isGreaterThan(1e-3);
        }
    }

    @Test
    void transformerLensZeroAblationDiffersFromRawZeroAblation() {
        double[][][] bv = refTied.valueBiasEffective();
        JsonNode manifestBv = tied.exported().manifests().get(GraphVariant.PATCH_Z).get("z_frame").get("bV_eff");
        for (int l = 0; l < bv.length; l++)
            for (int h = 0; h < bv[l].length; h++)
                for (int i = 0; i < bv[l][h].length; i++)
                    assertThat(manifestBv.get(l).get(h).get(i).asDouble()).isCloseTo(bv[l][h][i], within(1e-6));
        assertThat(maxAbsDiff(bv[0][1], new double[bv[0][1].length])).isGreaterThan(1e-3);
    }

    @Test
    void layerLevelAttnOutPatchMatchesReference() throws OrtException {
        ModelConfig c = untied.checkpoint().config();
        int d = c.dModel();
        Trace donor = refUntied.run(PROMPTS.get(1));
        int row = 0, layer = 1, pos = PROMPTS.get(0).length - 1;
        float[] v = toFloat(donor.attnOut()[layer][3]);
        TokenBatch batch = TokenBatch.of(PROMPTS);
        Output out;
        long[] tokens = metricTokens(PROMPTS.size(), 2, 9);
        try (Feeds f = new Feeds(untied.sessions().env()).batch(batch)) {
            f.longs(METRIC_TOKEN_IDS, tokens, PROMPTS.size(), 2);
            for (int l = 0; l < c.nLayer(); l++) {
                float[] mask = new float[batch.rows() * batch.width()];
                float[] value = new float[batch.rows() * batch.width() * d];
                if (l == layer) {
                    mask[row * batch.width() + pos] = 1f;
                    System.arraycopy(v, 0, value, (row * batch.width() + pos) * d, d);
                }
                f.floats(patchMask(hookAttnOut(l)), mask, batch.rows(), batch.width());
                f.floats(patchValue(hookAttnOut(l)), value, batch.rows(), batch.width(), d);
            }
            out = f.run(untied.sessions().session(GraphVariant.PATCH_ATTN_OUT), Set.of(METRIC_LOGITS)).get(METRIC_LOGITS);
        }
        Trace expected = refUntied.run(PROMPTS.get(row), Patches.ofAttnOut(new ReferenceGpt2.AttnOutPatch(layer, pos, v)));
        Trace other = refUntied.run(PROMPTS.get(1));
        for (int k = 0; k < 2; k++) {
            assertThat((double) out.at(row, k)).isCloseTo(expected.finalLogits()[(int) tokens[k]], within(TOL));
            assertThat((double) out.at(1, k)).isCloseTo(other.finalLogits()[(int) tokens[2 + k]], within(TOL));
        }
    }

    @Test
    void broadcastZeroMaskMeansNoPatch() throws OrtException {
        ModelConfig c = tied.checkpoint().config();
        TokenBatch batch = TokenBatch.of(PROMPTS);
        long[] tokens = metricTokens(PROMPTS.size(), 4, 5);
        Output out;
        try (Feeds f = new Feeds(tied.sessions().env()).batch(batch)) {
            f.longs(METRIC_TOKEN_IDS, tokens, PROMPTS.size(), 2);
            for (int l = 0; l < c.nLayer(); l++) {
                f.floats(patchMask(hookZ(l)), new float[1], 1, 1, 1);
                f.floats(patchValue(hookZ(l)), new float[1], 1, 1, 1, 1);
            }
            out = f.run(tied.sessions().session(GraphVariant.PATCH_Z), Set.of(METRIC_LOGITS)).get(METRIC_LOGITS);
        }
        for (int r = 0; r < PROMPTS.size(); r++) {
            double[] ref = refTied.run(PROMPTS.get(r)).finalLogits();
            for (int k = 0; k < 2; k++)
                assertThat((double) out.at(r, k)).isCloseTo(ref[(int) tokens[r * 2 + k]], within(TOL));
        }
    }

    // ---- helpers ----

    private static long[] metricTokens(int rows, long... perRow) {
        long[] t = new long[rows * perRow.length];
        for (int r = 0; r < rows; r++) System.arraycopy(perRow, 0, t, r * perRow.length, perRow.length);
        return t;
    }

    private static void assertRow(Output o, int row, double[] expected, String what) {
        ReferenceCheck.assertVec(o, new long[]{row}, expected, TOL, what);
    }

    private static void assertVec(Output o, long[] prefix, double[] expected, String what) {
        ReferenceCheck.assertVec(o, prefix, expected, TOL, what);
    }

    private static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    private static double maxAbsDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
