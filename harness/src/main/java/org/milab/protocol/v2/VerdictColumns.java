package org.milab.protocol.v2;

import org.milab.tables.TableBuilder;

import java.util.List;
import java.util.Map;

/** One-line descriptions of every column of {@code v2/verdicts} (written into the Arrow field metadata). */
final class VerdictColumns {
    private VerdictColumns() {}

    private static final Map<String, String> FIXED = Map.ofEntries(
            Map.entry("layer", "Transformer block index, 0-based."),
            Map.entry("head", "Attention head index within its layer, 0-based."),
            Map.entry("head_id", "The head as L{layer}H{head}."),
            Map.entry("role", "Role from data: induction, previous_token, duplicate_token, negative (induction- or "
                    + "duplicate-like attention with an anti-copying OV) or other."),
            Map.entry("attention_role", "The role attention alone gives (before the OV sign makes it negative)."),
            Map.entry("circuit_kind", "For a confirmed head: induction, backup_induction (confirmed by its leave-one-out "
                    + "marginal, not by single-head ablation), previous_token or negative; empty otherwise."),
            Map.entry("verdict", "confirmed, rejected or inconclusive, after the stability rule."),
            Map.entry("reason", "The rule that decided the verdict, with the deciding numbers."),
            Map.entry("inconclusive_reason", "For an inconclusive head, its stated reasons as codes (space-separated): "
                    + String.join("; ", Verdicts.REASON_CODES.entrySet().stream().map(e -> e.getKey() + " = " + e.getValue()).toList())
                    + ". Empty for confirmed and rejected heads."),
            Map.entry("p_adjusted_min", "Smallest corrected p (thresholds.correction) over the head's tests, both directions."),
            Map.entry("copy_chance", "Chance level of the copy scores: copy_top_k / pool size."),
            Map.entry("copying", "The OV circuit copies: copy_fraction (top copy_top_k) CI low above chance + copy_margin."),
            Map.entry("anti_copy_fraction", "Negative copy score: fraction of pool tokens whose own OV logit is among "
                    + "the copy_top_k lowest of their row (effective embedding)."),
            Map.entry("anti_copying", "The OV circuit anti-copies: anti_copy_fraction CI low above chance + copy_margin, not copying."),
            Map.entry("expected_sign", "Sign the role expects of a necessity effect: -1 for negative heads, else +1."),
            Map.entry("composition_receiver", "Receiver of the head's composition (as sender) with the smallest corrected p."),
            Map.entry("p_composition_adjusted", "Corrected p of that composition's one-sided test (path effect > min effect)."),
            Map.entry("seeds_confirmed", "Number of seeds whose own verdict is confirmed."),
            Map.entry("n_seeds", "Number of seeds."),
            Map.entry("seed_verdicts", "seed:verdict for every seed, space-separated."),
            Map.entry("family_verdicts", "family:verdict for every prompt family, space-separated."),
            Map.entry("truth_role", "Planted ground-truth role (label only; never read by a decision)."),
            Map.entry("truth_in_circuit", "Planted ground truth: the head belongs to the circuit (label only)."));

    private static final Map<String, String> SCORE = Map.ofEntries(
            Map.entry("induction_excess", "Induction attention score minus the same on the non-repeating control."),
            Map.entry("duplicate_excess", "Duplicate-token attention score minus the same on the non-repeating control."),
            Map.entry("previous_excess", "Previous-token attention score minus uniform attention."),
            Map.entry("bos_attention", "Attention to BOS on the repeated probe."),
            Map.entry("copy_fraction", "Copy score (Wang et al.): fraction of pool tokens whose own OV logit is among "
                    + "the copy_top_k largest of their row (effective embedding)."),
            Map.entry("gap", "Clean - corrupt logit difference (logits), the same for every head."),
            Map.entry("mean_ablation_drop", "Clean LD minus LD with the head mean-ablated (logits)."),
            Map.entry("mean_ablation_norm", "mean_ablation_drop / gap (ratio of means)."),
            Map.entry("resample_ablation_drop", "Clean LD minus LD with the head resample-ablated (logits)."),
            Map.entry("resample_ablation_norm", "resample_ablation_drop / gap (ratio of means)."),
            Map.entry("denoising_recovery", "LD with the head's clean output in the corrupt run minus corrupt LD (logits)."),
            Map.entry("denoising_norm", "denoising_recovery / gap (ratio of means)."),
            Map.entry("leave_one_out_norm", "Group drop minus the drop with this head kept, / gap (its marginal in its role group)."),
            Map.entry("control_effect_norm", "Mean ablation's effect on the control (unlicensed answer) / gap."),
            Map.entry("control_margin_norm", "(mean-ablation effect - control effect) / gap, paired over prompts."),
            Map.entry("composition_norm", "Path effect into the receiver's keys / gap (the head's best composition)."));

    static void describe(TableBuilder b, List<String> scores, List<String> tests) {
        FIXED.forEach(b::describe);
        for (String s : scores) {
            String d = SCORE.get(s);
            b.describe(s, d + " Estimate.").describe(s + "_ci_low", "Lower end of the 95% bootstrap CI over prompts of " + s + ".")
                    .describe(s + "_ci_high", "Upper end of the 95% bootstrap CI over prompts of " + s + ".");
        }
        for (String t : tests) {
            b.describe("p_raw_" + t, "Raw one-sided t-test p of " + t + ": effect > min_effect_fraction x gap.")
                    .describe("p_adjusted_" + t, "p_raw_" + t + " corrected by thresholds.correction over every test of every head, both directions.")
                    .describe("p_raw_negative_" + t, "Raw one-sided t-test p of " + t + ": effect < -min_effect_fraction x gap.")
                    .describe("p_adjusted_negative_" + t, "p_raw_negative_" + t + " corrected like p_adjusted_" + t + ".")
                    .describe("expected_sign_fraction_" + t, "Fraction of prompts whose " + t + " delta has expected_sign (zeros count for neither).")
                    .describe("n_" + t, "Number of prompts the " + t + " effect is computed over.");
        }
    }
}
