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

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Checks the AtP ranking against exact hook_z patching on the first {@code verifyPairs} pairs: per head (the
 * head patched at every position vs AtP summed over positions) in both directions, and per (head, position)
 * cell clean-into-corrupt. Agreement is Spearman's rho of the means over pairs (with a bootstrap interval over
 * pairs) and top-k recall by magnitude. AtP is the ranking; the exact effects are the verified answer.
 */
public final class AttributionVerificationStage {
    public static final String DIR = AttributionStage.DIR;

    private AttributionVerificationStage() {}

    /** One agreement statistic: {@code level} head or cell, {@code direction}, {@code statistic} (spearman, top2_recall...). */
    public record Agreement(String level, String direction, String statistic, Bootstrap.Interval value) {}

    /**
     * Agreement statistics, and per head (layer-major) the means over pairs; {@code atpHeadsIg} null without IG,
     * {@code atpHeadsStar} null without AtP*.
     */
    public record Verification(List<Agreement> agreements, double[] atpHeadsDenoising, double[] atpHeadsIg,
                               double[] exactHeadsDenoising, ExactHeadPatching.Result exact, double[] atpHeadsStar) {
        public Agreement get(String level, String direction, String statistic) {
            return agreements.stream().filter(a -> a.level.equals(level) && a.direction.equals(direction)
                    && a.statistic.equals(statistic)).findFirst().orElseThrow();
        }
    }

    public static Verification run(StageContext ctx, AttributionConfig cfg, AttributionPatching.Result atp) {
        List<AttributionPatching.PairScores> scored = atp.pairs().subList(0, cfg.verifyPairs());
        List<PromptPair> pairs = scored.stream().map(AttributionPatching.PairScores::pair).toList();
        ExactHeadPatching.Result exact = ExactHeadPatching.run(ctx.model(), pairs, true, true);
        ctx.recordTiming("attribution_exact_patching", exact.seconds());
        List<Integer> headNodes = new ArrayList<>();
        for (int k = 0; k < atp.nodes().size(); k++) if (atp.nodes().get(k).kind() == AttributionNode.Kind.HEAD) headNodes.add(k);
        int nHeads = headNodes.size(), n = pairs.size(), T = pairs.get(0).length();
        // per pair: AtP per head summed over positions, and per cell
        boolean ig = atp.igSteps() > 0, star = atp.hasStar();
        double[][] atpDen = new double[n][nHeads], atpNoi = new double[n][nHeads], atpIg = new double[n][nHeads],
                atpCell = new double[n][nHeads * T], igCell = new double[n][nHeads * T], exactCell = new double[n][nHeads * T],
                atpStar = new double[n][nHeads], starCell = new double[n][nHeads * T];
        for (int p = 0; p < n; p++)
            for (int h = 0; h < nHeads; h++) {
                int node = headNodes.get(h);
                AttributionPatching.PairScores s = scored.get(p);
                for (int t = 0; t < T; t++) {
                    atpDen[p][h] += s.denoising()[node][t];
                    atpNoi[p][h] += s.noising()[node][t];
                    atpCell[p][h * T + t] = s.denoising()[node][t];
                    exactCell[p][h * T + t] = exact.cells()[p][h][t];
                    if (ig) {
                        atpIg[p][h] += s.integrated()[node][t];
                        igCell[p][h * T + t] = s.integrated()[node][t];
                    }
                    if (star) {
                        atpStar[p][h] += s.star()[node][t];
                        starCell[p][h * T + t] = s.star()[node][t];
                    }
                }
            }
        Bootstrap boot = new Bootstrap(cfg.resamples(), cfg.bootstrapSeed(), Bootstrap.DEFAULT_LEVEL);
        List<Agreement> agreements = new ArrayList<>();
        agree(agreements, boot, "head", "denoising", atpDen, exact.heads(), cfg.topK());
        agree(agreements, boot, "head", "noising", atpNoi, exact.headsNoise(), cfg.topK());
        agree(agreements, boot, "cell", "denoising", atpCell, exactCell, cfg.topK());
        if (ig) { // AtP-IG estimates the clean-into-corrupt effect: checked against exact denoising
            agree(agreements, boot, "head", "ig", atpIg, exact.heads(), cfg.topK());
            agree(agreements, boot, "cell", "ig", igCell, exactCell, cfg.topK());
        }
        if (star) { // AtP* (denoising with the QK fix) against exact denoising too
            agree(agreements, boot, "head", "star", atpStar, exact.heads(), cfg.topK());
            agree(agreements, boot, "cell", "star", starCell, exactCell, cfg.topK());
        }

        ctx.write(DIR, null, headTable(atp, headNodes, pairs, atpDen, atpNoi, ig ? atpIg : null, star ? atpStar : null, exact));
        ctx.write(DIR, null, cellTable(atp, headNodes, pairs, atpCell, ig ? igCell : null, star ? starCell : null, exactCell, T));
        ctx.write(DIR, null, agreementTable(agreements, n));
        ctx.summarize(summary(agreements, n, exact));
        return new Verification(List.copyOf(agreements), means(atpDen), ig ? means(atpIg) : null, means(exact.heads()), exact,
                star ? means(atpStar) : null);
    }

