/**
 * Owns: Arrow IPC tables with provenance in their schema metadata, their Parquet copies, column descriptions
 * ({@code COLUMNS.md}), table diffs, and records as schemas ({@link org.milab.tables.RecordSchema}: a record
 * type is a table's columns, or a JSON document's keys).
 * <p>
 * Uses: May use the export packages (util); nothing else of the harness. The order is asserted by
 * ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.tables;
