package org.milab.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WordLevelTokenizerTest {
    private static final List<String> VOCAB = List.of("<|endoftext|>", "<unk>", "A", "B", "C", "D", "yellow");

    @TempDir
    static Path dir;
    private static Tokenizer tok;

    @BeforeAll
    static void load() {
        Path file = dir.resolve("tokenizer.json");
        AtomicFiles.writeString(file, WordLevelTokenizerJson.build(VOCAB, "<unk>", "<|endoftext|>"));
        tok = Tokenizer.load(file);
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    @Test
    void everyWordIsItsOwnIdAndDecodesBack() {
        for (int id = 0; id < VOCAB.size(); id++) {
            assertThat(tok.encode(VOCAB.get(id))).as(VOCAB.get(id)).containsExactly(id);
            assertThat(tok.tokenText(id)).isEqualTo(VOCAB.get(id));
        }
        assertThat(tok.vocabSize()).isEqualTo(VOCAB.size());
        assertThat(tok.bosId()).isEqualTo(0);
    }

    @Test
    void unknownWordIsUnk() {
        assertThat(tok.encode("A zebra B")).containsExactly(2, 1, 3);
    }

    @Test
    void leadingSpaceTargetIsOneToken() {
        assertThat(tok.singleTokenId(" D")).isEqualTo(5);
        assertThat(tok.singleTokenId(" yellow")).isEqualTo(6);
        assertThat(tok.isSingleToken(" A B")).isFalse();
    }

    @Test
    void whitespaceSplitsWords() {
        assertThat(tok.encode("A B C")).containsExactly(2, 3, 4);
        assertThat(tok.encode("A B C\nD")).containsExactly(2, 3, 4, 5);
        assertThat(tok.encodeWithBos("A B C D A B C")).containsExactly(0, 2, 3, 4, 5, 2, 3, 4);
    }

    @Test
    void decodeJoinsWithSpaces() {
        assertThat(tok.decode(new int[] {2, 3, 4, 5})).isEqualTo("A B C D");
        assertThat(tok.decode(tok.encodeWithBos("A B"))).isEqualTo("<|endoftext|> A B");
    }

    @Test
    void jsonHasWordLevelModel() throws IOException {
        var json = new ObjectMapper().readTree(WordLevelTokenizerJson.build(VOCAB, "<unk>", "<|endoftext|>"));
        assertThat(json.at("/model/type").asText()).isEqualTo("WordLevel");
        assertThat(json.at("/model/unk_token").asText()).isEqualTo("<unk>");
        assertThat(json.at("/model/vocab/yellow").asInt()).isEqualTo(6);
        assertThat(json.at("/pre_tokenizer/type").asText()).isEqualTo("WhitespaceSplit");
        assertThat(json.at("/added_tokens/0/id").asInt()).isEqualTo(0);
    }

    @Test
    void badVocabulariesAreRejected() {
        assertThatThrownBy(() -> WordLevelTokenizerJson.build(List.of("<|endoftext|>", "A"), "<unk>", "<|endoftext|>"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unk");
        assertThatThrownBy(() -> WordLevelTokenizerJson.build(List.of("<unk>", "A"), "<unk>", "<|endoftext|>"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BOS");
        assertThatThrownBy(() -> WordLevelTokenizerJson.build(List.of("<unk>", "<|endoftext|>", "A", "A"), "<unk>", "<|endoftext|>"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Duplicate");
        assertThatThrownBy(() -> WordLevelTokenizerJson.build(List.of("<unk>", "<|endoftext|>", "A B"), "<unk>", "<|endoftext|>"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whitespace");
    }
}
