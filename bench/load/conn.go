package main

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"strings"
)

// The lookups of the mixed mode go through this small HTTP/1.1 client
// instead of net/http's: it writes a request built once and reads the
// answer on a kept-alive connection with no goroutine of its own, so the
// generator spends a few microseconds of the two shared cores per lookup
// rather than tens. Every answer is still read to its last byte (by
// Content-Length, or chunk by chunk) before the clock stops.

// conns is a pool of at most max kept-alive connections to one server.
// A request that finds them all busy waits for one (that wait is in its
// latency): opening ever more connections when the machine falls behind
// would add work exactly when there is no CPU for it.
type conns struct {
	addr  string
	idle  chan *conn
	slots chan struct{} // one token per open connection, at most max
}

type conn struct {
	c net.Conn
	r *bufio.Reader
}

func newConns(addr string, max int) *conns {
	return &conns{addr: addr, idle: make(chan *conn, max), slots: make(chan struct{}, max)}
}

// open dials n connections ahead of the run, so the measured requests
// find warm ones.
func (p *conns) open(n int) error {
	for range n {
		p.slots <- struct{}{}
		c, err := p.dial()
		if err != nil {
			return err
		}
		p.put(c)
	}
	return nil
}

// dial opens a connection; the caller holds a slot for it.
func (p *conns) dial() (*conn, error) {
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 8192)}, nil
}

// get returns an idle connection, a new one while fewer than max are
// open (its dialling is then part of that request's time), or waits.
func (p *conns) get() (*conn, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	select {
	case c := <-p.idle:
		return c, nil
	case p.slots <- struct{}{}:
		return p.dial()
	}
}

func (p *conns) put(c *conn) { p.idle <- c }

func (p *conns) drop(c *conn) {
	c.c.Close()
	<-p.slots
}

// do sends a complete request and reads the whole answer; it returns the
// status code.
func (p *conns) do(req []byte) (int, error) {
	c, err := p.get()
	if err != nil {
		return 0, err
	}
	code, keep, err := c.roundTrip(req)
	if err != nil || !keep {
		p.drop(c)
		return code, err
	}
	p.put(c)
	return code, nil
}

var errBadAnswer = errors.New("malformed HTTP answer")

func (c *conn) roundTrip(req []byte) (code int, keep bool, err error) {
	if _, err := c.c.Write(req); err != nil {
		return 0, false, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !strings.HasPrefix(string(line[:9]), "HTTP/1.1 ") {
		return 0, false, errBadAnswer
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, errBadAnswer
	}
	length, chunked, keep := -1, false, true
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return code, false, err
		}
		h := strings.TrimRight(string(line), "\r\n")
		if h == "" {
			break
		}
		name, value, _ := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			if length, err = strconv.Atoi(value); err != nil {
				return code, false, errBadAnswer
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		case "connection":
			keep = !strings.EqualFold(value, "close")
		}
	}
	switch {
	case chunked:
		err = c.readChunks()
	case length >= 0:
		_, err = c.r.Discard(length)
	default:
		return code, false, errBadAnswer // the body runs to the close: not kept alive by the server
	}
	return code, keep && err == nil, err
}

func (c *conn) readChunks() error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := strings.Cut(strings.TrimSpace(string(line)), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil {
			return errBadAnswer
		}
		if _, err := c.r.Discard(int(n)); err != nil {
			return err
		}
		if _, err := c.r.Discard(2); err != nil { // CRLF after the chunk
			return err
		}
		if n == 0 {
			return nil // no trailers from knit serve
		}
	}
}
