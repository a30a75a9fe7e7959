package org.milab.protocol.v2;

import org.milab.engine.Capture;
import org.milab.graph.Head;
import org.milab.engine.KeyPathPatch;
import org.milab.engine.QueryValuePathPatch;
import org.milab.engine.SitePatch;
import org.milab.engine.PatchRow;
import org.milab.engine.TokenIds;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.lab.ExportedWeights;
import org.milab.stage.StageContext;
import org.milab.stage.StepChunks;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * K-, Q- and V-composition by path patching: for every (previous-token head, later induction head) pair of the pooled
 * attention roles, the clean run with ONLY the receiver's keys (kind k), queries (q) or values (v) recomputed as if the
 * sender's output were mean-ablated ({@link QueryValuePathPatch}: the receiver's hook_z recomputed on the host, then a
 * {@code patch_z} row from the receiver's block); every other path sees the clean run. Effect = drop of LD. Writes
 * {@code v2/composition} (pair x kind x sender x receiver), {@code v2/composition_kinds} (per sender, receiver and
 * kind, with CIs: {@link CompositionKinds}) and, reported beside it, the weight-based K-, Q- and V-composition scores
 * of the same head pairs ({@link CompositionScores}, {@code v2/composition_scores}). Only kind k feeds a verdict.
 */
public final class CompositionStage {
    public static final String TABLE = "composition";
    public static final String SCORES = "composition_scores";
    /** The composition kinds, in table order: the sender's path into the receiver's keys, queries, values. */
    public static final String K = "k", Q = "q", V = "v";
    public static final List<String> KINDS = List.of(K, Q, V);

