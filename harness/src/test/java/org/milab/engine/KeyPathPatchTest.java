package org.milab.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.lab.ExportedWeights;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.ReferenceGpt2;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import org.milab.graph.Head;

/**
 * Path patching into one head's keys, checked three ways: with the sender's own z it reproduces the keys
 * ONNX Runtime computed; the residual change equals the plain-Java reference's attention-output change for
 * the same z patch; and patch_k rows built from it score exactly like the reference run with those keys.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KeyPathPatchTest {
    LabModel model;
    ExportedWeights weights;
    ReferenceGpt2 ref;
    final Head sender = new Head(0, 1), receiver = new Head(1, 2);

    @BeforeAll
    void open(@TempDir Path dir) {
        model = LabFixtures.randomWordModel(dir, "kpath", 11);
        weights = ExportedWeights.open(model.layout().graphDir(), model.config());
        ref = new ReferenceGpt2(weights);
    }

    /** Path patchers made by the tests, closed at the end. */
    private final List<KeyPathPatch> made = new ArrayList<>();

    /** A path patcher as the composition stage makes it: its MLP passes in ONNX Runtime's double kernels. */
    private KeyPathPatch kp() {
        KeyPathPatch kp = new KeyPathPatch(weights, model.sessions());
        made.add(kp);
        return kp;
    }

    @AfterAll
    void close() {
        made.forEach(KeyPathPatch::close);
        weights.close();
        model.close();
    }

    private TokenIds prompt(String text) {
        return new TokenIds(model.tokenizer().encodeWithBos(text));
    }

    private Capture capture(TokenIds p) {
        Set<String> hooks = new LinkedHashSet<>(KeyPathPatch.hooksNeeded(sender, receiver));
        hooks.add(HookNames.hookK(receiver.layer()));
        return model.engine().capture(List.of(p), hooks, "kpath").get(p);
    }

    private float[][] cleanZ(Capture c) {
        float[][] z = new float[c.prompt().length()][];
        for (int t = 0; t < z.length; t++) z[t] = c.z(sender.layer(), t, sender.head());
        return z;
    }

    @Test
    void theSendersOwnOutputGivesBackTheCapturedKeys() {
        Capture c = capture(prompt("A B C D A B C"));
        List<SitePatch> keys = kp().receiverKeys(c, sender, cleanZ(c), receiver);
        int H = model.config().nHead(), dh = model.config().dHead();
        float[] captured = c.hook(HookNames.hookK(receiver.layer()));
        for (SitePatch k : keys)
            for (int j = 0; j < dh; j++)
                assertThat((double) k.value()[j]).as("pos %d dim %d", k.position(), j)
                        .isCloseTo(captured[(k.position() * H + receiver.head()) * dh + j], within(1e-4));
    }

    @Test
    void residualChangeIsTheReferenceAttentionOutputChange() {
        TokenIds p = prompt("A B C D A B C");
        Capture c = capture(p);
        int T = p.length(), dh = model.config().dHead();
        List<ReferenceGpt2.ZPatch> zeros = new ArrayList<>();
        for (int t = 0; t < T; t++) zeros.add(new ReferenceGpt2.ZPatch(sender.layer(), t, sender.head(), new float[dh]));
        ReferenceGpt2.Trace clean = ref.run(p.raw()), patched = ref.run(p.raw(), new ReferenceGpt2.Patches(zeros, List.of()));
        KeyPathPatch kp = kp();
        double moved = 0;
        for (int t = 0; t < T; t++) {
            double[] delta = kp.residualDelta(sender, new float[dh], c.z(sender.layer(), t, sender.head()));
            for (int i = 0; i < delta.length; i++) {
                double expected = patched.attnOut()[sender.layer()][t][i] - clean.attnOut()[sender.layer()][t][i];
                assertThat(delta[i]).as("pos %d dim %d", t, i).isCloseTo(expected, within(1e-4));
                moved = Math.max(moved, Math.abs(expected));
            }
        }
        assertThat(moved).as("the zero patch changes the attention output").isGreaterThan(1e-2);
    }

    /**
     * Two layers, sender in layer 0: no head sits between sender and receiver, so the path's receiver input is exactly
     * the reference run's resid_pre of layer 1 with the sender's z patched, MLP0 recomputed on the changed residual
     * (Wang et al.'s path patching). The direct term alone (MLP0 frozen) misses MLP0's change, which is not small here.
     */
    @Test
    void thePathCarriesTheSendersChangeThroughTheMlpInBetween() {
        TokenIds p = prompt("A B C D A B C");
        Capture c = capture(p);
        int T = p.length(), dh = model.config().dHead();
        List<ReferenceGpt2.ZPatch> zeros = new ArrayList<>();
        for (int t = 0; t < T; t++) zeros.add(new ReferenceGpt2.ZPatch(sender.layer(), t, sender.head(), new float[dh]));
        ReferenceGpt2.Trace patched = ref.run(p.raw(), new ReferenceGpt2.Patches(zeros, List.of()));
        KeyPathPatch kp = kp();
        java.nio.FloatBuffer wo = weights.floats(org.milab.model.Gpt2Tensors.projW(sender.layer()));
        double mlpPart = 0;
        for (int t = 0; t < T; t++) {
            double[] x = kp.receiverInput(c, sender, wo, new float[dh], receiver, t);
            double[] direct = kp.residualDelta(sender, new float[dh], c.z(sender.layer(), t, sender.head()));
            float[] resid = c.vector(HookNames.hookResidPre(receiver.layer()), t);
            for (int i = 0; i < x.length; i++) {
                assertThat(x[i]).as("pos %d dim %d", t, i).isCloseTo(patched.residPre()[receiver.layer()][t][i], within(1e-4));
                mlpPart = Math.max(mlpPart, Math.abs(x[i] - resid[i] - direct[i]));
            }
        }
        assertThat(mlpPart).as("MLP0's share of the path").isGreaterThan(1e-2);
        // the keys patched in are those of that input, for one receiver or several of the same sender at once
        Head other = new Head(receiver.layer(), 0);
        float[][] zero = new float[T][dh];
        Map<Head, List<SitePatch>> both = kp.receiverKeys(c, sender, zero, List.of(receiver, other));
        for (Head r : List.of(receiver, other)) {
            List<SitePatch> one = kp.receiverKeys(c, sender, zero, r);
            for (int t = 0; t < T; t++) {
                assertThat(both.get(r).get(t).value()).isEqualTo(one.get(t).value());
                assertThat(one.get(t).value()).isEqualTo(kp.keys(kp.receiverInput(c, sender, wo, new float[dh], r, t), r));
            }
        }
    }

    @Test
    void keyPatchRowsScoreLikeTheReferenceWithThoseKeys() {
        TokenIds p = prompt("A B C D A B C"), q = prompt("D C B A D C B");
        int[] metric = {3, 5};
        List<PatchRow> rows = new ArrayList<>();
        List<List<SitePatch>> keys = new ArrayList<>();
        for (TokenIds prompt : List.of(p, q)) {
            Capture c = capture(prompt);
            float[][] zeroZ = new float[prompt.length()][model.config().dHead()];
            List<SitePatch> k = kp().receiverKeys(c, sender, zeroZ, receiver);
            keys.add(k);
            rows.add(new PatchRow(prompt, k, metric));
            rows.add(new PatchRow(prompt, List.of(), metric));
        }
        float[][] out = model.engine().patch(PatchSite.HOOK_K, rows, "kpath rows");
        for (int i = 0; i < 2; i++) {
            TokenIds prompt = i == 0 ? p : q;
            List<ReferenceGpt2.KPatch> kp = keys.get(i).stream()
                    .map(s -> new ReferenceGpt2.KPatch(s.layer(), s.position(), s.head(), s.value())).toList();
            double[] expected = ref.run(prompt.raw(), new ReferenceGpt2.Patches(List.of(), List.of(), kp)).finalLogits();
            double[] clean = ref.run(prompt.raw()).finalLogits();
            for (int m = 0; m < metric.length; m++) {
                assertThat((double) out[2 * i][m]).isCloseTo(expected[metric[m]], within(1e-4));
                assertThat((double) out[2 * i + 1][m]).isCloseTo(clean[metric[m]], within(1e-4));
            }
            assertThat(Math.abs(expected[metric[0]] - clean[metric[0]]) + Math.abs(expected[metric[1]] - clean[metric[1]]))
                    .as("the path patch moves the metric logits").isGreaterThan(1e-4);
        }
    }

    @Test
    void aSenderMustSitBeforeItsReceiver() {
        Capture c = capture(prompt("A B C"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() ->
                        kp().receiverKeys(c, receiver, cleanZ(c), sender))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("earlier layer");
    }
}
