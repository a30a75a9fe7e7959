package org.milab.cli;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 22: "the bad-input suite covers every option of every command". Every option of every {@code milab}
 * subcommand, as picocli declares it (so a new option without a case fails this test), is given a bad value on an
 * otherwise valid command line; each must end with exactly one {@code error:} line that names the option or the bad
 * value and says what to do ({@code Fix:}), no stack trace, exit 2, and no new file under {@code results/}. Flags get a
 * value they do not take ({@code --flag=maybe}). The cases of {@link BadInputSuiteTest} test the messages of most of
 * these options in detail; this test checks that none is left without one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OptionCoverageTest {
    Path root;
    final List<String> table = new ArrayList<>();

    /** A bad value per option name (the same option means the same thing in every command that has it). */
    static final Map<String, String> BAD = Map.ofEntries(
            Map.entry("--root", "/nonexistent/milab-root"),
            Map.entry("--model", "no-such-model"),
            Map.entry("--device", "gpu"),
            Map.entry("--run-id", "../x"),
            Map.entry("--engine", "mapreduce"),
            Map.entry("--spark-master", "local[0]"),
            Map.entry("--partition-rows", "0"),
            Map.entry("--zero-frame", "tl"),
            Map.entry("--candidates", "/nonexistent/candidates.json"),
            Map.entry("--seeds", "10,10"),
            Map.entry("--peer-python", "/nonexistent/python3"),
            Map.entry("--peer-checkpoint", "/nonexistent/model.safetensors"),
            Map.entry("--control-seeds", "10,10"),
            Map.entry("--heldout-seeds", "10,10"),
            Map.entry("--characterization-seeds", "10,10"),
            Map.entry("--layer-patch-seeds", "10,10"),
            Map.entry("--v2-seeds", "1,1"),
            Map.entry("--task", "no-such-task"),
            Map.entry("--prompt", ""),
            Map.entry("--hook", "blocks.99.attn.hook_z"),
            Map.entry("--head", "x"),
            Map.entry("--engine-path", "fastest"),
            Map.entry("--v2-sequential", "maybe"),
            Map.entry("--atp-star", "maybe"),
            Map.entry("--weights", "/nonexistent/model.safetensors"),
            Map.entry("--gpt2-bpe", "/nonexistent/bpe"),
            Map.entry("--planted-layout", "nonsense"),
            Map.entry("--threshold", "1.5"),
            Map.entry("--scale", "-1"),
            Map.entry("--plant", "succession"),
            Map.entry("--tolerance", "-1"),
            Map.entry("--out", "/dev/null/milab-out"),
            Map.entry("--run", "/nonexistent/run"));

    /** Per command: the rest of a command line that would run (so only the bad option can stop it). */
    Map<String, List<String>> base() {
        String keep = root.resolve("results/keep").toString();
        return Map.ofEntries(
                Map.entry("export", List.of("--model=planted-induction")),
                Map.entry("inspect", List.of("--model=words", "--prompt=A B")),
                Map.entry("random-checkpoint", List.of("--out=" + root.resolve("rc"))),
                Map.entry("diff", List.of(keep, keep)),
                Map.entry("columns", List.of()),
                Map.entry("bench", List.of("--model=words")),
                Map.entry("attribute", List.of("--model=words")),
                Map.entry("circuit", List.of("--model=words", "--task=induction")),
                Map.entry("report", List.of(keep)));
    }

    @BeforeAll
    void setUp(@TempDir Path dir) throws IOException {
        root = dir;
        Cli.wordsWithFinishedRun(root, "keep");
    }

    @AfterAll
    void printTable() {
        System.out.println("| command | option | bad value | exit | message (start) |\n|---|---|---|---|---|");
        table.forEach(System.out::println);
    }

    Set<String> results() throws IOException {
        Set<String> out = new TreeSet<>();
        try (Stream<Path> s = Files.walk(root.resolve("results"))) {
            s.forEach(p -> out.add(root.relativize(p).toString()));
        }
        out.removeIf(p -> p.endsWith(".lock"));
        return out;
    }

    /** The bad value of an option, or null when this test has no case for it. */
    static String badValue(OptionSpec o) {
        if (o.arity().max() == 0) return "maybe"; // a flag given a value
        String v = BAD.get(o.longestName());
        if (v != null) return v;
        Class<?> t = o.type();
        if (t == int.class || t == Integer.class || t == long.class || t == Long.class) return "-1";
        if (t == double.class || t == Double.class || t == float.class || t == Float.class) return "NaN";
        return null;
    }

    /** The make variable an option is usually given through (--run-id: RUN_ID), which messages may name instead. */
    static String makeVariable(String option) {
        return option.replaceFirst("^--", "").replace('-', '_').toUpperCase(java.util.Locale.ROOT);
    }

    @Test
    void everyOptionOfEveryCommandHasABadValueCase() throws Exception {
        CommandLine cl = new CommandLine(new Main());
        List<String> missing = new ArrayList<>(), failed = new ArrayList<>();
        int cases = 0;
        for (Map.Entry<String, CommandLine> sub : cl.getSubcommands().entrySet()) {
            String command = sub.getKey();
            for (OptionSpec o : sub.getValue().getCommandSpec().options()) {
                if (o.usageHelp() || o.versionHelp()) continue;
                String name = o.longestName(), bad = badValue(o);
                if (bad == null) {
                    missing.add(command + " " + name);
                    continue;
                }
                List<String> args = new ArrayList<>(List.of(command));
                boolean hasRoot = sub.getValue().getCommandSpec().findOption("--root") != null;
                if (hasRoot && !name.equals("--root")) args.add("--root=" + root);
                for (String b : base().getOrDefault(command, List.of("--model=words", "--run-id=oc")))
                    if (!b.startsWith(name + "=")) args.add(b);
                args.add(name + "=" + bad);
                Set<String> before = results();
                Cli c = Cli.run(args.toArray(String[]::new));
                cases++;
                List<String> errors = c.err().lines().filter(l -> l.startsWith("error: ")).toList();
                String msg = errors.isEmpty() ? c.err().strip() : errors.get(0).substring("error: ".length());
                table.add("| " + command + " | " + name + " | `" + bad + "` | " + c.exit() + " | "
                        + (msg.length() > 80 ? msg.substring(0, 77) + "..." : msg).replace("|", "\\|").replace("\n", " ") + " |");
                boolean ok = c.exit() == 2 && errors.size() == 1 && msg.contains("Fix:")
                        && (msg.contains(name) || msg.contains(makeVariable(name)) || !bad.isEmpty() && msg.contains(bad))
                        && !c.err().contains("\tat ")
                        && results().equals(before);
                if (!ok) failed.add(command + " " + name + "=" + bad + " -> exit " + c.exit() + ": " + c.err().strip());
            }
        }
        System.out.println(cases + " option cases run");
        assertThat(missing).as("options without a bad-value case (add one to OptionCoverageTest.BAD)").isEmpty();
        assertThat(failed).as("options whose bad value is not one clear message naming it, exit 2, nothing written").isEmpty();
    }
}
