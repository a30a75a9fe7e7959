package org.milab.tables;

/**
 * The four column types a lab table may hold. Every column is nullable; FLOAT64 also holds NaN, which is
 * a value distinct from null (a metric that was computed and is undefined vs. one that was not computed).
 */
public enum ColumnType {
    STRING(String.class),
    INT64(Long.class),
    FLOAT64(Double.class),
    BOOL(Boolean.class);

    private final Class<?> javaType;

    ColumnType(Class<?> javaType) {
        this.javaType = javaType;
    }

    /** The boxed Java type every non-null value of this column has after {@link #coerce}. */
    public Class<?> javaType() {
        return javaType;
    }

    /**
     * Normalizes a value given by stage code to this type's Java type, or returns null if it does not fit.
     * Widening is allowed (int -> INT64, float/int/long -> FLOAT64); narrowing or reinterpreting is not
     * (a double is never silently truncated into INT64, a number never becomes a string).
     */
    Object coerce(Object value) {
        if (value == null) return null;
        return switch (this) {
            case STRING -> value instanceof CharSequence s ? s.toString() : null;
            case INT64 -> value instanceof Long || value instanceof Integer || value instanceof Short
                    || value instanceof Byte ? Long.valueOf(((Number) value).longValue()) : null;
            case FLOAT64 -> value instanceof Double || value instanceof Float || value instanceof Long
                    || value instanceof Integer || value instanceof Short || value instanceof Byte
                    ? Double.valueOf(((Number) value).doubleValue()) : null;
            case BOOL -> value instanceof Boolean b ? b : null;
        };
    }
}
