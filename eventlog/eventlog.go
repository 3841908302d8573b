// Package eventlog is knit serve's durable event store: an append-only log
// of segment files in the project folder. Each record is framed as
//
//	length (uint32, little endian) | CRC-32C of the payload (uint32) | payload
//
// Appends are group-committed: concurrent callers queue their records, one
// writer goroutine writes everything queued, calls fsync once, and only then
// releases the callers. So a caller that got nil from Append knows its
// records survive kill -9 and power loss, while throughput is bounded by
// the disk's fsync rate times the group size, not by one fsync per request.
//
// On open the log replays every record and truncates a torn tail (a record
// cut short or failing its CRC at the end of the last segment): such a
// record was never acknowledged, because acknowledgement follows fsync.
package eventlog

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/knit-cdp/knit"
)

// ErrOverloaded is returned by Append when the write queue is full: the
// server answers 429 rather than buffering without bound.
var ErrOverloaded = knit.Errorf(knit.ECONFLICT, "the event store is overloaded: retry later")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("eventlog: closed")

const (
	headerSize = 8
	// MaxRecord bounds one record; larger payloads are refused before they
	// reach the disk (a Segment batch is at most 500 KB).
	MaxRecord = 4 << 20
	ext       = ".log"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options tune a log.
type Options struct {
	// SegmentBytes starts a new segment file once the current one is this
	// large. Default 64 MiB.
	SegmentBytes int64
	// QueueBytes bounds the bytes waiting for the writer; Append fails
	// with ErrOverloaded beyond it. Default 64 MiB.
	QueueBytes int64
	// NoSync skips fsync (tests of throughput only; never in production).
	NoSync bool
}

// Log is an append-only durable log. Append is safe for concurrent use.
type Log struct {
	dir  string
	opt  Options
	mu   sync.Mutex
	cond *sync.Cond
	// queue holds batches waiting for the writer; queued their bytes.
	queue  []*pending
	queued int64
	closed bool
	done   chan struct{}

	// Owned by the writer goroutine (and Open before it starts).
	file    *os.File
	w       *bufio.Writer
	size    int64
	segment int
	seq     uint64 // records written so far (replayed + appended)
	err     error  // a write or sync failure: the log refuses further appends
}

type pending struct {
	records [][]byte
	first   uint64 // sequence number of its first record, set by the writer
	result  chan error
}

// Open opens (creating if needed) the log in dir, calls replay for every
// stored record in order with its sequence number (0-based), truncates a
// torn tail, and starts the writer. replay may be nil.
func Open(dir string, opt Options, replay func(seq uint64, payload []byte) error) (*Log, error) {
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = 64 << 20
	}
	if opt.QueueBytes <= 0 {
		opt.QueueBytes = 64 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "event store: cannot create %s", dir)
	}
	l := &Log{dir: dir, opt: opt, done: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	segs, err := segments(dir)
	if err != nil {
		return nil, err
	}
	for i, n := range segs {
		last := i == len(segs)-1
		good, err := l.replaySegment(n, last, replay)
		if err != nil {
			return nil, err
		}
		if last {
			if err := l.openSegment(n, good); err != nil {
				return nil, err
			}
		}
	}
	if l.file == nil {
		if err := l.openSegment(1, 0); err != nil {
			return nil, err
		}
	}
	go l.writer()
	return l, nil
}

// segments lists the segment numbers in dir, ascending.
func segments(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, knit.Wrap(knit.EINTERNAL, err, "event store: cannot list %s", dir)
	}
	var out []int
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "%08d"+ext, &n); err == nil && strings.HasSuffix(e.Name(), ext) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (l *Log) segmentPath(n int) string { return filepath.Join(l.dir, fmt.Sprintf("%08d%s", n, ext)) }

