package org.milab.engine;

/**
 * Replace one activation in one row of a patched forward pass.
 *
 * @param layer    block index
 * @param position token index in the row's prompt (BOS is 0)
 * @param head     head index for {@code hook_z}; ignored for layer-level sites
 * @param value    the replacement, raw frame ({@code d_head} floats for hook_z, {@code d_model} otherwise)
 */
public record SitePatch(int layer, int position, int head, float[] value) {}
