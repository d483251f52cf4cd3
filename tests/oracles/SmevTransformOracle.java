// An oracle for edugate's SMEV transform: the transform as the SMEV 3 method guide describes it, run on the JDK's
// own StAX implementation (javax.xml.stream, no third-party parser), so that the way the JDK reports text (one
// character event per character or entity reference) and writes it decides the output, as it does for the method
// guide's reference code on a standard JDK.
//
// Usage: java SmevTransformOracle INPUT... ; for each INPUT (canonical XML, the output of exclusive c14n) it writes
// the transform's output to INPUT with ".input.xml" replaced by ".expected.xml".
// Written for edugate; see scripts/transform-oracle.sh.

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import javax.xml.stream.XMLEventFactory;
import javax.xml.stream.XMLEventReader;
import javax.xml.stream.XMLEventWriter;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.events.Attribute;
import javax.xml.stream.events.StartElement;
import javax.xml.stream.events.XMLEvent;

public final class SmevTransformOracle {
    private final XMLEventFactory events = XMLEventFactory.newInstance();
    // One map per open element: namespace URI -> the nsN prefix that element declared for it.
    private final Deque<Map<String, String>> open = new ArrayDeque<>();
    private int counter = 0;

    public static void main(String[] args) throws Exception {
        for (String input : args) {
            String output = input.replace(".input.xml", ".expected.xml");
            try (InputStream in = new FileInputStream(input); OutputStream out = new FileOutputStream(output)) {
                new SmevTransformOracle().run(in, out);
            }
            System.out.println(output);
        }
    }

    private String lookup(String uri) {
        for (Map<String, String> scope : open) {
            String p = scope.get(uri);
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    /** The prefix for uri among open elements, or a new one declared on the current element. */
    private String prefixFor(String uri, List<XMLEvent> declarations) {
        String p = lookup(uri);
        if (p == null) {
            counter += 1;
            p = "ns" + counter;
            open.peek().put(uri, p);
            declarations.add(events.createNamespace(p, uri));
        }
        return p;
    }

    private static int compareAttributes(Attribute x, Attribute y) {
        String xu = x.getName().getNamespaceURI(), yu = y.getName().getNamespaceURI();
        boolean xq = xu != null && !xu.isEmpty(), yq = yu != null && !yu.isEmpty();
        if (xq != yq) {
            return xq ? -1 : 1;
        }
        int byUri = xq ? xu.compareTo(yu) : 0;
        return byUri != 0 ? byUri : x.getName().getLocalPart().compareTo(y.getName().getLocalPart());
    }

    private void run(InputStream in, OutputStream out) throws Exception {
        XMLEventReader reader = XMLInputFactory.newInstance().createXMLEventReader(in, "UTF-8");
        XMLEventWriter writer = XMLOutputFactory.newInstance().createXMLEventWriter(out, "UTF-8");
        while (reader.hasNext()) {
            XMLEvent e = reader.nextEvent();
            if (e.isCharacters()) {
                // Step 2: a character event made only of characters up to U+0020 is dropped.
                if (!e.asCharacters().getData().trim().isEmpty()) {
                    writer.add(e);
                }
            } else if (e.isStartElement()) {
                StartElement start = e.asStartElement();
                open.push(new HashMap<>());
                List<XMLEvent> declarations = new ArrayList<>();
                String uri = start.getName().getNamespaceURI();
                if (uri == null || uri.isEmpty()) {
                    throw new IllegalStateException("element without a namespace");
                }
                String prefix = prefixFor(uri, declarations);
                List<Attribute> attributes = new ArrayList<>();
                for (Iterator<?> it = start.getAttributes(); it.hasNext(); ) {
                    attributes.add((Attribute) it.next());
                }
                attributes.sort(SmevTransformOracle::compareAttributes);
                List<XMLEvent> written = new ArrayList<>();
                for (Attribute a : attributes) {
                    String au = a.getName().getNamespaceURI();
                    String local = a.getName().getLocalPart();
                    if (au != null && !au.isEmpty()) {
                        written.add(events.createAttribute(prefixFor(au, declarations), au, local, a.getValue()));
                    } else {
                        written.add(events.createAttribute(local, a.getValue()));
                    }
                }
                writer.add(events.createStartElement(prefix, uri, start.getName().getLocalPart()));
                for (XMLEvent d : declarations) {
                    writer.add(d);
                }
                for (XMLEvent a : written) {
                    writer.add(a);
                }
            } else if (e.isEndElement()) {
                String uri = e.asEndElement().getName().getNamespaceURI();
                // An empty character event closes the start tag, so no element is written as <a/>.
                writer.add(events.createCharacters(""));
                writer.add(events.createEndElement(lookup(uri), uri, e.asEndElement().getName().getLocalPart()));
                open.pop();
            }
            // Declarations, comments and processing instructions are dropped (step 1).
        }
        writer.flush();
        writer.close();
    }
}
