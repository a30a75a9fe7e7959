package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.PatchSite;
import org.milab.stage.StageContext;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.Table;
import org.milab.tables.RecordSchema;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Circuit-level evidence for the set the verdicts confirmed, measured AFTER every verdict is decided (nothing here
 * feeds back into a verdict). All interventions mean-ablate heads on the clean run (the causal stage's references
 * from {@code v2/mean_z}, and its positions) and run batched, one engine call per (seed, family) chunk. What the causal
 * stage already ran is read, not run again: each pair's clean and corrupt LD ({@code v2/baselines}) and, for each
 * member v, model_without:v, which is v's causal mean ablation ({@code v2/ablations}). The rest run on the clean
 * prompts' cached path (a whole-model run per row measured slower than capturing the prompts). Writes {@code v2/circuit_evidence}
 * (pair x intervention) and returns the summaries for {@code circuit.json}, each with a bootstrap CI over prompts:
 * <ul>
 *   <li>faithfulness: keep only the circuit (every other head mean-ablated): mean LD kept / mean clean LD, and
 *       the same as a fraction of the gap ((LD - corrupt) / (clean - corrupt));
 *   <li>completeness (Wang et al. 2022): for K = each member, the whole circuit and nothing, the circuit without
 *       K against the model without K, (LD(C \ K) - LD(M \ K)) / gap; near 0 for every K when complete;
 *   <li>minimality: each member's marginal inside the circuit, (LD(C) - LD(C \ {v})) / gap.
 * </ul>
 */
final class CircuitEvidence {
    static final String TABLE = "circuit_evidence";
    static final String CIRCUIT_ONLY = "circuit_only", MODEL_WITHOUT = "model_without:", CIRCUIT_WITHOUT = "circuit_without:",
            MODEL_WITHOUT_CIRCUIT = "model_without_circuit", NOTHING_KEPT = "nothing_kept";

    private CircuitEvidence() {}

