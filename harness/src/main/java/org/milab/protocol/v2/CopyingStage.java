package org.milab.protocol.v2;

import org.milab.lab.ExportedWeights;
import org.milab.model.Checkpoint;
import org.milab.stage.StageContext;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Copying scores of every head's OV circuit (see {@link OvCopying}) on the probe pool's tokens, the source read
 * through the effective embedding (token embedding + block 0's MLP; layer-0 heads: the raw embedding), one row per
 * head x source token: its own logit, the best other pool token's, and its rank among the pool (1 = copied,
 * pool size = anti-copied: the OV lowers the token it reads more than any other, as a negative head does).
 */
public final class CopyingStage {
    public static final String TABLE = "copying_scores";
    /** Per head: copying through the raw and the effective embedding, and the OV eigenvalue positivity (reported). */
    public static final String OV_TABLE = "ov_circuit";

    public void run(StageContext ctx) {
        long t0 = System.nanoTime();
        ProtocolStage.Registered reg = ProtocolStage.load(ctx);
        TokenPool pool = reg.protocol().pool(reg.protocol().copyPool());
        int[] ids = pool.ids().stream().mapToInt(Integer::intValue).toArray();
        int k = reg.protocol().thresholds().copyTopK();
        List<TokenRow> tokens = new ArrayList<>();
        List<OvRow> ovRows = new ArrayList<>();
        try (Checkpoint w = ExportedWeights.open(ctx.model().layout().graphDir(), ctx.model().config())) {
            OvCopying ov = new OvCopying(w, ids);
            for (int l = 0; l < ctx.model().config().nLayer(); l++) {
                double[][][] logits = ov.layer(l), eff = ov.layer(l, true);
                int layer = l;
                // heads are independent (an SVD and an eigendecomposition each): over the cores, rows in head order
                ovRows.addAll(java.util.stream.IntStream.range(0, logits.length).parallel().mapToObj(h -> {
                    double[] raw = ownRankFractions(logits[h], 1), ef = ownRankFractions(eff[h], 1), efk = ownRankFractions(eff[h], k);
                    return new OvRow(layer, h, raw[0], raw[1], OvCopying.eigenvaluePositivity(logits[h]),
                            ef[0], ef[1], OvCopying.eigenvaluePositivity(eff[h]), efk[0], efk[1], ids.length, k);
                }).toList());
                // the decision reads the effective embedding: heads after block 0 read tokens as MLP0 has already
                // transformed them (Wang et al.'s IOI reading), and trained induction heads copy only through it
                for (int h = 0; h < eff.length; h++)
                    for (int a = 0; a < ids.length; a++) {
                        double[] row = eff[h][a];
                        double best = Double.NEGATIVE_INFINITY;
                        for (int c = 0; c < row.length; c++) if (c != a) best = Math.max(best, row[c]);
                        int rank = OvCopying.ownRank(row, a);
                        tokens.add(new TokenRow(l, h, ids[a], pool.texts().get(a), row[a], best, rank, ids.length,
                                rank == 1, rank == ids.length));
                    }
            }
        }
        Table t = ctx.write(ProtocolStage.DIR, null, RecordSchema.of(TokenRow.class).builder(TABLE, tokens, "layer", "head",
                "token_id").metadata(ProtocolStage.SHA_METADATA, reg.sha256()));
        ctx.write(ProtocolStage.DIR, null, RecordSchema.of(OvRow.class).builder(OV_TABLE, ovRows, "layer", "head")
                .metadata(ProtocolStage.SHA_METADATA, reg.sha256()));
        ctx.recordTiming("v2/copying", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- v2 copying: %d heads x %d pool tokens", t.rowCount() / ids.length, ids.length));
    }

    /** A row of {@code v2/copying_scores}: one pool token through one head's OV circuit (effective embedding). */
    record TokenRow(int layer, int head, int tokenId, String token, double ownLogit, double bestOtherLogit, int ownRank,
                    int poolSize, boolean copied, boolean antiCopied) {}

    /** A row of {@code v2/ov_circuit}: one head's copying through the raw and the effective embedding. */
    record OvRow(int layer, int head, double copyFraction, double antiCopyFraction, double eigenvaluePositivity,
                 double copyFractionEffective, double antiCopyFractionEffective, double eigenvaluePositivityEffective,
                 double copyTopKFractionEffective, double antiCopyBottomKFractionEffective, int poolSize, int copyTopK) {}

    /** {fraction of rows whose own token ranks in the top k, fraction whose own token ranks in the bottom k}. */
    static double[] ownRankFractions(double[][] rows, int k) {
        int first = 0, last = 0;
        for (int a = 0; a < rows.length; a++) {
            int rank = OvCopying.ownRank(rows[a], a);
            if (rank <= k) first++;
            if (rank > rows.length - k) last++;
        }
        return new double[]{(double) first / rows.length, (double) last / rows.length};
    }
}
