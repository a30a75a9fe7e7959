package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.milab.protocol.v2.VerdictRulesTest.Path;
import static org.milab.protocol.v2.VerdictRulesTest.Spec;
import static org.milab.protocol.v2.VerdictRulesTest.T;

/**
 * The negative and backup roles on hand-made rows: a negative head is confirmed by a significantly negative
 * necessity with the same rigour as a positive one (and never rejected), a backup head by its leave-one-out
 * marginal when its single-head ablations show nothing.
 */
class VerdictRolesTest {
    static final Head PREV = new Head(0, 0), IND = new Head(1, 0), NEG = new Head(1, 1), BACKUP = new Head(1, 2),
            NEG_NO_CONTROL = new Head(1, 3), NEG_SMALL = new Head(1, 4), NEG_NONSPECIFIC = new Head(1, 5);

    static VerdictInputs inputs() {
        Map<Head, Spec> s = new LinkedHashMap<>();
        s.put(PREV, new Spec(0, 0, 0.8, 0, 0.5, 0.5, 0.4, 0, 0.02));
        s.put(IND, new Spec(0.9, 0, 0, 1, 0.5, 0.5, 1.0, 0, 0.02));
        s.put(NEG, new Spec(0.9, 0, 0, -1, -0.3, -0.3, -0.3, 0, 0.02));           // anti-induction
        s.put(BACKUP, new Spec(0.9, 0, 0, 1, 0, 0, 0.02, 0, 0.005));              // silent while IND works
        s.put(NEG_NO_CONTROL, new Spec(0.9, 0, 0, -1, -0.3, -0.3, -0.3, Double.NaN, 0.02));
        s.put(NEG_SMALL, new Spec(0, 0.9, 0, -1, 0, 0, 0, 0, 0.005));            // copy-suppression OV, no effect
        s.put(NEG_NONSPECIFIC, new Spec(0.9, 0, 0, -1, -0.3, -0.3, -0.3, -0.3, 0.02));
        VerdictInputs in = VerdictRulesTest.inputs(21, s, List.of(new Path(PREV, IND, 0.45)));
        // the induction group {IND, BACKUP}: ablating both removes 0.9 of the gap; keeping BACKUP alone it repairs to 0.3,
        // keeping IND alone the drop is the backup's share only (0.05)
        TableBuilder g = Table.builder(GroupAblationStage.TABLE).keys("prompt_id", "group", "left_out").int64("seed")
                .string("family", "prompt_id", "group").stringList("heads").string("left_out").float64("delta");
        java.util.Random rnd = new java.util.Random(5);
        for (Table.Row r : in.baselines().rows()) {
            double gap = r.getDouble("gap");
            Object[] key = {r.getLong("seed"), r.getString("family"), r.getString("prompt_id"), Roles.INDUCTION, List.of("L1H0", "L1H2")};
            g.addRow(key[0], key[1], key[2], key[3], key[4], GroupAblationStage.NONE, (0.9 + 0.02 * rnd.nextGaussian()) * gap);
            g.addRow(key[0], key[1], key[2], key[3], key[4], BACKUP.label(), (0.3 + 0.02 * rnd.nextGaussian()) * gap);
            g.addRow(key[0], key[1], key[2], key[3], key[4], IND.label(), (0.05 + 0.02 * rnd.nextGaussian()) * gap);
        }
        return new VerdictInputs(in.attention(), in.copying(), in.baselines(), in.ablations(), in.patches(), g.build(),
                in.composition());
    }

    @Test
    void aNegativeHeadIsConfirmedByASignificantlyNegativeEffectAndNeverRejected() {
        VerdictInputs in = inputs();
        Verdicts.Result r = VerdictDefectsTest.decide(in, T);
        Verdicts.HeadVerdict neg = r.head(NEG);
        assertThat(neg.role().role()).isEqualTo(Roles.NEGATIVE);
        assertThat(neg.role().attentionRole()).isEqualTo(Roles.INDUCTION);
        assertThat(neg.verdict()).isEqualTo(Verdicts.CONFIRMED);
        assertThat(neg.kind()).isEqualTo(Roles.NEGATIVE);
        assertThat(neg.expectedSign()).isEqualTo(-1);
        assertThat(neg.adjustedNegative().get(Verdicts.MEAN)).isLessThan(T.alpha());
        assertThat(neg.effects().get(Verdicts.MEAN).signFraction(-1)).isEqualTo(1.0);
        // the same rigour as a positive head: specificity must be shown, and shown in the negative direction
        assertThat(r.head(NEG_NO_CONTROL).verdict()).isEqualTo(Verdicts.INCONCLUSIVE);
        assertThat(r.head(NEG_NO_CONTROL).reason()).contains("control effect is undefined");
        assertThat(r.head(NEG_NONSPECIFIC).verdict()).isEqualTo(Verdicts.INCONCLUSIVE);
        assertThat(r.head(NEG_NONSPECIFIC).reason()).contains("control's unlicensed answer");
        // a copy-suppression OV with no effect at all is negligible, like any other head
        assertThat(r.head(NEG_SMALL).role().role()).isEqualTo(Roles.NEGATIVE);
        assertThat(r.head(NEG_SMALL).verdict()).isEqualTo(Verdicts.REJECTED);
        // negative heads form their own group for group / leave-one-out ablation
        assertThat(Roles.groups(Roles.assign(in.attention(), in.copying(), T, x -> true)).get(Roles.NEGATIVE))
                .containsExactly(NEG, NEG_NO_CONTROL, NEG_SMALL, NEG_NONSPECIFIC);
    }

    @Test
    void aBackupHeadIsConfirmedByItsLeaveOneOutMarginalAndNamedAsSuch() {
        Verdicts.Result r = VerdictDefectsTest.decide(inputs(), T);
        Verdicts.HeadVerdict b = r.head(BACKUP);
        assertThat(b.adjusted().get(Verdicts.MEAN)).isGreaterThan(T.alpha());        // alone it shows nothing
        assertThat(b.adjusted().get(Verdicts.LOO)).isLessThan(T.alpha());
        assertThat(b.verdict()).isEqualTo(Verdicts.CONFIRMED);
        assertThat(b.kind()).isEqualTo("backup_induction");
        assertThat(b.reason()).contains("backup");
        assertThat(r.head(IND).kind()).isEqualTo(Roles.INDUCTION);
        assertThat(r.confirmed()).containsExactlyInAnyOrder(PREV, IND, NEG, BACKUP);
    }
}
