package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stats.Bootstrap.Interval;
import org.milab.stats.Hypothesis;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Protocol v2's decision rules (pre-registered in protocol.json, see {@link V2Protocol#RULES}) applied to the
 * per-prompt tables of a subset of prompts (pooled, one seed, or one family). Every effect gets a bootstrap
 * CI over prompts; every causal test a one-sided t-test against the declared minimum effect, Holm-adjusted
 * over all heads and pairs together. Pure: the same tables give the same verdicts.
 */
public final class Verdicts {
    public static final String CONFIRMED = "confirmed", REJECTED = "rejected", INCONCLUSIVE = "inconclusive";
    public static final String MEAN = CausalStage.MEAN, RESAMPLE = CausalStage.RESAMPLE, DENOISE = CausalStage.DENOISE,
            LOO = "leave_one_out", CONTROL = CausalStage.CONTROL;
    /** The causal tests that can support a head (the control effect is a specificity check, not support). */
    public static final List<String> TESTS = List.of(MEAN, RESAMPLE, DENOISE, LOO);

    private Verdicts() {}

    /** An effect in logits and as a fraction of the gap, with the raw one-sided p of "exceeds the minimum". */
    public record Effect(Interval raw, Interval normalized, double p, int n) {}

    public record Composition(Head sender, Head receiver, Effect effect, double pAdjusted, boolean significant) {}

    public record HeadVerdict(Head head, Roles.HeadRole role, Map<String, Effect> effects, Map<String, Double> adjusted,
                              Effect control, String verdict, String reason, double pAdjusted) {}

    /** A group's drop when all its heads are ablated together. */
    public record Group(String role, String heads, Effect drop) {}

    public record Result(Interval gap, boolean gapOk, int nPrompts, List<HeadVerdict> heads, List<Composition> compositions,
                         List<Group> groups) {
        public Set<Head> confirmed() {
            Set<Head> out = new LinkedHashSet<>();
            heads.forEach(h -> {
                if (h.verdict.equals(CONFIRMED)) out.add(h.head);
            });
            return out;
        }

        public HeadVerdict head(Head h) {
            return heads.stream().filter(x -> x.head.equals(h)).findFirst().orElseThrow();
        }
    }

