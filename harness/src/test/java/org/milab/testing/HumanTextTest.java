package org.milab.testing;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The summary check flags each kind of machine text and passes numbers for people, hashes and role names. */
class HumanTextTest {
    @Test
    void flagsJavaToStringNullAndSeventeenDigitFloats() {
        assertThat(HumanText.problems("- S14 statuses {stable=2, moved=1}")).hasSize(1);
        assertThat(HumanText.problems("faithfulness Interval[estimate=0.97, low=0.9]")).hasSize(1);
        assertThat(HumanText.problems("engine org.milab.engine.Engine@1b6d3586")).hasSize(1);
        assertThat(HumanText.problems("receiver null")).hasSize(1);
        assertThat(HumanText.problems("failed: java.lang.IllegalStateException: x")).hasSize(1);
        assertThat(HumanText.problems("effect 0.97042311072349548")).hasSize(1);
        assertThat(HumanText.problems("recall 1.000 (in circuit: [L0H1, L1H2])")).hasSize(1);
        assertThat(HumanText.problems("two lines\n{a=1}\nnull")).hasSize(2);
    }

    @Test
    void passesNumbersForPeopleHashesAndNames() {
        assertThat(HumanText.problems("- effect 0.9704 [0.95, 0.99], p < 1e-16, adj. p 3.2e-07; counts a 2, b 1; none")).isEmpty();
        assertThat(HumanText.problems("sha256 `3d61c51a9f0b1234567890abcdef1234567890abcdef` role duplicate_token_null_ov")).isEmpty();
        assertThat(HumanText.problems("[faithfulness](circuit/faithfulness.arrow) Table `edges`")).isEmpty();
    }
}
