package org.milab.planted;

import org.junit.jupiter.api.Test;
import org.milab.planted.GroundTruth.Role;
import org.milab.planted.PlantedLayout.At;
import org.milab.util.UserError;

import java.util.EnumMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Layout spec strings, presets, the constraints of the construction, and which model name takes which layout. */
class PlantedLayoutTest {
    private static final String DEEP3 = "layers=3,prev=L1H5,induction=L2H6,backup=L2H3:0.5,duplicate=L1H2,frequency=L2H0,sink=L0H3";

    @Test
    void defaultPresetIsTheOriginalAssignment() {
        PlantedLayout l = PlantedLayout.defaults();
        assertThat(l.layers()).isEqualTo(2);
        assertThat(roles(l)).containsExactlyInAnyOrderEntriesOf(Map.of(Role.PREVIOUS_TOKEN, "L0H1",
                Role.ATTENTION_SINK, "L0H3", Role.INDUCTION, "L1H2", Role.DUPLICATE_TOKEN_NULL_OV, "L1H0",
                Role.FREQUENCY, "L1H1", Role.NOISE, "11 heads"));
        assertThat(l.layerNormKs()).containsExactly(2, 3);
        assertThat(l.modelId()).isEqualTo(PlantedInductionModel.MODEL_ID);
    }

    @Test
    void presetsRoundTripThroughTheirSpecAndKeyOrderDoesNotMatter() {
        for (String name : PlantedLayout.PRESETS.keySet()) {
            PlantedLayout p = PlantedLayout.preset(name);
            assertThat(p.name()).isEqualTo(name);
            assertThat(PlantedLayout.parse(p.spec())).isEqualTo(p);
            assertThat(PlantedLayout.parse(name)).isEqualTo(p);
        }
        PlantedLayout shuffled = PlantedLayout.parse(" sink=L0H3, frequency=L2H0,duplicate=L1H2 ,backup=L2H3:0.5,"
                + "induction=L2H6,prev=L1H5,LAYERS=3");
        assertThat(shuffled.name()).isEqualTo("deep3");
        assertThat(PlantedLayout.preset("deep3").spec()).isEqualTo(DEEP3);
        assertThat(PlantedLayout.presetModelIds()).containsExactly("planted-induction", "planted-backup", "planted-deep3",
                "planted-negative", "planted-negative-backup", "planted-reactive-backup");
    }

