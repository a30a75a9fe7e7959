/**
 * Owns: the core of attribution patching (AtP, AtP-IG, and AtP*'s QK fix for attention saturation, {@link org.milab.atp.QkFix}):
 * gradient passes through the exported grad graph
 * ({@link org.milab.atp.GradientPass}), the scored nodes and prompt pairs, and the per-node scores; and the core of
 * edge attribution (EAP, EAP-IG): MIB-named edges ({@link org.milab.atp.EdgeGraph}), the edge-masked and edge-gradient
 * passes ({@link org.milab.atp.EdgePasses}) and the per-example edge scores ({@link org.milab.atp.EdgeAttributionPatching});
 * and the core of exact circuit faithfulness: curves over circuit sizes, CPR/CMD and the smallest faithful circuit
 * ({@link org.milab.atp.EdgeFaithfulness}), the task metric ({@link org.milab.atp.TaskMetric}), MIB's pruning and
 * circuit JSON ({@link org.milab.atp.MibCircuit}).
 * Shared by the attribution and circuit stages above and the public Java API ({@code org.milab.api}), so it sits below them.
 * <p>
 * Uses: May use lab and everything below it; never api, stage, a protocol, run or report. The order is asserted
 * by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.atp;
