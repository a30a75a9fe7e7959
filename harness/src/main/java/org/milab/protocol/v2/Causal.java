package org.milab.protocol.v2;

import org.milab.engine.Capture;
import org.milab.graph.Head;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.HookNames;
import org.milab.stage.StageContext;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What v2's causal stages share: captures of a seed-and-family chunk of pairs, the mean-ablation reference,
 * patched positions, the unpatched baseline rows and the per-prompt tidy row.
 */
final class Causal {
    private Causal() {}

    /** Pairs grouped by (seed, family), in registration order: the unit of the mean-ablation reference. */
    static Map<List<Object>, List<PromptPair>> bySeedAndFamily(List<PromptPair> pairs) {
        Map<List<Object>, List<PromptPair>> out = new LinkedHashMap<>();
        for (PromptPair p : pairs) out.computeIfAbsent(List.of(p.seed(), p.family()), k -> new ArrayList<>()).add(p);
        return out;
    }

    /**
     * Clean, corrupt and (when {@code donors}) donor prompts captured with every layer's hook_z and
     * {@code extraHooks} (e.g. the engine's suffix hooks); {@link #meanZ} is a head's mean hook_z over every position >= 1 of the chunk's corrupt prompts.
     */
    record Captured(Map<TokenIds, Capture> caps, Map<Head, float[]> means) {
        float[] meanZ(Head h) {
            return means.get(h);
        }
    }

    static Captured capture(StageContext ctx, List<PromptPair> pairs, Set<String> extraHooks, boolean donors, String label) {
        int nLayer = ctx.model().config().nLayer(), nHead = ctx.model().config().nHead(), dh = ctx.model().config().dHead();
        Set<TokenIds> prompts = new LinkedHashSet<>();
        for (PromptPair p : pairs) {
            prompts.add(new TokenIds(p.clean()));
            prompts.add(new TokenIds(p.corrupt()));
            if (donors) prompts.add(new TokenIds(p.donor()));
        }
        Map<TokenIds, Capture> caps = captureZ(ctx, prompts, extraHooks, label);
        Map<Head, float[]> means = new HashMap<>();
        for (int l = 0; l < nLayer; l++)
            for (int h = 0; h < nHead; h++) {
                double[] sum = new double[dh];
                long count = 0;
                for (PromptPair p : pairs) {
                    Capture c = caps.get(new TokenIds(p.corrupt()));
                    for (int pos = 1; pos < p.length(); pos++) {
                        float[] z = c.z(l, pos, h);
                        for (int i = 0; i < dh; i++) sum[i] += z[i];
                        count++;
                    }
                }
                float[] mean = new float[dh];
                for (int i = 0; i < dh; i++) mean[i] = (float) (sum[i] / count);
                means.put(new Head(l, h), mean);
            }
        return new Captured(caps, means);
    }

    /** Prompts captured with every layer's hook_z and {@code extraHooks}. */
    private static Map<TokenIds, Capture> captureZ(StageContext ctx, Set<TokenIds> prompts, Set<String> extraHooks, String label) {
        Set<String> hooks = new LinkedHashSet<>();
        for (int l = 0; l < ctx.model().config().nLayer(); l++) hooks.add(HookNames.hookZ(l));
        hooks.addAll(extraHooks);
        return ctx.model().engine().capture(prompts, hooks, label + ": capture");
    }

    /**
     * For the stages after the causal one (composition, circuit evidence), which mean-ablate with the causal stage's
     * references: the clean prompts of a group captured as {@link #capture} captures them, with the group's references
     * from {@code v2/mean_z}, the floats the causal stage patched. Its corrupt prompts are not captured again (they
     * served only the means). A run whose causal step predates {@code v2/mean_z} captures them as before.
     */
    static Captured captureWithCausalMeans(StageContext ctx, List<PromptPair> pairs, Set<String> extraHooks, String label) {
        Map<Head, float[]> means = causalMeans(ctx, pairs);
        if (means == null) return capture(ctx, pairs, extraHooks, false, label);
        Set<TokenIds> prompts = new LinkedHashSet<>();
        for (PromptPair p : pairs) prompts.add(new TokenIds(p.clean()));
        return new Captured(captureZ(ctx, prompts, extraHooks, label), means);
    }

