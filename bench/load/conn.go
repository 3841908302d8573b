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

// conns is a pool of kept-alive connections to one server.
type conns struct {
	addr string
	idle chan *conn
}

type conn struct {
	c net.Conn
	r *bufio.Reader
}

func newConns(addr string, keep int) *conns {
	return &conns{addr: addr, idle: make(chan *conn, keep)}
}

// open dials n connections ahead of the run, so the measured requests
// find warm ones.
func (p *conns) open(n int) error {
	for range n {
		c, err := p.dial()
		if err != nil {
			return err
		}
		p.put(c)
	}
	return nil
}

func (p *conns) dial() (*conn, error) {
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 8192)}, nil
}

// get returns an idle connection, or a new one when all are busy (its
// dialling is then part of that request's time).
func (p *conns) get() (*conn, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
		return p.dial()
	}
}

func (p *conns) put(c *conn) {
	select {
	case p.idle <- c:
	default:
		c.c.Close()
	}
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
		c.c.Close()
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
