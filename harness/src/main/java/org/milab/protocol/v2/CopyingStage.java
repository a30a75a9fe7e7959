package org.milab.protocol.v2;

import org.milab.engine.Head;
import org.milab.lab.ExportedWeights;
import org.milab.model.Checkpoint;
import org.milab.run.RunContext;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.List;
import java.util.Locale;

/**
 * Copying scores of every head's OV circuit (see {@link OvCopying}) on the probe pool's tokens, one row per
 * head x source token: its own logit, the best other pool token's, and its rank among the pool (1 = copied,
 * pool size = anti-copied: the OV lowers the token it reads more than any other, as a negative head does).
 */
public final class CopyingStage {
    public static final String TABLE = "copying_scores";

    public void run(RunContext ctx) {
        long t0 = System.nanoTime();
        ProtocolStage.Registered reg = ProtocolStage.load(ctx);
        TokenPool pool = reg.protocol().pool(reg.protocol().probePool());
        int[] ids = pool.ids().stream().mapToInt(Integer::intValue).toArray();
        TableBuilder b = Table.builder(TABLE).keys("layer", "head", "token_id").int64("layer", "head").string("head_id")
                .int64("token_id").string("token").float64("own_logit", "best_other_logit").int64("own_rank", "pool_size")
                .bool("copied", "anti_copied").metadata(ProtocolStage.SHA_METADATA, reg.sha256())
                .describe("copied", "The source token's own logit is the largest of the pool's (own_rank 1).")
                .describe("anti_copied", "The source token's own logit is the smallest of the pool's (own_rank = pool_size): "
                        + "the OV circuit suppresses the token it reads (negative role evidence).");
        try (Checkpoint w = ExportedWeights.open(ctx.model().layout().graphDir(), ctx.model().config())) {
            OvCopying ov = new OvCopying(w, ids);
            for (int l = 0; l < ctx.model().config().nLayer(); l++) {
                double[][][] logits = ov.layer(l);
                for (int h = 0; h < logits.length; h++)
                    for (int a = 0; a < ids.length; a++) {
                        double[] row = logits[h][a];
                        double best = Double.NEGATIVE_INFINITY;
                        for (int c = 0; c < row.length; c++) if (c != a) best = Math.max(best, row[c]);
                        int rank = OvCopying.ownRank(row, a);
                        b.addRow(l, h, new Head(l, h).label(), ids[a], pool.texts().get(a), row[a], best, rank,
                                ids.length, rank == 1, rank == ids.length);
                    }
            }
        }
        Table t = ctx.write(ProtocolStage.DIR, null, b);
        ctx.recordTiming("v2/copying", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- v2 copying: %d heads x %d pool tokens", t.rowCount() / ids.length, ids.length));
    }
}
