package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stage.StageContext;
import org.milab.stats.Bootstrap.Interval;
import org.milab.stats.Stability;
import org.milab.tables.OmitIfNull;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The verdicts: decided on pooled prompts, then on each seed and each family for stability (a pooled
 * confirmation that most seeds do not repeat becomes inconclusive). Writes {@code v2/verdicts} (one row per
 * head), {@code v2/stability} (subset x head), {@code v2/circuit.json} and {@code v2/summary.md}; then, with every
 * verdict final, the circuit-level evidence ({@link CircuitEvidence}, {@code v2/circuit_evidence}) and, on planted
 * models, the ranking AUROC ({@link Ranking}), both into circuit.json and leading the summary.
 */
public final class VerdictStage {
    public static final String VERDICTS = "verdicts";
    public static final String STABILITY = "stability";

    public void run(StageContext ctx) {
        long t0 = System.nanoTime();
        ProtocolStage.Registered reg = ProtocolStage.load(ctx);
        V2Protocol proto = reg.protocol();
        V2Protocol.Thresholds t = proto.thresholds();
        VerdictInputs in = VerdictInputs.read(ctx);
        Decided d = decideAll(proto, in);
        Verdicts.Result pooled = d.pooled();
        Map<Integer, Verdicts.Result> bySeed = d.bySeed();
        Map<String, Verdicts.Result> byFamily = d.byFamily();
        Map<Head, Final> finals = d.finals();
        NaturalText natural = proto.naturalText();
        Optional<PlantedTruth> truth = PlantedTruth.of(ctx.model());

        Table verdicts = ctx.write(ProtocolStage.DIR, null, verdictTable(pooled, finals, bySeed, byFamily, truth, reg.sha256()));
        ctx.write(ProtocolStage.DIR, null, stabilityTable(bySeed, byFamily, reg.sha256()));
        Map<String, Object> circuit = circuit(ctx, reg, pooled, finals, bySeed, byFamily, truth);
        // measured after every verdict is final: circuit-level evidence never feeds back into a verdict
        Set<Head> confirmedSet = new LinkedHashSet<>();
        finals.forEach((h, f) -> {
            if (f.verdict().equals(Verdicts.CONFIRMED)) confirmedSet.add(h);
        });
        circuit.put("circuit_level", CircuitEvidence.measure(ctx, reg, confirmedSet));
        truth.ifPresent(tr -> castMap(circuit.get("ground_truth")).put("ranking", Ranking.against(pooled, tr)));
        Map<Head, String> finalVerdicts = new TreeMap<>();
        finals.forEach((h, f) -> finalVerdicts.put(h, f.verdict()));
        List<NaturalTextAgreement.Row> agreement = byFamily.containsKey(NaturalText.NAME) ? NaturalTextAgreement.rows(pooled,
                byFamily.get(NaturalText.NAME), finalVerdicts, t.minEffectFraction()) : List.of();
        ctx.write(ProtocolStage.DIR, null, NaturalTextAgreement.table(agreement, reg.sha256()));
        circuit.put("natural_text", NaturalTextAgreement.json(natural, agreement));
        ctx.writeJson(ProtocolStage.DIR, null, "circuit.json", circuit);
        String md = summary(ctx, proto, pooled, finals, truth, circuit) + NaturalTextAgreement.markdown(natural, agreement)
                + CompositionKinds.markdown(ctx.read(ProtocolStage.DIR, null, CompositionKinds.TABLE));
        ctx.writeText(ProtocolStage.DIR, null, "summary.md", md);
        ctx.recordTiming("v2/verdicts", (System.nanoTime() - t0) / 1e9);
        ctx.summarize("- v2 verdicts (" + verdicts.rowCount() + " heads): " + md.lines().filter(l -> l.startsWith("**"))
                .findFirst().orElse("").replace("**", ""));
    }

    /** Every verdict of a run: pooled, per seed, per family, and the final ones after the stability rule. */
    record Decided(Verdicts.Result pooled, Map<Integer, Verdicts.Result> bySeed, Map<String, Verdicts.Result> byFamily,
                   Map<Head, Final> finals) {}

