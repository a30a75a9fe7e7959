/**
 * Owns: Protocol v2: causal head roles decided from data with bootstrap CIs and corrected tests (attention
 * probes, causal patching, composition, copying, group ablation), the verdict stage and {@link
 * org.milab.protocol.v2.V2Verdicts}, which reads its verdict table for the report.
 * <p>
 * Uses: May use protocol.reference (its comparison stage reads the reference's tables by their names), stage
 * and everything below; never run, report or attribution. The order is asserted by ArchitectureTest;
 * docs/architecture.md draws it.
 */
package org.milab.protocol.v2;
