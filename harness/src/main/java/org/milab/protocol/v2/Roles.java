package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stats.Bootstrap;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * A head's role from data: attention excess over the non-repeating control (and over uniform attention for
 * previous-token), each with a bootstrap CI over probes; the role is the largest excess whose CI low clears
 * the declared margin, else {@code other}. Copying (Wang et al.'s copy score: the fraction of pool tokens whose own
 * OV logit is among the copy_top_k largest of their row, with a CI over pool tokens) is evidence beside the role. A
 * head with induction- or duplicate-token attention whose OV anti-copies (the negative copy score: own logit among
 * the copy_top_k LOWEST, CI low above chance + margin) and does not copy takes the role {@code negative}
 * (anti-induction / copy suppression). Nothing here knows a head by its index.
 */
public final class Roles {
    public static final String INDUCTION = "induction", PREVIOUS = "previous_token", DUPLICATE = "duplicate_token",
            NEGATIVE = "negative", OTHER = "other";
    /** The attention roles the protocol tests, in tie order. */
    public static final List<String> TESTED = List.of(INDUCTION, PREVIOUS, DUPLICATE);
    /** Roles whose heads are ablated together as a group (and leave-one-out). */
    public static final List<String> GROUPED = List.of(INDUCTION, PREVIOUS, DUPLICATE, NEGATIVE);

    private Roles() {}

    /**
     * Attention and copying evidence of one head: {@code attentionRole} is what attention alone says,
     * {@code role} the same unless the OV anti-copies ({@link #NEGATIVE}).
     */
    public record HeadRole(Head head, String role, String attentionRole, Interval induction, Interval duplicate,
                           Interval previous, Interval bos, Interval copy, double copyChance, boolean copying,
                           Interval antiCopy, boolean antiCopying) {
        public Interval excess(String r) {
            return switch (r) {
                case INDUCTION -> induction;
                case DUPLICATE -> duplicate;
                case PREVIOUS -> previous;
                case NEGATIVE -> excess(attentionRole);
                default -> throw new IllegalArgumentException(r);
            };
        }
    }

    /** Roles of every head from the probes {@code keep} selects. */
    public static Map<Head, HeadRole> assign(Table attention, Table copying, V2Protocol.Thresholds t,
                                             Predicate<Table.Row> keep) {
        return assign(attention, copyEvidence(copying, t), t, keep);
    }

    /**
     * A head's OV copy and anti-copy scores (CIs over pool tokens) and chance. They read no probe: every subset's
     * roles share them, so the verdicts compute them once ({@link #copyEvidence}) for the pooled and per-seed roles.
     */
    record CopyEvidence(Interval copy, double chance, boolean copies, Interval antiCopy, boolean antiCopies) {}

    /** Every head's copy evidence from the copying table (heads in parallel: each bootstrap is seeded by its name). */
    static Map<Head, CopyEvidence> copyEvidence(Table copying, V2Protocol.Thresholds t) {
        Map<Head, List<Boolean>> copied = new TreeMap<>(), anti = new TreeMap<>();
        int k = t.copyTopK();
        for (Table.Row r : copying.rows()) {
            long rank = r.getLong("own_rank"), size = r.getLong("pool_size");
            copied.computeIfAbsent(head(r), h -> new ArrayList<>()).add(rank <= k);
            anti.computeIfAbsent(head(r), h -> new ArrayList<>()).add(rank > size - k);
        }
        List<Head> heads = new ArrayList<>(copied.keySet());
        List<CopyEvidence> ev = heads.parallelStream().map(h -> copyEvidence(h, copied.get(h), anti.getOrDefault(h, List.of()), t)).toList();
        Map<Head, CopyEvidence> out = new TreeMap<>();
        for (int i = 0; i < heads.size(); i++) out.put(heads.get(i), ev.get(i));
        return out;
    }

    private static CopyEvidence copyEvidence(Head h, List<Boolean> c, List<Boolean> anti, V2Protocol.Thresholds t) {
        double[] cx = c.stream().mapToDouble(b -> b ? 1 : 0).toArray();
        Interval copy = mean(t, "copy " + h, cx);
        // chance: a token's own rank is uniform over the pool when the OV ignores identity
        double chance = c.isEmpty() ? Double.NaN : Math.min(1.0, (double) t.copyTopK() / c.size());
        boolean copies = copy.above(chance + t.copyMargin());
        Interval antiCopy = mean(t, "anti_copy " + h, anti.stream().mapToDouble(b -> b ? 1 : 0).toArray());
        return new CopyEvidence(copy, chance, copies, antiCopy, !copies && antiCopy.above(chance + t.copyMargin()));
    }

