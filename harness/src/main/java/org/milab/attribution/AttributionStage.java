package org.milab.attribution;

import org.milab.atp.PromptPair;
import org.milab.atp.AttributionNode;
import org.milab.atp.AttributionPatching;
import org.milab.stage.StageContext;
import org.milab.stats.Bootstrap;
import org.milab.stats.RankAgreement;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import org.milab.atp.AttributionPatching.PairScores;

import java.util.Arrays;
import java.util.function.Function;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code make attribute}: AtP scores of every node at every position of every prompt pair, in both
 * directions, and per-node aggregates (summed over positions: the first-order estimate of patching the
 * node at every position) with bootstrap intervals over pairs.
 */
public final class AttributionStage {
    public static final String DIR = "attribution";

    private AttributionStage() {}

    /** The pairs a run uses: repeated random tokens over the model's ordinary tokens. */
    public static List<PromptPair> pairs(StageContext ctx, AttributionConfig cfg) {
        var tok = ctx.model().tokenizer();
        Set<Integer> special = tok.isSingleToken("<unk>") ? Set.of(tok.singleTokenId("<unk>")) : Set.of();
        return RepeatedTokenPairs.generate(cfg.pairs(), cfg.length(), cfg.seed(), ctx.model().config().vocabSize(),
                tok.bosId(), special, ctx.model().config().nPositions());
    }

    public static AttributionPatching.Result run(StageContext ctx, AttributionConfig cfg, List<PromptPair> pairs) {
        AttributionPatching.Result r = AttributionPatching.run(ctx.model(), pairs, cfg.batchRows(), cfg.igSteps(), cfg.atpStar());
        ctx.recordTiming("attribution_atp", r.seconds());
        ctx.recordTiming("attribution_atp_star_qk_fix", r.starSeconds());
        ctx.writeJson(DIR, null, "attribution_config.json", cfg.toMap());
        ctx.write(DIR, null, cells(r));
        ctx.write(DIR, null, pairTable(r));
        Table nodes = ctx.write(DIR, null, nodeTable(r, new Bootstrap(cfg.resamples(), cfg.bootstrapSeed(), Bootstrap.DEFAULT_LEVEL)));
        ctx.summarize(summary(r, nodes));
        return r;
    }

    /** One (pair, node, position) of {@code attribution}: AtP in both directions, AtP-IG and AtP*. */
    record Cell(int pair, String node, String mibNode, String kind, String hook, int layer, Integer head, int position,
                int tokenClean, int tokenCorrupt, double atpDenoising, double atpNoising, Double atpIg, Double atpStar) {}

    /** One prompt pair of {@code attribution_pairs}. */
    record Pair(int pair, int trueToken, int wrongToken, int length, List<Integer> cleanIds, List<Integer> corruptIds,
                double cleanMetric, double corruptMetric) {}

    /** One node of {@code attribution_nodes}: AtP summed over positions, mean over pairs with its interval, ranks. */
    record Node(String node, String mibNode, String kind, String hook, int layer, Integer head, int nPairs,
                int rankDenoising, int rankNoising, Integer rankIg, double atpDenoisingMean, double atpDenoisingCiLow,
                double atpDenoisingCiHigh, double atpNoisingMean, double atpNoisingCiLow, double atpNoisingCiHigh,
                Double atpIgMean, Double atpIgCiLow, Double atpIgCiHigh, Integer rankStar, Double atpStarMean,
                Double atpStarCiLow, Double atpStarCiHigh) {}

    static String kind(AttributionNode node) {
        return node.kind().name().toLowerCase(Locale.ROOT);
    }

    static Integer head(AttributionNode node) {
        return node.head() < 0 ? null : node.head();
    }

    static TableBuilder cells(AttributionPatching.Result r) {
        TableBuilder b = RecordSchema.of(Cell.class).builder("attribution", "pair", "node", "position")
                .metadata("milab.atp", "atp_denoising = (a_clean - a_corrupt) . dm/da at the corrupt run; atp_noising = "
                        + "(a_corrupt - a_clean) . dm/da at the clean run; atp_ig = (a_clean - a_corrupt) . dm/da averaged over "
                        + r.igSteps() + " runs with token embeddings (1 - w) E[corrupt] + w E[clean], w = (j - 1/2) / "
                        + r.igSteps() + " (null without --ig-steps); atp_star = atp_denoising with AtP*'s QK fix: each later "
                        + "head's softmax recomputed exactly for the node's first-order change of its attention logits "
                        + "(ln1 scale frozen at the corrupt run; docs/attribution.md); m = L[true] - L[wrong] at the final position");
        for (AttributionPatching.PairScores p : r.pairs()) {
            int[] clean = p.pair().clean().ids(), corrupt = p.pair().corrupt().ids();
            for (int n = 0; n < r.nodes().size(); n++) {
                AttributionNode node = r.nodes().get(n);
                for (int t = 0; t < p.pair().length(); t++)
                    RecordSchema.of(Cell.class).add(b, new Cell(p.pair().index(), node.id(), node.mibId(), kind(node),
                            node.hook(), node.layer(), head(node), t, clean[t], corrupt[t], p.denoising()[n][t],
                            p.noising()[n][t], p.integrated() == null ? null : p.integrated()[n][t],
                            p.star() == null ? null : p.star()[n][t]));
            }
        }
        return b;
    }

