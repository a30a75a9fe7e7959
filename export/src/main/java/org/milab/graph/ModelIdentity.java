package org.milab.graph;

/**
 * Which checkpoint a set of graphs was exported from.
 *
 * @param id            the lab's model name ("gpt2", "planted-induction", ...)
 * @param repo          upstream repository, or null for generated models
 * @param revision      upstream revision, or null
 * @param weightsSha256 sha256 of the checkpoint file the weights were read from
 * @param pinned        true when the weights are the pinned upstream file (hash verified)
 * @param origin        where the file came from (cache path, local path, generator and seed...)
 */
public record ModelIdentity(String id, String repo, String revision, String weightsSha256, boolean pinned,
                            String origin) {}
