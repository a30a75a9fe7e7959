package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.Table;
import org.milab.tables.RecordSchema;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The natural-text family's per-head evidence beside the random-token families' ({@code v2/natural_text}), and its
 * agreement check with the final verdicts. Nothing here changes a verdict. A head's evidence is its mean-ablation
 * effect, or for a confirmed previous-token head its K-composition into its receiver (its total effect may be repaired
 * downstream, as the verdict rule allows); both read on natural-text prompts and on the verdicts' prompts.
 *
 * <p>Flags, for confirmed heads only, in the role's direction s (+1; -1 for a negative head), with f = min_effect_fraction:
 * {@value #AGREES} (s x natural CI low > f), {@value #WEAK} (the CI straddles f), {@value #UNSUPPORTED} (s x natural CI
 * high < f: the effect the head was confirmed for is absent on natural text), {@value #UNDEFINED} (no natural-text
 * evidence: the gap's CI does not exclude 0, or no path was measured).
 */
final class NaturalTextAgreement {
    static final String TABLE = "natural_text";
    static final String AGREES = "agrees", WEAK = "natural_text_weak", UNSUPPORTED = "natural_text_unsupported",
            UNDEFINED = "natural_text_undefined";

    private NaturalTextAgreement() {}

    /** One head's natural-text evidence and the same evidence on the verdicts' prompts. */
    record Row(Head head, String verdict, String kind, String evidence, int n, Interval natural, Interval naturalRaw,
               Interval random, String flag) {}

    /**
     * @param pooled  the verdicts' subset (random-token families)
     * @param natural the same rules on natural-text prompts only
     * @param final_  each head's final verdict and circuit kind
     */
    static List<Row> rows(Verdicts.Result pooled, Verdicts.Result natural, Map<Head, String> finalVerdict, double f) {
        List<Row> out = new ArrayList<>();
        Set<Head> confirmed = new java.util.LinkedHashSet<>();
        finalVerdict.forEach((h, v) -> {
            if (v.equals(Verdicts.CONFIRMED)) confirmed.add(h);
        });
        for (Verdicts.HeadVerdict v : pooled.heads()) {
            String verdict = finalVerdict.get(v.head());
            boolean isConfirmed = verdict.equals(Verdicts.CONFIRMED);
            Verdicts.Effect nat, rnd;
            String evidence;
            Optional<Verdicts.Composition> path = isConfirmed && v.kind().equals(Roles.PREVIOUS)
                    ? pooled.compositions().stream().filter(c -> c.sender().equals(v.head()) && c.significant()
                    && confirmed.contains(c.receiver())).findFirst() : Optional.empty();
            if (path.isPresent()) {
                Head r = path.get().receiver();
                evidence = "composition_k:" + r.label();
                rnd = path.get().effect();
                nat = natural.compositions().stream().filter(c -> c.sender().equals(v.head()) && c.receiver().equals(r))
                        .map(Verdicts.Composition::effect).findFirst().orElse(null);
            } else {
                evidence = Verdicts.MEAN;
                rnd = v.effects().get(Verdicts.MEAN);
                nat = natural.head(v.head()).effects().get(Verdicts.MEAN);
            }
            Interval ni = nat == null || !natural.gapOk() ? Interval.EMPTY : nat.normalized();
            String flag = isConfirmed ? flag(ni, v.expectedSign(), f) : "";
            out.add(new Row(v.head(), verdict, v.kind(), evidence, nat == null ? 0 : nat.n(), ni,
                    nat == null ? Interval.EMPTY : nat.raw(), rnd == null ? Interval.EMPTY : rnd.normalized(), flag));
        }
        return out;
    }

    /** The agreement flag of a confirmed head's natural-text effect (normalized CI) in direction {@code sign}. */
    static String flag(Interval natural, int sign, double f) {
        if (!natural.defined()) return UNDEFINED;
        double lo = sign > 0 ? natural.low() : -natural.high(), hi = sign > 0 ? natural.high() : -natural.low();
        if (lo > f) return AGREES;
        if (hi < f) return UNSUPPORTED;
        return WEAK;
    }

    /** A row of {@code v2/natural_text}: the components are the columns. */
    record TableRow(long layer, long head, String headId, String verdict, String circuitKind, String evidence, long nPrompts,
                    Double naturalNorm, Double naturalNormCiLow, Double naturalNormCiHigh, Double naturalDelta,
                    Double naturalDeltaCiLow, Double naturalDeltaCiHigh, Double randomNorm, Double randomNormCiLow,
                    Double randomNormCiHigh, String naturalFlag) {
        static TableRow of(Row r) {
            return new TableRow(r.head().layer(), r.head().head(), r.head().label(), r.verdict(), r.kind(), r.evidence(), r.n(),
                    val(r.natural().estimate()), val(r.natural().low()), val(r.natural().high()), val(r.naturalRaw().estimate()),
                    val(r.naturalRaw().low()), val(r.naturalRaw().high()), val(r.random().estimate()), val(r.random().low()),
                    val(r.random().high()), r.flag());
        }
    }

    static TableBuilder table(List<Row> rows, String sha) {
        return RecordSchema.of(TableRow.class).builder(TABLE, rows.stream().map(TableRow::of).toList(), "layer", "head")
                .metadata(ProtocolStage.SHA_METADATA, sha);
    }

    private static Double val(double x) {
        return Double.isNaN(x) ? null : x;
    }

    /** circuit.json's {@code natural_text}: the family as registered and each confirmed head's agreement. */
    static Map<String, Object> json(NaturalText family, List<Row> rows) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", family == null ? "absent (protocol.json predates the family)" : family.status());
        if (family != null && !family.scored()) m.put("reason", family.reason());
        m.put("use", NaturalText.REPORTED_ONLY);
        List<Map<String, Object>> heads = new ArrayList<>();
        for (Row r : rows) {
            if (r.flag().isEmpty()) continue;
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("head", r.head().label());
            h.put("kind", r.kind());
            h.put("evidence", r.evidence());
            h.put("natural_fraction_of_gap", CircuitEvidence.interval(r.natural()));
            h.put("random_fraction_of_gap", CircuitEvidence.interval(r.random()));
            h.put("flag", r.flag());
            heads.add(h);
        }
        m.put("confirmed_heads", heads);
        return m;
    }

    /** The summary's natural-text line(s). */
    static String markdown(NaturalText family, List<Row> rows) {
        if (family == null) return "";
        if (!family.scored()) return "\nNatural repeated text: SKIPPED on this model: " + family.reason() + ".\n";
        StringBuilder md = new StringBuilder("\nNatural repeated text (reported only; agreement of each confirmed head's effect "
                + "on natural text with its random-token effect, fractions of the gap):\n");
        int shown = 0;
        for (Row r : rows) {
            if (r.flag().isEmpty()) continue;
            shown++;
            md.append(String.format(Locale.ROOT, "- %s (%s, %s): natural %s vs random tokens %s: %s%n", r.head(), r.kind(),
                    r.evidence(), Verdicts.ci(r.natural()), Verdicts.ci(r.random()), r.flag()));
        }
        if (shown == 0) md.append("- no head is confirmed, so there is nothing to check\n");
        return md.toString();
    }
}
