package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stats.Bootstrap.Interval;
import org.milab.stats.Hypothesis;
import org.milab.tables.Table;

import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.DoubleStream;

/**
 * Protocol v2's decision rules (pre-registered in protocol.json, see {@link V2Protocol#RULES}) applied to the
 * per-prompt tables of a subset of prompts (pooled, one seed, or one family). Every effect gets a bootstrap
 * CI over prompts; every causal test two one-sided t-tests (above +min effect, below -min effect), adjusted by
 * the registered {@code thresholds.correction} over all heads, directions and pairs together. Pure: the same
 * tables give the same verdicts.
 */
public final class Verdicts {
    public static final String CONFIRMED = "confirmed", REJECTED = "rejected", INCONCLUSIVE = "inconclusive";
    public static final String MEAN = CausalStage.MEAN, RESAMPLE = CausalStage.RESAMPLE, DENOISE = CausalStage.DENOISE,
            LOO = "leave_one_out", CONTROL = CausalStage.CONTROL;
    /** The causal tests that can support a head (the control effect is a specificity check, not support). */
    public static final List<String> TESTS = List.of(MEAN, RESAMPLE, DENOISE, LOO);

    private Verdicts() {}

    /**
     * An effect over {@code n} prompts in logits and as a fraction of the gap, with the raw one-sided p of "exceeds
     * +min effect" ({@code p}) and of "lies below -min effect" ({@code pNegative}), and the fractions of prompts
     * whose delta is positive / negative (zero deltas, float noise by the declared tolerance, count for neither).
     */
    public record Effect(Interval raw, Interval normalized, double p, double pNegative, int n, double positiveFraction,
                         double negativeFraction) {
        /** Fraction of prompts whose delta has {@code sign} (+1 or -1). */
        public double signFraction(int sign) {
            return sign > 0 ? positiveFraction : negativeFraction;
        }

        /** The normalized CI lies inside (-f, f): the effect is small in either direction. */
        boolean negligible(double f) {
            return normalized.below(f) && normalized.above(-f);
        }
    }

    public record Composition(Head sender, Head receiver, Effect effect, double pAdjusted, boolean significant) {}

    /**
     * One head's decision. {@code adjusted} / {@code adjustedNegative}: corrected p of each test's positive /
     * negative one-sided test; {@code controlMargin}: (main mean-ablation effect - control effect) / gap with its CI,
     * the "significantly smaller than the main effect" half of specificity; {@code kind}: what the confirmed head
     * is in the circuit (induction, backup_induction, previous_token, negative), empty otherwise;
     * {@code inconclusiveReasons}: for an inconclusive head, the stated reasons as codes ({@link #REASON_CODES}, in
     * the order the reason text gives them), empty otherwise.
     */
    public record HeadVerdict(Head head, Roles.HeadRole role, Map<String, Effect> effects, Map<String, Double> adjusted,
                              Map<String, Double> adjustedNegative, Effect control, Interval controlMargin, String verdict,
                              String reason, double pAdjusted, String kind, List<String> inconclusiveReasons) {
        public HeadVerdict {
            inconclusiveReasons = List.copyOf(inconclusiveReasons);
        }

        /** The sign the role expects of a necessity effect: negative heads lower the answer, so ablating them raises it. */
        public int expectedSign() {
            return role.role().equals(Roles.NEGATIVE) ? -1 : 1;
        }
    }

    /** Why a head is inconclusive, one code per stated reason (the verdicts' {@code inconclusive_reason} column). */
    public static final Map<String, String> REASON_CODES = reasonCodes();

