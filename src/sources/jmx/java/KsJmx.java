import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.UndeclaredThrowableException;
import java.net.ConnectException;
import java.net.MalformedURLException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.rmi.ConnectIOException;
import java.rmi.UnmarshalException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.InstanceNotFoundException;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanException;
import javax.management.MBeanInfo;
import javax.management.MBeanOperationInfo;
import javax.management.MBeanParameterInfo;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.ReflectionException;
import javax.management.RuntimeErrorException;
import javax.management.RuntimeMBeanException;
import javax.management.RuntimeOperationsException;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import javax.naming.NamingException;
import javax.net.ssl.SSLException;
import javax.rmi.ssl.SslRMIClientSocketFactory;

/**
 * kafkascope's JVM side of one remote JMX target (src/sources/jmx/bridge.rs drives it through j4rs).
 *
 * <p>Every public method returns ONE string in the bridge's line format and never throws: j4rs
 * prints the stack trace of any exception that crosses JNI to stderr and turns it into an opaque
 * error, so all failures travel as {@code X<TAB>kind<TAB>text} lines instead. One instance per
 * target, called from one Rust thread at a time; a scrape may fan the bean reads out over a few
 * pool threads sharing the one RMI connection.
 *
 * <p>Line format (fields separated by TAB; backslash, TAB, CR and LF in text escaped as \\ \t \r \n):
 * values are {@code N num | Z 0/1 | S text | U type | E error | C n (K key, value)*n |
 * T n (R ni nv (I key text)*ni (K key, value)*nv)*n}.
 */
public final class KsJmx {
    /** Bumped whenever the line format changes; the Rust parser checks it. */
    public static final String PROTOCOL = "1";

    private static final int MAX_DEPTH = 8;