    static TableBuilder pairTable(AttributionPatching.Result r) {
        return RecordSchema.of(Pair.class).builder("attribution_pairs", r.pairs().stream().map(p -> new Pair(p.pair().index(),
                p.pair().trueToken(), p.pair().wrongToken(), p.pair().length(), boxed(p.pair().clean().ids()),
                boxed(p.pair().corrupt().ids()), p.cleanMetric(), p.corruptMetric())).toList(), "pair");
    }

    private static List<Integer> boxed(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    static TableBuilder nodeTable(AttributionPatching.Result r, Bootstrap boot) {
        TableBuilder b = RecordSchema.of(Node.class).builder("attribution_nodes", "node")
                .metadata("milab.aggregate", "per pair, the node's AtP summed over positions (first-order estimate of "
                        + "patching it at every position); mean over pairs with a seeded percentile bootstrap interval; "
                        + "ranks by |mean| among nodes of the same kind, 1 = largest");
        int n = r.nodes().size();
        double[][] den = perPairTotals(r, PairScores::denoising), noi = perPairTotals(r, PairScores::noising),
                ig = r.igSteps() > 0 ? perPairTotals(r, PairScores::integrated) : null,
                st = r.hasStar() ? perPairTotals(r, PairScores::star) : null;
        Bootstrap.Interval[] d = new Bootstrap.Interval[n], s = new Bootstrap.Interval[n], q = new Bootstrap.Interval[n],
                a = new Bootstrap.Interval[n];
        for (int k = 0; k < n; k++) {
            d[k] = boot.mean(den[k]);
            s[k] = boot.mean(noi[k]);
            q[k] = ig == null ? Bootstrap.Interval.EMPTY : boot.mean(ig[k]);
            a[k] = st == null ? Bootstrap.Interval.EMPTY : boot.mean(st[k]);
        }
        int[] rankD = ranksWithinKind(r.nodes(), d), rankN = ranksWithinKind(r.nodes(), s),
                rankQ = ig == null ? null : ranksWithinKind(r.nodes(), q), rankA = st == null ? null : ranksWithinKind(r.nodes(), a);
        for (int k = 0; k < n; k++) {
            AttributionNode node = r.nodes().get(k);
            RecordSchema.of(Node.class).add(b, new Node(node.id(), node.mibId(), kind(node), node.hook(), node.layer(), head(node),
                    r.pairs().size(), rankD[k], rankN[k], rankQ == null ? null : rankQ[k], d[k].estimate(), d[k].low(),
                    d[k].high(), s[k].estimate(), s[k].low(), s[k].high(), ig == null ? null : q[k].estimate(),
                    ig == null ? null : q[k].low(), ig == null ? null : q[k].high(), rankA == null ? null : rankA[k],
                    st == null ? null : a[k].estimate(), st == null ? null : a[k].low(), st == null ? null : a[k].high()));
        }
        return b;
    }

    /** {@code [node][pair]}: the node's AtP summed over positions. */
    static double[][] perPairTotals(AttributionPatching.Result r, Function<PairScores, double[][]> estimate) {
        double[][] out = new double[r.nodes().size()][r.pairs().size()];
        for (int p = 0; p < r.pairs().size(); p++) {
            double[][] s = estimate.apply(r.pairs().get(p));
            for (int k = 0; k < s.length; k++) out[k][p] = Arrays.stream(s[k]).sum();
        }
        return out;
    }

    private static int[] ranksWithinKind(List<AttributionNode> nodes, Bootstrap.Interval[] v) {
        int[] rank = new int[nodes.size()];
        for (AttributionNode.Kind kind : AttributionNode.Kind.values()) {
            List<Integer> idx = java.util.stream.IntStream.range(0, nodes.size()).filter(i -> nodes.get(i).kind() == kind).boxed().toList();
            double[] vals = idx.stream().mapToDouble(i -> v[i].estimate()).toArray();
            Integer[] order = RankAgreement.top(vals, vals.length);
            for (int j = 0; j < order.length; j++) rank[idx.get(order[j])] = j + 1;
        }
        return rank;
    }

    private static String summary(AttributionPatching.Result r, Table nodes) {
        String s = String.format(Locale.ROOT, "- attribution: AtP for %d nodes x every position of %d prompt pairs in %.2f s "
                        + "(%d gradient passes per pair)%s; top heads by |AtP denoising|: %s",
                r.nodes().size(), r.pairs().size(), r.seconds(), 2 + r.igSteps(),
                r.igSteps() > 0 ? ", AtP-IG with " + r.igSteps() + " steps" : "", topHeads(nodes, "denoising"));
        if (r.igSteps() > 0) s += "; by |AtP-IG|: " + topHeads(nodes, "ig");
        return r.hasStar() ? s + String.format(Locale.ROOT, "; by |AtP*|: %s (AtP*'s QK fix %.2f s of the %.2f s, no extra pass)",
                topHeads(nodes, "star"), r.starSeconds(), r.seconds()) : s;
    }

    private static String topHeads(Table nodes, String estimate) {
        return nodes.rows().stream().filter(x -> "head".equals(x.getString("kind")))
                .sorted(java.util.Comparator.comparingLong(x -> x.getLong("rank_" + estimate))).limit(5)
                .map(x -> String.format(Locale.ROOT, "%s %.3g", x.getString("node"), x.getDouble("atp_" + estimate + "_mean")))
                .collect(Collectors.joining(", "));
    }
}
