package org.milab.catalog;

import java.nio.file.Path;

/** Where a model's generated files live under the project root: graphs/<model>/ and manifests/<model>/. */
public record ModelLayout(Path root, String modelId) {
    public static final String TOKENIZER_FILE = "tokenizer.json";

    public Path graphDir() {
        return root.resolve("graphs").resolve(modelId);
    }

    public Path manifestDir() {
        return root.resolve("manifests").resolve(modelId);
    }

    public Path tokenizer() {
        return graphDir().resolve(TOKENIZER_FILE);
    }
}
