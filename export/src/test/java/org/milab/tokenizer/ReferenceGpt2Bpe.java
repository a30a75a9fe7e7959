package org.milab.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A plain-Java GPT-2 byte-level BPE written from OpenAI's encoder.py algorithm, independent of the
 * tokenizers library: used to cross-check the tokenizer.json we build on inputs without known ids.
 */
final class ReferenceGpt2Bpe {
    private static final Pattern PRE_TOKEN = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS); // Python's \s is Unicode-aware, Java's only with this flag

    private final Map<String, Integer> encoder;
    private final Map<String, Integer> rank = new HashMap<>();
    private final char[] byteToChar = new char[256];

    ReferenceGpt2Bpe(Path gpt2Dir) throws IOException {
        encoder = new ObjectMapper().readValue(gpt2Dir.resolve("encoder.json").toFile(), new TypeReference<Map<String, Integer>>() {});
        List<String> lines = Files.readAllLines(gpt2Dir.resolve("vocab.bpe"), StandardCharsets.UTF_8);
        for (String line : lines.subList(1, lines.size())) {
            if (!line.isBlank()) rank.put(line, rank.size());
        }
        // bytes_to_unicode(): printable bytes map to themselves, the rest to 256, 257, ... in byte order.
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            byteToChar[b] = (char) (printable ? b : next++);
        }
    }

    List<Integer> encode(String text) {
        List<Integer> ids = new ArrayList<>();
        Matcher m = PRE_TOKEN.matcher(text);
        while (m.find()) {
            StringBuilder mapped = new StringBuilder();
            for (byte b : m.group().getBytes(StandardCharsets.UTF_8)) mapped.append(byteToChar[b & 0xFF]);
            for (String piece : bpe(mapped.toString())) ids.add(encoder.get(piece));
        }
        return ids;
    }

    private List<String> bpe(String word) {
        List<String> parts = new ArrayList<>();
        word.codePoints().forEach(cp -> parts.add(new String(Character.toChars(cp))));
        while (parts.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < parts.size(); i++) {
                Integer r = rank.get(parts.get(i) + " " + parts.get(i + 1));
                if (r != null && r < bestRank) {
                    bestRank = r;
                    best = i;
                }
            }
            if (best < 0) break;
            // Merge every occurrence of the best pair, left to right, like encoder.py.
            String first = parts.get(best), second = parts.get(best + 1);
            List<String> merged = new ArrayList<>();
            for (int i = 0; i < parts.size(); i++) {
                if (i + 1 < parts.size() && parts.get(i).equals(first) && parts.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(parts.get(i));
                }
            }
            parts.clear();
            parts.addAll(merged);
        }
        return parts;
    }
}
