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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

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
        int[] looks = design.looks(proto.promptsPerFamily(), feeding);
        List<String> names = List.of(BASELINES, ABLATIONS, PATCHES);
        Table attention = ctx.read(ProtocolStage.DIR, null, AttentionProbeStage.TABLE),
                copying = ctx.read(ProtocolStage.DIR, null, CopyingStage.TABLE);
        Map<Head, Roles.HeadRole> pooled = VerdictInputs.pooledRoles(ctx, reg);
        List<Map<Head, Roles.HeadRole>> seedRoles = proto.seeds().stream().map(s -> Roles.assign(attention, copying,
                proto.thresholds(), r -> r.getLong("seed") == (long) s)).toList();
        // each group's mean-ablation references: computed once from the capture of the whole group (the first
        // look's), kept bit for bit so a resumed later look patches exactly the same values
        StepChunks meanChunks = new StepChunks(ctx, "v2-meanz", reg.sha256() + " mean references");
        float[][] means = new float[groups.size()][];
        List<List<List<Table>>> parts = new ArrayList<>(); // per group: each look's tables (none when it had no pairs there)
        groups.forEach(g -> parts.add(new ArrayList<>()));
        List<StepChunks> lookChunks = new ArrayList<>();
        // each group's capture of all its pairs, made at the first look and kept for the later ones: they patch the
        // same prompts, and capturing them again cost a forward pass per prompt (756 of them in looks 2-4 of
        // make bench-v2-planted). A run resumed past the first look captures the whole group again, in the same
        // batches, so its floats are the same
        Causal.Captured[] kept = new Causal.Captured[groups.size()];
        // the heads part (a) of the rule lets stop: their natural-text pairs wait (Sequential.deferNaturalText)
        Set<Head> stoppable = new TreeSet<>();
        pooled.keySet().stream().filter(h -> Sequential.eligible(h, pooled, seedRoles)).forEach(stoppable::add);
        Map<Head, Sequential.Decision> decisions = new TreeMap<>();
        Set<Head> stopped = new TreeSet<>();
        for (int k = 0; k < looks.length; k++) {
            long tk = System.nanoTime();
            int from = k == 0 ? 0 : looks[k - 1], to = looks[k], look = k + 1;
            boolean firstLook = k == 0;
            // one chunk per seed and family and look, so a kill loses at most the group being patched; a later
            // look's key holds the heads that stopped before it (they decide which rows it runs)
            StepChunks chunks = new StepChunks(ctx, "v2-causal" + (k == 0 ? "" : String.valueOf(look)),
                    reg.sha256() + " looks " + Arrays.toString(looks) + " look " + look + " stopped " + stopped);
            lookChunks.add(chunks);
            Set<Head> done = Set.copyOf(stopped);
            for (int i = 0; i < groups.size(); i++) {
                List<PromptPair> pairs = groups.get(i).getValue();
                if (Math.min(to, pairs.size()) <= from) continue;
                List<PromptPair> patched = pairs.subList(from, Math.min(to, pairs.size()));
                // natural text (reported only) of a head that may stop waits until it has passed a look; at the second
                // look such a head still running gets every pair up to it (Sequential.deferNaturalText)
                boolean deferred = looks.length > 1 && design.defersNaturalText() && NaturalText.NAME.equals(groups.get(i).getKey().get(1));
                List<PromptPair> caughtUp = pairs.subList(0, Math.min(to, pairs.size()));
                java.util.function.Function<Head, List<PromptPair>> pairsOf = !deferred ? h -> patched
                        : h -> !stoppable.contains(h) ? patched : firstLook ? List.of() : look == 2 ? caughtUp : patched;
                boolean catchUp = deferred && look == 2 && stoppable.stream().anyMatch(h -> !done.contains(h));
                List<PromptPair> run = catchUp ? caughtUp : patched;
                String label = lookLabel(look, looks.length) + groups.get(i).getKey();
                int g = i;
                java.util.function.Supplier<Causal.Captured> whole = () -> kept[g] != null ? kept[g]
                        : (kept[g] = Causal.capture(ctx, pairs, ctx.model().engine().suffixHooks(), true, label));
                if (firstLook) means[i] = meanChunks.floats(String.valueOf(i), () -> flatten(whole.get(), nLayer, nHead));
                float[] mz = means[i];
                int dh = mz.length / (nLayer * nHead);
                parts.get(i).add(chunks.tables(String.valueOf(i), names, () -> group(ctx, reg, whole.get(), pairs, run,
                        firstLook, h -> !done.contains(h), pairsOf, h -> Arrays.copyOfRange(mz, (h.layer() * nHead + h.head()) * dh,
                                (h.layer() * nHead + h.head() + 1) * dh), label, nLayer, nHead, tol)));
                if (to >= pairs.size()) kept[i] = null; // no later look patches this group
            }
            ctx.recordTiming("v2/causal_look" + look, (System.nanoTime() - tk) / 1e9);
            if (k < looks.length - 1 || looks.length == 1) {
                int last = to;
                boolean remaining = groups.stream().anyMatch(g -> g.getValue().size() > last) && k < looks.length - 1;
                List<Table> sofar = merged(groups, parts, reg).stream().map(TableBuilder::build).toList();
                design.decide(proto.thresholds(), pooled, seedRoles, sofar.get(0), sofar.get(1), sofar.get(2),
                        NaturalText.feedsVerdicts(), remaining, look, h -> !done.contains(h)).values().forEach(d -> {
                    decisions.put(d.head(), d);
                    if (d.stopped()) stopped.add(d.head());
                });
            }
        }
        List<TableBuilder> all = merged(groups, parts, reg);
        Table t1 = ctx.write(ProtocolStage.DIR, null, all.get(0));
        Table t2t = ctx.write(ProtocolStage.DIR, null, all.get(1));
        Table t3 = ctx.write(ProtocolStage.DIR, null, all.get(2));
        int pairsTotal = (int) t1.rows().stream().filter(NaturalText.feedsVerdicts()).count();
        ctx.write(ProtocolStage.DIR, null, design.table(decisions, looks.length, pairsTotal, reg.sha256()));
        // the references as patched, for the stages that mean-ablate after this one (they need not capture the
        // corrupt prompts again to recompute them)
        ctx.write(ProtocolStage.DIR, null, Causal.meanTable(groups, means, nLayer, nHead, reg.sha256()));
        for (int k = 0; k < lookChunks.size(); k++) lookChunks.get(k).clear("groups (seed x family)" + (k == 0 ? "" : ", look " + (k + 1)));
        meanChunks.clear("groups' mean-ablation references");
        ctx.recordTiming("v2/causal", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- v2 single-head causal tests: %d pairs, %d ablation rows, %d denoising rows",
                t1.rowCount(), t2t.rowCount(), t3.rowCount()));
        ctx.summarize(String.format(Locale.ROOT, "- v2 sequential design %s: looks at %s pairs per seed and family; %d of %d "
                        + "heads stopped for futility (v2/sequential)", design.enabled() ? "on" : "off", Arrays.toString(looks),
                stopped.size(), decisions.size()));
    }

    /** The engine label of look {@code look} of {@code looks} (bench-v2 counts each look's rows by it). */
    public static String lookLabel(int look, int looks) {
        return "v2 causal, look " + look + " of " + looks + " ";
    }

    /** Every head's mean-ablation reference of a capture, as one array (layer, head, then d_head). */
    private static float[] flatten(Causal.Captured c, int nLayer, int nHead) {
        float[] first = c.meanZ(new Head(0, 0));
        float[] out = new float[nLayer * nHead * first.length];
        for (int l = 0; l < nLayer; l++)
            for (int h = 0; h < nHead; h++)
                System.arraycopy(c.meanZ(new Head(l, h)), 0, out, (l * nHead + h) * first.length, first.length);
        return out;
    }

    /** The baselines (the first look holds every pair's) and each group's rows of every look so far, merged. */
    private static List<TableBuilder> merged(List<Map.Entry<List<Object>, List<PromptPair>>> groups, List<List<List<Table>>> parts,
                                      ProtocolStage.Registered reg) {
        TableBuilder base = baselines(reg), abl = Causal.perPromptTable(ABLATIONS, reg.sha256(), "intervention"),
                pat = Causal.perPromptTable(PATCHES, reg.sha256(), "intervention");
        for (int i = 0; i < groups.size(); i++) {
            List<List<Table>> looks = parts.get(i);
            if (looks.isEmpty()) continue;
            for (Table.Row r : looks.get(0).get(0).rows()) base.copyRow(r);
            mergeInOrder(groups.get(i).getValue(), looks.stream().map(t -> t.get(1)).toList(), abl);
            mergeInOrder(groups.get(i).getValue(), looks.stream().map(t -> t.get(2)).toList(), pat);
        }
        return List.of(base, abl, pat);
    }

    /**
     * A group's rows of every look in the order one pass writes them (head, then pair, then intervention), so
     * every bootstrap resamples the same prompts in the same order with the design on or off.
     */
    static void mergeInOrder(List<PromptPair> pairs, List<Table> looks, TableBuilder into) {
        Map<String, Integer> at = new java.util.HashMap<>();
        for (int i = 0; i < pairs.size(); i++) at.put(pairs.get(i).id(), i);
        List<Table.Row> rows = new ArrayList<>();
        for (Table t : looks) rows.addAll(t.rows());
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

    /**
     * One seed and family at one look: baselines, ablations and denoising patches of the running heads on their
     * patched pairs ({@code pairsOf}, within {@code patchedPairs}), from {@code c} (the first look: the whole group's
     * capture, and every pair's baselines).
     */
    private static List<Table> group(StageContext ctx, ProtocolStage.Registered reg, Causal.Captured c, List<PromptPair> pairs,
                                     List<PromptPair> patchedPairs, boolean firstLook, java.util.function.Predicate<Head> heads,
                                     java.util.function.Function<Head, List<PromptPair>> pairsOf,
                                     java.util.function.Function<Head, float[]> meanZ, String label, int nLayer, int nHead,
                                     double tol) {
        TableBuilder base = baselines(reg), abl = Causal.perPromptTable(ABLATIONS, reg.sha256(), "intervention"),
                pat = Causal.perPromptTable(PATCHES, reg.sha256(), "intervention");
        List<PatchRow> rows = new ArrayList<>();
        // the first look scores every pair's baselines (the gap the stopping rule reads); a later look only its
        // patched pairs, in the same batch as their patched rows (its baselines table is not kept)
        List<PromptPair> based = firstLook ? pairs : patchedPairs;
        Causal.Baselines b = Causal.baselines(based, rows);
        record Cell(PromptPair pair, Head head, String intervention, int row) {}
        List<Cell> cells = new ArrayList<>();
        for (int l = 0; l < nLayer; l++)
            for (int h = 0; h < nHead; h++) {
                Head head = new Head(l, h);
                if (!heads.test(head)) continue;
                float[] mean = meanZ.apply(head);
                for (PromptPair p : pairsOf.apply(head)) {
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
