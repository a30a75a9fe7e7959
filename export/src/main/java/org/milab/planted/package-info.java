/**
 * Owns: Planted models: small GPT-2 checkpoints with induction circuits written in by construction, their
 * prompts and their ground truth. Only this generator knows which head plays which role; no protocol reads it
 * to decide.
 * <p>
 * Uses: May use graph, model, tokenizer and util (siblings model.download and runtime are not used). The
 * order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.planted;
