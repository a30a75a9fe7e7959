/**
 * Owns: One run of the lab: its folder, manifest, resumable step ledger ({@link org.milab.run.StepLedger}),
 * {@link org.milab.run.RunContext} (the {@code StageContext} the stages write through) and the {@link
 * org.milab.run.Pipeline} that wires the protocols' stages in order.
 * <p>
 * Uses: May use report, the protocols, attribution, stage and everything below; never cli or spark. The order
 * is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.run;
