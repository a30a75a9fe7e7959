package org.milab.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Test access to the offline GPT-2 BPE files (shared/gpt2) and a GPT-2 tokenizer.json built from them
 * once per JVM. Public so that harness tests (via the export test-jar) can use it too.
 */
public final class TestTokenizers {
    private TestTokenizers() {}

    /** {@code <shared>/gpt2}: Surefire sets {@code milab.shared}; else {@code <milab.root>/../shared}. */
    public static Path gpt2Dir() {
        String shared = System.getProperty("milab.shared");
        Path base;
        if (shared != null) {
            base = Path.of(shared);
        } else {
            String root = System.getProperty("milab.root");
            if (root == null) throw new IllegalStateException("Neither milab.shared nor milab.root is set: run the tests through Maven");
            base = Path.of(root).resolve("../shared");
        }
        Path dir = base.resolve("gpt2").normalize();
        if (!Files.isRegularFile(dir.resolve(Gpt2TokenizerJson.ENCODER_FILE))) {
            throw new IllegalStateException("GPT-2 BPE files not found in " + dir + " (shared/gpt2 must sit beside the project)");
        }
        return dir;
    }

    /** A GPT-2 tokenizer.json built from {@link #gpt2Dir()}, cached for the life of the JVM. */
    public static Path gpt2TokenizerJson() {
        return Gpt2Holder.PATH;
    }

    private static final class Gpt2Holder {
        static final Path PATH = build();

        private static Path build() {
            try {
                Path dir = Files.createTempDirectory("milab-gpt2-tokenizer");
                Path file = dir.resolve("tokenizer.json");
                Gpt2TokenizerJson.write(gpt2Dir(), file);
                file.toFile().deleteOnExit();
                dir.toFile().deleteOnExit();
                return file;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
