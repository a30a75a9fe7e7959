/**
 * The public Java API, as direct as TransformerLens: {@link org.milab.api.HookedModel} opens an exported model
 * and runs it ({@code run}), caches any hook ({@code runWithCache} -> {@link org.milab.api.ActivationCache}),
 * overrides any hook at any position and head ({@code runWithPatches} with {@link org.milab.api.Patch} records,
 * batched over runs), and scores nodes by attribution patching ({@code attribute}). docs/api.md is the guide.
 *
 * <p>Owns: the public surface (model, cache, patches, tensors, attribution results) and its runner over the
 * exported {@code hooked} graph. Prints nothing: progress goes to a {@link org.milab.api.ProgressListener},
 * diagnostics to SLF4J.
 *
 * <p>Uses: May use atp, lab and everything below them; never stage, a protocol, run, report or cli (which may all use
 * it). The order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.api;
