import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local for `relay dev` bound to 127.0.0.1 only, and ends it with its parent.
 *
 * DynamoDB Local has no option for the address it binds: its DynamoDBProxyServer builds a Jetty
 * {@code Server(port)}, which listens on every interface. This builds the same server from the same
 * command line ({@code ServerRunner.createServerFromCommandLineArgs}), then sets each connector's host
 * to loopback before it starts. Telemetry is never configured, so none is sent.
 *
 * Its parent holds the write end of its stdin and never writes to it: end of input means the parent
 * is gone, however it ended (SIGKILL included), and the JVM exits.
 */
public final class DynamoDbLocalLauncher {
  private static final String LOOPBACK = "127.0.0.1";

  public static void main(String[] args) {
    watchParent();
    try {
      DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
      int bound = 0;
      for (Connector connector : jettyServer(proxy).getConnectors()) {
        if (connector instanceof ServerConnector) {
          ((ServerConnector) connector).setHost(LOOPBACK);
          bound++;
        }
      }
      // A connector of another kind would listen wherever it likes: refuse to start rather than expose it.
      if (bound == 0) fail("found no Jetty ServerConnector to bind to " + LOOPBACK);
      proxy.start();
      System.out.println("DynamoDB Local listening on " + LOOPBACK);
    } catch (Exception error) {
      fail(String.valueOf(error.getMessage() != null ? error.getMessage() : error));
    }
  }

  /** The Jetty server inside DynamoDBProxyServer, which keeps it in a private field. */
  private static Server jettyServer(DynamoDBProxyServer proxy) throws ReflectiveOperationException {
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    return (Server) field.get(proxy);
  }

  /** Exits once stdin reaches its end: the parent closed it or died. */
  private static void watchParent() {
    Thread watcher =
        new Thread(
            () -> {
              InputStream in = System.in;
              byte[] buffer = new byte[256];
              try {
                while (in.read(buffer) >= 0) {
                  // Nothing is ever written; keep reading until the end.
                }
              } catch (IOException error) {
                // A broken pipe is an end too.
              }
              System.exit(0);
            },
            "parent-watch");
    watcher.setDaemon(true);
    watcher.start();
  }

  private static void fail(String message) {
    System.err.println("DynamoDB Local could not start: " + message);
    Runtime.getRuntime().halt(1);
  }
}
