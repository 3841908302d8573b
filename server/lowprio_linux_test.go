//go:build linux

package server

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// threadSched reads a thread's nice value and scheduling policy from
// /proc/self/task/TID/stat (proc(5): fields 19 and 41; the command name
// in field 2 may hold spaces, so fields are counted after its ")").
func threadSched(t *testing.T, tid string) (nice, policy int, ok bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc/self/task", tid, "stat"))
	if err != nil {
		return 0, 0, false // the thread has exited
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 39 {
		t.Fatalf("/proc/self/task/%s/stat has %d fields after the name", tid, len(f))
	}
	nice, err1 := strconv.Atoi(f[19-3])
	policy, err2 := strconv.Atoi(f[41-3])
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/self/task/%s/stat: %v %v", tid, err1, err2)
	}
	return nice, policy, true
}

func TestLowPrioThreads(t *testing.T) {
	runtime.LockOSThread() // so that self stays this goroutine's thread
	defer runtime.UnlockOSThread()
	self := strconv.Itoa(syscall.Gettid())
	baseNice, basePolicy, _ := threadSched(t, self)
	// Other tests' servers may have lowered threads of their own.
	before := lowered(t, baseNice)
	p, err := newLowPrio(2, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the two workers' threads were lowered, and every job ran on
	// one of them.
	workers := added(lowered(t, baseNice), before)
	if len(workers) != 2 {
		t.Fatalf("%d more threads run at a raised nice value, want the 2 workers'", len(workers))
	}
	for range 20 {
		var tid string
		p.run(func() { tid = strconv.Itoa(syscall.Gettid()) })
		nice, policy, _ := threadSched(t, tid)
		if !workers[tid] || nice != min(baseNice+7, 19) || policy != basePolicy {
			t.Fatalf("a job ran on thread %s at nice %d policy %d, want a worker's thread %v at nice %d policy %d", tid, nice, policy, workers, min(baseNice+7, 19), basePolicy)
		}
	}
	if nice, _, _ := threadSched(t, self); nice != baseNice {
		t.Fatalf("the caller's thread moved to nice %d from %d", nice, baseNice)
	}
	// Closed, the workers' threads end rather than run other goroutines at
	// the lowered priority. The main thread is the exception: when a locked
	// goroutine ends on it, the runtime parks it for good (runtime.mexit),
	// so it keeps the value but runs nothing again.
	p.close()
	main := strconv.Itoa(os.Getpid())
	for i := 0; ; i++ {
		left := added(lowered(t, baseNice), before)
		delete(left, main)
		if len(left) == 0 {
			break
		}
		if i == 200 {
			t.Fatalf("threads %v still run at a raised nice value after the pool closed", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lowered returns the process's threads whose nice value is not base.
func lowered(t *testing.T, base int) map[string]bool {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range entries {
		if nice, _, ok := threadSched(t, e.Name()); ok && nice != base {
			out[e.Name()] = true
		}
	}
	return out
}

// added returns the threads in now and not in before.
func added(now, before map[string]bool) map[string]bool {
	for tid := range before {
		delete(now, tid)
	}
	return now
}

// A test server (startServer) parses and stitches on one low-priority
// thread, as knit serve does on 2 cores.
func TestIngestRunsOnLowPriorityThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	base, _, _ := threadSched(t, strconv.Itoa(syscall.Gettid()))
	before := lowered(t, base)
	ts := startServer(t, copyShop(t))
	thread := added(lowered(t, base), before)
	if len(thread) != 1 {
		t.Fatalf("%d more threads run at a raised nice value, want the ingestion thread", len(thread))
	}
	var tid string
	ts.srv.low.run(func() { tid = strconv.Itoa(syscall.Gettid()) })
	if nice, _, _ := threadSched(t, tid); !thread[tid] || nice != min(base+ingestNice, 19) {
		t.Fatalf("ingestion ran on thread %s at nice %d, want %v at nice %d", tid, nice, thread, min(base+ingestNice, 19))
	}
	ran := ts.srv.low.ran.Load()
	if code, _ := ts.do("POST", "/v1/track", "basic:"+writeKey, `{"anonymousId":"low-1","event":"Viewed","messageId":"low-m1"}`); code != 200 {
		t.Fatalf("track answered %d", code)
	}
	if n := ts.srv.low.ran.Load() - ran; n != 2 {
		t.Fatalf("the track request ran %d jobs on the ingestion thread, want 2 (parsing, stitching)", n)
	}
	if code, body := ts.do("GET", "/v1/profiles/anonymous_id:low-1", "bearer:"+readToken, ""); code != 200 {
		t.Fatalf("lookup of the stitched visitor answered %d: %v", code, body)
	}
}
