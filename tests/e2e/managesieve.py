"""A small ManageSieve (RFC 5804) client: enough for the e2e tests."""

import base64
import re
import ssl

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class Response:
    def __init__(self, status, text, lines):
        self.status = status      # "OK" | "NO" | "BYE"
        self.text = text          # the human-readable text (quoted string or literal), decoded
        self.lines = lines        # the data lines before the status line

    def __repr__(self):
        return "<%s %r lines=%r>" % (self.status, self.text, self.lines)


class ManageSieve:
    def __init__(self, port=4190, timeout=30):
        from conftest import connect
        self.sock = connect(port, timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.read_response()
        self.capabilities = self._parse_caps(self.greeting.lines)

    # --- wire -----------------------------------------------------------
    def _readline(self):
        """One response line; literals {N} / {N+} are read and inlined as quoted strings."""
        out = b""
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("ManageSieve server closed the connection")
            m = _LITERAL.search(line)
            if not m:
                return out + line
            data = self.file.read(int(m.group(1)))
            out += line[:m.start()] + b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'

    def read_response(self):
        lines = []
        while True:
            line = self._readline()
            word = line.split(b" ", 1)[0].strip().upper()
            if word in (b"OK", b"NO", b"BYE"):
                rest = line[len(word):].strip()
                # skip an optional response code "(...)"
                if rest.startswith(b"("):
                    depth = 0
                    for i, c in enumerate(rest):
                        if c == ord("("):
                            depth += 1
                        elif c == ord(")"):
                            depth -= 1
                            if depth == 0:
                                rest = rest[i + 1:].strip()
                                break
                text = rest
                if text.startswith(b'"') and text.endswith(b'"'):
                    text = text[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
                return Response(word.decode(), text.decode(errors="replace"), lines)
            lines.append(line)

    def send(self, data):
        self.sock.sendall(data)

    def command(self, line):
        self.send(line.encode() + b"\r\n")
        return self.read_response()

    @staticmethod
    def _parse_caps(lines):
        caps = {}
        for line in lines:
            parts = re.findall(rb'"((?:[^"\\]|\\.)*)"', line)
            if parts:
                caps[parts[0].decode().upper()] = parts[1].decode() if len(parts) > 1 else ""
        return caps

    # --- commands -------------------------------------------------------
    def starttls(self, context, server_hostname):
        r = self.command("STARTTLS")
        if r.status != "OK":
            return r
        self.file.close()
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.file = self.sock.makefile("rb")
        r = self.read_response()       # capabilities are re-sent after TLS
        self.capabilities = self._parse_caps(r.lines)
        return r

    def authenticate_plain(self, user, password):
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        return self.command('AUTHENTICATE "PLAIN" "%s"' % token)

    def putscript(self, name, script):
        data = script.encode()
        self.send(b'PUTSCRIPT "%s" {%d+}\r\n' % (name.encode(), len(data)) + data + b"\r\n")
        return self.read_response()

    def setactive(self, name):
        return self.command('SETACTIVE "%s"' % name)

    def listscripts(self):
        r = self.command("LISTSCRIPTS")
        names = []
        for line in r.lines:
            m = re.match(rb'"((?:[^"\\]|\\.)*)"( ACTIVE)?', line)
            if m:
                names.append((m.group(1).decode(), bool(m.group(2))))
        return r, names

    def getscript(self, name):
        """(response, script text); the literal comes inlined as one quoted line."""
        r = self.command('GETSCRIPT "%s"' % name)
        raw = b"".join(r.lines).strip()
        if raw.startswith(b'"') and raw.endswith(b'"'):
            raw = raw[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        return r, raw.decode(errors="replace")

    def logout(self):
        try:
            self.command("LOGOUT")
        except (OSError, ConnectionError, ssl.SSLError):
            pass
        self.sock.close()