    /** The verdicts from the per-prompt tables alone (pure: no engine, no files; what {@link #run} writes). */
    static Decided decideAll(V2Protocol proto, VerdictInputs in) {
        V2Protocol.Thresholds t = proto.thresholds();
        Map<Head, Roles.CopyEvidence> copying = Roles.copyEvidence(in.copying(), t); // the same for every subset
        Map<Head, Roles.HeadRole> pooledRoles = Roles.assign(in.attention(), copying, t, r -> true);
        // the natural-text family is reported only: never in the pooled or per-seed subsets (NaturalText)
        java.util.function.Predicate<Table.Row> feeds = NaturalText.feedsVerdicts();
        Verdicts.Result pooled = Verdicts.decide(in, t, pooledRoles, feeds, "pooled");
        Map<Integer, Verdicts.Result> bySeed = new TreeMap<>();
        for (int seed : proto.seeds()) {
            long s = seed;
            Map<Head, Roles.HeadRole> roles = Roles.assign(in.attention(), copying, t, r -> r.getLong("seed") == s);
            bySeed.put(seed, Verdicts.decide(in, t, roles, r -> r.getLong("seed") == s && feeds.test(r), "seed " + seed));
        }
        Map<String, Verdicts.Result> byFamily = new LinkedHashMap<>();
        for (FamilySpec f : proto.families())
            byFamily.put(f.name(), Verdicts.decide(in, t, pooledRoles, r -> f.name().equals(r.getString("family")),
                    "family " + f.name()));
        NaturalText natural = proto.naturalText();
        if (natural != null && natural.scored())
            byFamily.put(NaturalText.NAME, Verdicts.decide(in, t, pooledRoles, feeds.negate(), "family " + NaturalText.NAME));
        return new Decided(pooled, bySeed, byFamily, stabilize(pooled, bySeed, t));
    }

    /** A head's final verdict after the stability rule; {@code reasonCodes}: why inconclusive ({@link Verdicts#REASON_CODES}). */
    record Final(String verdict, String reason, int seedsConfirmed, List<String> reasonCodes) {}

    static Map<Head, Final> stabilize(Verdicts.Result pooled, Map<Integer, Verdicts.Result> bySeed, V2Protocol.Thresholds t) {
        Map<Head, Final> out = new TreeMap<>();
        Set<Head> unstable = new LinkedHashSet<>();
        for (Verdicts.HeadVerdict v : pooled.heads()) {
            int k = (int) bySeed.values().stream().filter(r -> r.confirmed().contains(v.head())).count();
            if (v.verdict().equals(Verdicts.CONFIRMED) && k <= t.stableSeedFraction() * bySeed.size()) {
                unstable.add(v.head());
                out.put(v.head(), new Final(Verdicts.INCONCLUSIVE, String.format(Locale.ROOT,
                        "Confirmed on pooled prompts but in only %d of %d seeds (unstable): %s", k, bySeed.size(),
                        v.reason()), k, List.of("unstable")));
            } else out.put(v.head(), new Final(v.verdict(), v.reason(), k, v.inconclusiveReasons()));
        }
        // a previous-token head confirmed only through heads that turned out unstable loses its support too
        for (Verdicts.HeadVerdict v : pooled.heads())
            if (out.get(v.head()).verdict().equals(Verdicts.CONFIRMED) && v.role().role().equals(Roles.PREVIOUS)
                    && pooled.compositions().stream().noneMatch(c -> c.sender().equals(v.head()) && c.significant()
                    && out.get(c.receiver()).verdict().equals(Verdicts.CONFIRMED)))
                out.put(v.head(), new Final(Verdicts.INCONCLUSIVE, "Its only confirmed receivers are unstable: "
                        + v.reason(), out.get(v.head()).seedsConfirmed(), List.of("receivers_unstable")));
        return out;
    }

    static TableBuilder verdictTable(Verdicts.Result pooled, Map<Head, Final> finals, Map<Integer, Verdicts.Result> bySeed,
                                     Map<String, Verdicts.Result> byFamily, Optional<PlantedTruth> truth, String sha) {
        List<VerdictRow> rows = pooled.heads().stream()
                .map(v -> VerdictRow.of(pooled, v, finals.get(v.head()), bySeed, byFamily, truth)).toList();
        return RecordSchema.of(VerdictRow.class).builder(VERDICTS, rows, "layer", "head").metadata(ProtocolStage.SHA_METADATA, sha);
    }

    /** The deciding scores by name, each with its CI (null where the head has none): circuit.json's evidence and the summary. */
    private static Map<String, Interval> scores(Verdicts.Result pooled, Verdicts.HeadVerdict v) {
        return VerdictRow.Scores.of(pooled, v).byName();
    }

