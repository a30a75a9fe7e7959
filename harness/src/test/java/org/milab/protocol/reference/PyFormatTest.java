package org.milab.protocol.reference;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Expected strings were printed by CPython 3 ({@code repr(x)} and {@code f"{x:.4f}"}). */
class PyFormatTest {
    @Test
    void reprMatchesCPython() {
        Object[][] cases = {{0.1, "0.1"}, {1e-05, "1e-05"}, {0.0001, "0.0001"}, {1e16, "1e+16"}, {123.0, "123.0"},
                {-3.622403276253335e-05, "-3.622403276253335e-05"}, {1.5e300, "1.5e+300"},
                {12345678901234567.0, "1.2345678901234568e+16"}, {0.30000000000000004, "0.30000000000000004"}, {2.5, "2.5"},
                {100.0, "100.0"}, {1e15, "1000000000000000.0"}, {5e-324, "5e-324"},
                {1.7976931348623157e308, "1.7976931348623157e+308"}, {9.999999999999999e-05, "9.999999999999999e-05"},
                {0.00012, "0.00012"}, {-0.0, "-0.0"}, {Double.NaN, "nan"}, {Double.NEGATIVE_INFINITY, "-inf"}};
        for (Object[] c : cases) assertThat(PyFormat.repr((Double) c[0])).as("%s", c[0]).isEqualTo(c[1]);
    }

    @Test
    void fixedRoundsTheExactBinaryValueHalfEven() {
        assertThat(PyFormat.fixed(0.03125, 4)).isEqualTo("0.0312"); // an exact tie: half-even (Java's %.4f gives 0.0313)
        assertThat(PyFormat.fixed(1.00005, 4)).isEqualTo("1.0001"); // binary value just above the tie
        assertThat(PyFormat.fixed(-0.00001, 4)).isEqualTo("-0.0000");
        assertThat(PyFormat.fixed(-0.0, 4)).isEqualTo("-0.0000");
        assertThat(PyFormat.fixed(0.175, 4)).isEqualTo("0.1750");
        assertThat(PyFormat.fixed(-1.2495504789977891, 4)).isEqualTo("-1.2496");
        assertThat(PyFormat.fixed(null, 4)).isEqualTo("nan");
        assertThat(PyFormat.fixed(Double.NaN, 4)).isEqualTo("nan");
    }
}
