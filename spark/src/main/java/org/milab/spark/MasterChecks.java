package org.milab.spark;

import org.milab.util.UserError;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What can be known about a master URL before Spark starts: Spark itself reports a local master without task
 * slots with a logged stack trace, and a standalone master nobody listens on only after a minute of retries
 * (then its context is stopped under the run). Both become one message here, in seconds.
 */
final class MasterChecks {
    private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+)(?:,\\s*(\\d+))?]");
    private static final Pattern HOST_PORT = Pattern.compile("(.+):(\\d+)");
    /** How long a standalone master may take to accept a TCP connection. */
    static final int CONNECT_TIMEOUT_MS = 3000;

    private MasterChecks() {}

    static void require(String master, String fix) {
        Matcher local = LOCAL.matcher(master);
        if (local.matches()) {
            if (Long.parseLong(local.group(1)) < 1)
                throw new UserError("Spark master '" + master + "' has no task slots (local[N] needs N >= 1).", fix);
            if (local.group(2) != null && Long.parseLong(local.group(2)) < 1)
                throw new UserError("Spark master '" + master + "' allows no attempt per task (local[N,F] needs F >= 1).", fix);
        }
        if (master.startsWith("spark://")) requireReachable(master);
    }

    /** A standalone master (or any of a comma-separated HA list) must accept a connection. */
    private static void requireReachable(String master) {
        List<String> failures = new ArrayList<>();
        for (String hp : master.substring("spark://".length()).split(",")) {
            Matcher m = HOST_PORT.matcher(hp.trim());
            if (!m.matches()) {
                failures.add(hp + ": not host:port");
                continue;
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(m.group(1), Integer.parseInt(m.group(2))), CONNECT_TIMEOUT_MS);
                return;
            } catch (IOException | IllegalArgumentException e) {
                failures.add(hp + ": " + e.getMessage());
            }
        }
        throw new UserError("No Spark master answers at " + master + " (" + String.join("; ", failures) + ").",
                "Start the master there (sbin/start-master.sh) or correct host:port in SPARK_MASTER / --spark-master; "
                        + "to run on this machine instead, use SPARK_MASTER=local[2].");
    }
}
