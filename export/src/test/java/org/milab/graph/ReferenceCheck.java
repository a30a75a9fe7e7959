package org.milab.graph;

import ai.onnxruntime.OrtException;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Trace;
import org.milab.runtime.Feeds;
import org.milab.runtime.Feeds.Output;
import org.milab.runtime.ModelSessions;
import org.milab.runtime.TokenBatch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The test helper every exported model is checked with: one right-padded capture call over the prompts,
 * compared element by element with the plain-Java reference forward pass (logits and every hook).
 */
public final class ReferenceCheck {
    private ReferenceCheck() {}

    /** Pure absolute tolerance. */
    public static void assertCaptureMatches(ModelSessions sessions, ReferenceGpt2 ref, List<int[]> prompts, double tol)
            throws OrtException {
        assertCaptureMatches(sessions, ref, prompts, tol, 0);
    }

    /**
     * numpy-style allclose: |got - expected| <= atol + rtol * |expected|, for models whose activations are
     * large (float32 keeps ~7 significant digits).
     */
    public static void assertCaptureMatches(ModelSessions sessions, ReferenceGpt2 ref, List<int[]> prompts, double atol,
                                            double rtol) throws OrtException {
        Tol tol = new Tol(atol, rtol);
        ModelConfig c = ref.config();
        Set<String> fetch = new LinkedHashSet<>(List.of(HookNames.LOGITS_FINAL, HookNames.RESID_FINAL, HookNames.LN_FINAL));
        for (int l = 0; l < c.nLayer(); l++)
            fetch.addAll(List.of(HookNames.hookZ(l), HookNames.hookPattern(l), HookNames.hookAttnOut(l),
                    HookNames.hookResidPre(l), HookNames.hookResidPost(l)));
        Map<String, Output> out;
        try (Feeds f = new Feeds(sessions.env()).batch(TokenBatch.of(prompts))) {
            out = f.run(sessions.session(GraphVariant.CAPTURE), fetch);
        }
        for (int r = 0; r < prompts.size(); r++) {
            Trace t = ref.run(prompts.get(r));
            int T = t.length();
            assertVec(out.get(HookNames.LOGITS_FINAL), new long[]{r}, t.finalLogits(), tol, "logits row " + r);
            assertVec(out.get(HookNames.RESID_FINAL), new long[]{r}, t.residPost()[c.nLayer() - 1][T - 1], tol, "resid_final");
            assertVec(out.get(HookNames.LN_FINAL), new long[]{r}, t.lnFinal()[T - 1], tol, "ln_final");
            for (int l = 0; l < c.nLayer(); l++)
                for (int p = 0; p < T; p++) {
                    assertVec(out.get(HookNames.hookResidPre(l)), new long[]{r, p}, t.residPre()[l][p], tol, "resid_pre");
                    assertVec(out.get(HookNames.hookResidPost(l)), new long[]{r, p}, t.residPost()[l][p], tol, "resid_post");
                    assertVec(out.get(HookNames.hookAttnOut(l)), new long[]{r, p}, t.attnOut()[l][p], tol, "attn_out");
                    for (int h = 0; h < c.nHead(); h++) {
                        assertVec(out.get(HookNames.hookZ(l)), new long[]{r, p, h}, t.z()[l][p][h], tol, "z");
                        for (int k = 0; k < T; k++)
                            assertThat((double) out.get(HookNames.hookPattern(l)).at(r, h, p, k))
                                    .as("pattern l%d h%d q%d k%d", l, h, p, k)
                                    .isCloseTo(t.pattern()[l][h][p][k], within(tol.of(t.pattern()[l][h][p][k])));
                    }
                }
        }
    }

    private record Tol(double atol, double rtol) {
        double of(double expected) {
            return atol + rtol * Math.abs(expected);
        }
    }

    /** Compares the innermost vector of {@code o} at {@code prefix} with {@code expected}, absolute tolerance. */
    public static void assertVec(Output o, long[] prefix, double[] expected, double tol, String what) {
        assertVec(o, prefix, expected, new Tol(tol, 0), what);
    }

    private static void assertVec(Output o, long[] prefix, double[] expected, Tol tol, String what) {
        long[] idx = Arrays.copyOf(prefix, prefix.length + 1);
        List<String> bad = new ArrayList<>();
        for (int i = 0; i < expected.length; i++) {
            idx[prefix.length] = i;
            double got = o.at(idx);
            if (!(Math.abs(got - expected[i]) <= tol.of(expected[i]))) bad.add(i + ": " + got + " vs " + expected[i]);
        }
        assertThat(bad).as("%s at %s", what, Arrays.toString(prefix)).isEmpty();
    }
}
