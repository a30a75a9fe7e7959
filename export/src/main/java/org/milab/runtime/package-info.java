/**
 * Owns: ONNX Runtime sessions over exported graphs ({@link org.milab.runtime.ModelSessions}), devices, feeds
 * and token batches; native memory is closed with try-with-resources.
 * <p>
 * Uses: May use graph, model, tokenizer and util. The order is asserted by ArchitectureTest;
 * docs/architecture.md draws it.
 */
package org.milab.runtime;
