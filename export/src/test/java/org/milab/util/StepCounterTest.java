package org.milab.util;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class StepCounterTest {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);

    private String text() {
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void everyStepGetsAStartAndAnEndLineWithItsPlaceInThePlan() {
        StepCounter c = new StepCounter("demo", List.of("controls-seed0", "controls-seed1", "failure-taxonomy"), Map.of(), out);
        c.start("controls-seed0");
        c.done("controls-seed0");
        c.skipped("controls-seed1", "up to date (resume), skipped");
        c.start("failure-taxonomy");
        c.done("failure-taxonomy");
        List<String> lines = text().lines().toList();
        assertThat(lines).hasSize(5);
        assertThat(lines.get(0)).isEqualTo("[1/3] demo: controls-seed0 ...");
        assertThat(lines.get(1)).startsWith("[1/3] demo: controls-seed0 done in 0s; 0s elapsed, about 0s left");
        assertThat(lines.get(2)).startsWith("[2/3] demo: controls-seed1 up to date (resume), skipped");
        assertThat(lines.get(3)).isEqualTo("[3/3] demo: failure-taxonomy ...");
        assertThat(lines.get(4)).startsWith("[3/3] demo: failure-taxonomy done in 0s; ").endsWith(" in all");
    }

    @Test
    void estimatesUseEarlierAttemptsThenStepsOfTheSameKindThenAllSteps() throws Exception {
        StepCounter c = new StepCounter("run", List.of("a-seed0", "a-seed1", "b", "c"), Map.of("c", 100.0), out);
        assertThat(c.remainingSeconds()).isNaN(); // nothing ran yet and a-seed0, a-seed1, b have no history
        c.start("a-seed0");
        Thread.sleep(30);
        c.done("a-seed0");
        double first = c.remainingSeconds();
        // a-seed1 is estimated like a-seed0 (same kind), b like the mean of all steps so far, c from history
        assertThat(first).isGreaterThan(100.0 + 2 * 0.029).isLessThan(100.0 + 2 * 5.0);
        assertThat(StepCounter.kind("heldout-seed10")).isEqualTo(StepCounter.kind("heldout-seed12"));
        c.skipped("a-seed1", "skipped");
        assertThat(c.remainingSeconds()).isCloseTo(first - (first - 100.0) / 2, within(1e-9));
        assertThat(text()).contains("about 1m4");
    }

    @Test
    void stepsOutsideThePlanAreCountedAsTheyCome() {
        StepCounter c = new StepCounter("x", List.of(), Map.of(), out);
        c.start("one");
        c.done("one");
        c.start("two");
        assertThat(text().lines().toList()).contains("[1/1] x: one ...", "[2/2] x: two ...");
    }
}