    /** The head's composition as sender with the smallest adjusted p (largest effect on ties). */
    static Optional<Verdicts.Composition> bestComposition(Verdicts.Result pooled, Head sender) {
        return pooled.compositions().stream().filter(c -> c.sender().equals(sender))
                .min((a, b) -> a.pAdjusted() != b.pAdjusted() ? Double.compare(a.pAdjusted(), b.pAdjusted())
                        : Double.compare(b.effect().normalized().estimate(), a.effect().normalized().estimate()));
    }

    /** A row of {@code v2/stability}: one head's verdict decided on one seed's or one family's prompts alone. */
    record StabilityRow(String subsetKind, String subset, int layer, int head, String role, String verdict, int nPrompts) {
        static StabilityRow of(String kind, String subset, Verdicts.Result r, Verdicts.HeadVerdict v) {
            return new StabilityRow(kind, subset, v.head().layer(), v.head().head(), v.role().role(), v.verdict(), r.nPrompts());
        }
    }

    private static TableBuilder stabilityTable(Map<Integer, Verdicts.Result> bySeed, Map<String, Verdicts.Result> byFamily, String sha) {
        List<StabilityRow> rows = new ArrayList<>();
        bySeed.forEach((seed, r) -> r.heads().forEach(v -> rows.add(StabilityRow.of("seed", String.valueOf(seed), r, v))));
        byFamily.forEach((fam, r) -> r.heads().forEach(v -> rows.add(StabilityRow.of("family", fam, r, v))));
        return RecordSchema.of(StabilityRow.class).builder(STABILITY, rows, "subset_kind", "subset", "layer", "head")
                .metadata(ProtocolStage.SHA_METADATA, sha);
    }

    /** Mean pairwise Jaccard of the confirmed sets, NaN with fewer than two subsets. */
    static double meanJaccard(List<Set<Head>> sets) {
        double s = 0;
        int n = 0;
        for (int i = 0; i < sets.size(); i++)
            for (int j = i + 1; j < sets.size(); j++) {
                s += Stability.jaccard(sets.get(i), sets.get(j));
                n++;
            }
        return n == 0 ? Double.NaN : s / n;
    }

    private static Map<String, Object> interval(Interval i) {
        return CircuitEvidence.interval(i);
    }

    private static List<String> labels(Set<Head> s) {
        return s.stream().map(Head::label).toList();
    }

    /** {@code v2/circuit.json} up to its circuit-level evidence (added once every verdict is final). */
    record Circuit(String schema, String model, Object checkpointSha256, String protocolSha256, int nPrompts,
                   Map<String, Object> gapLogits, List<ConfirmedHead> confirmedHeads, List<CompositionPath> compositions,
                   List<GroupDrop> groupAblations, StabilitySummary stability, @OmitIfNull Map<String, Object> groundTruth) {}

    /** A confirmed head with its deciding evidence. */
    record ConfirmedHead(String headId, int layer, int head, String role, String kind, String reason,
                         Map<String, Map<String, Object>> evidence, Map<String, Double> pAdjusted,
                         Map<String, Double> pAdjustedNegative) {}

    /** A path-patched (sender, receiver) pair. */
    record CompositionPath(String sender, String receiver, String path, Map<String, Object> effectLogits,
                           Map<String, Object> effectFractionOfGap, double pAdjusted, boolean confirmed) {}

    /** A role group's drop when its heads are ablated together. */
    record GroupDrop(String role, String heads, Map<String, Object> dropLogits, Map<String, Object> dropFractionOfGap) {}

    /** The confirmed sets per seed and family and their mean Jaccard (null with fewer than two subsets). */
    record StabilitySummary(Map<String, List<String>> confirmedBySeed, Map<String, List<String>> confirmedByFamily,
                            Double jaccardMeanAcrossSeeds, Double jaccardMeanAcrossFamilies) {}

    /** Confirmed heads against the planted circuit. */
    record PrecisionRecall(List<String> inCircuit, List<String> confirmed, Double precision, Double recall) {}

