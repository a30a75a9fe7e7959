package org.milab.catalog;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The names a mistyped MODEL is matched against, and the order they are offered in. */
class ModelNamesTest {
    @Test
    void knownNamesAreGpt2ThePlantedPresetsAndTheZoo(@TempDir Path root) throws Exception {
        assertThat(ModelNames.known(root)).containsExactly("gpt2", "planted-induction", "planted-backup", "planted-deep3",
                "planted-negative", "planted-negative-backup", "planted-reactive-backup", "planted-successor");
        Files.createDirectories(root.resolve("zoo/zoo-a"));
        Files.writeString(root.resolve("zoo/zoo-a/model.safetensors"), "x");
        assertThat(ModelNames.known(root)).endsWith("zoo-a");
        assertThat(ModelNames.exportableByName("zoo-a")).isTrue();
        assertThat(ModelNames.exportableByName("gpt2")).isTrue();
        assertThat(ModelNames.exportableByName("planted-mine")).isTrue();
        assertThat(ModelNames.exportableByName("planted")).isFalse();
        assertThat(ModelNames.exportableByName("gpt-2")).isFalse();
    }

    @Test
    void closestFirst() {
        List<String> all = List.of("gpt2", "planted-induction", "planted-backup", "planted-deep3", "words");
        assertThat(ModelNames.closestFirst("planted", all)).startsWith("planted-induction", "planted-backup", "planted-deep3");
        assertThat(ModelNames.closestFirst("wrods", all).get(0)).isEqualTo("words");
        assertThat(ModelNames.closestFirst("GPT2", all).get(0)).isEqualTo("gpt2");
        assertThat(ModelNames.distance("kitten", "sitting")).isEqualTo(3);
        assertThat(ModelNames.close("wrods", "words")).isTrue();
        assertThat(ModelNames.close("mine", "gpt2")).isFalse();
    }

    @Test
    void theMessageListsExportedAndKnownNamesAndNeverFetchesGpt2UnderATypo(@TempDir Path root) throws Exception {
        for (String m : List.of("words", "planted-induction")) {
            Files.createDirectories(root.resolve("graphs").resolve(m));
            Files.writeString(root.resolve("graphs").resolve(m).resolve("config.json"), "{}");
            Files.writeString(root.resolve("graphs").resolve(m).resolve(ModelLayout.TOKENIZER_FILE), "{}");
        }
        Files.createDirectories(root.resolve("graphs/half-exported"));
        assertThat(ModelNames.exported(root)).containsExactly("planted-induction", "words");
        UserError e = ModelNames.unknown(root, "planted");
        assertThat(e.getMessage()).contains("Exported here: planted-induction, words; known: planted-induction, planted-backup, planted-deep3, planted-negative, planted-negative-backup, planted-reactive-backup, planted-successor, gpt2")
                .contains("Did you mean MODEL=planted-induction?").doesNotContain("export it first").doesNotContain("GPT-2");
        assertThat(ModelNames.unknown(root, "mine").getMessage()).doesNotContain("Did you mean").contains("make export MODEL=mine WEIGHTS=");
    }
}
