package org.milab.api;

import org.milab.testing.ChildJvm;
import org.milab.util.UserError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Arrow on JDK 17 without {@code --add-opens=java.base/java.nio=ALL-UNNAMED}: a child JVM started without the flag
 * writes a cache and gets one message naming the flag (and no file); with the flag the same write succeeds.
 */
class ArrowFlagTest {

    /** Writes a one-value cache to args[0]; prints the UserError's message and exits 2 on failure. */
    public static final class WriteCache {
        public static void main(String[] args) {
            ActivationCache c = new ActivationCache(List.of(new int[]{0}),
                    Map.of("hook_embed", List.of(new Tensor(new int[]{1, 2}, new float[]{1f, 2f}))),
                    Map.of("hook_embed", List.of("pos", "d_model")), Map.of());
            try {
                c.writeArrow(Path.of(args[0]));
            } catch (UserError e) {
                System.out.println(e.getMessage());
                System.exit(2);
            }
        }
    }

    @Test
    void withoutTheFlagTheMessageNamesIt(@TempDir Path dir) throws Exception {
        List<String> cmd = new ArrayList<>(ChildJvm.command(WriteCache.class.getName(), List.of(dir.resolve("a.arrow").toString())));
        assertThat(cmd.remove(ArrowAccess.FLAG)).isTrue();
        ChildJvm.Result without = ChildJvm.run(cmd, dir, 120);
        assertThat(without.exit()).as("stdout %s stderr %s", without.out(), without.err()).isEqualTo(2);
        assertThat(without.out()).contains("Start the JVM with " + ArrowAccess.FLAG).contains("Fix:");
        assertThat(dir.resolve("a.arrow")).doesNotExist();

        ChildJvm.Result with = ChildJvm.run(ChildJvm.command(WriteCache.class.getName(),
                List.of(dir.resolve("b.arrow").toString())), dir, 120);
        assertThat(with.exit()).as(with.err()).isZero();
        assertThat(Files.size(dir.resolve("b.arrow"))).isPositive();
    }
}
