package org.milab.util;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class ProgressBarTest {
    @Test
    void terminalRedrawsClearTheRestOfTheLineSoNoStrayTextRemains() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (ProgressBar bar = new ProgressBar("capture", 1_000_000, "prompts", new PrintStream(buf, true, StandardCharsets.UTF_8), true)) {
            bar.step(999_999); // a long line ("999.9k/1.0M ... ETA ...")
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        // every drawing is "\r" + line + erase-to-end-of-line, and the last one ends the line
        for (String drawing : out.split("\r")) {
            if (drawing.isEmpty()) continue;
            assertThat(drawing).contains(ProgressBar.CLEAR_TO_EOL);
        }
        assertThat(out).endsWith(ProgressBar.CLEAR_TO_EOL + "\n");
        assertThat(out).contains("1000.0k/1000.0k prompts");
    }

    @Test
    void logsGetWholeLinesWithoutControlCharacters() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (ProgressBar bar = new ProgressBar("patch", 10, "rows", new PrintStream(buf, true, StandardCharsets.UTF_8), false)) {
            bar.step(4);
            bar.step(6);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertThat(out).doesNotContain("\r").doesNotContain("\033");
        assertThat(out.lines().toList()).last().asString().contains("100.0% 10/10 rows");
    }
}
