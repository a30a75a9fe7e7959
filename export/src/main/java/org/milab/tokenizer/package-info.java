/**
 * Owns: Tokenizers the lab reads prompts with (GPT-2 BPE via tokenizer.json, and the word-level vocabulary of
 * planted models), behind {@link org.milab.tokenizer.Tokenizer}.
 * <p>
 * Uses: May use util. The order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.tokenizer;
