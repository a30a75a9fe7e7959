package org.milab.planted;

import org.junit.jupiter.api.Test;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ReferenceGpt2;
import org.milab.planted.GroundTruth.HeadTruth;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The successor behaviour ({@link PlantedSuccessorModel}) on every supported planted layout: names, refusals, the
 * edge ground truth the generator writes, and the behaviour itself on the plain-Java reference forward pass.
 */
class PlantedSuccessorModelTest {

    /**
     * The default layout is the successor model as it was before layouts (commit 0a5e643), weight for weight
     * (hashes computed with that generator, default noise and exact construction).
     */
    @Test
    void defaultLayoutReproducesTheEarlierWeightsBitForBit() {
        assertThat(PlantedInductionModelTest.weightsHash(PlantedSuccessorModel.build(0, PlantedSpec.DEFAULT_NOISE_STD)))
                .isEqualTo("bf3dd90b731a848de41c5cdc0cc48121b0d8f905fb31997f5d493ca7e1b920e5");
        assertThat(PlantedInductionModelTest.weightsHash(PlantedSuccessorModel.build(new PlantedSpec(0, 0))))
                .isEqualTo("2bbd15a9921569058230eccef1fb8479ba20528ce75dee5bb26178c4518c546d");
    }

    @Test
    void modelNamesChooseTheLayout() {
        assertThat(PlantedSuccessorModel.layoutForModel("planted-successor", null).name()).isEqualTo("default");
        assertThat(PlantedSuccessorModel.layoutForModel("planted-successor", "deep3").name()).isEqualTo("deep3");
        assertThat(PlantedSuccessorModel.layoutForModel("planted-successor-backup", null).name()).isEqualTo("backup");
        assertThat(PlantedSuccessorModel.layoutForModel("planted-successor-deep3", "deep3").name()).isEqualTo("deep3");
        String spec = "layers=3,prev=L0H1,induction=L2H2,backup=L2H7:0.3,duplicate=L2H0,frequency=L2H1,sink=L1H3";
        PlantedLayout mine = PlantedSuccessorModel.layoutForModel("planted-successor-mine", spec);
        assertThat(mine.spec()).isEqualTo(spec);
        assertThat(PlantedSuccessorModel.modelId(mine)).isEqualTo("planted-successor-custom");
        assertThat(PlantedSuccessorModel.modelId(PlantedLayout.defaults())).isEqualTo("planted-successor");
        assertThat(PlantedSuccessorModel.modelId(PlantedLayout.preset("deep3"))).isEqualTo("planted-successor-deep3");
        assertThat(PlantedSuccessorModel.isSuccessorModel("planted-successor-x")).isTrue();
        assertThat(PlantedSuccessorModel.isSuccessorModel("planted-successors")).isFalse();
        assertThat(PlantedSuccessorModel.isSuccessorModel("planted-induction")).isFalse();
    }

    @Test
    void badCombinationsAreRefusedWithOneMessage() {
        assertThatThrownBy(() -> PlantedSuccessorModel.layoutForModel("planted-successor-deep3", "backup"))
                .isInstanceOf(UserError.class).hasMessageContaining("names the 'deep3' preset but --planted-layout gives");
        assertThatThrownBy(() -> PlantedSuccessorModel.layoutForModel("planted-successor-mine", null))
                .isInstanceOf(UserError.class).hasMessageContaining("no --planted-layout was given")
                .hasMessageContaining("(presets: default, backup, deep3)");
        assertThatThrownBy(() -> PlantedSuccessorModel.layoutForModel("planted-successor-negative", null))
                .isInstanceOf(UserError.class).hasMessageContaining("not built on layouts with a negative head (negative=L1H4)");
        assertThatThrownBy(() -> PlantedSuccessorModel.layoutForModel("planted-successor", "reactive-backup"))
                .isInstanceOf(UserError.class).hasMessageContaining("a reactive backup head (reactive=L2H5)");
        assertThatThrownBy(() -> PlantedSuccessorModel.build(PlantedSpec.preset("negative-backup")))
                .isInstanceOf(UserError.class).hasMessageContaining("negative head");
    }

    /** The generator's edge truth follows the layout: every copying head (main and backup) feeds the last MLP. */
    @Test
    void edgeTruthCoversBackupHeadsAndExtraLayers() {
        GroundTruth deep3 = PlantedSuccessorModel.build(new PlantedSpec(PlantedLayout.preset("deep3"), 0, 0)).groundTruth();
        Map<String, Object> m = PlantedSuccessorModel.edgeTruth(deep3);
        assertThat(deep3.model()).isEqualTo("planted-successor-deep3");
        assertThat(m.get("nodes")).isEqualTo(List.of("input", "a1.h5", "a2.h3", "a2.h6", "m2", "logits"));
        assertThat(m.get("edges")).isEqualTo(List.of("input->a1.h5<v>", "a1.h5->a2.h6<k>", "input->a2.h6<v>", "a2.h6->m2",
                "a1.h5->a2.h3<k>", "input->a2.h3<v>", "a2.h3->m2", "m2->logits"));
        assertThat(m.get("structural_only_edges")).isEqualTo(List.of("input->a1.h5<q>", "input->a1.h5<k>", "input->a2.h6<q>",
                "input->a2.h3<q>"));
    }