    private static void agree(List<Agreement> out, Bootstrap boot, String level, String direction, double[][] atp,
                              double[][] exact, int topK) {
        int n = atp.length;
        out.add(new Agreement(level, direction, "spearman",
                boot.statistic(n, idx -> RankAgreement.spearman(means(atp, idx), means(exact, idx)))));
        java.util.TreeSet<Integer> ks = new java.util.TreeSet<>(List.of(2, 5, topK));
        ks.removeIf(k -> k >= atp[0].length);
        for (int k : ks)
            out.add(new Agreement(level, direction, "top" + k + "_recall",
                    boot.statistic(n, idx -> RankAgreement.topKRecall(means(atp, idx), means(exact, idx), k))));
    }

    /** One (pair, head) of {@code attribution_verification_heads}: AtP against exact hook_z patching. */
    record HeadRow(int pair, int layer, int head, String node, String mibNode, double atpDenoising, double exactDenoising,
                   double atpNoising, double exactNoising, Double atpIg, double cleanMetric, double corruptMetric,
                   Double exactDenoisingNormalized, Double atpStar) {}

    /** One (pair, head, position) of {@code attribution_verification_cells}. */
    record CellRow(int pair, int layer, int head, int position, String node, double atpDenoising, Double atpIg,
                   double exactDenoising, Double atpStar) {}

    /** One agreement statistic of {@code attribution_verification}, with its bootstrap interval over pairs. */
    record AgreementRow(String level, String direction, String statistic, int nPairs, double value, double ciLow,
                        double ciHigh) {}

    private static TableBuilder headTable(AttributionPatching.Result atp, List<Integer> headNodes, List<PromptPair> pairs,
                                          double[][] atpDen, double[][] atpNoi, double[][] atpIg, double[][] atpStar,
                                          ExactHeadPatching.Result exact) {
        TableBuilder b = RecordSchema.of(HeadRow.class).builder("attribution_verification_heads", "pair", "node")
                .metadata("milab.verification", "exact_* = metric delta of patching the head's hook_z at every position "
                        + "(denoising: clean into corrupt, minus corrupt; noising: corrupt into clean, minus clean); atp_* = "
                        + "AtP summed over positions; normalized = exact_denoising / (clean - corrupt)");
        for (int p = 0; p < pairs.size(); p++)
            for (int h = 0; h < headNodes.size(); h++) {
                AttributionNode node = atp.nodes().get(headNodes.get(h));
                double gap = exact.clean()[p] - exact.corrupt()[p];
                RecordSchema.of(HeadRow.class).add(b, new HeadRow(pairs.get(p).index(), node.layer(), node.head(), node.id(),
                        node.mibId(), atpDen[p][h], exact.heads()[p][h], atpNoi[p][h], exact.headsNoise()[p][h],
                        atpIg == null ? null : atpIg[p][h], exact.clean()[p], exact.corrupt()[p],
                        gap == 0 ? null : exact.heads()[p][h] / gap, atpStar == null ? null : atpStar[p][h]));
            }
        return b;
    }

    private static TableBuilder cellTable(AttributionPatching.Result atp, List<Integer> headNodes, List<PromptPair> pairs,
                                          double[][] atpCell, double[][] igCell, double[][] starCell, double[][] exactCell, int T) {
        TableBuilder b = RecordSchema.of(CellRow.class).builder("attribution_verification_cells", "pair", "node", "position");
        for (int p = 0; p < pairs.size(); p++)
            for (int h = 0; h < headNodes.size(); h++) {
                AttributionNode node = atp.nodes().get(headNodes.get(h));
                for (int t = 0; t < T; t++)
                    RecordSchema.of(CellRow.class).add(b, new CellRow(pairs.get(p).index(), node.layer(), node.head(), t,
                            node.id(), atpCell[p][h * T + t], igCell == null ? null : igCell[p][h * T + t],
                            exactCell[p][h * T + t], starCell == null ? null : starCell[p][h * T + t]));
            }
        return b;
    }

    private static TableBuilder agreementTable(List<Agreement> agreements, int n) {
        TableBuilder b = RecordSchema.of(AgreementRow.class).builder("attribution_verification", "level", "direction", "statistic")
                .metadata("milab.agreement", "statistics of the means over pairs (AtP vs exact patching); intervals: "
                        + "percentile bootstrap over pairs");
        for (Agreement a : agreements)
            RecordSchema.of(AgreementRow.class).add(b, new AgreementRow(a.level, a.direction, a.statistic, n, a.value.estimate(),
                    a.value.low(), a.value.high()));
        return b;
    }

    private static String summary(List<Agreement> agreements, int n, ExactHeadPatching.Result exact) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT,
                "- attribution verification against exact hook_z patching (%d pairs, %d patched rows, %.1f s):",
                n, exact.patchedRows(), exact.seconds()));
        Map<String, List<Agreement>> byGroup = new LinkedHashMap<>();
        for (Agreement a : agreements) byGroup.computeIfAbsent(a.level + " " + a.direction, k -> new ArrayList<>()).add(a);
        byGroup.forEach((group, list) -> {
            s.append("\n  - ").append(group).append(": ");
            s.append(String.join(", ", list.stream().map(a -> String.format(Locale.ROOT, "%s %.3f [%.3f, %.3f]",
                    a.statistic, a.value.estimate(), a.value.low(), a.value.high())).toList()));
        });
        return s.toString();
    }

    private static double[] means(double[][] perPair) {
        int[] all = java.util.stream.IntStream.range(0, perPair.length).toArray();
        return means(perPair, all);
    }

    private static double[] means(double[][] perPair, int[] idx) {
        double[] m = new double[perPair[0].length];
        for (int i : idx) for (int k = 0; k < m.length; k++) m[k] += perPair[i][k];
        for (int k = 0; k < m.length; k++) m[k] /= idx.length;
        return m;
    }
}
