package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.engine.Capture;
import org.milab.graph.Head;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * v2 patches last-layer heads at the final position only (their outputs elsewhere reach no later component).
 * Checked on a random model: for every last-layer head, replacing z at every position and at the final
 * position alone give the same logits; for an earlier layer they differ (so the comparison can fail).
 */
class LastLayerShortcutTest {
    @Test
    void finalPositionAloneIsTheSameInterventionForTheLastLayerOnly(@TempDir Path root) {
        try (LabModel m = LabFixtures.randomWordModel(root, "shortcut", 9)) {
            int nLayer = m.config().nLayer(), nHead = m.config().nHead();
            TokenPool pool = TokenPool.build("symbols", V2Protocol.SYMBOLS, m.tokenizer());
            List<PromptPair> pairs = InductionPrompts.family(new FamilySpec("f", "symbols", List.of(5, 8)), pool,
                    m.tokenizer().bosId(), 1, 6);
            Set<String> hooks = new LinkedHashSet<>();
            for (int l = 0; l < nLayer; l++) hooks.add(HookNames.hookZ(l));
            Set<TokenIds> prompts = new LinkedHashSet<>();
            pairs.forEach(p -> {
                prompts.add(new TokenIds(p.clean()));
                prompts.add(new TokenIds(p.donor()));
            });
            Map<TokenIds, Capture> caps = m.engine().capture(prompts, hooks, "capture");
            List<PatchRow> all = new ArrayList<>(), fin = new ArrayList<>();
            List<Head> heads = new ArrayList<>();
            for (int l = 0; l < nLayer; l++)
                for (int h = 0; h < nHead; h++)
                    for (PromptPair p : pairs) {
                        Head head = new Head(l, h);
                        Capture donor = caps.get(new TokenIds(p.donor()));
                        int[] every = new int[p.length() - 1];
                        for (int i = 0; i < every.length; i++) every[i] = i + 1;
                        all.add(new PatchRow(new TokenIds(p.clean()), Causal.from(donor, head, every), Causal.main(p)));
                        List<SitePatch> last = Causal.from(donor, head, new int[]{p.finalPosition()});
                        fin.add(new PatchRow(new TokenIds(p.clean()), last, Causal.main(p)));
                        assertThat(Causal.positions(p, l, nLayer)).isEqualTo(l == nLayer - 1 ? new int[]{p.finalPosition()} : every);
                        heads.add(head);
                    }
            float[][] a = m.engine().patch(PatchSite.HOOK_Z, all, "all positions");
            float[][] b = m.engine().patch(PatchSite.HOOK_Z, fin, "final only");
            double maxLast = 0, maxEarlier = 0;
            for (int i = 0; i < heads.size(); i++) {
                double d = Math.abs(Causal.ld(a[i]) - Causal.ld(b[i]));
                if (heads.get(i).layer() == nLayer - 1) maxLast = Math.max(maxLast, d);
                else maxEarlier = Math.max(maxEarlier, d);
            }
            assertThat(maxLast).isLessThan(1e-5);
            assertThat(maxEarlier).isGreaterThan(1e-3);
        }
    }
}
