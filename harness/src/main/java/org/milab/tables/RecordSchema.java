package org.milab.tables;

import org.milab.util.ColumnName;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A record type as a table schema: the record is written once and its components are the columns, in
 * order, named in snake_case ({@code meanEffect} -> {@code mean_effect}; {@link ColumnName} where a fixed name
 * differs), typed from the component's Java type
 * and described by {@link Describe} (else by the glossary). Rows are written from records and read back into
 * them, so a renamed component renames its column and no stage repeats a column name in a map or a
 * positional row.
 *
 * <p>Types: {@code String} and enums (their {@code name()}) are STRING; {@code int}, {@code long} and their
 * boxes INT64; {@code double}, {@code float} and boxes FLOAT64; {@code boolean}/{@code Boolean} BOOL;
 * {@code List<String>}, {@code List<Integer|Long>}, {@code List<Double>} the list types. Boxed components
 * may be null (a null cell); primitive ones may not.
 *
 * <p>Nested records: a component whose type is a record is flattened into that record's columns, in its place
 * and order, each named by joining the component's name and the inner one as the inner record's
 * {@link Flattened} says ({@code induction_excess} + {@code ci_low} -> {@code induction_excess_ci_low} by default;
 * {@link OuterName} takes the outer name alone); an {@link Inline} component adds its record's columns under
 * their own names. A generic record ({@code Scores<Ci>}) takes its type arguments from the component's declared
 * type. A null nested record writes null cells; reading constructs it from its cells. So a table of ~90 columns
 * generated from a few names is still one record tree, and a renamed component renames its columns.
 *
 * <p>Components are read through method handles derived once per record type, so writing a row costs no
 * reflective call per cell (a table of millions of rows, such as an activation cache, is written this way).
 */
public final class RecordSchema<R extends Record> {
    private static final Map<Class<?>, RecordSchema<?>> CACHE = new ConcurrentHashMap<>();

    private final Class<R> type;
    private final RecordComponent[] components;
    private final Node root;
    private final List<Leaf> leaves = new ArrayList<>();
    private final List<String> columns;

    /** One column: its name and the component (with its declared type resolved) it comes from. */
    private record Leaf(String name, RecordComponent component, Type generic, Class<?> raw) {}

    /**
     * A record type's components: each part is one column ({@code leaf}) or a nested record's columns ({@code nested}).
     * {@code getter} reads the component from an instance; {@code constructor} builds one back.
     */
    private record Node(Class<?> type, Constructor<?> constructor, List<Part> parts) {}

    private record Part(RecordComponent component, MethodHandle getter, Leaf leaf, Node nested) {}

    private RecordSchema(Class<R> type) {
        this.type = type;
        this.components = type.getRecordComponents();
        this.root = node(type, Map.of(), null, Flattened.Order.OUTER_INNER, new ArrayList<>());
        this.columns = leaves.stream().map(Leaf::name).toList();
    }

    private Node node(Class<?> t, Map<TypeVariable<?>, Type> bindings, String outer, Flattened.Order order, List<Class<?>> path) {
        path.add(t);
        List<Part> parts = new ArrayList<>();
        RecordComponent[] cs = t.getRecordComponents();
        Class<?>[] params = new Class<?>[cs.length];
        for (int i = 0; i < cs.length; i++) {
            RecordComponent c = cs[i];
            params[i] = c.getType();
            Type generic = resolve(c.getGenericType(), bindings);
            Class<?> raw = raw(generic, c.getType());
            String own = name(c);
            String name = outer == null ? own : c.isAnnotationPresent(OuterName.class) ? outer
                    : order == Flattened.Order.OUTER_INNER ? outer + "_" + own : own + "_" + outer;
            MethodHandle getter = getter(c);
            if (raw.isRecord() && !path.contains(raw)) {
                Map<TypeVariable<?>, Type> inner = bind(raw, generic, bindings);
                Flattened f = raw.getAnnotation(Flattened.class);
                Node n = c.isAnnotationPresent(Inline.class) ? node(raw, inner, outer, order, path)
                        : node(raw, inner, name, f == null ? Flattened.Order.OUTER_INNER : f.value(), path);
                parts.add(new Part(c, getter, null, n));
            } else {
                Leaf leaf = new Leaf(name, c, generic, raw);
                leaves.add(leaf);
                parts.add(new Part(c, getter, leaf, null));
            }
        }
        path.remove(path.size() - 1);
        try {
            Constructor<?> ctor = t.getDeclaredConstructor(params);
            ctor.setAccessible(true);
            return new Node(t, ctor, parts);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("record " + t.getName() + " has no canonical constructor", e);
        }
    }