    private static Map<String, Object> circuit(StageContext ctx, ProtocolStage.Registered reg, Verdicts.Result pooled,
                                               Map<Head, Final> finals, Map<Integer, Verdicts.Result> bySeed,
                                               Map<String, Verdicts.Result> byFamily, Optional<PlantedTruth> truth) {
        List<ConfirmedHead> heads = new ArrayList<>();
        for (Verdicts.HeadVerdict v : pooled.heads()) {
            if (!finals.get(v.head()).verdict().equals(Verdicts.CONFIRMED)) continue;
            Map<String, Map<String, Object>> ev = new LinkedHashMap<>();
            scores(pooled, v).forEach((k, iv) -> {
                if (iv != null && !k.equals("gap")) ev.put(k, interval(iv));
            });
            heads.add(new ConfirmedHead(v.head().label(), v.head().layer(), v.head().head(), v.role().role(), v.kind(),
                    finals.get(v.head()).reason(), ev, v.adjusted(), v.adjustedNegative()));
        }
        List<CompositionPath> comps = new ArrayList<>();
        for (Verdicts.Composition c : pooled.compositions())
            comps.add(new CompositionPath(c.sender().label(), c.receiver().label(), "sender hook_z (mean-ablated) -> receiver hook_k only",
                    interval(c.effect().raw()), interval(c.effect().normalized()), c.pAdjusted(),
                    c.significant() && finals.get(c.sender()).verdict().equals(Verdicts.CONFIRMED)
                            && finals.get(c.receiver()).verdict().equals(Verdicts.CONFIRMED)));
        List<GroupDrop> groups = new ArrayList<>();
        for (Verdicts.Group g : pooled.groups())
            groups.add(new GroupDrop(g.role(), g.heads(), interval(g.drop().raw()), interval(g.drop().normalized())));
        Map<String, List<String>> seeds = new LinkedHashMap<>(), fams = new LinkedHashMap<>();
        bySeed.forEach((s, r) -> seeds.put(String.valueOf(s), labels(r.confirmed())));
        byFamily.forEach((f, r) -> fams.put(f, labels(r.confirmed())));
        StabilitySummary st = new StabilitySummary(seeds, fams,
                nullIfNaN(meanJaccard(bySeed.values().stream().map(Verdicts.Result::confirmed).toList())),
                nullIfNaN(meanJaccard(byFamily.values().stream().map(Verdicts.Result::confirmed).toList())));
        return RecordSchema.treeMap(new Circuit("milab.v2_circuit/1", ctx.model().id(),
                ctx.model().provenance().get("checkpoint_sha256"), reg.sha256(), pooled.nPrompts(), interval(pooled.gap()),
                heads, comps, groups, st, truth.map(tr -> precisionRecall(finals, tr)).orElse(null)));
    }

    private static Double nullIfNaN(double v) {
        return Double.isNaN(v) ? null : v;
    }

    /** Confirmed heads against the planted heads in the circuit (labels only; read after every decision). */
    static Map<String, Object> precisionRecall(Map<Head, Final> finals, PlantedTruth tr) {
        Set<Head> confirmed = new LinkedHashSet<>(), inCircuit = new LinkedHashSet<>();
        finals.forEach((h, f) -> {
            if (f.verdict().equals(Verdicts.CONFIRMED)) confirmed.add(h);
        });
        tr.inCircuit().forEach((h, c) -> {
            if (c) inCircuit.add(h);
        });
        Set<Head> hit = new LinkedHashSet<>(confirmed);
        hit.retainAll(inCircuit);
        return RecordSchema.treeMap(new PrecisionRecall(labels(inCircuit), labels(confirmed),
                confirmed.isEmpty() ? null : (double) hit.size() / confirmed.size(),
                inCircuit.isEmpty() ? null : (double) hit.size() / inCircuit.size()));
    }