// replaySegment reads one segment and returns the length of its valid
// prefix. A bad record in a segment other than the last is corruption that
// no crash explains, and fails the open rather than losing data silently.
func (l *Log) replaySegment(n int, last bool, replay func(uint64, []byte) error) (int64, error) {
	path := l.segmentPath(n)
	f, err := os.Open(path)
	if err != nil {
		return 0, knit.Wrap(knit.EINTERNAL, err, "event store: cannot open %s", path)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [headerSize]byte
	var buf []byte
	for {
		_, err := io.ReadFull(r, hdr[:])
		if err == io.EOF {
			return off, nil
		}
		bad := ""
		if err != nil {
			bad = "a torn record header"
		} else {
			size := binary.LittleEndian.Uint32(hdr[0:4])
			sum := binary.LittleEndian.Uint32(hdr[4:8])
			if size > MaxRecord {
				bad = fmt.Sprintf("a record length of %d bytes", size)
			} else {
				buf = slices.Grow(buf[:0], int(size))[:size]
				if _, err := io.ReadFull(r, buf); err != nil {
					bad = "a torn record"
				} else if crc32.Checksum(buf, castagnoli) != sum {
					bad = "a record failing its checksum"
				}
			}
		}
		if bad != "" {
			if !last {
				return 0, knit.Errorf(knit.EINTERNAL, "event store: %s at byte %d of %s, which is not the last segment: the file is corrupt; move it aside to start without it", bad, off, path)
			}
			return off, nil // a torn tail: never acknowledged, truncated by openSegment
		}
		if replay != nil {
			if err := replay(l.seq, buf); err != nil {
				return 0, err
			}
		}
		l.seq++
		off += headerSize + int64(len(buf))
	}
}

// openSegment opens segment n for appending at size (truncating anything
// after it: a torn tail).
func (l *Log) openSegment(n int, size int64) error {
	path := l.segmentPath(n)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return knit.Wrap(knit.EINTERNAL, err, "event store: cannot open %s", path)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return knit.Wrap(knit.EINTERNAL, err, "event store: cannot truncate the torn tail of %s", path)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.file, l.w, l.size, l.segment = f, bufio.NewWriterSize(f, 1<<20), size, n
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Append stores records durably and returns the sequence number of the
// first. It returns only after the records are fsynced (or an error).
func (l *Log) Append(ctx context.Context, records [][]byte) (uint64, error) {
	var n int64
	for _, r := range records {
		if len(r) > MaxRecord {
			return 0, knit.Errorf(knit.EINVALID, "event store: a record of %d bytes exceeds %d", len(r), MaxRecord)
		}
		n += int64(len(r)) + headerSize
	}
	p := &pending{records: records, result: make(chan error, 1)}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return 0, ErrClosed
	case l.queued+n > l.opt.QueueBytes && l.queued > 0:
		l.mu.Unlock()
		return 0, ErrOverloaded
	}
	l.queue = append(l.queue, p)
	l.queued += n
	l.cond.Signal()
	l.mu.Unlock()
	select {
	case err := <-p.result:
		return p.first, err
	case <-ctx.Done():
		// The records may still be written; the caller did not get an
		// acknowledgement, so a retry (de-duplicated by messageId) is safe.
		return 0, ctx.Err()
	}
}

// Len returns the number of records written (replayed and appended).
func (l *Log) Len() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

func (l *Log) writer() {
	defer close(l.done)
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && !l.closed {
			l.cond.Wait()
		}
		if len(l.queue) == 0 && l.closed {
			l.mu.Unlock()
			return
		}
		batch := l.queue
		l.queue, l.queued = nil, 0
		l.mu.Unlock()

		err := l.write(batch)
		for _, p := range batch {
			p.result <- err
		}
	}
}

// write writes a group of batches and fsyncs once.
func (l *Log) write(batch []*pending) error {
	if l.err != nil {
		return l.err
	}
	var hdr [headerSize]byte
	l.mu.Lock()
	seq := l.seq
	l.mu.Unlock()
	for _, p := range batch {
		p.first = seq
		for _, r := range p.records {
			if l.size >= l.opt.SegmentBytes {
				if err := l.rotate(); err != nil {
					l.err = err
					return err
				}
			}
			binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(r)))
			binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(r, castagnoli))
			l.w.Write(hdr[:])
			l.w.Write(r)
			l.size += headerSize + int64(len(r))
			seq++
		}
	}
	if err := l.w.Flush(); err != nil {
		l.err = knit.Wrap(knit.EINTERNAL, err, "event store: write failed")
		return l.err
	}
	if !l.opt.NoSync {
		if err := l.file.Sync(); err != nil {
			l.err = knit.Wrap(knit.EINTERNAL, err, "event store: fsync failed")
			return l.err
		}
	}
	l.mu.Lock()
	l.seq = seq
	l.mu.Unlock()
	return nil
}

func (l *Log) rotate() error {
	if err := l.w.Flush(); err != nil {
		return err
	}
	if !l.opt.NoSync {
		if err := l.file.Sync(); err != nil {
			return err
		}
	}
	if err := l.file.Close(); err != nil {
		return err
	}
	return l.openSegment(l.segment+1, 0)
}

// Close waits for queued records to be written and closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.cond.Signal()
	l.mu.Unlock()
	<-l.done
	return l.file.Close()
}

// Read calls fn for every record with sequence number >= from, in order,
// reading the segment files (records appended while Read runs may or may
// not be seen). It is safe to call while appends continue: it reads only
// up to the length fsynced when it opens each segment.
func (l *Log) Read(from uint64, fn func(seq uint64, payload []byte) error) error {
	l.mu.Lock()
	end := l.seq
	l.mu.Unlock()
	segs, err := segments(l.dir)
	if err != nil {
		return err
	}
	var seq uint64
	stop := errors.New("stop")
	for _, n := range segs {
		if seq >= end {
			break
		}
		err := readSegment(l.segmentPath(n), func(payload []byte) error {
			if seq >= end {
				return stop
			}
			if seq >= from {
				if err := fn(seq, payload); err != nil {
					return err
				}
			}
			seq++
			return nil
		})
		if err == stop {
			break
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func readSegment(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [headerSize]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil // end, or a tail still being written
		}
		size := binary.LittleEndian.Uint32(hdr[0:4])
		if size > MaxRecord {
			return nil
		}
		buf = slices.Grow(buf[:0], int(size))[:size]
		if _, err := io.ReadFull(r, buf); err != nil || crc32.Checksum(buf, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return nil
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
}
