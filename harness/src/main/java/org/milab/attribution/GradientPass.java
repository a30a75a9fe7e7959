package org.milab.attribution;

import ai.onnxruntime.OrtException;
import org.milab.engine.TokenIds;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.lab.LabModel;
import org.milab.runtime.Feeds;
import org.milab.runtime.TokenBatch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the {@link GraphVariant#GRAD} graph: one forward and one backward pass per batch of rows, each row
 * with its own metric tokens. Returns, per row, the metric and every requested hook's activation and
 * gradient over the row's real positions (row-major, batch axis and padding removed).
 */
public final class GradientPass {
    private GradientPass() {}

    /** One row: its metric {@code L[true] - L[wrong]} and, per hook, activation and d metric / d activation. */
    public record Row(TokenIds prompt, double metric, Map<String, float[]> activations, Map<String, float[]> gradients) {}

    public static List<Row> run(LabModel model, List<TokenIds> prompts, List<int[]> metricTokens, Set<String> hooks,
                                int batchRows) {
        Set<String> fetch = new LinkedHashSet<>();
        fetch.add(HookNames.LOGIT_DIFF);
        for (String h : hooks) {
            fetch.add(h);
            fetch.add(HookNames.grad(h));
        }
        List<Row> out = new ArrayList<>(prompts.size());
        for (int start = 0; start < prompts.size(); start += batchRows) {
            int end = Math.min(prompts.size(), start + batchRows);
            List<TokenIds> rows = prompts.subList(start, end);
            TokenBatch batch = TokenBatch.of(rows.stream().map(TokenIds::ids).toList());
            long[] tokens = new long[2 * rows.size()];
            for (int r = 0; r < rows.size(); r++) {
                int[] t = metricTokens.get(start + r);
                tokens[2 * r] = t[0];
                tokens[2 * r + 1] = t[1];
            }
            Map<String, Feeds.Output> res;
            try (Feeds f = new Feeds(model.sessions().env()).batch(batch)) {
                f.longs(HookNames.METRIC_TOKEN_IDS, tokens, rows.size(), 2);
                res = f.run(model.sessions().session(GraphVariant.GRAD), fetch);
            } catch (OrtException e) {
                throw new IllegalStateException("gradient pass failed: " + e.getMessage(), e);
            }
            for (int r = 0; r < rows.size(); r++) {
                Map<String, float[]> act = new LinkedHashMap<>(), grad = new LinkedHashMap<>();
                for (String h : hooks) {
                    act.put(h, slice(res.get(h), r, rows.get(r).length()));
                    grad.put(h, slice(res.get(HookNames.grad(h)), r, rows.get(r).length()));
                }
                out.add(new Row(rows.get(r), res.get(HookNames.LOGIT_DIFF).data()[r], act, grad));
            }
        }
        return out;
    }

    /** Row {@code row}'s first {@code T} positions of a [batch, pos, ...] output. */
    private static float[] slice(Feeds.Output o, int row, int T) {
        long inner = 1;
        for (int i = 2; i < o.shape().length; i++) inner *= o.shape()[i];
        int from = (int) (row * o.shape()[1] * inner);
        return Arrays.copyOfRange(o.data(), from, (int) (from + T * inner));
    }
}