    private static String summary(StageContext ctx, V2Protocol proto, Verdicts.Result pooled, Map<Head, Final> finals,
                                  Optional<PlantedTruth> truth, Map<String, Object> circuit) {
        List<String> confirmed = new ArrayList<>(), negative = new ArrayList<>(), decoys = new ArrayList<>(),
                inconclusive = new ArrayList<>();
        int otherRejected = 0;
        for (Verdicts.HeadVerdict v : pooled.heads()) {
            String verdict = finals.get(v.head()).verdict();
            Roles.HeadRole r = v.role();
            if (verdict.equals(Verdicts.CONFIRMED) && v.kind().equals(Roles.NEGATIVE)) negative.add(v.head().label());
            else if (verdict.equals(Verdicts.CONFIRMED)) confirmed.add(v.head() + " (" + (v.kind().isEmpty() ? r.role() : v.kind()) + ")");
            else if (verdict.equals(Verdicts.INCONCLUSIVE))
                inconclusive.add(v.head() + " (" + r.role() + ": " + String.join(", ", finals.get(v.head()).reasonCodes()) + ")");
            else if (!r.role().equals(Roles.OTHER) || r.copying() || r.bos().above(0.5))
                decoys.add(v.head() + " (" + decoyKind(r) + ")");
            else otherRejected++;
        }
        StringBuilder md = new StringBuilder("# Protocol v2 on ").append(ctx.model().id()).append("\n\n");
        md.append(circuitLevel(castMap(circuit.get("circuit_level"))));
        md.append("**confirmed: ").append(confirmed.isEmpty() ? "none" : String.join(", ", confirmed))
                .append("; negative heads (confirmed, lower the answer): ").append(negative.isEmpty() ? "none" : String.join(", ", negative))
                .append("; rejected decoys: ").append(decoys.isEmpty() ? "none" : String.join(", ", decoys))
                .append("; rejected without any tested signal: ").append(otherRejected)
                .append("; inconclusive: ").append(inconclusive.isEmpty() ? "none" : String.join(", ", inconclusive)).append("**\n\n");
        md.append(String.format(Locale.ROOT, "- %d prompt pairs (%d families x %d seeds); clean - corrupt gap %s logits%s%n",
                pooled.nPrompts(), proto.families().size(), proto.seeds().size(), Verdicts.ci(pooled.gap()),
                pooled.gapOk() ? "" : " (does NOT exclude 0: nothing can be judged)"));
        for (Map<String, Object> c : castList(circuit.get("compositions")))
            md.append(String.format(Locale.ROOT, "- composition %s -> %s keys: %s of the gap, adj. p %s%s%n", c.get("sender"),
                    c.get("receiver"), fmt(castMap(c.get("effect_fraction_of_gap"))), Verdicts.p((Double) c.get("p_adjusted")),
                    Boolean.TRUE.equals(c.get("confirmed")) ? " (confirmed)" : ""));
        for (Map<String, Object> g : castList(circuit.get("group_ablations")))
            md.append(String.format(Locale.ROOT, "- group ablation of every %s head [%s]: drop %s of the gap%n", g.get("role"),
                    g.get("heads"), fmt(castMap(g.get("drop_fraction_of_gap")))));
        Map<String, Object> st = castMap(circuit.get("stability"));
        md.append("- stability: confirmed per seed (").append(perSubset(st.get("confirmed_by_seed"))).append("), per family (")
                .append(perSubset(st.get("confirmed_by_family"))).append(String.format(Locale.ROOT,
                        "); mean Jaccard across seeds %s, across families %s%n", fmtD(st.get("jaccard_mean_across_seeds")),
                        fmtD(st.get("jaccard_mean_across_families"))));
        truth.ifPresent(tr -> {
            Map<String, Object> pr = precisionRecall(finals, tr);
            Map<String, Object> rank = castMap(castMap(circuit.get("ground_truth")).get("ranking"));
            md.append(String.format(Locale.ROOT, "- against the planted ground truth (read only for this line): precision %s, "
                    + "recall %s (in circuit: %s); AUROC of per-head evidence: max |effect or path| %s, -log10 min adj. p %s, "
                    + "attention excess %s%n", fmtD(pr.get("precision")), fmtD(pr.get("recall")), org.milab.stats.Num.text(pr.get("in_circuit")),
                    fmtD(rank.get("max_abs_effect_or_path")), fmtD(rank.get("neg_log10_min_adjusted_p")),
                    fmtD(rank.get("max_attention_excess"))));
        });
        md.append("\nEffects are fractions of the clean - corrupt gap with 95% bootstrap CIs; p are ")
                .append(proto.thresholds().correction()).append("-adjusted one-sided t-tests of \"effect > ")
                .append(proto.thresholds().minEffectFraction()).append(" x gap\" (negative heads: \"effect < -")
                .append(proto.thresholds().minEffectFraction()).append(" x gap\"). Rules: `protocol.json`.\n\n");
        md.append("| head | role | verdict | ind. excess | prev. excess | dup. excess | copy | mean abl. | resample abl. | "
                + "denoising | leave-one-out | control | p adj. |").append(truth.isPresent() ? " truth |" : "").append(" reason |\n");
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|").append(truth.isPresent() ? "---|" : "").append("---|\n");
        for (Verdicts.HeadVerdict v : pooled.heads()) {
            Map<String, Interval> s = scores(pooled, v);
            md.append("| ").append(v.head()).append(" | ").append(v.role().role()).append(" | **")
                    .append(finals.get(v.head()).verdict()).append("** | ");
            for (String k : List.of("induction_excess", "previous_excess", "duplicate_excess", "copy_fraction",
                    "mean_ablation_norm", "resample_ablation_norm", "denoising_norm", "leave_one_out_norm", "control_effect_norm"))
                md.append(s.containsKey(k) && s.get(k) != null ? Verdicts.ci(s.get(k)) : "-").append(" | ");
            md.append(Verdicts.p(v.pAdjusted())).append(" | ");
            truth.ifPresent(tr -> md.append(tr.roles().get(v.head())).append(" | "));
            md.append(finals.get(v.head()).reason().replace("|", "/")).append(" |\n");
        }
        return md.toString();
    }

