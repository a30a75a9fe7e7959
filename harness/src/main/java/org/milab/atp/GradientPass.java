package org.milab.atp;

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

    /**
     * One row to run: the prompt, its metric tokens (true, wrong), and optionally a prompt of the same length
     * whose token embeddings are mixed in with weight {@code mixWeight} (integrated gradients' path).
     */
    public record Input(TokenIds prompt, int[] metricTokens, TokenIds mixWith, float mixWeight) {
        public static Input plain(TokenIds prompt, int[] metricTokens) {
            return new Input(prompt, metricTokens, prompt, 0f);
        }
    }

    /** One row: its metric {@code L[true] - L[wrong]} and, per hook, activation and d metric / d activation. */
    public record Row(TokenIds prompt, double metric, Map<String, float[]> activations, Map<String, float[]> gradients) {}

    public static List<Row> run(LabModel model, List<Input> inputs, Set<String> hooks, int batchRows) {
        requireCurrentExport(model);
        Set<String> fetch = new LinkedHashSet<>();
        fetch.add(HookNames.LOGIT_DIFF);
        for (String h : hooks) {
            fetch.add(h);
            fetch.add(HookNames.grad(h));
        }
        List<Row> out = new ArrayList<>(inputs.size());
        for (int start = 0; start < inputs.size(); start += batchRows) {
            List<Input> rows = inputs.subList(start, Math.min(inputs.size(), start + batchRows));
            TokenBatch batch = TokenBatch.of(rows.stream().map(i -> i.prompt().ids()).toList());
            TokenBatch mix = TokenBatch.of(rows.stream().map(i -> i.mixWith().ids()).toList());
            long[] tokens = new long[2 * rows.size()];
            float[] weights = new float[rows.size()];
            for (int r = 0; r < rows.size(); r++) {
                Input in = rows.get(r);
                if (in.mixWith().length() != in.prompt().length())
                    throw new IllegalArgumentException("a mixed-in prompt must have the prompt's length");
                tokens[2 * r] = in.metricTokens()[0];
                tokens[2 * r + 1] = in.metricTokens()[1];
                weights[r] = in.mixWeight();
            }
            Map<String, Feeds.Output> res;
            try (Feeds f = new Feeds(model.sessions().env()).batch(batch)) {
                f.longs(HookNames.METRIC_TOKEN_IDS, tokens, rows.size(), 2)
                        .longs(HookNames.MIX_IDS, mix.ids(), mix.rows(), mix.width())
                        .floats(HookNames.MIX_WEIGHT, weights, rows.size());
                res = f.run(model.sessions().session(GraphVariant.GRAD), fetch);
            } catch (OrtException e) {
                throw new IllegalStateException("gradient pass failed: " + e.getMessage(), e);
            }
            for (int r = 0; r < rows.size(); r++) {
                Map<String, float[]> act = new LinkedHashMap<>(), grad = new LinkedHashMap<>();
                for (String h : hooks) {
                    act.put(h, slice(res.get(h), r, rows.get(r).prompt().length()));
                    grad.put(h, slice(res.get(HookNames.grad(h)), r, rows.get(r).prompt().length()));
                }
                out.add(new Row(rows.get(r).prompt(), res.get(HookNames.LOGIT_DIFF).data()[r], act, grad));
            }
        }
        return out;
    }

    /** An export from before the grad graph took its present inputs fails with a fix, not an ORT message. */
    private static void requireCurrentExport(LabModel model) {
        for (com.fasterxml.jackson.databind.JsonNode in : model.manifest(GraphVariant.GRAD).path("inputs"))
            if (HookNames.MIX_IDS.equals(in.path("name").asText())) return;
        throw new org.milab.util.UserError("The grad graph of model '" + model.id() + "' was exported by an older version "
                + "of the lab (it lacks the " + HookNames.MIX_IDS + " input).", "Re-run 'make export MODEL=" + model.id() + "'.");
    }

    /** Row {@code row}'s first {@code T} positions of a [batch, pos, ...] output. */
    private static float[] slice(Feeds.Output o, int row, int T) {
        long inner = 1;
        for (int i = 2; i < o.shape().length; i++) inner *= o.shape()[i];
        int from = (int) (row * o.shape()[1] * inner);
        return Arrays.copyOfRange(o.data(), from, (int) (from + T * inner));
    }
}