    /**
     * The mean-ablation references of {@code pairs}' group (one seed and family) from {@code v2/mean_z}, the floats the
     * causal stage patched; null when the run's causal step predates that table.
     */
    static Map<Head, float[]> causalMeans(StageContext ctx, List<PromptPair> pairs) {
        if (!ctx.has(ProtocolStage.DIR, null, MEAN_Z)) return null;
        List<Object> group = List.of(pairs.get(0).seed(), pairs.get(0).family());
        Map<Head, float[]> means = causalMeansOf(ctx.read(ProtocolStage.DIR, null, MEAN_Z), pairs.get(0).seed(), pairs.get(0).family());
        int heads = ctx.model().config().nLayer() * ctx.model().config().nHead();
        if (means.size() != heads || pairs.stream().anyMatch(p -> !List.of(p.seed(), p.family()).equals(group)))
            throw new IllegalStateException("v2/mean_z holds " + means.size() + " of " + heads + " heads' references for group " + group);
        return means;
    }

    /** The references of one group (seed, family) in a {@code v2/mean_z} table, as floats (exact: written from floats). */
    static Map<Head, float[]> causalMeansOf(Table meanZ, int seed, String family) {
        Map<Head, float[]> means = new HashMap<>();
        for (Table.Row r : meanZ.rows()) {
            if (r.getLong("seed") != seed || !r.getString("family").equals(family)) continue;
            List<Double> v = r.getDoubles("mean_z");
            float[] mean = new float[v.size()];
            for (int i = 0; i < mean.length; i++) mean[i] = (float) (double) v.get(i);
            means.put(new Head(r.getLong("layer").intValue(), r.getLong("head").intValue()), mean);
        }
        return means;
    }

    /** {@code v2/mean_z}: each group's mean-ablation reference of every head, as the causal stage patched it. */
    static final String MEAN_Z = "mean_z";

    /** A row of {@code v2/mean_z}: one (seed, family) group's mean hook_z of one head over its corrupt prompts' positions >= 1. */
    record MeanRow(int seed, String family, int layer, int head, String headId, long nPositions, List<Double> meanZ) {}

    /** The table of {@code means[i]} (layer, head, then d_head, as the causal stage keeps them) of each group. */
    static TableBuilder meanTable(List<Map.Entry<List<Object>, List<PromptPair>>> groups, float[][] means, int nLayer, int nHead,
                                  String sha) {
        List<MeanRow> rows = new ArrayList<>();
        for (int i = 0; i < groups.size(); i++) {
            List<PromptPair> pairs = groups.get(i).getValue();
            long positions = pairs.stream().mapToLong(p -> p.length() - 1).sum();
            int dh = means[i].length / (nLayer * nHead);
            for (int l = 0; l < nLayer; l++)
                for (int h = 0; h < nHead; h++) {
                    List<Double> v = new ArrayList<>(dh);
                    for (int j = 0; j < dh; j++) v.add((double) means[i][(l * nHead + h) * dh + j]);
                    rows.add(new MeanRow(pairs.get(0).seed(), pairs.get(0).family(), l, h, new Head(l, h).label(), positions, v));
                }
        }
        return RecordSchema.of(MeanRow.class).builder(MEAN_Z, rows, "seed", "family", "layer", "head")
                .metadata(ProtocolStage.SHA_METADATA, sha);
    }

    /**
     * Positions a head is patched at: every position >= 1, except for heads of the last layer, whose output
     * reaches nothing but the logits, so the final position alone is the same intervention.
     */
    static int[] positions(PromptPair p, int layer, int nLayer) {
        if (layer == nLayer - 1) return new int[]{p.finalPosition()};
        int[] pos = new int[p.length() - 1];
        for (int i = 0; i < pos.length; i++) pos[i] = i + 1;
        return pos;
    }

    /** The same value at every position. */
    static List<SitePatch> fixed(Head h, int[] positions, float[] value) {
        List<SitePatch> out = new ArrayList<>(positions.length);
        for (int pos : positions) out.add(new SitePatch(h.layer(), pos, h.head(), value));
        return out;
    }

    /** Each position's value from another run of the same length. */
    static List<SitePatch> from(Capture donor, Head h, int[] positions) {
        List<SitePatch> out = new ArrayList<>(positions.length);
        for (int pos : positions) out.add(new SitePatch(h.layer(), pos, h.head(), donor.z(h.layer(), pos, h.head())));
        return out;
    }

    static int[] main(PromptPair p) {
        return new int[]{p.answer(), p.wrong()};
    }

    static int[] control(PromptPair p) {
        return new int[]{p.answer(), p.controlAlt()};
    }

    static double ld(float[] metric) {
        return (double) metric[0] - metric[1];
    }

