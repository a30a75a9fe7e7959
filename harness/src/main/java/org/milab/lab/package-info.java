/**
 * Owns: An opened model ({@link org.milab.lab.LabModel}): its graphs, tokenizer, weights, provenance ({@link org.milab.lab.ModelProvenance}) and the
 * engine its stages use, chosen by an {@link org.milab.lab.EngineFactory} (local, or one an {@link
 * org.milab.lab.EngineProvider} on the class path offers, e.g. Spark).
 * <p>
 * Uses: May use engine, prompts, stats, tables and the export packages. The order is asserted by
 * ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.lab;
