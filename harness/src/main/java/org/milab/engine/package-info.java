/**
 * Owns: The intervention engine: batched captures of clean activations and batched patches of hook outputs
 * over one model's sessions ({@link org.milab.engine.InterventionEngine}), prompt caching and FLOP counts. It
 * knows hooks and token ids, not prompts, protocols or runs.
 * <p>
 * Uses: May use prompts, stats, tables and the export packages (graph, model, runtime, util). The order is
 * asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.engine;
