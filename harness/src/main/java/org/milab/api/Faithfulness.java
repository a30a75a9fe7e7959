package org.milab.api;

/**
 * A circuit's exact faithfulness on a task: each pair's clean prompt run through the edge-masked graph with every edge
 * outside the circuit carrying the corrupt run's value and every edge inside the clean run's;
 * {@code (mean m(circuit) - mean m(corrupt)) / (mean m(clean) - mean m(corrupt))} over pairs, with its bootstrap interval,
 * beside the raw metric values per pair.
 *
 * @param circuit       the circuit measured
 * @param metric        logit_diff, log_prob or kl
 * @param faithfulness  the ratio of means with its interval
 * @param circuitMetric per pair, the metric with the circuit patched
 * @param cleanMetric   per pair, the clean run's metric (every edge in)
 * @param corruptMetric per pair, the corrupt run's metric (no edge in)
 */
public record Faithfulness(Circuit circuit, String metric, Estimate faithfulness, double[] circuitMetric, double[] cleanMetric,
                           double[] corruptMetric) {}
