/**
 * Owns: The ONNX graph variants (capture, patch, gradient) built from a checkpoint, with TransformerLens hook
 * names ({@link org.milab.graph.HookNames}) as graph outputs and override inputs, their manifests, and {@link
 * org.milab.graph.Head}, the L{layer}H{head} coordinate every layer above shares.
 * <p>
 * Uses: May use model, tokenizer and util; never the runtime that loads its graphs (the exporter is handed
 * the ONNX Runtime version). The order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.graph;
