package httpapi

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/proxyhub/proxyhub/api"
)

// ProblemListener wraps ln so that the answers net/http writes by itself,
// before any handler runs, to a request it cannot read (header fields too
// large: 431; a malformed request: 400; an unsupported transfer coding:
// 501; an HTTP version it does not serve: 505) are RFC 9457
// problem+json, as every other error of the hub, instead of text/plain.
//
// net/http writes those answers straight to the connection, in one write
// of a fixed shape (status line, then exactly "Content-Type: text/plain;
// charset=utf-8" and "Connection: close"), which no handler's answer has
// (net/http writes a handler's header fields in sorted order, with Date):
// only a write of that shape, and only the first write after reading from
// the connection (never a later chunk of a response), is rewritten.
func ProblemListener(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

// problemConn rewrites net/http's own plain-text error answers.
type problemConn struct {
	net.Conn
	// afterRead is set by a read and cleared by a write: net/http's own
	// error answer is the first write after it read the bad request.
	afterRead atomic.Bool
}

func (c *problemConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.afterRead.Store(true)
	}
	return n, err
}

func (c *problemConn) Write(b []byte) (int, error) {
	if !c.afterRead.Swap(false) {
		return c.Conn.Write(b)
	}
	if p, ok := problemForCannedError(b); ok {
		if _, err := c.Conn.Write(p); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// CloseWrite half-closes the connection when it can, as net/http does
// after an error answer.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// cannedHeaders are the header fields of net/http's own error answers.
const cannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// problemForCannedError returns the problem+json answer for b when b is
// one of net/http's own error answers.
func problemForCannedError(b []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if len(b) < len(proto)+3 || string(b[:len(proto)]) != proto || (b[len(proto)] != '4' && b[len(proto)] != '5') {
		return nil, false
	}
	eol := bytes.IndexByte(b, '\r')
	if eol < 0 || !bytes.HasPrefix(b[eol:], []byte(cannedHeaders)) {
		return nil, false
	}
	status, err := strconv.Atoi(string(b[len(proto) : len(proto)+3]))
	if err != nil || status < 400 || status > 599 {
		return nil, false
	}
	// The text is "431 Request Header Fields Too Large" or "400 Bad
	// Request: missing required Host header": the part after the colon,
	// if any, is what was wrong.
	text := string(b[eol+len(cannedHeaders):])
	detail := cannedDetails[status]
	if i := strings.Index(text, ": "); i >= 0 {
		detail = text[i+2:]
	}
	if detail == "" {
		detail = http.StatusText(status)
	}
	body, _ := json.Marshal(api.NewProblem(status, detail))
	var out bytes.Buffer
	out.WriteString(proto + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	out.WriteString("Content-Type: application/problem+json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n")
	out.Write(body)
	return out.Bytes(), true
}

// cannedDetails explain net/http's answers that carry no reason of their
// own.
var cannedDetails = map[int]string{
	http.StatusRequestHeaderFieldsTooLarge: "the request's header fields are too large",
	http.StatusBadRequest:                  "the request is not well-formed HTTP",
	http.StatusNotImplemented:              "unsupported transfer encoding",
}
