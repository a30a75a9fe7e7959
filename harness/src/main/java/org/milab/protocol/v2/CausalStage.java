package org.milab.protocol.v2;

import org.milab.engine.Capture;
import org.milab.graph.Head;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.stage.StageContext;
import org.milab.stage.StepChunks;
import org.milab.stats.Scores;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Single-head causal tests of every head on every prompt pair, batched through the engine (one row per
 * intervention): necessity on the clean run (mean and resample ablation), sufficiency by denoising (clean z
 * into the corrupt run), and the control ablation (mean ablation on the control, scored for the clean answer
 * against an equally frequent unlicensed token). Writes {@code v2/baselines} (one row per pair),
 * {@code v2/ablations} (pair x head x ablation) and {@code v2/patches} (pair x head, denoising).
 */
public final class CausalStage {
    public static final String BASELINES = "baselines";
    public static final String ABLATIONS = "ablations";
    public static final String PATCHES = "patches";
    public static final String MEAN = "mean_ablation", RESAMPLE = "resample_ablation", CONTROL = "control_ablation",
            DENOISE = "denoising";

    public void run(StageContext ctx) {
        long t0 = System.nanoTime();
        ProtocolStage.Registered reg = ProtocolStage.load(ctx);
        V2Protocol proto = reg.protocol();
        double tol = proto.thresholds().floatTolerance();
        int nLayer = ctx.model().config().nLayer(), nHead = ctx.model().config().nHead();
        List<Map.Entry<List<Object>, List<PromptPair>>> groups = List.copyOf(Causal.bySeedAndFamily(ProtocolStage.pairs(ctx)).entrySet());
        Sequential design = proto.design();
        int feeding = (int) groups.stream().filter(g -> !NaturalText.NAME.equals(g.getKey().get(1))).count();
        int block = design.firstBlock(proto.promptsPerFamily(), feeding);
        List<String> names = List.of(BASELINES, ABLATIONS, PATCHES);
        // stage 1: every head on the first block of every group (all pairs when the design is off); one chunk per
        // seed and family, so a kill loses at most the group being patched (the key is the registered protocol)
        StepChunks first = new StepChunks(ctx, "v2-causal", reg.sha256() + " first block " + block);
        List<List<Table>> stage1 = new ArrayList<>();
        for (int i = 0; i < groups.size(); i++) {
            List<PromptPair> pairs = groups.get(i).getValue();
            String label = "v2 causal " + groups.get(i).getKey();
            stage1.add(first.tables(String.valueOf(i), names, () -> group(ctx, reg, pairs,
                    pairs.subList(0, Math.min(block, pairs.size())), true, h -> true, label, nLayer, nHead, tol)));
        }
        double t1s = (System.nanoTime() - t0) / 1e9;
        List<Table> s1 = concat(stage1, List.of(baselines(reg), Causal.perPromptTable(ABLATIONS, reg.sha256(), "intervention"),
                Causal.perPromptTable(PATCHES, reg.sha256(), "intervention")));
        boolean remaining = groups.stream().anyMatch(g -> g.getValue().size() > block);
        Table attention = ctx.read(ProtocolStage.DIR, null, AttentionProbeStage.TABLE),
                copying = ctx.read(ProtocolStage.DIR, null, CopyingStage.TABLE);
        Map<Head, Sequential.Decision> decisions = design.decide(proto.thresholds(), VerdictInputs.pooledRoles(ctx, reg),
                proto.seeds().stream().map(s -> Roles.assign(attention, copying, proto.thresholds(),
                        r -> r.getLong("seed") == (long) s)).toList(), s1.get(0), s1.get(1), s1.get(2),
                NaturalText.feedsVerdicts(), remaining);
        Set<Head> stopped = new LinkedHashSet<>();
        decisions.values().forEach(d -> {
            if (d.stopped()) stopped.add(d.head());
        });
        // stage 2: the heads that did not stop, on the rest of every group
        List<List<Table>> stage2 = new ArrayList<>();
        long t2 = System.nanoTime();
        if (remaining) {
            StepChunks rest = new StepChunks(ctx, "v2-causal2", reg.sha256() + " first block " + block + " stopped " + stopped);
            for (int i = 0; i < groups.size(); i++) {
                List<PromptPair> pairs = groups.get(i).getValue();
                String label = "v2 causal, stage 2 " + groups.get(i).getKey();
                stage2.add(pairs.size() <= block ? null : rest.tables(String.valueOf(i), names, () -> group(ctx, reg, pairs,
                        pairs.subList(block, pairs.size()), false, h -> !stopped.contains(h), label, nLayer, nHead, tol)));
            }
            rest.clear("groups (seed x family), stage 2");
        }
        TableBuilder base = baselines(reg), abl = Causal.perPromptTable(ABLATIONS, reg.sha256(), "intervention"),
                pat = Causal.perPromptTable(PATCHES, reg.sha256(), "intervention");
        for (int i = 0; i < groups.size(); i++) {
            List<Table> a = stage1.get(i), b = stage2.isEmpty() ? null : stage2.get(i);
            for (Table.Row r : a.get(0).rows()) base.copyRow(r); // stage 1 holds every pair's baselines
            mergeInOrder(groups.get(i).getValue(), a.get(1), b == null ? null : b.get(1), abl);
            mergeInOrder(groups.get(i).getValue(), a.get(2), b == null ? null : b.get(2), pat);
        }
        Table t1 = ctx.write(ProtocolStage.DIR, null, base);
        Table t2t = ctx.write(ProtocolStage.DIR, null, abl);
        Table t3 = ctx.write(ProtocolStage.DIR, null, pat);
        int pairsTotal = (int) t1.rows().stream().filter(NaturalText.feedsVerdicts()).count();
        ctx.write(ProtocolStage.DIR, null, design.table(decisions, pairsTotal, reg.sha256()));
        first.clear("groups (seed x family)");
        ctx.recordTiming("v2/causal_stage1", t1s);
        ctx.recordTiming("v2/causal_stage2", (System.nanoTime() - t2) / 1e9);
        ctx.recordTiming("v2/causal", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- v2 single-head causal tests: %d pairs, %d ablation rows, %d denoising rows",
                t1.rowCount(), t2t.rowCount(), t3.rowCount()));
        ctx.summarize(String.format(Locale.ROOT, "- v2 sequential design %s: stage 1 = %d pairs per seed and family; %d of %d "
                        + "heads stopped for futility (v2/sequential)", design.enabled() ? "on" : "off", Math.min(block,
                proto.promptsPerFamily()), stopped.size(), decisions.size()));
    }

    private static List<Table> concat(List<List<Table>> chunks, List<TableBuilder> into) {
        for (List<Table> c : chunks)
            for (int t = 0; t < into.size(); t++)
                for (Table.Row r : c.get(t).rows()) into.get(t).copyRow(r);
        return into.stream().map(TableBuilder::build).toList();
    }

    /**
     * A group's rows of both stages in the order one pass writes them (head, then pair, then intervention), so
     * every bootstrap resamples the same prompts in the same order with the design on or off.
     */
    private static void mergeInOrder(List<PromptPair> pairs, Table stage1, Table stage2, TableBuilder into) {
        Map<String, Integer> at = new java.util.HashMap<>();
        for (int i = 0; i < pairs.size(); i++) at.put(pairs.get(i).id(), i);
        List<Table.Row> rows = new ArrayList<>(stage1.rows());
        if (stage2 != null) rows.addAll(stage2.rows());
        rows.sort(java.util.Comparator.comparing((Table.Row r) -> Roles.head(r))
                .thenComparing(r -> at.get(r.getString("prompt_id"))));
        rows.forEach(into::copyRow);
    }

    /** A row of {@code v2/baselines}: one prompt pair's clean, corrupt and control logit differences. */
    record BaselineRow(int seed, String family, String promptId, int n, int k, double ldClean, double ldCorrupt, double gap,
                       double ldControl, boolean cleanTop1IsAnswer, boolean corruptTop1IsWrong, boolean controlTop1IsAnswer) {}

    private static TableBuilder baselines(ProtocolStage.Registered reg) {
        return RecordSchema.of(BaselineRow.class).builder(BASELINES, "prompt_id").metadata(ProtocolStage.SHA_METADATA, reg.sha256());
    }

    /** One seed and family: baselines, ablations and denoising patches of every head on every pair. */
    private static List<Table> group(StageContext ctx, ProtocolStage.Registered reg, List<PromptPair> pairs,
                                     List<PromptPair> patchedPairs, boolean stage1, java.util.function.Predicate<Head> heads, String label,
                                     int nLayer, int nHead, double tol) {
        TableBuilder base = baselines(reg), abl = Causal.perPromptTable(ABLATIONS, reg.sha256(), "intervention"),
                pat = Causal.perPromptTable(PATCHES, reg.sha256(), "intervention");
        Causal.Captured c = Causal.capture(ctx, pairs, ctx.model().engine().suffixHooks(), true, label);
        List<PatchRow> rows = new ArrayList<>();
        // stage 1 scores every pair's baselines (the gap the stopping rule reads); stage 2 only its patched pairs
        // in the same batch as their patched rows (its baselines table is not kept)
        List<PromptPair> based = stage1 ? pairs : patchedPairs;
        Causal.Baselines b = Causal.baselines(based, rows);
        record Cell(PromptPair pair, Head head, String intervention, int row) {}
        List<Cell> cells = new ArrayList<>();
        for (int l = 0; l < nLayer; l++)
            for (int h = 0; h < nHead; h++) {
                Head head = new Head(l, h);
                if (!heads.test(head)) continue;
                float[] mean = c.meanZ(head);
                for (PromptPair p : patchedPairs) {
                    int[] pos = Causal.positions(p, l, nLayer);
                    TokenIds clean = new TokenIds(p.clean()), corrupt = new TokenIds(p.corrupt());
                    Capture cc = c.caps().get(clean), dc = c.caps().get(new TokenIds(p.donor()));
                    rows.add(new PatchRow(clean, Causal.fixed(head, pos, mean), Causal.main(p)));
                    cells.add(new Cell(p, head, MEAN, rows.size() - 1));
                    rows.add(new PatchRow(clean, Causal.from(dc, head, pos), Causal.main(p)));
                    cells.add(new Cell(p, head, RESAMPLE, rows.size() - 1));
                    rows.add(new PatchRow(corrupt, Causal.from(cc, head, pos), Causal.main(p)));
                    cells.add(new Cell(p, head, DENOISE, rows.size() - 1));
                    rows.add(new PatchRow(corrupt, Causal.fixed(head, pos, mean), Causal.control(p)));
                    cells.add(new Cell(p, head, CONTROL, rows.size() - 1));
                }
            }
        float[][] out = ctx.model().engine().patch(PatchSite.HOOK_Z, rows, label + ": patch_z", c.caps());
        for (PromptPair p : based) {
            double clean = b.clean(p, out), corrupt = b.corrupt(p, out);
            float[] cl = c.caps().get(new TokenIds(p.clean())).logits(), co = c.caps().get(new TokenIds(p.corrupt())).logits();
            RecordSchema.of(BaselineRow.class).add(base, new BaselineRow(p.seed(), p.family(), p.id(), p.n(), p.k(), clean,
                    corrupt, clean - corrupt, b.control(p, out), Scores.argmax(cl) == p.answer(), Scores.argmax(co) == p.wrong(),
                    Scores.argmax(co) == p.answer()));
        }
        for (Cell x : cells) {
            PromptPair p = x.pair;
            double clean = b.clean(p, out), corrupt = b.corrupt(p, out), patched = Causal.ld(out[x.row]);
            int n = Causal.positions(p, x.head.layer(), nLayer).length;
            switch (x.intervention) {
                case DENOISE -> Causal.addRow(pat, p, x.head, x.intervention, clean, corrupt, corrupt, patched,
                        patched - corrupt, n, tol);
                case CONTROL -> Causal.addRow(abl, p, x.head, x.intervention, clean, corrupt, b.control(p, out),
                        patched, b.control(p, out) - patched, n, tol);
                default -> Causal.addRow(abl, p, x.head, x.intervention, clean, corrupt, clean, patched,
                        clean - patched, n, tol);
            }
        }
        return List.of(base.build(), abl.build(), pat.build());
    }
}
