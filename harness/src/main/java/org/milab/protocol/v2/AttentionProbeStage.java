package org.milab.protocol.v2;

import org.milab.engine.Capture;
import org.milab.engine.TokenIds;
import org.milab.graph.HookNames;
import org.milab.stage.StageContext;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Attention scores of every head on every probe (one row per probe x head), each beside the same score on
 * the probe's non-repeating control. On BOS + r + r (r of length n) the rows that can match are the second
 * copy's, i in [n+1, 2n]: induction (prefix matching) = attention to i-n+1, the token after the earlier
 * occurrence; duplicate-token = attention to i-n, the earlier occurrence. Previous-token = attention to i-1
 * over rows i >= 2 (row 1's previous token is BOS), with the uniform baseline mean(1/(i+1)).
 */
public final class AttentionProbeStage {
    public static final String TABLE = "attention_scores";

    public void run(StageContext ctx) {
        long t0 = System.nanoTime();
        ProtocolStage.Registered reg = ProtocolStage.load(ctx);
        List<AttentionProbe> probes = ProtocolStage.probes(ctx);
        int nLayer = ctx.model().config().nLayer(), nHead = ctx.model().config().nHead();
        Set<String> hooks = new LinkedHashSet<>();
        for (int l = 0; l < nLayer; l++) hooks.add(HookNames.hookPattern(l));
        List<TokenIds> prompts = new ArrayList<>();
        for (AttentionProbe a : probes) {
            prompts.add(new TokenIds(a.repeat()));
            prompts.add(new TokenIds(a.control()));
        }
        Map<TokenIds, Capture> caps = ctx.model().engine().capture(prompts, hooks, "v2 attention probes: capture");
        List<Row> rows = new ArrayList<>();
        for (AttentionProbe a : probes) {
            Capture rep = caps.get(new TokenIds(a.repeat())), ctl = caps.get(new TokenIds(a.control()));
            for (int l = 0; l < nLayer; l++)
                for (int h = 0; h < nHead; h++) {
                    Scores r = scores(rep, l, h, a.n()), c = scores(ctl, l, h, a.n());
                    double uniform = uniformPrevious(a.repeat().length);
                    rows.add(new Row(a.seed(), a.id(), a.n(), l, h, r.induction, c.induction, r.induction - c.induction,
                            r.duplicate, c.duplicate, r.duplicate - c.duplicate, r.previous, c.previous, uniform,
                            (r.previous + c.previous) / 2 - uniform, r.bos));
                }
        }
        Table t = ctx.write(ProtocolStage.DIR, null, RecordSchema.of(Row.class).builder(TABLE, rows, "probe_id", "layer", "head")
                .metadata(ProtocolStage.SHA_METADATA, reg.sha256()));
        ctx.recordTiming("v2/attention", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- v2 attention: %d probes x %d heads = %d rows", probes.size(),
                nLayer * nHead, t.rowCount()));
    }

    /** A row of {@code v2/attention_scores}: one head's attention on one probe's repeat and control sequences. */
    record Row(int seed, String probeId, int n, int layer, int head, double inductionRepeat, double inductionControl,
               double inductionExcess, double duplicateRepeat, double duplicateControl, double duplicateExcess,
               double previousRepeat, double previousControl, double previousUniform, double previousExcess, double bosRepeat) {}

    /** Mean attention of the second-half rows to the induction and duplicate offsets, rows >= 2 to i-1, to BOS. */
    record Scores(double induction, double duplicate, double previous, double bos) {}

    static Scores scores(Capture c, int layer, int head, int n) {
        int T = c.prompt().length();
        double ind = 0, dup = 0, bos = 0, prev = 0;
        for (int i = n + 1; i <= 2 * n; i++) {
            ind += c.pattern(layer, head, i, i - n + 1);
            dup += c.pattern(layer, head, i, i - n);
            bos += c.pattern(layer, head, i, 0);
        }
        for (int i = 2; i < T; i++) prev += c.pattern(layer, head, i, i - 1);
        return new Scores(ind / n, dup / n, prev / (T - 2), bos / n);
    }

    /** Attention a uniform head puts on i-1 over rows i >= 2 (query i sees i+1 keys). */
    static double uniformPrevious(int length) {
        double s = 0;
        for (int i = 2; i < length; i++) s += 1.0 / (i + 1);
        return s / (length - 2);
    }
}
