/**
 * Owns: The throughput benchmarks of {@code make bench} (never timed tests): one class per workload (capture
 * forward, held-out matrix, attribution, session options, operator profile, scaling, MatMul ceiling, the
 * PyTorch peer), each returning a result record that prints its table and becomes part of bench.json. Rates
 * are reported beside ratios and fractions of the MatMul ceiling measured in the same run.
 * <p>
 * Uses: May use run (contexts for the stages it times), the protocols and attribution (the workloads), lab,
 * engine and the export packages. Only cli uses it. The order is asserted by ArchitectureTest.
 */
package org.milab.bench;
