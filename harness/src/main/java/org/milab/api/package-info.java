/**
 * The public Java API, as direct as TransformerLens: {@link org.milab.api.HookedModel} opens an exported model
 * and runs it ({@code run}), caches any hook ({@code runWithCache} -> {@link org.milab.api.ActivationCache}),
 * overrides any hook at any position and head ({@code runWithPatches} with {@link org.milab.api.Patch} records,
 * batched over runs), scores nodes and edges by attribution patching ({@code attribute}, {@code attributeEdges}), and
 * measures circuits by exact edge patching ({@code faithfulness}, {@code faithfulnessSweep}, {@link org.milab.api.Circuit}
 * in MIB's JSON). docs/api.md is the guide.
 *
 * <p>Owns: the public surface (model, cache, patches, tensors, attribution results, circuits and their faithfulness) and its runner over the
 * exported {@code hooked} graph. Prints nothing: progress goes to a {@link org.milab.api.ProgressListener},
 * diagnostics to SLF4J.
 *
 * <p>Uses: May use atp, lab and everything below them; never stage, a protocol, run, report or cli (which may all use
 * it). The order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.api;