    /**
     * On every supported preset and on a non-default seed and noise: each copying head's W_O writes into MID (its OUT
     * block holds only noise), and the model predicts the successor of the induced token (top-1 on every prompt, a
     * logit difference to the corrupt twin's successor of at least 5 on every clean prompt and within 2 of zero on
     * every corrupt one, where no earlier occurrence exists: lm_head's weight noise alone spreads a pair's logit
     * difference by about 0.5 (std) at noise 0.01; neither successor is in the prompts, as in the built-in
     * task, so the frequency decoy favours neither).
     */
    @Test
    void predictsTheSuccessorOnEveryLayout() {
        for (PlantedSpec spec : List.of(PlantedSpec.defaults(), PlantedSpec.preset("backup"), PlantedSpec.preset("deep3"),
                new PlantedSpec(PlantedLayout.preset("deep3"), 1, 0.02), new PlantedSpec(1, 0.02))) {
            Planted p = PlantedSuccessorModel.build(spec);
            int d = PlantedInductionModel.D_MODEL, dh = PlantedInductionModel.D_HEAD;
            for (HeadTruth h : EdgeTruth.copiers(p.groundTruth())) {
                float[] proj = p.checkpoint().raw(Gpt2Tensors.projW(h.layer()));
                double out = 0, mid = 0;
                for (int r = h.head() * dh; r < (h.head() + 1) * dh; r++)
                    for (int j = 0; j < dh; j++) {
                        out = Math.max(out, Math.abs(proj[r * d + PlantedInductionModel.OUT + j]));
                        mid = Math.max(mid, Math.abs(proj[r * d + PlantedSuccessorModel.MID + j]));
                    }
                assertThat(out).as("%s %s OUT block", spec.layout().name(), h).isLessThan(0.2);
                assertThat(mid).as("%s %s MID block", spec.layout().name(), h).isGreaterThan(0.3);
            }
            ReferenceGpt2 ref = new ReferenceGpt2(p.checkpoint());
            int v = p.vocabulary().size();
            List<Integer> words = new ArrayList<>();
            for (int t = 0; t < v; t++) if (PlantedSuccessorModel.hasSuccessor(t, v)) words.add(t);
            Random rnd = new Random(7);
            double minClean = Double.POSITIVE_INFINITY, maxCorrupt = 0;
            int n = 6;
            for (int e = 0; e < 8; e++) {
                do Collections.shuffle(words, rnd); // as the built-in task: neither successor in the prompts
                while (words.subList(0, 2 * n).contains(PlantedSuccessorModel.successor(words.get(n - 1)))
                        || words.subList(0, 2 * n).contains(PlantedSuccessorModel.successor(words.get(2 * n - 1))));
                int[] clean = new int[2 * n], corrupt = new int[2 * n];
                clean[0] = corrupt[0] = p.bosId();
                for (int i = 0; i < n; i++) {
                    clean[1 + i] = words.get(i);
                    corrupt[1 + i] = words.get(n + i);
                }
                for (int i = 0; i < n - 1; i++) clean[1 + n + i] = corrupt[1 + n + i] = words.get(i);
                int answer = PlantedSuccessorModel.successor(words.get(n - 1)), contrast = PlantedSuccessorModel.successor(words.get(2 * n - 1));
                double[] lc = ref.run(clean).finalLogits(), lx = ref.run(corrupt).finalLogits();
                int top = 0;
                for (int t = 1; t < lc.length; t++) if (lc[t] > lc[top]) top = t;
                assertThat(top).as("%s seed %d: top-1 on example %d", spec.layout().name(), spec.seed(), e).isEqualTo(answer);
                minClean = Math.min(minClean, lc[answer] - lc[contrast]);
                maxCorrupt = Math.max(maxCorrupt, Math.abs(lx[answer] - lx[contrast]));
            }
            System.out.printf("%s seed %d noise %.2f: min clean logit diff %.2f, max |corrupt logit diff| %.2f%n",
                    spec.layout().name(), spec.seed(), spec.noiseStd(), minClean, maxCorrupt);
            assertThat(minClean).isGreaterThanOrEqualTo(5);
            assertThat(maxCorrupt).isLessThanOrEqualTo(2);
        }
    }
}
