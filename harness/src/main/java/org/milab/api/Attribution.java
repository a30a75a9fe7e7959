package org.milab.api;

import java.util.List;

/**
 * AtP scores of every node (head, attention layer, MLP, residual stream entering a block), summed over positions
 * and averaged over the task's pairs. Denoising: {@code (a_clean - a_corrupt) . dm/da} at the corrupt run
 * (estimates patching the clean activation into the corrupt run); noising: {@code (a_corrupt - a_clean) . dm/da}
 * at the clean run; AtP-IG: the denoising estimate with the gradient averaged along the embedding path (NaN
 * when the task asked for no steps); AtP*: the denoising estimate with AtP*'s QK fix for attention saturation (each
 * later head's softmax recomputed exactly; docs/attribution.md), from the same two passes. A ranking to verify by
 * exact patching, not a measurement.
 *
 * @param nodes         one score per node, in the graph's order (per layer: heads, attention, MLP, residual)
 * @param cleanMetric   per pair, the clean run's metric
 * @param corruptMetric per pair, the corrupt run's metric
 */
public record Attribution(List<NodeScore> nodes, double[] cleanMetric, double[] corruptMetric) {
    /**
     * @param id        the node's id: L{layer}H{head}, attn{l}, mlp{l}, resid_pre{l}
     * @param layer     its block
     * @param head      its head, or -1
     * @param hook      the hook whose activation it is (hook_z for a head)
     * @param denoising mean over pairs of the summed denoising AtP
     * @param noising   mean over pairs of the summed noising AtP
     * @param integrated mean over pairs of the summed AtP-IG, NaN without IG steps
     * @param perPosition per pair, the denoising score at each position
     * @param star      mean over pairs of the summed AtP* (denoising with the QK fix), NaN when the task turned it off
     */
    public record NodeScore(String id, int layer, int head, String hook, double denoising, double noising,
                            double integrated, List<double[]> perPosition, double star) {}

    /**
     * @param id a node id such as L1H2
     * @return its score
     */
    public NodeScore node(String id) {
        return nodes.stream().filter(n -> n.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("No node '" + id + "'; ids look like L0H1, attn0, mlp0, resid_pre0."));
    }
}