    /** Runs the interventions for {@code circuit} (confirmed heads) and summarises them; empty map without a circuit. */
    static Map<String, Object> measure(StageContext ctx, ProtocolStage.Registered reg, Set<Head> circuit) {
        V2Protocol.Thresholds t = reg.protocol().thresholds();
        double tol = t.floatTolerance();
        int nLayer = ctx.model().config().nLayer(), nHead = ctx.model().config().nHead();
        List<Head> all = new ArrayList<>(), members = new ArrayList<>(circuit), others = new ArrayList<>();
        for (int l = 0; l < nLayer; l++) for (int h = 0; h < nHead; h++) all.add(new Head(l, h));
        all.stream().filter(h -> !circuit.contains(h)).forEach(others::add);
        Map<String, List<Head>> ablate = new LinkedHashMap<>();
        if (!members.isEmpty()) {
            ablate.put(CIRCUIT_ONLY, others);
            ablate.put(MODEL_WITHOUT_CIRCUIT, members);
            ablate.put(NOTHING_KEPT, all);
            for (Head v : members) {
                ablate.put(MODEL_WITHOUT + v.label(), List.of(v));
                List<Head> without = new ArrayList<>(others);
                without.add(v);
                ablate.put(CIRCUIT_WITHOUT + v.label(), without);
            }
        }
        List<Row> out = new ArrayList<>();
        record Cell(PromptPair pair, String kind, int row, Double reused) {}
        // what the causal stage already ran: every pair's clean LD (v2/baselines) and, for a member v, model_without:v,
        // which IS v's causal mean ablation (same reference, same positions) in v2/ablations (a member ran every look)
        Map<String, Double> cleanLd = new java.util.HashMap<>(), corruptLd = new java.util.HashMap<>(), meanAblated = new java.util.HashMap<>();
        if (!ablate.isEmpty()) {
            for (Table.Row r : ctx.read(ProtocolStage.DIR, null, CausalStage.BASELINES).rows()) {
                cleanLd.put(r.getString("prompt_id"), r.getDouble("ld_clean"));
                corruptLd.put(r.getString("prompt_id"), r.getDouble("ld_corrupt"));
            }
            for (Table.Row r : ctx.read(ProtocolStage.DIR, null, CausalStage.ABLATIONS).rows())
                if (CausalStage.MEAN.equals(r.getString("intervention")))
                    meanAblated.put(r.getString("prompt_id") + " " + MODEL_WITHOUT + new Head(r.getLong("layer").intValue(),
                            r.getLong("head").intValue()).label(), r.getDouble("ld_patched"));
            for (Map.Entry<List<Object>, List<PromptPair>> g : Causal.bySeedAndFamily(ProtocolStage.pairs(ctx).stream() // the verdicts' prompts only
                    .filter(p -> !NaturalText.NAME.equals(p.family())).toList()).entrySet()) {
                List<PromptPair> pairs = g.getValue();
                // "v2 verdicts" leads the label: bench-v2 counts a step's engine rows by its name's prefix
                String label = "v2 verdicts, circuit evidence " + g.getKey();
                // the clean prompts' caches (the rows take the cached path) and the causal stage's references
                Causal.Captured c = Causal.captureWithCausalMeans(ctx, pairs, ctx.model().engine().suffixHooks(), label);
                List<PatchRow> rows = new ArrayList<>();
                List<Cell> cells = new ArrayList<>();
                for (PromptPair p : pairs)
                    for (Map.Entry<String, List<Head>> e : ablate.entrySet()) {
                        Double reused = meanAblated.get(p.id() + " " + e.getKey());
                        if (reused == null) {
                            List<SitePatch> o = new ArrayList<>();
                            for (Head h : e.getValue()) o.addAll(Causal.fixed(h, Causal.positions(p, h.layer(), nLayer), c.meanZ(h)));
                            rows.add(new PatchRow(new TokenIds(p.clean()), o, Causal.main(p)));
                        }
                        cells.add(new Cell(p, e.getKey(), reused == null ? rows.size() - 1 : -1, reused));
                    }
                float[][] res = ctx.model().engine().patch(PatchSite.HOOK_Z, rows, label + ": patch_z", c.caps());
                for (Cell x : cells) {
                    PromptPair p = x.pair;
                    double clean = cleanLd.get(p.id()), corrupt = corruptLd.get(p.id()),
                            patched = x.reused != null ? x.reused : Causal.ld(res[x.row]);
                    // float noise is no effect: a patched LD within the tolerance of the clean one is the clean one
                    if (Math.abs(patched - clean) < tol) patched = clean;
                    List<Head> hs = ablate.get(x.kind);
                    out.add(new Row(p.seed(), p.family(), p.id(), x.kind, hs.stream().map(Head::label).toList(),
                            hs.size(), clean, corrupt, clean - corrupt, patched));
                }
            }
        }
        Table table = ctx.write(ProtocolStage.DIR, null, RecordSchema.of(Row.class).builder(TABLE, out, "prompt_id", "intervention")
                .metadata(ProtocolStage.SHA_METADATA, reg.sha256()));
        return summarize(table, members, t);
    }

    /** A row of {@code v2/circuit_evidence}: one prompt pair under one intervention, its logit differences. */
    record Row(int seed, String family, String promptId, String intervention, List<String> ablatedHeads, int nAblated,
               double ldClean, double ldCorrupt, double gap, double ldPatched) {}

