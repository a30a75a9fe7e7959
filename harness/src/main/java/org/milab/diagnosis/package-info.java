/**
 * An independent diagnosis of induction circuits in a trained GPT-2-architecture checkpoint, as Olsson et al.
 * (2022) measure them: per head, prefix-matching and previous-token attention scores on repeated random tokens
 * and the mean-ablation effect on the second-copy loss, classified by declared thresholds. It is the zoo's
 * reference answer (docs/zoo.md): protocol v2 never calls it, and it uses nothing of any protocol, nor the
 * lab or engine. It runs forwards on the plain-Java reference ({@code model.ReferenceGpt2}), not on the ONNX
 * graphs the protocols use; it may use {@code model}, {@code catalog} (the zoo's files), {@code stats}
 * (bootstrap intervals), {@code tables} (its output table) and {@code util}.
 */
package org.milab.diagnosis;