    public void run(StageContext ctx) {
        long t0 = System.nanoTime();
        ProtocolStage.Registered reg = ProtocolStage.load(ctx);
        double tol = reg.protocol().thresholds().floatTolerance();
        List<Head[]> pairsOfHeads = Roles.compositionPairs(VerdictInputs.pooledRoles(ctx, reg));
        TableBuilder b = table(reg);
        if (!pairsOfHeads.isEmpty())
            try (ExportedWeights w = ExportedWeights.open(ctx.model().layout().graphDir(), ctx.model().config());
                 KeyPathPatch kp = new KeyPathPatch(w, ctx.model().sessions())) {
                QueryValuePathPatch qv = new QueryValuePathPatch(kp); // shares kp's MLP passes
                Set<String> extra = new LinkedHashSet<>();
                for (Head[] sr : pairsOfHeads) extra.addAll(QueryValuePathPatch.hooksNeeded(sr[0], sr[1]));
                // the q and v rows patch hook_z at their receiver's layer only: with the suffix hooks from the first
                // receiver's layer on, the engine recomputes them from that block instead of from the embedding
                extra.addAll(ctx.model().engine().suffixHooks(pairsOfHeads.stream().mapToInt(sr -> sr[1].layer()).min().orElseThrow()));
                List<Map.Entry<List<Object>, List<PromptPair>>> chunks = List.copyOf(Causal.bySeedAndFamily(ProtocolStage.pairs(ctx)).entrySet());
                // one chunk per seed and family (the key: the registered protocol and the head pairs, found by earlier steps)
                StepChunks kept = new StepChunks(ctx, "v2-composition", reg.sha256() + " " + KINDS + " " + pairsOfHeads.stream()
                        .map(sr -> sr[0] + "->" + sr[1]).toList());
                kept.appendAll(chunks.size(), List.of(TABLE), i -> List.of(chunk(ctx, reg, kp, qv, pairsOfHeads, extra,
                        chunks.get(i).getValue(), "v2 composition " + chunks.get(i).getKey(), tol)), List.of(b));
                kept.clear("groups (seed x family)");
            }
        Table t = ctx.write(ProtocolStage.DIR, null, b);
        Table kinds = ctx.write(ProtocolStage.DIR, null, CompositionKinds.table(t, reg.protocol().thresholds(), reg.sha256()));
        List<ScoreRow> scores = new ArrayList<>();
        if (!pairsOfHeads.isEmpty())
            try (ExportedWeights w = ExportedWeights.open(ctx.model().layout().graphDir(), ctx.model().config())) {
                for (Head[] sr : pairsOfHeads) {
                    double[] kqv = CompositionScores.scores(CompositionScores.of(w, sr[0]), CompositionScores.of(w, sr[1]));
                    scores.add(new ScoreRow(sr[0].label(), sr[1].label(), kqv[0], kqv[1], kqv[2]));
                }
            }
        ctx.write(ProtocolStage.DIR, null, RecordSchema.of(ScoreRow.class).builder(SCORES, scores, "sender_id", "receiver_id")
                .metadata(ProtocolStage.SHA_METADATA, reg.sha256()));
        ctx.recordTiming("v2/composition", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- v2 composition (path patching into keys, queries and values): pairs %s, "
                + "%d rows%s", pairsOfHeads.stream().map(sr -> sr[0] + "->" + sr[1]).collect(Collectors.joining(", ")),
                t.rowCount(), CompositionKinds.markdown(kinds).replace("\n- ", "\n  - ").stripTrailing()));
    }

    private static TableBuilder table(ProtocolStage.Registered reg) {
        return RecordSchema.of(Row.class).builder(TABLE, "prompt_id", "kind", "sender_id", "receiver_id")
                .metadata(ProtocolStage.SHA_METADATA, reg.sha256());
    }

    /** One seed and family: every (sender, receiver) pair path-patched into keys, queries and values on every prompt pair. */
    private static Table chunk(StageContext ctx, ProtocolStage.Registered reg, KeyPathPatch kp, QueryValuePathPatch qv,
                               List<Head[]> pairsOfHeads, Set<String> extra, List<PromptPair> pairs, String label, double tol) {
        TableBuilder b = table(reg);
        Causal.Captured c = Causal.captureWithCausalMeans(ctx, pairs, extra, label);
        // one path computation per (sender, prompt) serves all its receivers (the MLP passes are shared)
        Map<Head, List<Head>> receivers = new java.util.LinkedHashMap<>();
        for (Head[] sr : pairsOfHeads) receivers.computeIfAbsent(sr[0], s -> new ArrayList<>()).add(sr[1]);
        Map<String, Integer> pairOrder = new java.util.HashMap<>();
        for (Head[] sr : pairsOfHeads) pairOrder.putIfAbsent(sr[0] + ">" + sr[1], pairOrder.size());
        Map<String, List<PatchRow>> rows = new java.util.LinkedHashMap<>();
        Map<String, Causal.Baselines> base = new java.util.LinkedHashMap<>();
        Map<String, List<Cell>> cells = new java.util.LinkedHashMap<>();
        for (String kind : KINDS) {
            rows.put(kind, new ArrayList<>());
            base.put(kind, Causal.cleanOnly(ctx, pairs, rows.get(kind)));
            cells.put(kind, new ArrayList<>());
        }
        for (Map.Entry<Head, List<Head>> sender : receivers.entrySet())
            for (PromptPair p : pairs) {
                Head s = sender.getKey();
                Capture clean = c.caps().get(new TokenIds(p.clean()));
                float[][] z = new float[p.length()][];
                z[0] = clean.z(s.layer(), 0, s.head()); // BOS is never patched
                for (int t = 1; t < z.length; t++) z[t] = c.meanZ(s);
                Map<QueryValuePathPatch.Input, Map<Head, List<SitePatch>>> qvz = qv.receiverZ(clean, s, z, sender.getValue());
                Map<String, Map<Head, List<SitePatch>>> patches = Map.of(K, qvz.get(QueryValuePathPatch.Input.KEY),
                        Q, qvz.get(QueryValuePathPatch.Input.QUERY), V, qvz.get(QueryValuePathPatch.Input.VALUE));
                for (String kind : KINDS)
                    for (Head r : sender.getValue()) {
                        rows.get(kind).add(new PatchRow(clean.prompt(), patches.get(kind).get(r), Causal.main(p)));
                        cells.get(kind).add(new Cell(p, s, r, rows.get(kind).size() - 1));
                    }
            }
        for (String kind : KINDS) {
            // table rows in (kind, pair, prompt) order, as the verdicts and earlier runs read them
            List<Cell> cs = cells.get(kind);
            cs.sort(java.util.Comparator.<Cell>comparingInt(x -> pairOrder.get(x.sender + ">" + x.receiver))
                    .thenComparingInt(x -> pairs.indexOf(x.pair)));
            // every path ends in the receiver's recomputed hook_z, which the engine's cached path runs from the receiver's
            // block (its baselines take the same path, so a row's effect compares numbers made the same way)
            float[][] res = ctx.model().engine().patch(PatchSite.HOOK_Z, rows.get(kind), label + ": patch_z (" + kind
                    + "-composition)", c.caps());
            for (Cell x : cs) {
                PromptPair p = x.pair;
                double clean = base.get(kind).clean(p, res), corrupt = base.get(kind).corrupt(p, res), patched = Causal.ld(res[x.row]);
                double gap = clean - corrupt, d = Causal.zeroBelow(clean - patched, tol);
                RecordSchema.of(Row.class).add(b, new Row(p.seed(), p.family(), p.id(), kind, p.n(), p.k(), x.sender.layer(),
                        x.sender.head(), x.sender.label(), x.receiver.layer(), x.receiver.head(), x.receiver.label(), clean,
                        corrupt, gap, patched, d, Causal.normalized(d, gap, tol)));
            }
        }
        return b.build();
    }

    private record Cell(PromptPair pair, Head sender, Head receiver, int row) {}

    /** A row of {@code v2/composition}: one prompt pair x kind x (sender, receiver); normalized is null when the gap is noise. */
    record Row(int seed, String family, String promptId, String kind, int n, int k, int senderLayer, int senderHead,
               String senderId, int receiverLayer, int receiverHead, String receiverId, double ldClean, double ldCorrupt,
               double gap, double ldPatched, double delta, Double normalized) {}

    /** A row of {@code v2/composition_scores}: the weight-based K-, Q- and V-composition of one head pair. */
    record ScoreRow(String senderId, String receiverId, double kComposition, double qComposition, double vComposition) {}
}
