/**
 * Owns: Prompt generators of the reference study (byte-exact replicas of its Python generators, {@link
 * org.milab.prompts.PyRandom}), prompt records and example selection.
 * <p>
 * Uses: May use the export packages (graph for Head, util); siblings stats and tables are not used. The order
 * is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.prompts;
