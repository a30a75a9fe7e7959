package org.milab.run;

import org.milab.graph.Head;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.prompts.CharacterizationPrompts;
import org.milab.prompts.ControlPrompts;
import org.milab.prompts.HeldoutPrompts;
import org.milab.prompts.PromptRecord;
import org.milab.protocol.reference.HeldoutCandidateStage;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.List;
import org.milab.stage.RunConfig;

/**
 * What a run's inputs must satisfy, checked before any stage runs: a bad candidate file, or a prompt set the
 * model cannot read, then fails in a second with one message, not at S13 after the sweep, at S18 after the
 * characterization, or at the second seed of S3.
 */
public final class InputChecks {
    /** The groups of the reference's held-out candidate set (spec S13); S16-S18 read them. */
    static final List<String> GROUPS = List.of("replicated_candidate", "random_comparison_replicated",
            "prior_raw_attention_failed", "negative_control_no_effect", "negative_control_nonspecific");
    /** The groups S17 writes counterexample reports for, and S18 needs at least one of. */
    static final List<String> PRIMARY = GROUPS.subList(0, 2);

    private InputChecks() {}

    /**
     * The candidate file of {@code config}, if any, read completely: syntax, duplicates, known groups, heads that
     * exist in the model, and (when the command characterizes, S16-S18) at least one primary head in the main set.
     */
    public static void candidates(RunConfig config, ModelConfig model, String modelId, boolean characterizes) {
        if (config.candidateFile() == null) return;
        String file = config.candidateFile().toString();
        List<HeldoutCandidateStage.Candidate> cs = HeldoutCandidateStage.fromFile(config.candidateFile());
        for (HeldoutCandidateStage.Candidate c : cs) {
            Head h = c.head();
            if (h.layer() < 0 || h.layer() >= model.nLayer() || h.head() < 0 || h.head() >= model.nHead())
                throw new UserError("Candidate file " + file + ": head " + h + " does not exist in model " + modelId + " ("
                        + model.nLayer() + " layers x " + model.nHead() + " heads).",
                        "Use layers 0-" + (model.nLayer() - 1) + " and heads 0-" + (model.nHead() - 1) + ".");
            if (!GROUPS.contains(c.group()))
                throw new UserError("Candidate file " + file + ": head " + h + " has the unknown group '" + c.group() + "'.",
                        "Use one of " + String.join(", ", GROUPS) + ".");
        }
        if (characterizes && cs.stream().noneMatch(c -> c.includeInMain() && PRIMARY.contains(c.group())))
            throw new UserError("Candidate file " + file + " has no head in group " + String.join(" or ", PRIMARY)
                    + " with include_in_main: the characterization counterexamples (S17) and the failure taxonomy (S18) "
                    + "need at least one.", "Mark the heads to characterize as replicated_candidate.");
    }

    /** Which prompt sets a command's stages generate. */
    public record PromptSets(boolean controls, boolean heldout, boolean characterization) {}

    /**
     * Generates the prompt sets the run will use, as the stages do, and checks every prompt, control prompt and
     * target against the model ({@link LabModel#promptTokens}: length, unknown words). S19's bank records such
     * rows as tokenization errors instead, as the reference does, so it is not checked here.
     */
    public static void prompts(RunConfig c, LabModel model, PromptSets sets) {
        List<PromptRecord> records = new ArrayList<>();
        if (sets.controls()) for (int seed : c.controlSeeds()) records.addAll(ControlPrompts.generate(seed, c.controlsPerFamily()));
        if (sets.heldout()) for (int seed : c.heldoutSeeds()) records.addAll(HeldoutPrompts.generate(seed, c.heldoutGenerated()));
        if (sets.characterization())
            for (int seed : c.characterizationSeeds())
                records.addAll(CharacterizationPrompts.generate(seed, c.characterizationGenerated()));
        for (PromptRecord r : records) {
            String where = r.task() + " " + r.exampleId();
            try {
                model.promptTokens(r.prompt());
                model.promptTokens(r.controlPrompt());
            } catch (UserError e) {
                throw new UserError(where + ": " + e.getMessage(), null, e);
            }
            for (String target : List.of(r.expectedNextToken(), r.trueExpectedNextToken(), r.wrongOrControlToken())) {
                List<String> unknown = target == null ? List.of() : model.tokenizer().unknownWords(target);
                if (!unknown.isEmpty())
                    throw new UserError(where + ": the target '" + target + "' is not in model '" + model.id() + "''s vocabulary "
                            + "(it would be read as the unknown token).", "Use a model whose tokenizer has " + unknown
                            + " (graphs/" + model.id() + "/tokenizer.json), or other prompt counts and seeds.");
            }
        }
    }
}
