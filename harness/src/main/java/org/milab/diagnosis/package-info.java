/**
 * An independent diagnosis of induction circuits in a trained GPT-2-architecture checkpoint, as Olsson et al.
 * (2022) measure them: per head, prefix-matching and previous-token attention scores on repeated random tokens
 * and the mean-ablation effect on the second-copy loss. It owns the zoo's reference answers: protocol v2 never
 * calls it, and it uses nothing of any protocol. It runs forwards on the plain-Java reference
 * ({@code org.milab.model.ReferenceGpt2}), not on the ONNX graphs the protocols use, and may use
 * {@code stats} (bootstrap intervals) and {@code tables} (its output table).
 */
package org.milab.diagnosis;
