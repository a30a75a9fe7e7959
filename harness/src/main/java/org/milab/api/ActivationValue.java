package org.milab.api;

import org.milab.tables.Describe;

/**
 * One row of {@link ActivationCache#toTable()}: a single activation value with where it sits. The record is the
 * table's schema ({@link org.milab.tables.RecordSchema}), so the columns' names, types, order and descriptions are
 * written here once; read a table back with {@code RecordSchema.of(ActivationValue.class).read(table)}.
 *
 * @param prompt which prompt (run) of the call
 * @param hook   the TransformerLens hook name
 * @param layer  the hook's block, -1 outside the blocks
 * @param pos    the position (query position for attention scores and patterns)
 * @param head   the attention head, -1 for hooks without heads
 * @param index  the index along the hook's last axis
 * @param value  the activation
 */
public record ActivationValue(
        @Describe("which prompt (run) of the call, 0-based") long prompt,
        @Describe("TransformerLens hook name, e.g. blocks.0.attn.hook_z") String hook,
        @Describe("the block of the hook; -1 for hook_embed, hook_pos_embed, ln_final.hook_scale and ln_final.hook_normalized") long layer,
        @Describe("position (the query position for hook_attn_scores and hook_pattern)") long pos,
        @Describe("attention head for hook_q/k/v/z/attn_scores/pattern/result; -1 for hooks without heads") long head,
        @Describe("index along the hook's last axis (d_model, d_head, d_mlp, 0 for a LayerNorm's hook_scale, or the key position for hook_attn_scores and hook_pattern)") long index,
        @Describe("the activation, float32 widened to float64, in the graph's raw frame") double value) {}