    /**
     * Verdicts of every head on the prompts {@code keep} selects (rows of the per-prompt tables, which all carry
     * seed and family), with {@code roles} from attention and copying.
     */
    public static Result decide(VerdictInputs in, V2Protocol.Thresholds t, Map<Head, Roles.HeadRole> roles,
                                Predicate<Table.Row> keep, String subsetName) {
        double f = t.minEffectFraction();
        Map<String, Double> gapOf = new HashMap<>();
        for (Table.Row r : in.baselines().rows()) if (keep.test(r)) gapOf.put(r.getString("prompt_id"), r.getDouble("gap"));
        double[] gaps = gapOf.values().stream().mapToDouble(Double::doubleValue).toArray();
        Interval gap = Roles.mean(t, subsetName + " gap", gaps);
        boolean gapOk = gap.above(0);

        // per head and test: prompt -> delta
        Map<Head, Map<String, Map<String, Double>>> deltas = new TreeMap<>();
        for (Table table : List.of(in.ablations(), in.patches()))
            for (Table.Row r : table.rows())
                if (keep.test(r))
                    deltas.computeIfAbsent(Roles.head(r), h -> new LinkedHashMap<>())
                            .computeIfAbsent(r.getString("intervention"), k -> new LinkedHashMap<>())
                            .put(r.getString("prompt_id"), r.getDouble("delta"));
        // leave-one-out marginals and whole-group drops
        Map<String, Map<String, Double>> groupDrop = new LinkedHashMap<>();
        Map<String, String> groupHeads = new LinkedHashMap<>();
        Map<String, Map<String, Map<String, Double>>> withoutDrop = new LinkedHashMap<>();
        for (Table.Row r : in.groups().rows()) {
            if (!keep.test(r)) continue;
            String g = r.getString("group"), out = r.getString("left_out");
            if (out.equals(GroupAblationStage.NONE)) {
                groupDrop.computeIfAbsent(g, k -> new LinkedHashMap<>()).put(r.getString("prompt_id"), r.getDouble("delta"));
                groupHeads.put(g, r.getString("heads"));
            } else withoutDrop.computeIfAbsent(g, k -> new LinkedHashMap<>()).computeIfAbsent(out, k -> new LinkedHashMap<>())
                    .put(r.getString("prompt_id"), r.getDouble("delta"));
        }
        for (Map.Entry<String, Map<String, Map<String, Double>>> g : withoutDrop.entrySet())
            for (Map.Entry<String, Map<String, Double>> e : g.getValue().entrySet()) {
                Map<String, Double> marginal = new LinkedHashMap<>();
                Map<String, Double> all = groupDrop.get(g.getKey());
                e.getValue().forEach((pid, d) -> marginal.put(pid, Causal.zeroBelow(all.get(pid) - d, t.floatTolerance())));
                deltas.computeIfAbsent(Head.parse(e.getKey()), h -> new LinkedHashMap<>()).put(LOO, marginal);
            }
        Map<List<Head>, Map<String, Double>> comp = new LinkedHashMap<>();
        for (Table.Row r : in.composition().rows())
            if (keep.test(r))
                comp.computeIfAbsent(List.of(Head.parse(r.getString("sender_id")), Head.parse(r.getString("receiver_id"))),
                        k -> new LinkedHashMap<>()).put(r.getString("prompt_id"), r.getDouble("delta"));

        // effects and raw p-values, then Holm over all of them
        List<Double> ps = new ArrayList<>();
        Map<Head, Map<String, Effect>> effects = new TreeMap<>();
        Map<Head, Effect> controls = new HashMap<>();
        for (Head h : roles.keySet()) {
            Map<String, Map<String, Double>> byTest = deltas.getOrDefault(h, Map.of());
            Map<String, Effect> e = new LinkedHashMap<>();
            for (String test : TESTS)
                if (byTest.containsKey(test)) {
                    e.put(test, effect(t, subsetName + " " + h + " " + test, byTest.get(test), gapOf, gapOk, f));
                    ps.add(e.get(test).p());
                }
            effects.put(h, e);
            if (byTest.containsKey(CONTROL))
                controls.put(h, effect(t, subsetName + " " + h + " control", byTest.get(CONTROL), gapOf, gapOk, f));
        }
        List<List<Head>> compKeys = new ArrayList<>(comp.keySet());
        List<Effect> compEffects = new ArrayList<>();
        for (List<Head> k : compKeys) {
            Effect e = effect(t, subsetName + " " + k.get(0) + "->" + k.get(1), comp.get(k), gapOf, gapOk, f);
            compEffects.add(e);
            ps.add(e.p());
        }
        double[] adj = ps.isEmpty() ? new double[0] : Hypothesis.holm(ps.stream().mapToDouble(Double::doubleValue).toArray());
        int at = 0;
        Map<Head, Map<String, Double>> adjusted = new TreeMap<>();
        for (Head h : roles.keySet()) {
            Map<String, Double> a = new LinkedHashMap<>();
            for (String test : effects.get(h).keySet()) a.put(test, adj[at++]);
            adjusted.put(h, a);
        }
        List<Composition> compositions = new ArrayList<>();
        for (int i = 0; i < compKeys.size(); i++, at++)
            compositions.add(new Composition(compKeys.get(i).get(0), compKeys.get(i).get(1), compEffects.get(i), adj[at],
                    adj[at] < t.alpha()));
        List<Group> groups = new ArrayList<>();
        groupDrop.forEach((g, d) -> groups.add(new Group(g, groupHeads.get(g),
                effect(t, subsetName + " group " + g, d, gapOf, gapOk, f))));
        Roles.groups(roles).forEach((g, hs) -> { // a group of one head: its single-head mean ablation
            if (hs.size() == 1 && !groupDrop.containsKey(g) && effects.get(hs.get(0)).containsKey(MEAN))
                groups.add(new Group(g, hs.get(0).label(), effects.get(hs.get(0)).get(MEAN)));
        });

        // induction heads first: a previous-token head is confirmed through a confirmed induction head
        Map<Head, HeadVerdict> out = new TreeMap<>();
        for (Head h : roles.keySet())
            if (!roles.get(h).role().equals(Roles.PREVIOUS))
                out.put(h, verdict(h, roles.get(h), effects.get(h), adjusted.get(h), controls.get(h), gapOk, gap, t, List.of(), Set.of()));
        Set<Head> confirmedInduction = new LinkedHashSet<>();
        out.values().forEach(v -> {
            if (v.verdict.equals(CONFIRMED) && v.role.role().equals(Roles.INDUCTION)) confirmedInduction.add(v.head);
        });
        for (Head h : roles.keySet())
            if (roles.get(h).role().equals(Roles.PREVIOUS))
                out.put(h, verdict(h, roles.get(h), effects.get(h), adjusted.get(h), controls.get(h), gapOk, gap, t,
                        compositions, confirmedInduction));
        return new Result(gap, gapOk, gapOf.size(), new ArrayList<>(out.values()), compositions, groups);
    }

    static Effect effect(V2Protocol.Thresholds t, String what, Map<String, Double> byPrompt, Map<String, Double> gapOf,
                         boolean gapOk, double f) {
        int n = byPrompt.size();
        double[] x = new double[n], g = new double[n], excess = new double[n];
        int i = 0;
        for (Map.Entry<String, Double> e : byPrompt.entrySet()) {
            x[i] = e.getValue();
            g[i] = gapOf.get(e.getKey());
            excess[i] = x[i] - f * g[i];
            i++;
        }
        Interval raw = Roles.mean(t, what + " raw", x);
        Interval norm = gapOk ? Roles.bootstrap(t, what + " normalized").ratioOfMeans(x, g) : Interval.EMPTY;
        return new Effect(raw, norm, Hypothesis.tGreater(excess, 0), n);
    }

