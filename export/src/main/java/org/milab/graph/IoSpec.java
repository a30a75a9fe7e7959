package org.milab.graph;

import java.util.List;

/**
 * One graph input or output as the manifest describes it.
 *
 * @param name    the tensor name in the graph (a TransformerLens hook name where one exists)
 * @param hook    the TransformerLens hook it corresponds to, or null
 * @param shape   dimension names or sizes, e.g. ["batch", "pos", 12, 64]
 * @param dtype   "float32" or "int64"
 * @param meaning one sentence for a person reading the manifest
 */
public record IoSpec(String name, String hook, List<Object> shape, String dtype, String meaning) {}
