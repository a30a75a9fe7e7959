/**
 * Edge-level circuits for a task the user brings: task files (clean/corrupt prompt pairs, answer and contrast
 * tokens, metric), MIB-named nodes and edges, EAP and EAP-IG edge scores from the exported edge-gradient graph,
 * circuits of declared sizes and their faithfulness by EXACT edge patching (the edge-masked graph), CPR/CMD,
 * and the circuit in MIB's JSON format.
 *
 * <p>May use: atp (the EAP/EAP-IG core: edges, edge passes, per-example edge scores; the faithfulness core: curves, CPR/CMD, MIB pruning and JSON, task metrics), lab, engine, prompts, stats, tables, stage (only {@link org.milab.stage.StageContext} for writing) and
 * the export-module packages. Nothing below it (lab, engine, protocols, attribution) may use it.
 */
package org.milab.circuit;