    private static HeadVerdict verdict(Head h, Roles.HeadRole role, Map<String, Effect> e, Map<String, Double> adj,
                                       Effect control, boolean gapOk, Interval gap, V2Protocol.Thresholds t,
                                       List<Composition> comps, Set<Head> confirmedInduction) {
        double f = t.minEffectFraction(), alpha = t.alpha();
        double pMin = adj.values().stream().mapToDouble(Double::doubleValue).min().orElse(1);
        if (!gapOk)
            return new HeadVerdict(h, role, e, adj, control, INCONCLUSIVE, String.format(Locale.ROOT,
                    "The clean-corrupt gap (%s) does not exclude 0, so no effect can be judged.", ci(gap)), pMin);
        boolean sigMean = sig(adj, MEAN, alpha), sigResample = sig(adj, RESAMPLE, alpha), sigLoo = sig(adj, LOO, alpha);
        boolean necessity = (sigMean && sigResample) || sigLoo, sufficiency = sig(adj, DENOISE, alpha);
        boolean negligible = !e.isEmpty() && e.values().stream().allMatch(x -> x.normalized().below(f));
        boolean specific = control == null || !control.normalized().defined() || !(control.normalized().low() >= f);
        String best = strongest(e);
        String effectText = best == null ? "no causal test" : String.format(Locale.ROOT, "%s %s of the gap (adj. p %s)",
                best.replace('_', ' '), ci(e.get(best).normalized()), p(adj.get(best)));
        String attention = role.role().equals(Roles.OTHER) ? "no tested attention role"
                : String.format(Locale.ROOT, "%s attention excess %s", role.role().replace('_', '-'), ci(role.excess(role.role())));
        String v, reason;
        if (negligible) {
            v = REJECTED;
            reason = String.format(Locale.ROOT, "%s, but every causal effect's CI lies below %.2f of the gap (largest: %s).",
                    cap(attention), f, effectText);
        } else if (role.role().equals(Roles.INDUCTION) && role.copying() && (necessity || sufficiency) && specific) {
            v = CONFIRMED;
            reason = String.format(Locale.ROOT, "%s, copying OV (%s top-1, chance %.3f), %s%s; control effect %s.",
                    cap(attention), ci(role.copy()), role.copyChance(), necessity ? "necessary" : "sufficient",
                    necessity && sufficiency ? " and sufficient" : "", control == null ? "n/a" : ci(control.normalized()));
        } else if (role.role().equals(Roles.PREVIOUS) && necessity && comps.stream().anyMatch(c -> c.sender().equals(h)
                && c.significant() && confirmedInduction.contains(c.receiver()))) {
            Composition c = comps.stream().filter(x -> x.sender().equals(h) && x.significant()
                    && confirmedInduction.contains(x.receiver())).findFirst().orElseThrow();
            v = CONFIRMED;
            reason = String.format(Locale.ROOT, "%s, necessary (%s), and composes into %s's keys (path patch %s of the gap, adj. p %s).",
                    cap(attention), effectText, c.receiver(), ci(c.effect().normalized()), p(c.pAdjusted()));
        } else {
            v = INCONCLUSIVE;
            List<String> why = new ArrayList<>();
            boolean important = necessity || sufficiency;
            if (role.role().equals(Roles.INDUCTION)) {
                if (!role.copying()) why.add("its OV circuit does not copy above chance (" + ci(role.copy()) + ")");
                if (!important) why.add("no causal test is significant");
                if (!specific) why.add("it also moves the control's unlicensed answer (" + ci(control.normalized()) + " of the gap)");
            } else if (role.role().equals(Roles.PREVIOUS)) {
                if (!necessity) why.add("necessity is not significant for both ablations");
                else why.add("no significant composition into a confirmed induction head");
            } else if (important) why.add("it is causally important but its attention fits no tested circuit role");
            else why.add("its effect CI straddles the minimum effect");
            reason = String.format(Locale.ROOT, "%s; %s (%s).", cap(attention), String.join(" and ", why), effectText);
        }
        return new HeadVerdict(h, role, e, adj, control, v, reason, pMin);
    }

    private static boolean sig(Map<String, Double> adj, String test, double alpha) {
        Double p = adj.get(test);
        return p != null && p < alpha;
    }

    /** The test with the largest normalized effect estimate. */
    private static String strongest(Map<String, Effect> e) {
        String best = null;
        for (Map.Entry<String, Effect> x : e.entrySet())
            if (best == null || x.getValue().normalized().estimate() > e.get(best).normalized().estimate()) best = x.getKey();
        return best;
    }

    static String ci(Interval i) {
        if (!i.defined()) return "n/a";
        return String.format(Locale.ROOT, "%.3f [%.3f, %.3f]", i.estimate(), i.low(), i.high());
    }

    static String p(double p) {
        if (p < org.milab.stats.Num.P_FLOOR) return org.milab.stats.Num.p(p);
        return p < 1e-4 ? String.format(Locale.ROOT, "%.1e", p) : String.format(Locale.ROOT, "%.4f", p);
    }

    private static String cap(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
