package org.milab.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/** The command line explains itself: described options, each command its own, documented exit codes. */
class CommandLineTest {

    @Test
    void everyOptionOfEveryCommandHasADescriptionAndDefaultsAreShown() {
        List<String> missing = new ArrayList<>();
        CommandLine cli = Main.commandLine();
        cli.getSubcommands().forEach((name, sub) -> {
            for (OptionSpec o : sub.getCommandSpec().options()) {
                String text = String.join(" ", o.description());
                if (text.isBlank()) missing.add(name + " " + o.longestName());
                // an option with a default says so in its description (picocli fills ${DEFAULT-VALUE})
                if (o.defaultValue() != null && !o.usageHelp() && !o.versionHelp())
                    assertThat(text).as("%s %s shows its default", name, o.longestName()).contains("Default");
            }
            assertThat(sub.getUsageMessage()).as(name + " --help lists the exit codes").contains("Exit codes:")
                    .contains(" 2   bad input");
        });
        assertThat(missing).isEmpty();
        assertThat(cli.getSubcommands().get("diff").getUsageMessage()).contains(" 1   diff --exit-code: the runs differ");
    }

    @Test
    void eachRunCommandTakesOnlyTheOptionsOfItsStages() {
        CommandLine cli = Main.commandLine();
        assertThat(options(cli, "run-calibration")).doesNotContain("--seeds", "--control-seeds", "--candidates",
                "--sweep-per-family", "--zero-frame").contains("--model", "--run-id", "--resume", "--batch-rows");
        assertThat(options(cli, "run-sweep")).contains("--control-seeds", "--sweep-per-family")
                .doesNotContain("--seeds", "--candidates", "--heldout-scored");
        assertThat(options(cli, "run-characterization")).contains("--candidates", "--zero-frame", "--control-seeds")
                .doesNotContain("--seeds", "--heldout-generated");
        assertThat(options(cli, "run-heldout")).contains("--seeds", "--heldout-scored", "--candidates", "--sweep-per-family");
        assertThat(options(cli, "run-all")).containsAll(options(cli, "run-heldout")).contains("--v2-prompts", "--v2-seeds");
        Cli o = Cli.run("run-calibration", "--seeds", "10");
        assertThat(o.exit()).isEqualTo(Main.USER_ERROR);
        assertThat(o.err()).contains("Unknown options: '--seeds'");
    }

    @Test
    void aRepeatedFlagTakesItsLastValueSoMakesArgsOverrideTheMakefile() {
        CommandLine cli = Main.commandLine();
        CommandLine.ParseResult parsed = cli.parseArgs("run-calibration", "--device", "cpu", "--model", "gpt2",
                "--device", "auto");
        assertThat(parsed.subcommand().matchedOptionValue("--device", "")).isEqualTo("auto");
    }

    @Test
    void aMissingGpt2NamesBothWaysForwardAndExitsTwo(@TempDir Path root) {
        Cli o = Cli.run("run-calibration", "--root", root.toString(), "--model", "gpt2");
        assertThat(o.exit()).isEqualTo(Main.USER_ERROR);
        assertThat(o.err()).startsWith("error: Model 'gpt2' has not been exported").contains("WEIGHTS=")
                .contains("MODEL=planted-induction").contains("make demo").doesNotContain("\tat ");
        Cli other = Cli.run("inspect", "--root", root.toString(), "--model", "mine", "--prompt", "A");
        // a name export cannot make by itself: the real names, no GPT-2 download and no guess for a name like no other
        assertThat(other.err()).contains("make export MODEL=mine WEIGHTS=").contains("known: gpt2, ").doesNotContain("Did you mean")
                .doesNotContain("GPT-2's weights");
    }

    @Test
    void runsDifferIsExitOneAndABugIsExitThree(@TempDir Path root) {
        Path a = root.resolve("a"), b = root.resolve("b");
        org.milab.tables.ArrowTables.writeInto(a, org.milab.tables.Table.builder("t").keys("id").int64("id", "x").addRow(1, 2).build());
        org.milab.tables.ArrowTables.writeInto(b, org.milab.tables.Table.builder("t").keys("id").int64("id", "x").addRow(1, 3).build());
        assertThat(Cli.run("diff", a.toString(), b.toString()).exit()).isEqualTo(Main.OK);
        assertThat(Cli.run("diff", a.toString(), b.toString(), "--exit-code").exit()).isEqualTo(Main.DIFFERS);
        assertThat(Cli.run("diff", a.toString(), a.toString(), "--exit-code").exit()).isEqualTo(Main.OK);
        assertThat(Cli.run("diff", a.toString(), root.resolve("missing").toString()).exit()).isEqualTo(Main.USER_ERROR);
        // a random-checkpoint into a path under a file: a user error now (IoErrors names it), never a bug
        Cli under = Cli.run("random-checkpoint", "--out", a.resolve("t.arrow").resolve("sub").toString());
        assertThat(under.exit()).as(under.err()).isEqualTo(Main.USER_ERROR);
        assertThat(under.err()).startsWith("error: ").doesNotContain("\tat ");
        // anything that is not a user error is a bug: exit 3 with its trace
        java.io.StringWriter trace = new java.io.StringWriter();
        assertThat(Main.failure(new IllegalStateException("an unexpected state"), new java.io.PrintWriter(trace, true)))
                .isEqualTo(Main.INTERNAL_ERROR);
        assertThat(trace.toString()).startsWith("internal error").contains("an unexpected state").contains("\tat ");
    }

    @Test
    void librariesLogThroughABindingAtWarningLevelWithoutDjlsGpuProbe(@TempDir Path root) {
        assertThat(LoggerFactory.getILoggerFactory().getClass().getName()).doesNotContain("NOP");
        assertThat(LoggerFactory.getLogger("org.apache.arrow.memory.BaseAllocator").isWarnEnabled()).isTrue();
        assertThat(LoggerFactory.getLogger("org.apache.arrow.memory.BaseAllocator").isInfoEnabled()).isFalse();
        assertThat(LoggerFactory.getLogger("ai.djl.util.cuda.CudaUtils").isWarnEnabled()).isFalse();
        try (LabModel ignored = LabFixtures.randomWordModel(root, "words", 1)) {
            assertThat(ignored.id()).isEqualTo("words");
        }
    }

    private static Set<String> options(CommandLine cli, String command) {
        Set<String> out = new TreeSet<>();
        for (OptionSpec o : cli.getSubcommands().get(command).getCommandSpec().options()) out.add(o.longestName());
        return out;
    }
}
