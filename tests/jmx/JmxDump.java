/*
 * Dumps every MBean attribute of a running JVM as JSON, for tests/jmx_exporter.py.
 *
 * The JMX exporter jar cannot be fetched on the test machine, so the tests read the Spark driver's
 * live MBeans with this program and apply the exporter's rules in Python. It reads what the exporter's
 * JmxScraper reads: every MBean, every readable attribute; numbers, booleans and strings as values,
 * CompositeData as nested items (the exporter recurses into those the same way). The key property
 * list is passed on unparsed (ObjectName.getKeyPropertyListString), because the exporter builds its
 * match text from it in the order the properties were given.
 *
 * Usage:
 *   java -cp DIR JmxDump --pid PID [--serve]
 *   java -cp DIR JmxDump --url service:jmx:rmi:///jndi/rmi://127.0.0.1:PORT/jmxrmi [--serve]
 * Without --serve it prints one JSON document and exits. With --serve it keeps the connection and
 * prints one JSON line for every line read on stdin, until stdin closes.
 */
import com.sun.tools.attach.VirtualMachine;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public final class JmxDump {

    private JmxDump() {
    }

    public static void main(String[] args) throws Exception {
        String pid = null;
        String url = null;
        boolean serve = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--pid": pid = args[++i]; break;
                case "--url": url = args[++i]; break;
                case "--serve": serve = true; break;
                default: throw new IllegalArgumentException("unknown argument: " + args[i]);
            }
        }
        if ((pid == null) == (url == null)) {
            throw new IllegalArgumentException("give exactly one of --pid PID or --url URL");
        }
        if (pid != null) {
            // The attach API starts the target's local management agent and hands back its address.
            VirtualMachine vm = VirtualMachine.attach(pid);
            try {
                url = vm.startLocalManagementAgent();
            } finally {
                vm.detach();
            }
        }
        try (JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL(url))) {
            MBeanServerConnection server = connector.getMBeanServerConnection();
            if (!serve) {
                System.out.println(dump(server));
                return;
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
            while (in.readLine() != null) {
                System.out.println(dump(server));
                System.out.flush();
            }
        }
    }

    /** All MBeans, sorted by name, as a JSON array. */
    static String dump(MBeanServerConnection server) throws Exception {
        Set<ObjectName> names = new TreeSet<>(server.queryNames(null, null));
        StringBuilder out = new StringBuilder("[");
        boolean first = true;
        for (ObjectName name : names) {
            String bean = bean(server, name);
            if (bean == null) {
                continue;
            }
            if (!first) {
                out.append(',');
            }
            first = false;
            out.append(bean);
        }
        return out.append(']').toString();
    }

    private static String bean(MBeanServerConnection server, ObjectName name) {
        MBeanInfo info;
        AttributeList values;
        try {
            // An MBean can disappear between the query and the read (Spark unregisters sources).
            info = server.getMBeanInfo(name);
            List<String> readable = new ArrayList<>();
            for (MBeanAttributeInfo attr : info.getAttributes()) {
                if (attr.isReadable()) {
                    readable.add(attr.getName());
                }
            }
            values = server.getAttributes(name, readable.toArray(new String[0]));
        } catch (Exception e) {
            return null;
        }
        StringBuilder out = new StringBuilder("{\"domain\":").append(quote(name.getDomain()))
            .append(",\"properties\":").append(quote(name.getKeyPropertyListString()))
            .append(",\"attributes\":[");
        boolean first = true;
        for (Attribute attr : values.asList()) {
            for (MBeanAttributeInfo a : info.getAttributes()) {
                if (a.getName().equals(attr.getName())) {
                    String value = value(attr.getValue());
                    if (value == null) {
                        break;
                    }
                    if (!first) {
                        out.append(',');
                    }
                    first = false;
                    out.append("{\"name\":").append(quote(attr.getName()))
                        .append(",\"type\":").append(quote(a.getType()))
                        .append(",\"description\":").append(quote(String.valueOf(a.getDescription())))
                        .append(',').append(value).append('}');
                    break;
                }
            }
        }
        return out.append("]}").toString();
    }

    /** {"kind": ..., "text": Java's toString, "value": ...} fields, or null for values the exporter skips. */
    private static String value(Object v) {
        if (v instanceof Number) {
            double d = ((Number) v).doubleValue();
            String json = Double.isNaN(d) || Double.isInfinite(d) ? quote(String.valueOf(d)) : String.valueOf(d);
            return "\"kind\":\"number\",\"text\":" + quote(v.toString()) + ",\"value\":" + json;
        }
        if (v instanceof Boolean) {
            return "\"kind\":\"boolean\",\"text\":" + quote(v.toString()) + ",\"value\":" + v;
        }
        if (v instanceof String) {
            return "\"kind\":\"string\",\"text\":" + quote((String) v) + ",\"value\":" + quote((String) v);
        }
        if (v instanceof CompositeData) {
            CompositeData data = (CompositeData) v;
            StringBuilder out = new StringBuilder("\"kind\":\"composite\",\"items\":[");
            boolean first = true;
            for (String key : new TreeSet<>(data.getCompositeType().keySet())) {
                String item = value(data.get(key));
                if (item == null) {
                    continue;
                }
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append("{\"name\":").append(quote(key)).append(',').append(item).append('}');
            }
            return out.append(']').toString();
        }
        return null;
    }

    private static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.append('"').toString();
    }
}
