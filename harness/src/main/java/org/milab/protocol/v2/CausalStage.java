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
        double tol = reg.protocol().thresholds().floatTolerance();
        int nLayer = ctx.model().config().nLayer(), nHead = ctx.model().config().nHead();
        TableBuilder base = baselines(reg), abl = Causal.perPromptTable(ABLATIONS, reg.sha256(), "intervention"),
                pat = Causal.perPromptTable(PATCHES, reg.sha256(), "intervention");
        List<Map.Entry<List<Object>, List<PromptPair>>> groups = List.copyOf(Causal.bySeedAndFamily(ProtocolStage.pairs(ctx)).entrySet());
        // one chunk per seed and family: a kill loses at most the group being patched (the key is the registered protocol)
        StepChunks chunks = new StepChunks(ctx, "v2-causal", reg.sha256());
        chunks.appendAll(groups.size(), List.of(BASELINES, ABLATIONS, PATCHES), i -> group(ctx, reg, groups.get(i).getValue(),
                "v2 causal " + groups.get(i).getKey(), nLayer, nHead, tol),
                List.of(base, abl, pat));
        Table t1 = ctx.write(ProtocolStage.DIR, null, base);
        Table t2 = ctx.write(ProtocolStage.DIR, null, abl);
        Table t3 = ctx.write(ProtocolStage.DIR, null, pat);
        chunks.clear("groups (seed x family)");
        ctx.recordTiming("v2/causal", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- v2 single-head causal tests: %d pairs, %d ablation rows, %d denoising rows",
                t1.rowCount(), t2.rowCount(), t3.rowCount()));
    }

    /** A row of {@code v2/baselines}: one prompt pair's clean, corrupt and control logit differences. */
    record BaselineRow(int seed, String family, String promptId, int n, int k, double ldClean, double ldCorrupt, double gap,
                       double ldControl, boolean cleanTop1IsAnswer, boolean corruptTop1IsWrong, boolean controlTop1IsAnswer) {}

    private static TableBuilder baselines(ProtocolStage.Registered reg) {
        return RecordSchema.of(BaselineRow.class).builder(BASELINES, "prompt_id").metadata(ProtocolStage.SHA_METADATA, reg.sha256());
    }

    /** One seed and family: baselines, ablations and denoising patches of every head on every pair. */
    private static List<Table> group(StageContext ctx, ProtocolStage.Registered reg, List<PromptPair> pairs, String label,
                                     int nLayer, int nHead, double tol) {
        TableBuilder base = baselines(reg), abl = Causal.perPromptTable(ABLATIONS, reg.sha256(), "intervention"),
                pat = Causal.perPromptTable(PATCHES, reg.sha256(), "intervention");
        Causal.Captured c = Causal.capture(ctx, pairs, ctx.model().engine().suffixHooks(), true, label);
        List<PatchRow> rows = new ArrayList<>();
        Causal.Baselines b = Causal.baselines(pairs, rows);
        record Cell(PromptPair pair, Head head, String intervention, int row) {}
        List<Cell> cells = new ArrayList<>();
        for (int l = 0; l < nLayer; l++)
            for (int h = 0; h < nHead; h++) {
                Head head = new Head(l, h);
                float[] mean = c.meanZ(head);
                for (PromptPair p : pairs) {
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
        for (PromptPair p : pairs) {
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