    /** The accessor as a handle of type (Object)Object, looked up once: no reflective call per cell. */
    private static MethodHandle getter(RecordComponent c) {
        try {
            Method m = c.getAccessor();
            m.setAccessible(true); // records nested in other packages' classes are often package-private
            return MethodHandles.lookup().unreflect(m).asType(MethodType.methodType(Object.class, Object.class));
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Type resolve(Type t, Map<TypeVariable<?>, Type> bindings) {
        return t instanceof TypeVariable<?> v && bindings.containsKey(v) ? bindings.get(v) : t;
    }

    private static Class<?> raw(Type t, Class<?> erased) {
        if (t instanceof Class<?> c) return c;
        if (t instanceof ParameterizedType p && p.getRawType() instanceof Class<?> c) return c;
        return erased;
    }

    /** The type arguments of a generic record component ({@code Scores<Ci>}: T -> Ci). */
    private static Map<TypeVariable<?>, Type> bind(Class<?> raw, Type generic, Map<TypeVariable<?>, Type> outer) {
        if (!(generic instanceof ParameterizedType p)) return Map.of();
        Map<TypeVariable<?>, Type> m = new HashMap<>();
        TypeVariable<?>[] vars = raw.getTypeParameters();
        for (int i = 0; i < vars.length; i++) m.put(vars[i], resolve(p.getActualTypeArguments()[i], outer));
        return m;
    }

    /** The schema of record type {@code type} (derived once per type). */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static <R extends Record> RecordSchema<R> of(Class<R> type) {
        return (RecordSchema<R>) CACHE.computeIfAbsent(type, t -> new RecordSchema(t));
    }

    /**
     * {@code dHeadOrHiddenAxis} -> {@code d_head_or_hidden_axis}; digits stay attached ({@code top5} -> {@code top5},
     * {@code graphSha256} -> {@code graph_sha256}) and underscores stay, so a column that separates its digits is
     * spelled with one ({@code nRankAtMost_10} -> {@code n_rank_at_most_10}).
     */
    public static String snakeCase(String camel) {
        StringBuilder sb = new StringBuilder(camel.length() + 4);
        for (int i = 0; i < camel.length(); i++) {
            char c = camel.charAt(i);
            if (Character.isUpperCase(c)) {
                if (i > 0) sb.append('_');
                sb.append(Character.toLowerCase(c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** The column (or JSON key) of component {@code c}: its {@link ColumnName}, else its name in snake_case. */
    public static String name(RecordComponent c) {
        ColumnName n = c.getAnnotation(ColumnName.class);
        return n != null ? n.value() : snakeCase(c.getName());
    }

    /** The names of {@code type}'s own components (not flattened), in order: the keys a group record declares. */
    public static List<String> componentNames(Class<? extends Record> type) {
        List<String> out = new ArrayList<>();
        for (RecordComponent c : type.getRecordComponents()) out.add(name(c));
        return out;
    }

    /** Component name (as {@link #name}) to value of {@code r}'s own components, in order, nothing flattened or converted. */
    public static Map<String, Object> components(Record r) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (RecordComponent c : r.getClass().getRecordComponents()) m.put(name(c), value(r, c));
        return m;
    }

    /** Column names, in component order (nested records flattened in place). */
    public List<String> columns() {
        return columns;
    }

    /** The column type of every column, in order; a component of another type is an error naming it. */
    public List<ColumnType> types() {
        List<ColumnType> out = new ArrayList<>(leaves.size());
        for (Leaf l : leaves) out.add(columnType(l));
        return out;
    }

    /** A builder for table {@code table} with this record's columns (and descriptions), keyed on {@code keys}. */
    public TableBuilder builder(String table, String... keys) {
        return appendColumns(Table.builder(table)).keys(keys);
    }

    /** Appends {@code row} to {@code builder} (made by {@link #builder}, or declaring the same columns in order). */
    public TableBuilder add(TableBuilder builder, R row) {
        Object[] values = new Object[leaves.size()];
        cells(root, row, values, 0);
        return builder.addCells(values);
    }

    /** Writes the cells of {@code record} (null: every cell of the node null) from {@code at}; returns the next index. */
    private static int cells(Node node, Object record, Object[] out, int at) {
        for (Part p : node.parts()) {
            Object v = record == null ? null : get(p.getter(), record);
            if (p.nested() != null) at = cells(p.nested(), v, out, at);
            else out[at++] = cell(v);
        }
        return at;
    }

    private static Object get(MethodHandle getter, Object record) {
        try {
            return (Object) getter.invokeExact(record);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** Declares this record's columns (and descriptions) after those {@code builder} already has. */
    public TableBuilder appendColumns(TableBuilder builder) {
        for (Leaf l : leaves) builder.column(l.name(), columnType(l));
        for (Leaf l : leaves) {
            Describe d = l.component().getAnnotation(Describe.class);
            if (d != null) builder.describe(l.name(), d.value());
        }
        return builder;
    }

    /** A table of {@code rows}. */
    public TableBuilder builder(String table, List<R> rows, String... keys) {
        TableBuilder b = builder(table, keys);
        for (R r : rows) add(b, r);
        return b;
    }

    /** Column name to value in column order (for JSON rows); enums as their names, values otherwise as they are. */
    public Map<String, Object> toMap(R row) {
        Object[] values = new Object[leaves.size()];
        cells(root, row, values, 0);
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) m.put(columns.get(i), values[i]);
        return m;
    }

    /**
     * {@code value} as a JSON tree: a record becomes an object keyed by its components in snake_case, in
     * component order (a component marked {@link Inline} writes its record's entries in its place; one marked
     * {@link OmitIfNull} is left out when null; one marked {@link PrecededBy} has an extra key before it); lists
     * and maps are converted element by element (map keys as they are), enums and paths become their names and
     * strings, anything else stays as it is. So a JSON document written from a
     * record tree has its keys, their order and their nesting from the records alone.
     */
    public static Object tree(Object value) {
        if (value instanceof Record r) return treeMap(r);
        if (value instanceof Enum<?> e) return e.name();
        if (value instanceof java.nio.file.Path p) return p.toString();
        if (value instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object o : l) out.add(tree(o));
            return out;
        }
        if (value instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(k, tree(v)));
            return out;
        }
        return value;
    }

    /** {@link #tree} of one record: its object, as an ordered map. */
    public static Map<String, Object> treeMap(Record row) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (RecordComponent c : of(row.getClass()).components) {
            Object v = value(row, c);
            PrecededBy extra = c.getAnnotation(PrecededBy.class);
            if (extra != null) m.put(extra.key(), tree(value(row, component(row.getClass(), extra.component()))));
            if (c.isAnnotationPresent(Inline.class)) {
                if (!(v instanceof Record inner))
                    throw new IllegalArgumentException(row.getClass().getSimpleName() + "." + c.getName()
                            + " is marked @Inline but holds " + v + ", not a record");
                m.putAll(treeMap(inner));
            } else if (v != null || !c.isAnnotationPresent(OmitIfNull.class)) {
                m.put(name(c), tree(v));
            }
        }
        return m;
    }

    /** A table row read back into the record (columns by name; columns the record does not have are ignored). */
    public R read(Table.Row row) {
        Table t = row.table();
        return read(column -> {
            if (!t.hasColumn(column.name()))
                throw new IllegalArgumentException("Table '" + t.name() + "' has no column '" + column.name() + "' for "
                        + type.getSimpleName() + "." + column.component().getName());
            return row.get(column.name());
        }, t.name());
    }

    /**
     * A row held as column name -> cell value (as {@link Table.Row#toMap} gives it, e.g. a row joined from two
     * tables) read into the record; {@code source} names it in errors. Keys the record lacks are ignored.
     */
    public R read(Map<String, ?> row, String source) {
        return read(column -> {
            if (!row.containsKey(column.name()))
                throw new IllegalArgumentException(source + " has no column '" + column.name() + "' for " + type.getSimpleName()
                        + "." + column.component().getName());
            return row.get(column.name());
        }, source);
    }

    private R read(java.util.function.Function<Leaf, Object> cellOf, String source) {
        return type.cast(construct(root, cellOf, source));
    }

    private Object construct(Node node, java.util.function.Function<Leaf, Object> cellOf, String source) {
        Object[] args = new Object[node.parts().size()];
        for (int i = 0; i < args.length; i++) {
            Part p = node.parts().get(i);
            args[i] = p.nested() != null ? construct(p.nested(), cellOf, source) : fromCell(cellOf.apply(p.leaf()), p.leaf(), source);
        }
        try {
            return node.constructor().newInstance(args);
        } catch (InstantiationException | IllegalAccessException e) {
            throw new IllegalStateException(e);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }

    /** Every row of {@code table}, read into records. */
    public List<R> read(Table table) {
        List<R> out = new ArrayList<>(table.rowCount());
        for (Table.Row r : table.rows()) out.add(read(r));
        return out;
    }

    private static RecordComponent component(Class<?> type, String name) {
        for (RecordComponent c : type.getRecordComponents()) if (c.getName().equals(name)) return c;
        throw new IllegalArgumentException(type.getSimpleName() + " has no component '" + name + "' (named by a @PrecededBy)");
    }

    private static Object value(Record row, RecordComponent c) {
        try {
            c.getAccessor().setAccessible(true);
            return c.getAccessor().invoke(row);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }

    private static Object cell(Object v) {
        return v instanceof Enum<?> e ? e.name() : v;
    }

    private ColumnType columnType(Leaf l) {
        Class<?> t = l.raw();
        if (t == String.class || t.isEnum()) return ColumnType.STRING;
        if (t == int.class || t == long.class || t == Integer.class || t == Long.class) return ColumnType.INT64;
        if (t == double.class || t == float.class || t == Double.class || t == Float.class) return ColumnType.FLOAT64;
        if (t == boolean.class || t == Boolean.class) return ColumnType.BOOL;
        if (t == List.class) {
            Class<?> e = listElement(l.generic());
            if (e == String.class) return ColumnType.STRING_LIST;
            if (e == Integer.class || e == Long.class) return ColumnType.INT64_LIST;
            if (e == Double.class) return ColumnType.FLOAT64_LIST;
        }
        throw new IllegalArgumentException(type.getSimpleName() + "." + l.component().getName() + " has type " + l.generic().getTypeName()
                + ", which no table column holds (String, enum, int, long, double, float, boolean, List<String|Integer|Long|Double>, "
                + "or a record of these)");
    }

    private static Class<?> listElement(Type generic) {
        if (generic instanceof ParameterizedType p && p.getActualTypeArguments()[0] instanceof Class<?> e) return e;
        return null;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Object fromCell(Object v, Leaf l, String table) {
        Class<?> t = l.raw();
        if (v == null) {
            if (t.isPrimitive())
                throw new IllegalArgumentException("Table '" + table + "' has a null in column '" + l.name()
                        + "', which " + type.getSimpleName() + "." + l.component().getName() + " (" + t + ") cannot hold");
            return null;
        }
        if (t.isEnum()) return Enum.valueOf((Class) t, (String) v);
        if (t == int.class || t == Integer.class) return Math.toIntExact((Long) v);
        if (t == float.class || t == Float.class) return ((Double) v).floatValue();
        if (t == List.class && listElement(l.generic()) == Integer.class)
            return ((List<Long>) v).stream().map(Math::toIntExact).toList();
        return v;
    }
}
