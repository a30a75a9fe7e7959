package org.milab.circuit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.lab.LabModel;
import org.milab.tokenizer.Tokenizer;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A task as data: a JSONL file whose optional first line is a header ({@code {"task": "name", "metric":
 * "logit_diff"}}, metric one of logit_diff, log_prob, kl) and whose other lines are examples
 * {@code {"clean": "...", "corrupt": "...", "answer": " x", "contrast": " y"}}. Instead of text an example may
 * give token ids ({@code clean_ids}, {@code corrupt_ids} without BOS, {@code answer_id}, {@code contrast_id}),
 * which is how built-in tasks are written. Answers and contrasts must be single tokens; clean and corrupt must
 * have the same number of tokens; examples must differ. A bad file is refused with one message naming the line.
 */
public record CircuitTask(String name, CircuitMetric metric, List<Example> examples) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One example; either the texts or the ids are set (ids win when both are). */
    public record Example(int line, String clean, String corrupt, String answer, String contrast,
                          int[] cleanIds, int[] corruptIds, Integer answerId, Integer contrastId) {}

    public static CircuitTask read(Path file) {
        if (!Files.isRegularFile(file))
            throw new UserError("Task file " + file + " does not exist.", "Pass TASK=<path to a .jsonl task file> or a built-in task name ("
                    + String.join(", ", BuiltinTasks.NAMES) + ").");
        try {
            return parse(file.getFileName().toString().replaceFirst("\\.jsonl?$", ""), Files.readAllLines(file), file.toString());
        } catch (IOException e) {
            throw new UserError("Cannot read task file " + file + ": " + e.getMessage(), "Check the path and its permissions.", e);
        }
    }

    static CircuitTask parse(String defaultName, List<String> lines, String where) {
        String name = defaultName;
        CircuitMetric metric = CircuitMetric.LOGIT_DIFF;
        List<Example> examples = new ArrayList<>();
        boolean first = true;
        for (int i = 0; i < lines.size(); i++) {
            String text = lines.get(i).strip();
            if (text.isEmpty()) continue;
            int line = i + 1;
            JsonNode n;
            try {
                n = JSON.readTree(text);
            } catch (IOException e) {
                throw bad(where, line, "is not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", "Write one JSON object per line.");
            }
            if (!n.isObject()) throw bad(where, line, "is not a JSON object", "Write one JSON object per line.");
            if (first && !n.has("clean") && !n.has("clean_ids")) {
                first = false;
                name = n.path("task").asText(name);
                if (n.has("metric")) metric = CircuitMetric.parse(n.get("metric").asText());
                continue;
            }
            first = false;
            examples.add(example(n, line, where));
        }
        if (examples.isEmpty())
            throw new UserError("Task file " + where + " has no examples.", "Add lines {\"clean\": ..., \"corrupt\": ..., \"answer\": ..., \"contrast\": ...}.");
        return new CircuitTask(name, metric, List.copyOf(examples));
    }

    private static Example example(JsonNode n, int line, String where) {
        if (n.has("clean_ids")) {
            for (String f : List.of("corrupt_ids", "answer_id", "contrast_id"))
                if (!n.has(f)) throw bad(where, line, "gives clean_ids but no " + f, "Give clean_ids, corrupt_ids, answer_id and contrast_id together.");
            return new Example(line, null, null, null, null, ids(n.get("clean_ids")), ids(n.get("corrupt_ids")),
                    n.get("answer_id").asInt(), n.get("contrast_id").asInt());
        }
        for (String f : List.of("clean", "corrupt", "answer", "contrast"))
            if (!n.hasNonNull(f) || !n.get(f).isTextual())
                throw bad(where, line, "has no text field '" + f + "'", "Every example needs clean, corrupt, answer and contrast strings.");
        for (String f : List.of("clean", "corrupt", "answer", "contrast"))
            if (n.get(f).asText().isBlank()) throw bad(where, line, "has an empty '" + f + "'", "Fill in every field.");
        return new Example(line, n.get("clean").asText(), n.get("corrupt").asText(), n.get("answer").asText(),
                n.get("contrast").asText(), null, null, null, null);
    }

    private static int[] ids(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    /** Tokenizes and checks every example for {@code model}: equal lengths, single-token answers, no duplicates. */
    public List<TokenPair> tokenize(LabModel model) {
        Tokenizer tok = model.tokenizer();
        int V = model.config().vocabSize();
        List<TokenPair> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Example e : examples) {
            int[] clean, corrupt;
            int answer, contrast;
            if (e.cleanIds() != null) {
                clean = withBos(tok.bosId(), e.cleanIds());
                corrupt = withBos(tok.bosId(), e.corruptIds());
                answer = e.answerId();
                contrast = e.contrastId();
                for (int id : concat(clean, corrupt, new int[]{answer, contrast}))
                    if (id < 0 || id >= V) throw bad(name, e.line(), "has token id " + id + " outside the model's vocabulary [0, " + V + ")",
                            "Use ids of model '" + model.id() + "''s tokenizer.");
                if (clean.length > model.config().nPositions())
                    throw bad(name, e.line(), "is " + clean.length + " tokens long; the model reads " + model.config().nPositions(), "Shorten it.");
            } else {
                clean = model.promptTokens(e.clean());
                corrupt = model.promptTokens(e.corrupt());
                answer = single(tok, e.answer(), "answer", e, name);
                contrast = single(tok, e.contrast(), "contrast", e, name);
            }
            if (clean.length != corrupt.length)
                throw bad(name, e.line(), "has a clean prompt of " + clean.length + " tokens and a corrupt prompt of " + corrupt.length
                        + " (with BOS)", "Make the corrupt prompt tokenize to as many tokens as the clean one, so positions align.");
            if (answer == contrast)
                throw bad(name, e.line(), "has the same answer and contrast token", "Choose a contrast token different from the answer.");
            String key = java.util.Arrays.toString(clean) + "|" + java.util.Arrays.toString(corrupt) + "|" + answer + "|" + contrast;
            if (!seen.add(key))
                throw bad(name, e.line(), "repeats an earlier example", "Remove the duplicate line (repeats would weight it twice in every mean).");
            out.add(new TokenPair(out.size(), clean, corrupt, answer, contrast));
        }
        return out;
    }

    private static int single(Tokenizer tok, String text, String field, Example e, String task) {
        int[] ids = tok.encode(text);
        if (ids.length != 1)
            throw bad(task, e.line(), "has " + field + " '" + text + "', which is " + ids.length + " tokens for this tokenizer",
                    "Use a single-token " + field + " (with GPT-2 usually a common word with a leading space, ' Paris').");
        return ids[0];
    }

    private static int[] withBos(int bos, int[] ids) {
        int[] out = new int[ids.length + 1];
        out[0] = bos;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(java.util.Arrays::stream).toArray();
    }

    private static UserError bad(String where, int line, String problem, String fix) {
        return new UserError("Task " + where + ", line " + line + " " + problem + ".", fix);
    }

    /** The task in its own file format (header line, then one example per line). */
    public String toJsonl() {
        StringBuilder b = new StringBuilder();
        ObjectNode h = JSON.createObjectNode().put("task", name).put("metric", metric.id());
        b.append(h).append('\n');
        for (Example e : examples) {
            ObjectNode o = JSON.createObjectNode();
            if (e.cleanIds() != null) {
                put(o.putArray("clean_ids"), e.cleanIds());
                put(o.putArray("corrupt_ids"), e.corruptIds());
                o.put("answer_id", e.answerId()).put("contrast_id", e.contrastId());
            } else {
                o.put("clean", e.clean()).put("corrupt", e.corrupt()).put("answer", e.answer()).put("contrast", e.contrast());
            }
            b.append(o).append('\n');
        }
        return b.toString();
    }

    private static void put(com.fasterxml.jackson.databind.node.ArrayNode a, int[] ids) {
        for (int id : ids) a.add(id);
    }
}
