package org.milab.attribution;

import org.milab.atp.PromptPair;
import org.milab.atp.AttributionPatching;
import org.milab.engine.Capture;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Exact activation patching of hook_z through the batched engine, the ground truth AtP is checked against:
 * one patched forward pass per (pair, head, position) clean-into-corrupt ("cells"), and per (pair, head) the
 * head patched at every position at once in both directions ("heads"). Effects are raw metric deltas
 * against the unpatched run of the same patch graph, so a no-op patch scores exactly 0.
 */
public final class ExactHeadPatching {
    private ExactHeadPatching() {}

    /**
     * @param cells      {@code [pair][layer * n_head + head][position]} denoising deltas, or null when not run
     * @param heads      {@code [pair][layer * n_head + head]} denoising deltas, head patched at every position
     * @param headsNoise {@code [pair][layer * n_head + head]} noising deltas (corrupt into clean, every position)
     * @param clean      the clean run's metric per pair; {@code corrupt} likewise
     */
    public record Result(double[][][] cells, double[][] heads, double[][] headsNoise, double[] clean, double[] corrupt,
                         long patchedRows, double seconds) {}

    /** The denoising sweep over every head and position only (what the benchmark times). */
    public static Result cells(LabModel model, List<PromptPair> pairs) {
        return run(model, pairs, true, false);
    }

    public static Result run(LabModel model, List<PromptPair> pairs, boolean cells, boolean heads) {
        ModelConfig c = model.config();
        int L = c.nLayer(), H = c.nHead();
        long t0 = System.nanoTime();
        Set<String> hooks = new LinkedHashSet<>(model.engine().suffixHooks());
        for (int l = 0; l < L; l++) hooks.add(HookNames.hookZ(l));
        Map<TokenIds, Capture> caps = model.engine().capture(AttributionPatching.prompts(pairs), hooks, "exact patching: capture");
        List<PatchRow> rows = new ArrayList<>();
        for (PromptPair p : pairs) { // per pair: clean and corrupt baselines, then its patched rows in a fixed order
            rows.add(new PatchRow(p.clean(), List.of(), p.metricTokens()));
            rows.add(new PatchRow(p.corrupt(), List.of(), p.metricTokens()));
            Capture cl = caps.get(p.clean()), co = caps.get(p.corrupt());
            for (int l = 0; l < L; l++)
                for (int h = 0; h < H; h++) {
                    if (cells)
                        for (int t = 0; t < p.length(); t++)
                            rows.add(new PatchRow(p.corrupt(), List.of(new SitePatch(l, t, h, cl.z(l, t, h))), p.metricTokens()));
                    if (heads) {
                        rows.add(new PatchRow(p.corrupt(), everyPosition(cl, l, h, p.length()), p.metricTokens()));
                        rows.add(new PatchRow(p.clean(), everyPosition(co, l, h, p.length()), p.metricTokens()));
                    }
                }
        }
        float[][] logits = model.engine().patch(PatchSite.HOOK_Z, rows, "exact patching: patch_z", caps);
        int n = pairs.size();
        double[][][] cellOut = cells ? new double[n][L * H][] : null;
        double[][] headOut = heads ? new double[n][L * H] : null, headNoise = heads ? new double[n][L * H] : null;
        double[] clean = new double[n], corrupt = new double[n];
        int at = 0;
        for (int i = 0; i < n; i++) {
            int T = pairs.get(i).length();
            clean[i] = diff(logits[at++]);
            corrupt[i] = diff(logits[at++]);
            for (int k = 0; k < L * H; k++) {
                if (cells) {
                    cellOut[i][k] = new double[T];
                    for (int t = 0; t < T; t++) cellOut[i][k][t] = diff(logits[at++]) - corrupt[i];
                }
                if (heads) {
                    headOut[i][k] = diff(logits[at++]) - corrupt[i];
                    headNoise[i][k] = diff(logits[at++]) - clean[i];
                }
            }
        }
        return new Result(cellOut, headOut, headNoise, clean, corrupt, rows.size(), (System.nanoTime() - t0) / 1e9);
    }

    private static List<SitePatch> everyPosition(Capture donor, int layer, int head, int T) {
        List<SitePatch> out = new ArrayList<>(T);
        for (int t = 0; t < T; t++) out.add(new SitePatch(layer, t, head, donor.z(layer, t, head)));
        return out;
    }

    private static double diff(float[] metricLogits) {
        return (double) metricLogits[0] - metricLogits[1];
    }
}