    /** {1=[L0H1, L1H2], 2=[]} as "1: L0H1, L1H2; 2: none" (never a Java map's toString). */
    static String perSubset(Object bySubset) {
        if (!(bySubset instanceof Map<?, ?> m) || m.isEmpty()) return "none";
        StringBuilder b = new StringBuilder();
        m.forEach((k, v) -> b.append(b.length() == 0 ? "" : "; ").append(k).append(": ").append(org.milab.stats.Num.text(v)));
        return b.toString();
    }

    /** The summary's lead: faithfulness, completeness and minimality of the confirmed circuit, with CIs. */
    static String circuitLevel(Map<String, Object> c) {
        if (!c.containsKey("faithfulness")) return "Circuit-level evidence: " + c.get("note") + ".\n\n";
        Map<String, Object> f = castMap(c.get("faithfulness")), comp = castMap(c.get("completeness")),
                min = castMap(c.get("minimality"));
        StringBuilder s = new StringBuilder("Circuit-level evidence for the confirmed circuit ").append(org.milab.stats.Num.text(c.get("circuit")))
                .append(" (95% bootstrap CIs over ").append(c.get("n_prompts")).append(" prompts):\n\n");
        s.append("- faithfulness (only the circuit kept, every other head mean-ablated): ")
                .append(fmt(castMap(f.get("fraction_of_clean_ld")))).append(" of the clean logit difference, ")
                .append(fmt(castMap(f.get("fraction_of_gap")))).append(" of the clean - corrupt gap\n");
        s.append("- completeness (Wang et al., (LD(C \\ K) - LD(M \\ K)) / gap): ");
        List<String> parts = new ArrayList<>();
        for (Map<String, Object> x : castList(comp.get("by_removed_set")))
            parts.add("K = " + x.get("removed_set_k") + ": " + fmt(castMap(x.get("circuit_minus_model_fraction_of_gap"))));
        s.append(String.join("; ", parts)).append('\n');
        s.append("- minimality (each member's marginal inside the circuit, fraction of the gap): ");
        parts.clear();
        for (Map<String, Object> x : castList(min.get("by_member")))
            parts.add(x.get("head_id") + " " + fmt(castMap(x.get("marginal_fraction_of_gap"))));
        s.append(String.join("; ", parts)).append(Boolean.TRUE.equals(min.get("every_member_needed"))
                ? " (every member's CI excludes 0)" : " (NOT every member's CI excludes 0)").append("\n\n");
        return s.toString();
    }

    private static String decoyKind(Roles.HeadRole r) {
        if (!r.role().equals(Roles.OTHER)) return r.role().replace('_', '-') + " attention";
        if (r.copying()) return "copying OV, no tested attention role";
        return "BOS sink";
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> castList(Object o) {
        return (List<Map<String, Object>>) o;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object o) {
        return (Map<String, Object>) o;
    }

    private static String fmt(Map<String, Object> i) {
        if (i.get("estimate") == null) return "n/a";
        return String.format(Locale.ROOT, "%.3f [%s, %s]", (Double) i.get("estimate"), fmtD(i.get("ci_low")), fmtD(i.get("ci_high")));
    }

    private static String fmtD(Object d) {
        return d == null ? "n/a" : String.format(Locale.ROOT, "%.3f", (Double) d);
    }
}
