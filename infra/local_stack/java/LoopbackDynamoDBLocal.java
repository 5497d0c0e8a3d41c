// DynamoDB Local, listening on 127.0.0.1 only.
//
// DynamoDB Local has no option for the address it listens on: it builds its Jetty server
// with `new Server(port)`, which takes every interface, so anyone on the network could
// read and write the local table. This launcher builds the same server from the same
// command line, points its connectors at the loopback address, then starts it.
// Compiled once per machine by infra/local_stack/dynamodb_local.py.

import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public final class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        for (Connector connector : server.getConnectors()) {
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
        System.err.println("DynamoDB Local listening on 127.0.0.1 only");
    }
}
