/**
 * Owns: Arrow IPC tables with provenance in their schema metadata, their Parquet copies, column descriptions
 * ({@code COLUMNS.md}), and table diffs.
 * <p>
 * Uses: May use the export packages (util); nothing else of the harness. The order is asserted by
 * ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.tables;
