/**
 * Owns: Checkpoints and their configuration: safetensors reading and writing, GPT-2 tensor names, random
 * checkpoints, and a plain-Java GPT-2 forward pass ({@code ReferenceGpt2}) that tests compare the graphs
 * against.
 * <p>
 * Uses: May use util (tokenizer is a sibling it does not use). The order is asserted by ArchitectureTest;
 * docs/architecture.md draws it.
 */
package org.milab.model;
