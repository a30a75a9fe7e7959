package org.milab.planted;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.tokenizer.Tokenizer;
import org.milab.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The vocabulary covers every word of the reference prompt families, read independently from the
 * protocol text itself, and the word-level tokenizer agrees with {@link Planted#idsWithBos}.
 */
class PlantedVocabularyTest {
    private static final List<String> NUMBERS = List.of("zero", "one", "two", "three", "four", "five", "six",
            "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen");
    /** Text in section 4 that looks like a word list but names no prompt words (prose, bucket names). */
    private static final Set<String> NOT_PROMPT_WORDS = Set.of("the earlier occurrence of the final word",
            "short/medium/long");

    @TempDir
    static Path dir;
    private static Tokenizer tokenizer;
    private static Planted planted;

    @BeforeAll
    static void load() {
        planted = PlantedInductionModel.build(new PlantedSpec(0, 0));
        Path file = dir.resolve("tokenizer.json");
        AtomicFiles.writeString(file, planted.tokenizerJson());
        tokenizer = Tokenizer.load(file);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void everyWordOfSection4IsOneVocabularyToken() throws IOException {
        Set<String> words = section4Words();
        System.out.println("section 4 words (" + words.size() + "): " + words);
        assertThat(words).as("parser sanity: the spec's lists hold ~100 distinct words").hasSizeGreaterThan(90)
                .contains("A", "Z", "eighteen", "lambda", "Wednesday", "plain", "other", "gray", "wolf");
        assertThat(planted.vocabulary()).containsAll(words);
        for (String w : words) {
            int id = planted.id(w);
            assertThat(tokenizer.encode(w)).as(w).containsExactly(id);
            assertThat(tokenizer.singleTokenId(" " + w)).as("target form ' %s'", w).isEqualTo(id);
        }
    }

    @Test
    void tinyCleanCorruptPairOf46HasNoUnknownWords() {
        int unk = planted.id(PlantedVocabulary.UNK);
        for (String s : List.of("When John and Mary went to the store, John gave a drink to Mary",
                "When John and Mary went to the store, Mary gave a drink to John"))
            assertThat(tokenizer.encode(s)).hasSize(14).doesNotContain(unk);
        assertThat(tokenizer.singleTokenId(" Mary")).isEqualTo(planted.id("Mary"));
    }

    @Test
    void promptIdsMatchTheRealTokenizer() {
        List<List<String>> prompts = new ArrayList<>();
        PlantedPrompts.inductionPositives().forEach(p -> prompts.add(p.words()));
        PlantedPrompts.noRepeatControls().forEach(p -> prompts.add(p.words()));
        PlantedPrompts.frequencyTraps().forEach(p -> prompts.add(p.words()));
        PlantedPrompts.patchPairs().forEach(p -> {
            prompts.add(p.clean());
            prompts.add(p.corrupt());
        });
        for (List<String> words : prompts)
            assertThat(tokenizer.encodeWithBos(String.join(" ", words))).as(words.toString())
                    .containsExactly(planted.idsWithBos(words));
    }

    @Test
    void vocabularyShape() {
        List<String> v = planted.vocabulary();
        assertThat(new HashSet<>(v)).hasSameSizeAs(v);
        assertThat(v.size()).isLessThanOrEqualTo(PlantedInductionModel.MAX_VOCAB);
        assertThat(v.get(v.size() - 1)).isEqualTo(PlantedVocabulary.BOS);
        assertThat(tokenizer.bosId()).isEqualTo(planted.bosId()).isEqualTo(v.size() - 1);
        assertThat(tokenizer.vocabSize()).isEqualTo(v.size());
        assertThat(tokenizer.encode("zebra")).containsExactly(planted.id(PlantedVocabulary.UNK));
        // every base list of the prompt builder is covered too
        PlantedPrompts.allBaseSequences().forEach(s -> assertThat(v).containsAll(s));
    }

    /**
     * Words of sections 4.1-4.5 as written in the protocol: parenthesised word lists (with "a..b"
     * ranges and "|" separators), quoted single-token strings and slash lists such as X/zero/plain/other.
     */
    private static Set<String> section4Words() throws IOException {
        String shared = System.getProperty("milab.shared");
        Path spec = shared == null ? null : Path.of(shared, "spec", "reference-protocol.md");
        assumeTrue(spec != null && Files.isRegularFile(spec),
                () -> "reference protocol not found (milab.shared=" + shared + "); cannot cross-check the vocabulary");
        String text = Files.readString(spec);
        String s4 = text.substring(text.indexOf("### 4.1"), text.indexOf("### 4.6"));
        Set<String> words = new LinkedHashSet<>();
        Matcher groups = Pattern.compile("\\(([A-Za-z .|\\s]+)\\)").matcher(s4);
        while (groups.find()) {
            String g = groups.group(1).trim().replaceAll("\\s+", " ");
            List<String> parts = Arrays.stream(g.split("[ |]+")).filter(x -> !x.isEmpty()).toList();
            if (NOT_PROMPT_WORDS.contains(g) || (parts.size() < 3 && !g.contains(".."))) continue;
            for (String part : parts) words.addAll(expand(part));
        }
        Matcher quoted = Pattern.compile("\"([A-Za-z ]+)\"").matcher(s4);
        while (quoted.find())
            for (String w : quoted.group(1).trim().split(" +")) if (!w.isEmpty()) words.add(w);
        Matcher slashes = Pattern.compile("(?<![\\w/])[A-Za-z]+(?:/[A-Za-z]+){2,}(?![\\w/])").matcher(s4);
        while (slashes.find())
            if (!NOT_PROMPT_WORDS.contains(slashes.group())) words.addAll(Arrays.asList(slashes.group().split("/")));
        return words;
    }

    private static List<String> expand(String part) {
        if (!part.contains("..")) return List.of(part);
        String[] ends = part.split("\\.\\.");
        if (ends[0].length() == 1) {
            List<String> out = new ArrayList<>();
            for (char c = ends[0].charAt(0); c <= ends[1].charAt(0); c++) out.add(String.valueOf(c));
            return out;
        }
        return NUMBERS.subList(NUMBERS.indexOf(ends[0]), NUMBERS.indexOf(ends[1]) + 1);
    }
}
