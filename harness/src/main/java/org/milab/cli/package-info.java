/**
 * Owns: The command line ({@code milab}, picocli): commands parse options, check input and call run, report,
 * the protocols and the export catalog; exit code 2 with one clear message on bad input.
 * <p>
 * Uses: May use every package except spark (the Spark engine is found through lab.EngineProvider). The order
 * is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.cli;
