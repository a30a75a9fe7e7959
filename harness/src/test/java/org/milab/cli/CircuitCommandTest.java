package org.milab.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.planted.PlantedSpec;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code milab circuit} end to end on the planted model with the user-written task file of docs/circuits.md
 * (docs/examples/planted-induction-task.jsonl), and the task-file checks: each bad file is refused with exit 2,
 * one message naming the line and the problem, and no run folder.
 */
class CircuitCommandTest {
    @TempDir static Path root;
    static final String MODEL = PlantedSpec.defaults().modelId();

    @BeforeAll
    static void export() {
        ModelExports.exportPlanted(new ModelLayout(root, MODEL), PlantedSpec.defaults());
    }

    @Test
    void userTaskFileEndToEnd() throws Exception {
        Path task = Path.of("..", "docs", "examples", "planted-induction-task.jsonl").toAbsolutePath().normalize();
        assertThat(task).isRegularFile();
        Cli c = Cli.run("circuit", "--root", root.toString(), "--model", MODEL, "--task", task.toString(), "--run-id", "words",
                "--ig-steps", "3", "--resamples", "200", "--exact-edges", "24");
        assertThat(c.exit()).as(c.err()).isEqualTo(0);
        Path dir = root.resolve("results/words/circuit");
        Table edges = ArrowTables.read(dir.resolve("edges.arrow"));
        assertThat(edges.rowCount()).isEqualTo(310); // 2 layers x 8 heads: MIB's edge count for this shape
        Table faith = ArrowTables.read(dir.resolve("faithfulness.arrow"));
        // eap and eap_ig over the grid 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 310
        assertThat(faith.bools("on_grid").stream().filter(b -> b).count()).isEqualTo(2 * 17);
        assertThat(faith.descriptions()).containsKeys("faithfulness", "on_grid", "meets_threshold");
        assertThat(edges.descriptions()).hasSize(edges.columnNames().size()); // every column described
        JsonNode mib = new ObjectMapper().readTree(dir.resolve("circuit.json").toFile());
        assertThat(mib.get("cfg").get("n_layers").asInt()).isEqualTo(2);
        assertThat(mib.get("edges").size()).isEqualTo(310);
        assertThat(mib.get("edges").get("a0.h1->a1.h2<k>").get("in_graph").asBoolean()).isTrue();
        assertThat(mib.get("edges").get("a1.h2->logits").get("in_graph").asBoolean()).isTrue();
        assertThat(mib.get("nodes").get("logits").get("in_graph").asBoolean()).isTrue();
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("circuit_summary.json").toFile());
        assertThat(summary.get("examples").asInt()).isEqualTo(6);
        assertThat(summary.get("eap_ig").get("smallest_faithfulness").get("estimate").asDouble()).isGreaterThanOrEqualTo(0.9);
        assertThat(Files.readString(dir.resolve("task.jsonl"))).contains("word-induction");
        assertThat(root.resolve("results/words/run_manifest.json")).isRegularFile();
        // every column of every circuit table described, by the glossary (so COLUMNS.md lists it); make columns agrees
        assertThat(org.milab.tables.RunColumns.notInGlossary(root.resolve("results/words"))).isEmpty();
        assertThat(Cli.run("columns", "--run", root.resolve("results/words").toString()).exit()).isEqualTo(0);
        assertThat(org.milab.testing.HumanText.problems(Files.readString(root.resolve("results/words/summary.md")) + "\n" + c.err()))
                .as("summary and stage log read as text for people").isEmpty();
    }

    @Test
    void badTaskFilesAreRefusedWithOneMessage() throws Exception {
        String ok = "{\"clean\": \"A B C D A B C\", \"corrupt\": \"E F G H A B C\", \"answer\": \"D\", \"contrast\": \"H\"}\n";
        refused("{\"clean\": \"A B C D A B C\", \"corrupt\": \"E F G A B C\", \"answer\": \"D\", \"contrast\": \"H\"}\n",
                "line 1 has a clean prompt of 8 tokens and a corrupt prompt of 7");
        refused("{\"clean\": \"A B C D A B C\", \"corrupt\": \"E F G H A B C\", \"answer\": \"D E\", \"contrast\": \"H\"}\n",
                "line 1 has answer 'D E', which is 2 tokens");
        refused(ok + ok, "line 2 repeats an earlier example");
        refused("{\"task\": \"t\"}\n\n", "has no examples");
        refused("", "has no examples");
        refused("{\"clean\": \"A B\", \"corrupt\": \"A B\"}\n", "line 1 has no text field 'answer'");
        refused("not json\n", "line 1 is not valid JSON");
        refused("{\"task\": \"t\", \"metric\": \"accuracy\"}\n" + ok, "Unknown metric 'accuracy'");
        refused("{\"clean\": \"A B C D A B C\", \"corrupt\": \"E F G H A B C\", \"answer\": \"D\", \"contrast\": \"D\"}\n",
                "the same answer and contrast token");
    }

    /** Every numeric option is bounded before anything runs: one message naming the flag, exit 2, no folder. */
    @Test
    void badOptionsAreRefusedWithOneMessage() throws Exception {
        String[][] cases = {
                {"--examples=0", "--examples 0 is out of range"}, {"--length=0", "--length 0 is out of range"},
                {"--ig-steps=0", "--ig-steps 0 is out of range"}, {"--ig-steps=99999999", "--ig-steps 99999999 is out of range"},
                {"--resamples=10", "--resamples 10 is out of range"}, {"--batch-rows=0", "--batch-rows 0 is out of range"},
                {"--exact-edges=-1", "--exact-edges -1 is out of range"}, {"--threshold=1.5", "--threshold 1.5 is out of range"},
                {"--threshold=0", "--threshold 0.0 is out of range"}, {"--threads=-1", "--threads -1 is out of range"},
                {"--seed=-1", "--seed -1 is out of range"},
        };
        int i = 0;
        for (String[] c : cases) {
            String id = "opt-" + i++;
            Cli r = Cli.run("circuit", "--root", root.toString(), "--model", MODEL, "--task", "induction", "--run-id", id, c[0]);
            assertThat(r.exit()).as(c[0] + ": " + r.err()).isEqualTo(Main.USER_ERROR);
            assertThat(r.err()).as(c[0]).contains(c[1]);
            assertThat(r.err().lines().filter(l -> l.startsWith("error:")).count()).as(c[0]).isEqualTo(1);
            assertThat(root.resolve("results").resolve(id)).doesNotExist();
            assertThat(root.resolve("results").resolve(id + ".incomplete")).doesNotExist();
        }
    }

    private static void refused(String content, String message) throws Exception {
        Path file = Files.createTempFile(root, "task", ".jsonl");
        Files.writeString(file, content);
        String id = "bad-" + file.getFileName().toString().replace(".jsonl", "");
        Cli c = Cli.run("circuit", "--root", root.toString(), "--model", MODEL, "--task", file.toString(), "--run-id", id);
        assertThat(c.exit()).as(c.err()).isEqualTo(Main.USER_ERROR);
        assertThat(c.err()).contains(message);
        assertThat(c.err().lines().filter(l -> l.startsWith("error:")).count()).isEqualTo(1);
        assertThat(root.resolve("results").resolve(id)).doesNotExist();
        assertThat(root.resolve("results").resolve(id + ".incomplete")).doesNotExist();
    }
}
