package org.milab.tokenizer;

import ai.djl.util.Utils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Gpt2TokenizerTest {
    private static Tokenizer tok;

    @BeforeAll
    static void load() {
        tok = Tokenizer.load(TestTokenizers.gpt2TokenizerJson());
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    @Test
    void knownIdsFromSharedReadme() {
        assertThat(tok.encode("Hello world")).containsExactly(15496, 995);
        assertThat(tok.bosId()).isEqualTo(50256);
        assertThat(tok.encode("<|endoftext|>")).containsExactly(50256);
        assertThat(tok.vocabSize()).isEqualTo(50257);
        assertThat(tok.tokenText(360)).isEqualTo(" D");
        assertThat(tok.tokenText(50256)).isEqualTo("<|endoftext|>");
    }

    /** reference-protocol.md section 1.2 plus the README ids. */
    @ParameterizedTest
    @CsvSource({"' D',360", "' A',317", "' B',347", "' I',314", "' E',412", "' F',376", "' T',309", "' N',399",
            "' P',350", "' yellow',7872", "' red',2266", "' blue',4171", "' center',3641", "' north',5093",
            "' south',5366", "' cow',9875", "' cat',3797", "' dog',3290", "' four',1440", "' one',530",
            "' two',734", "' ten',3478", "' three',1115", "' six',2237", "' eighteen',29095"})
    void referenceTargetIds(String target, int id) {
        assertThat(target).startsWith(" ");
        assertThat(tok.singleTokenId(target)).isEqualTo(id);
        assertThat(tok.isSingleToken(target)).isTrue();
        assertThat(tok.tokenText(id)).isEqualTo(target);
    }

    @Test
    void inductionPromptIsSevenLetterTokensAfterBos() {
        int[] ids = tok.encode("A B C D A B C");
        assertThat(ids).hasSize(7);
        assertThat(Arrays.copyOfRange(ids, 1, 4)).containsExactly(347, tok.singleTokenId(" C"), 360);
        assertThat(ids[4]).isEqualTo(317);
        int[] withBos = tok.encodeWithBos("A B C D A B C");
        assertThat(withBos).hasSize(8);
        assertThat(withBos[0]).isEqualTo(50256);
        assertThat(Arrays.copyOfRange(withBos, 1, 8)).containsExactly(ids);
        assertThat(tok.decode(withBos)).isEqualTo("<|endoftext|>A B C D A B C");
    }

    @Test
    void newlinePromptRoundTrips() {
        String prompt = "A B C D\nA B C";
        int[] ids = tok.encode(prompt);
        assertThat(ids).contains(198); // "\n" is its own token in GPT-2
        assertThat(tok.decode(ids)).isEqualTo(prompt);
    }

    @Test
    void longInputIsNotTruncated() {
        // DJL truncates at 512 tokens by default; 1 + 700 tokens must all survive.
        String text = "A" + " B".repeat(700);
        int[] ids = tok.encode(text);
        assertThat(ids).hasSize(701);
        assertThat(ids[700]).isEqualTo(347);
        assertThat(tok.encodeWithBos(text)).hasSize(702);
        assertThat(tok.decode(ids)).isEqualTo(text);
    }

    @Test
    void multiTokenTargetIsAUserErrorShowingTheSplit() {
        assertThat(tok.isSingleToken(" foo bar")).isFalse();
        assertThatThrownBy(() -> tok.singleTokenId(" foo bar"))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("Target ' foo bar' is not a single token for this model's tokenizer"
                        + " (it encodes to 2 tokens: ' foo', ' bar').")
                .hasMessageContaining("Choose a target that is one token");
        assertThatThrownBy(() -> tok.singleTokenId("")).isInstanceOf(UserError.class).hasMessageContaining("0 tokens");
    }

    @ParameterizedTest
    @ValueSource(strings = {"naïve café", "Ünïcödé – “quotes” … 日本語 🤖 emoji", "tabs\tand  double  spaces ",
            "don't we'll I'm", "x = 3.14159 * 2**10;", "  leading and trailing \n\n"})
    void byteLevelRoundTripMatchesReferenceBpe(String text) throws IOException {
        int[] ids = tok.encode(text);
        assertThat(tok.decode(ids)).isEqualTo(text);
        assertThat(Arrays.stream(ids).boxed().toList())
                .as("ids from an independent Java GPT-2 BPE")
                .isEqualTo(Reference.BPE.encode(text));
    }

    @Test
    void builtJsonHasTheGpt2Pipeline() throws IOException {
        JsonNode json = new ObjectMapper().readTree(TestTokenizers.gpt2TokenizerJson().toFile());
        assertThat(json.at("/model/type").asText()).isEqualTo("BPE");
        assertThat(json.at("/model/vocab").size()).isEqualTo(50257);
        assertThat(json.at("/model/merges").size()).isEqualTo(50000);
        assertThat(json.at("/model/merges/0").asText()).isEqualTo("Ġ t");
        assertThat(json.at("/pre_tokenizer/type").asText()).isEqualTo("ByteLevel");
        assertThat(json.at("/pre_tokenizer/add_prefix_space").asBoolean()).isFalse();
        assertThat(json.at("/pre_tokenizer/use_regex").asBoolean()).isTrue();
        assertThat(json.at("/decoder/type").asText()).isEqualTo("ByteLevel");
        assertThat(json.at("/post_processor/type").asText()).isEqualTo("ByteLevel");
        assertThat(json.at("/added_tokens/0/content").asText()).isEqualTo("<|endoftext|>");
        assertThat(json.at("/added_tokens/0/id").asInt()).isEqualTo(50256);
        assertThat(json.at("/added_tokens/0/special").asBoolean()).isTrue();
        assertThat(json.at("/truncation").isNull()).isTrue();
    }

    @Test
    void hashesMatchTheSharedReadme() throws IOException {
        String readme = Files.readString(TestTokenizers.gpt2Dir().resolve("README.md"));
        assertThat(readme).contains(Gpt2TokenizerJson.ENCODER_SHA256, Gpt2TokenizerJson.MERGES_SHA256);
    }

    @Test
    void alteredInputFileIsRejectedByName(@TempDir Path dir) throws IOException {
        Path gpt2 = TestTokenizers.gpt2Dir();
        Files.copy(gpt2.resolve("encoder.json"), dir.resolve("encoder.json"));
        Files.writeString(dir.resolve("vocab.bpe"), Files.readString(gpt2.resolve("vocab.bpe"), StandardCharsets.UTF_8)
                + "x y\n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> Gpt2TokenizerJson.build(dir))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("vocab.bpe")
                .hasMessageContaining(Gpt2TokenizerJson.MERGES_SHA256)
                .hasMessageNotContaining("encoder.json");
        Files.delete(dir.resolve("encoder.json"));
        assertThatThrownBy(() -> Gpt2TokenizerJson.build(dir))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("encoder.json not found");
    }

    @Test
    void missingTokenizerFileIsAUserError(@TempDir Path dir) {
        assertThatThrownBy(() -> Tokenizer.load(dir.resolve("tokenizer.json")))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("not found");
    }

    @Test
    void unloadableTokenizerFileIsAUserError(@TempDir Path dir) throws IOException {
        Path noBos = dir.resolve("no-bos.json");
        Files.writeString(noBos, "{\"added_tokens\": [], \"model\": {\"vocab\": {}}}");
        assertThatThrownBy(() -> Tokenizer.load(noBos)).isInstanceOf(UserError.class).hasMessageContaining("<|endoftext|>");
        Path badModel = dir.resolve("bad-model.json");
        Files.writeString(badModel, WordLevelTokenizerJson.build(java.util.List.of("<|endoftext|>", "<unk>"), "<unk>", "<|endoftext|>")
                .replace("\"WordLevel\"", "\"NoSuchModel\""));
        assertThatThrownBy(() -> Tokenizer.load(badModel)).isInstanceOf(UserError.class).hasMessageContaining("could not be loaded");
    }

    @Test
    void djlTelemetryIsOffAndOfflineModeOn() {
        // Both are read by DJL (Ec2Utils.callHome, LibUtils) when a tokenizer is created.
        assertThat(Utils.getEnvOrSystemProperty("OPT_OUT_TRACKING")).isEqualTo("true");
        assertThat(System.getProperty("OPT_OUT_TRACKING")).isEqualTo("true");
        assertThat(Utils.isOfflineMode()).isTrue();
    }

    private static final class Reference {
        static final ReferenceGpt2Bpe BPE;

        static {
            try {
                BPE = new ReferenceGpt2Bpe(TestTokenizers.gpt2Dir());
            } catch (IOException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }
}