    @Test
    void aNegativeHeadIsAnOptionWithItsOwnGainAndChecks() {
        PlantedLayout n = PlantedLayout.preset("negative");
        assertThat(n.negative()).isEqualTo(new PlantedLayout.Backup(new At(1, 4), 0.3));
        assertThat(n.role(new At(1, 4))).isEqualTo(Role.NEGATIVE_COPY);
        assertThat(PlantedLayout.parse("layers=2,prev=L0H1,induction=L1H2,negative=L1H6,duplicate=L1H0,frequency=L1H1,"
                + "sink=L0H3").negative().gain()).isEqualTo(PlantedLayout.DEFAULT_NEGATIVE_GAIN);
        assertThat(PlantedLayout.preset("negative-backup").backup()).isNotNull();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PlantedLayout.parse(
                        "layers=2,prev=L0H1,induction=L1H2,negative=L1H4:0.8,duplicate=L1H0,frequency=L1H1,sink=L0H3"))
                .isInstanceOf(org.milab.util.UserError.class).hasMessageContaining("suppression gain 0.8");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PlantedLayout.parse(
                        "layers=3,prev=L0H1,induction=L2H2,negative=L1H4,duplicate=L1H0,frequency=L2H1,sink=L0H3"))
                .isInstanceOf(org.milab.util.UserError.class).hasMessageContaining("answer-writing head L1H4 (negative)");
    }

    @Test
    void backupAndDeep3Layouts() {
        PlantedLayout b = PlantedLayout.preset("backup");
        assertThat(b.backup()).isEqualTo(new PlantedLayout.Backup(new At(1, 5), 0.5));
        assertThat(b.role(new At(1, 5))).isEqualTo(Role.BACKUP_INDUCTION);
        assertThat(b.layerNormKs()).containsExactly(2, 3);
        PlantedLayout d = PlantedLayout.preset("deep3");
        assertThat(roles(d)).containsEntry(Role.PREVIOUS_TOKEN, "L1H5").containsEntry(Role.INDUCTION, "L2H6")
                .containsEntry(Role.BACKUP_INDUCTION, "L2H3").containsEntry(Role.NOISE, "18 heads");
        // the previous-token head writes in layer 1, so only layer 2 sees three entries
        assertThat(d.layerNormKs()).containsExactly(2, 2, 3);
        assertThat(d.modelId()).isEqualTo("planted-deep3");
    }

    @Test
    void customSpecGetsTheCustomNameAndTheDefaultBackupGain() {
        PlantedLayout c = PlantedLayout.parse("layers=4,prev=L2H0,induction=L3H7,backup=L3H1,duplicate=L0H0,frequency=L3H2,sink=L1H1");
        assertThat(c.name()).isEqualTo(PlantedLayout.CUSTOM);
        assertThat(c.backup().gain()).isEqualTo(PlantedLayout.DEFAULT_BACKUP_GAIN);
        assertThat(c.layerNormKs()).containsExactly(2, 2, 2, 3);
        assertThat(c.spec()).isEqualTo("layers=4,prev=L2H0,induction=L3H7,backup=L3H1:0.5,duplicate=L0H0,frequency=L3H2,sink=L1H1");
        assertThat(PlantedLayout.parse(c.spec())).isEqualTo(c);
    }

    @Test
    void violatedConstraintsAreUserErrorsNamingTheProblem() {
        String base = "layers=3,prev=L1H5,induction=L2H6,duplicate=L1H2,frequency=L2H0,sink=L0H3";
        assertBad(base.replace("induction=L2H6", "induction=L1H6"), "answer-writing head L1H6", "last layer");
        assertBad(base.replace("frequency=L2H0", "frequency=L1H0"), "answer-writing head L1H0", "last layer");
        assertBad(base + ",backup=L1H0:0.5", "answer-writing head L1H0 (backup)");
        assertBad(base.replace("prev=L1H5", "prev=L2H5"), "previous-token head L2H5", "before L2");
        assertBad(base.replace("sink=L0H3", "sink=L2H6"), "two roles (induction and sink)");
        assertBad(base + ",backup=L2H1:1.0", "OV gain 1.0", "(0, 1)");
        assertBad(base + ",backup=L2H1:0", "OV gain 0.0");
        assertBad(base.replace("sink=L0H3", "sink=L0H8"), "outside 3 layers x 8 heads");
        assertBad(base.replace("sink=L0H3", "sink=L3H0"), "outside 3 layers x 8 heads");
        assertBad(base.replace("layers=3", "layers=1"), "1 layers");
        assertBad(base.replace("layers=3", "layers=9"), "9 layers");
        assertBad(base.replace("layers=3", "layers=three"), "not a whole number");
        assertBad(base.replace(",sink=L0H3", ""), "no 'sink'");
        assertBad(base + ",mlp=L0H1", "key 'mlp' is unknown");
        assertBad(base + ",sink=L0H4", "'sink' is given twice");
        assertBad(base.replace("sink=L0H3", "sink=head3"), "sink='head3' is not a head");
        assertBad(base + ",backup=L2H1:x", "backup='L2H1:x'");
        assertBad("deep7", "neither a planted layout preset");
        assertThatThrownBy(() -> PlantedLayout.preset("deep7")).isInstanceOf(UserError.class)
                .hasMessageContaining("no planted layout preset 'deep7'");
    }

    @Test
    void modelNamesChooseTheLayout() {
        assertThat(PlantedLayout.forModel("planted-induction", null)).isEqualTo(PlantedLayout.defaults());
        assertThat(PlantedLayout.forModel("planted-induction", "backup")).isEqualTo(PlantedLayout.preset("backup"));
        assertThat(PlantedLayout.forModel("planted-backup", null)).isEqualTo(PlantedLayout.preset("backup"));
        assertThat(PlantedLayout.forModel("planted-deep3", DEEP3)).isEqualTo(PlantedLayout.preset("deep3"));
        assertThat(PlantedLayout.forModel("planted-mine", DEEP3.replace("L0H3", "L0H4")).name()).isEqualTo(PlantedLayout.CUSTOM);
        assertThatThrownBy(() -> PlantedLayout.forModel("planted-backup", "deep3")).isInstanceOf(UserError.class)
                .hasMessageContaining("names the 'backup' preset");
        assertThatThrownBy(() -> PlantedLayout.forModel("planted-mine", null)).isInstanceOf(UserError.class)
                .hasMessageContaining("planted-induction, planted-backup, planted-deep3")
                .satisfies(e -> assertThat(((UserError) e).fix()).contains("--planted-layout"));
        assertThat(PlantedLayout.isPlanted("planted-x")).isTrue();
        assertThat(PlantedLayout.isPlanted("gpt2")).isFalse();
    }

    private static void assertBad(String spec, String... fragments) {
        assertThatThrownBy(() -> PlantedLayout.parse(spec)).as(spec).isInstanceOf(UserError.class)
                .satisfies(e -> assertThat(e.getMessage()).contains(fragments))
                .satisfies(e -> assertThat(((UserError) e).fix()).isNotBlank());
    }

    /** role -> head label, noise heads counted. */
    private static Map<Role, String> roles(PlantedLayout l) {
        Map<Role, String> out = new EnumMap<>(Role.class);
        int noise = 0;
        for (int layer = 0; layer < l.layers(); layer++)
            for (int h = 0; h < PlantedInductionModel.N_HEAD; h++) {
                Role r = l.role(new At(layer, h));
                if (r == Role.NOISE) noise++;
                else assertThat(out.put(r, new At(layer, h).label())).as("one head per role").isNull();
            }
        out.put(Role.NOISE, noise + " heads");
        return out;
    }
}