    private static Map<String, String> reasonCodes() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("gap_not_excluding_zero", "the clean - corrupt gap's CI does not exclude 0, so no effect can be judged");
        m.put("no_copying", "induction attention, but the OV copy score's CI low is not above chance + copy_margin");
        m.put("not_significant", "the role's causal tests (necessity or sufficiency, in the role's direction) are not significant");
        m.put("unspecific", "specificity is not shown (control undefined, or not below min effect nor short of the main effect)");
        m.put("no_composition", "previous-token attention, but no significant path into a confirmed induction or negative head's keys");
        m.put("no_role", "causally important, but its attention fits no tested role");
        m.put("negative_unexplained", "an effect is significantly negative but the head is not induction-like with an anti-copying OV");
        m.put("straddles", "none of the above: its effect CI straddles the minimum effect (neither shown nor negligible)");
        m.put("unstable", "confirmed on pooled prompts but in no more than stable_seed_fraction of the seeds");
        m.put("receivers_unstable", "a previous-token head whose only confirmed receivers became inconclusive (unstable)");
        return java.util.Collections.unmodifiableMap(m);
    }

    /** A group's drop when all its heads are ablated together. */
    public record Group(String role, String heads, Effect drop) {}

    /**
     * Everything decided on one subset. {@code rawP} / {@code adjustedP}: the whole family of tests the correction
     * ran over, in order (per head: each test's positive then negative p; then each composition's).
     */
    public record Result(Interval gap, boolean gapOk, int nPrompts, List<HeadVerdict> heads, List<Composition> compositions,
                         List<Group> groups, double[] rawP, double[] adjustedP) {
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

    /** The corrections {@code thresholds.correction} may name. */
    public static final List<String> CORRECTIONS = List.of("holm", "benjamini_hochberg", "bonferroni");

    /** The registered correction applied to {@code p}, in input order. */
    public static double[] adjust(String correction, double[] p) {
        if (p.length == 0) return new double[0];
        return switch (correction) {
            case "holm" -> Hypothesis.holm(p);
            case "benjamini_hochberg" -> Hypothesis.benjaminiHochberg(p);
            case "bonferroni" -> Arrays.stream(p).map(x -> Math.min(1, x * p.length)).toArray();
            default -> throw new UserError("protocol.json names the multiple-testing correction '" + correction
                    + "', which v2 does not implement.", "Set thresholds.correction to one of " + CORRECTIONS
                    + " (re-run the v2 protocol step with a new RUN_ID).");
        };
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

        Map<Head, Map<String, Map<String, Double>>> deltas = deltas(keep, in.ablations(), in.patches());
        // leave-one-out marginals and whole-group drops
        Map<String, Map<String, Double>> groupDrop = new LinkedHashMap<>();
        Map<String, String> groupHeads = new LinkedHashMap<>();
        Map<String, Map<String, Map<String, Double>>> withoutDrop = new LinkedHashMap<>();
        for (Table.Row r : in.groups().rows()) {
            if (!keep.test(r)) continue;
            String g = r.getString("group"), out = r.getString("left_out");
            if (out.equals(GroupAblationStage.NONE)) {
                groupDrop.computeIfAbsent(g, k -> new LinkedHashMap<>()).put(r.getString("prompt_id"), r.getDouble("delta"));
                groupHeads.put(g, String.join(" ", r.getStrings("heads")));
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

        // effects and raw p-values (both directions), then the registered correction over all of them
        List<Double> ps = new ArrayList<>();
        Map<Head, Map<String, Effect>> effects = new TreeMap<>();
        Map<Head, Effect> controls = new HashMap<>();
        Map<Head, Interval> margins = new HashMap<>();
        // each head's bootstraps are seeded by their names (Roles.bootstrap), so heads run over the cores and the
        // p-values are then listed in head order, as one thread would
        record HeadEffects(Map<String, Effect> tests, Effect control, Interval margin) {}
        List<Head> order = new ArrayList<>(roles.keySet());
        List<HeadEffects> measured = order.parallelStream().map(h -> {
            Map<String, Map<String, Double>> byTest = deltas.getOrDefault(h, Map.of());
            Map<String, Effect> e = new LinkedHashMap<>();
            for (String test : TESTS)
                if (byTest.containsKey(test)) e.put(test, effect(t, subsetName + " " + h + " " + test, byTest.get(test), gapOf, gapOk, f));
            Effect control = byTest.containsKey(CONTROL)
                    ? effect(t, subsetName + " " + h + " control", byTest.get(CONTROL), gapOf, gapOk, f) : null;
            Interval margin = byTest.containsKey(CONTROL) && byTest.containsKey(MEAN) && gapOk
                    ? margin(t, subsetName + " " + h + " control margin", byTest.get(MEAN), byTest.get(CONTROL), gapOf) : null;
            return new HeadEffects(e, control, margin);
        }).toList();
        for (int i = 0; i < order.size(); i++) {
            Head h = order.get(i);
            HeadEffects m = measured.get(i);
            // a head stopped for futility enters the correction as p = 1 (Sequential): never significant, and no
            // other head's adjusted p falls below what it would be with this head's full-count p
            boolean stopped = in.stopped().containsKey(h);
            m.tests().values().forEach(e -> {
                ps.add(stopped ? 1.0 : e.p());
                ps.add(stopped ? 1.0 : e.pNegative());
            });
            // a stopped head's test with no rows in this subset (natural text it never reached: Sequential's
            // deferNaturalText) still counts as p = 1, so the correction's family is the one without the deferral
            for (int j = 0; j < unreached(stopped, m.tests().keySet()); j++) ps.add(1.0);
            effects.put(h, m.tests());
            if (m.control() != null) controls.put(h, m.control());
            if (m.margin() != null) margins.put(h, m.margin());
        }
        List<List<Head>> compKeys = new ArrayList<>(comp.keySet());
        List<Effect> compEffects = new ArrayList<>();
        for (List<Head> k : compKeys) {
            Effect e = effect(t, subsetName + " " + k.get(0) + "->" + k.get(1), comp.get(k), gapOf, gapOk, f);
            compEffects.add(e);
            ps.add(e.p());
        }
        double[] raw = ps.stream().mapToDouble(Double::doubleValue).toArray();
        double[] adj = adjust(t.correction(), raw);
        int at = 0;
        Map<Head, Map<String, Double>> adjusted = new TreeMap<>(), adjustedNeg = new TreeMap<>();
        for (Head h : roles.keySet()) {
            Map<String, Double> a = new LinkedHashMap<>(), an = new LinkedHashMap<>();
            for (String test : effects.get(h).keySet()) {
                a.put(test, adj[at++]);
                an.put(test, adj[at++]);
            }
            at += unreached(in.stopped().containsKey(h), effects.get(h).keySet());
            adjusted.put(h, a);
            adjustedNeg.put(h, an);
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

        // induction and negative heads first: a previous-token head is confirmed through a confirmed receiver
        Map<Head, HeadVerdict> out = new TreeMap<>();
        for (Head h : roles.keySet())
            if (!roles.get(h).role().equals(Roles.PREVIOUS))
                out.put(h, verdict(new Evidence(h, roles.get(h), effects.get(h), adjusted.get(h), adjustedNeg.get(h),
                        controls.get(h), margins.get(h)), gapOk, gap, t, List.of(), Set.of()));
        Set<Head> confirmedReceivers = new LinkedHashSet<>();
        out.values().forEach(v -> {
            if (v.verdict.equals(CONFIRMED) && (v.role.role().equals(Roles.INDUCTION) || v.role.role().equals(Roles.NEGATIVE)))
                confirmedReceivers.add(v.head);
        });
        for (Head h : roles.keySet())
            if (roles.get(h).role().equals(Roles.PREVIOUS))
                out.put(h, verdict(new Evidence(h, roles.get(h), effects.get(h), adjusted.get(h), adjustedNeg.get(h),
                        controls.get(h), margins.get(h)), gapOk, gap, t, compositions, confirmedReceivers));
        out.replaceAll((h, v) -> in.stopped().containsKey(h) ? stoppedReason(v, in.stopped().get(h)) : v);
        return new Result(gap, gapOk, gapOf.size(), new ArrayList<>(out.values()), compositions, groups, raw, adj);
    }

    /** The verdict of a head the sequential design stopped, its reason saying so. */
    private static HeadVerdict stoppedReason(HeadVerdict v, int pairs) {
        return new HeadVerdict(v.head(), v.role(), v.effects(), v.adjusted(), v.adjustedNegative(), v.control(),
                v.controlMargin(), v.verdict(), v.reason() + String.format(Locale.ROOT, " Stopped for futility after %d "
                + "pairs (sequential design, v2/sequential): its effects are over those pairs and its tests entered the "
                + "correction as p = 1.", pairs), v.pAdjusted(), v.kind(), v.inconclusiveReasons());
    }

    /** Per head and test (intervention): prompt -> delta, over the rows of {@code tables} that {@code keep} selects. */
    /** The p = 1 entries (two per test: both directions) standing for a stopped head's single-head tests without rows. */
    private static int unreached(boolean stopped, Set<String> present) {
        return stopped ? 2 * (int) Sequential.TESTS.stream().filter(x -> !x.equals(CONTROL) && !present.contains(x)).count() : 0;
    }

    static Map<Head, Map<String, Map<String, Double>>> deltas(Predicate<Table.Row> keep, Table... tables) {
        Map<Head, Map<String, Map<String, Double>>> deltas = new TreeMap<>();
        for (Table table : tables)
            for (Table.Row r : table.rows())
                if (keep.test(r))
                    deltas.computeIfAbsent(Roles.head(r), h -> new LinkedHashMap<>())
                            .computeIfAbsent(r.getString("intervention"), k -> new LinkedHashMap<>())
                            .put(r.getString("prompt_id"), r.getDouble("delta"));
        return deltas;
    }

    static Effect effect(V2Protocol.Thresholds t, String what, Map<String, Double> byPrompt, Map<String, Double> gapOf,
                         boolean gapOk, double f) {
        int n = byPrompt.size(), pos = 0, neg = 0;
        double[] x = new double[n], g = new double[n], excess = new double[n], deficit = new double[n];
        int i = 0;
        for (Map.Entry<String, Double> e : byPrompt.entrySet()) {
            x[i] = e.getValue();
            g[i] = gapOf.get(e.getKey());
            excess[i] = x[i] - f * g[i];
            deficit[i] = -x[i] - f * g[i]; // > 0 when the effect lies below -f x gap
            if (x[i] > 0) pos++;
            if (x[i] < 0) neg++;
            i++;
        }
        Interval raw = Roles.mean(t, what + " raw", x);
        Interval norm = gapOk ? Roles.bootstrap(t, what + " normalized").ratioOfMeans(x, g) : Interval.EMPTY;
        return new Effect(raw, norm, Hypothesis.tGreater(excess, 0), Hypothesis.tGreater(deficit, 0), n,
                n == 0 ? Double.NaN : (double) pos / n, n == 0 ? Double.NaN : (double) neg / n);
    }

    /** (main - control) / gap over the prompts both were measured on, paired, as a ratio of means. */
    static Interval margin(V2Protocol.Thresholds t, String what, Map<String, Double> main, Map<String, Double> control,
                           Map<String, Double> gapOf) {
        List<String> ids = main.keySet().stream().filter(control::containsKey).toList();
        double[] d = new double[ids.size()], g = new double[ids.size()];
        for (int i = 0; i < ids.size(); i++) {
            d[i] = main.get(ids.get(i)) - control.get(ids.get(i));
            g[i] = gapOf.get(ids.get(i));
        }
        return ids.size() < 2 ? Interval.EMPTY : Roles.bootstrap(t, what).ratioOfMeans(d, g);
    }

    /** One head's measured evidence, as {@link #verdict} reads it. */
    record Evidence(Head head, Roles.HeadRole role, Map<String, Effect> effects, Map<String, Double> adjusted,
                    Map<String, Double> adjustedNegative, Effect control, Interval controlMargin) {}

    /**
     * Specificity in the direction {@code sign}: shown when the control's signed effect has CI high below the
     * minimum, or the signed margin (main - control) has CI low above 0. Null when shown, else why not.
     */
    static String unspecific(Evidence x, int sign, double f) {
        if (x.control == null || !x.control.normalized().defined())
            return "the control effect is undefined, so specificity is not shown";
        Interval c = x.control.normalized(), m = x.controlMargin == null ? Interval.EMPTY : x.controlMargin;
        boolean controlSmall = sign > 0 ? c.below(f) : c.above(-f);
        boolean smallerThanMain = m.defined() && (sign > 0 ? m.above(0) : m.below(0));
        if (controlSmall || smallerThanMain) return null;
        if (sign > 0 ? c.above(f) : c.below(-f))
            return "it also moves the control's unlicensed answer (" + ci(c) + " of the gap)";
        return "specificity is not shown: the control effect " + ci(c) + " does not lie below " + f
                + " of the gap, nor significantly short of the main effect (margin " + ci(m) + ")";
    }

    private static HeadVerdict verdict(Evidence x, boolean gapOk, Interval gap, V2Protocol.Thresholds t,
                                       List<Composition> comps, Set<Head> confirmedReceivers) {
        Head h = x.head;
        Roles.HeadRole role = x.role;
        Map<String, Effect> e = x.effects;
        Map<String, Double> adj = x.adjusted, neg = x.adjustedNegative;
        double f = t.minEffectFraction(), alpha = t.alpha();
        double pMin = DoubleStream.concat(adj.values().stream().mapToDouble(Double::doubleValue),
                neg.values().stream().mapToDouble(Double::doubleValue)).min().orElse(1);
        if (!gapOk)
            return new HeadVerdict(h, role, e, adj, neg, x.control, x.controlMargin, INCONCLUSIVE, String.format(Locale.ROOT,
                    "The clean-corrupt gap (%s) does not exclude 0, so no effect can be judged.", ci(gap)), pMin, "",
                    List.of("gap_not_excluding_zero"));
        boolean necessity = (sig(adj, MEAN, alpha) && sig(adj, RESAMPLE, alpha)) || sig(adj, LOO, alpha);
        boolean sufficiency = sig(adj, DENOISE, alpha);
        boolean negNecessity = (sig(neg, MEAN, alpha) && sig(neg, RESAMPLE, alpha)) || sig(neg, LOO, alpha);
        boolean negSufficiency = sig(neg, DENOISE, alpha);
        boolean anyNegative = neg.values().stream().anyMatch(p -> p < alpha);
        List<Composition> paths = comps.stream().filter(c -> c.sender().equals(h)).toList();
        // a path effect is an effect: a head whose total effect is repaired downstream is not negligible by it
        boolean anySignificant = adj.values().stream().anyMatch(p -> p < alpha) || anyNegative;
        boolean negligible = !e.isEmpty() && !anySignificant && e.values().stream().allMatch(y -> y.negligible(f))
                && paths.stream().allMatch(c -> c.effect().negligible(f) && !c.significant());
        String best = strongest(e);
        String effectText = best == null ? "no causal test" : String.format(Locale.ROOT, "%s %s of the gap (adj. p %s)",
                best.replace('_', ' '), ci(e.get(best).normalized()), p(e.get(best).normalized().estimate() < 0
                        ? neg.get(best) : adj.get(best)));
        String attention = role.attentionRole().equals(Roles.OTHER) ? "no tested attention role"
                : String.format(Locale.ROOT, "%s attention excess %s", role.attentionRole().replace('_', '-'),
                ci(role.excess(role.attentionRole())));
        String v, reason, kind = "";
        List<String> codes = new ArrayList<>();
        if (negligible) {
            v = REJECTED;
            reason = String.format(Locale.ROOT, "%s, but every causal effect's CI lies inside +-%.2f of the gap (largest: %s).",
                    cap(attention), f, effectText);
        } else if (role.role().equals(Roles.INDUCTION) && role.copying() && (necessity || sufficiency)
                && unspecific(x, 1, f) == null) {
            v = CONFIRMED;
            boolean singleHead = sig(adj, MEAN, alpha) && sig(adj, RESAMPLE, alpha);
            // named backup only from evidence: no single-head necessity, yet its group marginal is significant
            kind = !singleHead && sig(adj, LOO, alpha) ? "backup_induction" : Roles.INDUCTION;
            reason = String.format(Locale.ROOT, "%s, copying OV (%s top-%d, chance %.3f), %s%s%s; control effect %s.",
                    cap(attention), ci(role.copy()), t.copyTopK(), role.copyChance(), necessity ? "necessary" : "sufficient",
                    necessity && sufficiency ? " and sufficient" : "",
                    kind.equals(Roles.INDUCTION) ? "" : " (backup: its single-head ablations are not significant, its "
                            + "leave-one-out marginal in the induction group is)", ci(x.control.normalized()));
        } else if (role.role().equals(Roles.NEGATIVE) && (negNecessity || negSufficiency) && unspecific(x, -1, f) == null) {
            v = CONFIRMED;
            kind = Roles.NEGATIVE;
            reason = String.format(Locale.ROOT, "%s, anti-copying OV (%s bottom-%d, chance %.3f), significantly negative: "
                            + "ablating it RAISES the logit difference (%s); control effect %s.", cap(attention),
                    ci(role.antiCopy()), t.copyTopK(), role.copyChance(), effectText, ci(x.control.normalized()));
        } else if (role.role().equals(Roles.PREVIOUS) && paths.stream().anyMatch(c -> c.significant()
                && confirmedReceivers.contains(c.receiver()))) {
            Composition c = paths.stream().filter(y -> y.significant() && confirmedReceivers.contains(y.receiver()))
                    .findFirst().orElseThrow();
            v = CONFIRMED;
            kind = Roles.PREVIOUS;
            reason = String.format(Locale.ROOT, "%s, %s, and composes into %s's keys (path patch %s of the gap, adj. p %s).",
                    cap(attention), necessity ? "necessary (" + effectText + ")"
                            : "total effect not significant (" + effectText + ": repaired downstream) but necessary through its path",
                    c.receiver(), ci(c.effect().normalized()), p(c.pAdjusted()));
        } else {
            v = INCONCLUSIVE;
            List<String> why = new ArrayList<>();
            boolean important = necessity || sufficiency;
            if (anyNegative && !role.role().equals(Roles.NEGATIVE)) {
                codes.add("negative_unexplained");
                why.add("an effect is significantly negative (ablating it raises the logit difference) but "
                        + (role.antiCopying() ? "its attention is not induction- or duplicate-like"
                        : "its OV does not anti-copy (" + ci(role.antiCopy()) + " bottom-" + t.copyTopK() + ")"));
            }
            if (role.role().equals(Roles.INDUCTION)) {
                if (!role.copying()) codes.add("no_copying");
                if (!important) codes.add("not_significant");
                else if (unspecific(x, 1, f) != null) codes.add("unspecific");
                if (!role.copying()) why.add(String.format(Locale.ROOT, "its OV circuit does not copy above chance (%s top-%d, needed CI low > %.3f)",
                        ci(role.copy()), t.copyTopK(), role.copyChance() + t.copyMargin()));
                if (!important) why.add("no causal test is significant");
                else if (unspecific(x, 1, f) != null) why.add(unspecific(x, 1, f));
            } else if (role.role().equals(Roles.NEGATIVE)) {
                codes.add(negNecessity || negSufficiency ? "unspecific" : "not_significant");
                if (!(negNecessity || negSufficiency)) why.add("no causal test is significantly negative");
                else why.add(unspecific(x, -1, f));
            } else if (role.role().equals(Roles.PREVIOUS)) {
                codes.add("no_composition");
                if (!necessity && paths.stream().noneMatch(Composition::significant))
                    why.add("neither its total effect nor any path effect is significant");
                else why.add("no significant composition into a confirmed induction or negative head");
            } else if (important) {
                codes.add("no_role");
                why.add("it is causally important but its attention fits no tested circuit role");
            }
            if (why.isEmpty()) {
                codes.add("straddles");
                why.add("its effect CI straddles the minimum effect");
            }
            reason = String.format(Locale.ROOT, "%s; %s (%s).", cap(attention), String.join(" and ", why), effectText);
        }
        return new HeadVerdict(h, role, e, adj, neg, x.control, x.controlMargin, v, reason, pMin, kind, codes);
    }

    private static boolean sig(Map<String, Double> adj, String test, double alpha) {
        Double p = adj.get(test);
        return p != null && p < alpha;
    }

    /** The test with the largest |normalized effect| estimate. */
    private static String strongest(Map<String, Effect> e) {
        String best = null;
        for (Map.Entry<String, Effect> x : e.entrySet())
            if (best == null || Math.abs(x.getValue().normalized().estimate()) > Math.abs(e.get(best).normalized().estimate()))
                best = x.getKey();
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
