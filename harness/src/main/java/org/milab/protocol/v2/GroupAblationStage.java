package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.PatchSite;
import org.milab.stage.StageContext;
import org.milab.stage.StepChunks;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Group ablation of head sets found from data: for every tested role with two or more heads (pooled
 * attention roles), all of them mean-ablated together on the clean run, and each leave-one-out subset. A head's marginal
 * (group drop minus the drop without it) shows a redundant or backup head that single ablation hides.
 * Writes {@code v2/group_ablations} (pair x group x left-out head).
 */
public final class GroupAblationStage {
    public static final String TABLE = "group_ablations";
    public static final String NONE = "none";

    public void run(StageContext ctx) {
        long t0 = System.nanoTime();
        ProtocolStage.Registered reg = ProtocolStage.load(ctx);
        double tol = reg.protocol().thresholds().floatTolerance();
        int nLayer = ctx.model().config().nLayer();
        // a group of one head is that head's single-head mean ablation, already run by the causal stage
        Map<String, List<Head>> groups = new java.util.LinkedHashMap<>(Roles.groups(VerdictInputs.pooledRoles(ctx, reg)));
        groups.values().removeIf(hs -> hs.size() < 2);
        TableBuilder b = table(reg);
        if (!groups.isEmpty()) {
            List<Map.Entry<List<Object>, List<PromptPair>>> chunks = List.copyOf(Causal.bySeedAndFamily(ProtocolStage.pairs(ctx)).entrySet());
            // one chunk per seed and family (the key: the registered protocol and the groups, found by earlier steps)
            StepChunks kept = new StepChunks(ctx, "v2-group-ablation", reg.sha256() + " " + groups);
            kept.appendAll(chunks.size(), List.of(TABLE), i -> List.of(chunk(ctx, reg, groups, chunks.get(i).getValue(),
                    "v2 group ablation " + chunks.get(i).getKey(), nLayer, tol)), List.of(b));
            kept.clear("groups (seed x family)");
        }
        Table t = ctx.write(ProtocolStage.DIR, null, b);
        ctx.recordTiming("v2/group_ablation", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- v2 group ablation: groups %s, %d rows", groups.entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", ")), t.rowCount()));
    }

    /** A row of {@code v2/group_ablation}: one prompt pair with a role group (less {@code leftOut}) mean-ablated. */
    record Row(int seed, String family, String promptId, int n, int k, String group, List<String> heads, String leftOut,
               int nHeads, double ldClean, double ldCorrupt, double gap, double ldBase, double ldPatched, double delta,
               Double normalized) {}

    private static TableBuilder table(ProtocolStage.Registered reg) {
        return RecordSchema.of(Row.class).builder(TABLE, "prompt_id", "group", "left_out")
                .metadata(ProtocolStage.SHA_METADATA, reg.sha256());
    }

    /** One seed and family: every group and leave-one-out subset mean-ablated on every pair. */
    private static Table chunk(StageContext ctx, ProtocolStage.Registered reg, Map<String, List<Head>> groups,
                               List<PromptPair> pairs, String label, int nLayer, double tol) {
        TableBuilder b = table(reg);
        record Cell(PromptPair pair, String group, List<Head> heads, String leftOut, int row) {}
        Causal.Captured c = Causal.capture(ctx, pairs, ctx.model().engine().suffixHooks(), false, label);
        List<PatchRow> rows = new ArrayList<>();
        Causal.Baselines base = Causal.cleanOnly(ctx, pairs, rows);
        List<Cell> cells = new ArrayList<>();
        for (Map.Entry<String, List<Head>> grp : groups.entrySet()) {
            List<Head> all = grp.getValue();
            List<String> leftOuts = new ArrayList<>(List.of(NONE));
            all.forEach(h -> leftOuts.add(h.label()));
            for (String out : leftOuts) {
                List<Head> subset = all.stream().filter(h -> !h.label().equals(out)).toList();
                for (PromptPair p : pairs) {
                    List<SitePatch> o = new ArrayList<>();
                    for (Head h : subset) o.addAll(Causal.fixed(h, Causal.positions(p, h.layer(), nLayer), c.meanZ(h)));
                    rows.add(new PatchRow(new TokenIds(p.clean()), o, Causal.main(p)));
                    cells.add(new Cell(p, grp.getKey(), subset, out, rows.size() - 1));
                }
            }
        }
        float[][] res = ctx.model().engine().patch(PatchSite.HOOK_Z, rows, label + ": patch_z", c.caps());
        for (Cell x : cells) {
            PromptPair p = x.pair;
            double clean = base.clean(p, res), corrupt = base.corrupt(p, res), patched = Causal.ld(res[x.row]);
            double gap = clean - corrupt, d = Causal.zeroBelow(clean - patched, tol);
            RecordSchema.of(Row.class).add(b, new Row(p.seed(), p.family(), p.id(), p.n(), p.k(), x.group,
                    x.heads.stream().map(Head::label).toList(), x.leftOut, x.heads.size(), clean, corrupt, gap, clean, patched,
                    d, Causal.normalized(d, gap, tol)));
        }
        return b.build();
    }
}