    /** The circuit-level numbers from the per-prompt table (pure; tested on hand-made rows). */
    static Map<String, Object> summarize(Table table, List<Head> members, V2Protocol.Thresholds t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("circuit", members.stream().map(Head::label).toList());
        if (members.isEmpty() || table.rowCount() == 0) {
            m.put("note", "no confirmed circuit: nothing to measure");
            return m;
        }
        Map<String, Map<String, Double>> ld = new LinkedHashMap<>();
        Map<String, Double> clean = new LinkedHashMap<>(), gap = new LinkedHashMap<>();
        for (Table.Row r : table.rows()) {
            String id = r.getString("prompt_id");
            ld.computeIfAbsent(r.getString("intervention"), k -> new LinkedHashMap<>()).put(id, r.getDouble("ld_patched"));
            clean.put(id, r.getDouble("ld_clean"));
            gap.put(id, r.getDouble("gap"));
        }
        List<String> ids = new ArrayList<>(clean.keySet());
        double[] cl = ids.stream().mapToDouble(clean::get).toArray(), g = ids.stream().mapToDouble(gap::get).toArray();
        double[] only = vec(ld.get(CIRCUIT_ONLY), ids);
        Map<String, Object> faith = new LinkedHashMap<>();
        faith.put("definition", "keep only the circuit (mean-ablate every other head): mean LD / mean clean LD");
        faith.put("fraction_of_clean_ld", interval(Roles.bootstrap(t, "faithfulness ld").ratioOfMeans(only, cl)));
        double[] corrupt = new double[ids.size()];
        for (int i = 0; i < corrupt.length; i++) corrupt[i] = cl[i] - g[i];
        faith.put("fraction_of_gap", interval(Roles.bootstrap(t, "faithfulness gap").ratioOfMeans(minus(only, corrupt), g)));
        m.put("faithfulness", faith);

        List<Map<String, Object>> comp = new ArrayList<>();
        Map<String, String[]> sets = new LinkedHashMap<>(); // K -> (circuit without K, model without K)
        sets.put("nothing", new String[]{CIRCUIT_ONLY, null});
        for (Head v : members) sets.put(v.label(), new String[]{CIRCUIT_WITHOUT + v.label(), MODEL_WITHOUT + v.label()});
        sets.put("whole circuit", new String[]{NOTHING_KEPT, MODEL_WITHOUT_CIRCUIT});
        double worst = 0;
        String worstK = null;
        for (Map.Entry<String, String[]> k : sets.entrySet()) {
            double[] a = vec(ld.get(k.getValue()[0]), ids), b = k.getValue()[1] == null ? cl : vec(ld.get(k.getValue()[1]), ids);
            Interval iv = Roles.bootstrap(t, "completeness " + k.getKey()).ratioOfMeans(minus(a, b), g);
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("removed_set_k", k.getKey());
            x.put("circuit_minus_model_fraction_of_gap", interval(iv));
            comp.add(x);
            if (iv.defined() && (worstK == null || Math.abs(iv.estimate()) > worst)) {
                worst = Math.abs(iv.estimate());
                worstK = k.getKey();
            }
        }
        Map<String, Object> completeness = new LinkedHashMap<>();
        completeness.put("definition", "Wang et al.: for each removed set K, (LD(circuit \\ K) - LD(model \\ K)) / gap; "
                + "0 for every K when the circuit is complete");
        completeness.put("by_removed_set", comp);
        completeness.put("largest_abs_difference", worst);
        completeness.put("largest_at", worstK);
        m.put("completeness", completeness);

        List<Map<String, Object>> mini = new ArrayList<>();
        for (Head v : members) {
            Interval iv = Roles.bootstrap(t, "minimality " + v.label())
                    .ratioOfMeans(minus(only, vec(ld.get(CIRCUIT_WITHOUT + v.label()), ids)), g);
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("head_id", v.label());
            x.put("marginal_fraction_of_gap", interval(iv));
            x.put("ci_excludes_zero", iv.above(0) || iv.below(0));
            mini.add(x);
        }
        Map<String, Object> minimality = new LinkedHashMap<>();
        minimality.put("definition", "each member's marginal inside the circuit: (LD(circuit) - LD(circuit \\ {v})) / gap; "
                + "minimal when every member's CI excludes 0 (negative for a negative head)");
        minimality.put("by_member", mini);
        minimality.put("every_member_needed", mini.stream().allMatch(x -> Boolean.TRUE.equals(x.get("ci_excludes_zero"))));
        m.put("minimality", minimality);
        m.put("n_prompts", ids.size());
        return m;
    }

    private static double[] vec(Map<String, Double> byPrompt, List<String> ids) {
        return ids.stream().mapToDouble(byPrompt::get).toArray();
    }

    private static double[] minus(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i] - b[i];
        return out;
    }

    /** An interval in circuit.json: undefined parts (NaN) as nulls. */
    record Ci(Double estimate, Double ciLow, Double ciHigh) {}

    static Map<String, Object> interval(Interval i) {
        return RecordSchema.treeMap(new Ci(i.defined() ? i.estimate() : null, Double.isNaN(i.low()) ? null : i.low(),
                Double.isNaN(i.high()) ? null : i.high()));
    }
}