    /** As {@link #assign(Table, Table, V2Protocol.Thresholds, Predicate)} with the copy evidence computed already. */
    static Map<Head, HeadRole> assign(Table attention, Map<Head, CopyEvidence> copying, V2Protocol.Thresholds t,
                                      Predicate<Table.Row> keep) {
        Map<Head, List<Table.Row>> att = new TreeMap<>();
        for (Table.Row r : attention.rows())
            if (keep.test(r)) att.computeIfAbsent(head(r), h -> new ArrayList<>()).add(r);
        List<Head> heads = new ArrayList<>(att.keySet());
        // heads in parallel, kept in head order: each bootstrap is seeded by its name, so nothing depends on threads
        List<HeadRole> roles = heads.parallelStream().map(h -> role(h, att.get(h),
                copying.getOrDefault(h, copyEvidence(h, List.of(), List.of(), t)), t)).toList();
        Map<Head, HeadRole> out = new LinkedHashMap<>();
        for (HeadRole r : roles) out.put(r.head(), r);
        return out;
    }

    private static HeadRole role(Head h, List<Table.Row> rows, CopyEvidence c, V2Protocol.Thresholds t) {
        Interval ind = mean(t, "induction_excess " + h, col(rows, "induction_excess"));
        Interval dup = mean(t, "duplicate_excess " + h, col(rows, "duplicate_excess"));
        Interval prev = mean(t, "previous_excess " + h, col(rows, "previous_excess"));
        Interval bos = mean(t, "bos_repeat " + h, col(rows, "bos_repeat"));
        String role = OTHER;
        double best = Double.NEGATIVE_INFINITY;
        for (String r : TESTED) {
            Interval x = r.equals(INDUCTION) ? ind : r.equals(DUPLICATE) ? dup : prev;
            if (x.above(t.attentionMargin()) && x.estimate() > best) {
                best = x.estimate();
                role = r;
            }
        }
        String attentionRole = role;
        if (c.antiCopies() && (role.equals(INDUCTION) || role.equals(DUPLICATE))) role = NEGATIVE;
        return new HeadRole(h, role, attentionRole, ind, dup, prev, bos, c.copy(), c.chance(), c.copies(), c.antiCopy(),
                c.antiCopies());
    }

    /** Heads by role, for the grouped roles that have any. */
    public static Map<String, List<Head>> groups(Map<Head, HeadRole> roles) {
        Map<String, List<Head>> out = new LinkedHashMap<>();
        for (String r : GROUPED) {
            List<Head> hs = roles.values().stream().filter(x -> x.role().equals(r)).map(HeadRole::head).sorted().toList();
            if (!hs.isEmpty()) out.put(r, hs);
        }
        return out;
    }

    /** Composition pairs: every previous-token head with every induction or negative head of a later layer. */
    public static List<Head[]> compositionPairs(Map<Head, HeadRole> roles) {
        Map<String, List<Head>> g = groups(roles);
        List<Head[]> out = new ArrayList<>();
        for (Head s : g.getOrDefault(PREVIOUS, List.of()))
            for (String receiver : List.of(INDUCTION, NEGATIVE))
                for (Head r : g.getOrDefault(receiver, List.of()))
                    if (s.layer() < r.layer()) out.add(new Head[]{s, r});
        return out;
    }

    static Head head(Table.Row r) {
        return new Head(r.getLong("layer").intValue(), r.getLong("head").intValue());
    }

    static double[] col(List<Table.Row> rows, String c) {
        return rows.stream().mapToDouble(r -> r.getDouble(c)).toArray();
    }

    /** A seeded bootstrap of a mean; each quantity gets its own stream derived from its name. */
    static Interval mean(V2Protocol.Thresholds t, String what, double[] x) {
        return bootstrap(t, what).mean(x);
    }

    static Bootstrap bootstrap(V2Protocol.Thresholds t, String what) {
        long h = 1469598103934665603L;
        for (char ch : what.toCharArray()) h = (h ^ ch) * 1099511628211L; // FNV-1a: stable across JVMs
        return new Bootstrap(t.bootstrapResamples(), t.bootstrapSeed() ^ h, t.confidence());
    }
}
