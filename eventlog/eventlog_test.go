package eventlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/knit-cdp/knit"
)

func mustOpen(t *testing.T, dir string, opt Options) (*Log, []string) {
	t.Helper()
	var got []string
	l, err := Open(dir, opt, func(seq uint64, p []byte) error {
		if seq != uint64(len(got)) {
			t.Fatalf("replay seq %d, want %d", seq, len(got))
		}
		got = append(got, string(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, got
}

// Concurrent appends all come back on reopen, each once, across segment
// rotations.
func TestAppendReplay(t *testing.T) {
	dir := t.TempDir()
	l, got := mustOpen(t, dir, Options{SegmentBytes: 2048})
	if len(got) != 0 {
		t.Fatalf("new log replayed %d records", len(got))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				rec := [][]byte{fmt.Appendf(nil, "w%d-%d-a", w, i), fmt.Appendf(nil, "w%d-%d-b", w, i)}
				if _, err := l.Append(context.Background(), rec); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, got := mustOpen(t, dir, Options{SegmentBytes: 2048})
	defer l2.Close()
	if len(got) != 800 {
		t.Fatalf("replayed %d records, want 800", len(got))
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r] {
			t.Fatalf("record %s replayed twice", r)
		}
		seen[r] = true
	}
	// A batch's records stay adjacent and in order.
	for i, r := range got {
		if r[len(r)-1] == 'a' && got[i+1] != r[:len(r)-1]+"b" {
			t.Fatalf("record %d %q not followed by its batch partner, got %q", i, r, got[i+1])
		}
	}
	if segs, _ := segments(dir); len(segs) < 2 {
		t.Fatalf("expected several segments at 2 KB each, got %v", segs)
	}
	var read int
	if err := l2.Read(790, func(seq uint64, p []byte) error {
		if string(p) != got[seq] {
			t.Errorf("Read seq %d = %q, want %q", seq, p, got[seq])
		}
		read++
		return nil
	}); err != nil || read != 10 {
		t.Fatalf("Read from 790: %d records, err %v; want 10", read, err)
	}
}

// A torn tail — a crash in the middle of a write — is truncated on open;
// the records before it survive and new appends follow them.
func TestTornTail(t *testing.T) {
	for _, tail := range []struct {
		name  string
		bytes []byte
	}{
		{"short header", []byte{9, 0, 0}},
		{"short payload", []byte{100, 0, 0, 0, 1, 2, 3, 4, 'x'}},
		{"bad checksum", []byte{1, 0, 0, 0, 1, 2, 3, 4, 'x'}},
	} {
		t.Run(tail.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := mustOpen(t, dir, Options{})
			l.Append(context.Background(), [][]byte{[]byte("one"), []byte("two")})
			l.Close()
			f, _ := os.OpenFile(filepath.Join(dir, "00000001.log"), os.O_APPEND|os.O_WRONLY, 0)
			f.Write(tail.bytes)
			f.Close()
			l, got := mustOpen(t, dir, Options{})
			if fmt.Sprint(got) != "[one two]" {
				t.Fatalf("after a torn tail replayed %q, want [one two]", got)
			}
			if seq, err := l.Append(context.Background(), [][]byte{[]byte("three")}); err != nil || seq != 2 {
				t.Fatalf("append after truncation: seq %d err %v, want 2", seq, err)
			}
			l.Close()
			_, got = mustOpen(t, dir, Options{})
			if fmt.Sprint(got) != "[one two three]" {
				t.Fatalf("replayed %q, want [one two three]", got)
			}
		})
	}
}

// Damage inside a segment that is not the last cannot come from a crash:
// open refuses rather than dropping acknowledged records.
func TestCorruptEarlierSegment(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, Options{SegmentBytes: 16})
	for i := range 4 {
		l.Append(context.Background(), [][]byte{fmt.Appendf(nil, "record-%d", i)})
	}
	l.Close()
	path := filepath.Join(dir, "00000001.log")
	data, _ := os.ReadFile(path)
	data[len(data)-1] ^= 0xff
	os.WriteFile(path, data, 0o644)
	_, err := Open(dir, Options{}, nil)
	if knit.ErrorCode(err) != knit.EINTERNAL || err == nil {
		t.Fatalf("open with a corrupt first segment: %v; want an error naming the file", err)
	}
}

// A full queue answers ErrOverloaded instead of growing.
func TestOverload(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, Options{QueueBytes: 64})
	defer l.Close()
	// Hold the writer: lock the log so the queue cannot drain, then fill.
	l.mu.Lock()
	l.queue = append(l.queue, &pending{result: make(chan error, 1)})
	l.queued = 60
	l.mu.Unlock()
	_, err := l.Append(context.Background(), [][]byte{make([]byte, 32)})
	if err != ErrOverloaded {
		t.Fatalf("append to a full queue: %v, want ErrOverloaded", err)
	}
}
