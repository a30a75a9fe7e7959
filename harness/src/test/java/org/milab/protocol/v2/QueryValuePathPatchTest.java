package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.api.ActivationCache;
import org.milab.api.HookedModel;
import org.milab.api.Patch;
import org.milab.api.PatchValue;
import org.milab.api.PatchedRun;
import org.milab.engine.Capture;
import org.milab.engine.KeyPathPatch;
import org.milab.engine.PatchRow;
import org.milab.engine.QueryValuePathPatch;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.Head;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.lab.ExportedWeights;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.runtime.Device;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Q-, K- and V-composition path patching (what {@link CompositionStage} runs: the receiver's hook_z recomputed on the
 * host, then the patch_z graph; for keys also the patch_k graph fed {@link KeyPathPatch}'s keys) against an independent computation in the hooked graph on a tiny random-weight model
 * (2 layers, so sender and receiver are adjacent and no head sits between them to freeze): there the sender's hook_z is
 * replaced, the receiver layer's hook_q / hook_k / hook_v are cached from that run (ONNX Runtime carries the change
 * through MLP0 and the projections), and a clean run gets ONLY the receiver head's input overridden with them.
 */
class QueryValuePathPatchTest {
    private static final int ANSWER = 7, WRONG = 12;

    @Test
    void everyInputPathMatchesAFullRecomputationInTheHookedGraph(@TempDir Path dir) {
        LabFixtures.exportRandomWordModel(dir, "words", 5, List.of());
        int[] prompt = {0, 5, 9, 14, 3, 22, 31, 5, 9, 14, 3, 40};
        int T = prompt.length;
        Head sender = new Head(0, 1);
        List<Head> receivers = List.of(new Head(1, 0), new Head(1, 2), new Head(1, 3));
        int[] positions = new int[T - 1];
        for (int t = 1; t < T; t++) positions[t - 1] = t;
        try (LabModel lab = LabModel.open(dir, "words", Device.CPU, 1);
             HookedModel hm = HookedModel.open("words", HookedModel.Options.defaults().withRoot(dir).withThreads(1));
             ExportedWeights w = ExportedWeights.open(lab.layout().graphDir(), lab.config());
             KeyPathPatch kp = new KeyPathPatch(w, lab.sessions())) { // the stage's MLP passes: ORT, double
            Set<String> hooks = new LinkedHashSet<>(List.of(HookNames.hookZ(0), HookNames.hookZ(1)));
            for (Head r : receivers) hooks.addAll(QueryValuePathPatch.hooksNeeded(sender, r));
            hooks.addAll(lab.engine().suffixHooks(1)); // the stage's rows take the cached path from the receiver's block
            Capture clean = lab.engine().capture(List.of(new TokenIds(prompt)), hooks, "test").get(new TokenIds(prompt));
            // the sender's replacement: a fixed vector at every position >= 1 (as mean ablation writes)
            float[] z = new float[lab.config().dHead()];
            Random rnd = new Random(3);
            for (int i = 0; i < z.length; i++) z[i] = (float) rnd.nextGaussian();
            float[][] senderZ = new float[T][];
            senderZ[0] = clean.z(0, 0, sender.head());
            for (int t = 1; t < T; t++) senderZ[t] = z;

            // independent: the whole run with the sender replaced, its receiver-layer inputs cached
            ActivationCache changed = hm.runWithPatches(List.of(new PatchedRun(prompt, List.of(Patch.of(HookNames.hookZ(0),
                    sender.head(), positions, new PatchValue.Constant(z))))), HookNames.hookQ(1), HookNames.hookK(1),
                    HookNames.hookV(1)).cache();
            double ldClean = hm.runWithPatches(prompt).logitDiff(0, ANSWER, WRONG);

            QueryValuePathPatch qv = new QueryValuePathPatch(kp);
            Map<Head, List<SitePatch>> q = qv.receiverZ(clean, sender, senderZ, receivers, QueryValuePathPatch.Input.QUERY);
            Map<Head, List<SitePatch>> v = qv.receiverZ(clean, sender, senderZ, receivers, QueryValuePathPatch.Input.VALUE);
            Map<Head, List<SitePatch>> kz = qv.receiverZ(clean, sender, senderZ, receivers, QueryValuePathPatch.Input.KEY);
            Map<Head, List<SitePatch>> k = kp.receiverKeys(clean, sender, senderZ, receivers);
            List<PatchRow> zRows = new ArrayList<>(), kRows = new ArrayList<>();
            zRows.add(new PatchRow(clean.prompt(), List.of(), new int[]{ANSWER, WRONG}));
            for (Head r : receivers) {
                zRows.add(new PatchRow(clean.prompt(), q.get(r), new int[]{ANSWER, WRONG}));
                zRows.add(new PatchRow(clean.prompt(), v.get(r), new int[]{ANSWER, WRONG}));
                zRows.add(new PatchRow(clean.prompt(), kz.get(r), new int[]{ANSWER, WRONG}));
                kRows.add(new PatchRow(clean.prompt(), k.get(r), new int[]{ANSWER, WRONG}));
            }
            float[][] zOut = lab.engine().patch(PatchSite.HOOK_Z, zRows, "test q/v");
            float[][] kOut = lab.engine().patch(PatchSite.HOOK_K, kRows, "test k");
            float[][] zCached = lab.engine().patch(PatchSite.HOOK_Z, zRows, "test q/v/k, cached", Map.of(clean.prompt(), clean));
            for (int i = 0; i < zRows.size(); i++)
                assertThat(ld(zCached[i])).as("row " + i + ": cached path vs whole model").isCloseTo(ld(zOut[i]), within(1e-4));
            assertThat(ld(zOut[0])).isCloseTo(ldClean, within(1e-4));

            double largest = 0;
            for (int i = 0; i < receivers.size(); i++) {
                Head r = receivers.get(i);
                double qRef = only(hm, prompt, HookNames.hookQ(1), r, positions, changed);
                double vRef = only(hm, prompt, HookNames.hookV(1), r, positions, changed);
                double kRef = only(hm, prompt, HookNames.hookK(1), r, positions, changed);
                assertThat(ld(zOut[1 + 3 * i])).as("q path into " + r).isCloseTo(qRef, within(2e-4));
                assertThat(ld(zOut[2 + 3 * i])).as("v path into " + r).isCloseTo(vRef, within(2e-4));
                assertThat(ld(zOut[3 + 3 * i])).as("k path into " + r + " (host z)").isCloseTo(kRef, within(2e-4));
                assertThat(ld(kOut[i])).as("k path into " + r + " (patch_k)").isCloseTo(kRef, within(2e-4));
                assertThat(ld(zOut[3 + 3 * i])).as("k path into " + r + ": host z vs patch_k").isCloseTo(ld(kOut[i]), within(2e-4));
                for (double ref : new double[]{qRef, vRef, kRef}) largest = Math.max(largest, Math.abs(ref - ldClean));
            }
            // not vacuous: the paths move the logit difference far beyond the tolerance
            assertThat(largest).isGreaterThan(0.05);
        }
    }

    /** LD of the clean run with only {@code r}'s {@code hook} overridden by the sender-changed run's values. */
    private static double only(HookedModel hm, int[] prompt, String hook, Head r, int[] positions, ActivationCache changed) {
        return hm.runWithPatches(List.of(new PatchedRun(prompt, List.of(Patch.of(hook, r.head(), positions,
                PatchValue.from(changed, 0)))))).logitDiff(0, ANSWER, WRONG);
    }

    private static double ld(float[] m) {
        return (double) m[0] - m[1];
    }
}
