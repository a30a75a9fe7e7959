/**
 * Owns: the core of attribution patching (AtP, AtP-IG): gradient passes through the exported grad graph
 * ({@link org.milab.atp.GradientPass}), the scored nodes and prompt pairs, and the per-node scores. Shared by the
 * attribution protocol stages above and the public Java API ({@code org.milab.api}), so it sits below both.
 * <p>
 * Uses: May use lab and everything below it; never api, stage, a protocol, run or report. The order is asserted
 * by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.atp;
