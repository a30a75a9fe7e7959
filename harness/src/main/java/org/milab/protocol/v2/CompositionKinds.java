package org.milab.protocol.v2;

import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * K-, Q- and V-composition side by side: per (sender, receiver, kind) the path-patching effect over the prompts the
 * verdicts read (every family but {@link NaturalText#NAME}), in logits and as a fraction of the gap, with bootstrap CIs
 * ({@code v2/composition_kinds}). Only kind k feeds a verdict (the previous-token rule); q and v are reported, so they
 * are not in the multiple-testing family and carry no p.
 */
final class CompositionKinds {
    static final String TABLE = "composition_kinds";

    private CompositionKinds() {}

    /** One row per (sender, receiver, kind) of the per-prompt composition table, in its order. */
    /** A row of {@code v2/composition_kinds}: the components are the columns. */
    record KindRow(String senderId, String receiverId, String kind, long nPrompts, double deltaMean, double deltaCiLow,
                   double deltaCiHigh, Double normalized, Double normalizedCiLow, Double normalizedCiHigh, double signFraction) {}

    static TableBuilder table(Table composition, V2Protocol.Thresholds t, String sha) {
        List<KindRow> rows = new ArrayList<>();
        Map<List<String>, Map<String, Double>> deltas = new LinkedHashMap<>();
        Map<String, Double> gapOf = new LinkedHashMap<>();
        for (Table.Row r : composition.filter(NaturalText.feedsVerdicts()).rows()) {
            deltas.computeIfAbsent(List.of(r.getString("sender_id"), r.getString("receiver_id"), r.getString("kind")),
                    k -> new LinkedHashMap<>()).put(r.getString("prompt_id"), r.getDouble("delta"));
            gapOf.put(r.getString("prompt_id"), r.getDouble("gap"));
        }
        boolean gapOk = Roles.mean(t, "composition kinds gap", gapOf.values().stream().mapToDouble(Double::doubleValue)
                .toArray()).above(0);
        for (Map.Entry<List<String>, Map<String, Double>> e : deltas.entrySet()) {
            List<String> k = e.getKey();
            Verdicts.Effect ef = Verdicts.effect(t, "composition " + String.join(" ", k), e.getValue(), gapOf, gapOk,
                    t.minEffectFraction());
            Interval raw = ef.raw(), norm = ef.normalized();
            rows.add(new KindRow(k.get(0), k.get(1), k.get(2), ef.n(), raw.estimate(), raw.low(), raw.high(),
                    nan(norm.estimate()), nan(norm.low()), nan(norm.high()), ef.signFraction(1)));
        }
        return RecordSchema.of(KindRow.class).builder(TABLE, rows, "sender_id", "receiver_id", "kind")
                .metadata(ProtocolStage.SHA_METADATA, sha);
    }

    private static Double nan(double x) {
        return Double.isNaN(x) ? null : x;
    }

    /** Summary lines: per (sender, receiver), the three kinds' effects as fractions of the gap. */
    static String markdown(Table kinds) {
        Map<String, List<String>> byPair = new LinkedHashMap<>();
        for (Table.Row r : kinds.rows()) {
            String kind = switch (r.getString("kind")) {
                case CompositionStage.K -> "keys";
                case CompositionStage.Q -> "queries";
                default -> "values";
            };
            Double v = r.getDouble("normalized"), lo = r.getDouble("normalized_ci_low"), hi = r.getDouble("normalized_ci_high");
            String ci = v == null ? "n/a" : String.format(Locale.ROOT, "%.3f [%.3f, %.3f]", v, lo, hi);
            byPair.computeIfAbsent(r.getString("sender_id") + " -> " + r.getString("receiver_id"), x -> new ArrayList<>())
                    .add(kind + " " + ci);
        }
        StringBuilder md = new StringBuilder();
        if (byPair.isEmpty()) return md.toString();
        md.append("\nComposition by path patching, per input of the receiver (fractions of the gap, 95% bootstrap CIs; only "
                + "keys feed a verdict, queries and values are reported):\n");
        byPair.forEach((pair, parts) -> md.append("- ").append(pair).append(": ").append(String.join("; ", parts)).append('\n'));
        return md.toString();
    }
}
