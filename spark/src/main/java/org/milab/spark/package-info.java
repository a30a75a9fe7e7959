/**
 * Owns: The Spark engine: distributes the engine's patch rows over Spark executors (offered to runs through
 * {@code lab.EngineProvider}) and the scale benchmark.
 * <p>
 * Uses: Sits beside cli at the top: may use run, protocol.reference, stage, lab, engine and the export
 * packages; never cli or report. Nothing uses spark. The order is asserted by ArchitectureTest;
 * docs/architecture.md draws it.
 */
package org.milab.spark;