    /**
     * Unpatched rows of every pair, scored in the same batch as the patched rows: clean and corrupt (answer vs
     * wrong) and the control (answer vs control_alt); {@link #cleanOnly} stages take the corrupt run's score
     * from the {@code baselines} table instead.
     */
    static final class Baselines {
        private final Map<String, int[]> rowOf = new HashMap<>();
        private final Map<String, Double> corruptFromTable;

        private Baselines(Map<String, Double> corruptFromTable) {
            this.corruptFromTable = corruptFromTable;
        }

        double clean(PromptPair p, float[][] out) {
            return ld(out[rowOf.get(p.id())[0]]);
        }

        double corrupt(PromptPair p, float[][] out) {
            return corruptFromTable != null ? corruptFromTable.get(p.id()) : ld(out[rowOf.get(p.id())[1]]);
        }

        double control(PromptPair p, float[][] out) {
            return ld(out[rowOf.get(p.id())[2]]);
        }
    }

    /** Appends each pair's three unpatched rows to {@code rows}. */
    static Baselines baselines(List<PromptPair> pairs, List<PatchRow> rows) {
        Baselines b = new Baselines(null);
        for (PromptPair p : pairs) {
            int first = rows.size();
            rows.add(new PatchRow(new TokenIds(p.clean()), List.of(), main(p)));
            rows.add(new PatchRow(new TokenIds(p.corrupt()), List.of(), main(p)));
            rows.add(new PatchRow(new TokenIds(p.corrupt()), List.of(), control(p)));
            b.rowOf.put(p.id(), new int[]{first, first + 1, first + 2});
        }
        return b;
    }

    /** Only each pair's clean row (interventions on the clean run); the corrupt score from the baselines table. */
    static Baselines cleanOnly(StageContext ctx, List<PromptPair> pairs, List<PatchRow> rows) {
        Map<String, Double> corrupt = new HashMap<>();
        for (Table.Row r : ctx.read(ProtocolStage.DIR, null, CausalStage.BASELINES).rows())
            corrupt.put(r.getString("prompt_id"), r.getDouble("ld_corrupt"));
        Baselines b = new Baselines(corrupt);
        for (PromptPair p : pairs) {
            rows.add(new PatchRow(new TokenIds(p.clean()), List.of(), main(p)));
            b.rowOf.put(p.id(), new int[]{rows.size() - 1});
        }
        return b;
    }

    /** A row of the per-prompt tidy tables of single-head interventions: one pair x head x intervention. */
    record InterventionRow(int seed, String family, String promptId, int n, int k, int layer, int head, String intervention,
                           double ldClean, double ldCorrupt, double gap, double ldBase, double ldPatched, double delta,
                           Double normalized, int nPatchedPositions) {}

    /**
     * The per-prompt tidy schema of single-head interventions ({@link InterventionRow}); {@code kind} names its
     * intervention column, which the record fixes as {@code intervention}.
     */
    static TableBuilder perPromptTable(String name, String protocolSha, String kind) {
        if (!kind.equals("intervention"))
            throw new IllegalArgumentException("the per-prompt intervention tables key on 'intervention', not '" + kind + "'");
        return RecordSchema.of(InterventionRow.class).builder(name, "prompt_id", "layer", "head", kind)
                .metadata(ProtocolStage.SHA_METADATA, protocolSha);
    }

    /**
     * One tidy row. {@code delta} is the effect in logits with the sign that counts as support (drop for
     * ablations, recovery for denoising), set to 0 when below the float tolerance; normalized = delta / gap,
     * null when |gap| is below the tolerance.
     */
    static void addRow(TableBuilder b, PromptPair p, Head h, String kind, double clean, double corrupt, double base,
                       double patched, double delta, int nPositions, double tol) {
        double gap = clean - corrupt, d = zeroBelow(delta, tol);
        RecordSchema.of(InterventionRow.class).add(b, new InterventionRow(p.seed(), p.family(), p.id(), p.n(), p.k(),
                h.layer(), h.head(), kind, clean, corrupt, gap, base, patched, d, normalized(d, gap, tol), nPositions));
    }

    /** The declared float tolerance: a |delta| below it is float noise and counts as exactly 0. */
    static double zeroBelow(double delta, double tol) {
        return Math.abs(delta) < tol ? 0 : delta;
    }

    /** delta / gap, or null when the gap itself is float noise. */
    static Double normalized(double delta, double gap, double tol) {
        return Math.abs(gap) < tol ? null : delta / gap;
    }
}
