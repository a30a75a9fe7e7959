/**
 * Owns: The statistics the protocols decide with: bootstrap CIs, hypothesis tests with multiple-testing
 * correction, rank agreement, declared decision tolerances ({@link org.milab.stats.Decisions}), the
 * denominator floor under normalized effects, and number formatting for people ({@link org.milab.stats.Num}).
 * <p>
 * Uses: May use the export packages; siblings prompts and tables are not used. The order is asserted by
 * ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.stats;
