import java.lang.management.ManagementFactory;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.StandardMBean;

/**
 * The jmx bench's target: N beans shaped like Yammer meters (five numeric attributes each) under
 * kafka.bench:type=Meter,name=m<i>, in a JVM started with remote JMX. Values move on every read.
 * Usage: java -cp DIR <remote JMX flags> Synthetic N
 */
public class Synthetic {
    public interface MeterMBean {
        long getCount();
        double getMeanRate();
        double getOneMinuteRate();
        double getFiveMinuteRate();
        double getFifteenMinuteRate();
    }

    public static final class Meter implements MeterMBean {
        private final long base;
        Meter(long base) { this.base = base; }
        public long getCount() { return base + System.nanoTime() / 1_000_000L; }
        public double getMeanRate() { return base * 0.5; }
        public double getOneMinuteRate() { return base * 0.25; }
        public double getFiveMinuteRate() { return base * 0.125; }
        public double getFifteenMinuteRate() { return base * 0.0625; }
    }

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        MBeanServer mbs = ManagementFactory.getPlatformMBeanServer();
        for (int i = 0; i < n; i++) {
            mbs.registerMBean(new StandardMBean(new Meter(i), MeterMBean.class),
                    new ObjectName("kafka.bench:type=Meter,name=m" + i));
        }
        System.out.println("READY " + n);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
