package org.milab.bench;

import org.milab.atp.AttributionPatching;
import org.milab.atp.PromptPair;
import org.milab.attribution.ExactHeadPatching;
import org.milab.attribution.RepeatedTokenPairs;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Attribution patching vs the exact sweep it replaces, in one run: AtP (two gradient passes per pair) and
 * AtP-IG (10 more) for every head, MLP, attention and residual node at every position of {@code pairs}
 * repeated-token pairs (length 10, 21 tokens), against one suffix-reusing patched forward pass per (pair,
 * head, position), timed on the first {@code exactPairs} pairs and scaled to all.
 */
public final class AttributionSpeed {
    private AttributionSpeed() {}

    public record Result(int pairs, int heads, int positions, double atpSeconds, double atpIgSeconds, int exactPairs,
                         long exactPatchedRows, double exactSeconds, double exactAllSeconds, int rowsPerCall) {
        public List<String> rows() {
            return List.of(
                    String.format(Locale.ROOT, "| attribution, %d prompt pairs x %d heads x %d positions (GPT-2-small shape) | seconds | vs exact sweep |%n|---|---|---|",
                            pairs, heads, positions),
                    String.format(Locale.ROOT, "| AtP, both directions (2 gradient passes per pair; + MLP, attn, resid nodes) | %.2f | %.0fx faster |",
                            atpSeconds, exactAllSeconds / atpSeconds),
                    String.format(Locale.ROOT, "| AtP + AtP-IG, 10 steps (12 gradient passes per pair) | %.2f | %.0fx faster |",
                            atpIgSeconds, exactAllSeconds / atpIgSeconds),
                    String.format(Locale.ROOT, "| exact sweep, measured on %d pairs (%d patched rows, suffix reuse, %d rows per call) | %.1f | %.1f rows/s |",
                            exactPairs, exactPatchedRows, rowsPerCall, exactSeconds, exactPatchedRows / exactSeconds),
                    String.format(Locale.ROOT, "| exact sweep, all %d pairs (%s) | %.1f | 1x |", pairs,
                            exactPairs == pairs ? "measured" : "scaled from the measured pairs", exactAllSeconds));
        }
    }

    public static Result run(BenchSettings s, int pairs, int exactPairs) {
        try (LabModel m = s.open(s.batchRows())) {
            ModelConfig c = m.config();
            List<PromptPair> ps = RepeatedTokenPairs.generate(pairs, 10, 0, c.vocabSize(), m.tokenizer().bosId(), Set.of(), c.nPositions());
            AttributionPatching.run(m, ps.subList(0, 2), 32, 0); // warm-up
            var atp = AttributionPatching.run(m, ps, 32, 0);
            var ig = AttributionPatching.run(m, ps, 32, 10);
            var exact = ExactHeadPatching.cells(m, ps.subList(0, exactPairs));
            return new Result(pairs, c.nLayer() * c.nHead(), ps.get(0).length(), atp.seconds(), ig.seconds(), exactPairs,
                    exact.patchedRows(), exact.seconds(), exact.seconds() * pairs / exactPairs, s.batchRows());
        }
    }
}