    /** Daemon threads: they must never keep the embedding process alive. */
    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "kafkascope-jmx-io");
        t.setDaemon(true);
        return t;
    });

    private final String url;
    private final String username;
    private final String password;
    private final boolean ssl;
    private final long connectTimeoutMs;
    private final int workers;

    private JMXConnector connector;
    private MBeanServerConnection mbsc;

    private String namesKey;
    private List<ObjectName> names;
    private long sinceRefresh;
    /** Set by a reader that found a bean gone; the next scrape re-runs queryNames. */
    private volatile boolean refreshPending;
    /** Readable attribute names per bean, from MBeanInfo (dropped on reconnect). */
    private final ConcurrentHashMap<ObjectName, String[]> attrNames = new ConcurrentHashMap<>();

    public KsJmx(String url, String username, String password, String ssl, String connectTimeoutMs,
            String workers) {
        this.url = url;
        this.username = username == null || username.isEmpty() ? null : username;
        this.password = password == null ? "" : password;
        this.ssl = "true".equals(ssl);
        this.connectTimeoutMs = parseLong(connectTimeoutMs, 10_000L);
        this.workers = (int) Math.max(1, Math.min(16, parseLong(workers, 4L)));
    }

    /** A cheap call proving the helper classes are loaded and which JVM runs them. */
    public static String probe() {
        return "KsJmx " + PROTOCOL + " java " + System.getProperty("java.version") + " "
                + System.getProperty("java.home");
    }

    /** Loads the named classes now, so their class files may be removed afterwards. */
    public static String preload(String classNames) {
        StringBuilder missing = new StringBuilder();
        for (String name : classNames.split("\n")) {
            if (name.isEmpty()) {
                continue;
            }
            try {
                Class.forName(name, true, KsJmx.class.getClassLoader());
            } catch (Throwable t) {
                missing.append(name).append(": ").append(t).append('\n');
            }
        }
        return missing.toString();
    }

    // ---------------------------------------------------------------- public calls

    public String scrape(String includes, String excludes, String refreshEvery, String budgetMs) {
        long t0 = System.nanoTime();
        long deadline = t0 + parseLong(budgetMs, 10_000L) * 1_000_000L;
        try {
            String err = ensureConnected();
            if (err != null) {
                return err;
            }
            long every = Math.max(1, parseLong(refreshEvery, 1));
            String key = includes + "\u0000" + excludes;
            boolean refreshed = false;
            if (names == null || !key.equals(namesKey) || refreshPending || sinceRefresh >= every) {
                refreshPending = false;
                List<ObjectName> resolved = resolve(includes, excludes);
                names = resolved;
                namesKey = key;
                sinceRefresh = 0;
                refreshed = true;
            }
            sinceRefresh++;
            List<ObjectName> wanted = names;
            List<String> skipped = java.util.Collections.synchronizedList(new ArrayList<>());
            int n = wanted.size();
            int parts = Math.max(1, Math.min(workers, (n + 99) / 100));
            StringBuilder[] outs = new StringBuilder[parts];
            AtomicInteger beans = new AtomicInteger();
            AtomicBoolean late = new AtomicBoolean();
            IOException[] lost = new IOException[1];
            if (parts == 1) {
                outs[0] = new StringBuilder(4096);
                readRange(wanted, 0, n, outs[0], deadline, beans, late, skipped);
            } else {
                List<Future<?>> futures = new ArrayList<>();
                for (int p = 0; p < parts; p++) {
                    int from = (int) ((long) n * p / parts);
                    int to = (int) ((long) n * (p + 1) / parts);
                    StringBuilder sb = new StringBuilder(4096);
                    outs[p] = sb;
                    futures.add(POOL.submit(() -> {
                        readRange(wanted, from, to, sb, deadline, beans, late, skipped);
                        return null;
                    }));
                }
                for (Future<?> f : futures) {
                    try {
                        f.get();
                    } catch (ExecutionException e) {
                        Throwable c = e.getCause();
                        if (c instanceof IOException && lost[0] == null) {
                            lost[0] = (IOException) c;
                        } else if (!(c instanceof IOException)) {
                            throw new RuntimeException(c);
                        }
                    }
                }
            }
            if (lost[0] != null) {
                throw lost[0];
            }
            if (late.get()) {
                return error("timeout", "read " + beans.get() + " of " + n + " beans before the "
                        + parseLong(budgetMs, 0) + " ms budget ran out");
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            StringBuilder out = new StringBuilder(64 + Arrays.stream(outs).mapToInt(StringBuilder::length).sum());
            out.append("H\t").append(PROTOCOL).append('\t').append(refreshed ? '1' : '0').append('\t')
                    .append(ms).append('\t').append(beans.get()).append('\t').append(skipped.size())
                    .append('\n');
            for (StringBuilder sb : outs) {
                out.append(sb);
            }
            synchronized (skipped) {
                for (String s : skipped) {
                    out.append(s);
                }
            }
            return out.toString();
        } catch (IOException e) {
            return connectionLost(e);
        } catch (Throwable t) {
            return error("remote", describe(t));
        }
    }

    public String queryNames(String pattern) {
        try {
            String err = ensureConnected();
            if (err != null) {
                return err;
            }
            ObjectName p;
            try {
                p = new ObjectName(pattern.isEmpty() ? "*:*" : pattern);
            } catch (Exception e) {
                return error("remote", "invalid ObjectName pattern '" + pattern + "': " + e.getMessage());
            }
            TreeSet<String> sorted = new TreeSet<>();
            for (ObjectName on : mbsc.queryNames(p, null)) {
                sorted.add(on.toString());
            }
            StringBuilder sb = new StringBuilder("OK\n");
            for (String s : sorted) {
                sb.append("M\t").append(esc(s)).append('\n');
            }
            return sb.toString();
        } catch (IOException e) {
            return connectionLost(e);
        } catch (Throwable t) {
            return error("remote", describe(t));
        }
    }

    public String domains() {
        try {
            String err = ensureConnected();
            if (err != null) {
                return err;
            }
            TreeSet<String> sorted = new TreeSet<>(Arrays.asList(mbsc.getDomains()));
            StringBuilder sb = new StringBuilder("OK\n");
            for (String s : sorted) {
                sb.append("D\t").append(esc(s)).append('\n');
            }
            return sb.toString();
        } catch (IOException e) {
            return connectionLost(e);
        } catch (Throwable t) {
            return error("remote", describe(t));
        }
    }

    public String beanInfo(String name) {
        try {
            String err = ensureConnected();
            if (err != null) {
                return err;
            }
            ObjectName on;
            try {
                on = new ObjectName(name);
            } catch (Exception e) {
                return error("remote", "invalid ObjectName '" + name + "': " + e.getMessage());
            }
            MBeanInfo info;
            try {
                info = mbsc.getMBeanInfo(on);
            } catch (InstanceNotFoundException e) {
                return error("remote", "no bean " + name + " on this target");
            } catch (UnmarshalException e) {
                return error("remote", "MBeanInfo of " + name + ": " + unmarshal(e));
            }
            MBeanAttributeInfo[] ais = info.getAttributes();
            List<String> readable = new ArrayList<>();
            for (MBeanAttributeInfo a : ais) {
                if (a.isReadable()) {
                    readable.add(a.getName());
                }
            }
            Map<String, Object> values = new HashMap<>();
            Map<String, String> errors = new HashMap<>();
            readAttributes(on, readable.toArray(new String[0]), values, errors);
            StringBuilder sb = new StringBuilder("OK\n");
            sb.append("I\t").append(esc(info.getClassName())).append('\t')
                    .append(esc(info.getDescription())).append('\n');
            for (MBeanAttributeInfo a : ais) {
                sb.append("F\t").append(esc(a.getName())).append('\t').append(esc(a.getType())).append('\t')
                        .append(esc(a.getDescription())).append('\t').append(a.isReadable() ? '1' : '0')
                        .append('\t').append(a.isWritable() ? '1' : '0').append('\n');
                if (!a.isReadable()) {
                    sb.append("U\twrite-only\n");
                } else if (errors.containsKey(a.getName())) {
                    sb.append("E\t").append(esc(errors.get(a.getName()))).append('\n');
                } else {
                    value(sb, values.get(a.getName()), 0);
                }
            }
            for (MBeanOperationInfo o : info.getOperations()) {
                MBeanParameterInfo[] ps = o.getSignature();
                sb.append("O\t").append(esc(o.getName())).append('\t').append(esc(o.getReturnType()))
                        .append('\t').append(esc(o.getDescription())).append('\t').append(impact(o.getImpact()))
                        .append('\t').append(ps.length).append('\n');
                for (MBeanParameterInfo p : ps) {
                    sb.append("P\t").append(esc(p.getName())).append('\t').append(esc(p.getType())).append('\n');
                }
            }
            return sb.toString();
        } catch (IOException e) {
            return connectionLost(e);
        } catch (Throwable t) {
            return error("remote", describe(t));
        }
    }

    public String close() {
        dropConnection(false);
        return "OK\n";
    }

    // ---------------------------------------------------------------- connection

    /** Connects when not connected; null when connected, else an error line. */
    private String ensureConnected() {
        if (mbsc != null) {
            return null;
        }
        JMXServiceURL u;
        try {
            u = new JMXServiceURL(url);
        } catch (MalformedURLException e) {
            return error("connect", "invalid JMX service URL " + url + ": " + e.getMessage());
        }
        Map<String, Object> env = new HashMap<>();
        if (username != null) {
            env.put(JMXConnector.CREDENTIALS, new String[] {username, password});
        }
        if (ssl) {
            SslRMIClientSocketFactory f = new SslRMIClientSocketFactory();
            env.put("jmx.remote.rmi.client.socket.factory", f);
            // The RMI registry lookup too (com.sun.management.jmxremote.registry.ssl=true).
            env.put("com.sun.jndi.rmi.factory.socket", f);
        }
        AtomicBoolean abandoned = new AtomicBoolean();
        CompletableFuture<JMXConnector> f = CompletableFuture.supplyAsync(() -> {
            try {
                JMXConnector c = JMXConnectorFactory.connect(u, env);
                if (abandoned.get()) {
                    closeQuietly(c);
                }
                return c;
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, POOL);
        JMXConnector c;
        try {
            c = f.get(connectTimeoutMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            abandoned.set(true);
            f.thenAccept(KsJmx::closeQuietly);
            return error("timeout", "no answer to the JMX connect within " + connectTimeoutMs + " ms");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof java.util.concurrent.CompletionException
                    && e.getCause().getCause() != null ? e.getCause().getCause() : e.getCause();
            return classify(cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error("connect", "interrupted while connecting");
        }
        try {
            mbsc = c.getMBeanServerConnection();
            connector = c;
        } catch (IOException e) {
            closeQuietly(c);
            return classify(e);
        }
        names = null;
        attrNames.clear();
        return null;
    }

    private String connectionLost(IOException e) {
        dropConnection(true);
        String[] k = kindOf(e);
        return error(k[0].equals("connect") ? "lost" : k[0], "connection lost: " + k[1]);
    }

    /** Forgets the connection (the next call reconnects); closing may block on a dead peer. */
    private void dropConnection(boolean background) {
        JMXConnector c = connector;
        connector = null;
        mbsc = null;
        names = null;
        attrNames.clear();
        if (c != null) {
            if (background) {
                POOL.submit(() -> closeQuietly(c));
            } else {
                closeQuietly(c);
            }
        }
    }

    private static void closeQuietly(JMXConnector c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Throwable ignored) {
            // The peer is gone or broken; there is nothing to release beyond our side.
        }
    }

    // ---------------------------------------------------------------- reading

    private List<ObjectName> resolve(String includes, String excludes) throws IOException, Exception {
        List<ObjectName> inc = patterns(includes);
        if (inc.isEmpty()) {
            inc.add(new ObjectName("*:*"));
        }
        List<ObjectName> exc = patterns(excludes);
        TreeSet<ObjectName> found = new TreeSet<>();
        for (ObjectName p : inc) {
            for (ObjectName on : mbsc.queryNames(p, null)) {
                boolean excluded = false;
                for (ObjectName x : exc) {
                    if (x.apply(on)) {
                        excluded = true;
                        break;
                    }
                }
                if (!excluded) {
                    found.add(on);
                }
            }
        }
        return new ArrayList<>(found);
    }

    private static List<ObjectName> patterns(String lines) throws Exception {
        List<ObjectName> out = new ArrayList<>();
        for (String s : lines.split("\n")) {
            if (s.isEmpty()) {
                continue;
            }
            try {
                out.add(new ObjectName(s));
            } catch (Exception e) {
                throw new IllegalArgumentException("invalid ObjectName pattern '" + s + "': " + e.getMessage());
            }
        }
        return out;
    }

    private void readRange(List<ObjectName> wanted, int from, int to, StringBuilder sb, long deadline,
            AtomicInteger beans, AtomicBoolean late, List<String> skipped) throws IOException {
        for (int i = from; i < to; i++) {
            if (late.get() || System.nanoTime() > deadline) {
                late.set(true);
                return;
            }
            if (readBean(wanted.get(i), sb, skipped)) {
                beans.incrementAndGet();
            }
        }
    }

    /** Appends one bean; false when it could not be read at all (reported in `skipped`). */
    private boolean readBean(ObjectName on, StringBuilder sb, List<String> skipped) throws IOException {
        String[] attrs = attrNames.get(on);
        if (attrs == null) {
            try {
                MBeanAttributeInfo[] ais = mbsc.getMBeanInfo(on).getAttributes();
                List<String> readable = new ArrayList<>(ais.length);
                for (MBeanAttributeInfo a : ais) {
                    if (a.isReadable()) {
                        readable.add(a.getName());
                    }
                }
                attrs = readable.toArray(new String[0]);
                attrNames.put(on, attrs);
            } catch (InstanceNotFoundException e) {
                refreshPending = true;
                skipped.add("V\t" + esc(on.toString()) + "\t" + esc("bean vanished before it was read") + "\n");
                return false;
            } catch (UnmarshalException e) {
                skipped.add("V\t" + esc(on.toString()) + "\t" + esc("MBeanInfo " + unmarshal(e)) + "\n");
                return false;
            } catch (IOException e) {
                throw e;
            } catch (Exception e) {
                skipped.add("V\t" + esc(on.toString()) + "\t" + esc("MBeanInfo failed: " + describe(e)) + "\n");
                return false;
            }
        }
        Map<String, Object> values = new HashMap<>(attrs.length * 2);
        Map<String, String> errors = new HashMap<>();
        boolean vanished = readAttributes(on, attrs, values, errors);
        if (vanished) {
            refreshPending = true;
            attrNames.remove(on);
        }
        sb.append("B\t").append(esc(on.toString())).append('\t').append(attrs.length).append('\n');
        for (String a : attrs) {
            sb.append("A\t").append(esc(a)).append('\n');
            String err = errors.get(a);
            if (err != null) {
                sb.append("E\t").append(esc(err)).append('\n');
            } else {
                value(sb, values.get(a), 0);
            }
        }
        return true;
    }

    /**
     * Reads attributes with one getAttributes call, then singly those it silently dropped (their
     * getter threw) to learn why. True when the bean vanished (every attribute then has an error).
     */
    private boolean readAttributes(ObjectName on, String[] attrs, Map<String, Object> values,
            Map<String, String> errors) throws IOException {
        if (attrs.length == 0) {
            return false;
        }
        AttributeList list;
        try {
            list = mbsc.getAttributes(on, attrs);
        } catch (InstanceNotFoundException e) {
            for (String a : attrs) {
                errors.put(a, "bean vanished: " + on);
            }
            return true;
        } catch (ReflectionException | RuntimeException | UnmarshalException e) {
            // One value of a class this JVM lacks spoils the whole batch: read singly below.
            list = new AttributeList();
        }
        for (Object o : list) {
            if (o instanceof Attribute) {
                Attribute at = (Attribute) o;
                values.put(at.getName(), at.getValue());
            }
        }
        for (String a : attrs) {
            if (values.containsKey(a)) {
                continue;
            }
            try {
                values.put(a, mbsc.getAttribute(on, a));
            } catch (InstanceNotFoundException e) {
                for (String b : attrs) {
                    errors.put(b, "bean vanished: " + on);
                }
                return true;
            } catch (UnmarshalException e) {
                errors.put(a, unmarshal(e));
            } catch (IOException e) {
                throw e;
            } catch (Throwable t) {
                errors.put(a, describe(t));
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- values

    private static void value(StringBuilder sb, Object v, int depth) {
        if (v == null) {
            sb.append("U\tnull\n");
        } else if (v instanceof Number) {
            sb.append("N\t").append(((Number) v).doubleValue()).append('\n');
        } else if (v instanceof Boolean) {
            sb.append("Z\t").append(((Boolean) v) ? '1' : '0').append('\n');
        } else if (v instanceof String || v instanceof Character || v instanceof Enum || v instanceof ObjectName) {
            sb.append("S\t").append(esc(v.toString())).append('\n');
        } else if (v instanceof CompositeData && depth < MAX_DEPTH) {
            CompositeData cd = (CompositeData) v;
            Set<String> keys = cd.getCompositeType().keySet();
            sb.append("C\t").append(keys.size()).append('\n');
            for (String k : keys) {
                sb.append("K\t").append(esc(k)).append('\n');
                value(sb, cd.get(k), depth + 1);
            }
        } else if (v instanceof TabularData && depth < MAX_DEPTH) {
            TabularData td = (TabularData) v;
            List<String> index = td.getTabularType().getIndexNames();
            Collection<?> rows = td.values();
            sb.append("T\t").append(rows.size()).append('\n');
            for (Object r : rows) {
                CompositeData row = (CompositeData) r;
                Set<String> keys = row.getCompositeType().keySet();
                List<String> rest = new ArrayList<>();
                for (String k : keys) {
                    if (!index.contains(k)) {
                        rest.add(k);
                    }
                }
                sb.append("R\t").append(index.size()).append('\t').append(rest.size()).append('\n');
                for (String k : index) {
                    Object iv = row.containsKey(k) ? row.get(k) : null;
                    sb.append("I\t").append(esc(k)).append('\t').append(esc(String.valueOf(iv))).append('\n');
                }
                for (String k : rest) {
                    sb.append("K\t").append(esc(k)).append('\n');
                    value(sb, row.get(k), depth + 1);
                }
            }
        } else {
            sb.append("U\t").append(esc(v.getClass().getTypeName())).append('\n');
        }
    }

    // ---------------------------------------------------------------- errors and text

    private String classify(Throwable t) {
        String[] k = kindOf(t);
        return error(k[0], k[1]);
    }

    /** {kind, text}: what the bridge must tell apart (refused, not JMX, auth, timeout, TLS). */
    private static String[] kindOf(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SecurityException) {
                return new String[] {"auth", "authentication failed: " + c.getMessage()};
            }
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ConnectException) {
                return new String[] {"refused", "connection refused (" + c.getMessage() + ")"};
            }
            if (c instanceof SocketTimeoutException) {
                return new String[] {"timeout", "timed out waiting for the target: " + c.getMessage()};
            }
            if (c instanceof UnknownHostException) {
                return new String[] {"connect", "unknown host " + c.getMessage()};
            }
            if (c instanceof SSLException) {
                return new String[] {"connect", "TLS handshake failed: " + c.getMessage()};
            }
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ConnectIOException || c instanceof UnmarshalException
                    || c instanceof javax.naming.NameNotFoundException
                    || c instanceof java.rmi.NoSuchObjectException
                    || c instanceof java.io.EOFException || c instanceof java.io.StreamCorruptedException) {
                return new String[] {"notjmx", "not a JMX/RMI endpoint: " + chain(t)};
            }
        }
        if (t instanceof NamingException || t instanceof IOException) {
            return new String[] {"connect", chain(t)};
        }
        return new String[] {"connect", describe(t)};
    }

    /** A value that arrived but cannot be deserialized here (its class exists only on the target). */
    private static String unmarshal(UnmarshalException e) {
        Throwable c = e;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return "value cannot be unmarshalled here: " + c.getClass().getName()
                + (c.getMessage() == null ? "" : ": " + c.getMessage());
    }

    /** The messages down the cause chain, deduplicated. */
    private static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        String last = null;
        int n = 0;
        for (Throwable c = t; c != null && n < 6; c = c.getCause(), n++) {
            String m = c.getClass().getName() + (c.getMessage() == null ? "" : ": " + c.getMessage());
            if (last != null && last.contains(m)) {
                continue;
            }
            if (sb.length() > 0) {
                sb.append(" <- ");
            }
            sb.append(m);
            last = m;
        }
        return sb.toString();
    }

    /** The exception that matters (unwrapping JMX wrappers), as "Class: message". */
    private static String describe(Throwable t) {
        Throwable c = t;
        for (int i = 0; i < 8; i++) {
            Throwable next = null;
            if (c instanceof MBeanException) {
                next = ((MBeanException) c).getTargetException();
            } else if (c instanceof RuntimeMBeanException) {
                next = ((RuntimeMBeanException) c).getTargetException();
            } else if (c instanceof ReflectionException) {
                next = ((ReflectionException) c).getTargetException();
            } else if (c instanceof RuntimeErrorException) {
                next = ((RuntimeErrorException) c).getTargetError();
            } else if (c instanceof RuntimeOperationsException) {
                next = ((RuntimeOperationsException) c).getTargetException();
            } else if (c instanceof UndeclaredThrowableException || c instanceof InvocationTargetException
                    || c instanceof ExecutionException) {
                next = c.getCause();
            }
            if (next == null) {
                break;
            }
            c = next;
        }
        return c.getClass().getName() + (c.getMessage() == null ? "" : ": " + c.getMessage());
    }

    private String error(String kind, String text) {
        return errorLine(kind, scrub(text));
    }

    private static String errorLine(String kind, String text) {
        return "X\t" + kind + "\t" + esc(text) + "\n";
    }

    /** Error texts never carry the password, whatever an exception chose to say. */
    private String scrub(String text) {
        if (password != null && password.length() >= 1 && text != null && text.contains(password)) {
            return text.replace(password, "***");
        }
        return text;
    }

    private static String impact(int i) {
        switch (i) {
            case MBeanOperationInfo.INFO:
                return "INFO";
            case MBeanOperationInfo.ACTION:
                return "ACTION";
            case MBeanOperationInfo.ACTION_INFO:
                return "ACTION_INFO";
            default:
                return "UNKNOWN";
        }
    }

    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            String rep = ch == '\\' ? "\\\\" : ch == '\t' ? "\\t" : ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : null;
            if (rep != null && sb == null) {
                sb = new StringBuilder(s.length() + 8).append(s, 0, i);
            }
            if (sb != null) {
                if (rep != null) {
                    sb.append(rep);
                } else {
                    sb.append(ch);
                }
            }
        }
        return sb == null ? s : sb.toString();
    }

    private static long parseLong(String s, long dflt) {
        try {
            return Long.parseLong(s.trim());
        } catch (Exception e) {
            return dflt;
        }
    }
}
