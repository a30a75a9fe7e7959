/**
 * Owns: The catalog of models the lab can export (GPT-2, planted, random), where their graphs live ({@code
 * graphs/<model>/}), export verification, the post-export self-check, and the names a user can mean
 * ({@code ModelNames}: the message for a mistyped MODEL).
 * <p>
 * Uses: May use every other export package: planted, model.download, runtime, graph, model, tokenizer, util.
 * The order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.catalog;
